"""A design's input codes from tracks, as its description declares them.

The y-profiles (charge summed over the 21 x columns, after readout noise and threshold) of the
chosen time slices, slice-major, each row coded in the input format's B bits, then y0:
- linear: floor(q / bin_e), negative -> 0, overflow in the top code (B = 4, bin_e = 500 e is the
  paper's low-precision code: 16 bins over 0-8,000 e);
- sqrt_log: sqrt(alpha * ln q) on [0, 1], rounded half to even to 2**-B and saturated, as
  ap_ufixed<B,0,AP_RND_CONV,AP_SAT> (B = 10, alpha = 0.094 is the paper's high-precision code);
- y0: y-local in 2**B bins over -8..+8 mm, values beyond clipped into the end bins (B = 4: 1 mm).
For those two paper settings the codes equal model.data.features.encode_4bit / encode_10bit /
encode_y0_4bit exactly (tests/test_designs.py checks it).
"""

from __future__ import annotations

import numpy as np

from model.data.dataformat import TrackSet
from model.data.features import readout
from model.description.design import Design

Y0_SPAN_MM = (-8.0, 8.0)


def charge_codes(design: Design, q: np.ndarray) -> np.ndarray:
    enc, bits = design.encoding, design.input_format.width
    top = (1 << bits) - 1
    q = np.nan_to_num(np.asarray(q, dtype=np.float64), nan=0.0)
    if enc.charge_code == "linear":
        return np.clip(np.floor(q / enc.bin_e), 0, top).astype(np.int64)
    value = np.sqrt(enc.alpha * np.log(np.maximum(q, 1.0)))
    return np.clip(np.rint(value * (1 << bits)), 0, top).astype(np.int64)


def y0_codes(design: Design, y_local_mm: np.ndarray) -> np.ndarray:
    bits = design.input_format.width
    lo, hi = Y0_SPAN_MM
    y = np.nan_to_num(np.asarray(y_local_mm, dtype=np.float64), nan=0.0)
    return np.clip(np.floor((y - lo) / ((hi - lo) / (1 << bits))), 0, (1 << bits) - 1).astype(np.int64)


def _codes(design: Design, profiles: np.ndarray, y_local_mm: np.ndarray, y0: bool) -> np.ndarray:
    """(n, len(slices) * 13 [+ 1]) codes from (n, len(slices), 13) y-profiles and y-local."""
    rows = charge_codes(design, profiles).reshape(len(profiles), -1)
    if not y0:
        return rows
    return np.concatenate([rows, y0_codes(design, y_local_mm)[:, None]], axis=1)


def profiles(ts: TrackSet, slices: list[int], seed: int = 0, noise_e: float = 80.0, threshold_e: float = 400.0,
             apply_readout: bool = True) -> np.ndarray:
    """(n, len(slices), 13) y-profiles in electrons, after readout unless told otherwise."""
    charges = readout(ts.charges, noise_e, threshold_e, seed, slices) if apply_readout else ts.charges[:, slices]
    return charges.sum(axis=-1, dtype=np.float32)


def inputs(design: Design, ts: TrackSet, seed: int = 0, noise_e: float = 80.0, threshold_e: float = 400.0,
           apply_readout: bool = True) -> np.ndarray:
    """(n, design.n_inputs) raw input codes of the tracks."""
    prof = profiles(ts, list(design.encoding.slices), seed, noise_e, threshold_e, apply_readout)
    return _codes(design, prof, ts.labels["y-local"].to_numpy(), design.encoding.y0)


def inputs_from_cache(design: Design, cache) -> np.ndarray:
    """The same codes from an imported release's features cache (model/data/feature_cache.py), whose
    profiles were summed after the readout recorded in the cache."""
    return _codes(design, cache.profiles_of(list(design.encoding.slices)), cache.labels["y-local"].to_numpy(),
                  design.encoding.y0)


def decoder_codes(design: Design, prof: np.ndarray, y_local_mm: np.ndarray) -> np.ndarray:
    """(n, decoder.n_out) codes a VAE's decoder reconstructs, from the y-profiles of the decoder's
    slices (the same readout as the inputs: its noise is seeded per slice, so a slice that is
    both input and target has equal codes in both)."""
    return _codes(design, prof, y_local_mm, design.decoder.y0)


def decoder_targets(design: Design, ts: TrackSet, seed: int = 0) -> np.ndarray:
    return decoder_codes(design, profiles(ts, list(design.decoder.slices), seed), ts.labels["y-local"].to_numpy())


def decoder_targets_from_cache(design: Design, cache) -> np.ndarray:
    return decoder_codes(design, cache.profiles_of(list(design.decoder.slices)), cache.labels["y-local"].to_numpy())
