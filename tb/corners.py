"""Corner vectors derived from a design: functional-coverage targets of its integer model, and a
directed search for input codes that hit them.

Targets (each an interval of one observable of model.fixed.fixed_ref's integer model, on the post-wrap
accumulator where a layer's result is meant, so a ReLU's flat zero does not hide the way up):
- every saturating cast of every layer (encoder and [check]): each unit at its high rail and one
  step inside it, and for a signed result at its low rail and one step inside;
- every ReLU unit active (accumulator > 0) and inactive (<= 0);
- every output field's extremes: the last layer's units at the top and bottom of their
  reachable interval when that is not a rail; a kl score's least and largest bound;
- the decision 0 and 1, and the score at, one below and one above the threshold;
- a JointVAE's lookup tables (model/fixed/kl_discrete.py): every entry of each logit's exp and d*exp
  tables (indexed by d = max(a) - a) and of the ln and 1/x tables (indexed by the truncated sum).

A target outside the interval analysis's bound (model/description/ranges.py, with the weights) is proven
unreachable; one inside is hit by a vector or reported missed. The search is a greedy coordinate
descent over the input codes, every single-input change tried at once (one batch through the
network), restarted from the vectors nearest the target. What it misses of a layer's targets goes
to an exact mixed-integer program of the chain (model/description/exact_bounds.py, HiGHS): infeasible is a
proof that the target cannot be reached ("proven unreachable by HiGHS"), a solution is a vector
(kept only when the integer model confirms it), a time-out leaves the target missed.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from model.description import exact_bounds, ranges
from model.description.design import Dense, Design
from model.fixed import fixed_ref, kl_discrete
from model.fixed.fixed_ref import IntegerNetwork


@dataclass
class Target:
    name: str
    group: str  # rail, relu, field, score, decision, threshold, table
    key: str  # the observable (see observe)
    col: int
    lo: int  # hit when lo <= observable <= hi
    hi: int
    reachable: bool  # inside the interval analysis's bound (else proven unreachable)
    lsb: int = 1  # raw units of the observable per LSB of what the target is about (a layer's result)


def _acc_interval(spec: Dense, r_lo: int, r_hi: int) -> tuple[int, int]:
    """The post-wrap accumulator values whose result (ReLU, cast) lies in [r_lo, r_hi]; the cast is
    monotone, so two binary searches over the accumulator's range."""
    acc = spec.accum

    def f(a: int) -> int:
        return ranges.cast_int(max(a, 0) if spec.activation == "relu" else a, acc.frac, spec.result)

    def first(pred) -> int:  # smallest a in the accumulator's range with pred(a), else raw_max + 1
        lo, hi = acc.raw_min, acc.raw_max + 1
        while lo < hi:
            mid = (lo + hi) // 2
            if pred(mid):
                hi = mid
            else:
                lo = mid + 1
        return lo

    return first(lambda a: f(a) >= r_lo), first(lambda a: f(a) > r_hi) - 1


def _tables(design: Design) -> list[tuple[int, int, int]]:
    """(group, categories, first column) of each categorical latent."""
    split = design.latent_split
    return [(g, s.stop - s.start, s.start) for g, s in enumerate(split.groups())] if split else []


