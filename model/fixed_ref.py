"""Bit-exact integer reference of the encoder, written from the declared formats alone.

This is the Python golden model: plain numpy integer arithmetic (no TensorFlow, no hls4ml, no
da4ml), so an error in any of those tools shows up as a disagreement instead of being copied
into the expected values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model import formats as F


def shift_round_half_even(acc: np.ndarray, shift: int) -> np.ndarray:
    """Divide integers by 2**shift, rounding half to even (ap_fixed RND_CONV, QKeras tf.round)."""
    if shift <= 0:
        return acc << -shift
    q = acc >> shift  # floor division
    r = acc - (q << shift)
    half = 1 << (shift - 1)
    up = (r > half) | ((r == half) & ((q & 1) == 1))
    return q + up


def saturate(raw: np.ndarray, fmt: F.FixedFormat) -> np.ndarray:
    return np.clip(raw, fmt.raw_min, fmt.raw_max)


@dataclass(frozen=True)
class IntegerEncoder:
    """Integer weights: kernels in WEIGHT raw units, biases in BIAS raw units."""

    w1: np.ndarray  # (53, 24)
    b1: np.ndarray  # (24,)
    w2: np.ndarray  # (24, 8)
    b2: np.ndarray  # (8,)

    def hidden(self, x_raw: np.ndarray) -> np.ndarray:
        frac = F.INPUT.frac + F.WEIGHT.frac
        acc = x_raw.astype(np.int64) @ self.w1 + (self.b1 << (frac - F.BIAS.frac))
        acc = np.maximum(acc, 0)  # ReLU before the cast, as hls4ml's relu() does
        return saturate(shift_round_half_even(acc, frac - F.HIDDEN.frac), F.HIDDEN)

    def latent(self, x_raw: np.ndarray) -> np.ndarray:
        h = self.hidden(x_raw)
        frac = F.HIDDEN.frac + F.WEIGHT.frac
        acc = h @ self.w2 + (self.b2 << (frac - F.BIAS.frac))
        return saturate(shift_round_half_even(acc, frac - F.LATENT.frac), F.LATENT)


def score_raw(mu_raw: np.ndarray) -> np.ndarray:
    """0.5 * sum(mu^2) in SCORE raw units: exact, mu = m / 2**4 so the score is sum(m^2) / 2**9."""
    assert F.SCORE.frac == 2 * F.LATENT.frac + 1
    return np.sum(mu_raw.astype(np.int64) ** 2, axis=-1)


def flag(score: np.ndarray, threshold_raw: int | np.ndarray) -> np.ndarray:
    """On-chip anomaly flag: score strictly above the programmable threshold."""
    return (score > threshold_raw).astype(np.int64)
