"""The public smart-pixel release format: what its files hold, and a writer of the same files.

Two releases exist: the newer parquet one (``labels_d{N}``, ``recon3D_d{N}`` with 20 time slices
and ``recon2D_d{N}`` with the last slice, either side by side in one folder as the dataset's own
writer puts them or in ``labels/``, ``recon3D/`` and ``recon2D/`` subfolders) and the older CSV one
(``recon8t_d{N}.csv`` with 8 slices beside ``labels_d{N}.csv``, split by charge sign into
``unflipped-positive/`` and ``unflipped-negative/``). Charge columns are named by their flat index
``t*273 + row*21 + col`` (row = y, 12.5 um; col = x, 50 um); readers reshape them to
``(n, T, 13, 21)``.

The release was written by pandas: float64 values (NaN stored as null) and the filtered frame's
row numbers in an ``__index_level_0__`` column, described by pandas metadata. :func:`write_parquet`
writes exactly that, so our files and the release's are interchangeable. Writers stage every file
as a temporary sibling and ``os.replace`` them only once all are written, so a failure never
damages what was already on disk. In memory (:class:`TrackSet`) everything is float32.

Reading (layouts, validation, NaN rows, streaming) is in :mod:`model.data.release_layout` and
:mod:`model.data.release_reader`; :func:`read_dataset` and :func:`iter_dataset` are kept here as the
entry points. :class:`TrackSet`, the column names and shapes and :class:`DataFormatError` live in
:mod:`model.data.tracks`, which the readers share, and are importable from here as before.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from model.data.release_layout import find_pairs
from model.data.release_reader import FileReport, iter_tracksets, read_all
from model.data.tracks import (  # noqa: F401 (the format's definitions, read from here by most callers)
    CSV_SLICES,
    INDEX_COLUMN,
    LABEL_COLUMNS,
    N_COLS,
    N_ROWS,
    OPTIONAL_LABELS,
    PIXELS,
    REQUIRED_LABELS,
    ROW_GROUP_ROWS,
    DataFormatError,
    TrackSet,
    charge_names,
)

Layout = Literal["subfolders", "flat"]
LAYOUTS: tuple[str, ...] = ("subfolders", "flat")


# ---------------------------------------------------------------------------------------------
# Reading: entry points (the work is in model.data.release_reader)


def dataset_file_ids(path: str | os.PathLike[str]) -> list[int]:
    """The d{N} ids of a release folder or file, sorted (an id repeats if two subfolders hold it)."""
    return sorted(pair.file_id for pair in find_pairs(path))


def iter_dataset(
    path: str | os.PathLike[str], report: Callable[[FileReport], None] | None = None
) -> Iterator[tuple[int, TrackSet]]:
    """Yield (file id, tracks) for each d{N} file set of a release folder or of one of its files.

    Rows with NaN charges or NaN required labels are dropped; `report` receives each file's
    :class:`~model.data.release_reader.FileReport` (by default, files that lost rows or optional label
    columns are logged as warnings).
    """
    yield from iter_tracksets(path, report)


def read_dataset(path: str | os.PathLike[str], report: Callable[[FileReport], None] | None = None) -> TrackSet:
    """Read and validate a whole release (folder or one file) into memory; see :func:`iter_dataset`.

    For releases too large for memory, ``pixvae data import`` streams them into a features file
    (:mod:`model.data.feature_cache`).
    """
    return read_all(path, report)


# ---------------------------------------------------------------------------------------------
# Writing


Writer = Callable[[Path], None]


@contextlib.contextmanager
def staged_files() -> Iterator[Callable[[Path], Path]]:
    """Hand out temporary siblings of final paths; move them all into place only on success.

    ``with staged_files() as stage: write(stage(final))``: nothing is replaced until the block
    ends without an exception, and the temporary files never outlive it.
    """
    staged: list[tuple[Path, Path]] = []

    def stage(final: Path) -> Path:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        staged.append((tmp, final))
        return tmp

    try:
        yield stage
        for tmp, final in staged:
            os.replace(tmp, final)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


def write_atomically(writes: Sequence[tuple[Path, Writer]]) -> list[Path]:
    """Run each writer on a temporary sibling of its path, then move them all into place.

    Nothing is replaced until every file has been written, so a failure leaves existing files intact.
    """
    with staged_files() as stage:
        for final, write in writes:
            write(stage(final))
    return [final for final, _ in writes]


def release_paths(out_dir: str | os.PathLike[str], file_id: int, layout: Layout = "subfolders") -> dict[str, Path]:
    """Where the labels, recon3D and recon2D files of d{file_id} go in either parquet layout."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout: expected one of {LAYOUTS}, found '{layout}'")
    out = Path(out_dir)
    kinds = ("labels", "recon3D", "recon2D")
    if layout == "flat":
        return {kind: out / f"{kind}_d{file_id}.parquet" for kind in kinds}
    return {kind: out / kind / f"{kind}_d{file_id}.parquet" for kind in kinds}


