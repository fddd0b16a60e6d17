"""hls4ml conversion of a design's QKeras model and its bit-accurate C simulation.

Every layer's precision is set explicitly from the design: hls4ml 1.3 drops a trailing
``QActivation(quantized_bits)`` and inserts 16-bit linear layers when result types are left
``auto``, which silently changes the arithmetic. `convert` checks the converted graph against
the one the design implies.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import numpy as np

from model.description.design import Design
from model.description.formats import FixedFormat
from model.networks.qnet import activation_name


class HlsError(RuntimeError):
    """hls4ml produced something other than the declared design (message is one line)."""


def hls_config(design: Design) -> dict[str, Any]:
    """The hls4ml configuration, every type taken from the design."""
    names: dict[str, Any] = {"x": {"Precision": {"result": design.input_format.hls()}}}
    for ly in design.layers:
        # A ReLU layer keeps the exact accumulator until its activation casts it; a linear layer's
        # Dense result is the quantized result itself (hls4ml folds the QActivation into it).
        dense_result = ly.accum if ly.activation == "relu" else ly.result
        names[ly.name] = {"Precision": {"weight": ly.weight.hls(), "bias": ly.bias.hls(), "accum": ly.accum.hls(),
                                        "result": dense_result.hls()}}
        names[f"{ly.name}_linear"] = {"Precision": {"result": dense_result.hls()}}
        names[activation_name(ly)] = {"Precision": {"result": ly.result.hls()}}
    return {"Model": {"Precision": {"default": "fixed<16,6>"}, "ReuseFactor": 1, "Strategy": "Latency"},
            "LayerName": names}


def expected_graph(design: Design) -> list[tuple[str, str, FixedFormat]]:
    """(layer name, hls4ml class, result precision) the converted graph must have, in order."""
    out = [("x", "Input", design.input_format)]
    for ly in design.layers:
        if ly.activation == "relu":
            out += [(ly.name, "Dense", ly.accum), (activation_name(ly), "Activation", ly.result)]
        else:
            out.append((ly.name, "Dense", ly.result))
    return out


def _precision_matches(p, fmt: FixedFormat) -> bool:
    return (
        p.width == fmt.width
        and p.integer == fmt.integer
        and bool(p.signed) == fmt.signed
        and p.rounding_mode.name == fmt.rounding
        and p.saturation_mode.name == fmt.overflow
    )


def convert(design: Design, keras_model, config: dict[str, Any], out_dir: Path, compile_csim: bool = True):
    """Convert with hls4ml (Vitis backend, io_parallel) and compile the C simulation."""
    import hls4ml

    with contextlib.redirect_stdout(io.StringIO()):  # hls4ml prints every layer
        hm = hls4ml.converters.convert_from_keras_model(
            keras_model, hls_config=config, backend="Vitis", io_type="io_parallel", output_dir=str(out_dir),
            project_name=design.name.replace("-", "_"),
        )
    got = [(ly.name, ly.class_name, ly.get_output_variable().type.precision) for ly in hm.get_layers()]
    want = expected_graph(design)
    same = len(got) == len(want) and all(
        n == en and c == ec and _precision_matches(p, ef) for (n, c, p), (en, ec, ef) in zip(got, want, strict=True)
    )
    if not same:
        desc = ", ".join(f"{n}:{c}:{p}" for n, c, p in got)
        raise HlsError(f"hls4ml converted graph differs from design {design.name}: {desc}")
    if compile_csim:
        with contextlib.redirect_stdout(io.StringIO()):
            hm.compile()
    return hm


def csim_raw(design: Design, hm, codes: np.ndarray) -> np.ndarray:
    """Run hls4ml's C simulation on (n, n_inputs) input codes; returns the last layer's results (raw)."""
    x = design.input_format.to_float(codes)
    last = design.layers[-1]
    y = np.asarray(hm.predict(np.ascontiguousarray(x)), dtype=np.float64).reshape(len(codes), last.units)
    return last.result.to_raw(y)
