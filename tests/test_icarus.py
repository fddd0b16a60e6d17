"""The same cocotb tests under Icarus Verilog (4-state) on a subset: agreement with the golden
vectors (which Verilator also meets bit for bit), no X on any output after reset, and a reset in
flight. The three run in one simulator session per design (a session's start costs more than
the tests); a failure names the cocotb test that failed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from model.description.design import Design
from tb import runner

# Skipped where Icarus cannot be installed (no root); CI sets PIXVAE_REQUIRE_ICARUS so it fails instead.
pytestmark = pytest.mark.skipif(
    shutil.which("iverilog") is None and not os.environ.get("PIXVAE_REQUIRE_ICARUS"),
    reason="iverilog not installed (apt-get install iverilog)",
)

TESTCASES = ["regression", "quiet_when_idle_and_no_x", "reset_in_flight"]


# classifier-high and vae-high are classifier and vae-low with 10-bit inputs: the same generated
# structure (wrapper, core, valid pipeline), so their 4-state check is left to those two (CI time).
SAME_STRUCTURE = {"classifier-high": "classifier", "vae-high": "vae-low"}


def test_icarus(design: Design, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    if design.name in SAME_STRUCTURE:  # before the Icarus build is asked for
        pytest.skip(f"{design.name} has {SAME_STRUCTURE[design.name]}'s structure, checked under Icarus")
    rtl_dir, sim_dir = request.getfixturevalue("icarus_build")
    res = runner.run(design, rtl_dir, design.vectors_dir, sim_dir, testcase=TESTCASES, results=tmp_path / "r.json",
                     sim="icarus")
    assert res["simulator"].lower().startswith("icarus")
    assert res["vectors"] >= 40 and res["mismatched_fields"] == 0
