"""hls4ml conversion of the QKeras encoder and its bit-accurate C simulation.

Every layer's precision is set explicitly: hls4ml 1.3 drops a trailing
``QActivation(quantized_bits)`` and inserts 16-bit linear layers when result types are left
``auto``, which silently changes the arithmetic. `convert` checks the converted graph.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import numpy as np

from model import formats as F


class HlsError(RuntimeError):
    """hls4ml produced something other than the declared encoder (message is one line)."""


def hls_config() -> dict[str, Any]:
    """The hls4ml configuration for the encoder, every type taken from model.formats."""
    acc_h, acc_l = F.ACCUM_HIDDEN.hls(), F.ACCUM_LATENT.hls()
    return {
        "Model": {"Precision": {"default": "fixed<16,6>"}, "ReuseFactor": 1, "Strategy": "Latency"},
        "LayerName": {
            "x": {"Precision": {"result": F.INPUT.hls()}},
            "fc1": {"Precision": {"weight": F.WEIGHT.hls(), "bias": F.BIAS.hls(), "accum": acc_h, "result": acc_h}},
            "fc1_linear": {"Precision": {"result": acc_h}},
            "relu1": {"Precision": {"result": F.HIDDEN.hls()}},
            "fc_mu": {
                "Precision": {"weight": F.WEIGHT.hls(), "bias": F.BIAS.hls(), "accum": acc_l, "result": F.LATENT.hls()}
            },
            "fc_mu_linear": {"Precision": {"result": F.LATENT.hls()}},
            "mu": {"Precision": {"result": F.LATENT.hls()}},
        },
    }


# (layer name, hls4ml class, result precision) the converted graph must have, in order.
EXPECTED_GRAPH = (
    ("x", "Input", F.INPUT),
    ("fc1", "Dense", F.ACCUM_HIDDEN),
    ("relu1", "Activation", F.HIDDEN),
    ("fc_mu", "Dense", F.LATENT),
)


def _precision_matches(p, fmt: F.FixedFormat) -> bool:
    return (
        p.width == fmt.width
        and p.integer == fmt.integer
        and bool(p.signed) == fmt.signed
        and p.rounding_mode.name == fmt.rounding
        and p.saturation_mode.name == fmt.overflow
    )


def convert(keras_encoder, config: dict[str, Any], out_dir: Path, compile_csim: bool = True):
    """Convert with hls4ml (Vitis backend, io_parallel) and compile the C simulation."""
    import hls4ml

    with contextlib.redirect_stdout(io.StringIO()):  # hls4ml prints every layer
        hm = hls4ml.converters.convert_from_keras_model(
            keras_encoder, hls_config=config, backend="Vitis", io_type="io_parallel", output_dir=str(out_dir),
            project_name="pixel_encoder",
        )
    got = [(ly.name, ly.class_name, ly.get_output_variable().type.precision) for ly in hm.get_layers()]
    same = len(got) == len(EXPECTED_GRAPH) and all(
        n == en and c == ec and _precision_matches(p, ef)
        for (n, c, p), (en, ec, ef) in zip(got, EXPECTED_GRAPH, strict=True)
    )
    if not same:
        desc = ", ".join(f"{n}:{c}:{p}" for n, c, p in got)
        raise HlsError(f"hls4ml converted graph differs from the declared encoder: {desc}")
    if compile_csim:
        with contextlib.redirect_stdout(io.StringIO()):
            hm.compile()
    return hm


def csim_latent_raw(hm, codes: np.ndarray) -> np.ndarray:
    """Run hls4ml's C simulation on (n, 53) input codes; returns latent means as LATENT raw ints."""
    x = F.INPUT.to_float(codes)
    y = np.asarray(hm.predict(np.ascontiguousarray(x)), dtype=np.float64).reshape(len(codes), F.N_LATENT)
    return F.LATENT.to_raw(y)
