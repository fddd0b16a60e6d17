"""RTL regression of every committed design: exported to Verilog, simulated by Verilator under
cocotb, compared bit for bit with the committed golden vectors, and timed against the 25 ns budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hw import clock, params
from hw import golden as G
from model.description.design import Design
from tb import runner
from tests.conftest import flipped_golden


def test_rtl_matches_golden_within_budget(design: Design, rtl_build: tuple[Path, Path], golden: G.Golden,
                                          tmp_path: Path) -> None:
    rtl_dir, sim_dir = rtl_build
    res = runner.run(design, rtl_dir, design.vectors_dir, sim_dir, testcase="regression", results=tmp_path / "r.json")
    assert res["vectors"] == len(golden) >= 2000
    assert res["mismatched_fields"] == 0 and res["protocol_errors"] == 0
    assert res["latency_ns"] <= params.LATENCY_BUDGET_NS
    assert res["initiation_interval"] == 1
    # The latency was checked at the period a timing tool closed on this RTL (the design's timing.json).
    report = clock.load_report(clock.report_path(design))
    assert res["clock_closed"] and res["clock_period_ns"] == report["check"]["period_ns"]
    assert res["clock_corner"] == report["check"]["corner"]


N_SHARDS = 2


@pytest.mark.parametrize("shard", range(N_SHARDS))
def test_rtl_regression_shard(vae_low: Design, vae_low_build: tuple[Path, Path], tmp_path: Path, shard: int) -> None:
    """The same regression split in shards, as pytest-xdist (-n auto) or a CI matrix would run it."""
    rtl_dir, sim_dir = vae_low_build
    n = len(G.load(vae_low.vectors_dir, vae_low))
    res = runner.run(vae_low, rtl_dir, vae_low.vectors_dir, sim_dir, testcase="regression",
                     results=tmp_path / "r.json", shard=(shard, N_SHARDS))
    assert res["vectors"] == len(range(shard, n, N_SHARDS))
    assert res["mismatched_fields"] == 0 and res["protocol_errors"] == 0


def test_flipped_golden_bit_fails_the_rtl_regression(vae_low: Design, vae_low_build: tuple[Path, Path],
                                                     tmp_path: Path) -> None:
    rtl_dir, sim_dir = vae_low_build
    row = 1234
    gdir = flipped_golden(vae_low, tmp_path / "g", row)
    results = tmp_path / "r.json"
    with pytest.raises(runner.RegressionFailed, match=f"vector {row} "):
        runner.run(vae_low, rtl_dir, gdir, sim_dir, testcase="regression", results=results)
    res = json.loads(results.read_text())
    assert res["mismatched_vectors"] == 1
    assert res["first_mismatches"][0].startswith(f"vector {row} ") and " score: " in res["first_mismatches"][0]
