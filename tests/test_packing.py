"""Port packing used by the testbenches, checked against the formats by independent arithmetic."""

from __future__ import annotations

import numpy as np

from tb.protocol import pack_inputs, unpack


def test_input_j_sits_in_bits_wj_to_wj_plus_w_minus_1() -> None:
    x = np.zeros((1, 53), dtype=np.int64)
    x[0, 52] = 0xA  # y0, the last input, is the top nibble of the 212-bit word
    x[0, 0] = 0x3
    word = pack_inputs(x, 4)[0]
    assert word == (0xA << 208) | 0x3 and word.bit_length() <= 212
    x10 = np.array([[0x3FF, 0x001, 0x2AA]])
    assert pack_inputs(x10, 10)[0] == 0x3FF | (0x001 << 10) | (0x2AA << 20)


def test_unpack_is_twos_complement_per_field() -> None:
    rng = np.random.default_rng(1)
    mu = rng.integers(-128, 128, (500, 8))
    words = [sum((int(v) & 0xFF) << (8 * j) for j, v in enumerate(row)) for row in mu]
    assert [unpack(w, 8, 8, True) for w in words] == mu.tolist()
    assert unpack(0x80, 8, 8, True) == [-128] + [0] * 7 and unpack(0x7F << 56, 8, 8, True) == [0] * 7 + [127]
    assert unpack(0x80, 1, 8, False) == [128]
