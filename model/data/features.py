"""Readout and the encoder's input features, following the seed paper's definitions.

The simulation holds raw induced charge; :func:`readout` adds the front end's Gaussian noise
(80 e) and zero-suppresses below threshold (400 e). The encoder sees y-profiles (charge summed
over the 21 x columns) of the first 4 time slices, each row coded in 4 bits (16 bins of 500 e
from 0 to 8,000 e, overflow in code 15), plus y0 coded in 4 bits (1 mm bins over -8..+8 mm):
53 small integers per cluster. The float model features are the y-profiles of 8 slices plus
scaled y0 (105 values). The 10-bit "high precision" code is sqrt(0.094 * ln q) on [0, 1].
Noise for slice k always comes from its own stream ``(seed, k)``, so any subset of slices sees
the same noise as the full array.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from model.data.dataformat import N_COLS, N_ROWS, TrackSet

DEFAULT_SLICES: tuple[int, ...] = tuple(range(8))  # the first 8 of the 20 slices (0.2-1.6 ns)
ENCODER_SLICES: tuple[int, ...] = tuple(range(4))  # the first 4 slices feed the on-chip encoder
N_ENCODER_INPUTS = 53
N_MODEL_FEATURES = 105
LOW_BIN_E = 500.0  # 4-bit code: 16 bins of 500 e over 0-8,000 e
LOW_CODES = 16
HIGH_ALPHA = 0.094  # 10-bit code: sqrt(alpha * ln q) reaches 1 near q = 41,800 e
HIGH_BITS = 10
Y0_MIN_MM = -8.0
Y0_BIN_MM = 1.0


def _check_charges(charges: np.ndarray, min_slices: int = 1) -> np.ndarray:
    charges = np.asarray(charges)
    if charges.ndim != 4 or charges.shape[2:] != (N_ROWS, N_COLS) or charges.shape[1] < min_slices:
        raise ValueError(f"charges: expected shape (n, T>={min_slices}, {N_ROWS}, {N_COLS}), found {charges.shape}")
    return charges


def readout(
    charges: np.ndarray,
    noise_e: float = 80.0,
    threshold_e: float = 400.0,
    seed: int = 0,
    slices: Sequence[int] | None = None,
) -> np.ndarray:
    """Noisy, zero-suppressed copy of `charges` (n, T, 13, 21), optionally of some slices only."""
    charges = _check_charges(charges)
    chosen = range(charges.shape[1]) if slices is None else list(slices)
    out = np.empty((len(charges), len(chosen), N_ROWS, N_COLS), dtype=np.float32)
    for j, k in enumerate(chosen):
        noise = np.random.default_rng([seed, k]).standard_normal((len(charges), N_ROWS, N_COLS), dtype=np.float32)
        noisy = charges[:, k] + noise * np.float32(noise_e)
        noisy[noisy < threshold_e] = 0
        out[:, j] = noisy
    return out


def y_profiles(charges: np.ndarray, slices: Sequence[int] = DEFAULT_SLICES) -> np.ndarray:
    """Charge summed over the 21 x columns: (n, len(slices), 13)."""
    charges = _check_charges(charges, max(slices) + 1)
    return charges[:, list(slices)].sum(axis=-1, dtype=np.float32)


def encode_4bit(q: np.ndarray) -> np.ndarray:
    """4-bit codes: floor(q / 500 e), negative -> 0, overflow -> 15."""
    q = np.nan_to_num(np.asarray(q, dtype=np.float64), nan=0.0)
    return np.clip(np.floor(q / LOW_BIN_E), 0, LOW_CODES - 1).astype(np.uint8)


def encode_10bit(q: np.ndarray) -> np.ndarray:
    """10-bit codes of sqrt(0.094 ln q) on [0, 1] (0 for q <= 1).

    Rounds half to even to the nearest 1/1024 and saturates at 1023, as ap_ufixed<10, 0,
    AP_RND_CONV, AP_SAT> does.
    """
    q = np.nan_to_num(np.asarray(q, dtype=np.float64), nan=0.0)
    value = np.sqrt(HIGH_ALPHA * np.log(np.maximum(q, 1.0)))
    return np.clip(np.rint(value * 2**HIGH_BITS), 0, 2**HIGH_BITS - 1).astype(np.uint16)


def encode_y0_4bit(y_local_mm: np.ndarray) -> np.ndarray:
    """4-bit y0 codes: 16 bins of 1 mm over -8..+8 mm, clipped at both ends."""
    y = np.nan_to_num(np.asarray(y_local_mm, dtype=np.float64), nan=0.0)
    return np.clip(np.floor((y - Y0_MIN_MM) / Y0_BIN_MM), 0, LOW_CODES - 1).astype(np.uint8)


def _read_out(
    ts: TrackSet, slices: Sequence[int], noise_e: float, threshold_e: float, seed: int, apply: bool
) -> np.ndarray:
    charges = _check_charges(ts.charges, max(slices) + 1)
    if apply:
        return readout(charges, noise_e, threshold_e, seed, slices)
    return charges[:, list(slices)]


def encoder_inputs(
    ts: TrackSet, noise_e: float = 80.0, threshold_e: float = 400.0, seed: int = 0, apply_readout: bool = True
) -> np.ndarray:
    """The 53 encoder inputs (uint8): 4-bit row codes slice-major (slice 0 rows 0-12, ...), then y0."""
    charges = _read_out(ts, ENCODER_SLICES, noise_e, threshold_e, seed, apply_readout)
    rows = encode_4bit(charges.sum(axis=-1, dtype=np.float32)).reshape(len(ts), -1)
    y0 = encode_y0_4bit(ts.labels["y-local"].to_numpy())
    return np.concatenate([rows, y0[:, None]], axis=1)


def model_features(
    ts: TrackSet,
    noise_e: float = 80.0,
    threshold_e: float = 400.0,
    seed: int = 0,
    apply_readout: bool = True,
    slices: Sequence[int] = DEFAULT_SLICES,
    y0_scale: float = 1 / 8,
) -> np.ndarray:
    """Float features (n, 13 * len(slices) + 1): y-profiles (e) slice-major, then y0 (mm) * y0_scale."""
    charges = _read_out(ts, slices, noise_e, threshold_e, seed, apply_readout)
    rows = charges.sum(axis=-1, dtype=np.float32).reshape(len(ts), -1)
    y0 = ts.labels["y-local"].to_numpy(np.float32) * np.float32(y0_scale)
    return np.concatenate([rows, y0[:, None]], axis=1)


def y_cluster_width(charges: np.ndarray, threshold_e: float = 400.0) -> np.ndarray:
    """Rows of the last slice whose y-profile (sum over x) exceeds the threshold, per track."""
    last = _check_charges(charges)[:, -1]
    return (last.sum(axis=-1) > threshold_e).sum(axis=-1)


_SUMMARIES = {"mean": np.mean, "std": np.std, "min": np.min, "max": np.max}


def dataset_stats(ts: TrackSet, threshold_e: float = 400.0) -> dict[str, float]:
    """Summary figures comparable with the published ones (raw charges, last slice = collected)."""
    last = ts.charges[:, -1].reshape(len(ts), -1)
    total = last.sum(axis=1, dtype=np.float64)
    pairs = ts.labels["number_eh_pairs"].to_numpy(np.float64)
    abs_pt = ts.labels["pt"].abs().to_numpy()
    width = y_cluster_width(ts.charges, threshold_e)
    stats: dict[str, float] = {"tracks": len(ts), "slices": ts.n_slices}
    for name, values in (("collected_charge", total), ("number_eh_pairs", pairs)):
        stats |= {f"{name}_{key}": float(f(values)) for key, f in _SUMMARIES.items()}
    stats |= {"pixel_charge_min": float(ts.charges.min()), "pixel_charge_max": float(ts.charges.max())}
    stats["max_pixel_charge_p99"] = float(np.percentile(last.max(axis=1), 99)) if len(ts) else float("nan")
    for name, mask in (("y_width_pt_gt_2", abs_pt > 2), ("y_width_pt_lt_0p5", abs_pt < 0.5)):
        stats[name] = float(width[mask].mean()) if mask.any() else float("nan")
    for column in ts.labels.columns:
        stats[f"{column}_min"] = float(ts.labels[column].min())
        stats[f"{column}_max"] = float(ts.labels[column].max())
    return stats
