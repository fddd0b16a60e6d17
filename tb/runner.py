"""Build the encoder RTL through cocotb's runner (Verilator, or Icarus for the 4-state
cross-check) and run the cocotb tests of tb.test_encoder."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hw import params
from hw import rtl as R
from hw.toolchain import require_icarus, setup_verilator_env
from tb import env

SIMULATORS = ("verilator", "icarus")
# Width warnings come from da4ml's generated arithmetic, which relies on Verilog's sizing rules.
VERILATOR_ARGS = ["-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC"]
# With waves: trace the top and the core's ports only (the core's internals are thousands of wires).
VERILATOR_WAVE_ARGS = ["--trace-depth", "2", "--trace-underscore"]


class RegressionFailed(AssertionError):
    """A cocotb test failed; the message names the first differences."""


@dataclass
class BuildInfo:
    build_dir: Path
    seconds: float
    cached: bool


def _prepare(sim: str) -> None:
    if sim == "verilator":
        setup_verilator_env()
    elif sim == "icarus":
        require_icarus()
    else:
        raise ValueError(f"unknown simulator {sim!r} ({', '.join(SIMULATORS)})")


def build(rtl_dir: Path, build_dir: Path, waves: bool = False, sim: str = "verilator") -> BuildInfo:
    """Compile the RTL; skipped (cached) when the same sources were already built there."""
    from cocotb_tools.runner import get_runner

    _prepare(sim)
    meta = R.load_meta(rtl_dir)
    stamp = build_dir / "pixvae_build.json"
    key = {"sim": sim, "sources": meta.sources, "sha256": R.sources_sha256(rtl_dir, meta), "waves": waves,
           "args": VERILATOR_ARGS}
    cached = stamp.is_file() and json.loads(stamp.read_text()) == key
    t0 = time.perf_counter()
    if not cached:
        build_dir.mkdir(parents=True, exist_ok=True)
        args = VERILATOR_ARGS + (VERILATOR_WAVE_ARGS if waves else []) if sim == "verilator" else []
        get_runner(sim).build(
            sources=[rtl_dir / s for s in meta.sources],
            hdl_toplevel=meta.top,
            build_dir=build_dir,
            build_args=args,
            waves=waves,
            timescale=("1ns", "1ps"),
            log_file=build_dir / "build.log",
        )
        stamp.write_text(json.dumps(key))
    return BuildInfo(build_dir, time.perf_counter() - t0, cached)


def run(
    rtl_dir: Path,
    golden_dir: Path,
    build_dir: Path,
    testcase: str | list[str] | None = None,
    results: Path | None = None,
    clock_ns: float | None = None,
    waves: bool = False,
    seed: int = 1,
    sim: str = "verilator",
    track: int | None = None,
    shard: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Run cocotb tests; raises RegressionFailed when any fails. Returns the results JSON if written."""
    from cocotb_tools.runner import get_runner

    _prepare(sim)
    meta = R.load_meta(rtl_dir)
    results = results or build_dir / "regression.json"
    results.unlink(missing_ok=True)
    test_dir = results.parent  # per run, so concurrent runs (pytest-xdist) share only the build
    test_dir.mkdir(parents=True, exist_ok=True)
    extra = {
        env.GOLDEN: str(Path(golden_dir).resolve()),
        env.RTL: str(Path(rtl_dir).resolve()),
        env.RESULTS: str(results.resolve()),
        env.CLOCK_NS: str(clock_ns or meta.clock_period_ns),
        env.BUDGET_NS: str(params.LATENCY_BUDGET_NS),
        env.SEED: str(seed),
        **({env.TRACK: str(track)} if track is not None else {}),
        **({env.SHARD: f"{shard[0]}/{shard[1]}"} if shard is not None else {}),
    }
    try:
        get_runner(sim).test(
            test_module="tb.test_encoder",
            hdl_toplevel=meta.top,
            hdl_toplevel_lang="verilog",
            testcase=testcase,
            build_dir=build_dir,
            test_dir=test_dir,
            extra_env=extra,
            waves=waves,
            seed=seed,
            timescale=("1ns", "1ps") if sim == "icarus" else None,
            results_xml=str(test_dir.resolve() / "results.xml"),
        )
    except SystemExit as e:  # cocotb's runner exits when a test fails
        got = json.loads(results.read_text()) if results.is_file() else {}
        first = "; ".join(got.get("first_mismatches", [])[:3]) or "see the cocotb log above"
        raise RegressionFailed(f"cocotb test(s) {testcase or 'all'} failed under {sim}: {first}") from e
    return json.loads(results.read_text()) if results.is_file() else {}
