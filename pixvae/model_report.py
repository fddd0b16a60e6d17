"""`pixvae report`: one self-contained HTML page (plots embedded as PNG data) of a reference
model's measurements, with the paper's figures beside ours and where each came from."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from model.description.design import N_ROWS, Design  # noqa: E402
from model.measurements import evaluation as E  # noqa: E402
from model.measurements import metrics as M  # noqa: E402
from pixvae import measure  # noqa: E402
from pixvae.figures import plt  # noqa: E402
from pixvae.figures import png as _png  # noqa: E402


def _percent_error(m: E.Measured) -> str:
    pe = m.arrays["percent_error"]
    pe = pe[np.isfinite(pe)]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.hist(pe, bins=np.linspace(0, np.percentile(pe, 99.5), 80))
    ax.axvline(np.mean(pe), color="k", ls="--", label=f"mean {np.mean(pe):.1f}%")
    ax.axvline(np.median(pe), color="r", ls=":", label=f"median {np.median(pe):.1f}%")
    ax.set(xlabel="percent error per track (8 slices, pixel-row charge)", ylabel="tracks",
           title=f"Reconstruction of {len(pe):,} normal test tracks")
    ax.legend()
    return _png(fig)


def _track_display(design: Design, m: E.Measured) -> str:
    """One test track: the 4 input slices the chip sees, the reconstruction and the truth."""
    pe = m.arrays["percent_error"]
    k = int(np.nanargmin(np.abs(pe - np.nanmedian(pe))))  # a typical track: the median error
    n_in, n_out = len(design.encoding.slices), len(design.decoder.slices)
    inp = m.arrays["input_codes"][k, : n_in * N_ROWS].reshape(n_in, N_ROWS).T
    rec = m.arrays["recon_codes"][k, : n_out * N_ROWS].reshape(n_out, N_ROWS).T
    tru = m.arrays["target_codes"][k, : n_out * N_ROWS].reshape(n_out, N_ROWS).T
    top = design.input_format.raw_max
    fig, axes = plt.subplots(1, 3, figsize=(9.5, 3.6), gridspec_kw={"width_ratios": [n_in, n_out, n_out]},
                             layout="constrained")
    for ax, img, title in zip(axes, (inp, rec, tru), (f"input ({n_in} slices)", "reconstructed", "truth"),
                              strict=True):
        im = ax.imshow(img, aspect="auto", origin="lower", vmin=0, vmax=top, cmap="viridis")
        ax.set(xlabel="time slice (200 ps)", title=title)
    axes[0].set_ylabel("y row")
    fig.colorbar(im, ax=axes.tolist(), label="charge code")
    fig.suptitle(f"Test track {k}: percent error {pe[k]:.1f}% (the median track)")
    return _png(fig)


def _scores(design: Design, m: E.Measured) -> str:
    sf = design.score_format
    normal = sf.to_float(m.arrays["score_normal"])
    sets = {"normal": normal} | {k: sf.to_float(v) for k, v in m.arrays.get("score_defect", {}).items()}
    hi = max(np.percentile(v, 99.9) for v in sets.values())
    bins = np.linspace(min(v.min() for v in sets.values()), hi, 80)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, v in sets.items():
        ax.hist(v, bins=bins, histtype="step", label=f"{name} (n={len(v):,})")
    ax.set_yscale("log")
    ax.set(xlabel=f"on-chip score ({sf.hls(False)})", ylabel="tracks", title="On-chip score (bit-exact integers)")
    ax.legend(fontsize=8)
    return _png(fig)


def _rocs(design: Design, m: E.Measured) -> str:
    normal = m.arrays["score_normal"]
    fig, ax = plt.subplots(figsize=(5, 4.2))
    for kind, bad in m.arrays.get("score_defect", {}).items():
        y = np.r_[np.zeros(len(normal)), np.ones(len(bad))]
        fpr, tpr, _ = roc_curve(y, np.r_[normal, bad])
        ax.plot(fpr, tpr, label=f"{kind}: AUC {m.values['ad_auc'][kind]:.1f}%")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.axvline(0.1, color="grey", ls="--", lw=0.8, label="90% background rejection")
    ax.set(xlabel="normal tracks flagged", ylabel="defect tracks flagged", title="Defect ROC, on-chip score")
    ax.legend(fontsize=8)
    return _png(fig)


def _tradeoff(design: Design, m: E.Measured) -> str:
    """Compressed size against defect efficiency as the threshold (tracks sent raw) moves."""
    normal = m.arrays["score_normal"].astype(np.float64)
    fracs = np.array([0.001, 0.003, 0.01, 0.03, 0.05, 0.1, 0.2, 0.3])
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for kind, bad in m.arrays.get("score_defect", {}).items():
        thr = np.quantile(normal, 1 - fracs)
        eff = [100 * np.mean(bad > t) for t in thr]
        size = [M.compressed_size(design, float(np.mean(normal > t))) for t in thr]
        ax.plot(size, eff, "o-", label=kind)
    ax.set(xlabel="compressed size, % of raw (normal tracks above threshold sent raw)",
           ylabel="defect tracks sent raw (%)", title="Compression against defect detection")
    ax.legend(fontsize=8)
    return _png(fig)


def _pileup(m: E.Measured) -> str:
    y = m.arrays["signal"]
    fig, ax = plt.subplots(figsize=(5, 4.2))
    for key, label in (("pileup_decoded", "decoded tracks"), ("pileup_raw", "uncompressed codes")):
        fpr, tpr, _ = roc_curve(y, m.arrays[key])
        ax.plot(tpr, 1 - fpr, label=label)
    ax.set(xlabel="signal efficiency (|pT| > 2 GeV)", ylabel="background rejection", xlim=(0.8, 1.0),
           title=f"Off-detector pileup classifier ({int(y.sum()):,} signal / {int((1 - y).sum()):,} background)")
    ax.legend(fontsize=8)
    return _png(fig)


def _rows(design: Design, doc: dict[str, Any]) -> str:
    paper = design.paper
    errs = doc.get("errors", {})
    out = []
    for key in measure.PAPER_KEYS + measure.EXTRA_KEYS:
        value = doc.get(key)
        if value is None:
            continue
        subs = value.items() if isinstance(value, dict) else [("", value)]
        for sub, v in subs:
            err = errs.get(key, {}).get(sub) if sub else errs.get(key)
            want = paper.get(key, {}).get(sub) if sub else paper.get(key)
            name = f"{key} ({sub})" if sub else key
            ours = f"{v:.2f}" + (f" &plusmn; {err:.2f}" if err is not None else " (exact)")
            out.append(f"<tr><td>{name}</td><td>{ours}</td><td>{'' if want is None else want}</td></tr>")
    return "".join(out)


def _scores_tried(doc: dict[str, Any]) -> str:
    rows = []
    for name, rec in doc.get("scores_tried", {}).items():
        cells = "".join(f"<td>{rec['ad_eff_at_br90'][k]:.1f} &plusmn; {rec['errors']['ad_eff_at_br90'][k]:.1f}</td>"
                        f"<td>{rec['ad_auc'][k]:.1f}</td>" for k in E.DEFECT_KINDS)
        rows.append(f"<tr><td>{html.escape(name)}</td>{cells}</tr>")
    head = "".join(f"<th>{k}: eff @ 90% rej</th><th>AUC</th>" for k in E.DEFECT_KINDS)
    return f"<table border=1 cellpadding=3><tr><th>score</th>{head}</tr>{''.join(rows)}</table>" if rows else ""


def _hardware(design: Design, m: E.Measured) -> str:
    """The committed timing report's figures at the chosen depth, when it was made for this model,
    beside the paper's Table 1."""
    from hw import clock

    path = design.path / clock.REPORT_FILE
    paper = design.paper.get("hardware", {})
    want = (f"paper: {paper.get('latency_ns', '?')} ns, {paper.get('luts', '?')} LUTs, {paper.get('dsps', '?')} DSPs, "
            f"{paper.get('ffs', '?')} FFs ({html.escape(str(paper.get('tool', '')))})") if paper else ""
    try:
        rep = clock.load_report(path)
    except clock.ClockError as e:
        return f"<p>{html.escape(str(e))}. {want}</p>"
    if rep is None:
        return f"<p>No timing report ({html.escape(str(path))}); run `pixvae timing --design {design.name}`. {want}</p>"
    if rep.get("model_hash") != m.model_hash:
        return (f"<p>{html.escape(str(path))} was made for model {str(rep.get('model_hash'))[:12]}, not this one: "
                f"run `pixvae timing --design {design.name}`. {want}</p>")
    chosen = next(d for d in rep["depths"] if d["adder_levels"] == rep["adder_levels"])
    chk, x, da = rep["check"], chosen.get("xilinx", {}), chosen.get("da4ml", {})
    rows = [("latency", f"{rep['latency_cycles']} cycle(s) x {chk['period_ns']} ns = {chk['latency_ns']} ns "
                        f"({html.escape(chk['target'])}, {html.escape(chk['corner'])}; {html.escape(chk['tool'])})"),
            ("LUT / FF / DSP",
             f"{x.get('luts')} / {x.get('ffs')} / {x.get('dsps')} ({html.escape(x.get('tool', ''))})"),
            ("LUT / FF (estimate)", f"{da.get('luts')} / {da.get('ffs')} ({html.escape(da.get('tool', ''))})")]
    body = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows)
    return f"<table border=1 cellpadding=3>{body}</table><p>{want}</p>"


