"""yosys resource estimate on a tiny hand-written module (seconds), its cache and its error when yosys is absent."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from hw import synth
from tests.conftest import adder_verilog, tiny_rtl

pytestmark = pytest.mark.skipif(
    shutil.which("yosys") is None and not os.environ.get("PIXVAE_REQUIRE_YOSYS"),
    reason="yosys not installed (apt-get install yosys; set PIXVAE_REQUIRE_YOSYS=1 to fail instead)",
)

def test_estimate_tiny_adder_and_cache(tmp_path: Path) -> None:
    rtl_dir = tiny_rtl(tmp_path / "rtl")
    work = tmp_path / "work"
    first = synth.estimate(rtl_dir, work)
    assert first["cached"] is False
    assert first["tool"].startswith("yosys ") and "synth_xilinx -family xcup" in first["tool"]
    assert first["design"] == "tiny-adder"
    # Two 4-bit input registers and a 5-bit sum register: a handful of LUTs (or carry), 13 flip-flops, no DSP.
    assert 0 < first["luts"] <= 16
    assert first["luts"] == sum(first["lut_breakdown"].values())
    assert first["ffs"] == 13
    assert first["dsps"] == 0
    assert first["cells_total"] >= first["luts"] + first["ffs"]
    assert (work / synth.LOG_FILE).is_file()

    second = synth.estimate(rtl_dir, work)
    assert second["cached"] is True
    assert {k: v for k, v in second.items() if k != "cached"} == {k: v for k, v in first.items() if k != "cached"}

    # An edited source is a new design: no stale figures.
    (rtl_dir / "src" / "adder_reg.v").write_text(adder_verilog(4).replace("ra + rb", "ra - rb"))
    assert synth.estimate(rtl_dir, work)["cached"] is False


def test_missing_yosys_is_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rtl_dir = tiny_rtl(tmp_path / "rtl")
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(synth.SynthError, match="yosys") as err:
        synth.estimate(rtl_dir, tmp_path / "work")
    assert "\n" not in str(err.value)


def test_yosys_failure_names_the_log(tmp_path: Path) -> None:
    rtl_dir = tiny_rtl(tmp_path / "rtl")
    (rtl_dir / "src" / "adder_reg.v").write_text("module adder_reg (input clk;\nendmodule\n")  # syntax error
    with pytest.raises(synth.SynthError, match=synth.LOG_FILE) as err:
        synth.estimate(rtl_dir, tmp_path / "work")
    assert "\n" not in str(err.value)
