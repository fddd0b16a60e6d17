"""The CMS thesis's anomaly scores of a JointVAE (its Table 3.3), for three versions of one design:

- float: the float baseline (same architecture trained without quantizers, model/networks/offchip.py);
- quantized: the committed QKeras model, evaluated exactly (integer encoder, quantized decoder),
  with its float log-variance head for the full continuous KL;
- on-chip: the RTL's own score, the integer kl_total (model.fixed.fixed_ref; the regression proves the
  RTL equals it bit for bit).

Scores per track, y the decoder's target codes scaled to [0, 1], p the reconstruction:
energy difference sum (y - p)^2; BCE sum; DICE 1 - 2 sum(y p) / (sum y + sum p); BCE + DICE;
KL continuous (full, with the log-variance); KL discrete (against the uniform prior, with the
training's epsilon); KL total (their sum); the VAE's clipped KL 0.5 sum mu^2. Each is measured by
ROC AUC and the true-positive rate at 10% false-positive rate, per defect, on the evaluation's
normal test set against each defect set.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from model.description.design import Design
from model.fixed import kl_discrete
from model.fixed.decoder import Decoder, latent_input
from model.fixed.fixed_ref import IntegerNetwork
from model.measurements import metrics as M
from model.networks.offchip import Offchip

FPR = 0.10  # the thesis's working point: true-positive rate at 10% false-positive rate
SCORES = ("energy", "bce", "dice", "bce_dice", "kl_continuous", "kl_discrete", "kl_total", "kl_clipped")
_EPS = 1e-7  # keeps log(p) finite, as Keras's binary cross-entropy clips


def _recon_scores(y: np.ndarray, p: np.ndarray) -> dict[str, np.ndarray]:
    pc = np.clip(p, _EPS, 1 - _EPS)
    bce = -np.sum(y * np.log(pc) + (1 - y) * np.log(1 - pc), axis=1)
    dice = 1.0 - (2.0 * np.sum(y * p, axis=1) + _EPS) / (np.sum(y, axis=1) + np.sum(p, axis=1) + _EPS)
    return {"energy": np.sum((y - p) ** 2, axis=1), "bce": bce, "dice": dice, "bce_dice": bce + dice}


def _kl_scores(design: Design, last: np.ndarray, logvar: np.ndarray, eps: float) -> dict[str, np.ndarray]:
    split = design.latent_split
    mu = last[:, : split.continuous]
    kl_c = -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=1)
    kl_d = sum(kl_discrete.kl_float(last[:, g], eps) for g in split.groups())
    return {"kl_continuous": kl_c, "kl_discrete": kl_d, "kl_total": kl_c + kl_d,
            "kl_clipped": 0.5 * np.sum(mu**2, axis=1)}


def track_scores(design: Design, net: IntegerNetwork, dec: Decoder, off: Offchip, codes: np.ndarray,
                 targets: np.ndarray, eps: float) -> dict[str, dict[str, np.ndarray]]:
    """{version: {score: per-track values}} for float, quantized and on-chip."""
    x = design.input_format.to_float(codes)
    y = design.input_format.to_float(targets)
    out: dict[str, dict[str, np.ndarray]] = {}
    # float baseline
    hidden, last = off.float_encoder(x)
    out["float"] = _recon_scores(y, off.float_decoder(latent_input(design, last))) | _kl_scores(
        design, last, off.logvar(hidden, "float/"), eps)
    # quantized: the integer encoder's values, its hidden layer for the log-variance head
    *_, (h, frac), (last_raw, _) = net.activations(codes)
    lastq = design.layers[-1].result.to_float(last_raw)
    hq = h * 2.0**-frac
    out["quantized"] = _recon_scores(y, dec(latent_input(design, lastq))) | _kl_scores(
        design, lastq, off.logvar(hq), eps)
    out["on_chip"] = {"kl_total": design.score_format.to_float(net.score(codes, last_raw))}
    out["latent"] = {"mu": lastq[:, : design.latent_split.continuous], "last": lastq,
                     "category": np.stack([np.argmax(lastq[:, g], axis=1) for g in design.latent_split.groups()], 1)}
    return out


def table(normal: dict[str, dict[str, np.ndarray]], defects: dict[str, dict[str, dict[str, np.ndarray]]]
          ) -> dict[str, Any]:
    """{version: {score: {"auc": {defect: %}, "tpr_at_fpr10": {...}, "errors": {...}}}} with sizes."""
    res: dict[str, Any] = {}
    for version in ("float", "quantized", "on_chip"):
        res[version] = {}
        for score in normal[version]:
            rec: dict[str, Any] = {"auc": {}, "tpr_at_fpr10": {}, "errors": {"auc": {}, "tpr_at_fpr10": {}}}
            for kind, bad in defects.items():
                n0, n1 = len(normal[version][score]), len(bad[version][score])
                y = np.r_[np.zeros(n0, dtype=np.int64), np.ones(n1, dtype=np.int64)]
                sc = np.r_[normal[version][score], bad[version][score]]
                a, t = M.auc(y, sc), M.efficiency_at_rejection(y, sc, 1 - FPR)
                rec["auc"][kind], rec["errors"]["auc"][kind] = a["value"], a["err"]
                rec["tpr_at_fpr10"][kind], rec["errors"]["tpr_at_fpr10"][kind] = t["value"], t["err"]
            res[version][score] = rec
    return res
