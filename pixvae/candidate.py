"""The model-change pipeline of a design: retrain, export, write golden vectors into a new
versioned folder, run the RTL regression, and report what changed against the committed reference.

Nothing committed is touched: the candidate lives in golden/<design>/candidates/<version>/ until a
person promotes it (replacing golden/<design>/reference and vectors in a commit that says why).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from hw import clock
from hw import golden as G
from hw import rtl as R
from model.description.design import Design
from model.fixed import reference
from model.fixed.fixed_ref import IntegerNetwork
from pixvae import stages
from pixvae.paths import REPO, RunPaths

BUILD_ROOT = REPO / "build" / "candidate"


def version_name() -> str:
    sha = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], capture_output=True, text=True, cwd=REPO)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"{stamp}-{sha.stdout.strip() or 'nogit'}"


def physics(net: IntegerNetwork, g: G.Golden, threshold_raw: int) -> dict[str, float]:
    """Defect-detection AUCs and decision rates of a model, on the given golden inputs (same for both models)."""
    score = net.score(g.x, net.forward(g.x))
    normal = score[g.sets == "normal"]
    out: dict[str, float] = {"normal_decision_rate": float(np.mean(normal > threshold_raw))}
    for kind in stages.DEFECT_KINDS:
        bad = score[g.sets == kind]
        y = np.r_[np.zeros(len(normal)), np.ones(len(bad))]
        out[f"auc_{kind}"] = float(roc_auc_score(y, np.r_[normal, bad]))
        out[f"decision_rate_{kind}"] = float(np.mean(bad > threshold_raw))
    return out


def run(design: Design, profile: str = "short", version: str | None = None, build_root: Path = BUILD_ROOT,
        candidates: Path | None = None, exact_budget_s: float = stages.FLOW_EXACT_BUDGET) -> Path:
    version = version or version_name()
    dest = (candidates or design.path / "candidates") / version
    if dest.exists():
        raise G.GoldenError(f"{dest}: candidate exists already; golden folders are never overwritten")
    run_paths = RunPaths(build_root / version)
    cand, cand_rtl, sim = stages.full_run(design, run_paths, profile, dest / "vectors",
                                          exact_budget_s=exact_budget_s)
    cand_rtl = (cand_rtl, clock.resolve(design, run_paths.rtl))
    shutil.copytree(run_paths.reference, dest / "reference")
    cand_g = G.load(dest / "vectors", design, expected_hash=cand.model_hash)
    base = base_rtl = base_g = None
    if (design.reference_dir / reference.WEIGHTS_FILE).is_file():  # a new design has nothing committed yet
        base = reference.load(design.reference_dir, design)
        base_g = G.load(design.vectors_dir, design, expected_hash=base.model_hash)
        base_rtl = stages.export(base, build_root / "committed" / "hls4ml", build_root / "committed" / "rtl")
        base_rtl = (base_rtl, clock.resolve(design, build_root / "committed" / "rtl"))
    report = change_report(base, base_g, base_rtl, cand, cand_g, cand_rtl, sim)
    (dest / "change_report.json").write_text(json.dumps(report, indent=2) + "\n")
    (dest / "CHANGE_REPORT.md").write_text(markdown(report, version))
    stages.log(f"candidate: {dest} (see CHANGE_REPORT.md); RTL regression {'PASS' if sim.get('passed') else 'FAIL'}")
    return dest


def change_report(base, base_g: G.Golden | None, base_rtl: tuple[R.RtlMeta, clock.Clock] | None, cand,
                  cand_g: G.Golden, cand_rtl: tuple[R.RtlMeta, clock.Clock], sim: dict[str, Any]) -> dict[str, Any]:
    def hw(rtl: tuple[R.RtlMeta, clock.Clock]) -> dict[str, Any]:
        m, clk = rtl
        return {"latency_cycles": m.latency_cycles, "latency_ns": round(m.latency_cycles * clk.period_ns, 4),
                "clock_source": clk.source,
                "pipeline_stages": m.pipeline_stages, "da4ml_estimated_luts": m.estimated_luts,
                "da4ml_estimated_ffs": m.estimated_ffs}

    def side(ref, meta: tuple[R.RtlMeta, clock.Clock], threshold: int) -> dict[str, Any]:
        last = {k: v[-1] for k, v in ref.metadata.get("history", {}).items() if v}
        sparsity = float(np.mean(np.concatenate([ly.kernel.ravel() == 0 for ly in ref.network.layers])))
        # Both models scored on the candidate's golden inputs, each at its own threshold.
        return {"model_hash": ref.model_hash, **hw(meta), "final_losses": last, "kernel_sparsity": sparsity,
                **physics(ref.network, cand_g, threshold)}

    return {
        "design": cand.design.name,
        "committed": side(base, base_rtl, base_g.threshold_raw) if base is not None else None,
        "candidate": side(cand, cand_rtl, cand_g.threshold_raw),
        "candidate_rtl_regression": {k: sim.get(k) for k in ("passed", "fail_reasons", "vectors", "expected_vectors",
                                                            "mismatched_fields", "protocol_errors",
                                                            "latency_cycles", "latency_ns", "build_seconds")},
        "resource_estimate_tool": "da4ml cost model (not a synthesis result)",
        "sample_sizes": {s: int(np.sum(cand_g.sets == s)) for s in ("normal", *stages.DEFECT_KINDS)},
    }


def markdown(rep: dict[str, Any], version: str) -> str:
    a, b = rep["committed"], rep["candidate"]
    keys = ("latency_cycles", "latency_ns", "pipeline_stages", "da4ml_estimated_luts", "da4ml_estimated_ffs",
            "kernel_sparsity", "normal_decision_rate",
            *[f"{p}_{k}" for k in stages.DEFECT_KINDS for p in ("auc", "decision_rate")])
    rows = []
    for key in keys:
        y = b[key]
        if a is None:
            rows.append(f"| {key} | (none) | {y:.4g} | |")
        else:
            rows.append(f"| {key} | {a[key]:.4g} | {y:.4g} | {y - a[key]:+.4g} |")
    for key in ("val_loss", "val_recon", "val_kl"):
        if a is not None and key in a["final_losses"] and key in b["final_losses"]:
            x, y = a["final_losses"][key], b["final_losses"][key]
            rows.append(f"| {key} (last epoch) | {x:.4g} | {y:.4g} | {y - x:+.4g} |")
    sim = rep["candidate_rtl_regression"]
    n = rep["sample_sizes"]
    base = f"`{a['model_hash'][:12]}`" if a is not None else "(nothing committed yet)"
    return (
        f"# Model change report: {rep['design']} {version}\n\n"
        f"Committed model {base} vs candidate `{b['model_hash'][:12]}`.\n"
        f"Candidate RTL regression (Verilator + cocotb): **{'PASS' if sim['passed'] else 'FAIL'}**, "
        f"{sim['vectors']} vectors, {sim['mismatched_fields']} mismatched fields, latency {sim['latency_ns']} ns.\n"
        + "".join(f"- FAIL: {r}\n" for r in sim.get("fail_reasons") or []) + "\n"
        "| figure | committed | candidate | delta |\n|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        f"AUCs and decision rates: both models on the candidate's golden inputs ({n['normal']} normal tracks; "
        + ", ".join(f"{n[k]} {k}" for k in stages.DEFECT_KINDS)
        + "), each at its own committed threshold. LUT/FF figures are da4ml's cost-model estimates, "
        "not synthesis results.\n"
    )
