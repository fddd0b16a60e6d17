"""The seed paper's measurements as functions of arrays: reconstruction percent error, compressed
size, background rejection at a signal efficiency, defect-detection efficiency at a background
rejection, ROC AUC; each with its binomial (or standard) error and the sample sizes.

How charge is recovered from codes (the percent error's reconstruction side): the decoder's
sigmoid output times 2**B is rounded to the nearest code, and a code k means
- linear codes: 0 e for k = 0 (below the first bin edge; the readout threshold is 400 e) and the
  bin centre (k + 0.5) x bin_e otherwise (the overflow code 2**B - 1 too, which under-states the
  charge above its edge);
- sqrt_log codes: 0 e for k = 0 and exp((k / 2**B)**2 / alpha), the charge whose code is k,
  otherwise.
The truth side is the y-profile charge after readout, in electrons. `percent_error` of the truth
codes themselves (a perfect decoder) is the floor the code alone sets.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from model.description.design import Design


def charge_of_codes(design: Design, codes: np.ndarray) -> np.ndarray:
    """Electrons that integer charge codes stand for (see the module docstring)."""
    enc, bits = design.encoding, design.input_format.width
    k = np.asarray(codes, dtype=np.float64)
    q = (k + 0.5) * enc.bin_e if enc.charge_code == "linear" else np.exp((k / (1 << bits)) ** 2 / enc.alpha)
    return np.where(k > 0, q, 0.0)


def percent_error(truth_e: np.ndarray, recon_e: np.ndarray) -> np.ndarray:
    """Per track: 100 x sum |truth - reconstructed| over sum truth (pixel-row charges, all slices).
    Tracks with no charge have no percent error and are left out (NaN)."""
    t = np.asarray(truth_e, dtype=np.float64).reshape(len(truth_e), -1)
    r = np.asarray(recon_e, dtype=np.float64).reshape(len(recon_e), -1)
    total = t.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 100.0 * np.abs(t - r).sum(axis=1) / total, np.nan)


def summary(values: np.ndarray, resamples: int = 200) -> dict[str, float]:
    """Mean and median of the finite values with their standard errors (the median's from a
    seeded bootstrap of `resamples`), and their count."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    boot = np.random.default_rng(0).integers(0, len(v), size=(resamples, len(v)))
    return {"mean": float(v.mean()), "mean_err": float(v.std(ddof=1) / np.sqrt(len(v))),
            "median": float(np.median(v)), "median_err": float(np.median(v[boot], axis=1).std(ddof=1)),
            "n": int(len(v))}


def binomial_err(p: float, n: int) -> float:
    """Standard error of an efficiency p (a fraction) measured on n tracks."""
    return float(np.sqrt(max(p * (1.0 - p), 0.0) / n)) if n else float("nan")


def roc_points(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) at every distinct score, as sklearn's roc_curve(drop_intermediate=False) gives
    them to the bit (tests/test_measurements.py), without its input checks: the bootstrap calls
    it a hundred times a figure, where those checks cost most of the time on small samples."""
    order = np.argsort(score, kind="mergesort")[::-1]
    s, t = score[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the last track of each distinct score
    tps = np.r_[0.0, np.cumsum(t, dtype=np.float64)[last]]
    fps = np.r_[0.0, 1.0 + last - tps[1:]]
    return fps / fps[-1], tps / tps[-1]


def _rejection_at(y: np.ndarray, score: np.ndarray, efficiency: float) -> tuple[float, float]:
    fpr, tpr = roc_points(y, score)
    k = int(np.argmax(tpr >= efficiency))  # the first (tightest) cut keeping enough signal
    return 1.0 - fpr[k], tpr[k]


def _efficiency_at(y: np.ndarray, score: np.ndarray, rejection: float) -> tuple[float, float]:
    fpr, tpr = roc_points(y, score)
    k = int(np.flatnonzero(fpr <= 1.0 - rejection + 1e-12)[-1])  # the loosest cut rejecting enough
    return tpr[k], 1.0 - fpr[k]


def _bootstrap_err(fn, y: np.ndarray, score: np.ndarray, target: float, resamples: int) -> float:
    """Standard error of fn's figure over seeded bootstrap resamples of both classes: the cut
    moves with the sample (few signal tracks set a 98% cut), which a binomial error on the other
    class alone does not see."""
    rng = np.random.default_rng(0)
    idx = [np.flatnonzero(y == c) for c in (0, 1)]
    vals = []
    for _ in range(resamples):
        pick = np.concatenate([rng.choice(i, len(i)) for i in idx])
        vals.append(fn(y[pick], score[pick], target)[0])
    return float(np.std(vals, ddof=1))


def rejection_at_efficiency(y: np.ndarray, score: np.ndarray, efficiency: float,
                            resamples: int = 100) -> dict[str, float]:
    """Background rejection (percent) where at least `efficiency` of the signal (y = 1, high
    score) is kept; with its bootstrap error and both sample sizes."""
    rej, eff = _rejection_at(y, score, efficiency)
    err = _bootstrap_err(_rejection_at, y, score, efficiency, resamples) if resamples else 0.0
    return {"value": 100.0 * rej, "err": 100.0 * err, "signal_eff": 100.0 * eff,
            "n_signal": int((y == 1).sum()), "n_background": int((y == 0).sum())}


def efficiency_at_rejection(y: np.ndarray, score: np.ndarray, rejection: float,
                            resamples: int = 100) -> dict[str, float]:
    """Signal efficiency (percent) at the loosest cut rejecting at least `rejection` of the
    background (y = 0); with its bootstrap error and both sample sizes."""
    eff, rej = _efficiency_at(y, score, rejection)
    err = _bootstrap_err(_efficiency_at, y, score, rejection, resamples) if resamples else 0.0
    return {"value": 100.0 * eff, "err": 100.0 * err, "background_rejection": 100.0 * rej,
            "n_signal": int((y == 1).sum()), "n_background": int((y == 0).sum())}


def auc(y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """ROC AUC (percent) with the Hanley-McNeil standard error and the sample sizes."""
    a = float(roc_auc_score(y, score))
    n1, n0 = int((y == 1).sum()), int((y == 0).sum())
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    err = np.sqrt((a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0))
    return {"value": 100.0 * a, "err": 100.0 * float(err), "n_signal": n1, "n_background": n0}


def compressed_size(design: Design, raw_fraction: float = 0.0) -> float:
    """Percent of the raw data a VAE sends: its latent means instead of the decoder's codes of the
    full track (the paper: 8 x 8 bits over 104 x 4 bits = 15.4%), with `raw_fraction` of the
    tracks sent uncompressed (and their latents, which the flag was computed from)."""
    dec, mu = design.decoder, design.layers[-1]
    raw_bits = len(dec.slices) * 13 * design.input_format.width
    latent = mu.units * mu.result.width / raw_bits
    return 100.0 * ((1.0 - raw_fraction) * latent + raw_fraction * (1.0 + latent))
