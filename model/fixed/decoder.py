"""A VAE's off-detector decoder as data: its quantized weights in ``reference/decoder.json``
(raw integers in the description's [decoder] formats, like weights.json) and a numpy forward
pass, so evaluation needs no TensorFlow.

The decoder takes the latent means the chip sends (the encoder's last-layer results, exact
fixed-point values) and gives, through sigmoid, each reconstructed code as a fraction of
2**B. The file records the encoder's model hash: a decoder trained with another encoder is
refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.description.design import Design
from model.fixed.files import atomic_write, read_json

DECODER_FILE = "decoder.json"
FORMAT_VERSION = 1


class DecoderError(RuntimeError):
    """A missing, malformed or mismatched decoder file (message is one line)."""


@dataclass(frozen=True)
class Decoder:
    design: Design
    kernels: tuple[np.ndarray, ...]  # raw integers in the weight format, (n_in, units)
    biases: tuple[np.ndarray, ...]  # raw integers in the bias format
    model_hash: str

    def __call__(self, mu: np.ndarray) -> np.ndarray:
        """(n, n_out) reconstructions in [0, 1] (code / 2**B) from (n, latent) mean values."""
        dec = self.design.decoder
        h = np.asarray(mu, dtype=np.float64)
        last = len(self.kernels) - 1
        for k, (w, b) in enumerate(zip(self.kernels, self.biases, strict=True)):
            h = h @ dec.weight.to_float(w) + dec.bias.to_float(b)
            if k < last:  # QKeras quantized_relu: round half to even (np.rint), saturate
                scale = 2.0**dec.result.frac
                h = np.clip(np.rint(np.maximum(h, 0.0) * scale), 0, dec.result.raw_max) / scale
        return 1.0 / (1.0 + np.exp(-h))

    def codes(self, recon: np.ndarray) -> np.ndarray:
        """Reconstructions (this decoder's outputs), each rounded to the nearest code of the input format."""
        top = self.design.input_format.raw_max
        return np.clip(np.rint(recon * (1 << self.design.input_format.width)), 0, top).astype(np.int64)


def from_keras(design: Design, model, model_hash: str) -> Decoder:
    """The trained QKeras decoder's quantized weights as raw integers."""
    dec = design.decoder
    kernels, biases = [], []
    for name in [f"dec{k + 1}" for k in range(len(dec.units))] + ["dec_out"]:
        lay = model.get_layer(name)
        qk, qb = lay.get_quantizers()[:2]
        w, b = lay.get_weights()[:2]
        kernels.append(dec.weight.to_raw(np.asarray(qk(w))))
        biases.append(dec.bias.to_raw(np.asarray(qb(b))))
    return Decoder(design, tuple(kernels), tuple(biases), model_hash)


def save(path: Path, d: Decoder) -> None:
    dec = d.design.decoder
    layers = ",\n".join(
        '    {"kernel": [\n' + ",\n".join("      " + json.dumps([int(v) for v in row]) for row in w)
        + '\n    ], "bias": ' + json.dumps([int(v) for v in b]) + "}"
        for w, b in zip(d.kernels, d.biases, strict=True))
    head = {"format_version": FORMAT_VERSION, "design": d.design.name, "model_hash": d.model_hash,
            "units": list(dec.units), "slices": list(dec.slices), "y0": dec.y0,
            "weight_format": dec.weight.hls(), "bias_format": dec.bias.hls(), "result_format": dec.result.hls()}
    text = "{\n" + json.dumps(head)[1:-1] + ',\n  "layers": [\n' + layers + "\n  ]\n}\n"
    atomic_write(Path(path) / DECODER_FILE, text)


def load(path: Path, design: Design, model_hash: str) -> Decoder:
    """The decoder of the reference in `path`, checked against the design and the encoder's hash."""
    src = Path(path) / DECODER_FILE
    if design.decoder is None:
        raise DecoderError(f"{src}: design {design.name} has no decoder (it is a {design.kind})")
    if not src.is_file():
        raise DecoderError(f"{src}: missing (retrain with `pixvae train --design {design.name}`)")
    doc = read_json(src, DecoderError)
    dec = design.decoder
    want = {"format_version": FORMAT_VERSION, "design": design.name, "units": list(dec.units),
            "slices": list(dec.slices), "y0": dec.y0, "weight_format": dec.weight.hls(),
            "bias_format": dec.bias.hls(), "result_format": dec.result.hls()}
    for key, value in want.items():
        if doc.get(key) != value:
            raise DecoderError(f"{src}: '{key}' is {doc.get(key)!r}, the design's decoder has {value!r}")
    if doc.get("model_hash") != model_hash:
        raise DecoderError(f"{src}: trained with encoder {str(doc.get('model_hash'))[:12]}, "
                           f"the reference is {model_hash[:12]} (retrain)")
    sizes = [design.layers[-1].units, *dec.units, dec.n_out]
    layers = doc.get("layers")
    if not isinstance(layers, list) or len(layers) != len(sizes) - 1:
        raise DecoderError(f"{src}: expected {len(sizes) - 1} layers")
    kernels, biases = [], []
    for k, ly in enumerate(layers):
        try:
            w, b = np.array(ly["kernel"], dtype=np.int64), np.array(ly["bias"], dtype=np.int64)
        except (KeyError, TypeError, ValueError):
            raise DecoderError(f"{src}: layer {k + 1} needs integer 'kernel' and 'bias' arrays") from None
        if w.shape != (sizes[k], sizes[k + 1]) or b.shape != (sizes[k + 1],):
            raise DecoderError(f"{src}: layer {k + 1} has kernel {w.shape} and bias {b.shape}, expected "
                               f"{(sizes[k], sizes[k + 1])} and {(sizes[k + 1],)}")
        for arr, fmt, what in ((w, dec.weight, "kernel"), (b, dec.bias, "bias")):
            if arr.size and (arr.min() < fmt.raw_min or arr.max() > fmt.raw_max):
                raise DecoderError(f"{src}: layer {k + 1} {what} outside the raw range of {fmt.hls()}")
        kernels.append(w)
        biases.append(b)
    return Decoder(design, tuple(kernels), tuple(biases), model_hash)


def latent_input(design: Design, last: np.ndarray) -> np.ndarray:
    """What the decoder reads from the last layer's values: the continuous means, then each
    categorical latent as the one-hot of its largest logit (a plain VAE: the means as they are)."""
    split = design.latent_split
    last = np.asarray(last, dtype=np.float64)
    parts = [last[:, : split.continuous]]
    for g in split.groups():
        parts.append(np.eye(g.stop - g.start)[np.argmax(last[:, g], axis=1)])
    return np.concatenate(parts, axis=1)
