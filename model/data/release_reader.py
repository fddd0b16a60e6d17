"""Streaming, validating reader of release file pairs (see :mod:`model.data.release_layout` for finding them).

A :class:`PairReader` checks a d{N} pair before reading any charge: column names (matched by
name, so order does not matter), numeric types, label/charge row counts and, where both files
carry pandas' ``__index_level_0__``, that they number the same rows. It then yields the charges
in chunks of at most ``batch_rows`` rows, so memory does not grow with the file.

Rows with a NaN charge or a NaN required label are dropped, as the public loaders' ``dropna``
does, and counted per file in a :class:`FileReport`. A file that is mostly NaN is damaged rather
than missing a few clusters, and is an error, as are infinite values, missing columns and row
count mismatches: each a one-line :class:`~model.data.dataformat.DataFormatError` naming the file and
column.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from model.data.release_layout import FilePair, find_pairs
from model.data.tracks import (
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

BATCH_ROWS = ROW_GROUP_ROWS
# Public loaders drop the odd NaN row. When more than half of a file's rows are NaN the file
# was damaged (a failed conversion or truncated write), and its remnant would quietly shrink and
# bias the sample, so it is refused.
MAX_NAN_FRACTION = 0.5
_CSV_BLOCK_BYTES = 16 << 20  # about 700 recon8t rows per CSV batch
_log = logging.getLogger(__name__)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _is_index(name: str) -> bool:
    """Columns pandas may have written for its index (blank or "Unnamed: 0" in CSV headers)."""
    return name == "" or name.startswith(("__index_level_", "Unnamed: "))


def _is_numeric(kind: pa.DataType) -> bool:
    return pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_null(kind)


def _check_names(fname: str, found: Sequence[str], expected: Sequence[str], strict: bool) -> list[str]:
    """Validate column names against `expected` (strict: nothing else allowed); returns the missing ones."""
    names = [n for n in found if not _is_index(n)]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataFormatError(f"{fname}: column '{name}' appears twice")
        seen.add(name)
    want = set(expected)
    missing = [c for c in expected if c not in seen]
    extra = [c for c in names if c not in want]
    if strict and len(names) != len(expected):
        what = f"column '{missing[0]}' missing" if missing else f"unexpected column '{extra[0]}'"
        raise DataFormatError(f"{fname}: expected {len(expected)} charge columns, found {len(names)} ({what})")
    if strict and missing:
        raise DataFormatError(f"{fname}: column '{missing[0]}' missing (found unexpected '{extra[0]}')")
    return missing


@dataclass
class FileReport:
    """What reading one d{N} pair kept and dropped."""

    pair: FilePair
    n_slices: int
    rows: int = 0  # rows in the files
    nan_charge_rows: int = 0  # dropped: a NaN charge
    nan_label_rows: int = 0  # dropped: finite charges but a NaN required label
    nan_charge_column: str = ""  # the first charge column found with a NaN
    nan_label_column: str = ""  # the first required label column with a NaN
    missing_optional: tuple[str, ...] = ()  # optional label columns the labels file lacks

    @property
    def dropped(self) -> int:
        return self.nan_charge_rows + self.nan_label_rows

    @property
    def kept(self) -> int:
        return self.rows - self.dropped

    def drop_line(self) -> str | None:
        """One line naming the file, how many rows were dropped and why; None if none were."""
        if not self.dropped:
            return None
        why = [
            f"{n:,} with NaN {what}, first in column '{column}'"
            for n, what, column in (
                (self.nan_charge_rows, "charges", self.nan_charge_column),
                (self.nan_label_rows, "labels", self.nan_label_column),
            )
            if n
        ]
        fname = self.pair.name(self.pair.charges if self.nan_charge_rows else self.pair.labels)
        return f"{fname}: dropped {self.dropped:,} of {self.rows:,} rows ({'; '.join(why)})"

    def missing_line(self) -> str | None:
        if not self.missing_optional:
            return None
        return f"{self.pair.name(self.pair.labels)}: no optional column {', '.join(self.missing_optional)}"


def log_report(report: FileReport) -> None:
    """Default report handler: files that lost rows or optional columns become logged warnings."""
    for line in (report.drop_line(), report.missing_line()):
        if line:
            _log.warning(line)


@dataclass
class Chunk:
    """Consecutive kept rows of one charge file."""

    columns: np.ndarray  # float32 (T*273, m), all finite: one row per column, as parquet holds them
    rows: np.ndarray  # int64 (m,): the rows' ids in the source (its pandas index, else positions)
    values: pa.RecordBatch  # the same rows as float64 columns "0".."T*273-1", for copies
    n_read: int  # rows read from the file for this chunk, dropped ones included

    def __len__(self) -> int:
        return len(self.rows)

    def charges(self, slices: Sequence[int] | None = None) -> np.ndarray:
        """float32 (m, len(slices), 13, 21), C-contiguous; transposing only the slices asked for saves time."""
        columns = self.columns
        if slices is not None:
            columns = columns.reshape(-1, PIXELS, len(self))[list(slices)].reshape(-1, len(self))
        return np.ascontiguousarray(columns.T).reshape(len(self), -1, N_ROWS, N_COLS)


@dataclass
class _Labels:
    names: list[str]  # LABEL_COLUMNS present in the file, in that order
    values: np.ndarray  # float64 (n, len(names))
    index: np.ndarray | None  # int64 __index_level_0__, if the file has one
    nan_rows: np.ndarray  # bool (n,): a required label is NaN
    nan_column: str  # the first required label column with a NaN ("" if none)


class PairReader:
    """Validated, streaming access to one d{N} pair.

    Construction checks both files' columns and row counts and reads the labels (13 columns);
    iterating yields :class:`Chunk` s of charges with the NaN rows dropped. After iteration,
    :attr:`report` and :meth:`kept_labels` describe the rows that were kept.
    """

    def __init__(self, pair: FilePair, batch_rows: int = BATCH_ROWS) -> None:
        self.pair = pair
        self.batch_rows = batch_rows
        self.schema: pa.Schema | None = None  # the parquet charge file's
        self._cname = pair.name(pair.charges)
        self._lname = pair.name(pair.labels)
        self._labels = self._read_labels()
        names, self._n_charge_rows = self._charge_schema()
        data = [n for n in names if not _is_index(n)]
        # recon3D files carry the slice count only implicitly; take the nearest whole number of slices.
        self.n_slices = CSV_SLICES if pair.is_csv else max(1, round(len(data) / PIXELS))
        self.names = charge_names(self.n_slices)
        _check_names(self._cname, names, self.names, strict=True)
        self._has_index = INDEX_COLUMN in names
        n_labels = len(self._labels.values)
        if self._n_charge_rows is not None and self._n_charge_rows != n_labels:
            self._mismatch(self._n_charge_rows)
        self.report = FileReport(
            pair, self.n_slices, nan_label_column=self._labels.nan_column, missing_optional=self._missing_optional
        )
        self._check_nan_fraction(int(self._labels.nan_rows.sum()), n_labels, self._lname, self._labels.nan_column)
        self._keep = np.zeros(n_labels, dtype=bool)

    # -- labels ---------------------------------------------------------------------------------

    def _read_labels(self) -> _Labels:
        path, fname = self.pair.labels, self._lname
        try:
            table = pcsv.read_csv(path) if self.pair.is_csv else pq.read_table(path)
        except (OSError, pa.ArrowException) as exc:
            kind = "CSV" if self.pair.is_csv else "parquet"
            raise DataFormatError(f"{fname}: unreadable {kind} file ({_one_line(exc)})") from exc
        found = [str(n) for n in table.column_names]
        # Extra label columns are ignored: only these 13 are documented for the release.
        missing = _check_names(fname, found, LABEL_COLUMNS, strict=False)
        absent_required = [c for c in REQUIRED_LABELS if c in missing]
        if absent_required:
            raise DataFormatError(f"{fname}: column '{absent_required[0]}' missing")
        self._missing_optional = tuple(c for c in OPTIONAL_LABELS if c in missing)
        names = [c for c in LABEL_COLUMNS if c not in missing]
        values = np.empty((table.num_rows, len(names)), dtype=np.float64)
        for i, name in enumerate(names):
            column = table.column(found.index(name))
            if not _is_numeric(column.type):
                raise DataFormatError(f"{fname}: column '{name}' is not numeric ({column.type})")
            values[:, i] = column.cast(pa.float64()).to_numpy()
        inf = np.isinf(values)
        if inf.any():
            row, col = np.argwhere(inf)[0]
            raise DataFormatError(f"{fname}: column '{names[col]}' has an infinite value in row {row}")
        required = np.isnan(values[:, [names.index(c) for c in REQUIRED_LABELS]])
        nan_rows = required.any(axis=1)
        first = REQUIRED_LABELS[int(np.argmax(required[np.argmax(nan_rows)]))] if nan_rows.any() else ""
        index = None
        if INDEX_COLUMN in found and pa.types.is_integer(table.column(INDEX_COLUMN).type):
            index = table.column(INDEX_COLUMN).to_numpy()
        return _Labels(names, values, index, nan_rows, first)

    def kept_labels(self) -> tuple[list[str], np.ndarray]:
        """The label columns the file has and their float64 values for the kept rows (after iteration)."""
        return self._labels.names, self._labels.values[self._keep]

    def label_frame(self) -> pd.DataFrame:
        """Kept rows' labels as float32 :data:`LABEL_COLUMNS` (NaN in optional columns the file lacks)."""
        names, values = self.kept_labels()
        frame = pd.DataFrame(np.nan, index=range(len(values)), columns=list(LABEL_COLUMNS), dtype=np.float32)
        frame[names] = values.astype(np.float32)
        return frame

    # -- charges --------------------------------------------------------------------------------

    def _charge_schema(self) -> tuple[list[str], int | None]:
        """Column names and (parquet) row count of the charge file, read without its data."""
        path, fname = self.pair.charges, self._cname
        if self.pair.is_csv:
            try:
                with path.open(newline="") as f:
                    header = next(csv.reader(f), None)
            except (OSError, UnicodeDecodeError, csv.Error) as exc:
                raise DataFormatError(f"{fname}: unreadable CSV file ({_one_line(exc)})") from exc
            if header is None:
                raise DataFormatError(f"{fname}: empty CSV file (no header row)")
            return [h.strip() for h in header], None
        try:
            self._parquet = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as exc:
            raise DataFormatError(f"{fname}: unreadable parquet file ({_one_line(exc)})") from exc
        schema = self.schema = self._parquet.schema_arrow
        for name, kind in zip(schema.names, schema.types, strict=True):
            if not _is_index(name) and not _is_numeric(kind):
                raise DataFormatError(f"{fname}: column '{name}' is not numeric ({kind})")
        return [str(n) for n in schema.names], self._parquet.metadata.num_rows

    def _batches(self) -> Iterator[pa.RecordBatch]:
        columns = self.names + ([INDEX_COLUMN] if self._has_index else [])
        if not self.pair.is_csv:
            with self._parquet:
                yield from self._parquet.iter_batches(batch_size=self.batch_rows, columns=columns)
            return
        types = {name: pa.float64() for name in self.names}
        options = pcsv.ConvertOptions(column_types=types, include_columns=columns)
        read = pcsv.ReadOptions(block_size=_CSV_BLOCK_BYTES)
        try:  # a bad value shows when its block is converted, the first one already on opening
            yield from pcsv.open_csv(self.pair.charges, read_options=read, convert_options=options)
        except (OSError, pa.ArrowInvalid) as exc:
            raise DataFormatError(f"{self._cname}: {self._csv_problem(exc)}") from exc

    def _csv_problem(self, exc: BaseException) -> str:
        """pyarrow names a CSV column by its number; say its name."""
        text = _one_line(exc)
        if text.startswith("In CSV column #"):
            number, _, rest = text.removeprefix("In CSV column #").partition(": ")
            header = self._charge_schema()[0]
            if number.isdigit() and int(number) < len(header):
                return f"column '{header[int(number)]}': {rest}"
        return f"unreadable CSV file ({text})"

    def _mismatch(self, n_charges: int | str) -> None:
        raise DataFormatError(f"{self._lname}: {len(self._labels.values)} rows but {self._cname} has {n_charges} rows")

    def _check_nan_fraction(self, n_nan: int, rows: int, fname: str, column: str) -> None:
        if n_nan > MAX_NAN_FRACTION * rows:
            raise DataFormatError(
                f"{fname}: {n_nan:,} of {rows:,} rows hold NaN (first in column '{column}'); more than "
                f"{MAX_NAN_FRACTION:.0%} NaN is a damaged file, not a few missing clusters"
            )

    def _to_float32(self, values: pa.RecordBatch, start: int) -> tuple[np.ndarray, np.ndarray]:
        """(columns, m) float32 block and its NaN rows; infinite values are an error."""
        block = np.empty((len(self.names), values.num_rows), dtype=np.float32)
        for i, column in enumerate(values.columns):  # column by column: no float64 copy of the batch
            block[i] = column.to_numpy(zero_copy_only=False)
        finite = np.isfinite(block)
        if finite.all():
            return block, np.zeros(values.num_rows, dtype=bool)
        nan = np.isnan(block)
        inf = ~finite & ~nan
        if inf.any():
            col, row = np.argwhere(inf)[0]
            raise DataFormatError(
                f"{self._cname}: column '{self.names[col]}' has an infinite value in row {start + row}"
            )
        nan_rows = nan.any(axis=0)
        if not self.report.nan_charge_column:  # the first NaN row's first NaN column
            self.report.nan_charge_column = self.names[int(np.argmax(nan[:, np.argmax(nan_rows)]))]
        return block, nan_rows

    def __iter__(self) -> Iterator[Chunk]:
        labels, report = self._labels, self.report
        schema = pa.schema([pa.field(name, pa.float64()) for name in self.names])
        start = 0
        for batch in self._batches():
            stop = start + batch.num_rows
            if stop > len(labels.values):
                self._mismatch(f"at least {stop}")  # CSV row counts are known only while reading
            values = batch.select(self.names).cast(schema)
            block, nan_charges = self._to_float32(values, start)
            nan_labels = labels.nan_rows[start:stop] & ~nan_charges
            report.nan_charge_rows += int(nan_charges.sum())
            report.nan_label_rows += int(nan_labels.sum())
            keep = ~(nan_charges | nan_labels)
            self._keep[start:stop] = keep
            rows = self._row_ids(batch, start, stop)
            if not keep.all():
                block, rows, values = block[:, keep], rows[keep], values.filter(pa.array(keep))
            start = stop
            yield Chunk(block, rows, values, batch.num_rows)
        if start != len(labels.values):
            self._mismatch(start)
        report.rows = start
        if report.nan_charge_rows >= report.nan_label_rows:
            self._check_nan_fraction(report.dropped, start, self._cname, report.nan_charge_column)
        else:
            self._check_nan_fraction(report.dropped, start, self._lname, report.nan_label_column)

    def _row_ids(self, batch: pa.RecordBatch, start: int, stop: int) -> np.ndarray:
        index = None
        if self._has_index and pa.types.is_integer(batch.schema.field(INDEX_COLUMN).type):
            index = batch.column(INDEX_COLUMN).to_numpy(zero_copy_only=False).astype(np.int64)
        label_index = self._labels.index
        if index is not None and label_index is not None:
            differ = np.flatnonzero(index != label_index[start:stop])
            if len(differ):
                raise DataFormatError(
                    f"{self._lname}: {INDEX_COLUMN} differs from {self._cname}'s in row {start + differ[0]} "
                    f"({label_index[start + differ[0]]} vs {index[differ[0]]}): the files do not hold the same clusters"
                )
        if index is None and label_index is not None:
            index = label_index[start:stop].astype(np.int64)
        return np.arange(start, stop, dtype=np.int64) if index is None else index


