"""The main job's report: one self-contained HTML page of a run of any design (plots embedded):
the verdict, the regression's figures in words with units, training curves (one panel per
quantity, each on its own axis), the on-chip score of the golden vectors with the threshold, the
latent values, and the defect ROC AUC in percent with its sample sizes."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import roc_auc_score

from hw import golden as G
from model.description.design import Design
from pixvae import physics_plots as P
from pixvae.figures import grid, page, plt, png
from pixvae.labels import DEFECT_WORDS
from pixvae.paths import RunPaths

DEFECTS = ("dead_pixel", "loud_pixel", "dead_row")
# The run's figures in words, with how each value is written; keys not here are not shown.
RESULTS: dict[str, tuple[str, Any]] = {
    "passed": ("verdict", lambda v: "PASS" if v else "FAIL"),
    "vectors": ("golden vectors run through the RTL", lambda v: f"{v:,}"),
    "mismatched_vectors": ("vectors with a mismatched output field", lambda v: f"{v:,}"),
    "mismatched_fields": ("output fields mismatched", lambda v: f"{v:,}"),
    "protocol_errors": ("protocol errors (valid, reset, quiet outputs)", lambda v: f"{v:,}"),
    "latency_cycles": ("latency [clock cycles]", lambda v: f"{v}"),
    "clock_period_ns": ("clock period [ns]", lambda v: f"{v:.2f}"),
    "latency_ns": ("latency [ns]", lambda v: f"{v:.2f}"),
    "budget_ns": ("budget, one bunch crossing at 40 MHz [ns]", lambda v: f"{v:.1f}"),
    "clock_source": ("where the period comes from", str),
    "initiation_interval": ("initiation interval [cycles per track]", lambda v: f"{v}"),
    "simulator": ("simulator", str),
    "cycles_per_s": ("simulation speed [cycles/s]", lambda v: f"{v:,.0f}"),
    "build_seconds": ("Verilator build [s]", lambda v: f"{v:.1f}"),
    "build_cached": ("build taken from the cache", lambda v: "yes" if v else "no"),
    "adder_levels_per_stage": ("adder levels per pipeline stage (da4ml)", lambda v: f"{v:,}"),
}


def defect_aucs(g: G.Golden) -> dict[str, dict[str, float]]:
    """ROC AUC (percent) of the on-chip score separating each defect set from normal tracks, with sample sizes."""
    normal = g.score[g.sets == "normal"]
    out = {}
    for kind in DEFECTS:
        bad = g.score[g.sets == kind]
        if len(bad) and len(normal):
            y = np.r_[np.zeros(len(normal)), np.ones(len(bad))]
            out[kind] = {"auc_percent": 100 * float(roc_auc_score(y, np.r_[normal, bad])),
                         "n_normal": len(normal), "n_defect": len(bad)}
    return out


def _training(design: Design, hist: dict[str, list[float]]) -> str:
    """One panel per trained quantity (a loss, its terms, the KL), training and validation, log axis
    where the values span more than a decade: losses of 0.003 and KLs of 20 never share an axis."""
    names = [k for k, v in hist.items() if len(v) > 1 and not k.startswith("val_") and k not in ("lr", "beta")]
    if not names:
        return ""
    cols = min(3, len(names))
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 4.6 * rows), squeeze=False)
    for ax, key in zip(axes.ravel(), names, strict=False):
        epochs = np.arange(1, len(hist[key]) + 1)
        ax.plot(epochs, hist[key], label="training")
        if f"val_{key}" in hist:
            ax.plot(epochs, hist[f"val_{key}"], ls="--", label="validation")
        vals = np.asarray(hist[key], dtype=float)
        if np.all(vals > 0) and vals.max() / vals.min() > 10:
            ax.set_yscale("log")
        ax.set(xlabel="epoch", ylabel=key, title=key)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend()
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    fig.suptitle(f"{design.name}: training (QKeras), {len(hist[names[0]])} epochs")
    return png(fig, wide=True)


def _scores(design: Design, g: G.Golden) -> str:
    sets = {DEFECT_WORDS.get(s, s): g.score[g.sets == s] for s in ("normal", *DEFECTS)}
    return P.score_histogram(design, sets, g.threshold_raw, "On-chip score of the golden vectors", "golden vectors")


def _latents(design: Design, g: G.Golden) -> str:
    lat = design.latent
    if lat is None:
        return ""
    mu = lat.fmt.to_float(g.latent[g.sets == "normal"])
    return P.latent_histograms(mu, f"Latent means of {len(mu):,} normal golden vectors ({lat.fmt.hls(False)})")


def _table(results: dict[str, Any]) -> str:
    rows = []
    for key, (words, fmt) in RESULTS.items():
        if results.get(key) is not None:
            text = fmt(results[key])
            cls = ' class="num"' if re.fullmatch(r"[-+\d.,]+", text) else ""  # text wraps; numbers align right
            rows.append(f"<tr><td>{words}</td><td{cls}>{html.escape(text)}</td></tr>")
    for reason in results.get("fail_reasons", []):
        rows.append(f"<tr><td>failure</td><td>{html.escape(str(reason))}</td></tr>")
    return f"<table>{''.join(rows)}</table>"


def write(design: Design, run: RunPaths, results: dict[str, Any]) -> Path:
    out = run.report
    out.mkdir(parents=True, exist_ok=True)
    g = G.load(run.golden, design)
    meta = json.loads((run.reference / "metadata.json").read_text())
    aucs = defect_aucs(g)
    auc_rows = "".join(f"<tr><td>{DEFECT_WORDS[k]}</td><td class=\"num\">{v['auc_percent']:.1f}</td>"
                       f"<td class=\"num\">{v['n_normal']:,}</td><td class=\"num\">{v['n_defect']:,}</td></tr>"
                       for k, v in aucs.items())
    auc_table = ("<h2>Defect detection with the on-chip score, golden vectors</h2><table><tr><th>defect</th>"
                 f"<th>ROC AUC [%]</th><th>normal tracks</th><th>defect tracks</th></tr>{auc_rows}</table>"
                 f"<p>For the paper's figures on 55,000 tracks a set: <code>pixvae report --design "
                 f"{design.name}</code>.</p>") if aucs else ""
    out_bits = sum(f.bits for f in design.fields)
    verdict = "PASS" if results.get("passed") else "FAIL"
    colour = "#1a7f37" if verdict == "PASS" else "#cf222e"
    title = f"pixvae run of {design.name}: {verdict}"
    body = f"""<h1>pixvae run of {html.escape(design.name)}: <span style="color:{colour}">{verdict}</span></h1>
<p>{html.escape(design.description)}. Run folder {html.escape(str(run.root))}; model
{html.escape(g.manifest['model_hash'][:12])}; {len(g):,} golden vectors. On-chip outputs: {out_bits} bits per track
({', '.join(f'{f.port} {f.bits} b' for f in design.fields)}) from {design.input_bits} input bits.</p>
<h2>RTL regression (Verilator + cocotb, bit for bit against the golden vectors)</h2>{_table(results)}
{auc_table}
<h2>Plots</h2>{grid([_scores(design, g)])}{_training(design, meta.get("history", {}))}{_latents(design, g)}"""
    for stale in ("training.png", "scores.png", "latents.png"):  # earlier reports' separate pictures
        (out / stale).unlink(missing_ok=True)
    (out / "index.html").write_text(page(title, body))
    (out / "metrics.json").write_text(json.dumps({"defect_auc_percent": aucs}, indent=2) + "\n")
    return out / "index.html"
