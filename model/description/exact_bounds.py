"""Exact reachability of a layer's accumulator by mixed-integer programming (HiGHS, via scipy).

Interval analysis (model/description/ranges.py) is sound but loose past the first layer: it lets every unit of
the layer before reach its own extreme at once. Here the whole chain up to the layer in question is
written as a mixed-integer program over the integer input codes, with model/fixed/fixed_ref.py's
semantics: exact products summed (integer coefficients), ReLU as max(acc, 0), the cast's rounding
as |acc - 2**k q| <= 2**(k-1) (RND_CONV) or 0 <= acc - 2**k q < 2**k (TRN), and saturation as
min/max, each non-linearity with one binary and big-M constants from the interval bounds.

The program is exact, round half to even included (a tie only with an even quotient, through a
parity binary). So

- "infeasible" (no input puts the accumulator in [lo, hi]) is a proof that the target cannot be
  reached;
- a feasible solution is a vector that reaches it; callers still run it through the integer model
  (`IntegerNetwork`) and count it only when the exact arithmetic agrees.

HiGHS solves in floating point; the coefficients here are integers well below 2**40 and every
variable is bounded, and a solution is always re-checked exactly, so its tolerances decide at worst
between "hit" and "no proof", never a wrong "hit". An infeasibility claim rests on HiGHS's
(default) tolerances: every result says it was proven by HiGHS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import lil_matrix

if TYPE_CHECKING:
    from model.description.design import Dense


@dataclass
class Outcome:
    status: str  # "feasible" (x is a candidate), "infeasible" (proven unreachable), "unknown" (time limit)
    x: np.ndarray | None = None  # the chain's input codes of a feasible solution


class _Program:
    """Variables with bounds and integrality, rows of linear constraints."""

    def __init__(self) -> None:
        self.lo: list[float] = []
        self.hi: list[float] = []
        self.integer: list[int] = []
        self.rows: list[tuple[dict[int, float], float, float]] = []

    def var(self, lo: float, hi: float, integer: bool) -> int:
        self.lo.append(lo)
        self.hi.append(hi)
        self.integer.append(int(integer))
        return len(self.lo) - 1

    def row(self, coef: dict[int, float], lo: float, hi: float) -> None:
        self.rows.append((coef, lo, hi))

    def solve(self, time_limit: float, objective: dict[int, float] | None = None):
        """(status, x, the objective's best value found, a proven bound on it): status "optimal",
        "feasible" (time limit with a solution), "infeasible" or "unknown"; minimises."""
        n = len(self.lo)
        a = lil_matrix((len(self.rows), n))
        lb, ub = np.empty(len(self.rows)), np.empty(len(self.rows))
        for r, (coef, lo, hi) in enumerate(self.rows):
            for j, c in coef.items():
                a[r, j] = c
            lb[r], ub[r] = lo, hi
        c = np.zeros(n)
        for j, v in (objective or {}).items():
            c[j] = v
        for presolve in (True, False):  # HiGHS's presolve ends some small models in a solve error
            res = milp(c, integrality=np.array(self.integer), bounds=Bounds(self.lo, self.hi),
                       constraints=LinearConstraint(a.tocsr(), lb, ub),
                       options={"time_limit": time_limit, "mip_rel_gap": 0.0, "presolve": presolve})
            if res.status != 4:
                break
        bound = getattr(res, "mip_dual_bound", None)
        if res.status == 2:
            return "infeasible", None, None, None
        if res.x is not None and res.status in (0, 1):
            return ("optimal" if res.status == 0 else "feasible"), res.x, res.fun, bound
        return "unknown", None, None, bound


def _max_of(p: _Program, u: int, u_lo: int, u_hi: int, c: int) -> tuple[int, int, int]:
    """A variable equal to max(u, c) and its bounds."""
    if u_lo >= c:
        return u, u_lo, u_hi
    if u_hi <= c:
        return p.var(c, c, True), c, c
    v, b = p.var(c, u_hi, True), p.var(0, 1, True)
    p.row({v: 1, u: -1}, 0, np.inf)  # v >= u
    p.row({v: 1, u: -1, b: -(c - u_lo)}, -np.inf, 0)  # b = 0: v <= u
    p.row({v: 1, b: u_hi - c}, -np.inf, u_hi)  # b = 1: v <= c
    return v, c, u_hi


def _min_of(p: _Program, u: int, u_lo: int, u_hi: int, c: int) -> tuple[int, int, int]:
    """A variable equal to min(u, c) and its bounds."""
    if u_hi <= c:
        return u, u_lo, u_hi
    if u_lo >= c:
        return p.var(c, c, True), c, c
    v, b = p.var(u_lo, c, True), p.var(0, 1, True)
    p.row({v: 1, u: -1}, -np.inf, 0)  # v <= u
    p.row({v: 1, u: -1, b: u_hi - c}, 0, np.inf)  # b = 0: v >= u
    p.row({v: 1, b: -(c - u_lo)}, u_lo, np.inf)  # b = 1: v >= c
    return v, u_lo, c


def _layer(p: _Program, spec: Dense, kernel: np.ndarray, bias: np.ndarray, xs: list[tuple[int, int, int]],
           x_frac: int, units: list[int] | None, last: bool,
           known: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[list[tuple[int, int, int]], dict[int, int]]:
    """Add one layer (the units listed, all by default); (its results as (var, lo, hi), the
    accumulator variable of each unit). `known`: proven accumulator bounds (tighter big-M)."""
    sh = spec.accum.frac - x_frac - spec.weight.frac
    bsh = spec.accum.frac - spec.bias.frac
    out: list[tuple[int, int, int]] = []
    accs: dict[int, int] = {}
    for j in units if units is not None else range(spec.units):
        coef: dict[int, float] = {}
        lo = hi = int(bias[j]) << bsh
        for i, (v, vlo, vhi) in enumerate(xs):
            w = int(kernel[i, j]) << sh
            if w:
                coef[v] = coef.get(v, 0) + w
                lo += min(w * vlo, w * vhi)
                hi += max(w * vlo, w * vhi)
        if known is not None:
            lo, hi = max(lo, int(known[0][j])), min(hi, int(known[1][j]))
        acc = p.var(lo, hi, True)
        coef[acc] = -1
        p.row(coef, -(int(bias[j]) << bsh), -(int(bias[j]) << bsh))  # sum w x - acc = -b
        accs[j] = acc
        if last:
            continue
        a, alo, ahi = (_max_of(p, acc, lo, hi, 0) if spec.activation == "relu" else (acc, lo, hi))
        k = spec.accum.frac - spec.result.frac
        if k <= 0:
            q, qlo, qhi = p.var(alo << -k, ahi << -k, True), alo << -k, ahi << -k
            p.row({q: 1, a: -(1 << -k)}, 0, 0)
        else:
            qlo, qhi = (alo >> k) - 1, (ahi >> k) + 1
            q = p.var(qlo, qhi, True)
            if spec.result.rounding == "RND_CONV":
                # a = 2**k q + r with |r| <= 2**(k-1); a tie (|r| = 2**(k-1)) only with q even:
                # q = 2 m + odd, and |r| <= 2**(k-1) - odd
                m, odd = p.var(math.floor(qlo / 2) - 1, math.ceil(qhi / 2) + 1, True), p.var(0, 1, True)
                p.row({q: 1, m: -2, odd: -1}, 0, 0)
                p.row({a: 1, q: -(1 << k), odd: 1}, -np.inf, 1 << (k - 1))
                p.row({a: 1, q: -(1 << k), odd: -1}, -(1 << (k - 1)), np.inf)
            else:
                p.row({a: 1, q: -(1 << k)}, 0, (1 << k) - 1)
        r = spec.result
        if r.overflow != "SAT" and (qlo < r.raw_min or qhi > r.raw_max):
            raise ValueError(f"{spec.name}: a wrapping cast is not modelled")
        v, vlo, vhi = _max_of(p, q, qlo, qhi, r.raw_min)
        out.append(_min_of(p, v, vlo, vhi, r.raw_max))
    return out, accs


def _program(layers: tuple, in_lo: np.ndarray, in_hi: np.ndarray, in_frac: int, layer: int, unit: int,
             known: list | None) -> tuple[_Program, list[int], int]:
    """The chain up to unit `unit` of layer `layer`: (program, input variables, its accumulator)."""
    p = _Program()
    xs = [(p.var(int(a), int(b), True), int(a), int(b)) for a, b in zip(in_lo, in_hi, strict=True)]
    inputs = [v for v, _, _ in xs]
    frac = in_frac
    for k, ly in enumerate(layers[: layer + 1]):
        final = k == layer
        xs, accs = _layer(p, ly.spec, ly.kernel, ly.bias, xs, frac, [unit] if final else None, final,
                          known[k] if known is not None and k < len(known) else None)
        frac = ly.spec.result.frac
    return p, inputs, accs[unit]


def tighten(layers: tuple, in_lo: np.ndarray, in_hi: np.ndarray, in_frac: int, upto: int,
            time_limit: float = 10.0, log=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Proven accumulator bounds of every unit of layers 1..upto, layer by layer, each layer's
    program using the bounds already proven (its big-M constants): the least and largest value of
    each accumulator (exact where HiGHS closes the gap in time, else its proven bound). The first
    layer's interval bounds are exact already (its inputs vary independently)."""
    known: list[tuple[np.ndarray, np.ndarray]] = []
    for k in range(upto + 1):
        n = layers[k].spec.units
        lo, hi = np.zeros(n, dtype=object), np.zeros(n, dtype=object)
        for j in range(n):
            for sign, out in ((1, lo), (-1, hi)):
                p, _, acc = _program(layers, in_lo, in_hi, in_frac, k, j, known)
                if k == 0:
                    out[j] = p.lo[acc] if sign == 1 else p.hi[acc]
                    continue
                status, _, fun, bound = p.solve(time_limit, {acc: sign})
                if status == "infeasible":
                    raise ValueError(f"{layers[k].spec.name}[{j}]: the chain's program has no solution")
                best = bound if bound is not None and math.isfinite(bound) else (fun if status == "optimal" else None)
                if best is None:  # nothing proven: keep the interval bound
                    out[j] = p.lo[acc] if sign == 1 else p.hi[acc]
                else:  # sign * acc >= best: acc >= ceil(best) or acc <= floor(-best), less a tolerance
                    out[j] = math.ceil(best - 1e-6) if sign == 1 else math.floor(-best + 1e-6)
        known.append((lo, hi))
        if log:
            log(f"exact bounds: {layers[k].spec.name}: {n} units")
    return known


def reach(layers: tuple, in_lo: np.ndarray, in_hi: np.ndarray, in_frac: int, layer: int, unit: int,
          lo: int, hi: int, time_limit: float = 20.0, known: list | None = None) -> Outcome:
    """Whether some integer inputs in [in_lo, in_hi] put unit `unit` of layer `layer` (of the
    chain `layers`, fixed_ref.IntLayer) at an accumulator value (post-sum, raw) in [lo, hi].
    `known`: proven bounds of the layers before (tighten), which speed the search up."""
    p, inputs, acc = _program(layers, in_lo, in_hi, in_frac, layer, unit, known)
    p.lo[acc], p.hi[acc] = max(p.lo[acc], lo), min(p.hi[acc], hi)
    if p.lo[acc] > p.hi[acc]:
        return Outcome("infeasible")
    status, x, _, _ = p.solve(time_limit)
    if status in ("infeasible", "unknown"):
        return Outcome(status)
    return Outcome("feasible", np.rint(x[inputs]).astype(np.int64))
