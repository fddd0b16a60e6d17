"""Defect injectors: exactly the promised change, recorded, seeded, never in place."""

from __future__ import annotations

import numpy as np
import pytest

from model.data.defects import DEFECT_KINDS, LOUD_CHARGE_E, RECORD_COLUMNS, inject


@pytest.fixture(scope="module")
def charges() -> np.ndarray:
    """Sparse random clusters (some pixels negative), plus one empty track at index 3."""
    rng = np.random.default_rng(5)
    q = rng.exponential(2000.0, (50, 6, 13, 21)).astype(np.float32)
    q[rng.random(q.shape) < 0.8] = 0
    q[:, :, 0, 0] = -150.0  # induced charge counts as nonzero
    q[3] = 0
    return q


@pytest.mark.parametrize("kind", DEFECT_KINDS)
def test_change_matches_record_and_input_is_untouched(charges: np.ndarray, kind: str) -> None:
    before = charges.copy()
    out, record = inject(charges, kind, seed=1)
    assert np.array_equal(charges, before)
    assert out.shape == charges.shape and out.dtype == charges.dtype
    assert tuple(record.columns) == RECORD_COLUMNS and record["track"].tolist() == list(range(len(charges)))
    assert (record["kind"] == kind).all()
    changed = (out != charges).any(axis=1)  # (n, 13, 21): pixels changed in any slice
    for track, row, col, old in record[["track", "row", "col", "old_charge"]].itertuples(index=False):
        if track == 3:  # no nonzero pixel: recorded and left alone
            assert (row, col, old) == (-1, -1, 0.0) and not changed[track].any()
            continue
        if kind == "dead_row":
            assert col == -1 and np.all(out[track, :, row, :] == 0)
            assert np.array_equal(np.argwhere(changed[track].any(axis=1)).ravel(), [row])
            assert old == pytest.approx(charges[track, :, row, :].sum(dtype=np.float64))
            continue
        expected = 0.0 if kind == "dead_pixel" else LOUD_CHARGE_E
        assert np.all(out[track, :, row, col] == expected)
        mask = np.ones((13, 21), bool)
        mask[row, col] = False
        assert np.array_equal(out[track][:, mask], charges[track][:, mask])  # exactly one pixel changed
        assert old == pytest.approx(charges[track, :, row, col].sum(dtype=np.float64))


def test_dead_pixel_is_in_the_brighter_half(charges: np.ndarray) -> None:
    for seed in range(5):
        _, record = inject(charges, "dead_pixel", seed)
        for track, row, col in record[["track", "row", "col"]].itertuples(index=False):
            last = charges[track, -1]
            if track == 3:
                continue
            nonzero = last[last != 0]
            assert last[row, col] != 0 and last[row, col] >= np.median(nonzero)


def test_dead_row_had_charge(charges: np.ndarray) -> None:
    _, record = inject(charges, "dead_row", 4)
    for track, row in record[["track", "row"]].itertuples(index=False):
        if track != 3:
            assert np.any(charges[track, -1, row] != 0)


@pytest.mark.parametrize("kind", DEFECT_KINDS)
def test_seeded(charges: np.ndarray, kind: str) -> None:
    a, rec_a = inject(charges, kind, 7)
    b, rec_b = inject(charges, kind, 7)
    assert np.array_equal(a, b) and rec_a.equals(rec_b)
    _, rec_c = inject(charges, kind, 8)
    assert not rec_a[["row", "col"]].equals(rec_c[["row", "col"]])


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="kind: expected one of"):
        inject(np.zeros((1, 2, 13, 21)), "hot_row", 0)
    with pytest.raises(ValueError, match=r"found \(1, 13, 21\)"):
        inject(np.zeros((1, 13, 21)), "dead_row", 0)
