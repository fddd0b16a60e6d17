"""cocotb tests of a design's RTL against its golden vectors (bit-exact).

Every width and output field comes from the design and the RTL metadata, and is checked against
the DUT's own ports before any vector is driven.

`regression` streams every golden vector back to back; the other tests stress the protocol:
random input-valid gaps, reset with tracks in flight, the anomaly flag around its threshold,
quiet outputs when idle, and (under Icarus, which is 4-state) no X on any output after reset.
"""

from __future__ import annotations

import json
import os
import random
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

from hw import golden as G
from hw import rtl as R
from model.description import design as D
from model.fixed import fixed_ref
from tb import env
from tb.protocol import Monitor, Scoreboard, pack_inputs, stream

# Under Icarus (about 45 cycles/s) the protocol tests run on this many vectors.
SLOW_SIM_VECTORS = 48


def setup(dut):
    meta = R.load_meta(env.path(env.RTL))
    design = D.load(env.path(env.DESIGN))
    g = G.load(env.path(env.GOLDEN), design, expected_hash=meta.model_hash)
    clock_ns = float(os.environ[env.CLOCK_NS])  # resolved by tb.runner (hw.clock)
    # The DUT's ports must be the design's: a wrong width would make every comparison meaningless.
    want = {"in_data": design.input_bits, **{f.port: f.bits for f in design.fields}}
    if design.has_score:  # a design without a score has no threshold port
        want["score_threshold"] = design.score_format.width
    got = {name: len(getattr(dut, name)) for name in want}
    assert got == want, f"DUT ports {got} differ from design {design.name}: {want}"
    return meta, g, clock_ns


def words(g: G.Golden, rows: np.ndarray) -> list[int]:
    fmt = g.design.input_format  # signed inputs go on the port as their two's-complement bits
    return pack_inputs(fmt.to_unsigned_bits(g.x[rows]), fmt.width)


def subset(g: G.Golden, sim: str) -> np.ndarray:
    """All vectors (or this shard's) under Verilator; under a slow simulator an even spread over every set."""
    if "verilator" not in sim.lower():
        return np.linspace(0, len(g) - 1, SLOW_SIM_VECTORS).astype(int)
    idx = np.arange(len(g))
    shard = os.environ.get(env.SHARD)
    if shard:  # CI matrices and pytest-xdist split the regression this way
        k, n = map(int, shard.split("/"))
        idx = idx[idx % n == k]
    return idx


async def reset(dut, cycles: int) -> None:
    """Hold rst over `cycles` rising edges, release it at a falling edge.

    Rising edges are counted, not falling ones: the clock's first falling "edge" is its start
    from X to 0 in a 4-state simulator, before any rising edge could sample the reset.
    """
    dut.rst.value = 1
    for _ in range(cycles):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0


def threshold_bits(g: G.Golden, raw: int) -> int:
    """The threshold port carries the score format's bit pattern (two's complement when signed)."""
    return int(g.design.score_format.to_unsigned_bits(int(raw)))


async def start(dut, clock_ns: float, threshold_bits: int) -> None:
    Clock(dut.clk, clock_ns, unit="ns").start(start_high=False)
    dut.in_valid.value = 0
    dut.in_data.value = 0
    if hasattr(dut, "score_threshold"):  # absent when the design has no score
        dut.score_threshold.value = threshold_bits
    await reset(dut, 2)


def field_diffs(g: G.Golden, board: Scoreboard, idx: np.ndarray, threshold: np.ndarray | None = None) -> list[str]:
    """Every output field that differs from golden (with an optional threshold per offered track)."""
    pos = np.array([i for i, _ in board.matched], dtype=np.int64)
    sub = g.subset(idx[pos])
    if threshold is not None:  # a threshold per offered track instead of the manifest's
        sub.y = sub.y.copy()
        sub.y[:, -1] = fixed_ref.decision(sub.score, threshold[pos])
    y = np.array([o.values for _, o in board.matched], dtype=np.int64).reshape(len(pos), len(g.design.output_columns))
    return G.diff_against(sub, y, "RTL")


def compare(g: G.Golden, board: Scoreboard, idx: np.ndarray, threshold: np.ndarray | None = None) -> list[str]:
    """Scoreboard (protocol) errors, then output field differences."""
    return board.errors + field_diffs(g, board, idx, threshold)


