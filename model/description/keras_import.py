"""A user's own QKeras model as a design: its layers and quantizers read into a description, its
quantized weights into the tool-neutral reference (model/fixed/reference.py). No training.

Formats follow from the quantizers as hls4ml derives them: quantized_bits(b, i) is fixed<b, i+1>,
quantized_relu(b, i) is ufixed<b, i>, both RND_CONV,SAT (QKeras rounds half to even and clips).
Accumulators are exact, from the formats and the fan-in (model/description/ranges.py). A layer without a
quantizer keeps its exact value: an unquantized Dense's weights in the narrowest format that
holds them, a linear output as its accumulator, a plain ReLU as the accumulator's positive half.
Supported: QDense/Dense, QActivation/Activation (relu, linear, quantized_relu, quantized_bits),
a BatchNormalization after a dense layer where folding it is exact (a power-of-two scale);
anything else is refused naming the layer and its type.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model.description.design import Dense, Design
from model.description.formats import FixedFormat

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
DEFAULT_INPUT = FixedFormat(16, 6, True)  # hls4ml's default precision, for inputs no quantizer describes
MAX_EXACT_FRAC = 32  # an unquantized weight or a folded one must sit on a grid of at most this many fraction bits
MAX_WIDTH = 64  # the widest format a design may declare (model/description/formats.py)


class KerasImportError(ValueError):
    """A model file that is not a Keras model, or a model the harness cannot import (one line)."""


def sha256(path: Path) -> str:
    """Of the model file, or of every file of a SavedModel folder (relative paths and contents)."""
    h = hashlib.sha256()
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(path)).encode() + b"\0" + f.read_bytes() + b"\0")
    else:
        h.update(path.read_bytes())
    return h.hexdigest()


def load_model(path: Path):
    """The model in an .h5, .keras or SavedModel folder, loaded by QKeras; anything else refused in one line."""
    path = Path(path)
    if not path.exists():
        raise KerasImportError(f"{path}: no such model file")
    if path.is_dir():
        if not (path / "saved_model.pb").is_file():
            raise KerasImportError(f"{path}: a folder without saved_model.pb is not a SavedModel")
    else:
        with open(path, "rb") as fh:
            head = fh.read(8)
        if head != HDF5_MAGIC and not zipfile.is_zipfile(path):
            raise KerasImportError(f"{path}: not a Keras model file (an .h5, a .keras or a SavedModel folder)")
    from qkeras.utils import load_qmodel

    try:
        return load_qmodel(str(path), compile=False)
    except Exception as e:  # noqa: BLE001 - whatever Keras raises, the user gets one line naming the file
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise KerasImportError(f"{path}: QKeras cannot load it ({type(e).__name__}: {first[:200]})") from None


def _quantizer(q) -> tuple[str, dict]:
    return type(q).__name__, (q.get_config() if hasattr(q, "get_config") else {})


def _bits_format(q, what: str) -> tuple[FixedFormat, str]:
    """A weight quantizer -> (its format, how it was read); only quantized_bits on a fixed grid."""
    kind, cfg = _quantizer(q)
    if kind != "quantized_bits":
        raise KerasImportError(f"{what}: quantizer {kind} is not supported (quantized_bits with alpha=1)")
    if cfg.get("alpha") not in (None, 1, 1.0) or not cfg.get("keep_negative", True):
        raise KerasImportError(f"{what}: quantized_bits with alpha={cfg.get('alpha')!r}, keep_negative="
                               f"{cfg.get('keep_negative')!r}: only alpha=1 (a fixed grid) of signed values")
    b, i = int(cfg["bits"]), int(cfg["integer"])
    return FixedFormat(b, i + 1, True), f"quantized_bits({b}, {i}, alpha=1)"


def _quantized(values: np.ndarray, q, what: str, unquantized: str) -> tuple[np.ndarray, FixedFormat, str]:
    """Values through their QKeras quantizer with its format, or, without one, as they are in the
    narrowest exact format; and the note saying which."""
    if q is None:
        return values, exact_format(values, what), unquantized
    fmt, note = _bits_format(q, what)
    return np.asarray(q(values.astype(np.float32)), dtype=np.float64), fmt, note


def exact_format(values: np.ndarray, what: str, signed: bool = True) -> FixedFormat:
    """The narrowest fixed format holding every value exactly (an unquantized or folded weight)."""
    v = np.asarray(values, dtype=np.float64)
    for frac in range(MAX_EXACT_FRAC + 1):
        raw = v * 2.0**frac
        if np.array_equal(raw, np.round(raw)):
            break
    else:
        raise KerasImportError(f"{what}: values not on any fixed-point grid of <= {MAX_EXACT_FRAC} fraction bits "
                               "(quantize them: QDense with quantized_bits)")
    raw = np.round(v * 2.0**frac).astype(np.int64)
    lo, hi = (int(raw.min()), int(raw.max())) if raw.size else (0, 0)
    width = max(_signed_width(lo, hi), 1)
    return FixedFormat(width, width - frac, True) if signed else FixedFormat(width - 1, width - 1 - frac, False)


def _signed_width(lo: int, hi: int) -> int:
    """Bits of the narrowest two's-complement field holding lo..hi."""
    return max(int(lo).bit_length() if lo >= 0 else (-int(lo) - 1).bit_length(), int(hi).bit_length()) + 1


