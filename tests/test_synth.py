"""yosys resource estimate on a tiny hand-written module (seconds), its cache and its error when yosys is absent."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest

from hw import rtl as R
from hw import synth

pytestmark = pytest.mark.skipif(
    shutil.which("yosys") is None and not os.environ.get("PIXVAE_REQUIRE_YOSYS"),
    reason="yosys not installed (apt-get install yosys; set PIXVAE_REQUIRE_YOSYS=1 to fail instead)",
)

ADDER = """\
module adder_reg (
    input clk,
    input [3:0] a,
    input [3:0] b,
    output reg [4:0] s
);
  always @(posedge clk) s <= a + b;
endmodule
"""


def _tiny_rtl(rtl_dir: Path) -> Path:
    (rtl_dir / "src").mkdir(parents=True)
    (rtl_dir / "src" / "adder_reg.v").write_text(ADDER)
    meta = R.RtlMeta(
        design="tiny-adder",
        model_hash="0" * 64,
        top="adder_reg",
        latency_cycles=1,
        pipeline_stages=1,
        adder_levels_per_stage=1,
        clock_period_ns=4.0,
        n_inputs=2,
        input_width=4,
        input_bits=8,
        score_bits=5,
        score_signed=False,
        fields=[R.RtlField(name="score", count=1, width=5, signed=False, format="ufixed<5,5>")],
        estimated_luts=4.0,
        estimated_ffs=5,
        sources=["src/adder_reg.v"],
        generator_sha256="",
    )
    meta.exported_sha256 = R.sources_sha256(rtl_dir, meta)
    (rtl_dir / R.META_FILE).write_text(json.dumps(asdict(meta), indent=2) + "\n")
    R.load_meta(rtl_dir)  # the meta written here must load as an exported one does
    return rtl_dir


def test_estimate_tiny_adder_and_cache(tmp_path: Path) -> None:
    rtl_dir = _tiny_rtl(tmp_path / "rtl")
    work = tmp_path / "work"
    first = synth.estimate(rtl_dir, work)
    assert first["cached"] is False
    assert first["tool"].startswith("yosys ") and "synth_xilinx -family xcup" in first["tool"]
    assert first["design"] == "tiny-adder"
    # 4-bit add into a 5-bit register: a handful of LUTs (or carry), exactly 5 flip-flops, no DSP.
    assert 0 < first["luts"] <= 16
    assert first["luts"] == sum(first["lut_breakdown"].values())
    assert first["ffs"] == 5
    assert first["dsps"] == 0
    assert first["cells_total"] >= first["luts"] + first["ffs"]
    assert (work / synth.LOG_FILE).is_file()

    second = synth.estimate(rtl_dir, work)
    assert second["cached"] is True
    assert {k: v for k, v in second.items() if k != "cached"} == {k: v for k, v in first.items() if k != "cached"}

    # An edited source is a new design: no stale figures.
    (rtl_dir / "src" / "adder_reg.v").write_text(ADDER.replace("a + b", "a - b"))
    assert synth.estimate(rtl_dir, work)["cached"] is False


def test_missing_yosys_is_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rtl_dir = _tiny_rtl(tmp_path / "rtl")
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(synth.SynthError, match="yosys") as err:
        synth.estimate(rtl_dir, tmp_path / "work")
    assert "\n" not in str(err.value)


def test_yosys_failure_names_the_log(tmp_path: Path) -> None:
    rtl_dir = _tiny_rtl(tmp_path / "rtl")
    (rtl_dir / "src" / "adder_reg.v").write_text("module adder_reg (input clk;\nendmodule\n")  # syntax error
    with pytest.raises(synth.SynthError, match=synth.LOG_FILE) as err:
        synth.estimate(rtl_dir, tmp_path / "work")
    assert "\n" not in str(err.value)
