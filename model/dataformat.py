"""Reader and writer for the public smart-pixel dataset layout.

Two releases exist: the newer parquet one (``labels/labels_d{N}.parquet``,
``recon3D/recon3D_d{N}.parquet`` with 20 time slices, ``recon2D/recon2D_d{N}.parquet`` with
the last slice) and the older CSV one (``recon8t_d{N}.csv`` with 8 slices beside
``labels_d{N}.csv``). Charge columns are named by their flat index ``t*273 + row*21 + col``
(row = y, 12.5 um; col = x, 50 um); readers reshape them to ``(n, T, 13, 21)``. Everything
is validated by column name (so column order does not matter) and every problem is raised as a
one-line :class:`DataFormatError` naming the file and column. Writers stage every file as a
temporary sibling and ``os.replace`` them only once all are written, so a failure never
damages what was already on disk. Values are stored as float32, labels included.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

LABEL_COLUMNS: tuple[str, ...] = (
    "x-entry", "y-entry", "z-entry", "n_x", "n_y", "n_z", "number_eh_pairs",
    "y-local", "pt", "cotAlpha", "cotBeta", "y-midplane", "x-midplane",
)  # fmt: skip
N_ROWS = 13
N_COLS = 21
PIXELS = N_ROWS * N_COLS
CSV_SLICES = 8
# Index columns that pandas may have written next to the data; they carry no information.
_INDEX_PREFIXES = ("__index_level_", "Unnamed: ")
_FILE_ID = re.compile(r"_d(\d+)\.(parquet|csv)$")


class DataFormatError(ValueError):
    """A dataset file that does not match the release format (one-line message)."""


@dataclass
class TrackSet:
    """Clusters and their truth labels.

    charges: float32 ``(n, T, 13, 21)`` in electrons; labels: one float32 row per cluster with
    exactly :data:`LABEL_COLUMNS`.
    """

    charges: np.ndarray
    labels: pd.DataFrame

    def __post_init__(self) -> None:
        self.charges = np.asarray(self.charges, dtype=np.float32)
        if self.charges.ndim != 4 or self.charges.shape[2:] != (N_ROWS, N_COLS):
            raise ValueError(f"charges: expected shape (n, T, 13, 21), found {self.charges.shape}")
        missing = [c for c in LABEL_COLUMNS if c not in self.labels.columns]
        if missing:
            raise ValueError(f"labels: column '{missing[0]}' missing")
        if len(self.labels) != len(self.charges):
            raise ValueError(f"labels: {len(self.labels)} rows but charges have {len(self.charges)}")
        self.labels = self.labels.loc[:, list(LABEL_COLUMNS)].astype(np.float32).reset_index(drop=True)

    def __len__(self) -> int:
        return len(self.charges)

    @property
    def n_slices(self) -> int:
        return int(self.charges.shape[1])

    def subset(self, idx: Any) -> TrackSet:
        """Tracks selected by a slice, integer indices or a boolean mask."""
        rows = np.arange(len(self))[idx]
        return TrackSet(self.charges[rows], self.labels.iloc[rows])

    @staticmethod
    def concat(sets: Sequence[TrackSet]) -> TrackSet:
        if len({s.n_slices for s in sets}) > 1:
            found = sorted({s.n_slices for s in sets})
            raise ValueError(f"cannot concatenate track sets with {found} slices")
        return TrackSet(
            np.concatenate([s.charges for s in sets]),
            pd.concat([s.labels for s in sets], ignore_index=True),
        )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _file_id(path: Path) -> int:
    match = _FILE_ID.search(path.name)
    if match is None:
        raise DataFormatError(f"{path.name}: file name has no _d<N> id")
    return int(match.group(1))


def _check_names(fname: str, found: Sequence[str], expected: Sequence[str], strict_count: bool) -> list[str]:
    """Validate column names; returns the data columns (index columns dropped)."""
    names = [str(c) for c in found if not str(c).startswith(_INDEX_PREFIXES)]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataFormatError(f"{fname}: column '{name}' appears twice")
        seen.add(name)
    want = set(expected)
    missing = [c for c in expected if c not in seen]
    extra = [c for c in names if c not in want]
    if strict_count and len(names) != len(expected):
        what = f"column '{missing[0]}' missing" if missing else f"unexpected column '{extra[0]}'"
        count = f"expected {len(expected)} charge columns, found {len(names)}"
        raise DataFormatError(f"{fname}: {count} ({what})")
    if missing:
        hint = f" (found unexpected '{extra[0]}')" if extra else ""
        raise DataFormatError(f"{fname}: column '{missing[0]}' missing{hint}")
    if strict_count and extra:
        raise DataFormatError(f"{fname}: unexpected column '{extra[0]}'")
    return names


def _check_finite(fname: str, names: Sequence[str], values: np.ndarray) -> None:
    """Reject NaN/inf in a (n_columns, n_rows) matrix, naming the first bad column."""
    for test, what in ((np.isnan, "NaN"), (np.isinf, "infinite")):
        bad = test(values).sum(axis=1)
        if bad.any():
            first = int(np.argmax(bad > 0))
            raise DataFormatError(f"{fname}: column '{names[first]}' has {bad[first]} {what} values")


def _charge_names(n_slices: int) -> list[str]:
    return [str(i) for i in range(n_slices * PIXELS)]


def _read_parquet(path: Path) -> Any:
    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise DataFormatError(f"{path.name}: unreadable parquet file ({_one_line(exc)})") from exc


def _arrow_column(fname: str, name: str, column: Any) -> np.ndarray:
    """One parquet column as float32 numpy (nulls are refused)."""
    if column.type != pa.float32():
        if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
            raise DataFormatError(f"{fname}: column '{name}' is not numeric ({column.type})")
        column = column.cast(pa.float32())
    if column.null_count:
        raise DataFormatError(f"{fname}: column '{name}' has {column.null_count} NaN values (nulls)")
    return column.to_numpy()


def _frame_column(fname: str, name: str, column: pd.Series) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
        raise DataFormatError(f"{fname}: column '{name}' is not numeric ({column.dtype})")
    return column.to_numpy(dtype=np.float32)


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=None)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataFormatError(f"{path.name}: unreadable CSV file ({_one_line(exc)})") from exc


def _load_columns(path: Path) -> tuple[list[str], Callable[[str], np.ndarray], int]:
    """Column names, a per-column float32 getter and the row count of one file."""
    if path.suffix == ".parquet":
        table = _read_parquet(path)
        names = [str(n) for n in table.column_names]
        index = {name: i for i, name in reversed(list(enumerate(names)))}  # duplicates are caught later
        return names, lambda name: _arrow_column(path.name, name, table.column(index[name])), table.num_rows
    frame = _read_csv(path)
    names = [str(c) for c in frame.columns]
    frame.columns = pd.Index(names)
    return names, lambda name: _frame_column(path.name, name, frame[name]), len(frame)


def _read_labels(path: Path) -> pd.DataFrame:
    names, get, _ = _load_columns(path)
    # Extra label columns are ignored: only these 13 are documented for the release.
    _check_names(path.name, names, LABEL_COLUMNS, strict_count=False)
    values = np.stack([get(name) for name in LABEL_COLUMNS])
    _check_finite(path.name, LABEL_COLUMNS, values)
    return pd.DataFrame(dict(zip(LABEL_COLUMNS, values, strict=True)))


def _read_charges(path: Path, n_slices: int | None) -> np.ndarray:
    names, get, n_rows = _load_columns(path)
    data_names = [n for n in names if not n.startswith(_INDEX_PREFIXES)]
    # recon3D files carry the slice count only implicitly; take the nearest whole number of slices.
    slices = n_slices if n_slices is not None else max(1, round(len(data_names) / PIXELS))
    expected = _charge_names(slices)
    _check_names(path.name, names, expected, strict_count=True)
    flat = np.empty((len(expected), n_rows), dtype=np.float32)
    for i, name in enumerate(expected):
        flat[i] = get(name)
    _check_finite(path.name, expected, flat)
    return np.ascontiguousarray(flat.T).reshape(n_rows, slices, N_ROWS, N_COLS)


def _pair_files(path: Path) -> list[tuple[int, Path, Path]]:
    """(file id, charges file, labels file) for every d{N} under path, sorted by N."""
    if not path.exists():
        raise DataFormatError(f"{path}: no such file or directory")
    if path.is_dir():
        if (path / "recon3D").is_dir():
            charges = list((path / "recon3D").glob("recon3D_d*.parquet"))
            label_dirs = [path / "labels"]
        else:
            charges = list(path.glob("recon8t_d*.csv"))
            label_dirs = [path]
        if not charges:
            raise DataFormatError(f"{path.name}: no recon3D/recon3D_d*.parquet or recon8t_d*.csv files")
    elif path.name.startswith(("recon3D_d", "recon8t_d")):
        charges = [path]
        label_dirs = [path.parent.parent / "labels", path.parent]
    else:
        raise DataFormatError(f"{path.name}: expected a recon3D_d<N>.parquet or recon8t_d<N>.csv file")
    pairs = []
    for charge_file in charges:
        fid = _file_id(charge_file)
        label_name = f"labels_d{fid}{charge_file.suffix}"
        found = [d / label_name for d in label_dirs if (d / label_name).is_file()]
        if not found:
            raise DataFormatError(f"{charge_file.name}: no matching labels file {label_name}")
        pairs.append((fid, charge_file, found[0]))
    return sorted(pairs)


def dataset_file_ids(path: str | os.PathLike[str]) -> list[int]:
    """The d{N} ids of a release folder or file, sorted."""
    return [fid for fid, _, _ in _pair_files(Path(path))]


def iter_dataset(path: str | os.PathLike[str]) -> Iterator[tuple[int, TrackSet]]:
    """Yield (file id, tracks) for each d{N} file pair of a release folder or a single file."""
    for fid, charge_file, label_file in _pair_files(Path(path)):
        labels = _read_labels(label_file)
        n_slices = CSV_SLICES if charge_file.suffix == ".csv" else None
        charges = _read_charges(charge_file, n_slices)
        if len(labels) != len(charges):
            raise DataFormatError(
                f"{label_file.name}: {len(labels)} rows but {charge_file.name} has {len(charges)} rows"
            )
        yield fid, TrackSet(charges, labels)


def read_dataset(path: str | os.PathLike[str]) -> TrackSet:
    """Read and validate a parquet/CSV release folder or one recon3D/recon8t file."""
    sets = [ts for _, ts in iter_dataset(path)]
    if len({s.n_slices for s in sets}) > 1:
        raise DataFormatError(f"{Path(path).name}: files disagree on the number of time slices")
    return sets[0] if len(sets) == 1 else TrackSet.concat(sets)


Writer = Callable[[Path], None]


def write_atomically(writes: Sequence[tuple[Path, Writer]]) -> list[Path]:
    """Run each writer on a temporary sibling of its path, then move them all into place.

    Nothing is replaced until every file has been written, so a failure leaves existing files intact.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for final, write in writes:
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
            staged.append((tmp, final))
            write(tmp)
        for tmp, final in staged:
            os.replace(tmp, final)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    return [final for _, final in staged]


