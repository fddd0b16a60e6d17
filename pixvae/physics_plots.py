"""The report's physics plots: track displays in electrons, reconstruction error and detection
efficiency against the track's parameters, ROC curves with error bands and the paper's operating
points. Each takes the arrays of model.measurements.evaluation.Measured and returns an embedded PNG."""

from __future__ import annotations

import numpy as np
from matplotlib.patches import Rectangle
from matplotlib.ticker import NullFormatter, ScalarFormatter
from sklearn.metrics import roc_curve

from model.description.design import N_ROWS, Design
from model.measurements import evaluation as E
from model.networks.classifier import SIGNAL_PT_GEV
from pixvae.figures import plt, png
from pixvae.labels import DEFECT_WORDS, VARIABLE_WORDS, score_words

BANDS = 30  # bootstrap resamples of an ROC curve's error band (16th to 84th percentile)
BINS = 8  # bins of a parameter (equal populations, so each bin's error is alike)
VARIABLES = ("pt", "cotBeta", "y0_mm", "cluster_size")


def _values(truth: dict[str, np.ndarray], pt: np.ndarray | None, var: str) -> np.ndarray:
    return np.abs(pt) if var == "pt" else np.asarray(truth[var], dtype=np.float64)


def _edges(x: np.ndarray) -> np.ndarray:
    edges = np.unique(np.quantile(x[np.isfinite(x)], np.linspace(0, 1, BINS + 1)))
    return edges if len(edges) > 2 else np.array([x.min() - 0.5, x.max() + 0.5])


