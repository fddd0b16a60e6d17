"""`pixvae report`: one self-contained HTML page (plots embedded as PNG data) of a reference
model's measurements for a talk: every figure in words with its unit beside the paper's (or the
thesis's), the hardware beside the paper's Table 1, the verification's coverage and mutation
score, and the plots in a grid. Labels come from the design (pixvae/labels.py)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from model.description.design import Design
from model.measurements import evaluation as E
from model.measurements import metrics as M
from model.networks.classifier import SIGNAL_PT_GEV
from pixvae import labels, measure
from pixvae import physics_plots as P
from pixvae.figures import grid, page, plt, png
from pixvae.labels import DEFECT_WORDS


def _percent_error(m: E.Measured) -> str:
    pe = m.arrays["percent_error"]
    pe = pe[np.isfinite(pe)]
    fig, ax = plt.subplots(figsize=(9, 6))
    ax.hist(pe, bins=np.linspace(0, np.percentile(pe, 99.5), 80), histtype="stepfilled", alpha=0.7)
    ax.axvline(np.mean(pe), color="k", ls="--", label=f"mean {np.mean(pe):.1f}%")
    ax.axvline(np.median(pe), color="r", ls=":", label=f"median {np.median(pe):.1f}%")
    ax.set(xlabel="percent error per track [%]", ylabel="tracks",
           title=f"Reconstruction error, {len(pe):,} normal test tracks")
    ax.legend()
    return png(fig, "Sum over the decoder's slices and rows of |truth - decoded| over the truth's sum, electrons.")


def _scores(design: Design, m: E.Measured, threshold_raw: int | None) -> str:
    """The on-chip score of each set with the committed threshold."""
    normal = m.arrays["score_normal"]
    if design.kind == "classifier":
        sig = m.arrays["signal"] == 1
        sets = {f"signal, |pT| > {SIGNAL_PT_GEV:g} GeV": normal[sig], "background": normal[~sig]}
    else:
        sets = {"normal": normal} | {DEFECT_WORDS[k]: v for k, v in m.arrays.get("score_defect", {}).items()}
    return P.score_histogram(design, sets, threshold_raw, "On-chip score, bit-exact integers", "tracks")


def _tradeoff(design: Design, m: E.Measured) -> str:
    """Compressed size against defect efficiency as the threshold (tracks sent raw) moves."""
    normal = m.arrays["score_normal"].astype(np.float64)
    fracs = np.array([0.001, 0.003, 0.01, 0.03, 0.05, 0.1, 0.2, 0.3])
    fig, ax = plt.subplots(figsize=(9, 6))
    for kind, bad in m.arrays.get("score_defect", {}).items():
        thr = np.quantile(normal, 1 - fracs)
        eff = [100 * np.mean(bad > t) for t in thr]
        size = [M.compressed_size(design, float(np.mean(normal > t))) for t in thr]
        ax.plot(size, eff, "o-", label=DEFECT_WORDS[kind])
    ax.set(xlabel="compressed size [% of raw]", ylabel="defect tracks sent raw [%]",
           title="Compression against defect detection")
    ax.legend()
    return png(fig, "Each point a threshold: the normal tracks above it are sent raw (0.1% to 30%).")


def _latents(design: Design, m: E.Measured) -> str:
    lat = m.arrays.get("latent_normal")
    if lat is None:
        return ""
    return P.latent_histograms(lat, f"On-chip latent means of {len(lat):,} normal test tracks "
                                    f"({design.layers[-1].result.hls(False)})")


def _ours(v: float, err: float | None) -> str:
    return f"{v:.1f} &plusmn; {err:.1f}" if err is not None else f"{v:.1f} (exact)"


def _sample(key: str, sizes: dict[str, Any], errs: dict[str, Any]) -> str:
    """The tracks a figure was measured on, in words."""
    if key.startswith("percent_error"):
        return f"{sizes.get('percent_error_tracks', sizes.get('test', 0)):,} normal"
    if key.startswith("br_at"):
        n, s = sizes.get("test", 0), sizes.get("signal_test", 0)
        return f"{s:,} signal / {n - s:,} background"
    if key.startswith("ad_"):
        return f"{sizes.get('test', 0):,} normal / {sizes.get('defect_each', 0):,} defect"
    if key.startswith("compressed"):
        return f"{sizes.get('test', 0):,} test" if key in errs else "from the bits per track"
    return ""


def figures_table(design: Design, doc: dict[str, Any]) -> str:
    """Every figure in words with its unit, ours (one standard error) beside the paper's in the same
    row; the paper's figures we do not have are rows too, so a gap shows."""
    paper, errs, sizes = design.paper, doc.get("errors", {}), doc.get("sample_sizes", {})
    rows = []
    keys = [k for k in measure.PAPER_KEYS + measure.EXTRA_KEYS if doc.get(k) is not None or k in paper]
    for key in keys:
        value = doc.get(key)
        subs = sorted(set(value or {}) | set(paper.get(key, {}))) if isinstance(value or paper.get(key), dict) \
            else [""]
        for sub in subs:
            v = value.get(sub) if sub and isinstance(value, dict) else (None if sub else value)
            err = errs.get(key, {}).get(sub) if sub else errs.get(key)
            want = paper.get(key, {}).get(sub) if sub else paper.get(key)
            name, unit = labels.figure(design, key, sub)
            ours = _ours(v, err) if v is not None else ""
            theirs = f"{want:g}" if want is not None else "&mdash;"
            rows.append(f"<tr><td>{html.escape(name)}</td><td>{unit}</td><td class=\"num ours\">{ours}</td>"
                        f"<td class=\"num paper{'' if want is not None else ' missing'}\">{theirs}</td>"
                        f"<td>{_sample(key, sizes, errs)}</td></tr>")
    return ('<table class="paper"><tr><th>figure</th><th>unit</th><th>ours</th><th>the paper</th>'
            f"<th>tracks</th></tr>{''.join(rows)}</table>"
            "<p>&mdash;: the paper gives no figure. Ours: one standard error (bootstrap for efficiencies, rejections "
            "and the median, Hanley-McNeil for AUCs); (exact): a count of bits, no statistics.</p>")