def _arrow_table(columns: np.ndarray, names: Sequence[str]) -> Any:
    """Table of float32 columns from a C-contiguous (n_columns, n_rows) array (zero copy)."""
    n_rows = columns.shape[1]
    arrays = [pa.Array.from_buffers(pa.float32(), n_rows, [None, pa.py_buffer(col)]) for col in columns]
    return pa.Table.from_arrays(arrays, names=list(names))


def _label_matrix(ts: TrackSet) -> np.ndarray:
    return np.ascontiguousarray(ts.labels.loc[:, list(LABEL_COLUMNS)].to_numpy(np.float32).T)


def parquet_writes(ts: TrackSet, out_dir: str | os.PathLike[str], file_id: int) -> list[tuple[Path, Writer]]:
    """The (path, writer) pairs of :func:`write_parquet`, to stage with other files."""
    out = Path(out_dir)
    flat_t = np.ascontiguousarray(ts.charges.reshape(len(ts), -1).T)  # one contiguous row per column
    tables = {
        out / "labels" / f"labels_d{file_id}.parquet": (_label_matrix(ts), LABEL_COLUMNS),
        out / "recon3D" / f"recon3D_d{file_id}.parquet": (flat_t, _charge_names(ts.n_slices)),
        out / "recon2D" / f"recon2D_d{file_id}.parquet": (flat_t[-PIXELS:], _charge_names(1)),
    }

    def writer(columns: np.ndarray, names: Sequence[str]) -> Writer:
        # Dictionary encoding only costs time on continuous floats.
        return lambda tmp: pq.write_table(_arrow_table(columns, names), tmp, use_dictionary=False)

    return [(path, writer(*spec)) for path, spec in tables.items()]


