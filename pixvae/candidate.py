"""The model-change pipeline: retrain, export, write golden vectors into a new versioned folder,
run the RTL regression, and report what changed against the committed reference.

Nothing committed is touched: the candidate lives in golden/candidates/<version>/ until a person
promotes it (replacing golden/reference and golden/vectors in a commit that says why).
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

from hw import golden as G
from hw import params
from hw import rtl as R
from model import fixed_ref, reference
from pixvae import stages
from pixvae.paths import COMMITTED_GOLDEN, COMMITTED_REFERENCE, REPO, RunPaths

CANDIDATES = REPO / "golden" / "candidates"


def version_name() -> str:
    sha = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], capture_output=True, text=True, cwd=REPO)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"{stamp}-{sha.stdout.strip() or 'nogit'}"


def physics(weights: fixed_ref.IntegerEncoder, g: G.Golden, threshold_raw: int) -> dict[str, float]:
    """Defect-detection AUCs and flag rates of a model, on the given golden inputs (same for both models)."""
    score = fixed_ref.score_raw(weights.latent(g.x))
    normal = score[g.sets == "normal"]
    out: dict[str, float] = {"normal_flag_rate": float(np.mean(normal > threshold_raw))}
    for kind in stages.DEFECT_KINDS:
        bad = score[g.sets == kind]
        y = np.r_[np.zeros(len(normal)), np.ones(len(bad))]
        out[f"auc_{kind}"] = float(roc_auc_score(y, np.r_[normal, bad]))
        out[f"flag_rate_{kind}"] = float(np.mean(bad > threshold_raw))
    return out


def run(profile: str = "short", version: str | None = None, build_root: Path = REPO / "build" / "candidate") -> Path:
    version = version or version_name()
    dest = CANDIDATES / version
    if dest.exists():
        raise G.GoldenError(f"{dest}: candidate exists already; golden folders are never overwritten")
    run_paths = RunPaths(build_root / version)
    cand, cand_rtl, sim = stages.full_run(run_paths, profile, dest / "vectors")
    shutil.copytree(run_paths.reference, dest / "reference")

    base = reference.load(COMMITTED_REFERENCE)
    base_g = G.load(COMMITTED_GOLDEN, expected_hash=base.model_hash)
    base_rtl = stages.export(base, build_root / "committed" / "hls4ml", build_root / "committed" / "rtl",
                             params.ADDER_LEVELS_PER_STAGE, params.CLOCK_PERIOD_NS)
    cand_g = G.load(dest / "vectors", expected_hash=cand.model_hash)
    report = change_report(base, base_g, base_rtl, cand, cand_g, cand_rtl, sim)
    (dest / "change_report.json").write_text(json.dumps(report, indent=2) + "\n")
    (dest / "CHANGE_REPORT.md").write_text(markdown(report, version))
    stages.log(f"candidate: {dest} (see CHANGE_REPORT.md); RTL regression {'PASS' if sim.get('passed') else 'FAIL'}")
    return dest


def change_report(base, base_g: G.Golden, base_rtl: R.RtlMeta, cand, cand_g: G.Golden, cand_rtl: R.RtlMeta,
                  sim: dict[str, Any]) -> dict[str, Any]:
    def hw(m: R.RtlMeta) -> dict[str, Any]:
        return {"latency_cycles": m.latency_cycles, "latency_ns": m.latency_cycles * m.clock_period_ns,
                "pipeline_stages": m.pipeline_stages, "da4ml_estimated_luts": m.estimated_luts,
                "da4ml_estimated_ffs": m.estimated_ffs}

    last = {k: v[-1] for k, v in cand.metadata.get("history", {}).items() if v}
    base_last = {k: v[-1] for k, v in base.metadata.get("history", {}).items() if v}
    # Both models scored on the candidate's golden inputs, each at its own threshold.
    return {
        "committed": {"model_hash": base.model_hash, **hw(base_rtl), "final_losses": base_last,
                      **physics(base.weights, cand_g, base_g.threshold_raw)},
        "candidate": {"model_hash": cand.model_hash, **hw(cand_rtl), "final_losses": last,
                      **physics(cand.weights, cand_g, cand_g.threshold_raw)},
        "candidate_rtl_regression": {k: sim.get(k) for k in ("passed", "vectors", "mismatched_fields",
                                                            "latency_cycles", "latency_ns", "build_seconds")},
        "resource_estimate_tool": "da4ml cost model (not a synthesis result)",
    }


def markdown(rep: dict[str, Any], version: str) -> str:
    a, b = rep["committed"], rep["candidate"]
    rows = []
    for key in ("latency_cycles", "latency_ns", "pipeline_stages", "da4ml_estimated_luts", "da4ml_estimated_ffs",
                "normal_flag_rate", *[f"{p}_{k}" for k in stages.DEFECT_KINDS for p in ("auc", "flag_rate")]):
        x, y = a[key], b[key]
        rows.append(f"| {key} | {x:.4g} | {y:.4g} | {y - x:+.4g} |")
    for key in ("val_loss", "val_recon", "val_kl"):
        if key in a["final_losses"] and key in b["final_losses"]:
            x, y = a["final_losses"][key], b["final_losses"][key]
            rows.append(f"| {key} (last epoch) | {x:.4g} | {y:.4g} | {y - x:+.4g} |")
    sim = rep["candidate_rtl_regression"]
    return (
        f"# Model change report: {version}\n\n"
        f"Committed model `{a['model_hash'][:12]}` vs candidate `{b['model_hash'][:12]}`.\n"
        f"Candidate RTL regression (Verilator + cocotb): **{'PASS' if sim['passed'] else 'FAIL'}**, "
        f"{sim['vectors']} vectors, {sim['mismatched_fields']} mismatched fields, latency {sim['latency_ns']} ns.\n\n"
        "| figure | committed | candidate | delta |\n|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        "AUCs and flag rates: both models on the candidate's golden inputs, each at its own 99th-percentile "
        "threshold. LUT/FF figures are da4ml's cost-model estimates, not synthesis results.\n"
    )