def targets(net: IntegerNetwork, threshold: int, rg: ranges.Ranges | None = None) -> list[Target]:
    """Every coverage target of the network with its committed threshold (raw score)."""
    d = net.design
    rg = rg or ranges.analyse(d, net, tight=True)
    out: list[Target] = []
    for lr in rg.all_layers:
        s, a = lr.spec, lr.spec.accum
        key = f"{s.name}.acc"
        b_lo = np.where(lr.wraps, a.raw_min, np.maximum(lr.acc_lo, a.raw_min))
        b_hi = np.where(lr.wraps, a.raw_max, np.minimum(lr.acc_hi, a.raw_max))

        def add(name: str, group: str, j: int, lo: int, hi: int, spec: Dense = s, key: str = key,
                b_lo: np.ndarray = b_lo, b_hi: np.ndarray = b_hi) -> None:
            out.append(Target(f"{spec.name}[{j}] {name}", group, key, j, lo, hi,
                              lo <= hi and lo <= b_hi[j] and hi >= b_lo[j],
                              1 << max(spec.accum.frac - spec.result.frac, 0)))

        r = s.result
        rails = [("high rail", r.raw_max), ("one below the high rail", r.raw_max - 1)]
        if r.signed:
            rails += [("low rail", r.raw_min), ("one above the low rail", r.raw_min + 1)]
        for j in range(s.units):
            for name, v in rails:
                add(name, "rail", j, *_acc_interval(s, v, v))
            if s.activation == "relu":
                add("ReLU active", "relu", j, 1, a.raw_max)
                add("ReLU inactive", "relu", j, a.raw_min, 0)
        if lr is rg.layers[-1]:  # the output fields: a unit's reachable extreme that is not a rail
            for j in range(s.units):
                top, bottom = int(lr.out_hi[j]), int(lr.out_lo[j])
                if top < r.raw_max:
                    add(f"at its bound max {top}", "field", j, *_acc_interval(s, top, top))
                if bottom > r.raw_min:
                    add(f"at its bound min {bottom}", "field", j, *_acc_interval(s, bottom, bottom))
    lo, hi = rg.score_lo, rg.score_hi

    def score(name: str, group: str, t_lo: int, t_hi: int) -> None:
        out.append(Target(name, group, "score", 0, t_lo, t_hi, t_lo <= t_hi and t_lo <= hi and t_hi >= lo))

    if not d.has_score:  # the last layer's outputs are the design's outputs: its targets above
        return out
    if d.score != "network":
        score(f"score at its bound min {lo}", "field", lo, lo)
        score(f"score at its bound max {hi}", "field", hi, hi)
    score(f"{d.decision} 0", "decision", min(lo, threshold), threshold)
    score(f"{d.decision} 1", "decision", threshold + 1, max(hi, threshold + 1))
    for k in (-1, 0, 1):
        score(f"score at the threshold{'' if k == 0 else f' {k:+d}'}", "threshold", threshold + k, threshold + k)
    last = rg.layers[-1]
    ef, sf = d.exp_frac, d.sum_frac
    for g, k, c0 in _tables(d):
        a_lo, a_hi = last.out_lo[c0:c0 + k].astype(int), last.out_hi[c0:c0 + k].astype(int)
        r = last.spec.result
        # Every logit's d reads its own instance of the same two tables (one ROM module, hw/rtl.py):
        # an entry is covered when any logit reads it (col -1: any column).
        d_hi = max(int(max(a_hi)) - int(a_lo[i]) for i in range(k))  # d_i = max(a) - a_i
        for v in range(r.raw_max - r.raw_min + 1):
            out.append(Target(f"kl{g} exp and d*exp tables at d={v}", "table", f"kl{g}.d", -1, v, v, v <= d_hi))
        d_max = (r.raw_max - r.raw_min) * 2.0**-r.frac
        d_big = (max(int(max(a_hi)) - int(x) for x in a_lo)) * 2.0**-r.frac
        sh = ef - sf
        s_fmt = ((1 << ef) + (k - 1) * int(kl_discrete.exp_table(np.array([d_max]), ef)[0])) >> sh
        s_lo = ((1 << ef) + (k - 1) * int(kl_discrete.exp_table(np.array([d_big]), ef)[0])) >> sh
        s_hi = (k << ef) >> sh
        for v in range(s_fmt, s_hi + 1):
            out.append(Target(f"kl{g} ln and 1/x tables at s={v}", "table", f"kl{g}.s", 0, v, v, s_lo <= v <= s_hi))
    return out


