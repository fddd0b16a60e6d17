"""A small HTML report of a run of any design: training curves, on-chip score distributions,
the latent values (a VAE's means) and the defect-detection ROC AUC per defect, from the golden
vectors (bit-exact integer scores; each AUC with its sample sizes)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from hw import golden as G  # noqa: E402
from model.description.design import Design  # noqa: E402
from pixvae.paths import RunPaths  # noqa: E402

DEFECTS = ("dead_pixel", "loud_pixel", "dead_row")


def defect_aucs(g: G.Golden) -> dict[str, dict[str, float]]:
    """ROC AUC of the on-chip score separating each defect set from normal tracks, with sample sizes."""
    normal = g.score[g.sets == "normal"]
    out = {}
    for kind in DEFECTS:
        bad = g.score[g.sets == kind]
        if len(bad) and len(normal):
            y = np.r_[np.zeros(len(normal)), np.ones(len(bad))]
            out[kind] = {"auc": float(roc_auc_score(y, np.r_[normal, bad])), "n_normal": len(normal),
                         "n_defect": len(bad)}
    return out


def write(design: Design, run: RunPaths, results: dict[str, Any]) -> Path:
    out = run.report
    out.mkdir(parents=True, exist_ok=True)
    g = G.load(run.golden, design)
    meta = json.loads((run.reference / "metadata.json").read_text())
    hist = meta.get("history", {})
    images = []

    fig, ax = plt.subplots(figsize=(6, 4))
    for key, vals in hist.items():
        if len(vals) > 1 and ("loss" in key or key in ("recon", "kl")):
            ax.plot(np.arange(1, len(vals) + 1), vals, label=key)
    ax.set(xlabel="epoch", ylabel="loss", title=f"{design.name} training (QKeras)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "training.png", dpi=110)
    plt.close(fig)
    images.append("training.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    sf = design.score_format
    scores = sf.to_float(g.score)
    bins = np.linspace(np.percentile(scores, 0.5), max(np.percentile(scores, 99.5), scores.min() + 1e-3), 60)
    for s in ("normal", *DEFECTS):
        sel = g.sets == s
        if sel.any():
            ax.hist(scores[sel], bins=bins, histtype="step", density=True, label=f"{s} (n={sel.sum()})")
    thr = g.threshold_raw * 2.0**-sf.frac
    ax.axvline(thr, color="k", ls="--", label=f"threshold {thr:g}")
    what = "network score" if design.score != "kl_clipped" else "0.5*sum(mu^2)" + (
        f" + 2**{design.dip_shift} x profile dips" if design.dip_shift is not None else "") + (
        f" + 2**{design.check.shift} x profile check" if design.check is not None else "")
    ax.set(xlabel=f"{what} (RTL format {sf.hls(False)})", ylabel="density", title="On-chip score, golden vectors")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "scores.png", dpi=110)
    plt.close(fig)
    images.insert(0, "scores.png")

    lat = design.latent
    if lat is not None:
        cols = min(4, lat.count)
        fig, axes = plt.subplots((lat.count + cols - 1) // cols, cols, figsize=(10, 4.5), sharey=True, squeeze=False)
        mu = lat.fmt.to_float(g.latent[g.sets == "normal"])
        for j, ax in enumerate(axes.ravel()):
            if j < lat.count:
                ax.hist(mu[:, j], bins=60)
                ax.set_title(f"mu{j}", fontsize=9)
        fig.suptitle(f"Latent means of {len(mu)} normal tracks ({lat.fmt.hls(False)})")
        fig.tight_layout()
        fig.savefig(out / "latents.png", dpi=110)
        plt.close(fig)
        images.append("latents.png")

    aucs = defect_aucs(g)
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>" for k, v in results.items()
                   if not isinstance(v, list))
    auc_rows = "".join(f"<tr><td>{k}</td><td>{v['auc']:.3f}</td><td>{v['n_normal']}</td><td>{v['n_defect']}</td></tr>"
                       for k, v in aucs.items())
    out_bits = sum(f.bits for f in design.fields)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>pixvae run report</title></head>
<body style="font-family:sans-serif;max-width:900px">
<h1>pixvae run of {html.escape(design.name)}: {html.escape(str(run.root))}</h1>
<p>{html.escape(design.description)}. Model {html.escape(g.manifest['model_hash'][:12])}, {len(g)} golden vectors.
On-chip outputs: {out_bits} bits per track ({', '.join(f'{f.port} {f.bits} b' for f in design.fields)}) from
{design.input_bits} input bits.</p>
<h2>RTL regression (Verilator + cocotb)</h2><table border=1 cellpadding=3>{rows}</table>
<h2>Defect detection with the on-chip score (ROC AUC, sklearn)</h2>
<table border=1 cellpadding=3><tr><th>defect</th><th>AUC</th><th>normal tracks</th><th>defect tracks</th></tr>
{auc_rows}</table>
{''.join(f'<img src="{i}">' for i in images)}
</body></html>"""
    (out / "index.html").write_text(page)
    (out / "metrics.json").write_text(json.dumps({"defect_auc": aucs}, indent=2) + "\n")
    return out / "index.html"
