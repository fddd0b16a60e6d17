"""Fixed-point formats in the ap_fixed convention, as design descriptions spell them.

``fixed<W,I>`` has W bits, I of them integer bits including the sign; ``ufixed<W,I>`` is
unsigned; optional rounding (TRN, RND_CONV) and overflow (WRAP, SAT) modes follow. A value v is
stored as the integer ``raw = v * 2**frac``. Every width in the harness comes from a design's
formats (model/description/design.py); none is declared in code.
"""

from __future__ import annotations

import re
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


_SPEC = re.compile(r"^\s*(u?fixed)\s*<\s*(\d+)\s*,\s*(-?\d+)\s*(?:,\s*(\w+)\s*(?:,\s*(\w+)\s*)?)?>\s*$")
ROUNDINGS = ("TRN", "RND_CONV")
OVERFLOWS = ("WRAP", "SAT")


def parse(spec: str) -> FixedFormat:
    """``fixed<8,4,RND_CONV,SAT>`` / ``ufixed<4,0>`` (ap_fixed spelling) -> FixedFormat; ValueError if malformed."""
    m = _SPEC.match(str(spec))
    if not m:
        raise ValueError(f"{spec!r} is not a fixed-point format like 'fixed<8,4,RND_CONV,SAT>' or 'ufixed<4,0>'")
    kind, width, integer, rounding, overflow = m.groups()
    rounding, overflow = rounding or "TRN", overflow or "WRAP"
    if int(width) < 1 or int(width) > 64:
        raise ValueError(f"{spec!r}: width must be 1..64 bits")
    if rounding not in ROUNDINGS:
        raise ValueError(f"{spec!r}: rounding {rounding} is not supported ({', '.join(ROUNDINGS)})")
    if overflow not in OVERFLOWS:
        raise ValueError(f"{spec!r}: overflow {overflow} is not supported ({', '.join(OVERFLOWS)})")
    return FixedFormat(int(width), int(integer), kind == "fixed", rounding, overflow)
