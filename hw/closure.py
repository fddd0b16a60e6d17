"""Pipeline depth from closed timing: the design exported at several adder levels per stage, each
depth timed on every target, and the depth chosen whose latency (cycles x closed period) is
lowest. The result is the timing report that hw/clock.py reads once it is committed.

Which period the 25 ns check uses: of every (target, corner) measured, the most pessimistic one
whose best latency still meets the budget (a slow corner before a typical one); when none meets
it, the fastest, so the regression fails and says by how much.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from hw import clock, params
from hw import rtl as R
from hw import synth as S
from hw import timing as T

TARGETS = ("asic", "ecp5", "xilinx")


def _round_up(ns: float) -> float:
    # 10 ps steps: the testbench's clock is in ps and needs an even number of them per period.
    return math.ceil(ns * 100 - 1e-9) / 100


def _asic_results(depth: dict[str, Any]) -> list[dict[str, Any]]:
    """The depth's standard-cell results, one per library (format 1 held one, format 2 a dict)."""
    a = depth.get("asic")
    if not a:
        return []
    return [a] if "corners" in a else list(a.values())


def corner_label(a: dict[str, Any], corner: str) -> str:
    c = a["corners"][corner]
    what = c.get("conditions", c["liberty"]).split(",")[0] if "conditions" in c else c["liberty"]
    wl = c.get("wire_load_model")
    return f"{corner} corner ({what})" + (f", wire load {wl}" if wl else "")


