"""The JointVAE part of `pixvae report`: the thesis's score table (float, quantized, on-chip) with
the thesis's figures beside ours, QTools energy, latent pictures (UMAP and t-SNE), a latent
interpolation decoded back to tracks, and the weights before and after quantization."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from model.description.design import N_ROWS, Design
from model.fixed.decoder import Decoder, latent_input
from model.measurements import evaluation as E
from model.measurements import joint_scores as J
from model.networks.offchip import Offchip
from pixvae.figures import plt
from pixvae.figures import png as _png
from pixvae.labels import DEFECT_WORDS

LATENT_POINTS = 1500  # normal tracks drawn in the latent maps (and a third as many per defect)
NAMES = {"energy": "energy difference ||x - x'||^2", "bce": "BCE", "dice": "DICE", "bce_dice": "BCE + DICE",
         "kl_continuous": "KL continuous", "kl_discrete": "KL discrete", "kl_total": "KL total",
         "kl_clipped": "clipped KL 0.5 sum mu^2 (the VAE's)"}
VERSIONS = {"float": "float baseline", "quantized": "quantized (QAT) model", "on_chip": "on-chip integer score (RTL)"}


def _table(design: Design, doc: dict[str, Any]) -> str:
    """The thesis's scores on our tracks, the thesis's own figure (jets) in the same row where it
    has one (its total KL score, float and quantized)."""
    th = doc.get("thesis_scores", {})
    sizes = doc.get("sample_sizes", {})
    ref = design.paper.get("thesis_kl_total", {})
    thesis = {("float", "kl_total"): (ref.get("auc_float"), ref.get("tpr10_float")),
              ("quantized", "kl_total"): (ref.get("auc_quantized"), ref.get("tpr10_quantized"))}
    head = "".join(f"<th>{DEFECT_WORDS[k]}: AUC [%]</th><th>flagged at 10% of normal [%]</th>" for k in E.DEFECT_KINDS)
    rows = []
    for version, label in VERSIONS.items():
        for score, rec in th.get(version, {}).items():
            cells = "".join(
                f"<td class=\"num ours\">{rec['auc'][k]:.1f} &plusmn; {rec['errors']['auc'][k]:.1f}</td>"
                f"<td class=\"num ours\">{rec['tpr_at_fpr10'][k]:.1f} &plusmn; "
                f"{rec['errors']['tpr_at_fpr10'][k]:.1f}</td>" for k in E.DEFECT_KINDS)
            auc, tpr = thesis.get((version, score), (None, None))
            want = (f'<td class="num paper">{auc:g} / {tpr:g}</td>' if auc is not None
                    else '<td class="num paper missing">&mdash;</td>')
            rows.append(f"<tr><td>{label}</td><td>{html.escape(NAMES.get(score, score))}</td>{cells}{want}</tr>")
    return (f"<p>{sizes.get('test', '?'):,} normal test tracks against {sizes.get('defect_each', '?'):,} tracks per "
            "defect; one standard error (Hanley-McNeil for AUCs, bootstrap for the flagged fractions). The thesis "
            "column: its Table 3.3, AUC / true positives at 10% false positives, on jets, not tracks; &mdash;: it has "
            "no figure for that row.</p>"
            f'<table class="paper"><tr><th>model</th><th>score</th>{head}<th>the thesis (jets): AUC / TPR [%]</th></tr>'
            f"{''.join(rows)}</table>")


def _energy(design: Design) -> str:
    from model.measurements import energy

    rows = []
    settings = {"on chip (weights in logic, activations in registers)": energy.ON_CHIP,
                "QKeras's example (weights and activations in a 16 MB SRAM)":
                    energy.Memory("sram", "sram", 8 * 16 * 1024 * 1024, False)}
    tool = ""
    for label, mem in settings.items():
        c = energy.compare(design, memory=mem)
        tool = c["quantized"]["tool"]
        rows.append(f"<tr><td>{html.escape(label)}</td><td>{c['float']['total_pj']:.0f}</td>"
                    f"<td>{c['quantized']['total_pj']:.0f}</td><td>{c['saving_percent']:.1f}</td></tr>")
    want = design.paper.get("thesis_energy_saving")
    return ("<table border=1 cellpadding=3><tr><th>memory model</th><th>float pJ</th><th>quantized pJ</th>"
            f"<th>saving %</th></tr>{''.join(rows)}</table><p>{html.escape(tool)}, Horowitz process energies, per "
            f"inference of the encoder. The thesis: {want}% less for its convolutional encoder "
            "(fixed&lt;16,6&gt; against float); our encoder is dense and quantized to 4-bit inputs and 8-bit "
            "weights, so far more of its float cost goes away.</p>")


def _latent_maps(m: E.Measured) -> str:
    """UMAP and t-SNE of the continuous means and of the categorical softmax, normal and defects."""
    import umap
    from sklearn.manifold import TSNE

    joint = m.arrays["joint"]
    groups = {"normal": LATENT_POINTS} | {k: LATENT_POINTS // 3 for k in E.DEFECT_KINDS}
    cont, disc, labels = [], [], []
    for name, n in groups.items():
        lat = joint[name]["latent"]
        take = slice(0, min(n, len(lat["mu"])))
        cont.append(lat["mu"][take])
        logits = lat["last"][take, lat["mu"].shape[1]:]
        q = np.exp(logits - logits.max(axis=1, keepdims=True))
        disc.append(q / q.sum(axis=1, keepdims=True))
        labels += [name] * len(cont[-1])
    labels = np.array(labels)
    fig, axes = plt.subplots(2, 2, figsize=(10, 9))
    for row, (what, data) in enumerate((("continuous means", np.concatenate(cont)),
                                        ("categorical softmax", np.concatenate(disc)))):
        maps = {"UMAP": umap.UMAP(random_state=0, n_jobs=1).fit_transform(data),
                "t-SNE": TSNE(random_state=0, init="pca").fit_transform(data)}
        for col, (method, xy) in enumerate(maps.items()):
            ax = axes[row, col]
            for name in groups:
                sel = labels == name
                ax.scatter(xy[sel, 0], xy[sel, 1], s=3, alpha=0.6, label=f"{name} ({int(sel.sum())})")
            ax.set(title=f"{method} of the {what}", xticks=[], yticks=[])
    axes[0, 0].legend(fontsize=8, markerscale=3)
    return _png(fig)


def _categories(m: E.Measured, k: int) -> str:
    """How the tracks of each set fill the categories (the argmax of the logits)."""
    joint = m.arrays["joint"]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    width = 0.8 / (1 + len(E.DEFECT_KINDS))
    for j, name in enumerate(["normal", *E.DEFECT_KINDS]):
        cat = joint[name]["latent"]["category"][:, 0]
        ax.bar(np.arange(k) + j * width, np.bincount(cat, minlength=k) / len(cat), width, label=name)
    ax.set(xlabel="category (argmax of the logits)", ylabel="fraction of tracks", title="Categorical latent")
    ax.legend(fontsize=8)
    return _png(fig)


def _interpolation(design: Design, m: E.Measured, dec: Decoder) -> str:
    """Decoded tracks (electrons) along a line between two normal tracks' latents, and each
    category at the mean."""
    from model.measurements.metrics import charge_of_codes

    lat = m.arrays["joint"]["normal"]["latent"]
    mu, last = lat["mu"], lat["last"]
    a, b = int(np.argmin(mu[:, 0])), int(np.argmax(mu[:, 0]))  # the two ends of the first mean's range
    steps = np.linspace(0.0, 1.0, 7)
    n_out = len(design.decoder.slices)
    k = design.latent_split.categorical[0]

    def electrons(z: np.ndarray) -> np.ndarray:
        codes = dec.codes(dec(z))[0, : n_out * N_ROWS]
        return charge_of_codes(design, codes).reshape(n_out, N_ROWS).T

    top = [electrons(latent_input(design, (last[a] * (1 - t) + last[b] * t)[None, :])) for t in steps]
    centre = mu.mean(axis=0)
    bottom = [electrons(np.r_[centre, np.eye(k)[c]][None, :]) for c in range(k)]
    vmax = max(float(np.max(top)), float(np.max(bottom)), 1.0)
    cols = max(len(steps), k)
    fig, axes = plt.subplots(2, cols, figsize=(18, 7.5), squeeze=False, sharex=True, sharey=True)
    for j, (img, title) in enumerate(zip(top + bottom, [f"t = {t:.2f}" for t in steps]
                                         + [f"category {c}" for c in range(k)], strict=True)):
        ax = axes[0, j] if j < len(steps) else axes[1, j - len(steps)]
        im = ax.imshow(img, aspect="auto", origin="lower", vmin=0, vmax=vmax, cmap="viridis")
        ax.set_title(title)
    for ax in axes.ravel():
        if not ax.images:
            ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("y row")
    for ax in axes[1]:
        ax.set_xlabel("time slice")
    fig.colorbar(im, ax=axes.ravel().tolist(), label="charge per pixel row [e]", shrink=0.8)
    fig.suptitle(f"Top: decoded along the line from test track {a}'s latents to track {b}'s; bottom: the mean of "
                 f"{len(mu):,} normal tracks' means with each category ({n_out} slices x 13 rows)")
    return _png(fig, wide=True)


def _weights(design: Design, off: Offchip, net) -> str:
    """Each encoder layer's kernel: the quantization-aware weights before their quantizer, after it,
    and the float baseline's; histograms and whiskers."""
    fig, axes = plt.subplots(1, len(design.layers) + 1, figsize=(12, 3.6))
    box, names = [], []
    for ax, ly, il in zip(axes, design.layers, net.layers, strict=False):
        before = off.arrays.get(f"qat/{ly.name}/kernel")
        after = ly.weight.to_float(il.kernel).ravel()
        flt = off.arrays[f"float/{ly.name}/kernel"].ravel()
        bins = np.linspace(min(flt.min(), after.min()), max(flt.max(), after.max()), 60)
        if before is not None:
            ax.hist(before.ravel(), bins=bins, histtype="step", label="QAT, before quantizer")
            box.append(before.ravel())
            names.append(f"{ly.name}\nbefore")
        ax.hist(after, bins=bins, histtype="step", label=f"after ({ly.weight.hls(False)})")
        ax.hist(flt, bins=bins, histtype="step", ls=":", label="float baseline")
        ax.set(title=f"{ly.name} kernel ({after.size} weights)", yscale="log")
        box += [after, flt]
        names += [f"{ly.name}\nafter", f"{ly.name}\nfloat"]
    axes[0].legend(fontsize=7)
    axes[-1].boxplot(box, whis=(1, 99))
    axes[-1].set_xticks(range(1, len(names) + 1), names, fontsize=6)
    axes[-1].set(title="whiskers: 1st-99th percentile")
    return _png(fig)