@dataclass
class Group:
    """One design layer: a dense layer, an optional folded BatchNormalization, an optional activation."""

    name: str
    kernel: np.ndarray  # real values, quantized
    bias: np.ndarray
    weight: FixedFormat
    bias_fmt: FixedFormat
    notes: list[str] = field(default_factory=list)
    activation: str = "linear"
    result: FixedFormat | None = None  # None: the exact accumulator (or its ReLU)
    result_note: str = "exact: no quantizer"
    closed: bool = False  # an activation was seen


def _activation(layer, what: str) -> tuple[str, FixedFormat | None, str]:
    """(relu|linear, result format or None for exact, note) of an activation layer or quantizer."""
    q = getattr(layer, "quantizer", None) if hasattr(layer, "quantizer") else None
    act = q if q is not None else getattr(layer, "activation", layer)
    kind, cfg = _quantizer(act)
    if kind == "quantized_relu":
        if cfg.get("negative_slope") or cfg.get("use_sigmoid") or cfg.get("relu_upper_bound") is not None:
            raise KerasImportError(f"{what}: quantized_relu with negative_slope, use_sigmoid or relu_upper_bound "
                                   "is not supported")
        b, i = int(cfg["bits"]), int(cfg["integer"])
        return "relu", FixedFormat(b, i, False, "RND_CONV", "SAT"), f"quantized_relu({b}, {i})"
    if kind == "quantized_bits":
        fmt, note = _bits_format(act, what)
        return "linear", FixedFormat(fmt.width, fmt.integer, True, "RND_CONV", "SAT"), note
    name = getattr(act, "__name__", kind)
    if name in ("relu", "linear"):
        return name, None, f"exact: an unquantized {name}"
    raise KerasImportError(f"{what}: activation {name} is not supported (relu, linear, quantized_relu, "
                           "quantized_bits)")


def _fold_bn(g: Group, layer, what: str) -> None:
    """Fold y = s*x + t (Keras: s = gamma/sqrt(var+eps), t = beta - mean*s, in float32) into the group
    where that is exact: s a power of two and the folded weights on a fixed grid."""
    import tensorflow as tf

    cfg = layer.get_config()
    n = g.kernel.shape[1]
    gamma = layer.gamma.numpy() if layer.gamma is not None else np.ones(n, np.float32)
    beta = layer.beta.numpy() if layer.beta is not None else np.zeros(n, np.float32)
    s = (tf.math.rsqrt(layer.moving_variance + cfg["epsilon"]) * gamma).numpy().astype(np.float64)
    t = (beta - layer.moving_mean.numpy() * s.astype(np.float32)).astype(np.float64)
    m, _ = np.frexp(s)
    if np.any(m != 0.5):
        j = int(np.flatnonzero(m != 0.5)[0])
        raise KerasImportError(f"{what}: BatchNormalization scales unit {j} by {s[j]:.6g}, not a power of two: "
                               f"folding it into '{g.name}' would not be exact; refused")
    g.kernel, g.bias = g.kernel * s, g.bias * s + t
    g.weight = exact_format(g.kernel, f"{what} folded kernel")
    g.bias_fmt = exact_format(g.bias, f"{what} folded bias")
    g.notes.append(f"{layer.name} folded (scales 2**{int(np.log2(s.min()))}..2**{int(np.log2(s.max()))})")