@functools.lru_cache(maxsize=8)
def release_schema(names: tuple[str, ...]) -> pa.Schema:
    """The schema pandas writes for a frame of float64 `names` with an int64 index (as the release)."""
    empty = pd.DataFrame(np.empty((0, len(names))), columns=list(names), index=pd.Index([], dtype="int64"))
    return pa.Schema.from_pandas(empty, preserve_index=True)


def _float64_array(column: np.ndarray) -> pa.Array:
    """A contiguous float64 column as Arrow, NaN as null as pandas writes it."""
    if np.isnan(column).any():
        return pa.array(column, from_pandas=True)
    return pa.Array.from_buffers(pa.float64(), len(column), [None, pa.py_buffer(column)])  # no copy: 5x faster


def release_table(columns: np.ndarray, names: Sequence[str], index: np.ndarray) -> pa.Table:
    """A table as pandas writes the release from (n_columns, n_rows) values: float64, NaN as null, index last."""
    arrays = [_float64_array(column) for column in np.ascontiguousarray(columns, dtype=np.float64)]
    arrays.append(pa.array(np.asarray(index), type=pa.int64()))
    return pa.Table.from_arrays(arrays, schema=release_schema(tuple(names)))


def _release_writer(columns: np.ndarray, names: Sequence[str], index: np.ndarray) -> Writer:
    """Writer of (n_columns, n_rows) values in row groups, so the float64 copy stays small."""

    def write(tmp: Path) -> None:
        # Dictionary encoding only costs time (and here size) on continuous floats.
        with pq.ParquetWriter(tmp, release_schema(tuple(names)), use_dictionary=False) as out:
            for start in range(0, columns.shape[1], ROW_GROUP_ROWS):
                part = slice(start, start + ROW_GROUP_ROWS)
                out.write_table(release_table(columns[:, part], names, index[part]))

    return write


def _label_columns(ts: TrackSet) -> list[str]:
    """Label columns to write: optional ones that are entirely NaN were absent from the source."""
    absent = ts.labels.isna().all() if len(ts) else pd.Series(False, index=ts.labels.columns)
    return [c for c in LABEL_COLUMNS if c in REQUIRED_LABELS or not absent[c]]


def parquet_writes(
    ts: TrackSet,
    out_dir: str | os.PathLike[str],
    file_id: int,
    layout: Layout = "subfolders",
    index: np.ndarray | None = None,
) -> list[tuple[Path, Writer]]:
    """The (path, writer) pairs of :func:`write_parquet`, to stage with other files."""
    rows = np.arange(len(ts)) if index is None else np.asarray(index)
    if len(rows) != len(ts):
        raise ValueError(f"index: expected {len(ts)} row ids, found {len(rows)}")
    flat_t = ts.charges.reshape(len(ts), -1).T  # a view: one row per column
    label_names = _label_columns(ts)
    paths = release_paths(out_dir, file_id, layout)
    specs = {
        "labels": (ts.labels.loc[:, label_names].to_numpy().T, label_names),
        "recon3D": (flat_t, charge_names(ts.n_slices)),
        "recon2D": (flat_t[-PIXELS:], charge_names(1)),
    }
    return [(paths[kind], _release_writer(values, names, rows)) for kind, (values, names) in specs.items()]


def write_parquet(
    ts: TrackSet,
    out_dir: str | os.PathLike[str],
    file_id: int,
    layout: Layout = "subfolders",
    index: np.ndarray | None = None,
) -> list[Path]:
    """Write the labels, recon3D and recon2D files of d{file_id} as the parquet release has them.

    float64 values, an ``__index_level_0__`` column (`index`, by default 0..n-1) and pandas
    metadata; ``layout="flat"`` puts the three files side by side as the dataset's own writer does,
    ``"subfolders"`` in labels/, recon3D/ and recon2D/.
    """
    return write_atomically(parquet_writes(ts, out_dir, file_id, layout, index))


def write_csv(
    ts: TrackSet, out_dir: str | os.PathLike[str], file_id: int, slices: Sequence[int] | None = None
) -> list[Path]:
    """Write recon8t_d{N}.csv and labels_d{N}.csv as in the older release (8 slices, header, no index)."""
    if slices is None:
        if ts.n_slices != CSV_SLICES:
            raise ValueError(f"write_csv: recon8t needs {CSV_SLICES} slices, found {ts.n_slices}")
        slices = range(CSV_SLICES)
    slices = list(slices)
    if len(slices) != CSV_SLICES or not all(0 <= s < ts.n_slices for s in slices):
        raise ValueError(f"write_csv: expected {CSV_SLICES} slice indices < {ts.n_slices}, found {slices}")
    out = Path(out_dir)
    charges = pd.DataFrame(ts.charges[:, slices].reshape(len(ts), -1), columns=charge_names(CSV_SLICES))

    def writer(frame: pd.DataFrame) -> Writer:
        # %.9g round-trips float32 exactly.
        return lambda tmp: frame.to_csv(tmp, index=False, float_format="%.9g")

    labels = ts.labels.loc[:, _label_columns(ts)]
    files = [(out / f"recon8t_d{file_id}.csv", charges), (out / f"labels_d{file_id}.csv", labels)]
    return write_atomically([(path, writer(frame)) for path, frame in files])
