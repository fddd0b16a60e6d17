"""A design's committed reference model: integer weights in a tool-neutral file, the hls4ml
configuration and metadata, tied together (and to the golden vectors) by a content hash.

Files in a reference directory (``golden/<design>/reference``):
- ``weights.json``: for each layer its kernel (rows of raw integers, in x out, one row per line
  so a changed weight shows up in ``git diff``), bias, and every format in ap_fixed spelling with
  rounding and overflow, plus the score definition: enough for an outside checker to recompute
  every golden output without this project's code;
- ``hls4ml_config.json``: the exact configuration given to hls4ml;
- ``metadata.json``: how the model was trained, its metrics, and ``model_hash``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.description.design import Dense, Design
from model.description.formats import FixedFormat
from model.fixed.files import atomic_write
from model.fixed.fixed_ref import IntegerNetwork, IntLayer

WEIGHTS_FILE = "weights.json"
HLS_CONFIG_FILE = "hls4ml_config.json"
METADATA_FILE = "metadata.json"
HASHED_FILES = (WEIGHTS_FILE, HLS_CONFIG_FILE)
FORMAT_VERSION = 2
SCORE_DEFINITIONS = {
    "kl_clipped": "0.5 * sum(mu_j^2) over the last layer's results, exact",
    "network": "the last layer's single result",
    "none": "no score: the outputs are the last layer's results (columns y0..)",
    "kl_total": "0.5 * sum(mu_j^2) over the continuous means, exact, + the integer discrete KL of each categorical "
                "latent's logits (model/kl_discrete.py: exp and d*exp tables, softmax sum, ln and 1/x tables)",
}
DIPS_DEFINITION = (" + 2**dip_shift * (sum over input slices and interior rows r of max(0, min(x[r-1], x[r+1]) - x[r])"
                   ", input codes as raw integers)")

CHECK_SCORE = (" + 2**check.shift * (sum over the profile inputs j of max(0, p[j] - x[j]), p the check's predictions"
               ", in input raw units)")
CHECK_SCORE_TOP_BITS = (" + 2**check.shift * (sum over the profile inputs j of max(0, p[j] - c[j]), p the check's "
                        "predictions, c the input codes' top check.input_frac bits, in their raw units)")
CHECK_DEFINITION = ("the layers compute like the encoder's; row r of every slice (inputs j with j % 13 == r, before "
                    "y0) is predicted from rows r-window..r+window except r (and y0 if y0): a hidden unit j serves "
                    "row j // (units / 13), a prediction j row j % 13, and kernels are zero between other rows")


class ReferenceError(RuntimeError):
    """A missing, malformed or inconsistent reference model (message is one line)."""


@dataclass
class Reference:
    path: Path
    design: Design
    network: IntegerNetwork
    hls_config: dict[str, Any]
    metadata: dict[str, Any]
    model_hash: str


def model_hash(path: Path) -> str:
    """sha256 over the files that determine the hardware (weights with formats, hls4ml configuration)."""
    h = hashlib.sha256()
    for name in HASHED_FILES:
        f = path / name
        if not f.is_file():
            raise ReferenceError(f"{f}: missing (run `pixvae train` or pass --reference)")
        h.update(name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def _ints(values: np.ndarray) -> str:
    return json.dumps([int(v) for v in values])


def _layers_json(layers: tuple[IntLayer, ...], indent: str) -> str:
    """Layers as JSON: formats first, then one kernel row per line."""
    out = []
    for ly in layers:
        s = ly.spec
        head = {
            "name": s.name,
            "activation": s.activation,
            "kernel_format": s.weight.hls(),
            "bias_format": s.bias.hls(),
            "accum_format": s.accum.hls(),
            "result_format": s.result.hls(),
        }
        rows = ",\n".join(f"{indent}    " + _ints(r) for r in ly.kernel)
        out.append(f"{indent}{{" + json.dumps(head)[1:-1] + f',\n{indent}  "kernel": [\n' + rows
                   + f'\n{indent}  ],\n{indent}  "bias": ' + _ints(ly.bias) + "}")
    return ",\n".join(out)


def weights_json(net: IntegerNetwork) -> str:
    """Human-diffable, tool-neutral JSON: formats first, then one kernel row per line."""
    d = net.design
    check = ""
    if d.check is not None:
        head = {"window": d.check.window, "y0": d.check.y0, "shift": d.check.shift, "definition": CHECK_DEFINITION}
        if d.check.input_frac != d.input_format.frac:  # absent: the check reads every bit of the codes
            head["input_frac"] = d.check.input_frac
        check = ('  "check": {' + json.dumps(head)[1:-1] + ', "layers": [\n' + _layers_json(net.check, "    ")
                 + "\n  ]},\n")
    outputs = {
        "score": d.score,
        "score_definition": SCORE_DEFINITIONS[d.score] + (DIPS_DEFINITION if d.dip_shift is not None else "")
        + ("" if d.check is None else CHECK_SCORE if d.check.input_frac == d.input_format.frac
           else CHECK_SCORE_TOP_BITS),
        **({"dip_shift": d.dip_shift} if d.dip_shift is not None else {}),
        **({"latent": {"continuous": d.latent_split.continuous, "categorical": list(d.latent_split.categorical)},
            "exp_frac": d.exp_frac, "sum_frac": d.sum_frac} if d.score == "kl_total" else {}),
        "score_format": d.score_format.hls(),
        **({"decision": d.decision, "decision_definition": "score > score_threshold (raw integers of score_format)"}
           if d.has_score else {}),
        "columns": d.output_columns,
    }
    return (
        "{\n"
        + f'  "format_version": {FORMAT_VERSION},\n  "design": {json.dumps(d.name)},\n'
        + f'  "input_format": {json.dumps(d.input_format.hls())},\n'
        + '  "layers": [\n'
        + _layers_json(net.layers, "    ")
        + "\n  ],\n"
        + check
        + f'  "outputs": {json.dumps(outputs)}\n'
        + "}\n"
    )


def save(path: Path, net: IntegerNetwork, hls_config: dict[str, Any], metadata: dict[str, Any]) -> str:
    path.mkdir(parents=True, exist_ok=True)
    atomic_write(path / WEIGHTS_FILE, weights_json(net))
    atomic_write(path / HLS_CONFIG_FILE, json.dumps(hls_config, indent=2, sort_keys=True) + "\n")
    digest = model_hash(path)
    atomic_write(
        path / METADATA_FILE, json.dumps({**metadata, "design": net.design.name, "model_hash": digest}, indent=2) + "\n"
    )
    return digest


def _matrix(
    doc: dict[str, Any], key: str, shape: tuple[int, ...], fmt: FixedFormat, src: Path, where: str
) -> np.ndarray:
    try:
        arr = np.array(doc[key], dtype=np.int64)
    except KeyError:
        raise ReferenceError(f"{src}: {where} '{key}' missing") from None
    except (TypeError, ValueError):
        raise ReferenceError(f"{src}: {where} '{key}' is not an integer array") from None
    if arr.shape != shape:
        raise ReferenceError(f"{src}: {where} '{key}' has shape {arr.shape}, expected {shape}")
    if arr.size and (arr.min() < fmt.raw_min or arr.max() > fmt.raw_max):
        raise ReferenceError(f"{src}: {where} '{key}' has values outside {fmt.hls()} raw range")
    return arr


def _load_layers(specs: tuple[Dense, ...], got: list[Any], src: Path) -> tuple[IntLayer, ...]:
    """Each layer's formats checked against its spec, then its kernel and bias read."""
    layers = []
    for spec, ly in zip(specs, got, strict=True):
        where = f"layer '{spec.name}'"
        want = {
            "name": spec.name,
            "activation": spec.activation,
            "kernel_format": spec.weight.hls(),
            "bias_format": spec.bias.hls(),
            "accum_format": spec.accum.hls(),
            "result_format": spec.result.hls(),
        }
        for key, value in want.items():
            if ly.get(key) != value:
                raise ReferenceError(
                    f"{src}: {where} {key} {ly.get(key)!r} differs from the design's {value!r} "
                    "(stale reference: retrain)"
                )
        layers.append(
            IntLayer(
                spec,
                _matrix(ly, "kernel", (spec.n_in, spec.units), spec.weight, src, where),
                _matrix(ly, "bias", (spec.units,), spec.bias, src, where),
            )
        )
    return tuple(layers)


