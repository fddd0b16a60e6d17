"""The integer reference's rounding and formats, checked against Python's own arithmetic."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from model.description import formats as F
from model.description.design import Design
from model.fixed import fixed_ref
from model.fixed.fixed_ref import IntegerNetwork, IntLayer


@pytest.mark.parametrize("shift", [1, 2, 5, 7])
def test_round_half_even_matches_python_round(shift: int) -> None:
    # Python's round() on an exact Fraction is round-half-to-even: an independent oracle.
    vals = np.arange(-4096, 4097, dtype=np.int64)
    got = fixed_ref.shift_round_half_even(vals, shift)
    want = np.array([round(Fraction(int(v), 2**shift)) for v in vals])
    assert np.array_equal(got, want)


def test_ties_go_to_even() -> None:
    # 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> 0, -1.5 -> -2 (in units of 2**-1)
    got = fixed_ref.shift_round_half_even(np.array([1, 3, 5, -1, -3]), 1)
    assert got.tolist() == [0, 2, 2, 0, -2]


def test_format_spelling_round_trips() -> None:
    for spec in ("fixed<8,4,RND_CONV,SAT>", "ufixed<4,0>", "fixed<24,8>", "ufixed<10,4,RND_CONV,SAT>"):
        assert F.parse(spec).hls() == spec
    f = F.parse("fixed<8,4,RND_CONV,SAT>")
    assert (f.raw_min, f.raw_max, f.frac) == (-128, 127, 4)
    for bad in ("fixed<8>", "int8", "fixed<8,4,RND,SAT>", "fixed<0,0>"):
        with pytest.raises(ValueError):
            F.parse(bad)


def test_vae_low_formats_as_in_the_paper(vae_low: Design) -> None:
    assert vae_low.input_bits == 212 and vae_low.latent is not None and vae_low.latent.bits == 64
    assert vae_low.layers[-1].result.hls() == "fixed<8,4,RND_CONV,SAT>"
    assert vae_low.layers[0].result.hls() == "ufixed<8,3,RND_CONV,SAT>"
    assert vae_low.score_format.raw_max >= 8 * 128**2  # the largest score, 8 * (-8.0)^2 / 2 = 256, fits


def constant_check(design: Design, bias_raw: int) -> tuple[IntLayer, ...]:
    """Check layers whose kernels are zero: every prediction is the last layer's bias."""
    layers = design.check.layers
    return tuple(IntLayer(s, np.zeros((s.n_in, s.units), dtype=np.int64),
                          np.full(s.units, bias_raw if s is layers[-1] else 0, dtype=np.int64)) for s in layers)


def test_score_is_half_sum_of_squares(vae_low: Design) -> None:
    mu = np.array([[16, -16, 0, 0, 0, 0, 0, 0], [-128] * 8])  # (1, -1, 0...) and all -8.0
    flat = np.zeros((2, vae_low.n_inputs), dtype=np.int64)  # inputs without a dip
    silent = constant_check(vae_low, 0)  # predicts 0: no input lacks charge
    score = vae_low.score_format.to_float(fixed_ref.score_raw(vae_low, mu, flat, silent))
    assert score.tolist() == [1.0, 256.0]
    dipped = flat.copy()
    dipped[:, :3] = [4, 1, 4]  # one dip of 3 code LSBs, weighted 2**dip_shift
    score = vae_low.score_format.to_float(fixed_ref.score_raw(vae_low, mu, dipped, silent))
    assert score.tolist() == [1.0 + 3 * 2.0**vae_low.dip_shift, 256.0 + 3 * 2.0**vae_low.dip_shift]
    with pytest.raises(ValueError, match="needs its 2 layers"):
        fixed_ref.score_raw(vae_low, mu, flat)


def test_profile_check_by_hand(vae_low: Design) -> None:
    """Every prediction 1.0 (bias 64 LSBs of fixed<8,2>; 16 LSBs of the input's ufixed<4,0>): an
    all-zero track lacks 16 LSBs in each of the 52 profile inputs, a track of code 15 one LSB in
    each, a track at 1.0 or more nothing; y0 is not predicted."""
    assert vae_low.check.layers[-1].bias.frac == 6 and vae_low.input_format.frac == 4
    chk = constant_check(vae_low, 64)
    x = np.zeros((3, vae_low.n_inputs), dtype=np.int64)
    x[1, :52], x[2, 52] = 15, 15
    assert fixed_ref.profile_check(vae_low, chk, x).tolist() == [52 * 16, 52, 52 * 16]
    mu = np.zeros((3, 8), dtype=np.int64)
    score = vae_low.score_format.to_float(fixed_ref.score_raw(vae_low, mu, x, chk))
    assert score.tolist() == [52 * 16 * 2.0**vae_low.check.shift, 52 * 2.0**vae_low.check.shift,
                              52 * 16 * 2.0**vae_low.check.shift]


def test_profile_check_reads_the_codes_top_bits() -> None:
    """vae-high's check reads the 10-bit codes' top 6 bits (input_frac = 6): a code of 15 reads as 0
    and lacks 64 LSBs (1.0) against a prediction of 1.0, a code of 1023 reads as 63 and lacks one."""
    from model.description import design as D

    high = D.load("vae-high")
    assert high.check.input_frac == 6 and high.input_format.frac == 10
    chk = constant_check(high, 64)  # fixed<8,2> bias 64 = 1.0 = 64 LSBs of the check's ufixed<6,0>
    x = np.zeros((2, high.n_inputs), dtype=np.int64)
    x[0, :52], x[1, :52] = 15, 1023
    assert fixed_ref.profile_check(high, chk, x).tolist() == [52 * 64, 52]


def test_saturation_of_the_last_layer(vae_low: Design) -> None:
    net = IntegerNetwork(vae_low, tuple(IntLayer(s, np.full((s.n_in, s.units), 127), np.full(s.units, 127))
                                        for s in vae_low.layers))
    mu = net.forward(np.full((1, vae_low.n_inputs), 15))
    assert mu.tolist() == [[127] * 8]  # saturates at 7.9375, does not wrap


def test_truncation_and_wrap_casts() -> None:
    fmt = F.parse("fixed<4,2>")  # TRN, WRAP: 2 fraction bits, range -2..1.75
    # 3.875 truncates to 3.75 and wraps to -0.25; -1/8 truncates (floor) to -1/4; 4.0 wraps to 0
    raw = np.array([0b011111, -1, 0b100000])
    assert fixed_ref.cast(raw, 3, fmt).tolist() == [-1, -1, 0]


def test_profile_dips_by_hand(vae_low: Design) -> None:
    """A row below both neighbours counts by how far it is below the lower of them; rows at the
    ends of a slice's profile, and y0, are never dips."""
    x = np.zeros((3, vae_low.n_inputs), dtype=np.int64)
    x[0, :13] = [0, 5, 2, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0]  # row 2: min(5, 7) - 2 = 3
    x[1, 13:26] = [3, 3, 0, 3, 3, 0, 0, 0, 0, 0, 0, 9, 0]  # a dead row: 3; row 12 is an end
    x[1, 26:39] = [9, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]  # row 1: 9
    x[2, 39:52] = [0, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 0]  # a plateau has none
    x[2, 52] = 15  # y0
    assert fixed_ref.profile_dips(vae_low, x).tolist() == [3, 12, 0]