def _matmul(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Exact integer x @ k through float64 (BLAS) while every term is below 2**52, else int64."""
    bound = np.abs(x).max(initial=0) * np.abs(k).sum(axis=0).max(initial=0)
    if bound < 2**52:
        return np.rint(x.astype(np.float64) @ k.astype(np.float64)).astype(np.int64)
    return x.astype(np.int64) @ k.astype(np.int64)


def _chain(layers: tuple, x: np.ndarray, frac: int, obs: dict[str, np.ndarray],
           move: tuple | None = None) -> np.ndarray:
    """fixed_ref.IntLayer's arithmetic, keeping each layer's post-wrap accumulator. `move` = (x0,
    i, v): every row of x is x0 with input i[r] set to v[r], so the first layer's products are
    x0's plus one row of the kernel each (the search's batches)."""
    for k, ly in enumerate(layers):
        s = ly.spec
        if k == 0 and move is not None:
            x0, i, v = move
            kern = ly.kernel.astype(np.int64)
            prod = (x0 @ kern)[None, :] + (v - x0[i])[:, None] * kern[i]
        else:
            prod = _matmul(x, ly.kernel)
        acc = prod << (s.accum.frac - frac - s.weight.frac)
        acc = fixed_ref.wrap(acc + (ly.bias.astype(np.int64) << (s.accum.frac - s.bias.frac)), s.accum)
        obs[f"{s.name}.acc"] = acc
        x = fixed_ref.cast(np.maximum(acc, 0) if s.activation == "relu" else acc, s.accum.frac, s.result)
        obs[f"{s.name}.out"] = x
        frac = s.result.frac
    return x


def observe(net: IntegerNetwork, x: np.ndarray, key: str | None = None,
            move: tuple | None = None) -> dict[str, np.ndarray]:
    """Every observable of the targets for (n, n_inputs) codes: each layer's accumulator and
    result, the score (raw), and per categorical latent the d values and the tables' sum index.
    With `key`, a layer's observable: only that layer's chain (encoder or check) is computed.
    `move` = (x0, i, v): x is x0 with one input changed per row (_chain)."""
    d = net.design
    x = np.asarray(x, dtype=np.int64)
    obs: dict[str, np.ndarray] = {}
    cmove = None
    if move is not None and d.check is not None:
        cs = d.input_format.frac - d.check.input_frac
        cmove = (move[0] >> cs, move[1], move[2] >> cs)
    if key is not None and key.endswith(".acc"):
        if any(key == f"{ly.spec.name}.acc" for ly in net.layers):
            _chain(net.layers, x, d.input_format.frac, obs, move)
            return obs
        if any(key == f"{ly.spec.name}.acc" for ly in net.check):
            _chain(net.check, fixed_ref.check_inputs(d, x), d.check.input_frac, obs, cmove)
            return obs
    last = _chain(net.layers, x, d.input_format.frac, obs, move)
    if not d.has_score:
        return obs
    if d.score == "network":
        score = last[:, 0]
    else:
        frac = d.score_format.frac
        mu = last[:, : d.latent_split.continuous]
        score = np.sum(mu**2, axis=1) << (frac - 2 * d.layers[-1].result.frac - 1)
        score = score + kl_discrete.total_raw(d, last)
        if d.dip_shift is not None:
            score = score + (fixed_ref.profile_dips(d, x) << (d.dip_shift + frac))
        if d.check is not None:
            c = fixed_ref.check_inputs(d, x)
            pred = _chain(net.check, c, d.check.input_frac, obs, cmove)
            score = score + (np.maximum(pred - c[:, : d.check.n_profile], 0).sum(axis=1) << (d.check.shift + frac))
    obs["score"] = score[:, None]
    f_a, ef, sf = d.layers[-1].result.frac, d.exp_frac, d.sum_frac
    for g, k, c0 in _tables(d):
        a = last[:, c0:c0 + k]
        dd = a.max(axis=1, keepdims=True) - a
        obs[f"kl{g}.d"] = dd
        obs[f"kl{g}.s"] = (kl_discrete.exp_table(dd * 2.0**-f_a, ef).sum(axis=1) >> (ef - sf))[:, None]
    return obs


class _Index:
    """The targets grouped by observable, for vectorised hit tests and distances."""

    def __init__(self, tg: list[Target]) -> None:
        self.n = len(tg)
        by: dict[str, list[int]] = {}
        for i, t in enumerate(tg):
            by.setdefault(t.key, []).append(i)
        self.groups = {k: (np.array(ix), np.array([tg[i].col for i in ix]), np.array([tg[i].lo for i in ix]),
                           np.array([tg[i].hi for i in ix])) for k, ix in by.items()}

    def hits(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """(n vectors, n targets) booleans."""
        n = len(next(iter(obs.values())))
        out = np.zeros((n, self.n), dtype=bool)
        for key, (ix, col, lo, hi) in self.groups.items():
            one = col >= 0
            v = obs[key][:, col[one]]
            out[:, ix[one]] = (v >= lo[one]) & (v <= hi[one])
            if not one.all():  # any column of the observable within the target's interval
                v = obs[key][:, :, None]
                out[:, ix[~one]] = ((v >= lo[~one]) & (v <= hi[~one])).any(axis=1)
        return out


def _distance(obs: dict[str, np.ndarray], t: Target) -> np.ndarray:
    v = obs[t.key].astype(np.float64) if t.col < 0 else obs[t.key][:, [t.col]].astype(np.float64)
    return (np.maximum(t.lo - v, 0) + np.maximum(v - t.hi, 0)).min(axis=1)  # col -1: the nearest column


def _moves(x: np.ndarray, top: int, rng: np.random.Generator) -> np.ndarray:
    """Every single-input change of x worth trying: all codes when there are few, else 0, the top,
    steps of +-2**k and a few random codes."""
    n = len(x)
    if top < 64:
        vals = np.tile(np.arange(top + 1), (n, 1))
    else:
        steps = np.array([2**k for k in range(int(np.log2(top)) + 1)])
        vals = np.concatenate([np.zeros((n, 1), int), np.full((n, 1), top), x[:, None] + steps, x[:, None] - steps,
                               rng.integers(0, top + 1, (n, 4))], axis=1)
        vals = np.clip(vals, 0, top)
    i, j = np.nonzero(vals != x[:, None])
    cand = np.repeat(x[None, :], len(i), axis=0)
    cand[np.arange(len(i)), i] = vals[i, j]
    return cand, (x, i, vals[i, j])


def _descend(net: IntegerNetwork, t: Target, x: np.ndarray, rng: np.random.Generator, steps: int = 60,
             sideways: int = 4) -> tuple[np.ndarray, float]:
    """Greedy coordinate descent on the target's distance from x: (the last vector, its distance;
    0 when it hits the target)."""
    top = net.design.input_format.raw_max
    cur = float(_distance(observe(net, x[None, :], t.key), t)[0])
    for _ in range(steps):
        if cur == 0:
            break
        cand, move = _moves(x, top, rng)
        dist = _distance(observe(net, cand, t.key, move), t)
        best = dist.min()
        if best < cur:
            x, cur = cand[rng.choice(np.flatnonzero(dist == best))], float(best)
        elif best == cur and sideways > 0:  # a plateau: one random step along it
            sideways -= 1
            x = cand[rng.choice(np.flatnonzero(dist == best))]
        else:
            break
    return x, cur


def _cover(hits: np.ndarray) -> list[int]:
    """A small set of rows covering every column any row covers (greedy set cover)."""
    need = hits.any(axis=0)
    chosen: list[int] = []
    h = hits.astype(np.int32)
    while need.any():
        gain = h[:, need].sum(axis=1)
        r = int(gain.argmax())
        chosen.append(r)
        need &= ~hits[r]
    return chosen


def _chain_of(net: IntegerNetwork, layer_name: str) -> tuple[tuple, int, np.ndarray, int, int]:
    """(chain, index of the layer in it, the chain's input bound (inputs 0..top), its input
    fraction bits, the shift from input codes to the chain's inputs) of a layer of the network."""
    d = net.design
    for k, ly in enumerate(net.layers):
        if ly.spec.name == layer_name:
            return net.layers, k, np.full(d.n_inputs, d.input_format.raw_max), d.input_format.frac, 0
    cs = d.input_format.frac - d.check.input_frac
    k = next(k for k, ly in enumerate(net.check) if ly.spec.name == layer_name)
    return net.check, k, np.full(d.n_inputs, d.input_format.raw_max >> cs), d.check.input_frac, cs


def _exact(net: IntegerNetwork, tg: list[Target], found: np.ndarray, rg: ranges.Ranges, log=None,
           time_limit: float = 5.0, budget: float | None = None) -> tuple[dict[str, str], list[np.ndarray], list[str]]:
    """The layer targets the search missed, settled by model/description/exact_bounds.py: (proven unreachable
    target -> proof, vectors that hit targets, targets whose program timed out)."""
    proven: dict[str, str] = {}
    vectors: list[np.ndarray] = []
    unknown: list[str] = []
    todo = [i for i, t in enumerate(tg) if t.reachable and not found[i] and t.key.endswith(".acc")]
    if not todo:
        return proven, vectors, unknown
    known = {lr.spec.name: (lr.acc_lo, lr.acc_hi) for lr in rg.all_layers}
    t0 = last_log = time.perf_counter()
    hit = np.zeros(len(tg), bool)
    idx = _Index(tg)
    for n, i in enumerate(todo):
        t = tg[i]
        if hit[i]:
            continue
        if log and time.perf_counter() - last_log > 10:
            last_log = time.perf_counter()
            log(f"corners: exact programs: {n} of {len(todo)}, {len(proven)} proven unreachable, "
                f"{len(vectors)} vectors, {last_log - t0:.0f} s")
        if budget is not None and time.perf_counter() - t0 > budget:
            unknown.append(t.name)
            continue
        chain, k, top, frac, cs = _chain_of(net, t.key[:-4])
        bounds = [known[ly.spec.name] for ly in chain[:k]]
        out = exact_bounds.reach(chain, np.zeros_like(top), top, frac, k, t.col, t.lo, t.hi, time_limit, bounds)
        if out.status == "infeasible":
            proven[t.name] = "proven unreachable by HiGHS (model/exact_bounds.py)"
            continue
        if out.status == "feasible":
            x = out.x << cs  # a check's inputs are the codes' top bits: any low bits do
            got = idx.hits(observe(net, x[None, :]))[0]
            if got[i]:
                vectors.append(x)
                hit |= got
                continue
        unknown.append(t.name)
    if log:
        log(f"corners: exact programs: {len(todo)} targets: {len(proven)} proven unreachable, "
            f"{len(vectors)} hit, {len(unknown)} open ({time.perf_counter() - t0:.0f} s)")
    return proven, vectors, unknown


def directed(net: IntegerNetwork, threshold: int, start: np.ndarray, seed: int = 5, n_random: int = 64,
             restarts: int = 2, log=None, exact_seconds: float = 30.0,
             exact_budget: float | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """A small set of input codes hitting every target the search reaches, searched from `start`
    (e.g. the other golden inputs) and random codes; (vectors, coverage of these vectors alone)."""
    t0 = time.perf_counter()
    d = net.design
    rng = np.random.default_rng(seed)
    top = d.input_format.raw_max
    rg = ranges.analyse(d, net, tight=True)  # the targets' bounds, and the exact programs' big-M constants
    tg = targets(net, threshold, rg)
    idx = _Index(tg)
    rand = rng.integers(0, top + 1, (n_random, d.n_inputs))
    pool = np.concatenate([np.asarray(start, dtype=np.int64).reshape(-1, d.n_inputs), rand,
                           np.zeros((1, d.n_inputs), int), np.full((1, d.n_inputs), top)])
    obs = observe(net, pool)
    hits = idx.hits(obs)
    found = hits.any(axis=0)
    extra: list[np.ndarray] = []
    todo = [i for i, t in enumerate(tg) if t.reachable and not found[i]]
    if log:
        log(f"corners: {d.name}: {len(tg)} targets, {sum(t.reachable for t in tg)} within the bounds, "
            f"{int(found.sum())} hit by the {len(pool)} starting vectors; searching {len(todo)}")
    extra_obs: list[dict[str, np.ndarray]] = []
    closest: dict[str, float] = {}  # a searched target: the least distance any descent reached
    last_log = time.perf_counter()
    # Nearest first; a target further the same way than one the search missed (the same unit or
    # table, every value seen on the near side of both) is not searched: reported missed.
    near = {i: float(_distance(obs, tg[i]).min()) / tg[i].lsb for i in todo}
    todo.sort(key=lambda i: near[i])
    up_from: dict[tuple[str, int], int] = {}  # missed from below at this lo: skip targets with lo >= it
    down_from: dict[tuple[str, int], int] = {}  # missed from above at this hi: skip targets with hi <= it
    not_searched = 0
    for n_done, i in enumerate(todo):
        if found[i]:
            continue
        t = tg[i]
        where = (t.key, t.col)
        if t.lo >= up_from.get(where, t.lo + 1) or t.hi <= down_from.get(where, t.hi - 1):
            closest[t.name] = near[i]
            not_searched += 1
            continue
        if log and time.perf_counter() - last_log > 10:
            last_log = time.perf_counter()
            log(f"corners: {d.name}: {n_done} of {len(todo)} searched, {int(found.sum())} targets hit, "
                f"{last_log - t0:.0f} s")
        seen = np.concatenate([pool, np.array(extra)]) if extra else pool
        dist = np.concatenate([_distance(obs, t), *(_distance(o, t) for o in extra_obs)])
        starts = [seen[j] for j in np.argsort(dist, kind="stable")[:restarts]]
        starts.append(rng.integers(0, top + 1, d.n_inputs))
        closest[t.name] = float(dist.min()) / t.lsb
        for s in starts:
            got, how_far = _descend(net, t, s.copy(), rng)
            closest[t.name] = min(closest[t.name], how_far / t.lsb)
            if how_far == 0:
                extra.append(got)
                extra_obs.append(observe(net, got[None, :]))
                found |= idx.hits(extra_obs[-1])[0]
                break
        else:  # missed: which side of it has the search seen?
            vals = [o[t.key] if t.col < 0 else o[t.key][:, [t.col]] for o in (obs, *extra_obs)]
            if max(int(v.max()) for v in vals) < t.lo:
                up_from[where] = min(up_from.get(where, t.lo), t.lo)
            elif min(int(v.min()) for v in vals) > t.hi:
                down_from[where] = max(down_from.get(where, t.hi), t.hi)
    proven, exact_x, unknown = _exact(net, tg, found, rg, log, time_limit=exact_seconds, budget=exact_budget)
    extra += exact_x
    allx = np.concatenate([pool, np.array(extra)]) if extra else pool
    chosen = _cover(idx.hits(observe(net, allx)))
    x = allx[sorted(chosen)]
    cov = functional_coverage(net, x, threshold, tg, proven)
    cov["milp_open"] = unknown  # the program timed out: neither hit nor proven
    # how near the search came to each target it missed: in LSBs of the layer's result for a
    # layer's target (distance of its accumulator / the result's LSB), in raw units of the score
    cov["missed_closest"] = {n: closest.get(n) for n in cov["missed_targets"]}
    cov["missed_not_searched"] = not_searched  # beyond a nearer missed target of the same observable
    cov["search_seconds"] = round(time.perf_counter() - t0, 2)
    if log:
        log(f"corners: {d.name}: {len(x)} vectors; {summary_line(cov)} ({cov['search_seconds']} s)")
    return x, cov


def functional_coverage(net: IntegerNetwork, x: np.ndarray, threshold: int,
                        tg: list[Target] | None = None, proven: dict[str, str] | None = None) -> dict[str, Any]:
    """Which targets the input codes x hit: counts (total, hit, unreachable, missed, per group) and
    each target with its status and the first vector (row of x) that hits it. `proven`: targets
    inside the interval bound that an exact program proved unreachable (the golden manifest's
    "proven_by_milp", written by directed), counted unreachable with that proof."""
    proven = proven or {}
    tg = tg if tg is not None else targets(net, threshold)
    x = np.asarray(x, dtype=np.int64).reshape(-1, net.design.n_inputs)
    hits = _Index(tg).hits(observe(net, x)) if len(x) else np.zeros((0, len(tg)), bool)
    first = np.where(hits.any(axis=0), hits.argmax(axis=0), -1)
    rows, count, by = [], Counter(), {}
    for i, t in enumerate(tg):
        status = "hit" if first[i] >= 0 else "unreachable" if not t.reachable or t.name in proven else "missed"
        if first[i] >= 0 and (not t.reachable or t.name in proven):
            raise AssertionError(f"{net.design.name}: target {t.name} hit but proven unreachable")
        count[status] += 1
        by.setdefault(t.group, Counter())[status] += 1
        rows.append({"target": t.name, "group": t.group, "status": status,
                     **({"vector": int(first[i])} if first[i] >= 0 else {})})
    return {"targets": len(tg), "hit": count["hit"], "unreachable": count["unreachable"], "missed": count["missed"],
            "vectors": len(x), "by_group": {g: dict(c) for g, c in by.items()},
            "missed_targets": [r["target"] for r in rows if r["status"] == "missed"],
            "proven_by_milp": {n: p for n, p in proven.items() if n in {r["target"] for r in rows}},
            "list": rows}


def summary_line(cov: dict[str, Any]) -> str:
    return (f"{cov['targets']} targets: {cov['hit']} hit, {cov['unreachable']} proven unreachable, "
            f"{cov['missed']} missed")
