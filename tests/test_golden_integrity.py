"""The committed golden vectors against the committed reference model, and every way they can go bad."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hw import golden as G
from model import formats as F
from model import reference
from pixvae.paths import COMMITTED_GOLDEN, COMMITTED_REFERENCE


def test_golden_is_large_and_covers_every_set(golden: G.Golden) -> None:
    assert len(golden) >= 2000
    for s in ("normal", "dead_pixel", "loud_pixel", "dead_row", "random", "corner"):
        assert (golden.sets == s).sum() > 0, s
    assert len(set(golden.ids.tolist())) == len(golden)


def test_golden_outputs_equal_numpy_integer_model(golden: G.Golden, ref: reference.Reference) -> None:
    diffs = G.check_against_reference(golden, ref.weights)
    assert not diffs, f"{len(diffs)} golden outputs disagree with the reference model: " + " | ".join(diffs[:5])


def test_golden_is_not_trivial(golden: G.Golden) -> None:
    # A model stuck at zero would pass every comparison; demand spread outputs and both flag values.
    assert len(np.unique(golden.mu)) > 50
    assert 0 < golden.flag.sum() < len(golden)


def test_flipped_golden_bit_is_named(tmp_path: Path, ref: reference.Reference) -> None:
    gdir = shutil.copytree(COMMITTED_GOLDEN, tmp_path / "g")
    lines = (gdir / G.VECTORS_FILE).read_text().splitlines()
    row = 777
    cells = lines[row + 1].split(",")
    col = G.COLUMNS.index("mu3")
    cells[col] = str(int(F.LATENT.from_unsigned_bits(F.LATENT.to_unsigned_bits(int(cells[col])) ^ 1)))
    lines[row + 1] = ",".join(cells)
    (gdir / G.VECTORS_FILE).write_text("\n".join(lines) + "\n")
    diffs = G.check_against_reference(G.load(gdir, ref.model_hash), ref.weights)
    assert len(diffs) == 1 and diffs[0].startswith(f"vector {row} ") and " mu3: " in diffs[0]


def test_edited_weight_makes_golden_stale(tmp_path: Path) -> None:
    rdir = shutil.copytree(COMMITTED_REFERENCE, tmp_path / "r")
    doc = json.loads((rdir / reference.ENCODER_FILE).read_text())
    doc["fc1_kernel"][0][0] += 1 if doc["fc1_kernel"][0][0] < F.WEIGHT.raw_max else -1
    ref = reference.load(rdir)  # unchanged file first: same hash
    w = ref.weights
    w.w1[0, 0] = doc["fc1_kernel"][0][0]
    (rdir / reference.ENCODER_FILE).write_text(reference.encoder_json(w))
    edited = reference.load(rdir)
    assert edited.model_hash != reference.load(COMMITTED_REFERENCE).model_hash
    with pytest.raises(G.GoldenError, match="stale golden vectors"):
        G.load(COMMITTED_GOLDEN, expected_hash=edited.model_hash)


def _corrupt(tmp_path: Path, edit) -> Path:
    gdir = shutil.copytree(COMMITTED_GOLDEN, tmp_path / "g")
    path = gdir / G.VECTORS_FILE
    lines = path.read_text().splitlines()
    edit(lines)
    path.write_text("\n".join(lines) + "\n")
    return gdir


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda ls: ls.__setitem__(5, ls[5].replace(",", ",16,", 1).rsplit(",", 1)[0]), "does not fit|header|integer"),
        (lambda ls: ls.__setitem__(9, ls[9][: len(ls[9]) // 2]), "non-integer|empty|integer"),
        (lambda ls: ls.__setitem__(0, ls[0].replace("mu3", "mu_3")), "header"),
        (lambda ls: ls.pop(), "manifest says"),
        (lambda ls: ls.__setitem__(3, ls[3].replace(",", ",x", 3)), "integer"),
    ],
    ids=["wrong-width", "truncated-row", "renamed-column", "missing-vector", "garbage"],
)
def test_corrupt_golden_gets_one_line_error(tmp_path: Path, ref: reference.Reference, edit, message: str) -> None:
    gdir = _corrupt(tmp_path, edit)
    with pytest.raises(G.GoldenError, match=message) as exc:
        G.load(gdir, ref.model_hash)
    assert "\n" not in str(exc.value)


def test_out_of_range_input_code_is_named(tmp_path: Path, ref: reference.Reference) -> None:
    def edit(lines: list[str]) -> None:
        cells = lines[11].split(",")
        cells[G.COLUMNS.index("x07")] = "16"  # a 5-bit value in a 4-bit input
        lines[11] = ",".join(cells)

    with pytest.raises(G.GoldenError, match=r"vector 10 column 'x07' = 16 does not fit ufixed<4,0>"):
        G.load(_corrupt(tmp_path, edit), ref.model_hash)


def test_golden_is_never_overwritten(tmp_path: Path, golden: G.Golden) -> None:
    gdir = shutil.copytree(COMMITTED_GOLDEN, tmp_path / "g")
    before = (gdir / G.VECTORS_FILE).read_bytes()
    with pytest.raises(G.GoldenError, match="never overwritten"):
        G.write(gdir, golden.ids, golden.sets, golden.x, golden.mu, golden.score, golden.flag, {})
    assert (gdir / G.VECTORS_FILE).read_bytes() == before
