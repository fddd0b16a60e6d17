"""Bit-exact integer reference of any design, written from the declared formats alone.

This is the Python golden model: plain numpy integer arithmetic (no TensorFlow, no hls4ml, no
da4ml), so an error in any of those tools shows up as a disagreement instead of being copied
into the expected values. It follows ap_fixed semantics layer by layer: exact products summed
in the accumulator format (wrapping), ReLU, then the cast to the result format (round half to
even or truncate; saturate or wrap).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.description.design import N_ROWS, Dense, Design
from model.description.formats import FixedFormat
from model.fixed import kl_discrete


def shift_round_half_even(acc: np.ndarray, shift: int) -> np.ndarray:
    """Divide integers by 2**shift, rounding half to even (ap_fixed RND_CONV, QKeras tf.round)."""
    if shift <= 0:
        return acc << -shift
    q = acc >> shift  # floor division
    r = acc - (q << shift)
    half = 1 << (shift - 1)
    up = (r > half) | ((r == half) & ((q & 1) == 1))
    return q + up


def saturate(raw: np.ndarray, fmt: FixedFormat) -> np.ndarray:
    return np.clip(raw, fmt.raw_min, fmt.raw_max)


def wrap(raw: np.ndarray, fmt: FixedFormat) -> np.ndarray:
    return fmt.from_unsigned_bits(fmt.to_unsigned_bits(raw))


def cast(raw: np.ndarray, frac: int, fmt: FixedFormat) -> np.ndarray:
    """ap_fixed assignment of raw (with `frac` fraction bits) to fmt: round, then overflow."""
    shift = frac - fmt.frac
    if fmt.rounding == "RND_CONV":
        out = shift_round_half_even(raw, shift)
    else:
        out = raw >> shift if shift > 0 else raw << -shift
    return saturate(out, fmt) if fmt.overflow == "SAT" else wrap(out, fmt)


@dataclass(frozen=True)
class IntLayer:
    """A Dense layer's integer weights: kernel (n_in, units) in weight raw units, bias in bias raw units."""

    spec: Dense
    kernel: np.ndarray
    bias: np.ndarray

    def __call__(self, x_raw: np.ndarray, x_frac: int) -> np.ndarray:
        s = self.spec
        acc = (x_raw.astype(np.int64) @ self.kernel) << (s.accum.frac - x_frac - s.weight.frac)
        acc = wrap(acc + (self.bias << (s.accum.frac - s.bias.frac)), s.accum)
        if s.activation == "relu":
            acc = np.maximum(acc, 0)  # ReLU on the accumulator, then the cast, as hls4ml's relu() does
        return cast(acc, s.accum.frac, s.result)

    @property
    def sparsity(self) -> float:
        return float(np.mean(self.kernel == 0))


@dataclass(frozen=True)
class IntegerNetwork:
    design: Design
    layers: tuple[IntLayer, ...]
    check: tuple[IntLayer, ...] = ()  # the design's [check] layers, when it has one

    def activations(self, x_raw: np.ndarray) -> list[tuple[np.ndarray, int]]:
        """(raw values, fraction bits) of the inputs and then of every layer's results."""
        out = [(np.asarray(x_raw, dtype=np.int64), self.design.input_format.frac)]
        for layer in self.layers:
            out.append((layer(*out[-1]), layer.spec.result.frac))
        return out

    def forward(self, x_raw: np.ndarray) -> np.ndarray:
        """The last layer's results (raw) for (n, n_inputs) input codes."""
        return self.activations(x_raw)[-1][0]

    def score(self, x_raw: np.ndarray, last: np.ndarray) -> np.ndarray:
        return score_raw(self.design, last, x_raw, self.check)

    def outputs(self, x_raw: np.ndarray, threshold_raw: int | np.ndarray) -> np.ndarray:
        """Every output column of the design, in design.output_columns order (raw integers)."""
        last = self.forward(x_raw)
        if not self.design.has_score:  # score "none": the last layer's results are the outputs
            return np.asarray(last, dtype=np.int64)
        score = self.score(x_raw, last)
        parts = [last] if self.design.latents else []
        return np.column_stack([*parts, score, decision(score, threshold_raw)]).astype(np.int64)


