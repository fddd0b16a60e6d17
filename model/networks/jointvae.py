"""JointVAE training of a vae_encoder design with categorical latents (after the CMS thesis,
itself after Dupont 2018): continuous Gaussian latents plus categorical latents relaxed with
Gumbel-softmax.

The design's network is the encoder; its last layer gives the continuous means, then the logits
of each categorical latent ([latent] in design.toml). A float log-variance head and the
description's decoder exist for training and evaluation only. The decoder reads the sampled
means and a Gumbel-softmax sample of each categorical latent (temperature `tau`, annealed per
epoch as max(tau_min, tau_start * exp(-tau_rate * epoch))); in evaluation the means and the
one-hot argmax of each latent.

Loss: binary cross-entropy summed over the decoder's outputs (codes scaled to [0, 1]), plus
beta x (KL continuous + KL discrete), the discrete KL against a uniform prior with `kl_eps`
inside its logarithm. AdamW (`weight_decay`), the learning rate halved after
`lr_plateau_patience` epochs without a lower validation loss, early stopping after
`early_stopping_patience` (best weights restored).

`train(..., quantized=False)` trains the same architecture in float (Dense and ReLU): the
thesis's float baseline, against which quantization is measured.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from model.description.design import Design
from model.networks import qnet, vae


def tau_at(cfg: dict[str, Any], epoch: int) -> float:
    return max(float(cfg["tau_min"]), float(cfg["tau_start"]) * math.exp(-float(cfg["tau_rate"]) * epoch))


def capacity_at(cfg: dict[str, Any], epoch: int) -> float:
    """The discrete KL's target: raised linearly to `discrete_capacity` nats over `capacity_epochs`."""
    top, n = float(cfg.get("discrete_capacity", 0.0)), int(cfg.get("capacity_epochs", 1))
    return top * min(1.0, (epoch + 1) / max(n, 1))


def build(design: Design, quantized: bool = True):
    """(jointvae, encoder, logvar layer, decoder)."""
    tf, _ = qnet.qkeras()
    split = design.latent_split
    groups = split.groups()
    encoder = vae.training_encoder(design, quantized=quantized)
    out, feed = encoder.outputs
    logvar = tf.keras.layers.Dense(split.continuous, name="fc_logvar")
    heads = tf.keras.Model(encoder.input, [out, logvar(feed)], name="heads")
    decoder = vae.build_decoder(design, quantized=quantized)

    class JointVAE(tf.keras.Model):
        def __init__(self, cfg: dict[str, Any]) -> None:
            super().__init__(name="jointvae")
            self.heads, self.decoder = heads, decoder
            self.beta = float(cfg.get("beta", 1.0))
            self.eps = float(cfg.get("kl_eps", 1e-12))
            self.tau = tf.Variable(float(cfg["tau_start"]), trainable=False, dtype=tf.float32, name="tau")
            # Dupont's capacity for the discrete KL: gamma * |KL_d - C| with C raised over the first
            # epochs, so that the categorical latent is used (without it the KL drives it to zero).
            self.gamma = float(cfg.get("capacity_gamma", 0.0))
            self.capacity = tf.Variable(0.0, trainable=False, dtype=tf.float32, name="capacity")

        def call(self, x, training=False):
            out, lv = self.heads(x, training=training)
            mu = out[:, : split.continuous]
            z = mu + tf.random.normal(tf.shape(mu)) * tf.exp(0.5 * lv) if training else mu
            cats = []
            for g in groups:
                a = out[:, g]
                if training:  # Gumbel-softmax: a differentiable sample of the category
                    u = tf.random.uniform(tf.shape(a), 1e-10, 1.0)
                    cats.append(tf.nn.softmax((a - tf.math.log(-tf.math.log(u))) / self.tau))
                else:
                    cats.append(tf.one_hot(tf.argmax(a, axis=-1), a.shape[-1]))
            return self.decoder(tf.concat([z, *cats], axis=-1), training=training), out, lv

        def losses_for(self, x, y, training):
            recon, out, lv = self(x, training=training)
            mu = out[:, : split.continuous]
            bce = tf.reduce_mean(tf.reduce_sum(tf.keras.backend.binary_crossentropy(y, recon), axis=-1))
            kl_c = tf.reduce_mean(-0.5 * tf.reduce_sum(1 + lv - tf.square(mu) - tf.exp(lv), axis=-1))
            kl_d = 0.0
            for g in groups:
                q = tf.nn.softmax(out[:, g])
                neg_entropy = tf.reduce_sum(q * tf.math.log(q + self.eps), axis=-1)
                kl_d += tf.reduce_mean(neg_entropy) + math.log(g.stop - g.start)
            return bce, kl_c, kl_d

        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                bce, kl_c, kl_d = self.losses_for(x, y, True)
                loss = self.objective(bce, kl_c, kl_d)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables, strict=True))
            return {"loss": loss, "bce": bce, "kl_continuous": kl_c, "kl_discrete": kl_d}

        def test_step(self, data):
            x, y = data
            bce, kl_c, kl_d = self.losses_for(x, y, False)
            return {"loss": self.objective(bce, kl_c, kl_d), "bce": bce, "kl_continuous": kl_c, "kl_discrete": kl_d}

        def objective(self, bce, kl_c, kl_d):
            if self.gamma:
                return bce + self.beta * kl_c + self.gamma * tf.abs(kl_d - self.capacity)
            return bce + self.beta * (kl_c + kl_d)

    return JointVAE, encoder, logvar, decoder


def train(design: Design, codes: np.ndarray, targets: np.ndarray, cfg: dict[str, Any], quantized: bool = True,
          verbose: int = 2):
    """Train on (n, n_inputs) input codes to reconstruct the decoder's (n, n_out) target codes.
    Returns (encoder, history dict, decoder, logvar layer)."""
    tf, _ = qnet.qkeras()
    tf.keras.utils.set_random_seed(int(cfg.get("seed", 1)))
    tf.config.experimental.enable_op_determinism()
    x = design.input_format.to_float(codes).astype(np.float32)
    y = design.input_format.to_float(targets).astype(np.float32)
    n_val = max(1, len(x) // 10)
    cls, encoder, logvar, decoder = build(design, quantized=quantized)
    model = cls(cfg)

    class Temperature(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.model.tau.assign(tau_at(cfg, epoch))
            self.model.capacity.assign(capacity_at(cfg, epoch))

    opt = tf.keras.optimizers.AdamW(float(cfg["learning_rate"]), weight_decay=float(cfg.get("weight_decay", 1e-3)))
    model.compile(optimizer=opt)
    callbacks = [
        Temperature(),
        tf.keras.callbacks.ReduceLROnPlateau("val_loss", factor=0.5, patience=int(cfg.get("lr_plateau_patience", 3))),
        tf.keras.callbacks.EarlyStopping("val_loss", patience=int(cfg.get("early_stopping_patience", 4)),
                                         restore_best_weights=True),
    ]
    h = model.fit(x[n_val:], y[n_val:], validation_data=(x[:n_val], y[:n_val]), epochs=int(cfg["epochs"]),
                  batch_size=int(cfg["batch_size"]), shuffle=True, verbose=verbose, callbacks=callbacks)
    history = {k: [float(e) for e in v] for k, v in h.history.items()}
    return encoder, history, decoder, logvar
