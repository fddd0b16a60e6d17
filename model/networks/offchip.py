"""A JointVAE reference's float parts, which never go on chip: ``reference/offchip.npz``.

- ``logvar/kernel``, ``logvar/bias``: the quantized model's log-variance head (float), for the
  full continuous KL the thesis scores with;
- ``float/<layer>/kernel``, ``float/<layer>/bias``: the float baseline (the same architecture
  trained without quantizers): encoder layers, its log-variance head and its decoder;
- ``qat/<layer>/kernel``: the quantization-aware encoder's kernels before their quantizers (what
  training updates; weights.json holds them after).

float32, compressed: about 60 kB. The file records the encoder's model hash; one trained with
another encoder is refused. The numpy forward passes here need no TensorFlow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.description.design import Design

OFFCHIP_FILE = "offchip.npz"


class OffchipError(RuntimeError):
    """A missing, malformed or mismatched offchip.npz (message is one line)."""


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


@dataclass(frozen=True)
class Offchip:
    design: Design
    arrays: dict[str, np.ndarray]

    def logvar(self, hidden: np.ndarray, prefix: str = "") -> np.ndarray:
        """The log-variance head on the last hidden layer's values (prefix "float/" for the baseline)."""
        return hidden @ self.arrays[f"{prefix}logvar/kernel"] + self.arrays[f"{prefix}logvar/bias"]

    def float_encoder(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(last hidden layer, last layer) of the float baseline's encoder for input values x."""
        h = hidden = np.asarray(x, dtype=np.float64)
        for ly in self.design.layers:
            hidden = h
            h = h @ self.arrays[f"float/{ly.name}/kernel"] + self.arrays[f"float/{ly.name}/bias"]
            if ly.activation == "relu":
                h = np.maximum(h, 0.0)
        return hidden, h

    def float_decoder(self, latent: np.ndarray) -> np.ndarray:
        """The float baseline's decoder: reconstructions in [0, 1]."""
        h = np.asarray(latent, dtype=np.float64)
        names = [f"dec{k + 1}" for k in range(len(self.design.decoder.units))] + ["dec_out"]
        for k, name in enumerate(names):
            h = h @ self.arrays[f"float/{name}/kernel"] + self.arrays[f"float/{name}/bias"]
            h = np.maximum(h, 0.0) if k < len(names) - 1 else _sigmoid(h)
        return h


def collect(design: Design, logvar, float_encoder, float_logvar, float_decoder, qat_encoder=None
            ) -> dict[str, np.ndarray]:
    """The arrays of offchip.npz from the trained Keras layers and models; with the quantization-aware
    encoder, its kernels before quantization too (the weight plots' "before")."""
    out = {}
    for prefix, layer in (("", logvar), ("float/", float_logvar)):
        w, b = layer.get_weights()
        out[f"{prefix}logvar/kernel"], out[f"{prefix}logvar/bias"] = w, b
    names = [ly.name for ly in design.layers]
    dec_names = [f"dec{k + 1}" for k in range(len(design.decoder.units))] + ["dec_out"]
    for model, layer_names in ((float_encoder, names), (float_decoder, dec_names)):
        for name in layer_names:
            w, b = model.get_layer(name).get_weights()
            out[f"float/{name}/kernel"], out[f"float/{name}/bias"] = w, b
    for name in names if qat_encoder is not None else []:
        out[f"qat/{name}/kernel"] = qat_encoder.get_layer(name).get_weights()[0]
    return {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}


def save(path: Path, arrays: dict[str, np.ndarray], model_hash: str) -> None:
    dst = Path(path) / OFFCHIP_FILE
    tmp = dst.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, model_hash=np.array(model_hash), **arrays)
    os.replace(tmp, dst)


def load(path: Path, design: Design, model_hash: str) -> Offchip:
    src = Path(path) / OFFCHIP_FILE
    if not src.is_file():
        raise OffchipError(f"{src}: missing (retrain with `pixvae train --design {design.name}`)")
    try:
        with np.load(src) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise OffchipError(f"{src}: unreadable ({e})") from None
    got = str(arrays.pop("model_hash", ""))
    if got != model_hash:
        raise OffchipError(f"{src}: trained with encoder {got[:12]}, the reference is {model_hash[:12]} (retrain)")
    need = ["logvar/kernel", "float/logvar/kernel"] + [f"float/{ly.name}/kernel" for ly in design.layers]
    missing = [k for k in need if k not in arrays]
    if missing:
        raise OffchipError(f"{src}: no {', '.join(missing)}")
    return Offchip(design, arrays)
