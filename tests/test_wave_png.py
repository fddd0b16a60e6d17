"""The VCD reader and PNG renderer behind `pixvae waves`, on a small hand-written VCD."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from hw.rtl import RtlField, RtlMeta
from tb import wave_png

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
    series, unit = wave_png.read_vcd(_vcd(tmp_path / "d.vcd"), "top", ("in_data", "out_mu"))
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
    series, unit = wave_png.read_vcd(vcd, "top", ("out_mu", "out_score", "out_flag"))
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
