"""How much of a defect the design's input codes carry at all: a reference for on-chip scores.

A gradient-boosted classifier (scikit-learn) is trained WITH defect labels on half of a normal and
a defective set and measured on the other half, at the paper's working point (90% background
rejection). It is not an on-chip score (those must be trained on normal tracks only) and not a
bound in the strict sense (a better classifier could do more); it says how far an unsupervised
score is from what these 53 codes allow, and whether a goal is within reach of them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from model.description.design import Design
from model.measurements import evaluation as E
from model.measurements import metrics

SEED = 301  # generator seeds of its own, apart from the measurement sets (101-105, 1101-1105, ...)


def supervised(design: Design, n: int, kinds: tuple[str, ...] = E.DEFECT_KINDS,
               progress: bool = True) -> dict[str, Any]:
    """Per defect kind: AUC and efficiency at 90% rejection of the supervised classifier on the
    held-out half (n normal + n defective tracks generated, half of each for training)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    normal = E.sample(design, n, SEED, progress=progress).codes
    out: dict[str, Any] = {"tracks_per_set": n, "classifier": "scikit-learn HistGradientBoostingClassifier, "
                           "trained with defect labels on half of each set, measured on the other half"}
    for k, kind in enumerate(kinds):
        bad = E.sample(design, n, SEED + 1 + k, defect=kind, progress=progress).codes
        x = np.concatenate([normal, bad]).astype(np.float64)
        y = np.r_[np.zeros(n, dtype=np.int64), np.ones(n, dtype=np.int64)]
        train = np.random.default_rng(SEED).permutation(2 * n) < n  # a random half of both sets
        clf = HistGradientBoostingClassifier(max_iter=400, random_state=0).fit(x[train], y[train])
        p = clf.predict_proba(x[~train])[:, 1]
        out[kind] = {"ad_eff_at_br90": metrics.efficiency_at_rejection(y[~train], p, E.BACKGROUND_REJECTION),
                     "ad_auc": metrics.auc(y[~train], p)}
    return out
