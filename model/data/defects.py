"""Sensor-defect injectors for robustness studies of the encoder.

Three defects, one per track, applied to the raw 13 x 21 charges of every time slice before
readout and encoding, as in the seed paper's notebook: a dead pixel (a random pixel from the
brighter half of the track's nonzero pixels, ranked by the last slice, set to 0), a loud pixel
(a random pixel set to 9,000 e, above the brightest pixel of ~90% of simulated tracks) and a dead
row (a random y row that holds charge, all 21 columns set to 0). "Nonzero" is judged on the last
slice, which holds the collected charge. Tracks with no nonzero pixel are left unchanged and
recorded with row = col = -1. Injection is vectorized, seeded, and never modifies its input.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.data.dataformat import N_COLS, N_ROWS, PIXELS

DEFECT_KINDS: tuple[str, ...] = ("dead_pixel", "loud_pixel", "dead_row")
LOUD_CHARGE_E = 9000.0
RECORD_COLUMNS: tuple[str, ...] = ("track", "kind", "row", "col", "old_charge")


def _nth_true(mask: np.ndarray, nth: np.ndarray) -> np.ndarray:
    """Column index of the nth (0-based) True of each row of a boolean matrix."""
    return np.argmax(np.cumsum(mask, axis=1) > nth[:, None], axis=1)


def _dead_pixel(last: np.ndarray, hit: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Flat pixel index drawn uniformly from the ceil(m/2) brightest of the m nonzero pixels."""
    brighter = -(-hit.sum(axis=1) // 2)
    order = np.argsort(np.where(hit, -last, np.inf), axis=1, kind="stable")  # brightest first
    rank = np.minimum((u * brighter).astype(np.int64), np.maximum(brighter - 1, 0))
    return order[np.arange(len(last)), rank]


def inject(charges: np.ndarray, kind: str, seed: int) -> tuple[np.ndarray, pd.DataFrame]:
    """A defective copy of `charges` (n, T, 13, 21) and one record per track of what changed."""
    if kind not in DEFECT_KINDS:
        raise ValueError(f"kind: expected one of {DEFECT_KINDS}, found '{kind}'")
    charges = np.asarray(charges)
    if charges.ndim != 4 or charges.shape[2:] != (N_ROWS, N_COLS):
        raise ValueError(f"charges: expected shape (n, T, {N_ROWS}, {N_COLS}), found {charges.shape}")
    n = len(charges)
    u = np.random.default_rng(seed).random(n)
    last = charges[:, -1].reshape(n, PIXELS)
    hit = last != 0
    tracks = np.flatnonzero(hit.any(axis=1))
    row = np.full(n, -1, dtype=np.int64)
    col = np.full(n, -1, dtype=np.int64)
    old = np.zeros(n, dtype=np.float64)
    out = charges.copy()
    if kind == "dead_row":
        rows_hit = hit.reshape(n, N_ROWS, N_COLS).any(axis=2)
        chosen = _nth_true(rows_hit, (u * rows_hit.sum(axis=1)).astype(np.int64))[tracks]
        old[tracks] = charges[tracks, :, chosen, :].sum(axis=(1, 2), dtype=np.float64)
        out[tracks, :, chosen, :] = 0
        row[tracks] = chosen
    else:
        flat = _dead_pixel(last, hit, u) if kind == "dead_pixel" else (u * PIXELS).astype(np.int64)
        r, c = np.divmod(flat[tracks], N_COLS)
        old[tracks] = charges[tracks, :, r, c].sum(axis=1, dtype=np.float64)
        out[tracks, :, r, c] = 0 if kind == "dead_pixel" else LOUD_CHARGE_E
        row[tracks], col[tracks] = r, c
    record = pd.DataFrame({"track": np.arange(n), "kind": kind, "row": row, "col": col, "old_charge": old})
    return out, record
