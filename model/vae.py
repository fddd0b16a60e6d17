"""The quantized VAE: a QKeras encoder (53 -> 24 -> 8 latent means) that runs on the sensor,
plus a log-variance head and a float decoder that exist for training only.

Layer names are part of the contract with hls4ml's configuration and the RTL export.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model import formats as F


def _qkeras():
    # Imported lazily: TensorFlow takes seconds to load and most commands never need it.
    import qkeras
    import tensorflow as tf

    return tf, qkeras


def _bits(fmt: F.FixedFormat):
    _, qk = _qkeras()
    # quantized_bits(b, i) is ap_fixed<b, i+1>; alpha=1 keeps the grid fixed (no learned scale).
    return qk.quantized_bits(fmt.width, fmt.integer - 1, alpha=1)


def build_encoder(name: str = "encoder"):
    """The on-sensor encoder alone: what hls4ml converts."""
    tf, qk = _qkeras()
    x = tf.keras.Input((F.N_INPUTS,), name="x")
    h = qk.QDense(F.N_HIDDEN, kernel_quantizer=_bits(F.WEIGHT), bias_quantizer=_bits(F.BIAS), name="fc1")(x)
    h = qk.QActivation(qk.quantized_relu(F.HIDDEN.width, F.HIDDEN.integer), name="relu1")(h)
    m = qk.QDense(F.N_LATENT, kernel_quantizer=_bits(F.WEIGHT), bias_quantizer=_bits(F.BIAS), name="fc_mu")(h)
    m = qk.QActivation(_bits(F.LATENT), name="mu")(m)
    return tf.keras.Model(x, m, name=name)


@dataclass
class TrainConfig:
    n_tracks: int = 30_000
    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 3e-3
    # Weight of the KL term. 0.01 keeps all 8 latents active; at 1.0 the posterior collapses to
    # one active latent and the on-chip score no longer separates loud pixels (AUC 0.58 vs 0.90).
    beta: float = 0.01
    seed: int = 1

    @classmethod
    def profile(cls, name: str) -> TrainConfig:
        if name == "short":  # a few minutes on 2 CPU cores
            return cls()
        if name == "paper":  # closer to the seed paper's training: more data, longer
            return cls(n_tracks=300_000, epochs=100, batch_size=1024, learning_rate=1e-3)
        raise ValueError(f"unknown training profile {name!r} (short, paper)")


def build_vae():
    """Encoder + training-only heads. Returns (vae, encoder) sharing the encoder layers."""
    tf, qk = _qkeras()
    encoder = build_encoder()
    hidden = encoder.get_layer("relu1").output
    logvar = tf.keras.layers.Dense(F.N_LATENT, name="fc_logvar")(hidden)
    heads = tf.keras.Model(encoder.input, [encoder.output, logvar], name="heads")

    z_in = tf.keras.Input((F.N_LATENT,), name="z")
    d = tf.keras.layers.Dense(F.N_HIDDEN, activation="relu", name="dec1")(z_in)
    d = tf.keras.layers.Dense(F.N_INPUTS, activation="sigmoid", name="dec_out")(d)
    decoder = tf.keras.Model(z_in, d, name="decoder")

    class VAE(tf.keras.Model):
        def __init__(self, beta: float) -> None:
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

    return VAE, encoder


def codes_to_float(codes: np.ndarray) -> np.ndarray:
    """4-bit input codes as the encoder sees them: ufixed<4,0>, i.e. code / 16."""
    return F.INPUT.to_float(codes).astype(np.float32)


def train(codes: np.ndarray, cfg: TrainConfig, verbose: int = 2):
    """Train the VAE on (n, 53) input codes. Returns (encoder, history dict)."""
    tf, _ = _qkeras()
    tf.keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()
    vae_cls, encoder = build_vae()
    vae = vae_cls(cfg.beta)
    vae.compile(optimizer=tf.keras.optimizers.Adam(cfg.learning_rate))
    x = codes_to_float(codes)
    n_val = max(1, len(x) // 10)
    hist = vae.fit(
        x[n_val:],
        validation_data=(x[:n_val],),
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        shuffle=True,
        verbose=verbose,
    )
    return encoder, {k: [float(v) for v in vals] for k, vals in hist.history.items()}