def _load_check(design: Design, doc: dict[str, Any], src: Path) -> tuple[IntLayer, ...]:
    """The [check]'s layers (none when the design has no check), each kernel zero outside its mask."""
    chk, got = design.check, doc.get("check")
    if (chk is None) != (got is None):
        raise ReferenceError(f"{src}: {'a' if got is not None else 'no'} profile check, the design has "
                             f"{'one' if chk is not None else 'none'} (stale reference: retrain)")
    if chk is None:
        return ()
    want = {"window": chk.window, "y0": chk.y0, "input_frac": chk.input_frac, "shift": chk.shift}
    absent = {"input_frac": design.input_format.frac}  # written only when the check reads fewer bits
    if not isinstance(got, dict) or {k: got.get(k, absent.get(k)) for k in want} != want:
        raise ReferenceError(f"{src}: check {', '.join(want)} differ from the design's {list(want.values())} "
                             "(stale reference: retrain)")
    layers = got.get("layers")
    if not isinstance(layers, list) or len(layers) != len(chk.layers):
        raise ReferenceError(f"{src}: check layers do not match the design's {len(chk.layers)} (stale reference)")
    out = _load_layers(chk.layers, layers, src)
    for k, ly in enumerate(out):
        if np.any(ly.kernel[~chk.mask(k)]):
            raise ReferenceError(f"{src}: check layer '{ly.spec.name}' has nonzero weights outside its mask "
                                 "(a row would see itself)")
    return out


