"""Streaming import: the features file equals the in-memory path bit for bit; copies, errors, atomicity,
y0 at the release's edges, and the import benchmark's plumbing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from model.data import dataformat as df
from model.data import features
from model.data.data_cli import data
from model.data.dataformat import DataFormatError, TrackSet
from model.data.feature_cache import FEATURES_FILE, ProfileStream, Readout, load_features
from model.data.release_import import import_release
from tests.test_dataformat import _same, make_tracks
from tests.test_release_content import pandas_release


@pytest.fixture
def release(tmp_path: Path) -> tuple[Path, TrackSet]:
    """Two pandas-written files (8 slices, 2,184 columns) with NaN rows; returns the folder and its kept tracks."""
    first, second = make_tracks(11, slices=8, seed=1), make_tracks(8, slices=8, seed=2)
    first.charges[3, 6, 12, 20] = np.nan
    second.charges[0, 0, 0, 0] = np.nan
    second.labels.loc[5, "cotAlpha"] = np.nan
    folder = tmp_path / "unflipped"
    pandas_release(folder, first, 17301, np.arange(11) != 9)
    pandas_release(folder, second, 17302)
    kept = TrackSet.concat([first.subset(np.isin(np.arange(11), [3, 9], invert=True)), second.subset(slice(1, 5)),
                            second.subset(slice(6, 8))])  # fmt: skip
    return folder, kept


def test_streaming_equals_in_memory_bit_for_bit(tmp_path: Path, release: tuple[Path, TrackSet]) -> None:
    folder, kept = release
    tracks = df.read_dataset(folder, report=lambda r: None)
    _same(kept, tracks)
    summary = import_release(folder, tmp_path / "out", readout=Readout(seed=5), batch_rows=3, copy=False)
    cache = load_features(tmp_path / "out")
    assert summary.tracks == len(cache) == len(tracks) == 15
    assert cache.encoder_inputs().tobytes() == features.encoder_inputs(tracks, seed=5).tobytes()
    assert cache.model_features().tobytes() == features.model_features(tracks, seed=5).tobytes()
    assert cache.labels.to_numpy().tobytes() == tracks.labels.to_numpy().tobytes()
    assert cache.source.tolist() == [0] * 9 + [1] * 6
    # Rows are named by the release's own index where it has one (the first file), else by position.
    assert cache.row.tolist() == [0, 1, 2, 4, 5, 6, 7, 8, 10] + [1, 2, 3, 4, 6, 7]
    # Raw profiles, and slices chosen freely: each slice keeps its own noise stream.
    import_release(folder, tmp_path / "raw", readout=None, batch_rows=5, copy=False)
    raw = load_features(tmp_path / "raw")
    assert raw.profiles.tobytes() == features.y_profiles(tracks.charges).tobytes()
    plain = features.model_features(tracks, apply_readout=False)
    assert raw.model_features().tobytes() == plain.tobytes()
    import_release(folder, tmp_path / "odd", slices=(5, 1, 3), readout=Readout(seed=2), batch_rows=4, copy=False)
    odd = load_features(tmp_path / "odd")
    expected = features.model_features(tracks, seed=2, slices=(5, 1, 3))
    assert odd.model_features((5, 1, 3)).tobytes() == expected.tobytes()
    with pytest.raises(DataFormatError, match="slice 0 not cached"):
        odd.encoder_inputs()


def test_profile_stream_repeats_features_readout() -> None:
    """The chunked noise is the one features.readout draws for the whole set (guards both against drift)."""
    charges = make_tracks(20, slices=8, seed=7).charges
    stream = ProfileStream((0, 4), Readout(noise_e=150.0, threshold_e=300.0, seed=9))
    chunks = [stream(charges[a:b][:, [0, 4]]) for a, b in ((0, 7), (7, 7), (7, 20))]
    whole = features.readout(charges, 150.0, 300.0, 9, slices=(0, 4)).sum(axis=-1, dtype=np.float32)
    assert np.concatenate(chunks).tobytes() == whole.tobytes()


def test_copy_is_the_release_as_pandas_wrote_it(tmp_path: Path, release: tuple[Path, TrackSet]) -> None:
    folder, kept = release
    summary = import_release(folder, tmp_path / "flat", layout="flat", progress=False, copy=True)
    _same(kept, df.read_dataset(tmp_path / "flat"))
    assert len(summary.written) == 6 and (tmp_path / "flat" / "recon3D_d17302.parquet").is_file()
    source = pd.read_parquet(folder / "recon3D_d17301.parquet").dropna()
    copy = pd.read_parquet(tmp_path / "flat" / "recon3D_d17301.parquet")
    pd.testing.assert_frame_equal(copy, source)  # the release's float64 values and index, NaN rows gone
    recon2d = pd.read_parquet(tmp_path / "flat" / "recon2D_d17301.parquet")
    assert recon2d.to_numpy().tobytes() == source.iloc[:, -df.PIXELS :].to_numpy().tobytes()
    # Re-importing the copy gives the same features.
    import_release(tmp_path / "flat", tmp_path / "again", copy=False)
    a, b = load_features(tmp_path / "flat"), load_features(tmp_path / "again")
    assert a.profiles.tobytes() == b.profiles.tobytes() and a.row.tolist() == b.row.tolist()


def test_clean_release_files_are_copied_byte_for_byte(tmp_path: Path) -> None:
    ts = make_tracks(6, slices=8)
    pandas_release(tmp_path / "rel", ts, 3, np.arange(6) != 4)
    pandas_release(tmp_path / "rel", ts, 4, np.arange(6) != 2)  # gaps: the index is stored as a column
    summary = import_release(tmp_path / "rel", tmp_path / "out", layout="flat", copy=True)
    assert len(summary.written) == 6
    for n in (3, 4):
        name = f"recon3D_d{n}.parquet"
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "rel" / name).read_bytes()
    _same(df.read_dataset(tmp_path / "rel"), df.read_dataset(tmp_path / "out"))


def test_csv_release_split_by_sign_imports_into_parts(tmp_path: Path) -> None:
    pos, neg = make_tracks(4, slices=8, seed=1), make_tracks(3, slices=8, seed=2)
    df.write_csv(pos, tmp_path / "csv" / "unflipped-positive", 16501)
    df.write_csv(neg, tmp_path / "csv" / "unflipped-negative", 16501)
    neg.labels.drop(columns=["y-midplane", "x-midplane"]).to_csv(
        tmp_path / "csv" / "unflipped-negative" / "labels_d16501.csv", index=False
    )
    summary = import_release(tmp_path / "csv", tmp_path / "out", copy=True)
    assert (tmp_path / "out" / "unflipped-positive" / "recon3D" / "recon3D_d16501.parquet").is_file()
    assert "2 parts: unflipped-negative, unflipped-positive" in summary.lines()[0]
    assert "labels without optional columns y-midplane, x-midplane: 1 files" in "\n".join(summary.lines())
    neg.labels[["y-midplane", "x-midplane"]] = np.nan  # absent optional labels read as NaN
    _same(TrackSet.concat([neg, pos]), df.read_dataset(tmp_path / "out", report=lambda r: None))


def _cli(*args: str | Path) -> object:
    return CliRunner().invoke(data, [str(a) for a in args])


def test_cli_import_reports_drops_and_fails_in_one_line_keeping_old_files(
    tmp_path: Path, release: tuple[Path, TrackSet]
) -> None:
    folder, _ = release
    out = tmp_path / "out"
    done = _cli("import", folder, "--out", out, "--no-progress", "--slices", "0-3")
    assert done.exit_code == 0, done.output
    assert done.stderr.splitlines() == [
        "recon3D_d17301.parquet: dropped 1 of 10 rows (1 with NaN charges, first in column '1910')",
        "recon3D_d17302.parquet: dropped 2 of 8 rows (1 with NaN charges, first in column '0'; "
        "1 with NaN labels, first in column 'cotAlpha')",
    ]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("imported 15 of 18 tracks from 2 file pairs in ")
    assert lines[1] == "dropped 3 rows in 2 files (2 with NaN charges, 1 with NaN labels)"
    assert load_features(out).slices == (0, 1, 2, 3)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    broken = make_tracks(4, slices=8)
    broken.charges[:3, 2] = np.nan
    pandas_release(folder, broken, 17303)  # a third, mostly NaN file: the whole import fails
    failed = _cli("import", folder, "--out", out, "--no-progress")
    assert failed.exit_code == 2
    assert failed.stderr.splitlines()[-1] == (
        "error: recon3D_d17303.parquet: 3 of 4 rows hold NaN (first in column '546'); "
        "more than 50% NaN is a damaged file, not a few missing clusters"
    )
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    for args, message in (
        (["--out", folder / "copy", "--copy"], "is inside the release"),
        (["--out", tmp_path / "x", "--slices", "0-8"], "recon3D_d17301.parquet: has 8 slices; the features ask"),
    ):
        bad = _cli("import", folder, *args, "--no-progress")
        assert bad.exit_code == 2 and message in bad.stderr and bad.stderr.count("\n") == 1, bad.stderr
    assert not (tmp_path / "x").exists()
    usage = _cli("import", folder, "--out", tmp_path / "x", "--slices", "3-1")  # click's usage error
    assert usage.exit_code == 2 and "expected distinct slice numbers, found '3-1'" in usage.stderr


def test_interrupted_import_leaves_old_files_intact(
    tmp_path: Path, release: tuple[Path, TrackSet], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _ = release
    out = tmp_path / "out"
    import_release(folder, out, layout="flat", copy=True)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    calls = []
    real = ProfileStream.__call__

    def interrupt(self: ProfileStream, charges: np.ndarray) -> np.ndarray:
        calls.append(1)
        if len(calls) == 4:  # the first file (3 chunks) is staged, the second is being written
            raise KeyboardInterrupt
        return real(self, charges)

    monkeypatch.setattr(ProfileStream, "__call__", interrupt)
    with pytest.raises(KeyboardInterrupt):
        import_release(folder, out, layout="flat", readout=Readout(seed=3), batch_rows=4, copy=True)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_features_file_next_to_the_release_without_a_copy(tmp_path: Path, release: tuple[Path, TrackSet]) -> None:
    folder, kept = release
    import_release(folder, folder, copy=False)
    assert (folder / FEATURES_FILE).is_file()
    _same(kept, df.read_dataset(folder, report=lambda r: None))  # the features file is no release file
    (folder / FEATURES_FILE).write_bytes(b"not a zip")
    with pytest.raises(DataFormatError, match=r"^features.npz: unreadable features file"):
        load_features(folder)


def test_y0_codes_cover_the_release_edges() -> None:
    """y-local reaches about +-8.18 mm: values beyond +-8 mm are clipped into the end codes 0 and 15."""
    edges = np.array([-np.inf, -100.0, -8.18, -8.05, -8.0, -7.0001, 7.9999, 8.0, 8.05, 8.18, 100.0, np.inf])
    assert features.encode_y0_4bit(edges).tolist() == [0, 0, 0, 0, 0, 0, 15, 15, 15, 15, 15, 15]
    inside = np.random.default_rng(0).uniform(-8, 8, 10_000)  # 16 bins of 1 mm, unchanged
    assert features.encode_y0_4bit(inside).tolist() == np.floor(inside + 8).astype(int).tolist()
    ts = make_tracks(3, slices=8)
    ts.labels["y-local"] = [-8.18, 0.5, 8.18]
    assert features.encoder_inputs(ts)[:, -1].tolist() == [0, 8, 15]


def test_bench_import_reports_time_memory_and_rate(tmp_path: Path) -> None:
    result = _cli("bench-import", "--sizes", "40,70", "--tracks-per-file", "30", "--work", tmp_path, "--no-progress")
    assert result.exit_code == 0, result.output
    header, *rows, growth = result.stdout.splitlines()[1:]
    assert header.split()[:3] == ["tracks", "files", "release"]
    assert [r.split()[:2] for r in rows] == [["40", "2"], ["70", "3"]]
    assert all(float(r.split()[4].replace(",", "")) > 0 and float(r.split()[5].replace(",", "")) > 50 for r in rows)
    assert growth.startswith("x1.8 tracks: import time x")
    assert not list(tmp_path.iterdir())  # generated releases are removed unless --keep
    assert _cli("bench-import", "--sizes", "0").exit_code == 2


def test_cli_import_streams_by_default_and_copies_on_request(tmp_path: Path, release: tuple[Path, TrackSet]) -> None:
    """`data import` streams into features.npz (as the README says); the parquet copy only with --copy."""
    folder, kept = release
    done = _cli("import", folder, "--out", tmp_path / "streamed", "--no-progress")
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in (tmp_path / "streamed").rglob("*") if p.is_file()) == [FEATURES_FILE]
    assert len(load_features(tmp_path / "streamed").row) == len(kept.labels)
    done = _cli("import", folder, "--out", tmp_path / "copied", "--no-progress", "--copy")
    assert done.exit_code == 0, done.output
    _same(kept, df.read_dataset(tmp_path / "copied"))