def profile_dips(design: Design, x_raw: np.ndarray) -> np.ndarray:
    """Sum over the input slices and their interior rows of max(0, min(left, right) - row): how far
    each y-profile row falls below both its neighbours, in input-code LSBs. A dead row or a dead
    pixel cuts such a dip into a profile; a normal track's profile rarely has one."""
    n_rows = N_ROWS
    p = np.asarray(x_raw, dtype=np.int64)[:, : len(design.encoding.slices) * n_rows]
    p = p.reshape(len(p), -1, n_rows)
    return np.maximum(np.minimum(p[:, :, :-2], p[:, :, 2:]) - p[:, :, 1:-1], 0).sum(axis=(1, 2))


def check_inputs(design: Design, x_raw: np.ndarray) -> np.ndarray:
    """What the check reads (raw, check.input_frac bits): the codes' top bits, truncated."""
    return np.asarray(x_raw, dtype=np.int64) >> (design.input_format.frac - design.check.input_frac)


def check_predictions(design: Design, check: tuple[IntLayer, ...], x_raw: np.ndarray) -> np.ndarray:
    """The check's prediction of every profile input (raw, check.input_frac fraction bits)."""
    x, frac = check_inputs(design, x_raw), design.check.input_frac
    for layer in check:
        x, frac = layer(x, frac), layer.spec.result.frac
    return x


def profile_check(design: Design, check: tuple[IntLayer, ...], x_raw: np.ndarray) -> np.ndarray:
    """Sum over the profile inputs of max(0, prediction - input) in the check's input LSBs: the
    charge the rows lack against what their neighbours imply (design.check)."""
    n = design.check.n_profile
    missing = check_predictions(design, check, x_raw) - check_inputs(design, x_raw)[:, :n]
    return np.maximum(missing, 0).sum(axis=1)


def score_raw(design: Design, last: np.ndarray, x_raw: np.ndarray, check: tuple[IntLayer, ...] = ()) -> np.ndarray:
    """The on-chip score in score_format raw units, from the last layer's results and the inputs.

    kl_clipped: 0.5 * sum(mu^2) is exact: mu^2 has 2f fraction bits, the 0.5 adds one, so the raw
    score is sum(m^2) for raw means m, shifted to the score's fraction bits F >= 2f + 1 (the
    design check guarantees the format holds it); with dip_shift, plus
    profile_dips * 2**dip_shift, that is profile_dips << (dip_shift + F); with a check, plus
    profile_check << (check.shift + F) (the design check guarantees F >= -shift).
    kl_total: the same over the continuous means, plus the integer discrete KL of each categorical
    latent's logits (model.fixed.kl_discrete), which has the score's fraction bits.
    network: the last layer's single output is the score.
    """
    if design.score == "network":
        return np.asarray(last, dtype=np.int64)[:, 0]
    frac = design.score_format.frac
    mu = np.asarray(last, dtype=np.int64)[:, : design.latent_split.continuous]
    kl = np.sum(mu**2, axis=-1) << (frac - 2 * design.layers[-1].result.frac - 1)
    kl = kl + kl_discrete.total_raw(design, last)
    if design.dip_shift is not None:
        kl = kl + (profile_dips(design, x_raw) << (design.dip_shift + frac))
    if design.check is not None:
        if len(check) != len(design.check.layers):
            raise ValueError(f"{design.name}: the score's check needs its {len(design.check.layers)} layers")
        kl = kl + (profile_check(design, check, x_raw) << (design.check.shift + frac))
    return kl


def decision(score: np.ndarray, threshold_raw: int | np.ndarray) -> np.ndarray:
    """The on-chip decision bit (anomaly flag, or keep): score strictly above the threshold."""
    return (score > threshold_raw).astype(np.int64)
