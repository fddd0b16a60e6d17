"""The committed reference model: integer encoder weights, the hls4ml configuration and
metadata, tied together (and to the golden vectors) by a content hash.

Files in a reference directory (``golden/reference`` by default):
- ``encoder.json``: kernels and biases as raw integers of their declared formats, one kernel
  row per line so a changed weight shows up in ``git diff``;
- ``hls4ml_config.json``: the exact configuration given to hls4ml;
- ``metadata.json``: how the model was trained, its metrics, and ``model_hash``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model import formats as F
from model.fixed_ref import IntegerEncoder

ENCODER_FILE = "encoder.json"
HLS_CONFIG_FILE = "hls4ml_config.json"
METADATA_FILE = "metadata.json"
HASHED_FILES = (ENCODER_FILE, HLS_CONFIG_FILE)
FORMAT_VERSION = 1


class ReferenceError(RuntimeError):
    """A missing, malformed or inconsistent reference model (message is one line)."""


@dataclass
class Reference:
    path: Path
    weights: IntegerEncoder
    hls_config: dict[str, Any]
    metadata: dict[str, Any]
    model_hash: str


def model_hash(path: Path) -> str:
    """sha256 over the files that determine the hardware (weights and hls4ml configuration)."""
    h = hashlib.sha256()
    for name in HASHED_FILES:
        f = path / name
        if not f.is_file():
            raise ReferenceError(f"{f}: missing (run `pixvae train` or pass --reference)")
        h.update(name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def _dump_matrix(rows: np.ndarray) -> str:
    return "[\n" + ",\n".join("    " + json.dumps([int(v) for v in r]) for r in rows) + "\n  ]"


def encoder_json(w: IntegerEncoder) -> str:
    """Human-diffable JSON: formats first, then one kernel row per line."""
    parts = [
        f'  "format_version": {FORMAT_VERSION}',
        '  "formats": '
        + json.dumps(
            {
                "kernel": F.WEIGHT.hls(),
                "bias": F.BIAS.hls(),
                "input": F.INPUT.hls(),
                "hidden": F.HIDDEN.hls(),
                "latent": F.LATENT.hls(),
            }
        ),
        '  "fc1_kernel": ' + _dump_matrix(w.w1),
        '  "fc1_bias": ' + json.dumps([int(v) for v in w.b1]),
        '  "fc_mu_kernel": ' + _dump_matrix(w.w2),
        '  "fc_mu_bias": ' + json.dumps([int(v) for v in w.b2]),
    ]
    return "{\n" + ",\n".join(parts) + "\n}\n"


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save(path: Path, w: IntegerEncoder, hls_config: dict[str, Any], metadata: dict[str, Any]) -> str:
    path.mkdir(parents=True, exist_ok=True)
    _atomic_write(path / ENCODER_FILE, encoder_json(w))
    _atomic_write(path / HLS_CONFIG_FILE, json.dumps(hls_config, indent=2, sort_keys=True) + "\n")
    digest = model_hash(path)
    _atomic_write(path / METADATA_FILE, json.dumps({**metadata, "model_hash": digest}, indent=2) + "\n")
    return digest


def _matrix(doc: dict[str, Any], key: str, shape: tuple[int, ...], fmt: F.FixedFormat, src: Path) -> np.ndarray:
    try:
        arr = np.array(doc[key], dtype=np.int64)
    except KeyError:
        raise ReferenceError(f"{src}: key '{key}' missing") from None
    except (TypeError, ValueError):
        raise ReferenceError(f"{src}: '{key}' is not an integer array") from None
    if arr.shape != shape:
        raise ReferenceError(f"{src}: '{key}' has shape {arr.shape}, expected {shape}")
    if arr.min() < fmt.raw_min or arr.max() > fmt.raw_max:
        raise ReferenceError(f"{src}: '{key}' has values outside {fmt.hls()} raw range")
    return arr


def load(path: Path) -> Reference:
    path = Path(path)
    if not path.is_dir():
        raise ReferenceError(f"{path}: reference model directory missing (run `pixvae train`)")
    digest = model_hash(path)
    src = path / ENCODER_FILE
    try:
        doc = json.loads(src.read_text())
        hls_config = json.loads((path / HLS_CONFIG_FILE).read_text())
        metadata = json.loads((path / METADATA_FILE).read_text()) if (path / METADATA_FILE).is_file() else {}
    except json.JSONDecodeError as e:
        raise ReferenceError(f"{path}: corrupt JSON ({e.msg} at line {e.lineno})") from None
    if doc.get("format_version") != FORMAT_VERSION:
        raise ReferenceError(f"{src}: format_version {doc.get('format_version')!r}, expected {FORMAT_VERSION}")
    w = IntegerEncoder(
        w1=_matrix(doc, "fc1_kernel", (F.N_INPUTS, F.N_HIDDEN), F.WEIGHT, src),
        b1=_matrix(doc, "fc1_bias", (F.N_HIDDEN,), F.BIAS, src),
        w2=_matrix(doc, "fc_mu_kernel", (F.N_HIDDEN, F.N_LATENT), F.WEIGHT, src),
        b2=_matrix(doc, "fc_mu_bias", (F.N_LATENT,), F.BIAS, src),
    )
    return Reference(path, w, hls_config, metadata, digest)


def from_keras(encoder) -> IntegerEncoder:
    """Read the quantized weights out of a trained QKeras encoder as raw integers."""

    def q(layer: str, idx: int, fmt: F.FixedFormat) -> np.ndarray:
        lay = encoder.get_layer(layer)
        quantizer = lay.get_quantizers()[idx]
        return fmt.to_raw(np.asarray(quantizer(lay.get_weights()[idx])))

    return IntegerEncoder(q("fc1", 0, F.WEIGHT), q("fc1", 1, F.BIAS), q("fc_mu", 0, F.WEIGHT), q("fc_mu", 1, F.BIAS))


def to_keras(w: IntegerEncoder):
    """Build the QKeras encoder carrying exactly these integer weights (values are on-grid floats)."""
    from model.vae import build_encoder

    enc = build_encoder()
    enc.get_layer("fc1").set_weights([F.WEIGHT.to_float(w.w1), F.BIAS.to_float(w.b1)])
    enc.get_layer("fc_mu").set_weights([F.WEIGHT.to_float(w.w2), F.BIAS.to_float(w.b2)])
    return enc