def write_parquet(ts: TrackSet, out_dir: str | os.PathLike[str], file_id: int) -> list[Path]:
    """Write labels/, recon3D/ and recon2D/ files for one d{file_id} as in the parquet release."""
    return write_atomically(parquet_writes(ts, out_dir, file_id))


def write_csv(
    ts: TrackSet, out_dir: str | os.PathLike[str], file_id: int, slices: Sequence[int] | None = None
) -> list[Path]:
    """Write recon8t_d{N}.csv and labels_d{N}.csv as in the older release (8 slices)."""
    if slices is None:
        if ts.n_slices != CSV_SLICES:
            raise ValueError(f"write_csv: recon8t needs {CSV_SLICES} slices, found {ts.n_slices}")
        slices = range(CSV_SLICES)
    slices = list(slices)
    if len(slices) != CSV_SLICES or not all(0 <= s < ts.n_slices for s in slices):
        raise ValueError(f"write_csv: expected {CSV_SLICES} slice indices < {ts.n_slices}, found {slices}")
    out = Path(out_dir)
    charges = pd.DataFrame(ts.charges[:, slices].reshape(len(ts), -1), columns=_charge_names(CSV_SLICES))

    def writer(frame: pd.DataFrame) -> Writer:
        # %.9g round-trips float32 exactly.
        return lambda tmp: frame.to_csv(tmp, index=False, float_format="%.9g")

    files = [(out / f"recon8t_d{file_id}.csv", charges), (out / f"labels_d{file_id}.csv", ts.labels)]
    return write_atomically([(path, writer(frame)) for path, frame in files])
