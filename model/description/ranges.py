"""Interval analysis of a design's integer layers: what each accumulator, result and score can reach.

The semantics are model/fixed/fixed_ref.py's: exact products summed in the accumulator format, ReLU on
the accumulator, a RND_CONV/SAT cast to the result. Two modes:

- from the formats alone (`analyse(design)`): every weight anywhere in its format (the [check]'s
  kernels zero outside their masks, which the reference loader enforces);
- with the weights (`analyse(design, network)`): a unit's accumulator lies in
  [sum_i min(w_i lo_i, w_i hi_i), sum_i max(w_i lo_i, w_i hi_i)] + bias over its inputs' intervals.

Both are sound (every value the integer model computes lies inside); with the weights the first
layer's bounds are also attained (its inputs vary independently), deeper ones may not be. All
arithmetic is on Python integers (raw values), so no format is too wide to analyse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from model.data.tracks import N_ROWS
from model.description.formats import FixedFormat

if TYPE_CHECKING:  # design.py runs this analysis while it reads a description: no import back at run time
    from model.description.design import Dense, Design


def _obj(a) -> np.ndarray:
    """An array of Python integers (no int64 overflow whatever the formats' widths)."""
    return np.vectorize(int, otypes=[object])(np.asarray(a)) if np.size(a) else np.asarray(a, dtype=object)


def cast_int(v: int, frac: int, fmt: FixedFormat) -> int:
    """One raw integer with `frac` fraction bits assigned to fmt (fixed_ref.cast on a Python int)."""
    shift = frac - fmt.frac
    if shift <= 0:
        q = v << -shift
    elif fmt.rounding == "RND_CONV":
        q, r = v >> shift, v - ((v >> shift) << shift)
        half = 1 << (shift - 1)
        q += int(r > half or (r == half and q & 1))
    else:
        q = v >> shift
    if fmt.overflow == "SAT":
        return min(max(q, fmt.raw_min), fmt.raw_max)
    return fmt.from_unsigned_bits(np.int64(q & ((1 << fmt.width) - 1))).item()


def value(raw: int, frac: int) -> float:
    return raw * 2.0**-frac


@dataclass
class LayerRange:
    """One Dense layer's reachable intervals, per unit (raw integers)."""

    spec: Dense
    where: str  # "[[layers]] #1", "[[check.layers]] #2": where the description declares it
    x_frac: int  # fraction bits of its inputs
    acc_lo: np.ndarray  # the exact sum before it is held in the accumulator (accum raw)
    acc_hi: np.ndarray
    out_lo: np.ndarray  # the result after ReLU and the cast (result raw)
    out_hi: np.ndarray

    @property
    def wraps(self) -> np.ndarray:
        """Units whose sum can leave the accumulator's range (it would wrap)."""
        a = self.spec.accum
        return (self.acc_lo < a.raw_min) | (self.acc_hi > a.raw_max)

    @property
    def relu(self) -> bool:
        return self.spec.activation == "relu"

    def can_rail(self, high: bool) -> np.ndarray:
        r = self.spec.result
        return self.out_hi >= r.raw_max if high else self.out_lo <= r.raw_min

    @property
    def can_active(self) -> np.ndarray:
        return self.acc_hi > 0

    @property
    def can_inactive(self) -> np.ndarray:
        return self.acc_lo <= 0

    def summary(self) -> dict[str, int]:
        u = self.spec.units
        out = {"units": u, "wrap": int(self.wraps.sum()), "rail_high": int(self.can_rail(True).sum())}
        if self.spec.result.signed:
            out["rail_low"] = int(self.can_rail(False).sum())
        if self.relu:
            out |= {"can_be_active": int(self.can_active.sum()), "can_be_inactive": int(self.can_inactive.sum())}
        return out


@dataclass
class Ranges:
    design: Design
    with_weights: bool
    layers: list[LayerRange]
    check: list[LayerRange] = field(default_factory=list)
    terms: dict[str, tuple[int, int]] = field(default_factory=dict)  # score term -> (lo, hi), score raw
    score_lo: int = 0
    score_hi: int = 0

    @property
    def all_layers(self) -> list[LayerRange]:
        return [*self.layers, *self.check]

    @property
    def what(self) -> str:
        """The score's terms as the refusals name them."""
        return " + ".join(self.terms)

    def problems(self) -> list[tuple[str, str]]:
        """(where, one-line problem) for every format that cannot hold what reaches it."""
        out = []
        for lr in self.all_layers:
            bad = np.flatnonzero(lr.wraps)
            if len(bad):
                a, f = lr.spec.accum, lr.spec.accum.frac
                lo, hi = min(lr.acc_lo), max(lr.acc_hi)
                out.append((f"{lr.where} 'accum'", f"{a.hls()} can overflow: {len(bad)} of {lr.spec.units} unit "
                            f"sums of '{lr.spec.name}' reach [{value(lo, f):g}, {value(hi, f):g}] (holds "
                            f"[{value(a.raw_min, f):g}, {value(a.raw_max, f):g}])"))
        sf = self.design.score_format
        if self.design.score not in ("network", "none") and (self.score_hi > sf.raw_max or self.score_lo < sf.raw_min):
            out.append(("[outputs] 'score_format'",
                        f"{sf.hls()} holds at most {value(sf.raw_max, sf.frac):.4g} but {self.what} reaches "
                        f"{value(self.score_hi, sf.frac):.4g}" + self._means()))
        return out

    def _means(self) -> str:
        split, last = self.design.latent_split, self.layers[-1]
        if split is None:
            return ""
        f = last.spec.result.frac
        lo, hi = min(last.out_lo[: split.continuous]), max(last.out_hi[: split.continuous])
        return (f" ({split.continuous} means of {last.spec.result.hls()} in [{value(lo, f):g}, {value(hi, f):g}]"
                f"{', with the weights' if self.with_weights else ''})")

    def summary(self) -> dict:
        sf = self.design.score_format
        return {"with_weights": self.with_weights,
                "layers": {lr.spec.name: lr.summary() for lr in self.all_layers},
                "score": [value(self.score_lo, sf.frac), value(self.score_hi, sf.frac)],
                "score_terms": {k: [value(lo, sf.frac), value(hi, sf.frac)] for k, (lo, hi) in self.terms.items()}}


def _layer(spec: Dense, where: str, x_lo: np.ndarray, x_hi: np.ndarray, x_frac: int,
           kernel: np.ndarray | None, bias: np.ndarray | None, mask: np.ndarray | None,
           tighter: tuple[np.ndarray, np.ndarray] | None = None) -> LayerRange:
    """Bounds of one layer over inputs in [x_lo, x_hi]; kernel None: every weight anywhere in its
    format; `tighter`: other sound bounds of its sums (_relaxed), intersected with these."""
    w, b, acc = spec.weight, spec.bias, spec.accum
    if kernel is None:
        k_lo = np.full((spec.n_in, spec.units), w.raw_min, dtype=object)
        k_hi = np.full((spec.n_in, spec.units), w.raw_max, dtype=object)
        if mask is not None:
            k_lo[~mask], k_hi[~mask] = 0, 0
        b_lo = np.full(spec.units, b.raw_min, dtype=object)
        b_hi = np.full(spec.units, b.raw_max, dtype=object)
    else:
        k_lo = k_hi = _obj(kernel)
        b_lo = b_hi = _obj(bias)
    xl, xh = x_lo[:, None], x_hi[:, None]
    corners = [k_lo * xl, k_lo * xh, k_hi * xl, k_hi * xh]
    t_lo = np.minimum(np.minimum(corners[0], corners[1]), np.minimum(corners[2], corners[3]))
    t_hi = np.maximum(np.maximum(corners[0], corners[1]), np.maximum(corners[2], corners[3]))
    sh, shb = acc.frac - x_frac - w.frac, acc.frac - b.frac
    if sh < 0 or shb < 0:
        raise ValueError(f"{where} '{spec.name}': the accumulator has fewer fraction bits than its terms")
    acc_lo = np.array([int(v) << sh for v in t_lo.sum(axis=0)], dtype=object) + b_lo * (1 << shb)
    acc_hi = np.array([int(v) << sh for v in t_hi.sum(axis=0)], dtype=object) + b_hi * (1 << shb)
    if tighter is not None:
        acc_lo, acc_hi = np.maximum(acc_lo, tighter[0]), np.minimum(acc_hi, tighter[1])
    lo, hi = acc_lo.copy(), acc_hi.copy()
    wraps = (lo < acc.raw_min) | (hi > acc.raw_max)
    lo[wraps], hi[wraps] = acc.raw_min, acc.raw_max  # a wrapped sum can be anything the accumulator holds
    if spec.activation == "relu":
        lo, hi = np.maximum(lo, 0), np.maximum(hi, 0)
    out_lo = np.array([cast_int(int(v), acc.frac, spec.result) for v in lo], dtype=object)
    out_hi = np.array([cast_int(int(v), acc.frac, spec.result) for v in hi], dtype=object)
    return LayerRange(spec, where, x_frac, acc_lo, acc_hi, out_lo, out_hi)


def _chain(specs: tuple[Dense, ...], section: str, x_lo: np.ndarray, x_hi: np.ndarray, x_frac: int,
           weights: tuple | None, masks: list[np.ndarray] | None, tight: bool = False) -> list[LayerRange]:
    out = []
    ins = (x_lo, x_hi)
    for k, spec in enumerate(specs):
        ly = weights[k] if weights else None
        tighter = None
        if tight and ly is not None and k == 1 and not out[0].wraps.any():
            tighter = _relaxed(out[0], weights[0], ly, *ins)
        lr = _layer(spec, f"[[{section}]] #{k + 1}", x_lo, x_hi, x_frac, None if ly is None else ly.kernel,
                    None if ly is None else ly.bias, None if masks is None else masks[k], tighter)
        out.append(lr)
        x_lo, x_hi, x_frac = lr.out_lo, lr.out_hi, spec.result.frac
    return out


def _relaxed(first: LayerRange, w1, w2, x_lo: np.ndarray, x_hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of the second layer's sums through linear bounds of the first layer's units
    (a DeepPoly-style relaxation), tighter than intervals because the hidden units' shared inputs
    are kept. Hidden unit j's result g(z) (ReLU, rounding, saturation of its sum z, an exact
    integer-linear function of the inputs) lies on [l, u] between c(z) - down and c(z) + up for
    one line c of slope ~ its chord: g is held between piecewise-linear envelopes (the rounding
    within half an LSB, or one for TRN) whose breakpoints are known, so `up` and `down` are exact
    maxima over those points. Then each second-layer sum is linear in the inputs within the box;
    its extremes over the box bound it. Exact rational arithmetic throughout: a proof."""
    from fractions import Fraction as Q

    s1, s2 = first.spec, w2.spec
    r, acc = s1.result, s1.accum
    sh = acc.frac - r.frac
    scale = Q(2) ** sh  # z in accumulator raw units; g in result raw units
    e_up, e_dn = (Q(0), Q(0)) if sh <= 0 else (Q(1, 2), Q(1, 2)) if r.rounding == "RND_CONV" else (Q(0), Q(1))

    def h(z: Q) -> Q:
        return max(z, Q(0)) if s1.activation == "relu" else z

    def clip(v: Q) -> Q:
        return min(max(v, Q(r.raw_min)), Q(r.raw_max))

    m = s1.units
    P = 24  # bits of each slope: any slope gives a valid bound, this one is the chord's to 2**-24
    slope, beta_up, beta_dn = [], [], []
    for j in range(m):
        lo, hi = int(first.acc_lo[j]), int(first.acc_hi[j])
        g_lo, g_hi = (cast_int(int(h(Q(v))), acc.frac, r) for v in (lo, hi))
        a = Q(round(Q(g_hi - g_lo, hi - lo) * 2**P), 2**P) if hi > lo else Q(0)
        pts = {Q(lo), Q(hi), Q(0)} | {(v + e) * scale for v in (r.raw_min, r.raw_max) for e in (e_up, -e_up, e_dn,
                                                                                                  -e_dn)}
        pts = [p for p in pts if lo <= p <= hi]
        line = [g_lo + a * (p - lo) for p in pts]
        up = max(clip(h(p) / scale + e_up) - c for p, c in zip(pts, line, strict=True))
        dn = max(c - clip(h(p) / scale - e_dn) for p, c in zip(pts, line, strict=True))
        slope.append(a)
        beta_up.append(g_lo - a * lo + up)  # g(z) <= a z + beta_up on [lo, hi]
        beta_dn.append(g_lo - a * lo - dn)  # g(z) >= a z + beta_dn
    den = 1
    for v in (*slope, *beta_up, *beta_dn):
        den = math.lcm(den, v.denominator)
    A = np.array([int(a * den) for a in slope], dtype=object)
    Bu = np.array([int(b * den) for b in beta_up], dtype=object)
    Bd = np.array([int(b * den) for b in beta_dn], dtype=object)
    # z_j = (sum_i K_ij x_i) << sh1 + bias_j << shb1
    sh1, shb1 = acc.frac - first.x_frac - s1.weight.frac, acc.frac - s1.bias.frac
    K, c1 = _obj(w1.kernel) * (1 << sh1), _obj(w1.bias) * (1 << shb1)
    W = _obj(w2.kernel)  # (m, units)
    coef = K @ (A[:, None] * W)  # (n_in, units): sum_j K_ij a_j W_jk, times den
    pos = W > 0
    const_hi = ((A * c1)[:, None] * W + np.where(pos, Bu[:, None], Bd[:, None]) * W).sum(axis=0)
    const_lo = ((A * c1)[:, None] * W + np.where(pos, Bd[:, None], Bu[:, None]) * W).sum(axis=0)
    xl, xh = x_lo[:, None], x_hi[:, None]
    top = const_hi + np.maximum(coef * xl, coef * xh).sum(axis=0)
    bot = const_lo + np.minimum(coef * xl, coef * xh).sum(axis=0)
    s2sh, s2b = s2.accum.frac - first.spec.result.frac - s2.weight.frac, s2.accum.frac - s2.bias.frac
    b2 = _obj(w2.bias) * (1 << s2b)
    # sum_j W_jk g_j is an integer: floor of the upper bound, ceiling of the lower
    hi_sum = np.array([v // den for v in top], dtype=object)
    lo_sum = np.array([-((-v) // den) for v in bot], dtype=object)
    return lo_sum * (1 << s2sh) + b2, hi_sum * (1 << s2sh) + b2


def max_dips(design: Design) -> int:
    """The largest sum of profile dips (model.fixed.fixed_ref.profile_dips), in input LSBs, attained: two
    adjacent rows cannot both dip (each would have to lie below the other), so at most every
    other interior row of each slice dips, each by at most the top code."""
    return len(design.encoding.slices) * ((N_ROWS - 2 + 1) // 2) * design.input_format.raw_max


def discrete_kl_max(design: Design) -> int:
    """The integer discrete KL's largest value (score raw): max(0, G - ...) <= G <= the ln table at s = 1."""
    from model.fixed import kl_discrete

    return sum(int(kl_discrete.log_table(np.array([1.0]), k, design.score_format.frac)[0])
               for k in design.latent_split.categorical)


def analyse(design: Design, network=None, tight: bool = False) -> Ranges:
    """The design's reachable ranges: from the formats alone, or with a network's integer weights
    (model.fixed.fixed_ref.IntegerNetwork: its layers and, when the design has one, its check); `tight`
    (with weights) also bounds each chain's second layer through a linear relaxation of its first
    (_relaxed: exact, slower)."""
    n_in, top = design.n_inputs, design.input_format.raw_max
    x_lo, x_hi = np.full(n_in, design.input_format.raw_min, dtype=object), np.full(n_in, top, dtype=object)
    layers = _chain(design.layers, "layers", x_lo, x_hi, design.input_format.frac,
                    network.layers if network is not None else None, None, tight)
    check: list[LayerRange] = []
    chk = design.check
    if chk is not None:
        c_top = top >> (design.input_format.frac - chk.input_frac)
        masks = [chk.mask(k) for k in range(len(chk.layers))]
        weights = network.check if network is not None and network.check else None
        check = _chain(chk.layers, "check.layers", np.zeros(n_in, dtype=object), np.full(n_in, c_top, dtype=object),
                       chk.input_frac, weights, masks, tight)
    r = Ranges(design, network is not None, layers, check)
    last = layers[-1]
    if design.score == "none":
        pass  # no score: the last layer's results are the outputs
    elif design.score == "network":
        r.terms = {"the network's output": (int(last.out_lo[0]), int(last.out_hi[0]))}
    else:
        frac = design.score_format.frac
        split = design.latent_split
        mu_lo, mu_hi = last.out_lo[: split.continuous], last.out_hi[: split.continuous]
        sq_hi = sum(max(int(a) ** 2, int(b) ** 2) for a, b in zip(mu_lo, mu_hi, strict=True))
        sq_lo = sum(0 if a <= 0 <= b else min(int(a) ** 2, int(b) ** 2) for a, b in zip(mu_lo, mu_hi, strict=True))
        sh = frac - 2 * last.spec.result.frac - 1
        r.terms["0.5*sum(mu^2)"] = (_shift(sq_lo, sh), _shift(sq_hi, sh))
        if split.categorical:
            r.terms["the discrete KL"] = (0, discrete_kl_max(design))
        if design.dip_shift is not None:
            r.terms[f"dips * 2**{design.dip_shift}"] = (0, _shift(max_dips(design), design.dip_shift + frac))
        if chk is not None:  # max(0, prediction - input) with every input at least 0
            p_hi = check[-1].out_hi[: chk.n_profile]
            r.terms[f"the check * 2**{chk.shift}"] = (0, _shift(sum(max(0, int(p)) for p in p_hi), chk.shift + frac))
    r.score_lo = sum(lo for lo, _ in r.terms.values())
    r.score_hi = sum(hi for _, hi in r.terms.values())
    return r


def _shift(v: int, sh: int) -> int:
    """v * 2**sh for the score's exact terms (sh >= 0 where the design checks the fraction bits)."""
    return v << sh if sh >= 0 else math.floor(v / (1 << -sh))
