"""A failing regression fails everywhere: every entry point exits non-zero and says why.

Three faults (see tests/faults/sitecustomize.py) go through the entry points as a user or CI
would run them, in a subprocess: a flipped golden bit, a mutated RTL file (one adder's shift in
the exported core) and a testbench that raises; every entry point meets at least one.
Parameters that would make a run meaningless are refused before any work. The rules themselves
(tb.verdict) are checked on crafted results.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import pywellen
from PIL import Image

from hw import golden as G
from hw import params
from model.description import design as D
from pixvae.paths import REPO
from tb import verdict
from tests.conftest import flipped_golden

DESIGN = D.load(D.DEFAULT_DESIGN)
COMMITTED_GOLDEN = DESIGN.vectors_dir

FAULTS = Path(__file__).parent / "faults"
# What each fault must be reported as (the first mismatch or the cocotb failure).
NAMED = {
    "golden_bit": ["vector 7 ", "score", "output fields differ from golden"],
    "rtl_shift": ["output fields differ from golden"],
    "tb_raise": ["injected testbench fault"],
}


def run(cmd: list[str], fault: str | None = None, timeout: int = 1200,
        waves: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(FAULTS), os.environ.get("PYTHONPATH")]))}
    # The failing vector's waveform costs a traced build: drawn in the one test that checks it.
    env["PIXVAE_FAILURE_WAVES"] = "1" if waves else "0"
    env.pop("PIXVAE_FAULT", None)
    if fault:
        env["PIXVAE_FAULT"] = fault
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=timeout)


def pixvae(*args: str, fault: str | None = None, waves: bool = False) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "pixvae.cli", *args], fault, waves=waves)


def assert_fails(proc: subprocess.CompletedProcess[str], fault: str) -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, f"exit {proc.returncode}\n{out[-3000:]}"
    assert "result           : PASS" not in out and "**PASS**" not in out
    assert "FAIL" in out, out[-3000:]
    for needle in NAMED[fault]:
        assert needle in out, f"{needle!r} not in output:\n{out[-3000:]}"


# --- the rules -------------------------------------------------------------------------------

GOOD = {"vectors": 10, "mismatched_fields": 0, "protocol_errors": 0, "latency_cycles": 5, "latency_ns": 20.0,
        "budget_ns": 25.0, "clock_period_ns": 4.0, "initiation_interval": 1}


def test_verdict_passes_only_a_complete_clean_run() -> None:
    assert verdict.judge(GOOD, 10).passed
    broken = {
        "vectors": ({"vectors": 9}, "9 of 10"),
        "nothing": ({"vectors": None}, "compared nothing"),
        "fields": ({"mismatched_fields": 1}, "1 output fields differ"),
        "protocol": ({"protocol_errors": 2}, "2 protocol errors"),
        "latency": ({"latency_ns": 25.5}, "exceeds the 25.0 ns budget"),
        "ii": ({"initiation_interval": None}, "initiation interval"),
    }
    for change, why in broken.values():
        v = verdict.judge({**GOOD, **change}, 10)
        assert not v.passed and any(why in r for r in v.reasons), v.reasons
    assert not verdict.judge(GOOD, 0).passed  # an empty golden set never passes
    v = verdict.judge(GOOD, 10, ["cocotb test regression failure: boom"])
    assert not v.passed and v.reasons == ("cocotb test regression failure: boom",)
    v = verdict.judge({}, 10, ["cocotb test regression failure: boom"])  # crashed before writing results
    assert v.reasons == ("cocotb test regression failure: boom", "the testbench compared nothing (no results written)")


def test_junit_results_are_read(tmp_path: Path) -> None:
    assert "no results file" in verdict.junit_failures(tmp_path / "none.xml")[0]
    xml = tmp_path / "r.xml"
    xml.write_text('<testsuites><testsuite name="s" tests="2"><testcase name="regression">'
                   '<failure message="AssertionError: 3 problems"/></testcase><testcase name="other"/>'
                   '</testsuite></testsuites>')
    assert verdict.junit_failures(xml) == ["cocotb test regression failure: AssertionError: 3 problems"]
    xml.write_text('<testsuites><testsuite name="s" tests="1"><testcase name="regression"/></testsuite></testsuites>')
    assert verdict.junit_failures(xml) == []
    xml.write_text("<testsuites><testsu")
    assert "unreadable" in verdict.junit_failures(xml)[0]


@pytest.mark.parametrize("args, needle", [
    (["--clock-ns", "-4"], "--clock-ns"), (["--clock-ns", "0"], "--clock-ns"),
    (["--budget-ns", "0"], "--budget-ns"), (["--adder-levels", "0"], "--adder-levels"),
])
def test_meaningless_parameters_are_refused_before_any_work(tmp_path: Path, args: list[str], needle: str) -> None:
    proc = pixvae("regress", "--run-dir", str(tmp_path / "run"), *args)
    assert proc.returncode == 2 and needle in proc.stderr, proc.stderr
    assert not (tmp_path / "run").exists()


def test_library_calls_refuse_them_too() -> None:
    for kw in ({"clock_ns": 0}, {"clock_ns": -4.0}, {"budget_ns": 0.0}, {"adder_levels": 0}):
        with pytest.raises(params.ParameterError):
            params.check(**kw)


def test_empty_golden_set_is_refused(tmp_path: Path) -> None:
    gdir = shutil.copytree(COMMITTED_GOLDEN, tmp_path / "g")
    (gdir / G.VECTORS_FILE).write_text(",".join(G.columns(DESIGN)) + "\n")
    with pytest.raises(G.GoldenError, match="no vectors"):
        G.load(gdir, DESIGN)


# --- through each entry point ----------------------------------------------------------------

@pytest.mark.e2e
def test_pixvae_sim_fails_on_a_flipped_golden_bit(vae_low_build, tmp_path: Path) -> None:
    """...and draws the first failing vector's waveform, named in the failure message."""
    gdir = flipped_golden(DESIGN, tmp_path / "g", 7)
    proc = pixvae("sim", "--run-dir", str(tmp_path / "run"), "--reference", str(DESIGN.reference_dir),
                  "--golden", str(gdir), waves=True)
    assert_fails(proc, "golden_bit")
    fst = tmp_path / "run" / "failure_waves" / "track_7" / "dump.fst"  # FST by default
    png = fst.with_name("track_7.png")
    assert fst.is_file() and png.is_file(), proc.stdout[-3000:]
    assert not fst.with_suffix(".vcd").exists()
    assert str(fst) in proc.stderr and str(png) in proc.stderr and f"`surfer {fst}`" in proc.stdout
    # The verdict comes before the traced build; the picture names the differing field.
    assert proc.stdout.index("[pixvae] sim: FAIL") < proc.stdout.index("waves: Verilator build with tracing (FST)")
    meta = Image.open(png).text
    assert meta["Title"].startswith("FAIL: 1 of ") and meta["Description"].startswith("score: RTL "), meta
    # The da4ml core's generated wires (v0.., op_N and their parameters: tens of thousands) are not traced;
    # the wrapper, the core's ports and its stage registers are.
    names = [v.full_name for v in pywellen.Waveform(str(fst)).all_vars()]
    assert "pixel_encoder_top.out_score" in names and "pixel_encoder_top.u_core.model_out" in names, names
    assert len(names) < 40 and not [n for n in names if n.count(".") > 2], names