def _binned(x: np.ndarray, y: np.ndarray, edges: np.ndarray, binomial: bool
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bin centres, half widths, mean of y and its standard error per bin (empty bins left out)."""
    idx = np.clip(np.digitize(x, edges) - 1, 0, len(edges) - 2)
    c, w, m, e = [], [], [], []
    for b in range(len(edges) - 1):
        v = y[(idx == b) & np.isfinite(y)]
        if len(v) == 0:
            continue
        c.append(0.5 * (edges[b] + edges[b + 1]))
        w.append(0.5 * (edges[b + 1] - edges[b]))
        mean = float(v.mean())
        m.append(mean)
        e.append(np.sqrt(max(mean * (100 - mean), 0) / len(v)) if binomial else v.std(ddof=1) / np.sqrt(len(v))
                 if len(v) > 1 else 0.0)
    return np.array(c), np.array(w), np.array(m), np.array(e)


def _axis(ax, var: str) -> None:
    name, unit = VARIABLE_WORDS[var]
    ax.set_xlabel(f"{name} [{unit}]" if unit else name)
    if var == "pt":
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # the 2x, 3x ... labels overlap on a narrow panel
        ax.xaxis.set_major_formatter(ScalarFormatter())


def percent_error_vs(m: E.Measured) -> str:
    """Mean reconstruction error per bin of pT, cotBeta, y0 and cluster size."""
    pe = m.arrays["percent_error"]
    truth, pt = m.arrays["truth_normal"], m.arrays["pt"]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5), sharey=True)
    for ax, var in zip(axes.ravel(), VARIABLES, strict=True):
        x = _values(truth, pt, var)
        c, w, mean, err = _binned(x, pe, _edges(x), binomial=False)
        ax.errorbar(c, mean, xerr=w, yerr=err, fmt="o", ms=5)
        _axis(ax, var)
    for ax in axes[:, 0]:
        ax.set_ylabel("mean percent error [%]")
    fig.suptitle(f"Reconstruction error against the track's parameters ({np.isfinite(pe).sum():,} normal tracks; "
                 "bars: bin width, standard error)")
    return png(fig)


def efficiency_vs(design: Design, m: E.Measured) -> str:
    """Defect detection efficiency at 90% normal-track rejection per bin of the track's parameters
    and of the defect's charge and row; a classifier's kept fraction against the same parameters."""
    normal = m.arrays["score_normal"].astype(np.float64)
    if design.kind == "classifier":
        sig = m.arrays["signal"] == 1
        thr = np.quantile(normal[sig], 1 - E.SIGNAL_EFFICIENCIES[0])
        kept = 100.0 * (normal >= thr)
        fig, axes = plt.subplots(2, 2, figsize=(12, 8.5), sharey=True)
        for ax, var in zip(axes.ravel(), VARIABLES, strict=True):
            x = _values(m.arrays["truth_normal"], m.arrays["pt"], var)
            c, w, mean, err = _binned(x, kept, _edges(x), binomial=True)
            ax.errorbar(c, mean, xerr=w, yerr=err, fmt="o", ms=5)
            if var == "pt":
                ax.axvline(SIGNAL_PT_GEV, color="k", ls="--", lw=1,
                           label=f"signal: |pT| > {SIGNAL_PT_GEV:g} GeV")
                ax.legend(loc="lower right")
            _axis(ax, var)
        for ax in axes[:, 0]:
            ax.set_ylabel("tracks kept [%]")
        fig.suptitle(f"Tracks the on-chip classifier keeps at 93% signal efficiency ({len(normal):,} test tracks)")
        return png(fig)
    thr = np.quantile(normal, E.BACKGROUND_REJECTION)
    variables = (*VARIABLES, "defect_charge_e", "defect_row")
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5), sharey=True)
    for ax, var in zip(axes.ravel(), variables, strict=True):
        for kind, bad in m.arrays.get("score_defect", {}).items():
            truth = m.arrays["truth_defect"][kind]
            has = truth["defect_row"] >= 0  # tracks the defect touched (an empty last slice has none)
            x = _values(truth, m.arrays["pt_defect"][kind], var)
            eff = 100.0 * (bad.astype(np.float64) > thr)
            c, w, mean, err = _binned(x[has], eff[has], _edges(x[has]), binomial=True)
            ax.errorbar(c, mean, xerr=w, yerr=err, fmt="o", ms=5, label=DEFECT_WORDS[kind])
        _axis(ax, var)
        if var == "defect_charge_e":
            ax.set_xscale("symlog", linthresh=1000)
    for ax in axes[:, 0]:
        ax.set_ylabel("defect tracks flagged [%]")
    axes[0, 0].legend(loc="best")
    n = len(next(iter(m.arrays["score_defect"].values()), []))
    fig.suptitle(f"Defect detection at 90% normal-track rejection (score > {thr:g} raw; {n:,} tracks per defect)")
    return png(fig, wide=True)


def _band(y: np.ndarray, s: np.ndarray, grid: np.ndarray, seed: int = 0, along: str = "fpr"
          ) -> tuple[np.ndarray, np.ndarray]:
    """16th and 84th percentile of bootstrap ROC curves: the true positive rate at each false
    positive rate of `grid` (along="fpr"), or the false positive rate at each true positive rate."""
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    curves = []
    for _ in range(BANDS):
        idx = np.r_[rng.choice(pos, len(pos)), rng.choice(neg, len(neg))]
        fpr, tpr, _ = roc_curve(y[idx], s[idx])
        curves.append(np.interp(grid, fpr, tpr) if along == "fpr" else np.interp(grid, tpr, fpr))
    return np.percentile(curves, 16, axis=0), np.percentile(curves, 84, axis=0)


def defect_rocs(design: Design, m: E.Measured) -> str:
    """Defect efficiency against the normal tracks flagged, linear and logarithmic, with bootstrap
    bands and the paper's operating points (its efficiency at 10% of normal tracks flagged)."""
    normal = m.arrays["score_normal"].astype(np.float64)
    paper = design.paper.get("ad_eff_at_br90", {})
    fig, axes = plt.subplots(1, 2, figsize=(15, 6.5))
    grid = np.logspace(-4, 0, 200)
    for j, (kind, bad) in enumerate(m.arrays.get("score_defect", {}).items()):
        y = np.r_[np.zeros(len(normal)), np.ones(len(bad))]
        s = np.r_[normal, bad.astype(np.float64)]
        fpr, tpr, _ = roc_curve(y, s)
        lo, hi = _band(y, s, grid, seed=j)
        auc = m.values["ad_auc"][kind]
        for ax in axes:
            line, = ax.plot(100 * fpr, 100 * tpr, label=f"{DEFECT_WORDS[kind]} (AUC {auc:.1f}%)")
            ax.fill_between(100 * grid, 100 * lo, 100 * hi, color=line.get_color(), alpha=0.25, lw=0)
            if kind in paper:
                ax.plot([10], [paper[kind]], marker="*", ms=18, ls="", color=line.get_color(), mec="k")
    for ax, scale in zip(axes, ("linear", "log"), strict=True):
        ax.plot([0.01, 100], [0.01, 100], "k:", lw=1)
        ax.axvline(10, color="grey", ls="--", lw=1)
        ax.set(xlabel="normal tracks flagged [%]", ylabel="defect tracks flagged [%]", xscale=scale,
               xlim=(0, 100) if scale == "linear" else (0.01, 100), ylim=(0, 100),
               title=f"{scale} scale")
    axes[0].legend(loc="lower right")
    fig.suptitle(f"Defect ROC of the on-chip score ({len(normal):,} normal tracks; band: 68% bootstrap; "
                 "stars: the paper's efficiency at 10% of normal tracks flagged)")
    return png(fig, wide=True)


def pileup_rocs(design: Design, m: E.Measured, keys: dict[str, str]) -> str:
    """Background rejection against signal efficiency with bands and the paper's two points."""
    y = m.arrays["signal"]
    fig, axes = plt.subplots(1, 2, figsize=(15, 6.5))
    grid = np.linspace(0.5, 1.0, 101)
    for j, (key, label) in enumerate(keys.items()):
        s = np.asarray(m.arrays[key], dtype=np.float64)
        # Signal is y = 1: rejection = 1 - FPR against efficiency = TPR.
        fpr, tpr, _ = roc_curve(y, s)
        lo, hi = _band(y, s, grid, seed=j, along="tpr")
        for ax in axes:
            line, = ax.plot(100 * tpr, 100 * (1 - fpr), label=label)
            ax.fill_between(100 * grid, 100 * (1 - hi), 100 * (1 - lo), color=line.get_color(), alpha=0.25, lw=0)
    for eff in (93, 98):
        want = design.paper.get(f"br_at_se{eff}")
        if want is not None:
            for ax in axes:
                ax.plot([eff], [want], marker="*", ms=16, ls="", color="k",
                        label=f"paper: {want}% at {eff}%" if ax is axes[0] else None)
    for ax, scale in zip(axes, ("linear", "log"), strict=True):
        ax.set(xlabel="signal efficiency, |pT| > 2 GeV [%]", ylabel="background rejection [%]", yscale=scale,
               xlim=(50, 100), ylim=(0, 100) if scale == "linear" else (0.5, 100), title=f"{scale} scale")
    axes[0].legend(loc="lower left", fontsize=11)
    fig.suptitle(f"Pileup classification ({int(y.sum()):,} signal / {int((1 - y).sum()):,} background test tracks;"
                 " band: 68% bootstrap)")
    return png(fig, wide=True)


def _profiles(ax, img: np.ndarray, title: str, vmax: float):
    im = ax.imshow(img, aspect="auto", origin="lower", vmin=0, vmax=vmax, cmap="viridis")
    ax.set(title=title, xlabel="time slice (200 ps)")
    return im


def track_displays(design: Design, m: E.Measured) -> str:
    """Truth and reconstruction in electrons (y-profiles of the decoder's slices) for a normal
    track (the first), the median reconstructed and the worst reconstructed."""
    pe = m.arrays["percent_error"]
    n_out = len(design.decoder.slices)
    truth = m.arrays["truth_e"].reshape(len(pe), n_out, N_ROWS)
    recon = m.arrays["recon_e"].reshape(len(pe), n_out, N_ROWS)
    first = int(np.flatnonzero(np.isfinite(pe))[0])
    picks = {"a normal track": first, "the median": int(np.nanargmin(np.abs(pe - np.nanmedian(pe)))),
             "the worst": int(np.nanargmax(pe))}
    fig, axes = plt.subplots(2, 3, figsize=(15, 9))
    for col, (what, k) in enumerate(picks.items()):
        vmax = float(max(truth[k].max(), recon[k].max(), 1.0))
        _profiles(axes[0, col], truth[k].T, f"{what} (track {k}): truth", vmax)
        im = _profiles(axes[1, col], recon[k].T, f"decoded: {pe[k]:.1f}% error", vmax)
        fig.colorbar(im, ax=axes[:, col].tolist(), label="charge per pixel row [e]", shrink=0.8)
    for ax in axes[:, 0]:
        ax.set_ylabel("y row (12.5 µm)")
    fig.suptitle(f"Track displays: {n_out} slices x 13 rows, truth after readout and decoded from the on-chip "
                 "latents")
    return png(fig, wide=True)


def defect_displays(design: Design, m: E.Measured) -> str:
    """One track of each defect: its last slice's 13 x 21 pixel charges in electrons with the
    defect outlined, the on-chip score and whether the committed-style 90% cut flags it."""
    kinds = [k for k in m.arrays.get("pixels_defect", {}) if m.arrays["pixels_defect"][k] is not None]
    normal = m.arrays["score_normal"].astype(np.float64)
    thr = np.quantile(normal, E.BACKGROUND_REJECTION)
    shown = [("normal", m.arrays["pixels_normal"][0], None, normal[0])]
    for kind in kinds:
        truth = m.arrays["truth_defect"][kind]
        touched = np.flatnonzero(truth["defect_row"][: len(m.arrays["pixels_defect"][kind])] >= 0)
        if not len(touched):  # none of the tracks kept whole has the defect (an empty last slice)
            continue
        k = int(touched[0])
        shown.append((kind, m.arrays["pixels_defect"][kind][k],
                      (int(truth["defect_row"][k]), int(truth["defect_col"][k]), float(truth["defect_charge_e"][k])),
                      float(m.arrays["score_defect"][kind][k])))
    fig, axes = plt.subplots(1, len(shown), figsize=(5 * len(shown), 5.5), squeeze=False)
    axes = axes[0]
    for ax, (kind, img, where, score) in zip(axes, shown, strict=True):
        im = ax.imshow(img, origin="lower", cmap="viridis", vmin=0, vmax=max(float(img.max()), 1.0))
        fig.colorbar(im, ax=ax, label="charge [e]", shrink=0.8)
        title = DEFECT_WORDS.get(kind, kind)
        if where is not None:
            row, col, q = where
            if kind == "dead_row":
                ax.add_patch(Rectangle((-0.5, row - 0.5), img.shape[1], 1, fill=False, ec="r", lw=2.5))
            else:
                ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, ec="r", lw=2.5))
            title += f"\n(row {row}{'' if kind == 'dead_row' else f', col {col}'}; held {q:,.0f} e)"
        flag = "flagged" if score > thr else "not flagged"
        ax.set(title=f"{title}\nscore {score:g} raw: {flag}", xlabel="x column (50 µm)")
    axes[0].set_ylabel("y row (12.5 µm)")
    fig.suptitle("Defect displays: the last time slice, the defect outlined in red; flagged: score above "
                 f"{thr:g} raw (90% normal-track rejection)")
    return png(fig, wide=True)


