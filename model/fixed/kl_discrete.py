"""The discrete KL of a categorical latent against a uniform prior, as the chip computes it.

For logits a_1..a_K, q = softmax(a) and KL(q || uniform) = sum_k q_k ln(K q_k). With
m = max_k a_k, d_k = m - a_k >= 0 and S = sum_k exp(-d_k) (1 <= S <= K):

    KL = ln K - ln S - (sum_k d_k exp(-d_k)) / S

so the chip needs no multiplier per category: two tables of d (exp(-d) and d exp(-d)), a sum
of each, and two tables of S (ln K - ln S and 1/S), then one multiply. Every step in integers
(the logits are raw integers with `f_a` fraction bits):

    d      = max_k a - a                                  exact, f_a fraction bits
    E, T   = round(2**exp_frac * exp(-d)), round(2**exp_frac * d exp(-d))   (tables of d)
    S, P   = sum E, sum T                                 exact, exp_frac fraction bits
    s      = S >> (exp_frac - sum_frac)                   truncated: the tables' index
    G, R   = round(2**out_frac * (ln K - ln s)), round(2**exp_frac / s)     (tables of s)
    KL     = max(0, G - ((P * R) >> (2 exp_frac - out_frac)))               out_frac fraction bits

`round` is half up (floor(v + 1/2)). The tables are the specification: the numpy reference
here and the da4ml trace (hw/rtl.py) both read them from `table`, so the regression checks
the RTL's lookups, sums, multiply and shifts against this integer model; how far the integer
KL is from the float KL is measured (`pixvae evaluate`), not assumed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # annotations only: the description's range analysis imports this module
    from model.description.design import Design


def _round(v: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(v, dtype=np.float64) + 0.5).astype(np.int64)


def exp_table(d: np.ndarray, exp_frac: int) -> np.ndarray:
    """round(2**exp_frac * exp(-d)) for real d >= 0."""
    return _round(np.exp(-np.asarray(d, dtype=np.float64)) * 2.0**exp_frac)


def dexp_table(d: np.ndarray, exp_frac: int) -> np.ndarray:
    """round(2**exp_frac * d * exp(-d)) for real d >= 0."""
    d = np.asarray(d, dtype=np.float64)
    return _round(d * np.exp(-d) * 2.0**exp_frac)


def log_table(s: np.ndarray, k: int, out_frac: int) -> np.ndarray:
    """round(2**out_frac * (ln K - ln s)); s below 1 (which a softmax sum never is) reads as 1."""
    return _round((np.log(k) - np.log(np.maximum(np.asarray(s, dtype=np.float64), 1.0))) * 2.0**out_frac)


def inv_table(s: np.ndarray, exp_frac: int) -> np.ndarray:
    """round(2**exp_frac / s); s below 1 reads as 1."""
    return _round(2.0**exp_frac / np.maximum(np.asarray(s, dtype=np.float64), 1.0))


def tables(design: Design, k: int) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """The four tables of a K-way latent, each a function of the real index value -> raw integer."""
    ef, out = design.exp_frac, design.score_format.frac
    return {
        "exp": lambda d: exp_table(d, ef),
        "dexp": lambda d: dexp_table(d, ef),
        "log": lambda s: log_table(s, k, out),
        "inv": lambda s: inv_table(s, ef),
    }


def kl_raw(design: Design, logits_raw: np.ndarray) -> np.ndarray:
    """The integer discrete KL (score_format fraction bits) of each row of one latent's raw logits."""
    a = np.asarray(logits_raw, dtype=np.int64)
    k = a.shape[1]
    f_a, ef, sf, out = design.layers[-1].result.frac, design.exp_frac, design.sum_frac, design.score_format.frac
    t = tables(design, k)
    d = (a.max(axis=1, keepdims=True) - a) * 2.0**-f_a
    s_raw = t["exp"](d).sum(axis=1)
    p_raw = t["dexp"](d).sum(axis=1)
    s = (s_raw >> (ef - sf)) * 2.0**-sf
    return np.maximum(t["log"](s) - ((p_raw * t["inv"](s)) >> (2 * ef - out)), 0)


def kl_float(logits: np.ndarray, eps: float = 0.0) -> np.ndarray:
    """sum_k q_k (ln(q_k + eps) + ln K) with q = softmax(logits): the float discrete KL (eps as in training)."""
    a = np.asarray(logits, dtype=np.float64)
    q = np.exp(a - a.max(axis=1, keepdims=True))
    q /= q.sum(axis=1, keepdims=True)
    return np.sum(q * (np.log(q + eps) + np.log(a.shape[1])), axis=1)


def total_raw(design: Design, last_raw: np.ndarray) -> np.ndarray:
    """Sum over the design's categorical latents of kl_raw (zero for a plain VAE)."""
    split = design.latent_split
    last = np.asarray(last_raw, dtype=np.int64)
    total = np.zeros(len(last), dtype=np.int64)
    for cols in split.groups() if split else []:
        total += kl_raw(design, last[:, cols])
    return total