def _dense(layer, what: str) -> Group:
    w = layer.get_weights()
    kernel = np.asarray(w[0], dtype=np.float64)
    bias = np.asarray(w[1], dtype=np.float64) if layer.use_bias else np.zeros(kernel.shape[1])
    qk = getattr(layer, "kernel_quantizer_internal", None)
    qb = getattr(layer, "bias_quantizer_internal", None)
    kernel, wf, kn = _quantized(kernel, qk, f"{what} kernel", "unquantized: the narrowest exact format")
    bias, bf, bn = _quantized(bias, qb if layer.use_bias else None, f"{what} bias",
                              "unquantized bias: the narrowest exact format")
    notes = [kn, bn]
    g = Group(re.sub(r"\W", "_", layer.name), kernel, bias, wf, bf, notes)
    act = getattr(layer, "activation", None)
    if act is not None and getattr(act, "__name__", "") != "linear":  # QDense(..., activation=...)
        g.activation, g.result, g.result_note = _activation(layer, f"{what} activation")
        g.closed = True
    return g


def groups(model, input_format: FixedFormat | None) -> tuple[FixedFormat, list[Group]]:
    """The model's chain of layers as design layers, and its input format (given, else an input
    quantizer's, else hls4ml's default fixed<16,6>)."""
    if len(model.inputs) != 1 or len(model.outputs) != 1 or len(model.inputs[0].shape) != 2:
        raise KerasImportError(f"model '{model.name}': one flat input and one output are supported "
                               f"(has inputs {[tuple(i.shape) for i in model.inputs]})")
    import tensorflow as tf

    out: list[Group] = []
    in_fmt = input_format
    prev = None
    for layer in model.layers:
        kind = type(layer).__name__
        what = f"layer '{layer.name}' ({kind})"
        inbound = [lay for node in layer._inbound_nodes for lay in tf.nest.flatten(node.inbound_layers)]
        if prev is not None and inbound != [prev]:
            raise KerasImportError(f"{what}: not a chain of layers (its inputs are {[lay.name for lay in inbound]})")
        prev = layer
        if kind == "InputLayer":
            continue
        if kind in ("QDense", "Dense"):
            out.append(_dense(layer, what))
        elif kind == "BatchNormalization" and out and not out[-1].closed:
            _fold_bn(out[-1], layer, what)
        elif kind == "BatchNormalization":
            raise KerasImportError(f"{what}: only a BatchNormalization right after a dense layer is folded")
        elif kind in ("QActivation", "Activation", "ReLU"):
            if kind == "ReLU":
                cfg = layer.get_config()
                if cfg.get("max_value") is not None or cfg.get("negative_slope") or cfg.get("threshold"):
                    raise KerasImportError(f"{what}: a ReLU with max_value, negative_slope or threshold")
                act, res, note = "relu", None, "exact: an unquantized relu"
            else:
                act, res, note = _activation(layer, what)
            if not out:  # an input quantizer: it gives the input format
                if res is None:
                    raise KerasImportError(f"{what}: an activation before any dense layer must be a quantizer")
                if input_format is None:
                    in_fmt = res
                continue
            g = out[-1]
            if g.closed:
                raise KerasImportError(f"{what}: a second activation after '{g.name}'")
            g.activation, g.result, g.result_note, g.closed = act, res, note, True
        else:
            raise KerasImportError(f"{what}: not supported (QDense/Dense, QActivation/Activation relu, linear, "
                                   "quantized_relu, quantized_bits, BatchNormalization after a dense layer)")
    if not out:
        raise KerasImportError(f"model '{model.name}': no dense layer")
    return in_fmt or DEFAULT_INPUT, out


def _accum(g: Group, n_in: int, x_lo: int, x_hi: int, x_frac: int, what: str) -> FixedFormat:
    """The exact accumulator: every product's fraction bits, and integer bits for the largest sum the
    formats and the fan-in allow (model/description/ranges.py, weights anywhere in their formats)."""
    from model.description import ranges

    frac = max(x_frac + g.weight.frac, g.bias_fmt.frac)
    wide = FixedFormat(frac + 200, 200, True)  # never reached: the analysis' sums are Python integers
    spec = Dense(g.name, n_in, g.kernel.shape[1], "linear", g.weight, g.bias_fmt, wide,
                 FixedFormat(frac + 200, 200, True, "RND_CONV", "SAT"))
    lr = ranges._layer(spec, what, np.full(n_in, x_lo, dtype=object), np.full(n_in, x_hi, dtype=object), x_frac,
                       None, None, None)
    width = _signed_width(int(min(lr.acc_lo)), int(max(lr.acc_hi)))
    if width > MAX_WIDTH:
        raise KerasImportError(f"{what}: its exact accumulator needs {width} bits (at most {MAX_WIDTH})")
    return FixedFormat(width, width - frac, True)