def report(errors: list[str]) -> None:
    results = env.path(env.RESULTS)
    if errors and not results.exists():  # lets the runner name the first problems in its exception
        results.write_text(json.dumps({"first_mismatches": errors[:20]}, indent=2) + "\n")
    assert not errors, f"{len(errors)} problems; first: " + " | ".join(errors[:5])


@cocotb.test()
async def regression(dut) -> None:
    """Stream every golden vector back to back (II = 1) and compare each output bit for bit."""
    meta, g, clock_ns = setup(dut)
    budget_ns = float(os.environ.get(env.BUDGET_NS, 25.0))
    idx = subset(g, cocotb.SIM_NAME)
    await start(dut, clock_ns, threshold_bits(g, g.threshold_raw))
    board = Scoreboard(meta.latency_cycles)
    t0 = time.perf_counter()
    cycles = await stream(dut, Monitor(dut, meta), words(g, idx), lambda c: True, board)
    wall = time.perf_counter() - t0
    diffs = field_diffs(g, board, idx)
    errors = board.errors + diffs
    out_cycles = [o.cycle for _, o in board.matched]
    latency = meta.latency_cycles
    results = {
        "design": g.design.name,
        "simulator": cocotb.SIM_NAME,
        "vectors": len(board.matched),
        "mismatched_vectors": len({G.diff_vector(d) for d in diffs}),
        "mismatched_fields": len(diffs),
        "protocol_errors": len(board.errors),
        "latency_cycles": latency,
        "latency_ns": latency * clock_ns,
        "budget_ns": budget_ns,
        "clock_period_ns": clock_ns,
        "initiation_interval": 1 if np.all(np.diff(out_cycles) == 1) else None,
        "cycles": cycles,
        "cycles_per_s": cycles / wall,
        "first_mismatches": errors[:20],
    }
    env.path(env.RESULTS).write_text(json.dumps(results, indent=2) + "\n")
    assert len(board.matched) == len(idx), f"{len(idx)} tracks offered, {len(board.matched)} outputs"
    report(errors)
    assert latency * clock_ns <= budget_ns, (
        f"latency {latency} cycles x {clock_ns} ns = {latency * clock_ns} ns exceeds the {budget_ns} ns budget"
    )


@cocotb.test()
async def random_gaps(dut) -> None:
    """Random input-valid gaps for several seeds: outputs in order, none lost, none duplicated."""
    meta, g, clock_ns = setup(dut)
    idx = subset(g, cocotb.SIM_NAME)
    await start(dut, clock_ns, threshold_bits(g, g.threshold_raw))
    cycle, errors = 0, []
    base = int(os.environ.get(env.SEED, "1"))
    for seed in range(base, base + 4):
        rng = random.Random(seed)
        p_valid = rng.choice([0.2, 0.5, 0.8])
        order = np.array(rng.sample(range(len(idx)), min(len(idx), 600)))
        board = Scoreboard(meta.latency_cycles)
        cycle = await stream(dut, Monitor(dut, meta), words(g, idx[order]),
                             lambda c, r=rng, p=p_valid: r.random() < p, board, start_cycle=cycle)
        errors += [f"seed {seed}: {e}" for e in compare(g, board, idx[order])]
        if len(board.matched) != len(order):
            errors.append(f"seed {seed}: {len(order)} tracks offered, {len(board.matched)} outputs")
    report(errors)


@cocotb.test()
async def reset_in_flight(dut) -> None:
    """Reset with tracks in the pipeline: none of them may come out; tracks after reset are exact."""
    meta, g, clock_ns = setup(dut)
    idx = subset(g, cocotb.SIM_NAME)[:40]
    await start(dut, clock_ns, threshold_bits(g, g.threshold_raw))
    lat = meta.latency_cycles
    errors: list[str] = []
    for hold in (1, 2, lat + 2):  # a one-cycle pulse, two cycles, and longer than the pipeline
        board = Scoreboard(lat)
        offered = words(g, idx)
        # Fill the pipeline without draining, then assert reset while tracks are in flight.
        cycle = await stream(dut, Monitor(dut, meta), offered[: lat - 1 if lat > 1 else 1], lambda c: True, board,
                             drain=False)
        board.flush()
        dut.rst.value = 1
        for _ in range(hold):
            await FallingEdge(dut.clk)
            cycle += 1
            if int(dut.out_valid.value):
                errors.append(f"reset held {hold}: out_valid high during reset")
        dut.rst.value = 0
        for _ in range(lat + 2):  # anything accepted before the reset would surface now
            await FallingEdge(dut.clk)
            cycle += 1
            if int(dut.out_valid.value):
                errors.append(f"reset held {hold}: stale output at edge {cycle} after reset")
        board = Scoreboard(lat)
        await stream(dut, Monitor(dut, meta), offered, lambda c: True, board, start_cycle=cycle)
        errors += [f"after reset ({hold}): {e}" for e in compare(g, board, idx)]
    report(errors)


