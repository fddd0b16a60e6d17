"""What the release's files hold as pandas wrote them: the index column, float64, NaN rows, mismatches.

Most sets here have 2 slices (546 columns) to stay fast; the first test has all 20."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from model.data import dataformat as df
from model.data.dataformat import INDEX_COLUMN, LABEL_COLUMNS, TrackSet
from model.data.release_layout import find_pairs
from model.data.release_reader import FileReport, read_pair
from tests.test_dataformat import _error, _same, make_tracks


def pandas_release(folder: Path, ts: TrackSet, file_id: int, keep: np.ndarray | None = None) -> np.ndarray:
    """Write d{file_id} as the dataset's writer does: pandas frames filtered by a row mask, flat, float64.

    Returns the index pandas keeps (the rows' numbers before filtering).
    """
    keep = np.ones(len(ts), bool) if keep is None else keep
    labels = ts.labels.astype(np.float64)
    flat = pd.DataFrame(ts.charges.reshape(len(ts), -1).astype(np.float64), columns=df.charge_names(ts.n_slices))
    folder.mkdir(parents=True, exist_ok=True)
    labels[keep].to_parquet(folder / f"labels_d{file_id}.parquet")
    flat[keep].to_parquet(folder / f"recon3D_d{file_id}.parquet")
    flat.iloc[:, -df.PIXELS :][keep].rename(columns=lambda c: str(int(c) % df.PIXELS)).to_parquet(
        folder / f"recon2D_d{file_id}.parquet"
    )
    return np.flatnonzero(keep)


def test_pandas_written_release_with_index_column_and_float64(tmp_path: Path) -> None:
    ts = make_tracks(12)
    keep = np.arange(12) % 3 != 1  # the z-entry filter leaves gaps: pandas stores the index as a column
    rows = pandas_release(tmp_path, ts, 17301, keep)
    schema = pq.read_schema(tmp_path / "recon3D_d17301.parquet")
    assert schema.names[-1] == INDEX_COLUMN and str(schema.field("0").type) == "double"
    _same(ts.subset(keep), df.read_dataset(tmp_path))
    # The reader keeps the release's row numbers; a copy by our writer is the same file to pandas.
    df.write_parquet(df.read_dataset(tmp_path), tmp_path / "ours", 17301, layout="flat", index=rows)
    for kind in ("labels", "recon2D", "recon3D"):
        theirs = pd.read_parquet(tmp_path / f"{kind}_d17301.parquet")
        ours = pd.read_parquet(tmp_path / "ours" / f"{kind}_d17301.parquet")
        pd.testing.assert_frame_equal(ours, theirs.astype(np.float32).astype(np.float64))


def test_nan_rows_are_dropped_and_counted_per_file(tmp_path: Path) -> None:
    ts = make_tracks(10, slices=2, seed=3)
    ts.charges[2, 1, 6, 7] = np.nan  # column 1*273 + 6*21 + 7 = 406
    ts.charges[7, 0, 0, 1] = np.nan
    ts.labels.loc[4, "pt"] = np.nan  # a required label
    ts.labels.loc[5, "x-midplane"] = np.nan  # optional: the row stays
    pandas_release(tmp_path, ts, 9)
    reports: list[FileReport] = []
    back = df.read_dataset(tmp_path, report=reports.append)
    kept = np.setdiff1d(np.arange(10), [2, 4, 7])
    np.testing.assert_array_equal(back.charges, ts.charges[kept])
    (report,) = reports
    assert (report.rows, report.kept, report.nan_charge_rows, report.nan_label_rows) == (10, 7, 2, 1)
    assert report.drop_line() == (
        "recon3D_d9.parquet: dropped 3 of 10 rows (2 with NaN charges, first in column '406'; "
        "1 with NaN labels, first in column 'pt')"
    )
    assert np.isnan(back.labels.loc[list(kept).index(5), "x-midplane"])


def test_nan_rows_are_logged_when_nobody_asks_for_reports(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ts = make_tracks(4, slices=2)
    ts.charges[1, 0, 0, 0] = np.nan
    pandas_release(tmp_path, ts, 3)
    assert len(df.read_dataset(tmp_path)) == 3
    assert caplog.messages == ["recon3D_d3.parquet: dropped 1 of 4 rows (1 with NaN charges, first in column '0')"]


def test_mostly_nan_file_is_an_error(tmp_path: Path) -> None:
    ts = make_tracks(7, slices=2)
    ts.charges[:4, 1, 2, 1] = np.nan  # 4 of 7 rows: more than half
    pandas_release(tmp_path, ts, 1)
    assert _error(tmp_path) == (
        "recon3D_d1.parquet: 4 of 7 rows hold NaN (first in column '316'); "
        "more than 50% NaN is a damaged file, not a few missing clusters"
    )
    ts.charges[3] = 0  # exactly half is still dropped
    pandas_release(tmp_path, ts, 1)
    assert len(df.read_dataset(tmp_path, report=lambda r: None)) == 4


def test_mostly_nan_labels_name_the_labels_file(tmp_path: Path) -> None:
    ts = make_tracks(5, slices=8)
    ts.labels.loc[:2, "cotBeta"] = np.nan
    df.write_csv(ts, tmp_path, 2)
    assert _error(tmp_path).startswith("labels_d2.csv: 3 of 5 rows hold NaN (first in column 'cotBeta')")


def test_row_count_mismatch_is_an_error_naming_both_files(tmp_path: Path) -> None:
    ts = make_tracks(6, slices=8)
    df.write_csv(ts, tmp_path, 4)
    ts.labels.iloc[:5].to_csv(tmp_path / "labels_d4.csv", index=False)
    assert _error(tmp_path) == "labels_d4.csv: 5 rows but recon8t_d4.csv has at least 6 rows"
    ts.labels.to_csv(tmp_path / "labels_d4.csv", index=False)
    df.write_csv(ts.subset(slice(0, 4)), tmp_path / "short", 4)
    (tmp_path / "short" / "recon8t_d4.csv").replace(tmp_path / "recon8t_d4.csv")
    (tmp_path / "short" / "labels_d4.csv").unlink()
    assert _error(tmp_path) == "labels_d4.csv: 6 rows but recon8t_d4.csv has 4 rows"


def test_labels_and_charges_numbering_other_rows_is_an_error(tmp_path: Path) -> None:
    ts = make_tracks(6, slices=2)
    pandas_release(tmp_path, ts, 5, np.arange(6) != 2)
    other = ts.labels.astype(np.float64)[np.arange(6) != 3]
    other.to_parquet(tmp_path / "labels_d5.parquet")
    assert _error(tmp_path) == (
        "labels_d5.parquet: __index_level_0__ differs from recon3D_d5.parquet's in row 2 (2 vs 3): "
        "the files do not hold the same clusters"
    )


def test_csv_values_that_are_not_numbers_name_the_column(tmp_path: Path) -> None:
    ts = make_tracks(3, slices=8)
    df.write_csv(ts, tmp_path, 6)
    path = tmp_path / "recon8t_d6.csv"
    lines = path.read_text().splitlines()
    cells = lines[2].split(",")
    cells[40] = "n/a?"
    lines[2] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    assert _error(tmp_path) == "recon8t_d6.csv: column '40': CSV conversion error to double: invalid value 'n/a?'"


def test_csv_written_with_a_pandas_index_column(tmp_path: Path) -> None:
    ts = make_tracks(4, slices=8)
    df.write_csv(ts, tmp_path, 7)
    for name in ("recon8t_d7.csv", "labels_d7.csv"):
        frame = pd.read_csv(tmp_path / name)
        frame.index = frame.index * 2
        frame.to_csv(tmp_path / name, float_format="%.9g")  # a blank header cell for the index
    (pair,) = find_pairs(tmp_path)
    back, report = read_pair(pair)
    _same(ts, back)
    assert report.rows == 4 and list(back.labels.columns) == list(LABEL_COLUMNS)