def load(path: Path, design: Design, with_check: bool = True) -> Reference:
    """Read a reference model and check that it is the design's (names, shapes, every format).
    with_check=False reads the encoder alone, whether or not the file has a profile check (to
    train a check onto it); its network then has no check layers."""
    path = Path(path)
    if not path.is_dir():
        raise ReferenceError(f"{path}: reference model directory missing (run `pixvae train --design {design.name}`)")
    digest = model_hash(path)
    src = path / WEIGHTS_FILE
    try:
        doc = json.loads(src.read_text())
        hls_config = json.loads((path / HLS_CONFIG_FILE).read_text())
        metadata = json.loads((path / METADATA_FILE).read_text()) if (path / METADATA_FILE).is_file() else {}
    except json.JSONDecodeError as e:
        raise ReferenceError(f"{path}: corrupt JSON ({e.msg} at line {e.lineno})") from None
    if doc.get("format_version") != FORMAT_VERSION:
        raise ReferenceError(f"{src}: format_version {doc.get('format_version')!r}, expected {FORMAT_VERSION}")
    if doc.get("design") != design.name or doc.get("input_format") != design.input_format.hls():
        raise ReferenceError(
            f"{src}: made for design {doc.get('design')!r} with input "
            f"{doc.get('input_format')}, not {design.name!r} ({design.input_format.hls()})"
        )
    got = doc.get("layers")
    if not isinstance(got, list) or len(got) != len(design.layers):
        raise ReferenceError(
            f"{src}: {len(got) if isinstance(got, list) else 'no'} layers, design "
            f"{design.name} has {len(design.layers)}"
        )
    layers = _load_layers(design.layers, got, src)
    check = _load_check(design, doc, src) if with_check else ()
    if doc.get("outputs", {}).get("dip_shift") != design.dip_shift:
        raise ReferenceError(
            f"{src}: score dip_shift {doc.get('outputs', {}).get('dip_shift')!r} differs from the design's "
            f"{design.dip_shift!r} (stale reference: retrain)"
        )
    if design.score == "kl_total":
        split = design.latent_split
        want_kl = {"latent": {"continuous": split.continuous, "categorical": list(split.categorical)},
                   "exp_frac": design.exp_frac, "sum_frac": design.sum_frac}
        for key, value in want_kl.items():
            if doc.get("outputs", {}).get(key) != value:
                raise ReferenceError(f"{src}: score {key} {doc.get('outputs', {}).get(key)!r} differs from the "
                                     f"design's {value!r} (stale reference: retrain)")
    if doc.get("outputs", {}).get("score_format") != design.score_format.hls():
        raise ReferenceError(
            f"{src}: score format {doc.get('outputs', {}).get('score_format')!r} differs from "
            f"the design's {design.score_format.hls()}"
        )
    net = IntegerNetwork(design, layers, check)
    check_ranges(net, src)
    return Reference(path, design, net, hls_config, metadata, digest)


def check_ranges(net: IntegerNetwork, src: Path) -> None:
    """Refuse weights whose reachable sums or score a format cannot hold (model/description/ranges.py, with
    the weights): the design's formats-only check makes this redundant for a design read by
    model.description.design, so it fails only for a design built some other way; a design error either way."""
    from model.description import ranges
    from model.description.design import DesignError

    for where, problem in ranges.analyse(net.design, net).problems():  # a check not read: its formats alone
        raise DesignError(f"{src}: with these weights, {net.design.path / 'design.toml'} {where} {problem}")


def quantized_layer(spec: Dense, model) -> IntLayer:
    """The QKeras layer named spec.name: its quantized weights as raw integers of spec's formats."""
    lay = model.get_layer(spec.name)
    qk, qb = lay.get_quantizers()[:2]
    w, b = lay.get_weights()[:2]
    return IntLayer(spec, spec.weight.to_raw(np.asarray(qk(w))), spec.bias.to_raw(np.asarray(qb(b))))


def from_keras(design: Design, model) -> IntegerNetwork:
    """Read the quantized weights out of a trained QKeras model as raw integers."""
    return IntegerNetwork(design, tuple(quantized_layer(spec, model) for spec in design.layers))


def to_keras(net: IntegerNetwork):
    """Build the QKeras model carrying exactly these integer weights (values are on-grid floats)."""
    from model.networks import qnet

    model = qnet.build(net.design)
    for ly in net.layers:
        model.get_layer(ly.spec.name).set_weights([ly.spec.weight.to_float(ly.kernel), ly.spec.bias.to_float(ly.bias)])
    return model
