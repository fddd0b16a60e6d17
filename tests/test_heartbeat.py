"""No command is silent for more than 10 s (issue 24, item 4): pixvae.heartbeat prints a line after a
quiet spell, naming the phase the command last announced, and stays quiet while output flows."""

from __future__ import annotations

import time

import pytest

from pixvae.heartbeat import heartbeat


def test_a_quiet_phase_gets_lines_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    with heartbeat(every=0.3):
        print("[pixvae] sim: Verilator build of x", flush=True)
        print("Use ref() instead.", flush=True)  # a library's chatter names no phase
        time.sleep(1.6)
    lines = capsys.readouterr().out.splitlines()
    beats = [ln for ln in lines if ln.startswith("[pixvae] still working, ")]
    assert len(beats) >= 2 and all(ln.endswith(" s without output; in sim: Verilator build of x")
                                   for ln in beats), lines


def test_flowing_output_keeps_it_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    with heartbeat(every=0.5):
        for k in range(12):
            print(f"epoch {k}", flush=True)
            time.sleep(0.1)
    out = capsys.readouterr().out
    assert "still working" not in out and out.count("epoch") == 12
