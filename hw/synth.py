"""Resource estimate of exported RTL with open-source yosys (synth_xilinx), no vendor tool needed.

The figures are yosys's technology mapping, not Vivado's: name the tool and version beside them
(the returned "tool" does). Results are cached in the work folder, keyed by the RTL's content,
the family and the yosys version, since a run on a full design takes tens of seconds.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

from hw import rtl as R

LOG_FILE = "yosys.log"
SCRIPT_FILE = "synth.ys"
STAT_FILE = "stat.json"
# Bumped when the flow or the result's layout changes, so older cache files are not reused.
FLOW_REVISION = "1"


class SynthError(RuntimeError):
    """yosys missing or failed (message is one line)."""


def yosys_exe() -> str:
    exe = shutil.which("yosys")
    if exe is None:
        raise SynthError("yosys: not found (apt-get install yosys)")
    return exe


def yosys_version(exe: str | None = None) -> str:
    """The version number yosys reports, e.g. '0.23'."""
    exe = exe or yosys_exe()
    try:
        out = subprocess.run([exe, "-V"], capture_output=True, text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise SynthError(f"yosys -V failed: {e}") from None
    m = re.search(r"Yosys\s+(\S+)", out)
    if not m:
        raise SynthError(f"yosys -V: unrecognised output {out.strip()[:80]!r}")
    return m.group(1)


def script_arg(value: Path | str) -> str:
    # yosys 0.23 scripts split on blanks, ';' and '#', and a quoted `tee -o` path fails (exit 1, no message).
    text = str(value)
    if not text or re.search(r'[\s;#"]', text):
        raise SynthError(f"{text!r}: not usable in a yosys script (blank, ';', '#' or quote in it)")
    return text


def read_commands(rtl_dir: Path, meta: R.RtlMeta) -> list[str]:
    """yosys commands that read the exported sources.

    -defer: elaborate only what the top instantiates, with its parameters; da4ml's unused
    lookup_table would otherwise be elaborated with its placeholder MEM_FILE and fail on $readmemh."""
    return [f"read_verilog -defer {script_arg((rtl_dir / s).resolve())}" for s in meta.sources]


def _script(rtl_dir: Path, meta: R.RtlMeta, family: str, stat_path: Path) -> str:
    reads = read_commands(rtl_dir, meta)
    synth = f"synth_xilinx -family {script_arg(family)} -flatten -top {script_arg(meta.top)}"
    return "\n".join([*reads, synth, f"tee -q -o {script_arg(stat_path)} stat -json", ""])


def _summarise(cells: dict[str, int]) -> dict:
    luts = {t: n for t, n in sorted(cells.items()) if re.fullmatch(r"LUT[1-6]", t)}
    return {
        "luts": sum(luts.values()),
        "lut_breakdown": luts,
        "ffs": sum(n for t, n in cells.items() if t.startswith("FD")),
        "dsps": sum(n for t, n in cells.items() if t.startswith("DSP")),
        "carry": sum(n for t, n in cells.items() if t in ("CARRY4", "CARRY8")),
        # Shift registers replace flip-flop chains (pipeline delays): Vivado books them as LUTs as memory.
        "srls": sum(n for t, n in cells.items() if t.startswith("SRL")),
        "cells_total": sum(cells.values()),
        "cells_by_type": dict(sorted(cells.items())),
    }


def last_error(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    errors = [ln.strip() for ln in lines if "ERROR:" in ln]  # parse errors come as "file:line: ERROR: ..."
    return f": {errors[-1][:200]}" if errors else ""


def estimate(rtl_dir: Path, work_dir: Path, family: str = "xcup", *, timeout_s: float = 3600.0) -> dict:
    """LUT/FF/DSP/carry counts of the exported design from yosys synth_xilinx (cached in work_dir)."""
    rtl_dir, work_dir = Path(rtl_dir), Path(work_dir)
    if not re.fullmatch(r"[a-z0-9]+", family):  # it goes into the yosys script
        raise SynthError(f"family {family!r}: not a yosys synth_xilinx family name")
    exe = yosys_exe()
    version = yosys_version(exe)
    meta = R.load_meta(rtl_dir)
    try:
        sources_digest = R.sources_sha256(rtl_dir, meta)
    except FileNotFoundError as e:
        raise SynthError(f"{e.filename}: missing (run `pixvae export`)") from None
    key = hashlib.sha256(
        "\n".join([FLOW_REVISION, sources_digest, family, version, meta.top, *meta.sources]).encode()
    ).hexdigest()

    work_dir.mkdir(parents=True, exist_ok=True)
    cache = work_dir / f"synth_{family}.json"
    try:
        cached = json.loads(cache.read_text())
        if cached.get("cache_key") == key:
            return {**cached["result"], "cached": True}
    except (OSError, ValueError, KeyError, AttributeError):
        pass  # no usable cache: synthesize

    log, stat_path, script = work_dir / LOG_FILE, work_dir / STAT_FILE, work_dir / SCRIPT_FILE
    stat_path.unlink(missing_ok=True)  # a stale one must not pass for this run's
    script.write_text(_script(rtl_dir, meta, family, stat_path.resolve()))
    n = len(meta.sources)
    print(f"synth: {meta.design}: yosys {version} synth_xilinx -family {family}, {n} sources", flush=True)
    t0 = time.monotonic()
    try:
        with log.open("w") as fh:
            rc = subprocess.run(
                [exe, "-s", str(script.resolve())], stdout=fh, stderr=subprocess.STDOUT, cwd=work_dir, timeout=timeout_s
            ).returncode
    except subprocess.TimeoutExpired:
        raise SynthError(f"yosys: {meta.design}: timed out after {timeout_s:.0f} s (log {log})") from None
    except OSError as e:
        raise SynthError(f"yosys: {e} (log {log})") from None
    seconds = time.monotonic() - t0
    if rc != 0:
        raise SynthError(f"yosys failed on {meta.design} (exit {rc}){last_error(log)} (log {log})")
    try:
        stat = json.loads(stat_path.read_text())
        cells = stat["design"]["num_cells_by_type"]
    except (OSError, ValueError, KeyError, TypeError):
        raise SynthError(f"yosys: {meta.design}: no readable {stat_path.name} (log {log})") from None

    result = {
        "tool": f"yosys {version} synth_xilinx -family {family}",
        "design": meta.design,
        "model_hash": meta.model_hash,
        **_summarise({str(t): int(n) for t, n in cells.items()}),
        "seconds": round(seconds, 1),
    }
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps({"cache_key": key, "result": result}, indent=2) + "\n")
    tmp.replace(cache)  # atomic: an interrupted write leaves no half cache behind
    print(
        f"synth: {meta.design}: {result['luts']} LUTs, {result['ffs']} FFs, {result['dsps']} DSPs, "
        f"{result['carry']} carry in {seconds:.1f} s",
        flush=True,
    )
    return {**result, "cached": False}
