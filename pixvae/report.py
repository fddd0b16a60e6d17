"""A small HTML report of a run: training curves, anomaly-score distributions and the
defect-detection ROC AUC per defect, from the golden vectors (bit-exact integer scores)."""

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
from model import formats as F  # noqa: E402
from pixvae.paths import RunPaths  # noqa: E402

DEFECTS = ("dead_pixel", "loud_pixel", "dead_row")


def defect_aucs(g: G.Golden) -> dict[str, float]:
    """ROC AUC of the on-chip score separating each defect set from normal tracks."""
    normal = g.score[g.sets == "normal"]
    out = {}
    for kind in DEFECTS:
        bad = g.score[g.sets == kind]
        if len(bad) and len(normal):
            y = np.r_[np.zeros(len(normal)), np.ones(len(bad))]
            out[kind] = float(roc_auc_score(y, np.r_[normal, bad]))
    return out


def write(run: RunPaths, results: dict[str, Any]) -> Path:
    out = run.report
    out.mkdir(parents=True, exist_ok=True)
    g = G.load(run.golden)
    meta = json.loads((run.reference / "metadata.json").read_text())
    hist = meta.get("history", {})

    fig, ax = plt.subplots(figsize=(6, 4))
    for key in ("loss", "val_loss", "recon", "kl"):
        if key in hist:
            ax.plot(np.arange(1, len(hist[key]) + 1), hist[key], label=key)
    ax.set(xlabel="epoch", ylabel="loss", title="VAE training (QKeras)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "training.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    scores = F.SCORE.to_float(g.score)
    bins = np.linspace(0, max(1.0, np.percentile(scores, 99.5)), 60)
    for s in ("normal", *DEFECTS):
        sel = g.sets == s
        if sel.any():
            ax.hist(scores[sel], bins=bins, histtype="step", density=True, label=f"{s} ({sel.sum()})")
    thr = g.threshold_raw * 2.0**-F.SCORE.frac
    ax.axvline(thr, color="k", ls="--", label=f"threshold {thr:g}")
    ax.set(xlabel="clipped KL score 0.5*sum(mu^2) (RTL format ufixed<18,9>)", ylabel="density",
           title="On-chip anomaly score, golden vectors")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "scores.png", dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(2, 4, figsize=(10, 4.5), sharey=True)
    mu = F.LATENT.to_float(g.mu[g.sets == "normal"])
    for j, ax in enumerate(axes.ravel()):
        ax.hist(mu[:, j], bins=np.arange(-8, 8.0625, 0.25))
        ax.set_title(f"mu{j}", fontsize=9)
    fig.suptitle("Latent means of normal tracks (fixed<8,4>)")
    fig.tight_layout()
    fig.savefig(out / "latents.png", dpi=110)
    plt.close(fig)

    aucs = defect_aucs(g)
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>" for k, v in results.items()
                   if not isinstance(v, list))
    auc_rows = "".join(f"<tr><td>{k}</td><td>{v:.3f}</td></tr>" for k, v in aucs.items())
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>pixvae run report</title></head>
<body style="font-family:sans-serif;max-width:900px">
<h1>pixvae run: {html.escape(str(run.root))}</h1>
<p>Model {html.escape(g.manifest['model_hash'][:12])}, {len(g)} golden vectors.
Compression: {F.N_LATENT} x {F.LATENT.width} bits = {F.LATENT_BITS} bits per track vs 104 x 4 = 416 raw bits
({100 * F.LATENT_BITS / 416:.1f}%).</p>
<h2>RTL regression (Verilator + cocotb)</h2><table border=1 cellpadding=3>{rows}</table>
<h2>Defect detection with the on-chip score (ROC AUC, sklearn)</h2><table border=1 cellpadding=3>{auc_rows}</table>
<img src="scores.png"><img src="training.png"><img src="latents.png">
</body></html>"""
    (out / "index.html").write_text(page)
    (out / "metrics.json").write_text(json.dumps({"defect_auc": aucs}, indent=2) + "\n")
    return out / "index.html"
