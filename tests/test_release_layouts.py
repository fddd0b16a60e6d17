"""Every folder layout of the release as users downloaded it, from the folder or any one file.

Parquet sets here have 2 slices (546 columns; the reader infers the count): layouts do not depend on it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from model.data import dataformat as df
from model.data.dataformat import OPTIONAL_LABELS, TrackSet
from model.data.release_layout import find_pairs
from model.data.release_reader import FileReport
from tests.test_dataformat import _error, _same, make_tracks


def test_flat_folder_as_the_dataset_writer_puts_it(tmp_path: Path) -> None:
    first, second = make_tracks(5, slices=2, seed=1), make_tracks(4, slices=2, seed=2)
    df.write_parquet(first, tmp_path, 17301, layout="flat")
    df.write_parquet(second, tmp_path, 17302, layout="flat")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"{kind}_d{n}.parquet" for kind in ("labels", "recon2D", "recon3D") for n in (17301, 17302)
    ]
    both = TrackSet.concat([first, second])
    _same(both, df.read_dataset(tmp_path))
    for kind in ("labels", "recon2D", "recon3D"):  # any one file selects its d{N} set
        _same(second, df.read_dataset(tmp_path / f"{kind}_d17302.parquet"))


def test_subfolders_from_the_folder_or_any_one_file(tmp_path: Path) -> None:
    ts = make_tracks(6, slices=2)
    df.write_parquet(ts, tmp_path, 17400)
    _same(ts, df.read_dataset(tmp_path))
    for kind in ("labels", "recon2D", "recon3D"):
        _same(ts, df.read_dataset(tmp_path / kind / f"{kind}_d17400.parquet"))
    _same(ts, df.read_dataset(tmp_path / "recon3D"))  # the charge folder itself: labels in ../labels


def test_recon2d_alone_is_not_enough(tmp_path: Path) -> None:
    df.write_parquet(make_tracks(3, slices=2), tmp_path, 7, layout="flat")
    (tmp_path / "recon3D_d7.parquet").unlink()
    assert _error(tmp_path / "recon2D_d7.parquet") == (
        "recon2D_d7.parquet: no matching charge file recon3D_d7.parquet (beside it or in recon3D/) "
        "(recon2D holds only the last slice)"
    )
    assert _error(tmp_path) == (
        f"{tmp_path.name}: no recon3D_d*.parquet or recon8t_d*.csv files "
        "(looked beside labels, in recon3D/ and in subfolders)"
    )


def test_csv_release_split_by_charge_sign(tmp_path: Path) -> None:
    """unflipped-positive/ and unflipped-negative/ hold the same d{N} names; both load, each a part."""
    pos, neg = make_tracks(5, slices=8, seed=3), make_tracks(7, slices=8, seed=4)
    df.write_csv(pos, tmp_path / "unflipped-positive", 16501)
    df.write_csv(neg, tmp_path / "unflipped-negative", 16501)
    pairs = find_pairs(tmp_path)
    assert [(p.part, p.file_id) for p in pairs] == [("unflipped-negative", 16501), ("unflipped-positive", 16501)]
    _same(TrackSet.concat([neg, pos]), df.read_dataset(tmp_path))
    assert df.dataset_file_ids(tmp_path) == [16501, 16501]


def test_folder_of_parquet_folders_in_both_layouts(tmp_path: Path) -> None:
    a, b = make_tracks(3, slices=2, seed=5), make_tracks(4, slices=2, seed=6)
    df.write_parquet(a, tmp_path / "a", 1, layout="flat")
    df.write_parquet(b, tmp_path / "b", 1)
    assert [p.part for p in find_pairs(tmp_path)] == ["a", "b"]
    _same(TrackSet.concat([a, b]), df.read_dataset(tmp_path))


def test_the_same_set_twice_in_one_folder_is_refused(tmp_path: Path) -> None:
    df.write_parquet(make_tracks(3, slices=2), tmp_path, 2, layout="flat")
    df.write_parquet(make_tracks(3, slices=2), tmp_path, 2)
    assert _error(tmp_path) == "recon3D_d2.parquet: d2 also in recon3D/recon3D_d2.parquet; point at one of them"


def test_older_labels_without_midplanes_are_accepted_and_reported(tmp_path: Path) -> None:
    ts = make_tracks(6, slices=8)
    df.write_csv(ts, tmp_path, 16502)
    labels = ts.labels.drop(columns=["y-midplane", "x-midplane"])
    labels.to_csv(tmp_path / "labels_d16502.csv", index=False)  # 11 columns, as older writers made
    reports: list[FileReport] = []
    back = df.read_dataset(tmp_path, report=reports.append)
    assert reports[0].missing_optional == ("y-midplane", "x-midplane")
    assert reports[0].missing_line() == "labels_d16502.csv: no optional column y-midplane, x-midplane"
    assert back.labels[["y-midplane", "x-midplane"]].isna().all().all()
    kept = [c for c in df.LABEL_COLUMNS if c not in ("y-midplane", "x-midplane")]
    assert back.labels[kept].equals(ts.labels[kept])
    # Fewer still: only what the features need.
    ts.labels[list(df.REQUIRED_LABELS)].to_csv(tmp_path / "labels_d16502.csv", index=False)
    reports.clear()
    assert len(df.read_dataset(tmp_path, report=reports.append)) == 6
    assert reports[0].missing_optional == OPTIONAL_LABELS


def test_a_required_label_column_is_still_needed(tmp_path: Path) -> None:
    ts = make_tracks(4, slices=8)
    df.write_csv(ts, tmp_path, 1)
    ts.labels.drop(columns="y-local").to_csv(tmp_path / "labels_d1.csv", index=False)
    assert _error(tmp_path) == "labels_d1.csv: column 'y-local' missing"


def test_labels_are_found_beside_or_in_labels_folder_only(tmp_path: Path) -> None:
    ts = make_tracks(3, slices=2)
    df.write_parquet(ts, tmp_path / "rel", 8)
    shutil.move(tmp_path / "rel" / "labels", tmp_path / "elsewhere")
    assert _error(tmp_path / "rel") == (
        "recon3D_d8.parquet: no matching labels file labels_d8.parquet (beside it or in labels/)"
    )
    shutil.move(tmp_path / "elsewhere" / "labels_d8.parquet", tmp_path / "rel" / "recon3D")
    assert np.array_equal(df.read_dataset(tmp_path / "rel").charges, ts.charges)


def test_unknown_file_names_are_refused(tmp_path: Path) -> None:
    (tmp_path / "tracks.parquet").write_bytes(b"")
    assert _error(tmp_path / "tracks.parquet").startswith("tracks.parquet: expected a labels_d<N>, recon2D_d<N>")
