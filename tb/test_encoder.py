"""cocotb tests of the pixel encoder RTL against the golden vectors (bit-exact).

Timing convention: inputs are written and outputs sampled at the falling edge, so every value
is stable when read and is captured by the next rising edge. A track written before rising edge
a is accepted at edge a; its output is seen after rising edge a + latency.
"""

from __future__ import annotations

import json
import os
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from hw import golden as G
from hw import rtl as R
from tb import env
from tb.protocol import Observed, pack_inputs, unpack_mu


async def start(dut, clock_ns: float, threshold_raw: int) -> None:
    Clock(dut.clk, clock_ns, unit="ns").start(start_high=False)
    dut.rst.value = 1
    dut.in_valid.value = 0
    dut.in_data.value = 0
    dut.score_threshold.value = threshold_raw
    for _ in range(3):
        await FallingEdge(dut.clk)
    dut.rst.value = 0


def sample(dut, cycle: int) -> Observed | None:
    if not int(dut.out_valid.value):
        return None
    return Observed(cycle, unpack_mu(dut.out_mu.value.to_unsigned()), dut.out_score.value.to_unsigned(),
                    int(dut.out_flag.value))


@cocotb.test()
async def regression(dut) -> None:
    """Stream every golden vector back to back (II = 1) and compare each output bit for bit."""
    meta = R.load_meta(env.path(env.RTL))
    g = G.load(env.path(env.GOLDEN), expected_hash=meta.model_hash)
    clock_ns = float(os.environ.get(env.CLOCK_NS, meta.clock_period_ns))
    budget_ns = float(os.environ.get(env.BUDGET_NS, 25.0))
    words = pack_inputs(g.x)
    await start(dut, clock_ns, g.threshold_raw)

    accepted: list[int] = []
    seen: list[Observed] = []
    cycle = 0
    t0 = time.perf_counter()
    n, limit = len(words), len(words) + meta.latency_cycles + 50
    while cycle < limit and len(seen) < n:
        if cycle < n:
            dut.in_valid.value = 1
            dut.in_data.value = words[cycle]
        else:
            dut.in_valid.value = 0
        await FallingEdge(dut.clk)
        cycle += 1  # one rising edge has passed
        if cycle <= n:
            accepted.append(cycle)
        obs = sample(dut, cycle)
        if obs is not None:
            seen.append(obs)
    wall = time.perf_counter() - t0

    assert len(seen) == n, f"{n} tracks accepted, {len(seen)} outputs seen (lost or duplicated outputs)"
    latencies = np.array([o.cycle - a for o, a in zip(seen, accepted, strict=True)])
    mu = np.array([o.mu for o in seen], dtype=np.int64)
    score = np.array([o.score for o in seen], dtype=np.int64)
    flag = np.array([o.flag for o in seen], dtype=np.int64)
    diffs = G.diff_against(g, mu, score, flag, "RTL")
    latency = int(latencies.max())
    results = {
        "vectors": n,
        "mismatched_vectors": len({d.split()[1] for d in diffs}),
        "mismatched_fields": len(diffs),
        "latency_cycles": latency,
        "latency_ns": latency * clock_ns,
        "budget_ns": budget_ns,
        "clock_period_ns": clock_ns,
        "initiation_interval": 1 if np.all(np.diff([o.cycle for o in seen]) == 1) else None,
        "cycles": cycle,
        "cycles_per_s": cycle / wall,
        "first_mismatches": diffs[:20],
    }
    env.path(env.RESULTS).write_text(json.dumps(results, indent=2) + "\n")
    assert not diffs, f"{len(diffs)} output fields differ; first: " + " | ".join(diffs[:5])
    assert np.all(latencies == meta.latency_cycles), f"latency varies: {sorted(set(latencies.tolist()))} cycles"
    assert latency * clock_ns <= budget_ns, (
        f"latency {latency} cycles x {clock_ns} ns = {latency * clock_ns} ns exceeds the {budget_ns} ns budget"
    )