def read_pair(pair: FilePair, batch_rows: int = BATCH_ROWS) -> tuple[TrackSet, FileReport]:
    """One d{N} pair in memory, NaN rows dropped."""
    reader = PairReader(pair, batch_rows)
    chunks = [chunk.charges() for chunk in reader]
    empty = np.empty((0, reader.n_slices, N_ROWS, N_COLS), np.float32)
    charges = np.concatenate(chunks) if len(chunks) > 1 else (chunks[0] if chunks else empty)
    return TrackSet(charges, reader.label_frame()), reader.report


def _tracksets(pairs: Sequence[FilePair], report: Callable[[FileReport], None] | None) -> Iterator[TrackSet]:
    for pair in pairs:
        tracks, file_report = read_pair(pair)
        (report or log_report)(file_report)
        yield tracks


def iter_tracksets(
    path: str | os.PathLike[str], report: Callable[[FileReport], None] | None = None
) -> Iterator[tuple[int, TrackSet]]:
    """Yield (file id, tracks) per d{N} pair of a release; see :func:`model.data.dataformat.iter_dataset`."""
    pairs = find_pairs(path)
    for pair, tracks in zip(pairs, _tracksets(pairs, report), strict=True):
        yield pair.file_id, tracks


def available_memory() -> int | None:
    """Bytes a new allocation can take now (the kernel's MemAvailable), None where it does not say."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _check_fits_in_memory(path: Path, pairs: Sequence[FilePair]) -> None:
    """Refuse in one line, not by the out-of-memory killer, a release too large to hold (parquet sizes known)."""
    need, rows = 0, 0
    for pair in pairs:
        if not pair.is_csv:
            with pq.ParquetFile(pair.charges) as pf:
                rows += pf.metadata.num_rows
                need += pf.metadata.num_rows * pf.metadata.num_columns * 4 * 2  # float32, and a copy to concatenate
    available = available_memory()
    if available is not None and need > available:
        raise DataFormatError(
            f"{path.name}: {rows:,} tracks need about {need / 2**30:.1f} GB in memory, {available / 2**30:.1f} GB "
            "available; `pixvae data import` streams a release into a features file instead"
        )


def read_all(path: str | os.PathLike[str], report: Callable[[FileReport], None] | None = None) -> TrackSet:
    """The whole release in memory; see :func:`model.data.dataformat.read_dataset`."""
    pairs = find_pairs(path)
    with contextlib.suppress(OSError, pa.ArrowException):  # an unreadable file is named when it is read
        _check_fits_in_memory(Path(path), pairs)
    sets = list(_tracksets(pairs, report))
    if len({s.n_slices for s in sets}) > 1:
        raise DataFormatError(f"{Path(path).name}: files disagree on the number of time slices")
    return sets[0] if len(sets) == 1 else TrackSet.concat(sets)