@cocotb.test()
async def threshold_flag(dut) -> None:
    """The anomaly flag at, just below and just above each track's score (score > threshold)."""
    meta, g, clock_ns = setup(dut)
    if not g.design.has_score:
        return  # no score, no flag
    idx = subset(g, cocotb.SIM_NAME)[:300]
    await start(dut, clock_ns, 0)
    deltas = (-1, 0, 1)
    scores = g.score[idx]
    # The output appearing at edge c + latency belongs to the track accepted at edge c; set the
    # threshold for it one cycle ahead (the flag compares combinationally at the output).
    fmt = g.design.score_format
    thresholds = np.clip(scores + np.resize(deltas, len(idx)), fmt.raw_min, fmt.raw_max)
    lat = meta.latency_cycles

    def set_threshold(cycle: int) -> None:
        k = cycle - lat  # index of the track whose output is sampled after this cycle's edge
        dut.score_threshold.value = threshold_bits(g, thresholds[k] if 0 <= k < len(idx) else 0)

    board = Scoreboard(lat)
    await stream(dut, Monitor(dut, meta), words(g, idx), lambda c: True, board, each_cycle=set_threshold)
    report(compare(g, board, idx, threshold=thresholds))
    flags = [o.values[-1] for _, o in board.matched]
    assert {0, 1} <= set(flags), "the threshold sweep must exercise both flag values"


@cocotb.test()
async def quiet_when_idle_and_no_x(dut) -> None:
    """After reset, every output is a known value on every cycle, and zero while out_valid is low.

    Verilator is 2-state, so the X part only bites under Icarus; the zero check runs everywhere.
    """
    meta, g, clock_ns = setup(dut)
    idx = subset(g, cocotb.SIM_NAME)[:24]
    Clock(dut.clk, clock_ns, unit="ns").start(start_high=False)
    dut.in_valid.value = 0
    if g.design.has_score:
        dut.score_threshold.value = threshold_bits(g, g.threshold_raw)
    await reset(dut, 1)  # a single reset edge; in_data left undriven (X in a 4-state simulator) on purpose
    errors: list[str] = []
    offered = words(g, idx)
    outputs = [f.port for f in g.design.fields]
    for cycle in range(len(offered) + 3 * meta.latency_cycles):
        offer = cycle % 3 == 0 and cycle // 3 < len(offered)
        dut.in_valid.value = int(offer)
        if offer:
            dut.in_data.value = offered[cycle // 3]
        await FallingEdge(dut.clk)
        for name in ("out_valid", *outputs):
            if not getattr(dut, name).value.is_resolvable:
                errors.append(f"edge {cycle + 1}: {name} = {getattr(dut, name).value} (X or Z after reset)")
        idle = not errors and not int(dut.out_valid.value)
        if idle and any(int(getattr(dut, name).value) for name in outputs):
            errors.append(f"edge {cycle + 1}: outputs not zero while out_valid is low")
    report(errors)


@cocotb.test()
async def single_track(dut) -> None:
    """One chosen golden vector (env PIXVAE_TRACK) after reset and idle cycles, for waveforms."""
    meta, g, clock_ns = setup(dut)
    track = int(os.environ.get(env.TRACK, "0"))
    rows = np.flatnonzero(g.ids == track)
    assert rows.size == 1, f"vector {track} is not in {g.path}"
    await start(dut, clock_ns, threshold_bits(g, g.threshold_raw))
    for _ in range(2):
        await FallingEdge(dut.clk)
    board = Scoreboard(meta.latency_cycles)
    await stream(dut, Monitor(dut, meta), words(g, rows), lambda c: True, board)
    for _ in range(3):
        await FallingEdge(dut.clk)
    report(compare(g, board, rows))
