"""The seed paper's measurements of a design's reference model on fresh seeded tracks.

Everything on-chip is the bit-exact integer model (model.fixed.fixed_ref: what the RTL computes and
the regression checks); the off-detector parts (the VAE's decoder, the pileup classifier on
decoded tracks) are float. Sets, each generated with its own seed by model.data.generator with the
readout of model.data.features (80 e noise, 400 e threshold):
- test: normal tracks (percent error, pileup classification, the normal side of every ROC);
- one set per defect (model.data.defects: dead pixel, dead row, loud pixel), tracks of their own;
- reference: normal tracks for what is fitted on data (the off-detector classifier's training,
  the latent means' centre and scale of the normalized scores); never a defect label.

`measure` returns the numbers and the arrays the report plots; `metrics_json` the keys of
metrics.json (README: "Measurements").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model.data import defects, encoding, generator
from model.description.design import Design
from model.fixed.decoder import Decoder, latent_input
from model.fixed.fixed_ref import IntegerNetwork, profile_check, profile_dips
from model.measurements import joint_scores
from model.measurements import metrics as M
from model.networks import classifier
from model.networks.offchip import Offchip

DEFECT_KINDS = ("dead_pixel", "dead_row", "loud_pixel")
CHUNK = 5_000  # tracks generated at once (5,000 x 20 slices x 273 pixels x 4 bytes = 109 MB)
SEEDS = {"test": 101, "reference": 102, "dead_pixel": 103, "dead_row": 104, "loud_pixel": 105}
SIGNAL_EFFICIENCIES = (0.93, 0.98)
ON_CHIP_IN_FLOAT = " (the on-chip score's formula, in float)"
DISPLAYED = 20  # tracks per set whose whole pixel matrix is kept for the report's track displays
READOUT_THRESHOLD_E = 400.0  # the cluster size counts pixels above the readout threshold
BACKGROUND_REJECTION = 0.90


@dataclass
class Sample:
    """One generated set: input codes, and for normal sets the decoder's truth (electrons and codes)."""

    codes: np.ndarray
    pt: np.ndarray
    truth_e: np.ndarray | None = None  # (n, decoder slices, 13) y-profile charge after readout
    target_codes: np.ndarray | None = None
    # For the report's plots against the track's parameters: cotBeta, y-local (mm), cluster size
    # (pixels over the readout threshold in the last slice, before noise); and for a defect set
    # the defect's row, column and the charge it removed or replaced (model.data.defects.inject).
    truth: dict[str, np.ndarray] = field(default_factory=dict)
    # The last slice's 13 x 21 pixel charges (electrons, with the defect) of the first DISPLAYED tracks.
    pixels: np.ndarray | None = None


def sample(design: Design, n: int, seed: int, defect: str | None = None, progress: bool = True) -> Sample:
    """`n` tracks generated in chunks (seeded per chunk: the same n and seed give the same set)."""
    from tqdm import tqdm

    parts: list[Sample] = []
    dec = design.decoder
    bar = tqdm(total=n, disable=not progress, unit="track", desc=f"generate {defect or 'normal'} (seed {seed})")
    for start in range(0, n, CHUNK):
        m, chunk_seed = min(CHUNK, n - start), seed * 1000 + start // CHUNK
        # One set of a chunk or less in this process: a worker pool started from a process with
        # TensorFlow loaded must spawn, which costs more than it saves (the tracks are the same).
        ts = generator.generate(m, seed=chunk_seed, progress=False, workers=1 if n <= CHUNK else 2)
        bar.update(m)
        truth = {"cotBeta": ts.labels["cotBeta"].to_numpy(), "y0_mm": ts.labels["y-local"].to_numpy()}
        if defect:
            ts.charges, rec = defects.inject(ts.charges, defect, chunk_seed * 10 + DEFECT_KINDS.index(defect))
            truth |= {"defect_row": rec["row"].to_numpy(), "defect_col": rec["col"].to_numpy(),
                      "defect_charge_e": rec["old_charge"].to_numpy()}
        truth["cluster_size"] = (ts.charges[:, -1] > READOUT_THRESHOLD_E).sum(axis=(1, 2))
        codes = encoding.inputs(design, ts, seed=chunk_seed)  # readout noise seeded per chunk too
        s = Sample(codes, ts.labels["pt"].to_numpy(), truth=truth,
                   pixels=np.array(ts.charges[:DISPLAYED, -1], dtype=np.float32) if start == 0 else None)
        if dec is not None:  # a defect set's targets carry its defect: what reconstruction scores compare with
            s.truth_e = encoding.profiles(ts, list(dec.slices), seed=chunk_seed)
            s.target_codes = encoding.decoder_codes(design, s.truth_e, ts.labels["y-local"].to_numpy())
        parts.append(s)
    bar.close()

    def cat(key: str) -> np.ndarray | None:
        return None if getattr(parts[0], key) is None else np.concatenate([getattr(p, key) for p in parts])

    truth = {k: np.concatenate([p.truth[k] for p in parts]) for k in parts[0].truth}
    return Sample(cat("codes"), cat("pt"), cat("truth_e"), cat("target_codes"), truth, parts[0].pixels)


