"""``data`` command group: generate, import, inject defects into and summarize smart-pixel datasets.

Every command writes the public release layout through :mod:`model.dataformat`, whose writers
stage files and move them into place only when all are written, so an error never damages what
is already on disk. Format and value errors are reported as one ``error: ...`` line on stderr
with exit status 2, never as a traceback. Attached to the main CLI as ``pixvae data``; also
runnable as ``python -m model.data_cli``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

import click

from model import dataformat, defects, features, generator

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
) -> None:
    """Simulate tracks and write them as the parquet (20 slices) or CSV (first 8 slices) release."""
    tracks = generator.generate(n_tracks, spectrum, seed, progress=progress, workers=workers, readout=readout)
    if fmt == "csv":
        written = dataformat.write_csv(tracks, out, file_id, slices=features.DEFAULT_SLICES)
    else:
        written = dataformat.write_parquet(tracks, out, file_id)
    for path in written:
        click.echo(str(path))


@data.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@_friendly
def import_cmd(path: Path, out: Path) -> None:
    """Validate a real CSV or parquet release (folder or file) and re-write it as parquet."""
    for file_id, tracks in dataformat.iter_dataset(path):
        for written in dataformat.write_parquet(tracks, out, file_id):
            click.echo(str(written))


@data.command("defects")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--kind", type=click.Choice(defects.DEFECT_KINDS), required=True)
@click.option("--seed", type=int, default=2, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--file-id", type=click.IntRange(min=0), default=None, help="Default: the input's first id.")
@_friendly
def defects_cmd(path: Path, kind: str, seed: int, out: Path, file_id: int | None) -> None:
    """Inject one defect per track; write the dataset as parquet plus a defects.csv record."""
    tracks = dataformat.read_dataset(path)
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
    summary = features.dataset_stats(dataformat.read_dataset(path))
    width = max(map(len, summary))
    for key, value in summary.items():
        text = f"{value:.0f}" if key in ("tracks", "slices") else f"{value:.6g}"
        click.echo(f"{key:<{width}}  {text}")


if __name__ == "__main__":
    data()
