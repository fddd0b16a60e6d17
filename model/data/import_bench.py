"""``pixvae data bench-import``: the cost of importing a release, at two sizes, so its growth shows.

For each size a release is generated in the real layout (the dataset writer's flat folder,
float64 values, ``__index_level_0__``, pandas metadata), one file of ``tracks_per_file`` at a
time so memory stays bounded, and never committed (it lives under ``runs/``). It is then imported
by ``python -m model.data.data_cli import`` in a child process, whose wall time and peak resident
memory (``os.wait4``'s ``ru_maxrss``, the child alone) are reported with the rate. A release
already generated with the same settings is reused.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from model.data import dataformat, generator
from model.data.feature_cache import FEATURES_FILE

# The parquet release has about 500,000 tracks in 159 files (d17301..d17459): about 3,150 a file.
TRACKS_PER_FILE = 3_150
FIRST_FILE_ID = 17301
_STAMP = "bench_release.json"


@dataclass
class BenchRow:
    tracks: int
    files: int
    release_bytes: int
    seconds: float
    peak_rss_bytes: int
    features_bytes: int

    @property
    def rate(self) -> float:
        return self.tracks / self.seconds


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def _check_disk(folder: Path, bytes_per_track: float, tracks: int) -> None:
    free = shutil.disk_usage(folder).free
    need = bytes_per_track * tracks
    if need > free:
        raise ValueError(f"{folder}: about {need / 1e9:.1f} GB more are needed, {free / 1e9:.1f} GB free")


def generate_release(
    out: Path, n: int, tracks_per_file: int, seed: int, workers: int, copy: bool, progress: bool
) -> Path:
    """A release of `n` falling-spectrum tracks in the flat layout, file by file (reused if already there)."""
    key = {"tracks": n, "tracks_per_file": tracks_per_file, "seed": seed, "layout": "flat"}
    stamp = out / _STAMP
    if stamp.is_file() and json.loads(stamp.read_text()) == key:
        return out
    if out.exists():
        shutil.rmtree(out)  # a partial or different release of this benchmark
    out.mkdir(parents=True)
    sizes = [min(tracks_per_file, n - start) for start in range(0, n, tracks_per_file)]
    with tqdm(total=n, unit=" tracks", unit_scale=True, desc=f"generate {n:,}", disable=not progress) as bar:
        for i, size in enumerate(sizes):
            tracks = generator.generate(size, seed=seed + i, progress=False, workers=workers)
            dataformat.write_parquet(tracks, out, FIRST_FILE_ID + i, layout="flat")
            if i == 0:  # the release, and the import's copy of it, must fit
                _check_disk(out, _folder_bytes(out) / size, (n - size) + (n if copy else 0))
            bar.update(size)
    stamp.write_text(json.dumps(key))
    return out


def measure_import(release: Path, out: Path, import_args: Sequence[str]) -> tuple[float, int, str]:
    """(wall seconds, peak RSS bytes, stdout) of ``data import`` run alone in a child process."""
    command = [sys.executable, "-m", "model.data.data_cli", "import", str(release), "--out", str(out), "--no-progress"]
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        child = subprocess.Popen([*command, *import_args], stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage, unlike RUSAGE_CHILDREN
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        text, errors = stdout.read().decode(), stderr.read().decode()
    if child.returncode:
        last = errors.strip().splitlines()[-1] if errors.strip() else f"exit status {child.returncode}"
        raise ValueError(f"bench-import: importing {release} failed: {last}")
    return seconds, usage.ru_maxrss * 1024, text  # ru_maxrss is in KiB on Linux


def run(
    sizes: Sequence[int],
    work: Path,
    tracks_per_file: int = TRACKS_PER_FILE,
    seed: int = 1,
    workers: int = 2,
    copy: bool = True,
    keep: bool = False,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> list[BenchRow]:
    """Generate (or reuse) and import a release of each size; echo one table row per size."""
    rows: list[BenchRow] = []
    work.mkdir(parents=True, exist_ok=True)
    echo(
        f"release: flat layout, float64 + {dataformat.INDEX_COLUMN}, {tracks_per_file:,} tracks a file; "
        f"import {'with' if copy else 'without'} copy, in a child process"
    )
    echo(f"{'tracks':>9} {'files':>6} {'release GB':>11} {'import s':>9} {'tracks/s':>9} {'peak RSS MB':>12} "
         f"{'features MB':>12}")  # fmt: skip
    for n in sizes:
        release = generate_release(work / f"release_{n}", n, tracks_per_file, seed, workers, copy, progress)
        imported = work / f"import_{n}"
        try:
            seconds, peak, _ = measure_import(release, imported, ["--copy"] if copy else [])
            features = (imported / FEATURES_FILE).stat().st_size
        finally:
            if not keep:
                shutil.rmtree(imported, ignore_errors=True)
        files = len(list(release.glob("recon3D_d*.parquet")))
        row = BenchRow(n, files, _folder_bytes(release), seconds, peak, features)
        rows.append(row)
        echo(f"{n:>9,} {files:>6} {row.release_bytes / 1e9:>11.2f} {seconds:>9.1f} {row.rate:>9,.0f} "
             f"{peak / 2**20:>12,.0f} {features / 2**20:>12,.1f}")  # fmt: skip
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        echo(f"x{b.tracks / a.tracks:.1f} tracks: import time x{b.seconds / a.seconds:.2f}, "
             f"peak RSS x{b.peak_rss_bytes / a.peak_rss_bytes:.2f}")  # fmt: skip
    if not keep:
        for n in sizes:
            shutil.rmtree(work / f"release_{n}", ignore_errors=True)
    return rows