def _signal(pt: np.ndarray) -> np.ndarray:
    return (np.abs(pt) > classifier.SIGNAL_PT_GEV).astype(np.int64)


def pileup_classifier(x_train: np.ndarray, pt_train: np.ndarray, seed: int):
    """The off-detector pileup classifier (|pT| > 2 GeV against lower) on decoded tracks: a small
    scikit-learn MLP, background undersampled to the signal count as for the on-chip one."""
    from sklearn.neural_network import MLPClassifier

    y = _signal(pt_train)
    idx = classifier.balanced(y, seed)
    clf = MLPClassifier(hidden_layer_sizes=(64, 32), early_stopping=True, max_iter=300, random_state=seed)
    return clf.fit(x_train[idx], y[idx])


@dataclass
class Measured:
    design: str
    model_hash: str
    sizes: dict[str, int]
    values: dict[str, Any] = field(default_factory=dict)  # metrics.json's keys
    errors: dict[str, Any] = field(default_factory=dict)  # their statistical errors, same keys
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)  # every anomaly score tried
    arrays: dict[str, Any] = field(default_factory=dict)  # for the report's plots
    seed_set: int = 0
    fitted: list[str] = field(default_factory=list)  # figures of a model fitted on the reference set
    thesis: dict[str, Any] = field(default_factory=dict)  # a JointVAE's thesis scores (model.measurements.joint_scores)


def _scores_tried(design: Design, net: IntegerNetwork, mu_ref: np.ndarray, x_ref: np.ndarray) -> dict[str, Any]:
    """Anomaly scores of a track's latent means and input codes, each a function (mu, codes);
    what is fitted (centre, scale, covariance, the dip weight) is fitted on normal reference
    tracks only, never on a defect label; the profile check was trained on normal tracks only."""
    centre, scale = mu_ref.mean(axis=0), mu_ref.std(axis=0) + 1e-9
    # Which float score has the on-chip score's formula (the on-chip one itself is the integer headline).
    on_chip = None if design.score != "kl_clipped" or design.dip_shift is None else \
        "check" if design.check is not None else "dips"
    inv = np.linalg.pinv(np.cov(mu_ref, rowvar=False))

    def kl(mu, x):
        return 0.5 * np.sum(mu**2, axis=1)

    def maha(mu, x):
        d = mu - centre
        return np.einsum("ij,jk,ik->i", d, inv, d)

    def dips(mu, x):
        return profile_dips(design, x).astype(np.float64)

    def kl_dips(mu, x):
        return kl(mu, x) + 2.0 ** (design.dip_shift or 0) * dips(mu, x)

    # The dip weight that makes both terms equally large at their 99th percentiles on normal tracks.
    ref_dips = np.quantile(dips(None, x_ref), 0.99)
    w = np.quantile(maha(mu_ref, None), 0.99) / max(ref_dips, 1.0)
    out = {
        "kl_clipped, 0.5 sum mu^2 (the paper's on-chip score)": kl,
        "normalized, 0.5 sum ((mu - m) / s)^2": lambda mu, x: 0.5 * np.sum(((mu - centre) / scale) ** 2, axis=1),
        "mahalanobis (full covariance)": maha,
        "profile dips alone": dips,
        "kl_clipped + 2**dip_shift x dips" + (ON_CHIP_IN_FLOAT if on_chip == "dips" else ""): kl_dips,
        "mahalanobis + w x dips (w from normal tracks)": lambda mu, x: maha(mu, x) + w * dips(mu, x),
    }
    if design.check is not None:
        def check(mu, x):
            return profile_check(design, net.check, x).astype(np.float64)

        out["profile check alone"] = check
        out["kl_clipped + 2**check.shift x check"] = lambda mu, x: kl(mu, x) + 2.0**design.check.shift * check(mu, x)
        out["kl_clipped + dips + check" + (ON_CHIP_IN_FLOAT if on_chip == "check" else "")] = \
            lambda mu, x: kl_dips(mu, x) + 2.0**design.check.shift * check(mu, x)
    return out


