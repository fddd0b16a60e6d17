"""Training of a VAE design's on-chip profile check (design.Check), on normal tracks only.

The check is a small QKeras network whose kernels are masked so that each y-row's prediction
never sees that row (in any slice): it learns what a normal track's row holds given its
neighbours, and the score counts the charge a row lacks against that. The loss is the mean
squared error of the predictions against the inputs themselves; no defect, label or
threshold enters the training.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from model.description.design import Design
from model.fixed import reference
from model.fixed.fixed_ref import IntLayer
from model.networks import qnet


def build(design: Design):
    """The check alone, quantization-aware, each kernel held to its mask (design.check.mask)."""
    tf, qk = qnet.qkeras()
    chk = design.check
    masks = [chk.mask(k) for k in range(len(chk.layers))]
    x = inp = tf.keras.Input((design.n_inputs,), name="x")
    for layer, mask in zip(chk.layers, masks, strict=True):
        held = tf.constant(mask, dtype=tf.float32)
        x = qk.QDense(layer.units, kernel_quantizer=qnet.bits(layer.weight), bias_quantizer=qnet.bits(layer.bias),
                      kernel_constraint=lambda w, m=held: w * m, name=layer.name)(x)
        x = qk.QActivation(qnet.result_quantizer(layer), name=qnet.activation_name(layer))(x)
    model = tf.keras.Model(inp, x, name=f"{design.name.replace('-', '_')}_check")
    for layer, mask in zip(chk.layers, masks, strict=True):  # masked from the first step, not after the first update
        dense = model.get_layer(layer.name)
        w, b = dense.get_weights()
        dense.set_weights([w * mask, b])
    return model


def inputs(design: Design, codes: np.ndarray) -> np.ndarray:
    """The model's float inputs: the codes as the check reads them (model.fixed.fixed_ref.check_inputs)."""
    from model.fixed.fixed_ref import check_inputs

    return design.check.input_format.to_float(check_inputs(design, codes)).astype(np.float32)


def train(design: Design, codes: np.ndarray, cfg: dict[str, Any], verbose: int = 2):
    """Train on (n, n_inputs) normal input codes for the profile's `check_epochs` (default its
    `epochs`), batch size and learning rate. Returns (model, history dict)."""
    tf, _ = qnet.qkeras()
    tf.keras.utils.set_random_seed(int(cfg.get("seed", 1)))
    tf.config.experimental.enable_op_determinism()
    x = inputs(design, codes)
    y = x[:, : design.check.n_profile]
    n_val = max(1, len(x) // 10)
    model = build(design)
    model.compile(optimizer=tf.keras.optimizers.Adam(float(cfg["learning_rate"])), loss="mse")
    h = model.fit(x[n_val:], y[n_val:], validation_data=(x[:n_val], y[:n_val]),
                  epochs=int(cfg.get("check_epochs", cfg["epochs"])), batch_size=int(cfg["batch_size"]),
                  shuffle=True, verbose=verbose)
    return model, {k: [float(e) for e in v] for k, v in h.history.items()}


def from_keras(design: Design, model) -> tuple[IntLayer, ...]:
    """The trained check's quantized weights as raw integers (masked weights are exact zeros)."""
    out = []
    for k, spec in enumerate(design.check.layers):
        ly = reference.quantized_layer(spec, model)
        out.append(dataclasses.replace(ly, kernel=ly.kernel * design.check.mask(k)))
    return tuple(out)
