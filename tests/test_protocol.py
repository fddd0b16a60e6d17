"""Protocol stress under Verilator, for every committed design: random valid gaps, reset in
flight, the decision bit at its threshold, and quiet outputs when idle. Each is a cocotb test in
tb/test_encoder.py; the four run in one simulator session per design, because starting the
session costs more than the four tests (about 5 s against 0.4 s here), and a failure names the
cocotb test that failed."""

from __future__ import annotations

from pathlib import Path

from model.description.design import Design
from tb import runner

TESTCASES = ["random_gaps", "reset_in_flight", "threshold_flag", "quiet_when_idle_and_no_x"]


def test_protocol(design: Design, rtl_build: tuple[Path, Path], tmp_path: Path) -> None:
    rtl_dir, sim_dir = rtl_build
    runner.run(design, rtl_dir, design.vectors_dir, sim_dir, testcase=TESTCASES, results=tmp_path / "r.json", seed=7)