def _scores_tried(doc: dict[str, Any]) -> str:
    rows = []
    for name, rec in doc.get("scores_tried", {}).items():
        cells = "".join(f"<td class=\"num\">{rec['ad_eff_at_br90'][k]:.1f} &plusmn; "
                        f"{rec['errors']['ad_eff_at_br90'][k]:.1f}</td><td class=\"num\">{rec['ad_auc'][k]:.1f}</td>"
                        for k in E.DEFECT_KINDS)
        rows.append(f"<tr><td>{html.escape(name)}</td>{cells}</tr>")
    head = "".join(f"<th>{DEFECT_WORDS[k]}: flagged at 90% rejection [%]</th><th>AUC [%]</th>"
                   for k in E.DEFECT_KINDS)
    return f"<table><tr><th>score</th>{head}</tr>{''.join(rows)}</table>" if rows else ""


def _rel(path: Path) -> str:
    """A path relative to the working folder where it lies under it (the report is read elsewhere)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _row(cells: list[str]) -> str:
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _hw_row(name: str, ours: str, tool: str, want: str) -> str:
    """A hardware row: ours and the paper's cells marked for the report's check (the paper's filled
    cell needs ours filled)."""
    missing = " missing" if want == "&mdash;" else ""
    return (f'<tr><td>{name}</td><td class="ours">{ours}</td><td>{tool}</td>'
            f'<td class="num paper{missing}">{want}</td></tr>')


def hardware(design: Design, model_hash: str) -> str:
    """The committed timing report's figures at the chosen depth, beside the paper's Table 1."""
    from hw import clock

    path = design.path / clock.REPORT_FILE
    paper = design.paper.get("hardware", {})
    try:
        rep = clock.load_report(path)
    except clock.ClockError as e:
        return f"<p>{html.escape(str(e))}</p>"
    if rep is None or rep.get("model_hash") != model_hash:
        why = "missing" if rep is None else f"made for model {str(rep.get('model_hash'))[:12]}, not this one"
        return f"<p>{html.escape(str(path))}: {why}; run <code>pixvae timing --design {design.name}</code>.</p>"
    chosen = next(d for d in rep["depths"] if d["adder_levels"] == rep["adder_levels"])
    chk, x, da = rep["check"], chosen.get("xilinx", {}), chosen.get("da4ml", {})
    tool = html.escape(str(paper.get("tool", "the paper's Table 1")))
    rel = _rel(path)

    def want(key: str) -> str:
        return f"{paper[key]:,}" if key in paper else "&mdash;"

    xt = html.escape(x.get("tool", ""))
    rows = [_hw_row("latency per track [ns]",
                    f"{rep['latency_cycles']} cycle(s) x {chk['period_ns']} ns = <b>{chk['latency_ns']} ns</b>",
                    html.escape(f"{chk['target']}, {chk['corner']}"), want("latency_ns")),
            _hw_row("LUTs", f"{x.get('luts', '?'):,}" if x else "?", xt + " (estimate)", want("luts")),
            _hw_row("flip-flops", f"{x.get('ffs', '?'):,}" if x else "?", xt, want("ffs")),
            _hw_row("DSPs", f"{x.get('dsps', '?')}" if x else "?", xt, want("dsps")),
            _hw_row("LUTs / FFs (da4ml's estimate)", f"{da.get('luts', '?'):,} / {da.get('ffs', '?'):,}",
                    html.escape(da.get("tool", "")), "&mdash;")]
    for lib, r in chosen.get("asic", {}).items():
        for corner, c in r.get("corners", {}).items():
            by = c.get("by_wire_load", {})
            wl = c.get("wire_load_model", "none")
            viol = by.get(wl, {}).get("max_transition_violations")
            hold = by.get(wl, {}).get("hold_slack_ns")
            text = (f"{c['period_ns']:.2f} ns with wire load {html.escape(wl)}, {c['period_ns_no_wire_load']:.2f} ns "
                    "without" + (f"; hold slack {hold:+.3f} ns" if hold is not None else "")
                    + (f"; {viol:,} transition violations" if viol else ""))
            rows.append(_hw_row(f"period, {lib} {corner} ({html.escape(c.get('role', ''))})", text,
                                html.escape(r.get("tool", "")), "&mdash;"))
        rows.append(_hw_row(f"area, {lib} [µm²]", f"{r.get('area_um2', 0):,.0f} ({r.get('cells', 0):,} cells)",
                            "yosys + abc mapping", "&mdash;"))
    return ('<table class="paper"><tr><th>figure</th><th>ours</th><th>tool, corner, wire load</th>'
            f"<th>the paper</th></tr>{''.join(rows)}</table>"
            f"<p>The paper: {tool}. Ours from {html.escape(rel)} (<code>pixvae timing --design {design.name}</code>). "
            "An FPGA LUT count "
            "from yosys is an estimate, not a vendor's place and route; ASIC periods are after buffering and "
            "sizing.</p>")


def verification(design: Design, root: Path = Path("build")) -> str:
    """The golden set's functional coverage (its manifest) and, when run, code coverage and the
    mutation campaign (their JSON files)."""
    from tb import coverage as cov

    rows = []
    man = json.loads((design.vectors_dir / "manifest.json").read_text()) if (design.vectors_dir /
                                                                             "manifest.json").is_file() else {}
    d = man.get("directed", {})
    if d:
        rows.append(_row(["functional coverage of the golden set (tb/corners.py)",
                          f"{d['targets']} targets: {d['hit']} hit, {d['unreachable']} proven unreachable, "
                          f"{d['missed']} missed", f"{man.get('n_vectors', '?'):,} vectors, {d['vectors']} directed",
                          html.escape(_rel(design.vectors_dir / "manifest.json"))]))
    cpath = root / "coverage" / design.name / "coverage.json"
    if cpath.is_file():
        c = json.loads(cpath.read_text())
        if "toggle" in c:
            t = c["toggle"]
            rows.append(_row(["toggle coverage of non-constant bits",
                              f"wrapper {t['top']['percent_of_not_constant']}%, "
                              f"core {t['core']['percent_of_not_constant']}%",
                              f"{c['vectors']:,} vectors x {len(c['thresholds'])} thresholds",
                              html.escape(_rel(cpath))]))
            rows += [_row(["", html.escape(line), "", ""]) for line in cov.summary_lines(c, limit=4)[3:5]]
    else:
        rows.append(_row(["code coverage", "not run here", "", f"<code>pixvae coverage --design {design.name}</code>"]))
    mpath = root / "mutate" / design.name / "campaign.json"
    if mpath.is_file():
        t = json.loads(mpath.read_text())["totals"]
        rows.append(_row(["mutation score", f"{t['killed']} of {t['mutants']} mutants killed, {t['non-equivalent']} "
                          f"non-equivalent survivors, {t['equivalent']} proven equivalent, {t['unknown']} unknown",
                          "", html.escape(_rel(mpath))]))
    else:
        rows.append(_row(["mutation score", "not run here", "", f"<code>pixvae mutate --design {design.name}</code>"]))
    return ("<table><tr><th>measure</th><th>result</th><th>on</th><th>source</th></tr>"
            f"{''.join(rows)}</table>")


def write(design: Design, m: E.Measured, doc: dict[str, Any], out: Path, ref_dir: Path | None = None,
          log=print) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    joint = ""
    if m.thesis:  # a JointVAE: the thesis's part of the report
        from model.fixed import decoder as decmod
        from model.fixed import reference
        from pixvae import joint_report

        ref_dir = ref_dir or design.reference_dir
        ref = reference.load(ref_dir, design)
        joint = joint_report.section(design, m, doc, ref_dir, decmod.load(ref_dir, design, ref.model_hash),
                                     ref.network, log=log)
    man = design.vectors_dir / "manifest.json"
    threshold = json.loads(man.read_text()).get("score_threshold_raw") if man.is_file() else None
    log("report: score and ROC plots")
    if design.kind == "vae_encoder":
        plots = ("<h3>On-chip score and defect detection</h3>"
                 + grid([_scores(design, m, threshold), _tradeoff(design, m)]) + P.defect_rocs(design, m)
                 + P.efficiency_vs(design, m) + P.defect_displays(design, m))
        log("report: reconstruction, track displays and pileup")
        plots += ("<h3>Reconstruction (off-detector decoder on the on-chip latents)</h3>"
                  + grid([_percent_error(m), P.percent_error_vs(m)]) + P.track_displays(design, m) + _latents(design, m)
                  + "<h3>Pileup classification off-detector</h3>"
                  + P.pileup_rocs(design, m, {"pileup_decoded": "decoded tracks", "pileup_raw": "uncompressed codes"}))
    else:
        plots = (grid([_scores(design, m, threshold), P.efficiency_vs(design, m)])
                 + P.pileup_rocs(design, m, {"score_normal": "on-chip classifier"}))
    sizes = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in doc["sample_sizes"].items())
    title = f"{design.name}: measurements beside the paper"
    body = f"""<h1>{html.escape(title)}</h1>
<p>{html.escape(design.description)}. Model {html.escape(m.model_hash[:12])}.
Tracks: {html.escape(doc['data']['tracks'])}; sample sizes: {sizes}.
On-chip figures come from the bit-exact integer model (what the RTL regression checks);
the decoder and the pileup classifier on decoded tracks are off-detector and float.
Our data are not the paper's: figures that depend on the detailed charge shapes (reconstruction error, pileup
rejection) need not agree.</p>
<h2>Figures</h2>{figures_table(design, doc)}
<h2>Hardware beside the paper's Table 1</h2>{hardware(design, m.model_hash)}
<h2>Verification of the RTL</h2>{verification(design)}
<h2>Plots</h2>{plots}
{"<h2>Anomaly scores tried (float, beside the on-chip integer score above)</h2><p>Latent means of the "
 "integer model; centre and scale from normal reference tracks only"
 + ("; the profile check trained on normal tracks only" if design.check is not None else "") + ".</p>"
 + _scores_tried(doc) if doc.get("scores_tried") else ""}
{joint}"""
    path = out / "report.html"
    path.write_text(page(title, body))
    return path
