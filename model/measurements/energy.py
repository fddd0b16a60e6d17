"""Energy per inference of a design's on-chip encoder, float versus quantized, from QKeras QTools.

QTools (``qkeras.qtools``) walks a Keras/QKeras model, gives every tensor a data type (the
layers' quantizers, or fp32 for a float model) and prices each layer with Horowitz's ISSCC 2014
per-operation energies ("horowitz" process): a multiply-accumulate costs a fixed-point multiply
(quadratic in the geometric mean of the operand widths) plus an add of the accumulator's width,
or 3.7 + 0.9 pJ in fp32; tensors moved to or from memory cost per bit. The figures are estimates
of arithmetic and data movement, not of a synthesised circuit.

What is counted follows QTools's own rule (``cfg.include_energy``): for a Dense layer its input
read, its parameter read and its MACs; for an activation layer its output write. Activation
functions themselves (ReLU, the output quantizer) cost no operation energy in QTools.

Weights do not matter: QTools reads a layer's weights only for their shapes, and for their values
only with power-of-two quantizers (``update_inference_values``, not used here: every quantizer of a
design is ``quantized_bits`` or ``quantized_relu``), so an untrained model built from the
description gives the same energy as the trained one.

The memory model defaults to an encoder on the chip (:data:`ON_CHIP`): weights are constants in
the logic and activations stay in registers (QTools's "fixed": no memory energy), so what remains is
the MACs plus reading the input from, and writing the result to, a small SRAM at the chip's edge.
QTools does not model registers or wires, so this is a lower bound of what moving data costs.

TensorFlow is imported only when an estimate is made (through :func:`model.networks.qnet.qkeras`), so
importing this module is cheap. ``python -m model.measurements.energy <design>`` prints the comparison.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import asdict, dataclass
from typing import Any

from model.description.design import Design
from model.description.formats import FixedFormat
from model.networks import qnet

PROCESS = "horowitz"


@dataclass(frozen=True)
class Memory:
    """Where QTools puts weights and activations (the arguments of ``QTools.pe``).

    weights / activations: "fixed" (hard-wired or in registers: no memory energy), "sram" or "dram".
    min_sram_size: the SRAM size in bits that a read is priced at (at least the tensor's size).
    rd_wr_on_io: whether the model's input is loaded from DRAM and its output stored to DRAM
    (otherwise both go through SRAM).
    """

    weights: str = "fixed"
    activations: str = "fixed"
    min_sram_size: int = 0
    rd_wr_on_io: bool = False


ON_CHIP = Memory()


def source_quantizer(fmt: FixedFormat):
    """The QKeras quantizer of the input codes: ``quantized_bits`` of the format's width whose
    integer bits exclude the sign (``keep_negative`` only for a signed format)."""
    _, qk = qnet.qkeras()
    return qk.quantized_bits(fmt.width, fmt.integer - int(fmt.signed), keep_negative=fmt.signed, alpha=1)


def model_energy(model, input_format: FixedFormat, quantized: bool, *, memory: Memory = ON_CHIP) -> dict[str, Any]:
    """QTools's energy of one inference of `model` (pJ), in total and per layer.

    A quantized model is priced with its own quantizers and inputs of `input_format`; a float
    model entirely in fp32 (inputs, weights, biases, multipliers, accumulators and activations).
    """
    _, qk = qnet.qkeras()
    from qkeras.qtools import run_qtools
    from qkeras.qtools import settings as qtools_settings

    if quantized:
        options: dict[str, Any] = {"source_quantizers": [source_quantizer(input_format)]}
    else:
        options = {
            "source_quantizers": ["fp32"],
            "keras_quantizer": "fp32",
            "keras_accumulator": "fp32",
            "for_reference": True,
        }
    with contextlib.redirect_stdout(io.StringIO()):
        tools = run_qtools.QTools(model, process=PROCESS, is_inference=True, weights_path=None, **options)
        energy = tools.pe(
            weights_on_memory=memory.weights,
            activations_on_memory=memory.activations,
            min_sram_size=memory.min_sram_size,
            rd_wr_on_io=memory.rd_wr_on_io,
        )
        # Per layer, the components QTools's include_energy rule counts. The total is their sum:
        # extract_energy_sum truncates it to an int, and pe()'s "total_cost" adds every component of
        # every layer (a tensor between two layers then counts as a write and as a read).
        profile = tools.extract_energy_profile(qtools_settings.cfg.include_energy, energy)
    layers = {name: float(item["total"]) for name, item in profile.items()}
    return {
        "total_pj": sum(layers.values()),
        "layers": layers,
        "process": PROCESS,
        "tool": f"QKeras {qk.__version__} QTools",
        "memory": asdict(memory),
    }


def encoder_energy(design: Design, quantized: bool, *, memory: Memory = ON_CHIP) -> dict[str, Any]:
    """Energy per inference of the design's on-chip encoder (the network of model.networks.qnet.build):
    ``{"total_pj", "layers": {layer name: pJ}, "process", "tool", "memory"}``. The layers are the
    Dense layers and their activation layers, under the design's names."""
    model = qnet.build(design, quantized=quantized)
    return model_energy(model, design.input_format, quantized, memory=memory)


def compare(design: Design, *, memory: Memory = ON_CHIP) -> dict[str, Any]:
    """The float and the quantized encoder's energies, and the saving in percent of the float one."""
    flt = encoder_energy(design, quantized=False, memory=memory)
    qnt = encoder_energy(design, quantized=True, memory=memory)
    return {
        "float": flt,
        "quantized": qnt,
        "saving_percent": 100.0 * (1.0 - qnt["total_pj"] / flt["total_pj"]),
    }


def format_comparison(name: str, result: dict[str, Any]) -> str:
    """A table of the comparison, one row per layer."""
    flt, qnt = result["float"], result["quantized"]
    width = max(len("total"), *map(len, flt["layers"]))
    lines = [
        f"{name}: encoder energy per inference, {flt['tool']}, process {flt['process']}, memory {flt['memory']}",
        f"{'layer':<{width}}  {'float pJ':>12}  {'quantized pJ':>12}",
    ]
    for layer, pj in flt["layers"].items():
        lines.append(f"{layer:<{width}}  {pj:>12.2f}  {qnt['layers'].get(layer, float('nan')):>12.2f}")
    lines.append(f"{'total':<{width}}  {flt['total_pj']:>12.2f}  {qnt['total_pj']:>12.2f}")
    lines.append(f"saving: {result['saving_percent']:.1f} %")
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse

    from model.description import design as D

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("design", nargs="?", default=D.DEFAULT_DESIGN, help=f"one of {', '.join(D.names())}")
    args = parser.parse_args()
    print(format_comparison(args.design, compare(D.load(args.design))))
