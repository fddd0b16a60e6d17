"""``data`` command group: generate, import, inject defects into, summarize and benchmark datasets.

Every command writes the public release layout through :mod:`model.data.dataformat`, whose writers
stage files and move them into place only when all are written, so an error never damages what
is already on disk. Format and value errors are reported as one ``error: ...`` line on stderr
with exit status 2, never as a traceback; rows dropped for NaN values are reported one line per
file on stderr. Attached to the main CLI as ``pixvae data``; also runnable as
``python -m model.data.data_cli``.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

import click
from tqdm import tqdm

from model.data import dataformat, defects, features, generator, import_bench
from model.data.feature_cache import Readout
from model.data.release_import import import_release
from model.data.release_reader import BATCH_ROWS, FileReport

F = TypeVar("F", bound=Callable[..., Any])


class DataCliError(click.ClickException):
    """A user-facing failure: one stderr line, exit status 2."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def _friendly(func: F) -> F:
    """Turn format, value and file-system errors into DataCliError."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BrokenPipeError:
            raise  # click handles a closed stdout itself
        except (ValueError, OSError) as exc:  # DataFormatError is a ValueError
            raise DataCliError(" ".join(str(exc).split())) from exc

    return wrapper  # type: ignore[return-value]


def _report(report: FileReport) -> None:
    """Files that lost rows or optional label columns: one stderr line each."""
    for line in (report.drop_line(), report.missing_line()):
        if line:
            click.echo(line, err=True)


class SliceList(click.ParamType):
    """Slice numbers as "0-7", "0,1,2,3" or a mix ("0-3,8")."""

    name = "slices"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        try:
            out: list[int] = []
            for part in str(value).split(","):
                first, _, last = part.strip().partition("-")
                out += range(int(first), int(last or first) + 1)
        except ValueError:
            self.fail(f"expected slice numbers like 0-7 or 0,1,2,3, found '{value}'", param, ctx)
        if not out or len(set(out)) != len(out):
            self.fail(f"expected distinct slice numbers, found '{value}'", param, ctx)
        return tuple(out)


layout_opt = click.option(
    "--layout",
    type=click.Choice(dataformat.LAYOUTS),
    default="subfolders",
    show_default=True,
    help="flat: labels_d{N}, recon2D_d{N}, recon3D_d{N} side by side (the dataset's writer); "
    "subfolders: labels/, recon2D/, recon3D/.",
)


@click.group(name="data")
def data() -> None:
    """Smart-pixel datasets in the public release layout."""


@data.command("generate")
@click.option("--n", "n_tracks", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--spectrum", type=click.Choice(generator.SPECTRA), default="falling", show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
@click.option("--file-id", type=click.IntRange(min=0), default=17301, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--readout/--raw", default=False, show_default=True, help="Bake 80 e noise and 400 e threshold in.")
@click.option("--progress/--no-progress", default=True, show_default=True)
@layout_opt
@_friendly
def generate_cmd(
    n_tracks: int,
    spectrum: str,
    seed: int,
    out: Path,
    fmt: str,
    file_id: int,
    workers: int,
    readout: bool,
    progress: bool,
    layout: dataformat.Layout,
) -> None:
    """Simulate tracks and write them as the parquet (20 slices) or CSV (first 8 slices) release."""
    tracks = generator.generate(n_tracks, spectrum, seed, progress=progress, workers=workers, readout=readout)
    if fmt == "csv":
        written = dataformat.write_csv(tracks, out, file_id, slices=features.DEFAULT_SLICES)
    else:
        written = dataformat.write_parquet(tracks, out, file_id, layout=layout)
    for path in written:
        click.echo(str(path))


@data.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--copy/--no-copy", default=False, show_default=True,
              help="Also re-write the release as parquet under OUT (as large as the release); by default only "
              "the features stream into OUT/features.npz.")
@layout_opt
@click.option("--slices", type=SliceList(), default="0-7", show_default=True, help="Slices to cache y-profiles of.")
@click.option("--readout/--raw", default=True, show_default=True, help="Cache profiles after noise and threshold.")
@click.option("--noise-e", type=click.FloatRange(min=0), default=80.0, show_default=True)
@click.option("--threshold-e", type=float, default=400.0, show_default=True)
@click.option("--noise-seed", type=int, default=0, show_default=True)
@click.option("--batch-rows", type=click.IntRange(min=1), default=BATCH_ROWS, show_default=True)
@click.option("--progress/--no-progress", default=True, show_default=True)
@_friendly
def import_cmd(
    path: Path,
    out: Path,
    copy: bool,
    layout: dataformat.Layout,
    slices: tuple[int, ...],
    readout: bool,
    noise_e: float,
    threshold_e: float,
    noise_seed: int,
    batch_rows: int,
    progress: bool,
) -> None:
    """Stream a CSV or parquet release (any layout, a folder of them, or one file) into OUT/features.npz.

    Validates every file, drops rows with NaN charges or labels (one stderr line per file), caches
    the y-profiles of the chosen slices and the labels; only with --copy does it also re-write the
    release as parquet (file by file in bounded memory).
    """
    summary = import_release(
        path,
        out,
        slices=slices,
        readout=Readout(noise_e, threshold_e, noise_seed) if readout else None,
        copy=copy,
        layout=layout,
        batch_rows=batch_rows,
        progress=progress,
        note=lambda line: tqdm.write(line, file=sys.stderr),
    )
    for line in summary.lines():
        click.echo(line)


@data.command("bench-import")
@click.option("--sizes", default="50000,500000", show_default=True, help="Release sizes in tracks, comma-separated.")
@click.option("--work", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/bench_import"),
              show_default=True, help="Where the releases are generated (about 19 kB a track, and as much "
              "again for the import's copy).")  # fmt: skip
@click.option("--tracks-per-file", type=click.IntRange(min=1), default=import_bench.TRACKS_PER_FILE, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--copy/--no-copy", default=True, show_default=True, help="Import with or without the parquet copy.")
@click.option("--keep/--no-keep", default=False, show_default=True, help="Keep the releases (reused next time).")
@click.option("--progress/--no-progress", default=True, show_default=True)
@_friendly
def bench_import_cmd(
    sizes: str, work: Path, tracks_per_file: int, seed: int, workers: int, copy: bool, keep: bool, progress: bool
) -> None:
    """Import time, peak RSS and tracks/s of `data import` on generated releases of each size."""
    try:
        counts = [int(s) for s in sizes.split(",")]
    except ValueError:
        raise ValueError(f"--sizes: expected comma-separated track counts, found '{sizes}'") from None
    if not counts or min(counts) < 1:
        raise ValueError(f"--sizes: expected positive track counts, found '{sizes}'")
    import_bench.run(counts, work, tracks_per_file, seed, workers, copy, keep, progress, click.echo)


@data.command("defects")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--kind", type=click.Choice(defects.DEFECT_KINDS), required=True)
@click.option("--seed", type=int, default=2, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--file-id", type=click.IntRange(min=0), default=None, help="Default: the input's first id.")
@_friendly
def defects_cmd(path: Path, kind: str, seed: int, out: Path, file_id: int | None) -> None:
    """Inject one defect per track; write the dataset as parquet plus a defects.csv record."""
    tracks = dataformat.read_dataset(path, report=_report)
    charges, record = defects.inject(tracks.charges, kind, seed)
    fid = dataformat.dataset_file_ids(path)[0] if file_id is None else file_id
    writes = dataformat.parquet_writes(dataformat.TrackSet(charges, tracks.labels), out, fid)
    writes.append((out / "defects.csv", lambda tmp: record.to_csv(tmp, index=False)))
    for written in dataformat.write_atomically(writes):
        click.echo(str(written))


@data.command("stats")
@click.argument("path", type=click.Path(path_type=Path))
@_friendly
def stats_cmd(path: Path) -> None:
    """Print counts, charge figures, label ranges and cluster widths of a dataset."""
    summary = features.dataset_stats(dataformat.read_dataset(path, report=_report))
    width = max(map(len, summary))
    for key, value in summary.items():
        text = f"{value:.0f}" if key in ("tracks", "slices") else f"{value:.6g}"
        click.echo(f"{key:<{width}}  {text}")


if __name__ == "__main__":
    data()
