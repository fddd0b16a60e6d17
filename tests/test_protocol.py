"""Protocol stress under Verilator: random valid gaps, reset in flight, the anomaly flag at its
threshold, and quiet outputs when idle. Each test is a cocotb test in tb/test_encoder.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixvae.paths import COMMITTED_GOLDEN
from tb import runner


@pytest.mark.parametrize("testcase", ["random_gaps", "reset_in_flight", "threshold_flag", "quiet_when_idle_and_no_x"])
def test_protocol(rtl_build: tuple[Path, Path], tmp_path: Path, testcase: str) -> None:
    rtl_dir, sim_dir = rtl_build
    runner.run(rtl_dir, COMMITTED_GOLDEN, sim_dir, testcase=testcase, results=tmp_path / "r.json", seed=7)
