"""The paper's measurements of a reference model as files: metrics.json (model.measurements.evaluation), the
check of a committed metrics.json against a fresh measurement, and the self-contained HTML
report (`pixvae report`)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from model.description.design import Design
from model.fixed import decoder as decmod
from model.fixed import reference
from model.fixed.files import atomic_write, read_json
from model.measurements import evaluation as E
from model.networks import offchip

METRICS_FILE = "metrics.json"
# Two measurements of one model on independent seeded sets agree when every figure differs by
# less than z combined standard errors, z chosen so that a correct model fails the whole check
# with a probability of FALSE_ALARM (Bonferroni over the figures compared: z = 3.0 for the 20 or so
# figures of a VAE, 3.5 for the 120 of a JointVAE with its thesis scores); seeded data makes the
# outcome fixed.
FALSE_ALARM = 0.05
# The figures metrics.json shares with the paper (percent).
PAPER_KEYS = ("percent_error_mean", "percent_error_median", "compressed_size", "compressed_size_1pct_raw",
              "br_at_se93", "br_at_se98", "ad_eff_at_br90", "ad_auc")
# Our figures beside them (the percent error measured other ways, pileup rejection without compression).
EXTRA_KEYS = ("percent_error_codes_mean", "percent_error_codes_median", "percent_error_codespace_mean",
              "percent_error_code_floor_mean", "br_at_se93_uncompressed", "br_at_se98_uncompressed")
DEFAULT_SIZES = {"test": 55_000, "defect_each": 55_000, "reference": 55_000}


class MetricsError(RuntimeError):
    """A missing, malformed or stale metrics file (message is one line)."""


def run(design: Design, ref_dir: Path, sizes: dict[str, int], seed_set: int = 0, progress: bool = True,
        log=print) -> E.Measured:
    ref = reference.load(ref_dir, design)
    dec = decmod.load(ref_dir, design, ref.model_hash) if design.decoder is not None else None
    off = offchip.load(ref_dir, design, ref.model_hash) if design.joint else None
    return E.measure(design, ref.network, ref.model_hash, dec, sizes["test"], sizes["defect_each"],
                     sizes["reference"], seed_set=seed_set, progress=progress, log=log, offchip=off)


def sources() -> dict[str, str]:
    return {"tracks": "model.generator (this project's PixelAV-like generator), not the public release",
            "seeds": json.dumps(E.SEEDS)}


def write_metrics(m: E.Measured, path: Path) -> dict[str, Any]:
    doc = E.metrics_json(m, sources())
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(doc, indent=2) + "\n")
    return doc


def load_metrics(path: Path, model_hash: str) -> dict[str, Any]:
    if not path.is_file():
        raise MetricsError(f"{path}: missing (`pixvae train` writes it beside the reference)")
    doc = read_json(path, MetricsError)
    if doc.get("model_hash") != model_hash:
        raise MetricsError(f"{path}: made for model {str(doc.get('model_hash'))[:12]}, the reference is "
                           f"{model_hash[:12]} (stale: retrain or re-evaluate)")
    return doc


def _flat(values: dict[str, Any], errors: dict[str, Any], prefix: str = "") -> dict[str, tuple[float, float]]:
    out = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out |= _flat(value, errors.get(key, {}), f"{prefix}{key}.")
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and key in errors:
            out[prefix + key] = (float(value), float(errors[key]))
    return out


def not_compared(committed: dict[str, Any], fresh: dict[str, Any]) -> list[str]:
    """Figures of a model fitted on the reference set (the off-detector pileup classifier) when
    the two reference sets differ in size: a classifier trained on 3,000 tracks is not the one
    trained on 55,000, and their figures differ by more than the test sample's error."""
    ref_a = committed.get("sample_sizes", {}).get("reference")
    ref_b = fresh.get("sample_sizes", {}).get("reference")
    return sorted(set(committed.get("fitted_on_reference", [])) | set(fresh.get("fitted_on_reference", []))) \
        if ref_a != ref_b else []