def timed_points(depth: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per (target, corner) that closed a period at this depth. A standard-cell corner
    counts with its wire-load model (the figure without one is reported, never checked); a hold
    corner's setup figure is not a sign-off figure and is left out."""
    out = []
    if depth.get("ecp5", {}).get("routed"):  # a placement estimate closes no period
        e = depth["ecp5"]
        out.append({"target": e["target"], "corner": e["corner"], "tool": e["tool"], "period_ns": e["period_ns"]})
    for a in _asic_results(depth):
        for k, (corner, c) in enumerate(a["corners"].items()):
            if c.get("role") == "hold":
                continue
            out.append({"target": a["target"], "corner": corner_label(a, corner), "tool": a["tool"],
                        "period_ns": c["period_ns"], "mapped": k == 0, "library": a.get("library")})
    for p in out:
        p["period_ns"] = _round_up(p["period_ns"])
        p["latency_cycles"] = depth["latency_cycles"]
        p["latency_ns"] = round(p["latency_cycles"] * p["period_ns"], 2)
    return out


def choose(depths: list[dict[str, Any]], budget_ns: float) -> dict[str, Any]:
    """The check: the depth and (target, corner) whose period the 25 ns check uses (see above)."""
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for d in depths:
        for p in timed_points(d):
            key = (p["target"], p["corner"])
            cand = {k: v for k, v in p.items() if k not in ("mapped", "library")}
            cand |= {"adder_levels": d["adder_levels"], "rtl_sha256": d["rtl_sha256"]}
            if key not in best or (cand["latency_ns"], cand["latency_cycles"]) < (best[key]["latency_ns"],
                                                                                 best[key]["latency_cycles"]):
                best[key] = cand
    if not best:
        raise T.TimingError("no target closed a period (choose --targets asic with --liberty or --pdk-dir, or ecp5)")
    meeting = [b for b in best.values() if b["latency_ns"] <= budget_ns]
    pick = max(meeting, key=lambda b: b["latency_ns"]) if meeting else min(best.values(), key=lambda b: b["latency_ns"])
    return {**pick, "budget_ns": budget_ns, "meets_budget": pick["latency_ns"] <= budget_ns,
            "per_target_best": sorted(best.values(), key=lambda b: b["latency_ns"])}


def check_request(targets: tuple[str, ...], libraries: list[T.CellLibrary], levels: list[int]) -> None:
    """Refuse, before any work, a request that cannot produce a report (one line each)."""
    unknown = set(targets) - set(TARGETS)
    if unknown or not targets:
        raise T.TimingError(f"unknown timing target(s) {', '.join(sorted(unknown)) or '(none)'} "
                            f"(known: {', '.join(TARGETS)})")
    if "asic" in targets and not libraries:
        T.check_liberties({})
    for levels_per_stage in levels:
        params.check(adder_levels=levels_per_stage)
    if not levels:
        raise T.TimingError("no pipeline depth to time (--levels)")


def sweep(ref, levels: list[int], work: Path, targets: tuple[str, ...], libraries: list[T.CellLibrary],
          budget_ns: float = params.LATENCY_BUDGET_NS,
          ecp5_levels: list[int] | None = None, route_timeout_s: float = T.ECP5_ROUTE_TIMEOUT_S) -> dict[str, Any]:
    """Export at each depth and time it on every target; returns the timing report (not yet committed).

    Placement and routing take minutes to an hour a depth, so ECP5 runs at `ecp5_levels` only;
    by default at the depth the other targets chose (at every depth when it is the only target)."""
    from hw import export as X  # hls4ml's conversion and da4ml's export

    check_request(targets, libraries, levels)
    hm = X.convert(ref, work / "hls4ml", compile_csim=False)
    depths, rtl_dirs = [], {}
    for levels_per_stage in levels:
        rtl_dir = rtl_dirs[levels_per_stage] = work / f"levels{levels_per_stage}" / "rtl"
        meta = X.export(ref, work / "hls4ml", rtl_dir, levels_per_stage, hm=hm)
        d: dict[str, Any] = {"adder_levels": levels_per_stage, "latency_cycles": meta.latency_cycles,
                             "rtl_sha256": R.sources_sha256(rtl_dir, meta),
                             "da4ml": {"luts": round(meta.estimated_luts), "ffs": meta.estimated_ffs,
                                       "tool": "da4ml 0.5.2 cost model (estimate)"}}
        if "asic" in targets:
            d["asic"] = {lib.name: T.asic(rtl_dir, rtl_dir.parent / f"asic_{lib.name}", lib,
                                          generic_dir=rtl_dir.parent / "generic") for lib in libraries}
        if "xilinx" in targets:
            d["xilinx"] = S.estimate(rtl_dir, rtl_dir.parent / "xilinx")
        depths.append(d)
    if "ecp5" in targets:
        if ecp5_levels is None:
            ecp5_levels = [choose(depths, budget_ns)["adder_levels"]] if set(targets) & {"asic"} else levels
        for d in depths:
            if d["adder_levels"] in ecp5_levels:
                rtl_dir = rtl_dirs[d["adder_levels"]]
                d["ecp5"] = T.ecp5(rtl_dir, rtl_dir.parent / "ecp5",
                                   freq_mhz=round(1000 * d["latency_cycles"] / budget_ns, 1),
                                   route_timeout_s=route_timeout_s)
    return _report(ref.design.name, ref.model_hash, ref.design.depth_slack, depths, budget_ns)


def _report(design: str, model_hash: str, depth_slack: int, depths: list[dict[str, Any]],
            budget_ns: float) -> dict[str, Any]:
    check = choose(depths, budget_ns)
    return {"format_version": clock.FORMAT_VERSION, "design": design, "model_hash": model_hash,
            "adder_levels": check["adder_levels"], "rtl_sha256": check["rtl_sha256"],
            "depth_slack": depth_slack, "latency_cycles": check["latency_cycles"],
            "budget_ns": budget_ns,
            "check": {k: check[k] for k in ("target", "corner", "tool", "period_ns", "latency_ns", "meets_budget")},
            "per_target_best": check["per_target_best"], "depths": depths}


def time_run(rtl_dir: Path, work: Path, pdk_dir: Path, budget_ns: float = params.LATENCY_BUDGET_NS,
             lib_dir: Path | None = None) -> dict[str, Any]:
    """The timing report of RTL a run just built (`pixvae flow`): ASAP7's SS corner (the sign-off
    corner) with the design-sized wire-load estimate, the same flow as `pixvae timing`, cached by
    the RTL's digest. Only the RTL's own depth: no sweep."""
    meta = R.load_meta(rtl_dir)
    lib = T.asap7_library(pdk_dir, ("ss",))
    d: dict[str, Any] = {"adder_levels": meta.adder_levels_per_stage, "latency_cycles": meta.latency_cycles,
                         "rtl_sha256": R.sources_sha256(rtl_dir, meta),
                         "asic": {lib.name: T.asic(rtl_dir, Path(work) / f"asic_{lib.name}", lib,
                                                   generic_dir=Path(work) / "generic", lib_dir=lib_dir)}}
    return _report(meta.design, meta.model_hash, meta.depth_slack, [d], budget_ns)


def asic_lines(d: dict[str, Any], head: str = "") -> list[str]:
    """Each library and corner: the period with its wire-load model and without one (buffered and
    sized netlist), the violations left, area; hold slack at the hold corner."""
    lines = []
    for a in _asic_results(d):
        for k, (corner, c) in enumerate(a["corners"].items()):
            wl, none = c["by_wire_load"][c["wire_load_model"]], c["by_wire_load"]["none"]
            res = (f"no wire load {c['period_ns_no_wire_load']:.2f} ns; "
                   f"{wl['max_transition_violations']:,} max-transition"
                   + (f", {wl['max_capacitance_violations']:,} max-capacitance" if "max_capacitance_violations" in wl
                      else "") + " violations")
            if c.get("role") == "hold":
                res += (f"; hold slack reg-to-reg {wl.get('hold_slack_ns')} ns "
                        f"({none.get('hold_slack_ns')} no wire load)")
            if k == 0:
                res += f"; {a['area_um2']:,.0f} um2, {a['cells']:,} cells, {a['ffs']:,} FF"
            label = f"{a['target']}, {corner_label(a, corner)}"
            lat = "" if c.get("role") == "hold" else f"{_round_up(c['period_ns']) * d['latency_cycles']:.2f}"
            lines.append(f"{head}{label:<58.58} {_round_up(c['period_ns']):>9.2f} {lat:>10}  {res}")
    return lines


def table(rep: dict[str, Any]) -> list[str]:
    """The report side by side: per depth and target, the closed period, latency in ns and resources."""
    lines = [f"== timing of {rep['design']} (model {rep['model_hash'][:12]}); budget {rep['budget_ns']} ns ==",
             f"{'levels':>6} {'cycles':>6}  {'target, corner':<58} {'period ns':>9} {'latency ns':>10}  resources"]
    for d in rep["depths"]:
        head = f"{d['adder_levels']:>6} {d['latency_cycles']:>6}  "
        for p in timed_points(d):
            if p["target"].startswith("ECP5"):
                e = d["ecp5"]
                cp = e["critical_path"]
                res = (f"{e['luts']:,} LUT4, {e['ffs']:,} FF, {e['dsps']} DSP; critical path {cp['logic_ns']:.1f} ns "
                       f"logic + {cp['routing_ns']:.1f} ns routing")
                lines.append(f"{head}{p['target'] + ', ' + p['corner']:<58.58} {p['period_ns']:>9.2f} "
                             f"{p['latency_ns']:>10.2f}  {res}")
        lines += asic_lines(d, head)
        e = d.get("ecp5")
        if e and not e["routed"]:
            lines.append(f"{head}{e['target'] + ', placed, routing unfinished':<58.58} {'':>9} {'':>10}  "
                         f"{e['luts']:,} LUT4, {e['ffs']:,} FF, {e['dsps']} DSP; post-placement Fmax estimate "
                         f"{e['fmax_mhz_placed_estimate']} MHz (not closed)")
        if "xilinx" in d:
            x = d["xilinx"]
            lines.append(f"{head}{x['tool'] + ' (no timing)':<58.58} {'':>9} {'':>10}  {x['luts']:,} LUT, "
                         f"{x['ffs']:,} FF, {x['dsps']} DSP, {x['carry']:,} CARRY")
        lines.append(f"{head}{d['da4ml']['tool']:<58.58} {'':>9} {'':>10}  {d['da4ml']['luts']:,} LUT, "
                     f"{d['da4ml']['ffs']:,} FF")
    c = rep["check"]
    lines.append(f"25 ns check: {rep['latency_cycles']} cycles x {c['period_ns']} ns = {c['latency_ns']} ns at "
                 f"{c['target']}, {c['corner']} ({'meets' if c['meets_budget'] else 'MISSES'} the "
                 f"{rep['budget_ns']} ns budget), {rep['adder_levels']} adder levels per stage")
    for b in rep["per_target_best"]:
        gap = b["latency_ns"] - rep["budget_ns"]
        lines.append(f"  best at {b['target']}, {b['corner']}: {b['latency_ns']} ns "
                     f"({b['latency_cycles']} x {b['period_ns']} ns at {b['adder_levels']} levels; "
                     + (f"misses by {gap:.2f} ns)" if gap > 0 else "meets)"))
    return lines
