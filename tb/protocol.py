"""Packing of the encoder ports and a cycle-level driver/monitor for the cocotb tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model import formats as F


def pack_inputs(x: np.ndarray) -> list[int]:
    """(n, 53) INPUT raw codes -> in_data words, input j in bits [4j+3:4j]."""
    shifts = [j * F.INPUT.width for j in range(F.N_INPUTS)]
    return [sum(int(v) << s for v, s in zip(row, shifts, strict=True)) for row in x]


def unpack_mu(word: int) -> list[int]:
    """out_mu word -> 8 signed LATENT raw values, mean j in bits [8j+7:8j]."""
    w, mask = F.LATENT.width, (1 << F.LATENT.width) - 1
    return [int(F.LATENT.from_unsigned_bits(np.int64((word >> (j * w)) & mask))) for j in range(F.N_LATENT)]


@dataclass
class Observed:
    cycle: int  # rising-edge index after which out_valid was seen
    mu: list[int]
    score: int
    flag: int
