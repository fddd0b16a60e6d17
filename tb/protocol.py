"""Port packing, and a cycle-level driver + monitor + in-order scoreboard for the cocotb tests.

Timing convention: inputs are written and outputs sampled at the falling edge, so every value
is stable when read and is captured by the next rising edge. A track written before rising edge
a is accepted at edge a; its output is seen after rising edge a + latency.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from cocotb.triggers import FallingEdge

from hw.rtl import RtlMeta


def pack_inputs(x: np.ndarray, width: int) -> list[int]:
    """(n, n_inputs) raw codes -> in_data words, input j in bits [width*j+width-1:width*j]."""
    shifts = [j * width for j in range(x.shape[1])]
    return [sum(int(v) << s for v, s in zip(row, shifts, strict=True)) for row in x]


def unpack(word: int, count: int, width: int, signed: bool) -> list[int]:
    """A port word -> `count` raw values of `width` bits (two's complement when signed)."""
    mask, sign = (1 << width) - 1, 1 << (width - 1)
    fields = [(word >> (j * width)) & mask for j in range(count)]
    return [v - (1 << width) if signed and v & sign else v for v in fields]  # plain ints (hot path)


@dataclass
class Observed:
    cycle: int  # rising-edge index after which out_valid was seen
    values: list[int]  # every output column of the design, raw, in design order


@dataclass
class Scoreboard:
    """Expects outputs in acceptance order, each exactly `latency` edges after its acceptance."""

    latency: int
    pending: deque[tuple[int, int]] = field(default_factory=deque)  # (accept edge, vector index)
    matched: list[tuple[int, Observed]] = field(default_factory=list)  # (vector index, output)
    errors: list[str] = field(default_factory=list)
    dropped: int = 0

    def accept(self, cycle: int, index: int) -> None:
        self.pending.append((cycle, index))

    def flush(self) -> None:
        """Reset: tracks in flight must never come out."""
        self.dropped += len(self.pending)
        self.pending.clear()

    def observe(self, obs: Observed) -> None:
        if not self.pending:
            self.errors.append(f"edge {obs.cycle}: out_valid with no track in flight (duplicate or stale output)")
            return
        cycle, index = self.pending.popleft()
        if obs.cycle - cycle != self.latency:
            self.errors.append(f"vector {index}: latency {obs.cycle - cycle} cycles, expected {self.latency}")
        self.matched.append((index, obs))

    def overdue(self, now: int) -> None:
        while self.pending and now - self.pending[0][0] > self.latency:
            cycle, index = self.pending.popleft()
            self.errors.append(f"vector {index} accepted at edge {cycle}: no output after {now - cycle} cycles (lost)")


class Monitor:
    """Reads the design's output ports (from the RTL metadata) into Observed records."""

    def __init__(self, dut, meta: RtlMeta) -> None:
        self.ports = [(getattr(dut, f"out_{f.name}"), f.count, f.width, f.signed) for f in meta.fields]
        self.out_valid = dut.out_valid

    def sample(self, cycle: int) -> Observed | None:
        if not self.out_valid.value:
            return None
        values: list[int] = []
        for handle, count, width, signed in self.ports:
            v = handle.value  # a 1-bit port is a Logic (no to_unsigned) under some simulators
            values += unpack(int(v) if count * width == 1 else v.to_unsigned(), count, width, signed)
        return Observed(cycle, values)


async def stream(
    dut,
    monitor: Monitor,
    words: Sequence[int],
    valid: Callable[[int], bool],
    board: Scoreboard,
    start_cycle: int = 0,
    each_cycle: Callable[[int], None] | None = None,
    drain: bool = True,
) -> int:
    """Offer words[i] in order, asserting in_valid on cycles where valid(cycle) is true.

    Returns the edge count at the end. each_cycle(cycle) runs before the inputs are written
    (used to change the threshold or assert reset).
    """
    i, cycle = 0, start_cycle
    limit = start_cycle + 20 * (len(words) + board.latency) + 100
    # Handles and the trigger looked up once: this loop is the cocotb speed limit.
    in_valid, in_data, out_valid, fall = dut.in_valid, dut.in_data, dut.out_valid, FallingEdge(dut.clk)
    last_valid = None
    while (i < len(words) or (drain and board.pending)) and cycle < limit:
        if each_cycle is not None:
            each_cycle(cycle)
        offer = i < len(words) and valid(cycle)
        if offer != last_valid:
            in_valid.value = int(offer)
            last_valid = offer
        if offer:
            in_data.value = words[i]
        await fall
        cycle += 1
        if offer:
            board.accept(cycle, i)
            i += 1
        if out_valid.value:
            board.observe(monitor.sample(cycle))
        board.overdue(cycle)
    dut.in_valid.value = 0
    return cycle
