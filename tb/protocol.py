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

from model import formats as F


def pack_inputs(x: np.ndarray) -> list[int]:
    """(n, 53) INPUT raw codes -> in_data words, input j in bits [4j+3:4j]."""
    shifts = [j * F.INPUT.width for j in range(F.N_INPUTS)]
    return [sum(int(v) << s for v, s in zip(row, shifts, strict=True)) for row in x]


def unpack_mu(word: int) -> list[int]:
    """out_mu word -> 8 signed LATENT raw values, mean j in bits [8j+7:8j]."""
    w, mask, sign = F.LATENT.width, (1 << F.LATENT.width) - 1, 1 << (F.LATENT.width - 1)
    fields = [(word >> (j * w)) & mask for j in range(F.N_LATENT)]
    return [v - (1 << w) if v & sign else v for v in fields]  # two's complement, plain ints (hot path)


@dataclass
class Observed:
    cycle: int  # rising-edge index after which out_valid was seen
    mu: list[int]
    score: int
    flag: int


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


def sample(dut, cycle: int) -> Observed | None:
    if not dut.out_valid.value:
        return None
    return Observed(cycle, unpack_mu(dut.out_mu.value.to_unsigned()), dut.out_score.value.to_unsigned(),
                    int(dut.out_flag.value))


async def stream(
    dut,
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
            board.observe(sample(dut, cycle))
        board.overdue(cycle)
    dut.in_valid.value = 0
    return cycle
