"""Training of a classifier design: the paper's on-chip pileup classifier.

Signal is a track with |pT| > 2 GeV; the background (lower pT) is undersampled to the signal
count. The design's network ends in one linear unit, trained as a logit (binary cross-entropy).
With a target sparsity the QDense layers are pruned by tensorflow-model-optimization's
magnitude pruning (PolynomialDecay from 0 to the target over `prune_epochs`), then fine-tuned
for `finetune_epochs` with the mask fixed; stripping the wrappers leaves exact zeros, which the
quantizers keep at zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from model.description.design import Design
from model.networks import pruning, qnet

SIGNAL_PT_GEV = 2.0


def signal_labels(labels: pd.DataFrame) -> np.ndarray:
    return (np.abs(labels["pt"].to_numpy()) > SIGNAL_PT_GEV).astype(np.float32)


def balanced(y: np.ndarray, seed: int) -> np.ndarray:
    """Indices with every signal track and as many background tracks, drawn without replacement."""
    rng = np.random.default_rng(seed)
    sig, bkg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    keep = np.concatenate([sig, rng.choice(bkg, size=min(len(sig), len(bkg)), replace=False)])
    return rng.permutation(keep)


def train(design: Design, codes: np.ndarray, labels: pd.DataFrame, cfg: dict[str, Any], verbose: int = 2):
    """Train (and prune) on (n, n_inputs) codes with track labels. Returns (model, history dict)."""
    tf, _ = qnet.qkeras()
    seed = int(cfg.get("seed", 1))
    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    y_all = signal_labels(labels)
    idx = balanced(y_all, seed)
    x, y = design.input_format.to_float(codes[idx]).astype(np.float32), y_all[idx]
    n_val = max(1, len(x) // 10)
    fit = {
        "validation_data": (x[:n_val], y[:n_val]),
        "batch_size": int(cfg["batch_size"]),
        "shuffle": True,
        "verbose": verbose,
    }
    loss = tf.keras.losses.BinaryCrossentropy(from_logits=True)

    def compile_(m):
        m.compile(
            optimizer=tf.keras.optimizers.Adam(float(cfg["learning_rate"])),
            loss=loss,
            metrics=[tf.keras.metrics.AUC(from_logits=True, name="auc")],
        )

    model = qnet.build(design)
    compile_(model)
    history: dict[str, list[float]] = {}

    def record(h) -> None:
        for k, v in h.history.items():
            history.setdefault(k, []).extend(float(e) for e in v)

    record(model.fit(x[n_val:], y[n_val:], epochs=int(cfg["epochs"]), **fit))
    if design.sparsity > 0:
        prune_epochs, finetune = int(cfg.get("prune_epochs", 2)), int(cfg.get("finetune_epochs", 2))
        steps = prune_epochs * int(np.ceil((len(x) - n_val) / int(cfg["batch_size"])))
        pruned = pruning.prunable(design, model, design.sparsity, steps)
        compile_(pruned)
        record(
            pruned.fit(
                x[n_val:],
                y[n_val:],
                epochs=prune_epochs + finetune,
                callbacks=[pruning.step_callback()],
                **fit,
            )
        )
        model = pruning.strip(pruned)
    history["signal_tracks"] = [float(y.sum())]
    history["training_tracks"] = [float(len(y))]
    return model, history