def measure(design: Design, net: IntegerNetwork, model_hash: str, decoder: Decoder | None, n_test: int,
            n_defect: int, n_reference: int, seed_set: int = 0, progress: bool = True, log=print,
            offchip: Offchip | None = None) -> Measured:
    """Every figure on freshly generated sets; `seed_set` picks independent sets (the training
    run measures set 0, `pixvae evaluate` set 1). A JointVAE (with its offchip parts) also gets
    the thesis's scores, float, quantized and on-chip (model.measurements.joint_scores)."""
    mu_fmt = design.layers[-1].result
    seeds = {k: v + 1000 * seed_set for k, v in SEEDS.items()}
    out = Measured(design.name, model_hash, {"test": n_test, "defect_each": n_defect, "reference": n_reference},
                   seed_set=seed_set)
    log(f"evaluate: generating {n_test} test tracks"
        + (f", {n_reference} reference and {n_defect} per defect" if design.kind == "vae_encoder" else "")
        + f" (seed set {seed_set})")
    test = sample(design, n_test, seeds["test"], progress=progress)
    last_test = net.forward(test.codes)
    score_test = net.score(test.codes, last_test)
    y_sig = _signal(test.pt)
    v, e = out.values, out.errors
    out.arrays.update(score_normal=score_test, pt=test.pt, truth_normal=test.truth, pixels_normal=test.pixels,
                      truth_defect={}, pixels_defect={})

    if design.kind == "classifier":
        out.sizes = {"test": n_test, "signal_test": int(y_sig.sum())}
        out.arrays["signal"] = y_sig
        for eff in SIGNAL_EFFICIENCIES:
            r = M.rejection_at_efficiency(y_sig, score_test, eff)
            key = f"br_at_se{round(eff * 100)}"
            v[key], e[key] = r["value"], r["err"]
        # What the classifier sends: the tracks it keeps at 93% signal efficiency, as a share of all.
        thr = np.quantile(score_test[y_sig == 1], 1 - SIGNAL_EFFICIENCIES[0])
        kept = float(np.mean(score_test >= thr))
        v["compressed_size"], e["compressed_size"] = 100 * kept, 100 * M.binomial_err(kept, n_test)
        v["compressed_size_1pct_raw"] = None
        return out

    ref = sample(design, n_reference, seeds["reference"], progress=progress)
    lat_test, lat_ref = mu_fmt.to_float(last_test), mu_fmt.to_float(net.forward(ref.codes))
    n_mu = design.latent_split.continuous
    mu_test, mu_ref = lat_test[:, :n_mu], lat_ref[:, :n_mu]
    out.arrays["latent_normal"] = mu_test
    # Reconstruction of the 8 slices from the latents the chip sends.
    recon_test = decoder(latent_input(design, lat_test))
    recon_codes = decoder.codes(recon_test)
    n_rows = len(design.decoder.slices) * 13
    truth = test.truth_e.reshape(n_test, -1)
    pe = M.percent_error(truth, M.charge_of_codes(design, recon_codes[:, :n_rows]))
    floor = M.percent_error(truth, M.charge_of_codes(design, test.target_codes[:, :n_rows]))
    # The network's own error: the truth codes' charge against the reconstructed codes' charge.
    pe_codes = M.percent_error(M.charge_of_codes(design, test.target_codes[:, :n_rows]),
                               M.charge_of_codes(design, recon_codes[:, :n_rows]))
    c = M.summary(pe_codes)
    v["percent_error_codes_mean"], e["percent_error_codes_mean"] = c["mean"], c["mean_err"]
    v["percent_error_codes_median"], e["percent_error_codes_median"] = c["median"], c["median_err"]
    # And in the code domain itself (sum |code difference| over sum of codes), where an error of a
    # few codes near the top of a sqrt_log code is not multiplied by the exponential of the decode.
    pe_space = M.percent_error(test.target_codes[:, :n_rows], recon_codes[:, :n_rows])
    c = M.summary(pe_space)
    v["percent_error_codespace_mean"], e["percent_error_codespace_mean"] = c["mean"], c["mean_err"]
    s, f = M.summary(pe), M.summary(floor)
    v["percent_error_mean"], e["percent_error_mean"] = s["mean"], s["mean_err"]
    v["percent_error_median"], e["percent_error_median"] = s["median"], s["median_err"]
    v["percent_error_code_floor_mean"], e["percent_error_code_floor_mean"] = f["mean"], f["mean_err"]
    out.sizes["percent_error_tracks"] = s["n"]
    v["compressed_size"] = M.compressed_size(design)
    v["compressed_size_1pct_raw"] = M.compressed_size(design, 0.01)
    out.arrays.update(percent_error=pe, recon_codes=recon_codes, target_codes=test.target_codes,
                      input_codes=test.codes, truth_e=test.truth_e,
                      recon_e=M.charge_of_codes(design, recon_codes[:, :n_rows]))

    # Pileup classification off-detector: trained on decoded reference tracks, measured on decoded
    # test tracks; the same classifier on the uncompressed codes shows what compression costs.
    log("evaluate: off-detector pileup classifier (scikit-learn MLP) on decoded tracks")
    clf = pileup_classifier(decoder(latent_input(design, lat_ref)), ref.pt, 1)
    p_dec = clf.predict_proba(recon_test)[:, 1]
    scale = 1.0 / (1 << design.input_format.width)
    raw_clf = pileup_classifier(ref.target_codes * scale, ref.pt, 1)
    p_raw = raw_clf.predict_proba(test.target_codes * scale)[:, 1]
    for eff in SIGNAL_EFFICIENCIES:
        key = f"br_at_se{round(eff * 100)}"
        r = M.rejection_at_efficiency(y_sig, p_dec, eff)
        v[key], e[key] = r["value"], r["err"]
        r = M.rejection_at_efficiency(y_sig, p_raw, eff)
        v[key + "_uncompressed"], e[key + "_uncompressed"] = r["value"], r["err"]
    out.sizes["signal_test"] = int(y_sig.sum())
    out.arrays.update(pileup_decoded=p_dec, pileup_raw=p_raw, signal=y_sig)
    out.fitted = [f"br_at_se{round(eff * 100)}{sfx}" for eff in SIGNAL_EFFICIENCIES for sfx in ("", "_uncompressed")]

    # Defect detection with every score; the on-chip one (integer, bit-exact) is the headline.
    funcs = _scores_tried(design, net, mu_ref, ref.codes)
    normal = {name: fn(mu_test, test.codes) for name, fn in funcs.items()}
    v["ad_eff_at_br90"], v["ad_auc"], e["ad_eff_at_br90"], e["ad_auc"] = {}, {}, {}, {}
    for name in funcs:
        out.scores[name] = {"ad_eff_at_br90": {}, "ad_auc": {}, "errors": {"ad_eff_at_br90": {}, "ad_auc": {}}}
    out.arrays["score_defect"] = {}
    eps = float(design.training.get("kl_eps", 0.0))
    joint = offchip is not None
    if joint:
        joint_normal = joint_scores.track_scores(design, net, decoder, offchip, test.codes, test.target_codes, eps)
        joint_bad: dict[str, Any] = {}
    for kind in DEFECT_KINDS:
        log(f"evaluate: {kind}")
        bad = sample(design, n_defect, seeds[kind], defect=kind, progress=progress)
        last_bad = net.forward(bad.codes)
        mu_bad = mu_fmt.to_float(last_bad)[:, :n_mu]
        if joint:
            joint_bad[kind] = joint_scores.track_scores(design, net, decoder, offchip, bad.codes, bad.target_codes,
                                                        eps)
        y = np.r_[np.zeros(n_test, dtype=np.int64), np.ones(n_defect, dtype=np.int64)]
        for name, fn in funcs.items():
            sc = np.r_[normal[name], fn(mu_bad, bad.codes)]
            eff, a = M.efficiency_at_rejection(y, sc, BACKGROUND_REJECTION), M.auc(y, sc)
            rec = out.scores[name]
            rec["ad_eff_at_br90"][kind], rec["errors"]["ad_eff_at_br90"][kind] = eff["value"], eff["err"]
            rec["ad_auc"][kind], rec["errors"]["ad_auc"][kind] = a["value"], a["err"]
        # The headline: the on-chip integer score itself (equal in ranking to the float kl_clipped).
        score_bad = net.score(bad.codes, last_bad)
        sc = np.r_[score_test, score_bad].astype(np.float64)
        eff, a = M.efficiency_at_rejection(y, sc, BACKGROUND_REJECTION), M.auc(y, sc)
        v["ad_eff_at_br90"][kind], e["ad_eff_at_br90"][kind] = eff["value"], eff["err"]
        v["ad_auc"][kind], e["ad_auc"][kind] = a["value"], a["err"]
        out.arrays["score_defect"][kind] = score_bad
        out.arrays["truth_defect"][kind], out.arrays["pixels_defect"][kind] = bad.truth, bad.pixels
        out.arrays.setdefault("pt_defect", {})[kind] = bad.pt
    if joint:
        out.thesis = joint_scores.table(joint_normal, joint_bad)
        out.arrays["joint"] = {"normal": joint_normal, **joint_bad}
    return out


def metrics_json(m: Measured, sources: dict[str, str]) -> dict[str, Any]:
    """metrics.json: the paper's keys (percent), their errors, the sample sizes, where the data
    came from, and every anomaly score tried."""
    return {"design": m.design, "model_hash": m.model_hash, **m.values, "errors": m.errors,
            "sample_sizes": m.sizes, "data": {**sources, "seed_set": m.seed_set}, "scores_tried": m.scores,
            "fitted_on_reference": m.fitted, **({"thesis_scores": m.thesis} if m.thesis else {})}