@pytest.mark.e2e
def test_whole_regression_trace_says_its_size_first(vae_low_build, tmp_path: Path) -> None:
    """`pixvae waves` without --track estimates the trace from a probe of every n-th vector, prints it in
    one line, and above --max-mb refuses in one line (exit 2) before writing it (FST: the traced build the
    failing-vector test above makes is reused)."""
    rtl_dir, _ = vae_low_build
    shutil.copytree(rtl_dir, tmp_path / "run" / "rtl")  # reused as exported: no hls4ml, no da4ml here
    proc = pixvae("waves", "--design", "vae-low", "--run-dir", str(tmp_path / "run"), "--max-mb", "0.001")
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr
    assert "waves: Verilator build with tracing (FST)" in proc.stdout
    line = next(x for x in proc.stdout.splitlines() if "waves: the whole regression" in x)
    n = len(G.load(COMMITTED_GOLDEN, DESIGN))
    assert f"({n:,} vectors) as FST: about " in line and "scaled from a trace of " in line, line
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ") and "--max-mb 0.001" in proc.stderr
    assert not list((tmp_path / "run" / "waves").rglob("dump.*"))  # neither the trace nor its probe is left


def test_pixvae_sim_fails_when_the_testbench_raises(vae_low_build, tmp_path: Path) -> None:
    proc = pixvae("sim", "--run-dir", str(tmp_path / "run"), "--reference", str(DESIGN.reference_dir),
                  "--golden", str(COMMITTED_GOLDEN), fault="tb_raise")
    assert_fails(proc, "tb_raise")
    assert '"passed": false' in (tmp_path / "run" / "summary.json").read_text()


def test_pixvae_regress_fails_on_a_corrupted_committed_vector(vae_low_build, tmp_path: Path) -> None:
    """A design folder whose committed vector 7 lost a bit: the same RTL (its build is reused), a mismatch.
    A wrong RTL goes through the candidate below, which ends in the same simulate-and-judge step."""
    folder = shutil.copytree(DESIGN.path, tmp_path / "vae-low", ignore=shutil.ignore_patterns("vectors"))
    flipped_golden(DESIGN, folder / COMMITTED_GOLDEN.name, 7)
    proc = pixvae("regress", "--design", str(folder), "--run-dir", str(tmp_path / "run"), "--no-failure-waves",
                  waves=True)  # the option, not PIXVAE_FAILURE_WAVES, skips the waveform
    assert_fails(proc, "golden_bit")
    assert '"passed": false' in (tmp_path / "run" / "summary.json").read_text()
    assert not (tmp_path / "run" / "failure_waves").exists() and "sim_build_waves" not in proc.stdout


# A candidate ends in the same simulate-and-judge step as `pixvae sim`; here a wrong RTL shows that
# its own exit status carries it (a mutated netlist costs a Verilator build of its own, so this is
# the one entry point that meets it). The flow's exit status is shown by a user design's flow with
# a flipped bit in its own golden set (tests/test_designs.py).
@pytest.mark.e2e
@pytest.mark.slow  # CI time: `bash ci/test.sh` leaves it out, PIXVAE_SLOW=1 or plain pytest runs it
def test_pixvae_candidate_and_the_model_change_script_fail(vae_low_build, tmp_path: Path) -> None:
    """ci/model_change.sh is `pixvae candidate` behind a change check: with a wrong RTL the
    candidate's change report says FAIL and the script's exit status carries it."""
    empty_tree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # so model/ counts as changed in any clone
    out = tmp_path / "c"
    # --exact-budget 1: the directed set's exact programs get 1 s in all, not the flow's 30 (CI time).
    proc = run(["bash", "ci/model_change.sh", empty_tree, "--design", "vae-low", "--profile", "tiny", "--version", "v",
                "--out", str(out), "--build-root", str(tmp_path / "build"), "--exact-budget", "1"], fault="rtl_shift")
    assert_fails(proc, "rtl_shift")
    report = (out / "v" / "CHANGE_REPORT.md").read_text()
    assert "**FAIL**" in report and "- FAIL: " in report
