"""Release-format reader/writer: bit-exact round trips, the release's own file content, one-line errors,
atomic writes. (Layouts, NaN rows and streaming: tests/test_release_*.py.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from model.data import dataformat as df
from model.data.dataformat import LABEL_COLUMNS, DataFormatError, TrackSet


def make_tracks(n: int = 40, slices: int = 20, seed: int = 0) -> TrackSet:
    """Random float32 values exercise every bit pattern class a writer could round badly."""
    rng = np.random.default_rng(seed)
    charges = (rng.standard_normal((n, slices, 13, 21)) * 10.0 ** rng.uniform(-3, 5, (n, slices, 13, 21))).astype(
        np.float32
    )
    labels = pd.DataFrame(rng.standard_normal((n, len(LABEL_COLUMNS))).astype(np.float32), columns=list(LABEL_COLUMNS))
    return TrackSet(charges, labels)


def _same(a: TrackSet, b: TrackSet) -> None:
    assert a.charges.dtype == b.charges.dtype == np.float32
    assert a.charges.tobytes() == b.charges.tobytes()
    assert list(b.labels.columns) == list(LABEL_COLUMNS)
    assert a.labels.to_numpy().tobytes() == b.labels.to_numpy().tobytes()


def _write_table(path: Path, columns: dict[str, np.ndarray]) -> None:
    """A parquet file with arbitrary float32 columns, to build malformed inputs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({name: np.asarray(v, np.float32) for name, v in columns.items()}), path)


def _charge_columns(ts: TrackSet) -> dict[str, np.ndarray]:
    flat = ts.charges.reshape(len(ts), -1)
    return {str(i): flat[:, i] for i in range(flat.shape[1])}


def _error(path: Path) -> str:
    with pytest.raises(DataFormatError) as info:
        df.read_dataset(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_parquet_round_trip_is_bit_exact(tmp_path: Path) -> None:
    ts = make_tracks()
    written = df.write_parquet(ts, tmp_path, 17301)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        "labels/labels_d17301.parquet",
        "recon3D/recon3D_d17301.parquet",
        "recon2D/recon2D_d17301.parquet",
    ]
    _same(ts, df.read_dataset(tmp_path))
    _same(ts, df.read_dataset(tmp_path / "recon3D" / "recon3D_d17301.parquet"))
    last = pd.read_parquet(tmp_path / "recon2D" / "recon2D_d17301.parquet").to_numpy(np.float32)
    assert last.tobytes() == ts.charges[:, -1].reshape(len(ts), -1).tobytes()


def test_writer_writes_what_pandas_wrote_for_the_release(tmp_path: Path) -> None:
    """float64 columns, the index as __index_level_0__ and pandas metadata: schemas equal to the byte."""
    ts = make_tracks(9)
    index = np.array([0, 3, 4, 8, 11, 12, 15, 20, 21])  # rows left after the release's z-entry filter
    df.write_parquet(ts, tmp_path, 5, layout="flat", index=index)
    flat = ts.charges.reshape(len(ts), -1).astype(np.float64)
    theirs = pd.DataFrame(flat, columns=df.charge_names(20), index=index)
    theirs.to_parquet(tmp_path / "theirs.parquet")
    ours = tmp_path / "recon3D_d5.parquet"
    assert pq.read_schema(ours).equals(pq.read_schema(tmp_path / "theirs.parquet"), check_metadata=True)
    back = pd.read_parquet(ours)
    assert back.index.tolist() == index.tolist() and (back.dtypes == np.float64).all()
    assert back.to_numpy().tobytes() == flat.tobytes()
    labels = pd.read_parquet(tmp_path / "labels_d5.parquet")
    assert list(labels.columns) == list(LABEL_COLUMNS) and labels.index.tolist() == index.tolist()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "labels_d5.parquet", "recon2D_d5.parquet", "recon3D_d5.parquet", "theirs.parquet"
    ]  # fmt: skip


def test_writer_stores_nan_as_null_and_leaves_out_absent_optional_labels(tmp_path: Path) -> None:
    ts = make_tracks(5)
    ts.charges[1, 0, 0, 0] = np.nan
    ts.labels["x-midplane"] = np.nan  # as read from a labels file without it
    df.write_parquet(ts, tmp_path, 1)
    table = pq.read_table(tmp_path / "recon3D" / "recon3D_d1.parquet")
    assert table.column("0").null_count == 1 and table.column("1").null_count == 0
    assert "x-midplane" not in pq.read_schema(tmp_path / "labels" / "labels_d1.parquet").names


