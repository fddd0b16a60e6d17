"""Input-code sets for the golden vectors: real-format tracks, defect tracks, corner cases
and uniformly random codes that cover the whole input space, not only realistic tracks."""

from __future__ import annotations

import numpy as np

from model import formats as F

CODE_MAX = F.INPUT.raw_max


def corner_codes() -> np.ndarray:
    """All-zero, all-max, each input alone at max, checkerboards, and y0 at both extremes."""
    n = F.N_INPUTS
    rows = [np.zeros(n), np.full(n, CODE_MAX)]
    rows += list(np.eye(n) * CODE_MAX)
    rows += [np.resize([0x5, 0xA], n), np.resize([0xA, 0x5], n)]
    for y0 in (0, CODE_MAX):
        r = np.zeros(n)
        r[-1] = y0
        rows.append(r)
        r = np.full(n, CODE_MAX)
        r[-1] = y0
        rows.append(r)
    return np.array(rows, dtype=np.int64)


def random_codes(n: int, seed: int) -> np.ndarray:
    """Uniform over the whole code space, plus sparse tracks (most inputs zero) of random level."""
    rng = np.random.default_rng(seed)
    dense = rng.integers(0, CODE_MAX + 1, size=(n - n // 2, F.N_INPUTS))
    sparse = rng.integers(0, CODE_MAX + 1, size=(n // 2, F.N_INPUTS)) * (rng.random((n // 2, F.N_INPUTS)) < 0.15)
    return np.concatenate([dense, sparse]).astype(np.int64)
