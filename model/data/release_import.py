"""Streaming import of a release: validate it file by file, copy it, and cache its features.

``import_release`` reads one d{N} pair at a time in chunks of rows (:class:`~model.data.release_reader.PairReader`),
so memory holds one chunk plus the features gathered so far (468 bytes a track), whatever the
release's size. Each chunk goes to the y-profiles of the chosen slices
(:class:`~model.data.feature_cache.ProfileStream`) and, unless ``copy=False``, to a copy of the pair
written as the release writes it (float64, ``__index_level_0__`` holding the source row ids,
pandas metadata) in either layout; a folder of folders keeps its parts as subfolders. The
features file goes into the output folder. Every output is staged and moved into place only when
the whole release has been read, so an error or an interrupt leaves what was there untouched.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from model.data.dataformat import (
    PIXELS,
    DataFormatError,
    Layout,
    charge_names,
    release_paths,
    release_schema,
    release_table,
    staged_files,
)
from model.data.feature_cache import FEATURES_FILE, FeatureCache, ProfileStream, Readout
from model.data.features import DEFAULT_SLICES
from model.data.release_layout import FilePair, find_pairs
from model.data.release_reader import BATCH_ROWS, Chunk, FileReport, PairReader

_log = logging.getLogger(__name__)


@dataclass
class ImportSummary:
    """What an import read, dropped and wrote."""

    release: Path
    out: Path
    layout: Layout
    reports: list[FileReport]
    features_path: Path
    features: FeatureCache
    written: list[Path] = field(default_factory=list)  # release copy files
    seconds: float = 0.0

    @property
    def tracks(self) -> int:
        return sum(r.kept for r in self.reports)

    def lines(self) -> list[str]:
        reports = self.reports
        parts = sorted({r.pair.part for r in reports if r.pair.part})
        rows = sum(r.rows for r in reports)
        where = f" ({len(parts)} parts: {', '.join(parts)})" if parts else ""
        rate = self.tracks / self.seconds if self.seconds else float("nan")
        out = [
            f"imported {self.tracks:,} of {rows:,} tracks from {len(reports)} file pairs{where} "
            f"in {self.seconds:.1f} s ({rate:,.0f} tracks/s)"
        ]
        dropped = [r for r in reports if r.dropped]
        charges, labels = sum(r.nan_charge_rows for r in reports), sum(r.nan_label_rows for r in reports)
        out.append(
            f"dropped {charges + labels:,} rows in {len(dropped)} files ({charges:,} with NaN charges, "
            f"{labels:,} with NaN labels)"
        )
        missing: dict[tuple[str, ...], list[FileReport]] = {}
        for r in reports:
            if r.missing_optional:
                missing.setdefault(r.missing_optional, []).append(r)
        for columns, files in missing.items():
            first = files[0].pair.name(files[0].pair.labels)
            out.append(f"labels without optional columns {', '.join(columns)}: {len(files)} files (first {first})")
        if self.written:
            out.append(f"wrote {len(self.written)} release files ({self.layout} layout) under {self.out}")
        cache = self.features
        how = (
            f"after readout ({cache.readout.noise_e:g} e noise, seed {cache.readout.seed}, "
            f"{cache.readout.threshold_e:g} e threshold)"
            if cache.readout
            else "of raw charge"
        )
        size = self.features_path.stat().st_size / 2**20
        out.append(
            f"wrote {self.features_path}: {len(cache):,} tracks, y-profiles of slices {_slice_text(cache.slices)} "
            f"{how} and labels, {size:,.1f} MB"
        )
        return out


def _slice_text(slices: Sequence[int]) -> str:
    s = list(slices)
    return f"{s[0]}-{s[-1]}" if len(s) > 1 and s == list(range(s[0], s[-1] + 1)) else ",".join(map(str, s))


class _PairCopy:
    """The copy of one pair, written chunk by chunk into staged files.

    A parquet charge file that already is what our writer writes (the release's own files are)
    and lost no rows is copied byte for byte instead: re-encoding 5,460 float64 columns would
    double the import's time. If it did lose rows, it is read a second time to be rewritten.
    """

    def __init__(
        self, stack: contextlib.ExitStack, stage: Callable[[Path], Path], paths: dict[str, Path], reader: PairReader
    ) -> None:
        self.stage, self.paths, self.reader = stage, paths, reader
        schema = release_schema(tuple(reader.names))
        self.verbatim = reader.schema is not None and reader.schema.remove_metadata().equals(schema.remove_metadata())
        self.schemas = {"recon3D": schema, "recon2D": release_schema(tuple(charge_names(1)))}
        kinds = ("recon2D",) if self.verbatim else ("recon3D", "recon2D")
        self.writers = {kind: self._writer(stack, kind) for kind in kinds}
        self.rows: list[np.ndarray] = []

    def _writer(self, stack: contextlib.ExitStack, kind: str) -> pq.ParquetWriter:
        tmp = self.stage(self.paths[kind])
        return stack.enter_context(pq.ParquetWriter(tmp, self.schemas[kind], use_dictionary=False))

    def write(self, chunk: Chunk) -> None:
        index = pa.array(chunk.rows, type=pa.int64())
        columns = chunk.values.columns
        for kind, writer in self.writers.items():
            values = columns[-PIXELS:] if kind == "recon2D" else columns
            writer.write_batch(pa.RecordBatch.from_arrays([*values, index], schema=self.schemas[kind]))
        self.rows.append(chunk.rows)

    def finish(self, stack: contextlib.ExitStack) -> list[Path]:
        """Write the labels and, for a verbatim copy, the charges; returns the copy's paths."""
        if self.verbatim and not self.reader.report.dropped:
            shutil.copyfile(self.reader.pair.charges, self.stage(self.paths["recon3D"]))
        elif self.verbatim:
            writer = self._writer(stack, "recon3D")
            for chunk in PairReader(self.reader.pair, self.reader.batch_rows):
                writer.write_batch(pa.RecordBatch.from_arrays([*chunk.values.columns, pa.array(chunk.rows)],
                                                              schema=self.schemas["recon3D"]))  # fmt: skip
        names, values = self.reader.kept_labels()
        rows = np.concatenate(self.rows) if self.rows else np.empty(0, np.int64)
        pq.write_table(release_table(values.T, names, rows), self.stage(self.paths["labels"]), use_dictionary=False)
        return list(self.paths.values())


def _check_out(path: Path, out: Path, pairs: Sequence[FilePair], layout: Layout) -> None:
    """A copy must not overwrite its source, nor land inside the release it would then be read with."""
    source, target = path.resolve(), out.resolve()
    if path.is_dir() and target.is_relative_to(source):
        raise DataFormatError(f"{out}: --out is inside the release {path}; the copy would be read as part of it")
    inputs = {p.resolve() for pair in pairs for p in (pair.charges, pair.labels)}
    for pair in pairs:
        if inputs & set(release_paths(target / pair.part, pair.file_id, layout).values()):
            raise DataFormatError(f"{out}: --out would overwrite the release's own {pair.name(pair.charges)}")


def _check_slices(reader: PairReader, slices: Sequence[int], first: PairReader | None) -> None:
    name = reader.pair.name(reader.pair.charges)
    if first is not None and reader.n_slices != first.n_slices:
        other = first.pair.name(first.pair.charges)
        raise DataFormatError(f"{name}: {reader.n_slices} slices but {other} has {first.n_slices} (mixed releases)")
    if max(slices) >= reader.n_slices:
        raise DataFormatError(f"{name}: has {reader.n_slices} slices; the features ask for slice {max(slices)}")


def total_rows(pairs: Sequence[FilePair]) -> int | None:
    """Tracks in the release from the parquet footers (None if it has CSV files, counted only by reading)."""
    if any(pair.is_csv for pair in pairs):
        return None
    try:
        return sum(pq.read_metadata(pair.charges).num_rows for pair in pairs)
    except (OSError, pa.ArrowException):
        return None  # the file is named when it is read


def import_release(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    slices: Sequence[int] = DEFAULT_SLICES,
    readout: Readout | None = Readout(),  # noqa: B008 - frozen
    copy: bool = False,
    layout: Layout = "subfolders",
    batch_rows: int = BATCH_ROWS,
    progress: bool = False,
    note: Callable[[str], None] | None = None,
) -> ImportSummary:
    """Stream a release (folder in any layout, or one file) into `out`/features.npz, and with `copy` into a
    parquet copy under `out` as well (as large as the release).

    `note` receives one line per file that lost rows (default: logged as warnings).
    """
    if not slices or min(slices) < 0 or len(set(slices)) != len(slices):
        raise ValueError(f"slices: expected distinct non-negative slice numbers, found {list(slices)}")
    started = time.perf_counter()
    path, out = Path(path), Path(out)
    pairs = find_pairs(path)
    if copy:
        _check_out(path, out, pairs, layout)
    profile = ProfileStream(slices, readout)
    profiles: list[np.ndarray] = []
    labels: list[pd.DataFrame] = []
    sources: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    reports: list[FileReport] = []
    written: list[Path] = []
    first: PairReader | None = None
    bar = tqdm(total=total_rows(pairs), unit=" tracks", unit_scale=True, desc="import", disable=not progress)
    with bar, staged_files() as stage:
        for i, pair in enumerate(pairs):
            bar.set_postfix_str(f"file {i + 1}/{len(pairs)}")
            reader = PairReader(pair, batch_rows)
            _check_slices(reader, slices, first)
            first = first or reader
            with contextlib.ExitStack() as stack:
                target = release_paths(out / pair.part, pair.file_id, layout)
                copier = _PairCopy(stack, stage, target, reader) if copy else None
                for chunk in reader:
                    profiles.append(profile(chunk.charges(slices)))
                    rows.append(chunk.rows)
                    if copier:
                        copier.write(chunk)
                    bar.update(chunk.n_read)
                if copier:
                    written += copier.finish(stack)
            report = reader.report
            reports.append(report)
            labels.append(reader.label_frame())
            sources.append(np.full(report.kept, i, dtype=np.int32))
            line = report.drop_line()
            if line:
                (note or _log.warning)(line)
        cache = FeatureCache(
            profiles=np.concatenate(profiles) if profiles else np.empty((0, len(slices), 13), np.float32),
            labels=pd.concat(labels, ignore_index=True),
            source=np.concatenate(sources),
            row=np.concatenate(rows) if rows else np.empty(0, np.int64),
            slices=tuple(slices),
            readout=readout,
            files=[_file_record(r) for r in reports],
            release=str(path.resolve()),
        )
        features_path = out / FEATURES_FILE
        cache.write(stage(features_path))
    return ImportSummary(path, out, layout, reports, features_path, cache, written, time.perf_counter() - started)


def _file_record(report: FileReport) -> dict[str, object]:
    """A report as JSON: where the pair came from and what was kept."""
    pair = report.pair
    record = {k: v for k, v in asdict(report).items() if k != "pair"}
    return {"part": pair.part, "file_id": pair.file_id, "charges": str(pair.charges), "labels": str(pair.labels),
            **record, "missing_optional": list(report.missing_optional), "kept": report.kept}  # fmt: skip
