"""Port packing used by the testbenches, checked against the formats by independent arithmetic."""

from __future__ import annotations

import numpy as np

from model import formats as F
from tb.protocol import pack_inputs, unpack_mu


def test_input_j_sits_in_bits_4j_to_4j_plus_3() -> None:
    x = np.zeros((1, F.N_INPUTS), dtype=np.int64)
    x[0, 52] = 0xA  # y0, the last input, is the top nibble of the 212-bit word
    x[0, 0] = 0x3
    word = pack_inputs(x)[0]
    assert word == (0xA << 208) | 0x3
    assert word.bit_length() <= F.INPUT_BITS


def test_unpack_mu_is_twos_complement_per_byte() -> None:
    rng = np.random.default_rng(1)
    mu = rng.integers(-128, 128, (500, F.N_LATENT))
    words = [sum((int(v) & 0xFF) << (8 * j) for j, v in enumerate(row)) for row in mu]
    assert [unpack_mu(w) for w in words] == mu.tolist()
    assert unpack_mu(0x80) == [-128] + [0] * 7 and unpack_mu(0x7F << 56) == [0] * 7 + [127]
