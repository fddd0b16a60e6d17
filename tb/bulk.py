"""Bulk bit-exact checking through the RTL without Python in the per-cycle loop.

hw/cpp/bulk_tb.cpp drives the same pixel_encoder_top, compiled by Verilator into a plain C++
executable, at one track per cycle from a file of codes; here the outputs are read back and
compared with the numpy integer model. The cocotb tests keep the protocol checks.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hw import rtl as R
from hw.toolchain import setup_verilator_env
from model import formats as F

HARNESS = Path(__file__).resolve().parent.parent / "hw" / "cpp" / "bulk_tb.cpp"
RECORD = np.dtype([("mu", "i1", (F.N_LATENT,)), ("score", "<u4"), ("flag", "u1")])


class BulkError(RuntimeError):
    """The harness failed to build or the RTL misbehaved (message is one line)."""


@dataclass
class BulkResult:
    mu: np.ndarray
    score: np.ndarray
    flag: np.ndarray
    latency_cycles: int
    initiation_interval: int
    seconds: float


def build(rtl_dir: Path, build_dir: Path, jobs: int = 2) -> tuple[Path, float, bool]:
    """(executable, seconds, cached): Verilator --build of the RTL with the C++ harness."""
    setup_verilator_env()
    meta = R.load_meta(rtl_dir)
    srcs = [rtl_dir / s for s in meta.sources]
    digest = R.sources_sha256(rtl_dir, meta, HARNESS)
    exe = build_dir / "bulk_tb"
    stamp = build_dir / "pixvae_bulk.json"
    if exe.is_file() and stamp.is_file() and json.loads(stamp.read_text()).get("sha256") == digest:
        return exe, 0.0, True
    build_dir.mkdir(parents=True, exist_ok=True)
    cmd = ["verilator", "--cc", "--exe", "--build", "-O3", "--x-assign", "fast", "--x-initial", "fast",
           "-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-j", str(jobs),
           "--top-module", meta.top, "-Mdir", str(build_dir), "-o", "bulk_tb", str(HARNESS),
           *map(str, srcs)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    (build_dir / "build.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise BulkError(f"verilator build of the bulk harness failed (see {build_dir / 'build.log'})")
    stamp.write_text(json.dumps({"sha256": digest}))
    return exe, time.perf_counter() - t0, False


def run(exe: Path, codes: np.ndarray, threshold_raw: int) -> BulkResult:
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] != F.N_INPUTS:
        raise BulkError(f"input codes have shape {codes.shape}, expected (n, {F.N_INPUTS})")
    if codes.min() < F.INPUT.raw_min or codes.max() > F.INPUT.raw_max:
        raise BulkError(f"input codes outside {F.INPUT.hls(False)} (0..{F.INPUT.raw_max})")
    with tempfile.TemporaryDirectory() as tmp:
        fin, fout = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        fin.write_bytes(codes.astype(np.uint8).tobytes())
        t0 = time.perf_counter()
        proc = subprocess.run([str(exe), str(fin), str(fout), str(threshold_raw)], capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise BulkError(f"bulk harness: {(proc.stderr or proc.stdout).strip().splitlines()[-1]}")
        rec = np.fromfile(fout, dtype=RECORD)
    m = re.search(r"tracks=(\d+) first_output_edge=(\d+) last_output_edge=(\d+)", proc.stdout)
    if m is None or len(rec) != len(codes):
        raise BulkError(f"bulk harness returned {len(rec)} outputs for {len(codes)} tracks")
    n, first, last = map(int, m.groups())
    ii = 1 if last - first == n - 1 else 0
    return BulkResult(rec["mu"].astype(np.int64), rec["score"].astype(np.int64), rec["flag"].astype(np.int64),
                      first, ii, seconds)