def write(design: Design, m: E.Measured, doc: dict[str, Any], out: Path, ref_dir: Path | None = None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    joint = ""
    if m.thesis:  # a JointVAE: the thesis's part of the report
        from model.fixed import decoder as decmod
        from model.fixed import reference
        from pixvae import joint_report

        ref_dir = ref_dir or design.reference_dir
        ref = reference.load(ref_dir, design)
        joint = joint_report.section(design, m, doc, ref_dir, decmod.load(ref_dir, design, ref.model_hash),
                                     ref.network)
    figs = []
    if design.kind == "vae_encoder":
        figs += [_percent_error(m), _track_display(design, m), _scores(design, m), _rocs(design, m),
                 _tradeoff(design, m), _pileup(m)]
    else:
        figs += [_scores(design, m)]
    sizes = ", ".join(f"{k} {v:,}" for k, v in doc["sample_sizes"].items())
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(design.name)} measurements</title>
</head><body style="font-family:sans-serif;max-width:1000px">
<h1>{html.escape(design.name)}: the paper's measurements</h1>
<p>{html.escape(design.description)}. Model {html.escape(m.model_hash[:12])}.
Tracks: {html.escape(doc['data']['tracks'])}; sample sizes: {sizes}.
On-chip figures come from the bit-exact integer model (what the RTL regression checks);
the decoder and the pileup classifier on decoded tracks are off-detector and float. Errors are one standard error
(bootstrap for efficiencies, rejections and the median, Hanley-McNeil for AUCs).</p>
<p>Our data are not the paper's: the tracks come from this project's generator (model/data/generator.py), not the
public PixelAV release, so figures that depend on the detailed charge shapes (reconstruction error, pileup
rejection) need not agree.</p>
<table border=1 cellpadding=3><tr><th>figure (percent)</th><th>ours</th><th>paper</th></tr>{_rows(design, doc)}</table>
<h2>Hardware (the committed timing report)</h2>
{_hardware(design, m)}
<h2>Anomaly scores tried (latent means of the integer model; centre and scale from normal reference tracks
only; the profile check trained on normal tracks only)</h2>
{_scores_tried(doc)}
<h2>Plots</h2>{''.join(figs)}
{joint}
</body></html>"""
    path = out / "report.html"
    path.write_text(page)
    return path
