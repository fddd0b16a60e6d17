"""Fixed-point formats of the on-sensor encoder: the single place where bit widths are declared.

Formats follow the ap_fixed convention: ``fixed<W,I>`` has W bits, I of them integer bits
including the sign; ``ufixed<W,I>`` is unsigned. A value v is stored as the integer
``raw = v * 2**frac``. Golden vectors, the numpy reference, the hls4ml configuration and the
RTL wrapper all read their widths from here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FixedFormat:
    width: int
    integer: int
    signed: bool
    rounding: str = "TRN"  # TRN (truncate) or RND_CONV (round half to even)
    overflow: str = "WRAP"  # WRAP or SAT

    @property
    def frac(self) -> int:
        return self.width - self.integer

    @property
    def raw_min(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def raw_max(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    def hls(self, with_modes: bool = True) -> str:
        """hls4ml precision string, e.g. ``fixed<8,4,RND_CONV,SAT>``."""
        base = f"{'fixed' if self.signed else 'ufixed'}<{self.width},{self.integer}"
        if with_modes and (self.rounding != "TRN" or self.overflow != "WRAP"):
            base += f",{self.rounding},{self.overflow}"
        return base + ">"

    def __str__(self) -> str:
        return self.hls()

    def to_float(self, raw: np.ndarray) -> np.ndarray:
        return np.asarray(raw, dtype=np.float64) * 2.0**-self.frac

    def to_raw(self, value: np.ndarray) -> np.ndarray:
        """Exact conversion of values already on this format's grid (raises otherwise)."""
        scaled = np.asarray(value, dtype=np.float64) * 2.0**self.frac
        raw = np.rint(scaled).astype(np.int64)
        if not np.array_equal(raw, scaled):
            raise ValueError(f"values are not on the {self} grid")
        if raw.size and (raw.min() < self.raw_min or raw.max() > self.raw_max):
            raise ValueError(f"values outside the range of {self}")
        return raw

    def to_unsigned_bits(self, raw: np.ndarray) -> np.ndarray:
        """Two's-complement bit pattern of ``raw`` as a non-negative integer (what a port carries)."""
        return np.asarray(raw, dtype=np.int64) & ((1 << self.width) - 1)

    def from_unsigned_bits(self, bits: np.ndarray) -> np.ndarray:
        bits = np.asarray(bits, dtype=np.int64)
        if self.signed:
            return np.where(bits >= (1 << (self.width - 1)), bits - (1 << self.width), bits)
        return bits


N_INPUTS = 53
N_HIDDEN = 24
N_LATENT = 8

# Encoder inputs: 4-bit charge/y0 codes 0..15, read as code/16 so weights stay in +-1.
INPUT = FixedFormat(4, 0, signed=False)
WEIGHT = FixedFormat(8, 1, signed=True)  # QKeras quantized_bits(8, 0, alpha=1)
BIAS = FixedFormat(8, 4, signed=True)  # QKeras quantized_bits(8, 3, alpha=1)
# Accumulators wide enough to hold every sum exactly (no rounding before the activation).
ACCUM_HIDDEN = FixedFormat(24, 8, signed=True)
ACCUM_LATENT = FixedFormat(24, 9, signed=True)
HIDDEN = FixedFormat(8, 3, signed=False, rounding="RND_CONV", overflow="SAT")  # quantized_relu(8, 3)
LATENT = FixedFormat(8, 4, signed=True, rounding="RND_CONV", overflow="SAT")  # quantized_bits(8, 3, alpha=1)
# Clipped KL score 0.5 * sum(mu^2): exact, mu^2 has 8 fractional bits, the 0.5 adds one; max 8 * 64 / 2 = 256.
SCORE = FixedFormat(18, 9, signed=False)

INPUT_BITS = N_INPUTS * INPUT.width
LATENT_BITS = N_LATENT * LATENT.width
