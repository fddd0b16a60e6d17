"""The waveform reader (pywellen: FST and VCD) and PNG renderer behind `pixvae waves`, on a small
hand-written VCD and on one classifier track traced by Verilator in both formats (tests/data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hw.rtl import RtlField, RtlMeta
from tb import wave_png

DATA = Path(__file__).parent / "data"
# `pixvae waves --design classifier --track 0` (default signals), as FST and with --vcd: 952 and 3,342 bytes.
TRACK0 = {fmt: DATA / f"classifier_track0.{fmt}" for fmt in ("fst", "vcd")}
CLASSIFIER = RtlMeta("classifier", "h", "pixel_encoder_top", 1, 1, 1000, 0, 53, 4, 212, 12, True,
                     [RtlField("score", 1, 12, True, "fixed<12,6>"), RtlField("keep", 1, 1, False, "ufixed<1,1>")],
                     0.0, 0, [], "")
CLOCK_NS = 16.4  # the classifier's committed period (golden/classifier/timing.json) when the traces were made

VCD = """$timescale 1ps $end
$scope module $rootio $end
$var wire 1 ! clk $end
$upscope $end
$scope module top $end
$var wire 1 ! clk $end
$var wire 1 " rst $end
$var wire 1 # in_valid $end
$var wire 8 $ in_data [7:0] $end
$var wire 18 % score_threshold [17:0] $end
$var wire 1 & out_valid $end
$var wire 16 ' out_mu [15:0] $end
$var wire 18 ( out_score [17:0] $end
$var wire 1 ) out_flag $end
$upscope $end
$enddefinitions $end
#0
0!
1"
0#
bx $
b0 %
0&
b0 '
b0 (
0)
"""


def _vcd(path: Path, out_cycle: int = 7) -> Path:
    text = VCD
    t = 0
    for cycle in range(12):  # 4 ns clock: rise at 2 ns, fall at 4 ns
        t += 2000
        text += f"#{t}\n1!\n"
        if cycle == 1:
            text += '0"\n'
        if cycle == 3:
            text += "1#\nb10101011 $\n"
        if cycle == 4:
            text += "0#\n"
        if cycle == out_cycle:
            text += "1&\nb1111000011110000 '\nb11 (\n"
        if cycle == out_cycle + 1:
            text += "0&\nb0 '\nb0 (\n"
        t += 2000
        text += f"#{t}\n0!\n"
    path.write_text(text)
    return path


def test_reader_takes_the_named_scope_and_x(tmp_path: Path) -> None:
    series, unit = wave_png.read_waves(_vcd(tmp_path / "d.vcd"), "top", ("in_data", "out_mu"))
    assert unit == 1e-3
    assert series["in_data"][0] == (0, None)  # x
    assert (14000, 0xAB) in series["in_data"]
    assert (30000, 0xF0F0) in series["out_mu"]


def test_render_marks_latency_and_decodes_fields(tmp_path: Path) -> None:
    fields = [RtlField("mu", 2, 8, True, "fixed<8,4>"), RtlField("score", 1, 18, False, "ufixed<18,9>"),
              RtlField("flag", 1, 1, False, "ufixed<1,1>")]
    meta = RtlMeta("t", "h", "top", 4, 4, 8, 4.0, 2, 4, 8, 18, False, fields, 0.0, 0, [], "")
    rows = wave_png._rows(meta)
    assert [r[0] for r in rows][-4:] == ["out_mu[0] fixed<8,4>", "out_mu[1] fixed<8,4>", "out_score ufixed<18,9>",
                                         "out_flag"]
    png = wave_png.render(_vcd(tmp_path / "d.vcd"), tmp_path / "w.png", meta, 4.0, "t")
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_failing_vector_shows_expected_beside_actual_and_fail(tmp_path: Path) -> None:
    """Accepted at the rise of 18 ns, latency 4 cycles of 4 ns: outputs at 34 ns (cycle 8), mu = (-16, -16) raw."""
    fields = [RtlField("mu", 2, 8, True, "fixed<8,4>"), RtlField("score", 1, 18, False, "ufixed<18,9>"),
              RtlField("flag", 1, 1, False, "ufixed<1,1>")]
    meta = RtlMeta("t", "h", "top", 4, 4, 8, 4.0, 2, 4, 8, 18, False, fields, 0.0, 0, [], "")
    vcd = _vcd(tmp_path / "d.vcd", out_cycle=8)
    series, unit = wave_png.read_waves(vcd, "top", ("out_mu", "out_score", "out_flag"))
    got = wave_png.compare(meta, series, unit, 36.0, {"mu0": -16, "mu1": -15, "score": 3, "flag": 0})
    assert [(c[1], c[2], c[3], c[4]) for c in got] == [("mu0", -16, -16, False), ("mu1", -16, -15, True),
                                                       ("score", 3, 3, False), ("flag", 0, 0, False)]
    png = wave_png.render(vcd, tmp_path / "fail.png", meta, 4.0, "t: vector 9",
                          {"mu0": -16, "mu1": -15, "score": 3, "flag": 0})
    text = Image.open(png).text
    assert text["Title"].startswith("FAIL: 1 of 4 output fields differ from golden\nt: vector 9"), text
    assert text["Description"] == "mu1: RTL -16 != golden -15 (raw)"
    png = wave_png.render(vcd, tmp_path / "pass.png", meta, 4.0, "t", {"mu0": -16, "mu1": -16, "score": 3, "flag": 0})
    assert Image.open(png).text["Title"].startswith("PASS: all 4 output fields equal golden")


def test_fst_and_vcd_read_alike() -> None:
    """Every signal the picture draws has the same changes in both files; the known values are there."""
    signals = tuple(dict.fromkeys(r[1] for r in wave_png._rows(CLASSIFIER)))
    fst, unit_f = wave_png.read_waves(TRACK0["fst"], "pixel_encoder_top", signals)
    vcd, unit_v = wave_png.read_waves(TRACK0["vcd"], "pixel_encoder_top", signals)
    assert unit_f == unit_v == pytest.approx(1e-3)
    assert fst == vcd
    assert all(fst[s] for s in signals), {s: len(v) for s, v in fst.items()}
    # Registers start random (--x-initial unique): out_valid may be high before the reset.
    (t_in,) = [t for t, v in fst["in_valid"] if v == 1]
    t_out = [t for t, v in fst["out_valid"] if v == 1][-1]
    assert (t_out - t_in) * unit_f == pytest.approx(1.5 * CLOCK_NS)  # offered half a cycle early, latency 1 cycle
    assert wave_png.value_at(fst["out_score"], t_out) == 1  # 0.015625 = 1 LSB of fixed<12,6>


@pytest.mark.parametrize("fmt", ["fst", "vcd"])
def test_render_from_either_format(tmp_path: Path, fmt: str) -> None:
    """Golden vector 0 drawn from either file: PASS against its own outputs, the same picture from both;
    FAIL naming the score when golden says 2 LSB."""
    png = wave_png.render(TRACK0[fmt], tmp_path / "pass.png", CLASSIFIER, CLOCK_NS, "c", {"score": 1, "keep": 1})
    assert Image.open(png).text["Title"].startswith("PASS: all 2 output fields equal golden")
    other = "vcd" if fmt == "fst" else "fst"
    ref = wave_png.render(TRACK0[other], tmp_path / "ref.png", CLASSIFIER, CLOCK_NS, "c", {"score": 1, "keep": 1})
    assert np.array_equal(np.asarray(Image.open(png)), np.asarray(Image.open(ref)))
    png = wave_png.render(TRACK0[fmt], tmp_path / "fail.png", CLASSIFIER, CLOCK_NS, "c", {"score": 2, "keep": 1})
    text = Image.open(png).text
    assert text["Title"].startswith("FAIL: 1 of 2 output fields differ from golden"), text
    assert text["Description"] == "score: RTL 1 != golden 2 (raw)"


def test_default_trace_leaves_the_core_generated_wires_out(tmp_path: Path) -> None:
    """The control file behind a default trace switches tracing off in every da4ml source but the core's
    module (its ports and stage registers stay); --all-signals drops it; VCD leaves --trace-fst out."""
    from tb import runner

    meta = RtlMeta("c", "h", "pixel_encoder_top", 1, 1, 1000, 0, 53, 4, 212, 12, True, [], 0.0, 0,
                   ["src/static/shift_adder.v", "src/pixel_encoder_core.v", "src/pixel_encoder_core_stage0.v",
                    "src/pixel_encoder_core_tables.v", "pixel_encoder_top.v"], "")
    args = runner.trace_args(meta, tmp_path, "fst", all_signals=False)
    assert args[0] == "--trace-fst" and "--trace-underscore" not in args
    vlt = Path(args[-1]).read_text()
    off = [line.split('"')[1] for line in vlt.splitlines() if line.startswith("tracing_off -file")]
    assert off == ["*/src/static/shift_adder.v", "*/src/pixel_encoder_core_stage0.v",
                   "*/src/pixel_encoder_core_tables.v"]
    assert runner.trace_args(meta, tmp_path, "vcd", all_signals=False) == [str((tmp_path / "trace_off.vlt").resolve())]
    assert runner.trace_args(meta, tmp_path, "vcd", all_signals=True) == ["--trace-underscore"]
    with pytest.raises(ValueError, match="waveform format"):
        runner.trace_args(meta, tmp_path, "saif", all_signals=False)
