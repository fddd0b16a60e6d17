"""VAE training of a vae_encoder design: the design's QKeras network is the encoder (its last
layer gives the latent means); a log-variance head and a float decoder exist for training only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from model import qnet
from model.design import Design


def build_vae(design: Design, beta: float):
    """(vae, encoder): the encoder is qnet.build(design); the heads share its layers."""
    tf, _ = qnet.qkeras()
    encoder = qnet.build(design)
    layers = design.layers
    # The log-variance head reads what the last layer reads: the previous layer's result.
    feed = encoder.get_layer(qnet.activation_name(layers[-2])).output if len(layers) > 1 else encoder.input
    n_latent, n_in = layers[-1].units, design.n_inputs
    logvar = tf.keras.layers.Dense(n_latent, name="fc_logvar")(feed)
    heads = tf.keras.Model(encoder.input, [encoder.output, logvar], name="heads")

    z_in = tf.keras.Input((n_latent,), name="z")
    d = tf.keras.layers.Dense(max(l.units for l in layers), activation="relu", name="dec1")(z_in)  # noqa: E741
    d = tf.keras.layers.Dense(n_in, activation="sigmoid", name="dec_out")(d)
    decoder = tf.keras.Model(z_in, d, name="decoder")

    class VAE(tf.keras.Model):
        def __init__(self) -> None:
            super().__init__(name="vae")
            self.heads, self.decoder, self.beta = heads, decoder, beta

        def call(self, x, training=False):
            mu, logvar = self.heads(x, training=training)
            eps = tf.random.normal(tf.shape(mu)) if training else 0.0
            return self.decoder(mu + eps * tf.exp(0.5 * logvar), training=training), mu, logvar

        def losses_for(self, x, training):
            recon, mu, logvar = self(x, training=training)
            rec = tf.reduce_mean(tf.reduce_sum(tf.square(x - recon), axis=-1))
            kl = tf.reduce_mean(-0.5 * tf.reduce_sum(1 + logvar - tf.square(mu) - tf.exp(logvar), axis=-1))
            return rec, kl

        def train_step(self, x):
            x = x[0] if isinstance(x, tuple) else x  # keras packs un-labelled data as (x,)
            with tf.GradientTape() as tape:
                rec, kl = self.losses_for(x, True)
                loss = rec + self.beta * kl
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables, strict=True))
            return {"loss": loss, "recon": rec, "kl": kl}

        def test_step(self, x):
            x = x[0] if isinstance(x, tuple) else x
            rec, kl = self.losses_for(x, False)
            return {"loss": rec + self.beta * kl, "recon": rec, "kl": kl}

    return VAE(), encoder


def train(design: Design, codes: np.ndarray, labels: Any, cfg: dict[str, Any], verbose: int = 2):
    """Train on (n, n_inputs) input codes (labels unused). Returns (encoder, history dict)."""
    tf, _ = qnet.qkeras()
    tf.keras.utils.set_random_seed(int(cfg.get("seed", 1)))
    tf.config.experimental.enable_op_determinism()
    vae, encoder = build_vae(design, float(cfg.get("beta", 0.01)))
    vae.compile(optimizer=tf.keras.optimizers.Adam(float(cfg["learning_rate"])))
    x = design.input_format.to_float(codes).astype(np.float32)
    n_val = max(1, len(x) // 10)
    hist = vae.fit(
        x[n_val:],
        validation_data=(x[:n_val],),
        epochs=int(cfg["epochs"]),
        batch_size=int(cfg["batch_size"]),
        shuffle=True,
        verbose=verbose,
    )
    return encoder, {k: [float(v) for v in vals] for k, vals in hist.history.items()}