def test_csv_round_trip_is_bit_exact(tmp_path: Path) -> None:
    ts = make_tracks(slices=8)
    written = df.write_csv(ts, tmp_path, 16501)
    assert sorted(p.name for p in written) == ["labels_d16501.csv", "recon8t_d16501.csv"]
    header = (tmp_path / "recon8t_d16501.csv").read_text().splitlines()[0].split(",")
    assert header == [str(i) for i in range(2184)]
    _same(ts, df.read_dataset(tmp_path))
    _same(ts, df.read_dataset(tmp_path / "recon8t_d16501.csv"))


def test_csv_takes_chosen_slices_of_a_20_slice_set(tmp_path: Path) -> None:
    ts = make_tracks()
    with pytest.raises(ValueError, match="8 slices"):
        df.write_csv(ts, tmp_path, 1)
    df.write_csv(ts, tmp_path, 1, slices=range(12, 20))
    assert np.array_equal(df.read_dataset(tmp_path).charges, ts.charges[:, 12:])


def test_release_folder_pairs_files_by_id(tmp_path: Path) -> None:
    first, second = make_tracks(5, seed=1), make_tracks(7, seed=2)
    df.write_parquet(second, tmp_path, 17400)
    df.write_parquet(first, tmp_path, 17302)
    assert df.dataset_file_ids(tmp_path) == [17302, 17400]
    _same(TrackSet.concat([first, second]), df.read_dataset(tmp_path))


def test_columns_are_matched_by_name_not_position(tmp_path: Path) -> None:
    ts = make_tracks(6)
    columns = _charge_columns(ts)
    _write_table(tmp_path / "recon3D" / "recon3D_d1.parquet", dict(reversed(columns.items())))
    labels = {c: ts.labels[c].to_numpy() for c in reversed(LABEL_COLUMNS)}
    _write_table(tmp_path / "labels" / "labels_d1.parquet", labels)
    _same(ts, df.read_dataset(tmp_path))
    csv = make_tracks(6, slices=8)
    df.write_csv(csv, tmp_path / "csv", 2)
    frame = pd.read_csv(tmp_path / "csv" / "recon8t_d2.csv")
    frame[frame.columns[::-1]].to_csv(tmp_path / "csv" / "recon8t_d2.csv", index=False, float_format="%.9g")
    _same(csv, df.read_dataset(tmp_path / "csv"))


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda c: c.pop("17"), "recon3D_d1.parquet: expected 5460 charge columns, found 5459 (column '17' missing)"),
        (lambda c: c.update({"x17": c.pop("17")}), "recon3D_d1.parquet: column '17' missing (found unexpected 'x17')"),
        (lambda c: c.update({"5460": c["0"]}), "recon3D_d1.parquet: expected 5460 charge columns, found 5461"),
        (
            lambda c: c["100"].__setitem__(slice(0, 4), np.nan),
            "recon3D_d1.parquet: 4 of 6 rows hold NaN (first in column '100'); more than 50% NaN is a damaged file",
        ),
        (
            lambda c: c["99"].__setitem__(2, np.inf),
            "recon3D_d1.parquet: column '99' has an infinite value in row 2",
        ),
    ],
    ids=["missing", "misnamed", "count", "mostly-nan", "inf"],
)
def test_bad_charge_file_names_file_and_column(
    tmp_path: Path, edit: Callable[[dict[str, np.ndarray]], object], expected: str
) -> None:
    ts = make_tracks(6)
    df.write_parquet(ts, tmp_path, 1)
    columns = {k: v.copy() for k, v in _charge_columns(ts).items()}
    edit(columns)
    _write_table(tmp_path / "recon3D" / "recon3D_d1.parquet", columns)
    assert _error(tmp_path).startswith(expected)


