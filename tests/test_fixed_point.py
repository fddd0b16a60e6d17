"""The integer reference's rounding and formats, checked against Python's own arithmetic."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from model import fixed_ref
from model import formats as F


@pytest.mark.parametrize("shift", [1, 2, 5, 7])
def test_round_half_even_matches_python_round(shift: int) -> None:
    # Python's round() on an exact Fraction is round-half-to-even: an independent oracle.
    vals = np.arange(-4096, 4097, dtype=np.int64)
    got = fixed_ref.shift_round_half_even(vals, shift)
    want = np.array([round(Fraction(int(v), 2**shift)) for v in vals])
    assert np.array_equal(got, want)


def test_ties_go_to_even() -> None:
    # 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> 0, -1.5 -> -2 (in units of 2**-1)
    got = fixed_ref.shift_round_half_even(np.array([1, 3, 5, -1, -3]), 1)
    assert got.tolist() == [0, 2, 2, 0, -2]


def test_formats_declared_as_in_the_paper() -> None:
    assert F.INPUT_BITS == 212 and F.LATENT_BITS == 64
    assert (F.LATENT.raw_min, F.LATENT.raw_max) == (-128, 127)
    assert F.SCORE.raw_max >= 8 * 128**2  # the largest score, 8 * (-8.0)^2 / 2 = 256, fits exactly
    assert F.LATENT.hls() == "fixed<8,4,RND_CONV,SAT>"
    assert F.HIDDEN.hls() == "ufixed<8,3,RND_CONV,SAT>"


def test_score_is_half_sum_of_squares() -> None:
    mu = np.array([[16, -16, 0, 0, 0, 0, 0, 0], [-128] * 8])  # (1, -1, 0...) and all -8.0
    score = F.SCORE.to_float(fixed_ref.score_raw(mu))
    assert score.tolist() == [1.0, 256.0]


def test_saturation_of_latent() -> None:
    enc = fixed_ref.IntegerEncoder(
        w1=np.full((53, 24), 127), b1=np.full(24, 127), w2=np.full((24, 8), 127), b2=np.full(8, 127)
    )
    mu = enc.latent(np.full((1, 53), 15))
    assert mu.tolist() == [[127] * 8]  # saturates at 7.9375, does not wrap
