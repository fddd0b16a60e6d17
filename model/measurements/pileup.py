"""Where the pileup (pT) information is lost along our chain, measured step by step (issue 23).

Signal is |pT| > 2 GeV (model.networks.classifier). A track of transverse momentum pT crosses the sensor
plane at r = 30 mm with ``beta = atan(y / r) + q asin(chord / 2R)``, R = pT / (0.3 B): what tells
pT is the small difference between the crossing angle (cotBeta, which the cluster shows) and
the geometric angle atan(y0 / r) (which y0 gives); at 2 GeV it is 0.0086 in cotBeta. So every
step is measured twice:
- one-step: a classifier on the inputs themselves (the profiles or codes, and y0);
- two-stage: a regressor infers cotBeta from the profiles or codes alone (trained on the first
  half of the training tracks), then a classifier, trained on the second half, sees (cotBeta
  estimate, y0, atan(y0 / r), cotBeta estimate - y0 / r).
Every row of the chain table uses the same classifier family (scikit-learn histogram gradient-
boosted trees), the same tracks and the same train/test halves; AUC (Hanley-McNeil error) and
background rejection at 93% / 98% signal efficiency (bootstrap error, model.measurements.metrics).

`offdetector` measures the paper's choice, a scikit-learn MLP with the background undersampled
to the signal count, on each design's inputs (and on `vae-low`'s decoded tracks) with the
geometry as a feature or a learned angle; `percent_error_definitions` measures why `vae-high`'s
percent error is large.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from model.data import encoding, generator
from model.data.features import readout
from model.measurements import metrics as M
from model.networks import classifier
from model.progress import ticking

SEED = 501  # generator seeds of its own (measurement sets use 101-105, the ceiling 301-305)
CHUNK = 5_000
RADIUS_MM = 30.0
N_SLICES = 20
KEEP_SLICES = 8  # readout variants are kept for the first 8 slices (the decoders' targets)
EFFICIENCIES = (0.93, 0.98)
# Gradient-boosted trees for every chain row: early stopping on 10% of the fit's tracks, 64 bins
# (a few minutes for the whole table on 2 shared cores at the default size).
GBT = {"max_iter": 200, "learning_rate": 0.15, "max_bins": 64, "early_stopping": True, "n_iter_no_change": 10,
       "random_state": 0}
PAPER = {"vae-low decoded (4-bit)": (21.0, 10.0), "classifier (4-bit, on chip)": (18.0, 7.0),
         "classifier-high (10-bit, on chip)": (32.0, 18.0)}
Log = Callable[[str], None]


@dataclass
class Tracks:
    """Truth and y-profiles (electrons, (n, slices, 13)) of generated tracks under each readout."""

    pt: np.ndarray
    cot_beta: np.ndarray
    y_local: np.ndarray
    prof: dict[str, np.ndarray]  # raw (20 slices), readout / noise / threshold (first 8 slices)
    chunk_seed: np.ndarray  # the readout seed of each track (its chunk's generator seed)

    @property
    def signal(self) -> np.ndarray:
        return (np.abs(self.pt) > classifier.SIGNAL_PT_GEV).astype(np.int64)

    def subset(self, idx: np.ndarray) -> Tracks:
        return Tracks(self.pt[idx], self.cot_beta[idx], self.y_local[idx], {k: v[idx] for k, v in self.prof.items()},
                      self.chunk_seed[idx])


def generate(n: int, seed: int = SEED, log: Log = print) -> Tracks:
    """`n` falling-spectrum tracks in chunks, each with its own generator and readout seed."""
    parts: list[Tracks] = []
    for start in range(0, n, CHUNK):
        m, chunk_seed = min(CHUNK, n - start), seed * 1000 + start // CHUNK
        with ticking(log, f"generating tracks {start:,}-{start + m:,}"):
            ts = generator.generate(m, seed=chunk_seed, progress=False, workers=2 if m > 1000 else 1)
        keep = list(range(KEEP_SLICES))
        prof = {"raw": ts.charges.sum(axis=-1, dtype=np.float32)}
        for name, noise, thr in (("readout", 80.0, 400.0), ("noise", 80.0, -np.inf), ("threshold", 0.0, 400.0)):
            prof[name] = readout(ts.charges, noise, thr, chunk_seed, keep).sum(axis=-1, dtype=np.float32)
        lab = ts.labels
        parts.append(Tracks(lab["pt"].to_numpy(), lab["cotBeta"].to_numpy(), lab["y-local"].to_numpy(), prof,
                            np.full(m, chunk_seed)))
        log(f"generated {start + m:,} of {n:,} tracks")
    return Tracks(*(np.concatenate([getattr(p, k) for p in parts]) for k in ("pt", "cot_beta", "y_local")),
                  {k: np.concatenate([p.prof[k] for p in parts]) for k in parts[0].prof},
                  np.concatenate([p.chunk_seed for p in parts]))


def y0_value(y_mm: np.ndarray, bits: int | None) -> np.ndarray:
    """y0 in mm at `bits` bits (the bin centre of the design's code, model.data.encoding), float if None."""
    if bits is None:
        return np.asarray(y_mm, dtype=np.float64)
    lo, hi = encoding.Y0_SPAN_MM
    width = (hi - lo) / (1 << bits)
    code = np.clip(np.floor((y_mm - lo) / width), 0, (1 << bits) - 1)
    return lo + (code + 0.5) * width


def codes(prof: np.ndarray, bits: int) -> np.ndarray:
    """(n, slices * 13) codes of the paper's two kinds as fractions of 2**B: 4-bit linear (500 e
    bins), 10-bit sqrt-log (model.data.features)."""
    from model.data.features import encode_4bit, encode_10bit

    if bits == 4:
        return _flat(encode_4bit(prof)) / 16
    if bits == 10:
        return _flat(encode_10bit(prof)) / 1024
    raise ValueError(f"bits: expected 4 or 10, found {bits}")


def figures(y: np.ndarray, score: np.ndarray, resamples: int = 100) -> dict[str, Any]:
    """AUC and background rejection at 93% / 98% signal efficiency (percent), errors, sample sizes."""
    a = M.auc(y, score)
    out = {"auc": a["value"], "auc_err": a["err"], "n_signal": a["n_signal"], "n_background": a["n_background"]}
    for eff in EFFICIENCIES:
        r = M.rejection_at_efficiency(y, score, eff, resamples)
        out[f"br{round(eff * 100)}"], out[f"br{round(eff * 100)}_err"] = r["value"], r["err"]
    return out


# ---- the chain: one classifier family (gradient-boosted trees) for every row ----

def _gbt_classifier():
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(**GBT)


def _gbt_regressor():
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(**GBT)


def _geometry(cb: np.ndarray, y0_mm: np.ndarray) -> np.ndarray:
    """(cotBeta, y0, atan(y0 / r), cotBeta - y0 / r): the angle, the position and their difference."""
    return np.column_stack([cb, y0_mm, np.arctan(y0_mm / RADIUS_MM), cb - y0_mm / RADIUS_MM])


def angle_then_classify(make_reg: Callable[[], Any], make_clf: Callable[[], Any], a_tr: np.ndarray,
                        a_te: np.ndarray, train: Tracks, y0_tr: np.ndarray, y0_te: np.ndarray,
                        pick: Callable[[np.ndarray], np.ndarray] | None = None) -> tuple[np.ndarray, float]:
    """Two-stage: the regressor learns cotBeta from the inputs on the first half of the training
    tracks; the classifier learns on the second half from (its cotBeta estimate, y0, atan(y0 / r),
    difference), so it sees estimates as noisy as the test tracks'. `pick` chooses the classifier's
    training tracks among the second half (e.g. undersampling). Returns test scores, angle rms."""
    half = len(a_tr) // 2
    reg = make_reg().fit(a_tr[:half], train.cot_beta[:half])
    cb2, cb_te = reg.predict(a_tr[half:]), reg.predict(a_te)
    y2 = train.signal[half:]
    idx = pick(y2) if pick else np.arange(len(y2))
    clf = make_clf().fit(_geometry(cb2, y0_tr[half:])[idx], y2[idx])
    return clf.predict_proba(_geometry(cb_te, y0_te))[:, 1], float(np.sqrt(np.mean((cb2 - train.cot_beta[half:]) ** 2)))


@dataclass(frozen=True)
class Row:
    """One measurement: `angle` gives the inputs the angle is inferred from (None: truth cotBeta),
    y0 its precision in bits (None: float), two_stage whether the angle is regressed first."""

    name: str
    angle: Callable[[Tracks], np.ndarray] | None
    y0_bits: int | None
    two_stage: bool = True


def _flat(a: np.ndarray) -> np.ndarray:
    return a.reshape(len(a), -1).astype(np.float64)


def chain_rows() -> list[Row]:
    """Every step, in the order of the chain. Designs: vae-low / classifier / jointvae read 4-bit
    codes of slices 0-3 and a 4-bit y0; vae-high / classifier-high 10-bit codes and a 10-bit y0."""
    s4, s8 = slice(0, 4), slice(0, 8)
    return [
        Row("truth cotBeta, float y-local", None, None),
        Row("truth cotBeta, 10-bit y0", None, 10),
        Row("truth cotBeta, 8-bit y0", None, 8),
        Row("truth cotBeta, 4-bit y0", None, 4),
        Row("raw y-profiles, 20 slices, float y0, one-step", lambda t: _flat(t.prof["raw"]), None, False),
        Row("raw y-profiles, 20 slices, float y0", lambda t: _flat(t.prof["raw"]), None),
        Row("raw y-profiles, 8 slices, float y0", lambda t: _flat(t.prof["raw"][:, s8]), None),
        Row("raw y-profiles, 4 slices, float y0", lambda t: _flat(t.prof["raw"][:, s4]), None),
        Row("raw y-profiles, 4 slices, 8-bit y0", lambda t: _flat(t.prof["raw"][:, s4]), 8),
        Row("raw y-profiles, 4 slices, 4-bit y0", lambda t: _flat(t.prof["raw"][:, s4]), 4),
        Row("readout: noise only (80 e), 4 slices, float y0", lambda t: _flat(t.prof["noise"][:, s4]), None),
        Row("readout: threshold only (400 e), 4 slices, float y0", lambda t: _flat(t.prof["threshold"][:, s4]),
            None),
        Row("readout (noise + threshold), 8 slices, float y0", lambda t: _flat(t.prof["readout"][:, s8]), None),
        Row("readout, 4 slices, float y0", lambda t: _flat(t.prof["readout"][:, s4]), None),
        Row("10-bit codes (readout), 4 slices, float y0", lambda t: codes(t.prof["readout"][:, s4], 10), None),
        Row("10-bit codes (readout), 4 slices, 10-bit y0 [vae-high, classifier-high]",
            lambda t: codes(t.prof["readout"][:, s4], 10), 10),
        Row("same, one-step", lambda t: codes(t.prof["readout"][:, s4], 10), 10, False),
        Row("10-bit codes without readout, 4 slices, 10-bit y0", lambda t: codes(t.prof["raw"][:, s4], 10), 10),
        Row("4-bit codes (readout), 4 slices, float y0", lambda t: codes(t.prof["readout"][:, s4], 4), None),
        Row("4-bit codes (readout), 4 slices, 8-bit y0", lambda t: codes(t.prof["readout"][:, s4], 4), 8),
        Row("4-bit codes (readout), 4 slices, 4-bit y0 [vae-low, classifier]",
            lambda t: codes(t.prof["readout"][:, s4], 4), 4),
        Row("same, one-step", lambda t: codes(t.prof["readout"][:, s4], 4), 4, False),
        Row("4-bit codes without readout, 4 slices, 4-bit y0", lambda t: codes(t.prof["raw"][:, s4], 4), 4),
        Row("4-bit codes (readout), 8 slices, 4-bit y0 [vae-low's decoder target]",
            lambda t: codes(t.prof["readout"][:, s8], 4), 4),
    ]


def measure_row(row: Row, train: Tracks, test: Tracks, log: Log = print) -> dict[str, Any]:
    """Fit on the training half, measure on the test half."""
    y0_tr, y0_te = y0_value(train.y_local, row.y0_bits), y0_value(test.y_local, row.y0_bits)
    out: dict[str, Any] = {"row": row.name, "two_stage": row.two_stage, "y0_bits": row.y0_bits}
    with ticking(log, row.name):
        if row.angle is None:
            x_tr, x_te = _geometry(train.cot_beta, y0_tr), _geometry(test.cot_beta, y0_te)
        elif row.two_stage:
            score, out["cotbeta_rms"] = angle_then_classify(_gbt_regressor, _gbt_classifier, row.angle(train),
                                                            row.angle(test), train, y0_tr, y0_te)
            return out | figures(test.signal, score)
        else:
            x_tr, x_te = (np.column_stack([row.angle(t), y]) for t, y in ((train, y0_tr), (test, y0_te)))
        clf = _gbt_classifier().fit(x_tr, train.signal)
        out |= figures(test.signal, clf.predict_proba(x_te)[:, 1])
    return out


def split(tracks: Tracks) -> tuple[Tracks, Tracks]:
    """The first half trains, the second half is measured (the tracks are independent draws)."""
    half = len(tracks.pt) // 2
    return tracks.subset(np.arange(half)), tracks.subset(np.arange(half, len(tracks.pt)))


def chain(tracks: Tracks, log: Log = print, rows: list[Row] | None = None) -> list[dict[str, Any]]:
    train, test = split(tracks)
    out = []
    for k, row in enumerate(rows or chain_rows()):
        t0 = time.monotonic()
        out.append(measure_row(row, train, test, log))
        log(f"[{k + 1}/{len(rows or chain_rows())}] {format_row(out[-1])}  ({time.monotonic() - t0:.0f} s)")
    return out


def format_row(r: dict[str, Any]) -> str:
    rms = f"  angle rms {r['cotbeta_rms']:.4f}" if "cotbeta_rms" in r else ""
    return (f"{r['row']:<72} AUC {r['auc']:5.1f} +- {r['auc_err']:.1f}  BR93 {r['br93']:5.1f} +- {r['br93_err']:.1f}"
            f"  BR98 {r['br98']:5.1f} +- {r['br98_err']:.1f}{rms}")


def physics(tracks: Tracks) -> dict[str, float]:
    """The numbers that explain the table: the bend at 2, 1 and 0.5 GeV in cotBeta, the rms angle
    error of y0 at each precision (bin / sqrt(12) / r), and the spread of cotBeta and of the bend."""
    out = {}
    for pt in (2.0, 1.0, 0.5):
        r_mm = pt / (0.3 * 3.8) * 1e3
        out[f"bend_cotbeta_at_{pt:g}GeV"] = float(np.tan(np.arcsin(RADIUS_MM / (2 * r_mm))))
    for bits in (4, 8, 10):
        err = y0_value(tracks.y_local, bits) - tracks.y_local
        out[f"y0_{bits}bit_angle_rms"] = float(np.sqrt(np.mean(err**2)) / RADIUS_MM)
    # The scale for an angle estimate's error: the spread of cotBeta and of the bend cotBeta - y / r.
    bend, sig = tracks.cot_beta - tracks.y_local / RADIUS_MM, tracks.signal == 1
    out["cotbeta_rms"] = float(np.sqrt(np.mean(tracks.cot_beta**2)))
    for name, mask in (("all", np.ones_like(sig)), ("signal", sig), ("background", ~sig)):
        out[f"bend_rms_{name}"] = float(np.sqrt(np.mean(bend[mask] ** 2)))
    return out


# ---- item 2: the paper's off-detector MLP, background undersampled ----

def _mlp(hidden: tuple[int, ...] = (64, 32), regressor: bool = False, seed: int = 1):
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    kind = MLPRegressor if regressor else MLPClassifier
    net = make_pipeline(StandardScaler(), kind(hidden_layer_sizes=hidden, early_stopping=True, max_iter=300,
                                               random_state=seed))
    if not regressor:
        return net
    from sklearn.compose import TransformedTargetRegressor

    return TransformedTargetRegressor(regressor=net, transformer=StandardScaler())  # cotBeta scaled to unit std


def mlp_row(name: str, x_tr: np.ndarray, x_te: np.ndarray, train: Tracks, test: Tracks, y0_bits: int | None,
            mode: str, hidden: tuple[int, ...] = (64, 32), log: Log = print) -> dict[str, Any]:
    """An MLP on the balanced training half (background undersampled to the signal count, as the
    paper). mode: 'plain' (inputs and y0), 'atan' (+ atan(y0 / r)) or 'angle' (an MLP regresses
    cotBeta from the inputs, out-of-fold; a second MLP classifies (angle, y0, atan, difference))."""
    y0_tr, y0_te = y0_value(train.y_local, y0_bits), y0_value(test.y_local, y0_bits)
    def pick(y: np.ndarray) -> np.ndarray:
        return classifier.balanced(y, 1)

    out: dict[str, Any] = {"row": name, "mode": mode, "y0_bits": y0_bits}
    with ticking(log, name):
        if mode == "angle":
            score, out["cotbeta_rms"] = angle_then_classify(lambda: _mlp(hidden, regressor=True), lambda: _mlp(hidden),
                                                            x_tr, x_te, train, y0_tr, y0_te, pick)
            out["train_tracks"] = int(len(pick(train.signal[len(x_tr) // 2:])))
            return out | figures(test.signal, score)
        else:
            extra = (lambda y: np.column_stack([y, np.arctan(y / RADIUS_MM)])) if mode == "atan" else \
                (lambda y: y[:, None])
            f_tr, f_te = np.column_stack([x_tr, extra(y0_tr)]), np.column_stack([x_te, extra(y0_te)])
        idx = pick(train.signal)
        out["train_tracks"] = int(len(idx))
        clf = _mlp(hidden).fit(f_tr[idx], train.signal[idx])
        out |= figures(test.signal, clf.predict_proba(f_te)[:, 1])
    return out


def vae_low_decoded(tracks: Tracks) -> np.ndarray:
    """`vae-low`'s decoded 8 slices (code fractions) from its committed bit-exact encoder and decoder."""
    from model.description import design as D
    from model.fixed import decoder as decmod
    from model.fixed import reference

    des = D.load("vae-low")
    ref = reference.load(des.reference_dir, des, with_check=False)
    dec = decmod.load(des.reference_dir, des, ref.model_hash)
    x = np.concatenate([encoding.charge_codes(des, tracks.prof["readout"][:, :4]).reshape(len(tracks.pt), -1),
                        encoding.y0_codes(des, tracks.y_local)[:, None]], axis=1)
    mu = des.layers[-1].result.to_float(ref.network.forward(x))
    recon = dec(mu)
    return recon[:, : len(des.decoder.slices) * 13]


def offdetector(tracks: Tracks, log: Log = print) -> list[dict[str, Any]]:
    """The paper's off-detector MLP on each design's inputs, with the geometry it needs."""
    train, test = split(tracks)
    c4 = tuple(codes(t.prof["readout"][:, :4], 4) for t in (train, test))
    c10 = tuple(codes(t.prof["readout"][:, :4], 10) for t in (train, test))
    c4_8 = tuple(codes(t.prof["readout"][:, :8], 4) for t in (train, test))
    log("decoding vae-low's tracks (committed encoder and decoder)")
    dec = tuple(vae_low_decoded(t) for t in (train, test))
    runs = [
        ("vae-low decoded, 8 slices, 4-bit y0", dec, 4, "plain", (64, 32)),
        ("vae-low decoded, 8 slices, 4-bit y0", dec, 4, "atan", (64, 32)),
        ("vae-low decoded, 8 slices, 4-bit y0", dec, 4, "angle", (64, 32)),
        ("4-bit codes uncompressed, 8 slices, 4-bit y0", c4_8, 4, "angle", (64, 32)),
        ("4-bit codes, 4 slices, 4-bit y0 [classifier inputs]", c4, 4, "plain", (64, 32)),
        ("4-bit codes, 4 slices, 4-bit y0 [classifier inputs]", c4, 4, "angle", (64, 32)),
        ("4-bit codes, 4 slices, 8-bit y0", c4, 8, "angle", (64, 32)),
        ("10-bit codes, 4 slices, 10-bit y0 [classifier-high inputs]", c10, 10, "plain", (64, 32)),
        ("10-bit codes, 4 slices, 10-bit y0 [classifier-high inputs]", c10, 10, "angle", (64, 32)),
        ("10-bit codes, 4 slices, 8-bit y0", c10, 8, "angle", (64, 32)),
        # The on-chip classifiers' shape (53 -> 24 -> 12 -> 1), float, one network: what y0 precision gives them.
        ("on-chip shape 24-12, 4-bit codes, 4-bit y0", c4, 4, "plain", (24, 12)),
        ("on-chip shape 24-12, 4-bit codes, 8-bit y0", c4, 8, "plain", (24, 12)),
        ("on-chip shape 24-12, 10-bit codes, 10-bit y0", c10, 10, "plain", (24, 12)),
        ("on-chip shape 24-12, 10-bit codes, 8-bit y0", c10, 8, "plain", (24, 12)),
    ]
    out = []
    for k, (name, x, bits, mode, hidden) in enumerate(runs):
        t0 = time.monotonic()
        out.append(mlp_row(name, x[0], x[1], train, test, bits, mode, hidden, log))
        out[-1]["hidden"] = list(hidden)
        log(f"[{k + 1}/{len(runs)}] {format_row(out[-1] | {'row': f'{name} ({mode}, {hidden})'})}  "
            f"({time.monotonic() - t0:.0f} s)")
    return out


# ---- item 6: vae-high's percent error under several definitions ----

def percent_error_definitions(tracks: Tracks, design_name: str = "vae-high", log: Log = print) -> dict[str, Any]:
    """The committed reference's reconstruction error of the test half, measured several ways, and
    the charge error that a given code error becomes through the readback (the cause)."""
    from model.description import design as D
    from model.fixed import decoder as decmod
    from model.fixed import reference

    des = D.load(design_name)
    ref = reference.load(des.reference_dir, des, with_check=False)
    dec = decmod.load(des.reference_dir, des, ref.model_hash)
    _, test = split(tracks)
    n = len(test.pt)
    x = np.concatenate([encoding.charge_codes(des, test.prof["readout"][:, :4]).reshape(n, -1),
                        encoding.y0_codes(des, test.y_local)[:, None]], axis=1)
    rows = len(des.decoder.slices) * 13
    recon = dec.codes(dec(des.layers[-1].result.to_float(ref.network.forward(x))))[:, :rows]
    truth_e = test.prof["readout"][:, : len(des.decoder.slices)].reshape(n, -1).astype(np.float64)
    truth_c = encoding.charge_codes(des, truth_e)
    q = M.charge_of_codes(des, recon)
    # The readout zero-suppresses below 400 e: a reconstructed charge below it reads as none.
    thr_code = int(encoding.charge_codes(des, np.array([400.0]))[0])
    q_thr = np.where(recon >= thr_code, q, 0.0)
    lnq = np.log1p(truth_e), np.log1p(q)

    def s(v: np.ndarray) -> dict[str, float]:
        r = M.summary(v)
        return {"mean": r["mean"], "mean_err": r["mean_err"], "median": r["median"], "n": r["n"]}

    zero = truth_e <= 0
    total = truth_e.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        from_zero = 100 * np.where(zero, q, 0).sum(axis=1) / total
        from_lit = 100 * np.abs(np.where(zero, 0, truth_e - q)).sum(axis=1) / total
    out: dict[str, Any] = {
        "design": design_name, "tracks": n, "threshold_code": thr_code,
        "charge (the project's definition)": s(M.percent_error(truth_e, q)),
        "- of it, charge read on rows whose truth is 0 e": s(from_zero),
        "- of it, error on rows with charge": s(from_lit),
        "charge, reconstructions below the 400 e threshold read as 0": s(M.percent_error(truth_e, q_thr)),
        "code units": s(M.percent_error(truth_c, recon)),
        "ln(1 + q) units": s(M.percent_error(*lnq)),
        "truth codes read back (the code's floor)": s(M.percent_error(truth_e, M.charge_of_codes(des, truth_c))),
    }
    # The cause: a code error of k LSBs (random sign) on the truth codes of lit rows, read back.
    lit, top = truth_c > 0, des.input_format.raw_max
    amp = {}
    rng = np.random.default_rng(0)
    for k in (1, 4, 16, 64):
        noisy = np.where(lit, np.clip(truth_c + k * rng.choice([-1, 1], truth_c.shape), 1, top), 0)
        amp[f"{k} LSB"] = s(M.percent_error(truth_e, M.charge_of_codes(des, noisy)))["mean"]
    out["charge error of a k-LSB code error on every lit row (mean percent)"] = amp
    rms = np.sqrt(np.mean((recon - truth_c)[lit] ** 2)), np.sqrt(np.mean((recon - truth_c)[~lit] ** 2))
    out["reconstruction code error rms on lit / empty rows (LSB)"] = [float(rms[0]), float(rms[1])]
    out["median reconstructed code on empty rows"] = float(np.median(recon[~lit]))
    log(f"percent error ({design_name}, {n:,} tracks): " + "; ".join(
        f"{k} {v['mean']:.1f}" for k, v in out.items() if isinstance(v, dict) and "mean" in v))
    return out


# ---- the whole measurement (`pixvae pileup`) ----

PARTS = ("chain", "mlp", "percent-error")


def run(n: int, parts: tuple[str, ...] = PARTS, threads: int = 1, log: Log = print) -> dict[str, Any]:
    """Generate `n` tracks (half train, half test) and measure the requested parts. BLAS/OpenMP
    threads are limited (`threads`): on a shared, loaded machine spinning threads cost more than they give."""
    from threadpoolctl import threadpool_limits

    t0 = time.monotonic()
    tracks = generate(n, log=log)
    train, test = split(tracks)
    doc: dict[str, Any] = {
        "tracks": n, "train": len(train.pt), "test": len(test.pt), "signal_test": int(test.signal.sum()),
        "signal": f"|pT| > {classifier.SIGNAL_PT_GEV} GeV", "generator_seed": SEED, "physics": physics(tracks),
        "paper": {k: {"br93": v[0], "br98": v[1]} for k, v in PAPER.items()}}
    with threadpool_limits(threads):
        if "chain" in parts:
            log(f"chain: gradient-boosted trees on {len(train.pt):,} training and {len(test.pt):,} test tracks "
                f"({doc['signal_test']:,} signal)")
            doc["chain"] = chain(tracks, log)
        if "mlp" in parts:
            log("off-detector MLP (background undersampled to the signal count)")
            doc["mlp"] = offdetector(tracks, log)
        if "percent-error" in parts:
            doc["percent_error"] = {d: percent_error_definitions(tracks, d, log) for d in ("vae-high", "vae-low")}
    doc["seconds"] = round(time.monotonic() - t0, 1)
    return doc


def table(doc: dict[str, Any]) -> list[str]:
    """The measured rows as text, with the sample sizes."""
    lines = [f"{doc['tracks']:,} tracks: {doc['train']:,} train, {doc['test']:,} test ({doc['signal_test']:,} signal, "
             f"{doc['signal']}); AUC and background rejection (percent) at 93% / 98% signal efficiency"]
    lines += [f"  {k}: {v:.4f}" for k, v in doc["physics"].items()]
    if "chain" in doc:
        lines.append("chain (gradient-boosted trees; two-stage unless one-step):")
        lines += ["  " + format_row(r) for r in doc["chain"]]
    if "mlp" in doc:
        lines.append("off-detector MLP (balanced training tracks):")
        lines += ["  " + format_row(r | {"row": f"{r['row']} ({r['mode']}, {tuple(r['hidden'])}, "
                                                f"{r['train_tracks']:,} trained)"}) for r in doc["mlp"]]
        lines.append("  paper: " + "; ".join(f"{k} {v['br93']:g} / {v['br98']:g}" for k, v in doc["paper"].items()))
    for design, pe in doc.get("percent_error", {}).items():
        lines.append(f"percent error, {design} ({pe['tracks']:,} tracks), mean / median:")
        lines += [f"  {k:<62} {v['mean']:6.1f} +- {v['mean_err']:.1f} / {v['median']:6.1f}"
                  for k, v in pe.items() if isinstance(v, dict) and "mean" in v]
        amp = pe["charge error of a k-LSB code error on every lit row (mean percent)"]
        lines.append("  k-LSB code error on lit rows -> charge error: " + ", ".join(
            f"{k}: {v:.1f}%" for k, v in amp.items()))
        lit, empty = pe["reconstruction code error rms on lit / empty rows (LSB)"]
        lines.append(f"  reconstruction code error rms: lit rows {lit:.1f} LSB, empty rows {empty:.1f} LSB "
                     f"(median code on empty rows {pe['median reconstructed code on empty rows']:.0f}; "
                     f"400 e is code {pe['threshold_code']})")
    return lines
