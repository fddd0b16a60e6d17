"""The exact reachability programs (model/description/exact_bounds.py) against exhaustive enumeration: on a
small two-layer network whose every input vector can be tried, a window of the output layer's
accumulator is declared unreachable exactly when no input reaches it, and a solution found is a
real input that does."""

from __future__ import annotations

import itertools

import numpy as np

from model.description import exact_bounds
from model.description.design import Dense
from model.description.formats import parse
from model.fixed.fixed_ref import IntLayer


def _net(seed: int) -> tuple[IntLayer, IntLayer]:
    rng = np.random.default_rng(seed)
    hidden = Dense("h", 4, 3, "relu", parse("fixed<4,1>"), parse("fixed<4,1>"), parse("fixed<12,4>"),
                   parse("ufixed<3,1,RND_CONV,SAT>"))
    out = Dense("o", 3, 2, "linear", parse("fixed<4,1>"), parse("fixed<4,1>"), parse("fixed<12,5>"),
                parse("fixed<4,1,RND_CONV,SAT>"))
    return (IntLayer(hidden, rng.integers(-8, 8, (4, 3)), rng.integers(-8, 8, 3)),
            IntLayer(out, rng.integers(-8, 8, (3, 2)), rng.integers(-8, 8, 2)))


def _accumulators(layers: tuple[IntLayer, IntLayer], x: np.ndarray, frac: int) -> np.ndarray:
    """The output layer's accumulators by model.fixed.fixed_ref's arithmetic (IntLayer), for every row."""
    first, second = layers
    h = first(x, frac)
    s = second.spec
    return (h @ second.kernel << (s.accum.frac - first.spec.result.frac - s.weight.frac)) + (
        second.bias << (s.accum.frac - s.bias.frac))


def test_reach_agrees_with_enumeration() -> None:
    frac, top = 2, 3  # inputs ufixed<2,0>: codes 0..3
    x = np.array(list(itertools.product(range(top + 1), repeat=4)), dtype=np.int64)
    checked = {"infeasible": 0, "feasible": 0}
    for seed in range(4):
        layers = _net(seed)
        acc = _accumulators(layers, x, frac)
        for unit in range(2):
            seen = set(acc[:, unit].tolist())
            lo, hi = min(seen), max(seen)
            # every value from below the least to above the largest, one at a time: gaps included
            for v in range(lo - 2, hi + 3):
                out = exact_bounds.reach(layers, np.zeros(4, int), np.full(4, top), frac, 1, unit, v, v)
                assert out.status == ("feasible" if v in seen else "infeasible"), (seed, unit, v, out.status)
                checked[out.status] += 1
                if out.status == "feasible":
                    assert _accumulators(layers, out.x[None, :], frac)[0, unit] == v
    assert checked["infeasible"] > 10 and checked["feasible"] > 10, checked