def to_design_text(name: str, model, source: Path, digest: str, input_format: FixedFormat | None,
                   budget_ns: float) -> tuple[str, list[Group]]:
    """design.toml text of the model (score none: its last layer's results are the outputs)."""
    in_fmt, gs = groups(model, input_format)
    n_in = int(model.inputs[0].shape[-1])
    lines = [f"# Imported by `pixvae designs new {name} --from-keras {source.name}` (sha256 {digest}).",
             "# Formats as hls4ml derives them from the quantizers; accumulators exact from the formats and fan-in.",
             f'name = "{name}"', 'kind = "classifier"',
             f'description = "QKeras model {source.name}: '
             + " -> ".join([str(n_in)] + [f"{g.kernel.shape[1]}{'r' if g.activation == 'relu' else ''}" for g in gs])
             + f' (sha256 {digest[:12]})"', "", "[input]", f'format = "{in_fmt.hls()}"', f"count = {n_in}", ""]
    x_lo, x_hi, x_frac, fan_in = in_fmt.raw_min, in_fmt.raw_max, in_fmt.frac, n_in
    for g in gs:
        what = f"layer '{g.name}'"
        acc = _accum(g, fan_in, x_lo, x_hi, x_frac, what)
        if g.result is None:  # exact: the accumulator itself, or its positive half after a ReLU
            g.result = (FixedFormat(acc.width, acc.integer, True, "RND_CONV", "SAT") if g.activation == "linear"
                        else FixedFormat(acc.width - 1, acc.integer - 1, False, "RND_CONV", "SAT"))
        lines += ["[[layers]]", f'name = "{g.name}"', f"units = {g.kernel.shape[1]}", f'activation = "{g.activation}"',
                  f'weight = "{g.weight.hls()}"    # {g.notes[0]}', f'bias = "{g.bias_fmt.hls()}"    # {g.notes[1]}',
                  f'accum = "{acc.hls()}"    # exact: {x_frac + g.weight.frac} fraction bits, fan-in {fan_in}',
                  f'result = "{g.result.hls()}"    # {g.result_note}'
                  + "".join(f"; {n}" for n in g.notes[2:]), ""]
        g.accum = acc  # type: ignore[attr-defined]
        x_lo, x_hi, x_frac, fan_in = g.result.raw_min, g.result.raw_max, g.result.frac, g.kernel.shape[1]
    lines += ["[outputs]", 'score = "none"    # the outputs are the last layer\'s results (port out_y)', "",
              "[rtl]", f"budget_ns = {budget_ns:g}    # the latency budget the regression checks", ""]
    return "\n".join(lines), gs


def integer_network(design: Design, gs: list[Group]):
    """The model's quantized weights as raw integers of the design's formats."""
    from model.fixed.fixed_ref import IntegerNetwork, IntLayer

    layers = []
    for spec, g in zip(design.layers, gs, strict=True):
        try:
            layers.append(IntLayer(spec, spec.weight.to_raw(g.kernel), spec.bias.to_raw(g.bias)))
        except ValueError as e:
            raise KerasImportError(f"layer '{g.name}': its quantized weights {e}") from None
    return IntegerNetwork(design, tuple(layers))


def predict_raw(design: Design, model, codes: np.ndarray) -> np.ndarray:
    """The Keras model's predict on the input codes, as raw integers of the last layer's result format
    (values off that grid come back as the nearest raw value plus 0.5, so they never compare equal)."""
    y = np.asarray(model.predict(design.input_format.to_float(codes).astype(np.float32), verbose=0),
                   dtype=np.float64).reshape(len(codes), -1)
    raw = y * 2.0**design.layers[-1].result.frac
    return np.where(raw == np.round(raw), raw, np.floor(raw) + 0.5)
