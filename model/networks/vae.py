"""VAE training of a vae_encoder design: the design's QKeras network is the encoder (its last
layer gives the latent means); a log-variance head and the description's decoder exist for
training and evaluation only.

The loss is the reconstruction plus beta x KL. The reconstruction is the mean squared error over
the decoder's outputs (codes read as code / 2**B), as Keras's `mse`, which the paper's beta range
is set against: with the sum over the 105 outputs instead, beta is in effect 105 times smaller,
and the clipped-KL score flagged 29% of loud pixels at 90% rejection instead of 52% (short
profile, 3,000 tracks a set; the paper: 58.5%). Beta is a constant (`beta`) or annealed sinusoidally between
`beta_min` and `beta_max` with a period of `beta_period` epochs, starting at `beta_min`. With a
design sparsity the encoder's QDense layers are then pruned (tensorflow-model-optimization's
PolynomialDecay from 0 to the target over `prune_epochs`) and fine-tuned for `finetune_epochs`,
as the classifier is (model/networks/classifier.py).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from model.description.design import BETA_ANNEAL, Design
from model.networks import pruning, qnet


def beta_at(cfg: dict[str, Any], epoch: int) -> float:
    """The KL weight of an epoch (0-based)."""
    if "beta_min" not in cfg:
        return float(cfg.get("beta", 0.01))
    lo, hi, period = (float(cfg[k]) for k in BETA_ANNEAL)
    return lo + (hi - lo) * 0.5 * (1.0 - math.cos(2.0 * math.pi * epoch / period))


def build_decoder(design: Design, quantized: bool = True):
    """The decoder as QKeras layers: QDense + quantized ReLU per hidden layer, a sigmoid output
    (float Dense and ReLU with quantized=False). It reads the last layer's width: the means, and
    after them a JointVAE's categories."""
    tf, qk = qnet.qkeras()
    dec = design.decoder

    def dense(units: int, name: str):
        if not quantized:
            return tf.keras.layers.Dense(units, name=name)
        return qk.QDense(units, kernel_quantizer=qnet.bits(dec.weight), bias_quantizer=qnet.bits(dec.bias), name=name)

    z = inp = tf.keras.Input((design.layers[-1].units,), name="z")
    for k, units in enumerate(dec.units):
        z = dense(units, f"dec{k + 1}")(z)
        if quantized:
            z = qk.QActivation(qk.quantized_relu(dec.result.width, dec.result.integer), name=f"dec{k + 1}_relu")(z)
        else:
            z = tf.keras.layers.Activation("relu", name=f"dec{k + 1}_relu")(z)
    out = dense(dec.n_out, "dec_out")(z)
    return tf.keras.Model(inp, tf.keras.layers.Activation("sigmoid", name="dec_sigmoid")(out), name="decoder")


def training_encoder(design: Design, quantized: bool = True):
    """qnet.build(design) with a second output, what the means' layer reads (the log-variance
    head reads it too); a pruning-wrapped copy keeps both outputs."""
    tf, _ = qnet.qkeras()
    enc = qnet.build(design, quantized=quantized)
    layers = design.layers
    feed = enc.get_layer(qnet.activation_name(layers[-2])).output if len(layers) > 1 else enc.input
    return tf.keras.Model(enc.input, [enc.output, feed], name=enc.name)