def score_histogram(design: Design, sets: dict[str, np.ndarray], threshold_raw: int | None, title: str,
                    ylabel: str) -> str:
    """The on-chip score (raw integers) of each set, log scale, with the committed threshold; what
    lies outside the 0.1-99.9 percentile range drawn is counted in the first or last bin."""
    sf = design.score_format
    sets = {k: sf.to_float(v) for k, v in sets.items() if len(v)}
    lo = min(np.percentile(v, 0.1) for v in sets.values())
    hi = max(np.percentile(v, 99.9) for v in sets.values())
    bins = np.linspace(lo, hi if hi > lo else lo + 1, 80)
    fig, ax = plt.subplots(figsize=(9, 6))
    for name, v in sets.items():
        ax.hist(np.clip(v, bins[0], bins[-1]), bins=bins, histtype="step", lw=2, label=f"{name} ({len(v):,})")
    if threshold_raw is not None:
        t = float(sf.to_float(np.array([threshold_raw]))[0])
        ax.axvline(t, color="k", ls="--", lw=1.5, label=f"committed threshold {t:g} ({threshold_raw} raw)")
    ax.set_yscale("log")
    ax.set(xlabel=f"on-chip score: {score_words(design)}", ylabel=ylabel, title=f"{title} ({sf.hls(False)})")
    ax.legend(loc="upper right", fontsize=11)
    return png(fig, "Outside the range drawn: counted in the first or last bin.")


def latent_histograms(mu: np.ndarray, title: str) -> str:
    """One histogram per latent mean (columns of `mu`, floats), four a row."""
    n = mu.shape[1]
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(14, 3.4 * rows), sharey=True, squeeze=False)
    for j, ax in enumerate(axes.ravel()):
        if j < n:
            ax.hist(mu[:, j], bins=40, histtype="stepfilled", alpha=0.7)
            ax.set(xlabel=f"μ{j}")
        else:
            ax.axis("off")
    fig.suptitle(title)
    return png(fig, wide=True)
