"""The committed golden vectors against the committed reference model, and every way they can go bad."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hw import golden as G
from model.description.design import Design
from model.fixed import reference


def test_golden_is_large_and_covers_every_set(golden: G.Golden) -> None:
    assert len(golden) >= 2000
    for s in ("normal", "dead_pixel", "loud_pixel", "dead_row", "random", "corner"):
        assert (golden.sets == s).sum() > 0, s
    assert len(set(golden.ids.tolist())) == len(golden)


def test_golden_outputs_equal_numpy_integer_model(golden: G.Golden, ref: reference.Reference) -> None:
    diffs = G.check_against_reference(golden, ref.network)
    assert not diffs, f"{len(diffs)} golden outputs disagree with the reference model: " + " | ".join(diffs[:5])


def test_golden_is_not_trivial(golden: G.Golden) -> None:
    # A model stuck at zero would pass every comparison; demand spread outputs and both decision values.
    assert len(np.unique(golden.score)) > 50
    assert 0 < golden.decision.sum() < len(golden)


def test_flipped_golden_bit_is_named(vae_low: Design, tmp_path: Path) -> None:
    ref = reference.load(vae_low.reference_dir, vae_low)
    gdir = shutil.copytree(vae_low.vectors_dir, tmp_path / "g")
    lines = (gdir / G.VECTORS_FILE).read_text().splitlines()
    row = 777
    cells = lines[row + 1].split(",")
    col = G.columns(vae_low).index("mu3")
    fmt = vae_low.layers[-1].result
    cells[col] = str(int(fmt.from_unsigned_bits(fmt.to_unsigned_bits(int(cells[col])) ^ 1)))
    lines[row + 1] = ",".join(cells)
    (gdir / G.VECTORS_FILE).write_text("\n".join(lines) + "\n")
    diffs = G.check_against_reference(G.load(gdir, vae_low, ref.model_hash), ref.network)
    assert len(diffs) == 1 and diffs[0].startswith(f"vector {row} ") and " mu3: " in diffs[0]


def test_edited_weight_makes_golden_stale(vae_low: Design, tmp_path: Path) -> None:
    rdir = shutil.copytree(vae_low.reference_dir, tmp_path / "r")
    doc = json.loads((rdir / reference.WEIGHTS_FILE).read_text())
    committed = reference.load(vae_low.reference_dir, vae_low)
    assert reference.load(rdir, vae_low).model_hash == committed.model_hash  # unchanged copy: same hash
    k = doc["layers"][0]["kernel"]
    k[0][0] += 1 if k[0][0] < 127 else -1
    (rdir / reference.WEIGHTS_FILE).write_text(json.dumps(doc))
    edited = reference.load(rdir, vae_low)
    assert edited.model_hash != committed.model_hash
    with pytest.raises(G.GoldenError, match="stale golden vectors"):
        G.load(vae_low.vectors_dir, vae_low, expected_hash=edited.model_hash)


def _corrupt(design: Design, tmp_path: Path, edit) -> Path:
    gdir = shutil.copytree(design.vectors_dir, tmp_path / "g")
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
def test_corrupt_golden_gets_one_line_error(vae_low: Design, tmp_path: Path, edit, message: str) -> None:
    gdir = _corrupt(vae_low, tmp_path, edit)
    with pytest.raises(G.GoldenError, match=message) as exc:
        G.load(gdir, vae_low)
    assert "\n" not in str(exc.value)


def test_out_of_range_input_code_is_named(vae_low: Design, tmp_path: Path) -> None:
    def edit(lines: list[str]) -> None:
        cells = lines[11].split(",")
        cells[G.columns(vae_low).index("x07")] = "16"  # a 5-bit value in a 4-bit input
        lines[11] = ",".join(cells)

    with pytest.raises(G.GoldenError, match=r"vector 10 column 'x07' = 16 does not fit ufixed<4,0>"):
        G.load(_corrupt(vae_low, tmp_path, edit), vae_low)


def test_vectors_of_another_design_are_refused(design: Design, vae_low: Design) -> None:
    if design.name == vae_low.name:
        pytest.skip("needs a second design")
    with pytest.raises(G.GoldenError, match=f"vectors of design '{design.name}'"):
        G.load(design.vectors_dir, vae_low)


def test_golden_is_never_overwritten(golden: G.Golden, tmp_path: Path) -> None:
    gdir = shutil.copytree(golden.path, tmp_path / "g")
    before = (gdir / G.VECTORS_FILE).read_bytes()
    with pytest.raises(G.GoldenError, match="never overwritten"):
        G.write(gdir, golden.design, golden.ids, golden.sets, golden.x, golden.y, {})
    assert (gdir / G.VECTORS_FILE).read_bytes() == before


def test_kill_inputs_append_onto_a_committed_set(tmp_path: Path) -> None:
    """`pixvae golden --kill-inputs F --onto DIR`: every earlier row byte for byte, the new inputs (those
    not in it already) last as 'kill' with the integer model's outputs at the committed threshold;
    refused when nothing is new or when the set no longer agrees with its model."""
    from hw import hls
    from model.description import design as D
    from pixvae import stages

    d = D.load("classifier")
    ref = reference.load(d.reference_dir, d)
    hm = hls.convert(d, reference.to_keras(ref.network), ref.hls_config, tmp_path / "hls4ml")
    g = G.load(d.vectors_dir, d, expected_hash=ref.model_hash)
    fresh = np.random.default_rng(7).integers(0, d.input_format.raw_max + 1, (3, d.n_inputs))
    stages.append_kill(ref, d.vectors_dir, tmp_path / "g", hm, np.concatenate([g.x[:2], fresh, fresh[:1]]))
    old = (d.vectors_dir / G.VECTORS_FILE).read_text().splitlines()
    new = (tmp_path / "g" / G.VECTORS_FILE).read_text().splitlines()
    assert new[:len(old)] == old and len(new) == len(old) + 3
    n = G.load(tmp_path / "g", d, expected_hash=ref.model_hash)
    assert list(n.sets[-3:]) == ["kill"] * 3 and n.threshold_raw == g.threshold_raw
    assert np.array_equal(n.y[-3:], ref.network.outputs(n.x[-3:], g.threshold_raw))
    assert n.manifest["directed"] == g.manifest["directed"]
    assert n.manifest["sets"]["kill"] == g.manifest["sets"]["kill"] + 3
    with pytest.raises(G.GoldenError, match="every kill input already"):
        stages.append_kill(ref, tmp_path / "g", tmp_path / "g2", hm, fresh)
    bad = shutil.copytree(d.vectors_dir, tmp_path / "bad")
    lines = (bad / G.VECTORS_FILE).read_text().splitlines()
    cells = lines[4].split(",")
    cells[-1] = str(1 - int(cells[-1]))  # the decision of vector id 3 flipped
    lines[4] = ",".join(cells)
    (bad / G.VECTORS_FILE).write_text("\n".join(lines) + "\n")
    with pytest.raises(G.GoldenError, match="vector id 3 differs from the numpy integer model"):
        stages.append_kill(ref, bad, tmp_path / "g3", hm, fresh)
