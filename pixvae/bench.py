"""Speed benchmark of the harness: figures, not pass/fail (the machine's load changes them).

Prints the Verilator build time through cocotb (cold and cached), cocotb regression speed, the
same RTL driven by the C++ bulk harness (ratio to cocotb), and the full test sets (55,000
normal + 3 x 55,000 defect tracks) checked bit-exactly through the RTL, build included.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from hw import golden as G
from model.description.design import Design
from model.fixed import reference
from pixvae import stages


def full_test_codes(design: Design, n: int, seed: int) -> tuple[dict[str, np.ndarray], float]:
    """Input codes of n generated tracks and of the same tracks with each defect."""
    from model.data import defects, encoding, generator

    t0 = time.perf_counter()
    ts = generator.generate(n, seed=seed, progress=True)
    sets = {"normal": encoding.inputs(design, ts, seed=seed)}
    for k, kind in enumerate(stages.DEFECT_KINDS):
        bad = ts.subset(np.arange(n))
        bad.charges, _ = defects.inject(ts.charges, kind, seed=seed + 1 + k)
        sets[kind] = encoding.inputs(design, bad, seed=seed)
    return sets, time.perf_counter() - t0


def verify_loop(ref: reference.Reference, root: Path) -> float:
    """Seconds from a reference model to its RTL regression verdict, every step cold (data excluded)."""
    from pixvae.paths import RunPaths

    run = RunPaths(root)
    stages.make_data(run.test_data, stages.TEST_TRACKS, stages.TEST_SEED)  # test tracks: not part of the loop
    os.environ["PIXVAE_SIM_CACHE"] = str(root / "simcache")  # a cold build
    t0 = time.perf_counter()
    _, res = stages.verify(ref, run, run.golden)
    if not res["passed"]:
        raise G.GoldenError(f"benchmark regression failed: {res['fail_reasons'][:2]}")
    return time.perf_counter() - t0


def run(design: Design, out: Path, n_full: int = 55_000, seed: int = 11) -> dict[str, Any]:
    from tb import bulk, runner

    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    ref = reference.load(design.reference_dir, design)
    g = G.load(design.vectors_dir, design, expected_hash=ref.model_hash)
    rtl_dir = out / "rtl"
    stages.export(ref, out / "hls4ml", rtl_dir)
    fig: dict[str, Any] = {"design": design.name}
    os.environ["PIXVAE_SIM_CACHE"] = str(out / "simcache")  # a cold build means cold: no shared build cache

    stages.log("bench: Verilator build with the cocotb runner's own flags (cold)")
    fig["cocotb_build_stock_cold_s"] = runner.build(rtl_dir, out / "stock_build", flavour="stock").seconds
    stages.log("bench: Verilator build, the project's flavour (cold; top ports public only, -O0)")
    fig["cocotb_build_cold_s"] = runner.build(rtl_dir, out / "cocotb_build").seconds
    fig["cocotb_build_cached_s"] = runner.build(rtl_dir, out / "cocotb_build").seconds
    fig["build_speedup"] = fig["cocotb_build_stock_cold_s"] / fig["cocotb_build_cold_s"]
    stages.log("bench: a changed model verified: hls4ml + C-sim, da4ml export, golden, cold build, regression")
    fig["verify_loop_s"] = verify_loop(ref, out / "loop")
    stages.log("bench: cocotb regression on the committed golden vectors")
    res = runner.run(design, rtl_dir, design.vectors_dir, out / "cocotb_build", testcase="regression",
                     results=out / "cocotb" / "r.json")
    fig["cocotb_cycles_per_s"] = res["cycles_per_s"]
    fig["cocotb_vectors"] = res["vectors"]

    stages.log("bench: C++ bulk harness, linked against the project flavour's model, on the same golden vectors")
    t_check = time.perf_counter()
    exe, fig["bulk_build_cold_s"], _ = bulk.build(rtl_dir, out / "bulk_build")
    fig["bulk_golden"] = bulk.regress(exe, g, rtl_dir)

    t_check = time.perf_counter() - t_check  # harness build + golden check
    stages.log(f"bench: full test sets, {n_full} normal + 3 x {n_full} defect tracks")
    sets, fig["full_data_prep_s"] = full_test_codes(design, n_full, seed)
    t1 = time.perf_counter()
    codes = np.concatenate(list(sets.values()))
    r = bulk.run(exe, rtl_dir, design, codes, g.threshold_raw)
    bad = int(np.sum(r.y != ref.network.outputs(codes, g.threshold_raw)))
    fig["full_tracks"] = len(codes)
    fig["full_mismatched_fields"] = bad
    fig["full_latency_cycles"] = r.latency_cycles
    fig["full_rtl_run_s"] = r.seconds
    fig["bulk_cycles_per_s"] = len(codes) / r.seconds
    fig["full_check_s_build_included"] = t_check + time.perf_counter() - t1
    fig["raw_over_cocotb_speed"] = fig["bulk_cycles_per_s"] / fig["cocotb_cycles_per_s"]
    (out / "bench.json").write_text(json.dumps(fig, indent=2) + "\n")
    return fig


def lines(fig: dict[str, Any]) -> list[str]:
    return [
        f"design                            : {fig['design']}",
        f"Verilator build, cocotb's flags   : cold {fig['cocotb_build_stock_cold_s']:.1f} s",
        f"Verilator build, project flavour  : cold {fig['cocotb_build_cold_s']:.1f} s, "
        f"cached {fig['cocotb_build_cached_s']:.2f} s; speed-up {fig['build_speedup']:.1f}x (same run)",
        f"changed model verified in         : {fig['verify_loop_s']:.1f} s (hls4ml + C-sim, da4ml, golden, "
        "cold build, regression; goal < 120 s)",
        f"cocotb regression                 : {fig['cocotb_cycles_per_s']:.0f} cycles/s "
        f"(= vectors/s at II=1, {fig['cocotb_vectors']} vectors)",
        f"C++ bulk harness (same RTL)       : build {fig['bulk_build_cold_s']:.1f} s (linked against the project "
        f"flavour's model), {fig['bulk_cycles_per_s']:.0f} cycles/s",
        f"raw / cocotb speed ratio          : {fig['raw_over_cocotb_speed']:.0f}x",
        f"full test sets                    : {fig['full_tracks']} tracks, "
        f"{fig['full_mismatched_fields']} mismatched output fields, latency {fig['full_latency_cycles']} cycles",
        f"  checked through RTL in          : {fig['full_check_s_build_included']:.1f} s, build included "
        f"(goal < 120 s); RTL run {fig['full_rtl_run_s']:.2f} s",
        f"  track generation + encoding     : {fig['full_data_prep_s']:.1f} s (not part of the check)",
        f"bulk harness on golden vectors    : {'PASS' if fig['bulk_golden']['passed'] else 'FAIL'}"
        + "".join(f"; {r}" for r in fig["bulk_golden"]["fail_reasons"][:3]),
    ]