def test_bad_labels_name_file_and_column(tmp_path: Path) -> None:
    ts = make_tracks(6, slices=8)
    df.write_csv(ts, tmp_path, 1)
    labels = ts.labels.copy()
    labels.loc[:3, "pt"] = np.nan
    labels.to_csv(tmp_path / "labels_d1.csv", index=False)
    assert _error(tmp_path).startswith("labels_d1.csv: 4 of 6 rows hold NaN (first in column 'pt')")
    labels.drop(columns="cotBeta").to_csv(tmp_path / "labels_d1.csv", index=False)
    assert _error(tmp_path) == "labels_d1.csv: column 'cotBeta' missing"
    labels.assign(pt="fast").to_csv(tmp_path / "labels_d1.csv", index=False)
    assert _error(tmp_path).startswith("labels_d1.csv: column 'pt' is not numeric")


def test_row_count_mismatch_names_both_files(tmp_path: Path) -> None:
    ts = make_tracks(6)
    df.write_parquet(ts, tmp_path / "full", 3)
    df.write_parquet(ts.subset(slice(0, 5)), tmp_path / "short", 3)
    (tmp_path / "short" / "labels" / "labels_d3.parquet").replace(tmp_path / "full" / "labels" / "labels_d3.parquet")
    assert _error(tmp_path / "full") == "labels_d3.parquet: 5 rows but recon3D_d3.parquet has 6 rows"


def test_missing_or_unreadable_files(tmp_path: Path) -> None:
    assert _error(tmp_path / "nowhere").endswith("nowhere: no such file or directory")
    df.write_parquet(make_tracks(3), tmp_path, 4)
    (tmp_path / "labels" / "labels_d4.parquet").unlink()
    assert _error(tmp_path) == "recon3D_d4.parquet: no matching labels file labels_d4.parquet (beside it or in labels/)"
    (tmp_path / "labels" / "labels_d4.parquet").write_bytes(b"not parquet at all")
    assert _error(tmp_path).startswith("labels_d4.parquet: unreadable parquet file")


def test_failed_write_leaves_existing_files_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    df.write_parquet(make_tracks(4, seed=1), tmp_path, 9)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")}
    real_table = df.release_table
    calls = []

    def fail_on_second(*args: object) -> pa.Table:  # the first file is staged, the second dies mid-way
        calls.append(args)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_table(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(df, "release_table", fail_on_second)
    with pytest.raises(OSError, match="disk full"):
        df.write_parquet(make_tracks(4, seed=2), tmp_path, 9)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")} == before
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_trackset_subset_and_validation() -> None:
    ts = make_tracks(10)
    assert len(ts) == 10 and ts.n_slices == 20
    part = ts.subset(np.array([7, 2]))
    assert np.array_equal(part.charges, ts.charges[[7, 2]])
    assert part.labels["pt"].tolist() == ts.labels["pt"].iloc[[7, 2]].tolist()
    with pytest.raises(ValueError, match=r"expected shape \(n, T, 13, 21\), found \(2, 3, 21, 13\)"):
        TrackSet(np.zeros((2, 3, 21, 13)), ts.labels.iloc[:2])
    with pytest.raises(ValueError, match="column 'pt' missing"):
        TrackSet(ts.charges, ts.labels.drop(columns="pt"))


def test_cli_round_trip_and_one_line_errors(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from model.data.data_cli import data

    runner = CliRunner()
    gen = runner.invoke(data, ["generate", "--n", "30", "--seed", "1", "--out", str(tmp_path / "gen"), "--no-progress"])
    assert gen.exit_code == 0, gen.output
    stats = runner.invoke(data, ["stats", str(tmp_path / "gen")])
    assert stats.exit_code == 0 and stats.stdout.splitlines()[0].split() == ["tracks", "30"]
    out = tmp_path / "bad"
    hurt = runner.invoke(data, ["defects", str(tmp_path / "gen"), "--kind", "dead_row", "--out", str(out)])
    assert hurt.exit_code == 0 and (out / "defects.csv").is_file()
    assert len(df.read_dataset(out)) == 30
    before = (out / "defects.csv").read_bytes()
    (tmp_path / "gen" / "labels" / "labels_d17301.parquet").write_bytes(b"junk")
    for args in (
        ["stats", str(tmp_path / "gen")],
        ["defects", str(tmp_path / "gen"), "--kind", "dead_pixel", "--out", str(out)],
    ):
        failed = runner.invoke(data, args)
        assert failed.exit_code == 2
        assert failed.stderr.startswith("error: labels_d17301.parquet: unreadable parquet file")
        assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr
    assert (out / "defects.csv").read_bytes() == before
