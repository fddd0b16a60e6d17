"""Protocol stress under Verilator, for every committed design: random valid gaps, reset in
flight, the decision bit at its threshold, and quiet outputs when idle. Each test is a cocotb test
in tb/test_encoder.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.design import Design
from tb import runner


@pytest.mark.parametrize("testcase", ["random_gaps", "reset_in_flight", "threshold_flag", "quiet_when_idle_and_no_x"])
def test_protocol(design: Design, rtl_build: tuple[Path, Path], tmp_path: Path, testcase: str) -> None:
    rtl_dir, sim_dir = rtl_build
    runner.run(design, rtl_dir, design.vectors_dir, sim_dir, testcase=testcase, results=tmp_path / "r.json", seed=7)
