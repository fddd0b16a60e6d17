"""Build the encoder RTL with Verilator through cocotb's runner and run the cocotb tests."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hw import params
from hw import rtl as R
from hw.toolchain import setup_verilator_env
from tb import env


class RegressionFailed(AssertionError):
    """A cocotb test failed; the message names the first differences."""


@dataclass
class BuildInfo:
    build_dir: Path
    seconds: float
    cached: bool


def build(rtl_dir: Path, build_dir: Path, waves: bool = False) -> BuildInfo:
    """Verilator build; cocotb's runner skips make's work when nothing changed (cached)."""
    from cocotb_tools.runner import get_runner

    setup_verilator_env()
    meta = R.load_meta(rtl_dir)
    stamp = build_dir / "pixvae_build.json"
    key = {"model_hash": meta.model_hash, "sources": meta.sources, "waves": waves,
           "mtimes": [(rtl_dir / s).stat().st_mtime_ns for s in meta.sources]}
    cached = stamp.is_file() and json.loads(stamp.read_text()) == key and (build_dir / meta.top).is_file()
    t0 = time.perf_counter()
    if not cached:
        build_dir.mkdir(parents=True, exist_ok=True)
        runner = get_runner("verilator")
        runner.build(
            sources=[rtl_dir / s for s in meta.sources],
            hdl_toplevel=meta.top,
            build_dir=build_dir,
            build_args=["-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC"],
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
) -> dict[str, Any]:
    """Run cocotb tests from tb.test_encoder; raises when any fails. Returns the results JSON."""
    from cocotb_tools.runner import get_runner

    setup_verilator_env()
    meta = R.load_meta(rtl_dir)
    results = results or build_dir / "regression.json"
    results.unlink(missing_ok=True)
    results.parent.mkdir(parents=True, exist_ok=True)
    runner = get_runner("verilator")
    extra = {
        env.GOLDEN: str(Path(golden_dir).resolve()),
        env.RTL: str(Path(rtl_dir).resolve()),
        env.RESULTS: str(results.resolve()),
        env.CLOCK_NS: str(clock_ns or meta.clock_period_ns),
        env.BUDGET_NS: str(params.LATENCY_BUDGET_NS),
        env.SEED: str(seed),
    }
    try:
        _test(runner, meta.top, build_dir, results.parent, testcase, extra, waves, seed)
    except SystemExit as e:  # cocotb's runner exits when a test fails
        got = json.loads(results.read_text()) if results.is_file() else {}
        first = "; ".join(got.get("first_mismatches", [])[:3]) or "see the cocotb log above"
        raise RegressionFailed(f"cocotb test(s) {testcase or 'all'} failed: {first}") from e
    return json.loads(results.read_text()) if results.is_file() else {}


def _test(runner, top: str, build_dir: Path, test_dir: Path, testcase, extra: dict[str, str], waves: bool,
          seed: int) -> None:
    # Each run gets its own test_dir, so concurrent runs (pytest-xdist) share only the build.
    runner.test(
        test_module="tb.test_encoder",
        hdl_toplevel=top,
        hdl_toplevel_lang="verilog",
        testcase=testcase,
        build_dir=build_dir,
        test_dir=test_dir,
        extra_env=extra,
        waves=waves,
        seed=seed,
        results_xml=str(test_dir.resolve() / "results.xml"),
    )