def build_vae(design: Design, encoder=None, logvar=None, decoder=None):
    """(vae, encoder, logvar layer, decoder). The encoder is training_encoder(design) unless given
    (a pruning-wrapped copy)."""
    tf, _ = qnet.qkeras()
    encoder = encoder if encoder is not None else training_encoder(design)
    mu, feed = encoder.outputs
    logvar = logvar if logvar is not None else tf.keras.layers.Dense(design.layers[-1].units, name="fc_logvar")
    heads = tf.keras.Model(encoder.input, [mu, logvar(feed)], name="heads")
    decoder = decoder if decoder is not None else build_decoder(design)

    class VAE(tf.keras.Model):
        def __init__(self) -> None:
            super().__init__(name="vae")
            self.heads, self.decoder = heads, decoder
            self.beta = tf.Variable(0.0, trainable=False, dtype=tf.float32, name="beta")

        def call(self, x, training=False):
            mu, lv = self.heads(x, training=training)
            eps = tf.random.normal(tf.shape(mu)) if training else 0.0
            return self.decoder(mu + eps * tf.exp(0.5 * lv), training=training), mu, lv

        def losses_for(self, x, y, training):
            recon, mu, lv = self(x, training=training)
            rec = tf.reduce_mean(tf.square(y - recon))  # Keras's mean squared error, see the docstring
            kl = tf.reduce_mean(-0.5 * tf.reduce_sum(1 + lv - tf.square(mu) - tf.exp(lv), axis=-1))
            return rec, kl

        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                rec, kl = self.losses_for(x, y, True)
                loss = rec + self.beta * kl
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables, strict=True))
            return {"loss": loss, "recon": rec, "kl": kl, "beta": self.beta + 0.0}

        def test_step(self, data):
            x, y = data
            rec, kl = self.losses_for(x, y, False)
            return {"loss": rec + self.beta * kl, "recon": rec, "kl": kl}

    return VAE(), encoder, logvar, decoder


def train(design: Design, codes: np.ndarray, targets: np.ndarray, cfg: dict[str, Any], verbose: int = 2):
    """Train on (n, n_inputs) input codes to reconstruct the decoder's (n, n_out) target codes
    (model.data.encoding.decoder_targets). Returns (encoder, history dict, decoder)."""
    tf, _ = qnet.qkeras()
    tf.keras.utils.set_random_seed(int(cfg.get("seed", 1)))
    tf.config.experimental.enable_op_determinism()
    x = design.input_format.to_float(codes).astype(np.float32)
    y = design.input_format.to_float(targets).astype(np.float32)
    if y.shape != (len(x), design.decoder.n_out):
        raise ValueError(f"decoder targets have shape {y.shape}, the decoder of {design.name} gives "
                         f"{design.decoder.n_out} outputs")
    n_val = max(1, len(x) // 10)
    history: dict[str, list[float]] = {}

    class BetaSchedule(tf.keras.callbacks.Callback):
        """Sets the KL weight at each epoch; `first` counts the epochs of earlier phases."""

        def __init__(self, first: int) -> None:
            super().__init__()
            self.first = first

        def on_epoch_begin(self, epoch, logs=None):
            self.model.beta.assign(beta_at(cfg, self.first + epoch))

    def run(vae, epochs: int, callbacks: list) -> None:
        vae.compile(optimizer=tf.keras.optimizers.Adam(float(cfg["learning_rate"])))
        h = vae.fit(x[n_val:], y[n_val:], validation_data=(x[:n_val], y[:n_val]), epochs=epochs,
                    batch_size=int(cfg["batch_size"]), shuffle=True, verbose=verbose,
                    callbacks=[BetaSchedule(len(history.get("loss", []))), *callbacks])
        for k, v in h.history.items():
            history.setdefault(k, []).extend(float(e) for e in v)

    vae, encoder, logvar, decoder = build_vae(design)
    run(vae, int(cfg["epochs"]), [])
    if design.sparsity > 0:
        steps = int(cfg.get("prune_epochs", 2)) * int(np.ceil((len(x) - n_val) / int(cfg["batch_size"])))
        pruned = pruning.prunable(design, encoder, design.sparsity, steps)
        vae, _, _, _ = build_vae(design, pruned, logvar, decoder)
        run(vae, int(cfg.get("prune_epochs", 2)) + int(cfg.get("finetune_epochs", 2)), [pruning.step_callback()])
        encoder = pruning.strip(pruned)
    return encoder, history, decoder
