"""Input-code sets for the golden vectors beyond real tracks: corner cases and uniformly random
codes that cover the whole input space of a design, not only realistic tracks."""

from __future__ import annotations

import numpy as np

from model.description.design import Design


def corner_codes(design: Design) -> np.ndarray:
    """All-zero, all-max, each input alone at max, checkerboards, and (with y0) y0 at both extremes."""
    n, top = design.n_inputs, design.input_format.raw_max
    rows = [np.zeros(n), np.full(n, top)]
    rows += list(np.eye(n) * top)
    lo, hi = top // 3, top - top // 3
    rows += [np.resize([lo, hi], n), np.resize([hi, lo], n)]
    bottom = design.input_format.raw_min
    if bottom < 0:  # signed plain inputs: the negative end too, alone and against the top
        rows += [np.full(n, bottom), *list(np.eye(n) * bottom), np.resize([bottom, top], n),
                 np.resize([top, bottom], n)]
    if design.encoding is not None and design.encoding.y0:
        for y0 in (0, top):
            for base in (0, top):
                r = np.full(n, base)
                r[-1] = y0
                rows.append(r)
    return np.array(rows, dtype=np.int64)


def random_codes(design: Design, n: int, seed: int) -> np.ndarray:
    """Uniform over the whole code space, plus sparse tracks (most inputs zero) of random level."""
    rng = np.random.default_rng(seed)
    top, k, bottom = design.input_format.raw_max, design.n_inputs, design.input_format.raw_min
    dense = rng.integers(bottom, top + 1, size=(n - n // 2, k))
    sparse = rng.integers(bottom, top + 1, size=(n // 2, k)) * (rng.random((n // 2, k)) < 0.15)
    return np.concatenate([dense, sparse]).astype(np.int64)