def _thesis_flat(doc: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """A JointVAE's thesis scores (model.measurements.joint_scores.table) as flat figures with their errors."""
    out = {}
    for version, scores in doc.get("thesis_scores", {}).items():
        for score, rec in scores.items():
            values = {k: v for k, v in rec.items() if k != "errors"}
            out |= _flat(values, rec.get("errors", {}), f"thesis_scores.{version}.{score}.")
    return out


def agree_sigma(n_figures: int) -> float:
    """Combined standard errors two figures may differ by (FALSE_ALARM over n_figures, two-sided)."""
    from scipy.stats import norm

    return float(norm.isf(FALSE_ALARM / (2 * max(n_figures, 1))))


def _figures(committed: dict[str, Any], fresh: dict[str, Any]
            ) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    """The figures of both measurements that are compared, each (value, error)."""
    skip = set(not_compared(committed, fresh))
    keys = tuple(k for k in PAPER_KEYS + EXTRA_KEYS if k not in skip)
    a = _flat({k: v for k, v in committed.items() if k in keys}, committed.get("errors", {})) | _thesis_flat(committed)
    b = _flat({k: v for k, v in fresh.items() if k in keys}, fresh.get("errors", {})) | _thesis_flat(fresh)
    return a, b


def compare(committed: dict[str, Any], fresh: dict[str, Any]) -> tuple[list[str], int]:
    """Figures (with a statistical error) that differ by more than agree_sigma combined errors,
    and how many figures both measurements have (what the sigma was chosen for)."""
    a, b = _figures(committed, fresh)
    bad = []
    common = a.keys() & b.keys()
    z = agree_sigma(len(common))
    for key in sorted(common):
        (va, ea), (vb, eb) = a[key], b[key]
        sigma = math.hypot(ea, eb)
        if abs(va - vb) > z * sigma:
            bad.append(f"{key}: committed {va:.2f} +- {ea:.2f}, fresh {vb:.2f} +- {eb:.2f} "
                       f"({abs(va - vb) / sigma if sigma else math.inf:.1f} sigma)")
    missing = sorted(set(a) ^ set(b))
    bad += [f"{key}: in only one of the two measurements" for key in missing]
    return bad, len(common)


def table(design: Design, doc: dict[str, Any]) -> list[str]:
    """One line per figure: ours with its error and sample size, the paper's beside it."""
    paper = design.paper
    errs = doc.get("errors", {})
    lines = [f"{'figure':<34} {'ours':>18} {'paper':>8}"]
    for key, (value, err) in _flat({k: doc[k] for k in PAPER_KEYS + EXTRA_KEYS if k in doc}, errs).items():
        head, _, sub = key.partition(".")
        want = paper.get(head, {}).get(sub) if sub else paper.get(head)
        lines.append(f"{key:<34} {value:>10.2f} +- {err:<5.2f} {'' if want is None else f'{want:>8g}'}")
    for key in ("compressed_size", "compressed_size_1pct_raw"):
        if isinstance(doc.get(key), float) and key not in errs:
            want = paper.get(key)
            lines.append(f"{key:<34} {doc[key]:>10.2f} (exact)  {'' if want is None else f'{want:>8g}'}")
    thesis = doc.get("thesis_scores", {})
    if thesis:
        kinds = list(next(iter(next(iter(thesis.values())).values()))["auc"])
        lines.append(f"{'thesis scores: AUC / TPR at 10% FPR':<34} " + " ".join(f"{k:>17}" for k in kinds))
        for version, scores in thesis.items():
            for score, rec in scores.items():
                lines.append(f"  {version + ' ' + score:<32} " + " ".join(
                    f"{rec['auc'][k]:>9.1f} / {rec['tpr_at_fpr10'][k]:<5.1f}" for k in kinds))
    sizes = doc.get("sample_sizes", {})
    lines.append("sample sizes: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()))
    return lines