def section(design: Design, m: E.Measured, doc: dict[str, Any], ref_dir: Path, dec: Decoder, net, log=print) -> str:
    from model.networks import offchip

    off = offchip.load(ref_dir, design, m.model_hash)
    k = design.latent_split.categorical[0]
    log("report: the JointVAE's energy (QTools), latent maps (UMAP, t-SNE), interpolation and weights")
    energy, maps = _energy(design), _latent_maps(m)
    log("report: latent maps done")
    return f"""<h2>JointVAE: the thesis's scores on our tracks</h2>{_table(design, doc)}
<p>What transfers from jets to tracks: the recipe (continuous plus categorical latents, Gumbel-softmax, KL
scores) and its hardware form, which fits the on-chip budget where the thesis's convolutional encoder did not.
What does not: the thesis's anomalies are other jets, ours are sensor defects on single tracks; and the numbers are
our generator's, not real data. The on-chip row is the RTL's own score (integer, bit-exact in the regression).</p>
<h2>Energy per inference (QKeras QTools)</h2>{energy}
<h2>Latent space</h2>{maps}{_categories(m, k)}{_interpolation(design, m, dec)}
<h2>Weights before and after quantization</h2>{_weights(design, off, net)}
<p>Score definitions: {html.escape(J.__doc__.split("Scores per track,")[1].split("Each is")[0].strip())}</p>"""
