"""The C++ bulk harness (same RTL, no Python per cycle) against golden and the numpy model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hw import golden as G
from model import fixed_ref, reference
from tb import bulk
from tests.conftest import BUILD, build_lock


@pytest.fixture(scope="module")
def exe(rtl_dir: Path) -> Path:
    with build_lock():
        return bulk.build(rtl_dir, BUILD / "bulk_build")[0]


def test_bulk_equals_golden(exe: Path, golden: G.Golden, rtl_dir: Path) -> None:
    from hw import rtl as R

    r = bulk.run(exe, golden.x, golden.threshold_raw)
    assert not G.diff_against(golden, r.mu, r.score, r.flag, "RTL")
    assert r.latency_cycles == R.load_meta(rtl_dir).latency_cycles and r.initiation_interval == 1


def test_bulk_random_codes_equal_numpy_model(exe: Path, ref: reference.Reference, golden: G.Golden) -> None:
    x = np.random.default_rng(5).integers(0, 16, (50_000, 53))
    r = bulk.run(exe, x, golden.threshold_raw)
    mu = ref.weights.latent(x)
    score = fixed_ref.score_raw(mu)
    assert np.array_equal(r.mu, mu) and np.array_equal(r.score, score)
    assert np.array_equal(r.flag, fixed_ref.flag(score, golden.threshold_raw))


def test_bulk_rejects_wrong_width_codes(exe: Path) -> None:
    with pytest.raises(bulk.BulkError, match="outside ufixed<4,0>"):
        bulk.run(exe, np.full((3, 53), 16), 0)
    with pytest.raises(bulk.BulkError, match=r"shape \(3, 52\)"):
        bulk.run(exe, np.zeros((3, 52), dtype=int), 0)
