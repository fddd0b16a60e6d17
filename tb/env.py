"""Settings passed from the Python runner to the cocotb tests through environment variables."""

from __future__ import annotations

import os
from pathlib import Path

DESIGN = "PIXVAE_DESIGN"  # design folder (holds design.toml)
GOLDEN = "PIXVAE_GOLDEN"  # golden vector directory
RTL = "PIXVAE_RTL"  # exported RTL directory (holds rtl_meta.json)
RESULTS = "PIXVAE_RESULTS"  # where a test writes its JSON results
CLOCK_NS = "PIXVAE_CLOCK_NS"  # clock period, ns
BUDGET_NS = "PIXVAE_BUDGET_NS"  # latency budget, ns
SEED = "PIXVAE_TB_SEED"
SHARD = "PIXVAE_SHARD"  # "k/n": run only vectors whose position modulo n is k
TRACK = "PIXVAE_TRACK"  # golden vector id for the single_track test


def path(name: str) -> Path:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {name} is not set (run the tests through tb.runner)")
    return Path(value)
