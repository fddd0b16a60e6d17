"""The QKeras model of a design: what is trained, and what hls4ml converts.

Each Dense layer of the description becomes a QDense with its weight and bias quantizers and a
QActivation that quantizes the result (quantized_relu for ReLU, quantized_bits for linear).
Layer names are part of the contract with the hls4ml configuration (hw/hls.py).
"""

from __future__ import annotations

from model.description.design import Dense, Design
from model.description.formats import FixedFormat


def qkeras():
    # Imported lazily: TensorFlow takes seconds to load and most commands never need it.
    import qkeras as qk
    import tensorflow as tf

    return tf, qk


def bits(fmt: FixedFormat):
    """quantized_bits(b, i) is ap_fixed<b, i+1>; alpha=1 keeps the grid fixed (no learned scale)."""
    _, qk = qkeras()
    return qk.quantized_bits(fmt.width, fmt.integer - 1, alpha=1)


def activation_name(layer: Dense) -> str:
    return f"{layer.name}_{'relu' if layer.activation == 'relu' else 'q'}"


def result_quantizer(layer: Dense):
    _, qk = qkeras()
    if layer.activation == "relu":
        return qk.quantized_relu(layer.result.width, layer.result.integer)
    return bits(layer.result)


def build(design: Design, name: str | None = None, quantized: bool = True):
    """The on-chip network alone (inputs are the codes as ufixed values, code / 2**bits). With
    quantized=False the same layers in float (Dense, ReLU), under the same names: the float
    baseline a quantized model is compared with."""
    tf, qk = qkeras()
    x = inp = tf.keras.Input((design.n_inputs,), name="x")
    for layer in design.layers:
        if quantized:
            x = qk.QDense(
                layer.units, kernel_quantizer=bits(layer.weight), bias_quantizer=bits(layer.bias), name=layer.name
            )(x)
            x = qk.QActivation(result_quantizer(layer), name=activation_name(layer))(x)
        else:
            x = tf.keras.layers.Dense(layer.units, name=layer.name)(x)
            x = tf.keras.layers.Activation(layer.activation, name=activation_name(layer))(x)
    return tf.keras.Model(inp, x, name=name or design.name.replace("-", "_"))
