"""Magnitude pruning of a design's QDense layers with tensorflow-model-optimization, shared by
the classifier and the VAE encoder: PolynomialDecay from 0 to the target sparsity over `steps`
optimizer steps, then the mask stays fixed; stripping the wrappers leaves exact zeros, which the
quantizers keep at zero."""

from __future__ import annotations

from model.description.design import Design
from model.networks import qnet


def prunable(design: Design, model, sparsity: float, steps: int):
    """A copy of the functional `model` whose design layers are wrapped for pruning (their trained
    weights carry over)."""
    import tensorflow_model_optimization as tfmot

    tf, _ = qnet.qkeras()
    # frequency=1: the mask follows the schedule every step and reaches the target exactly at end_step
    # (the default of 100 steps stops short of it on a short run).
    schedule = tfmot.sparsity.keras.PolynomialDecay(0.0, sparsity, begin_step=0, end_step=max(1, steps), frequency=1)
    dense = {ly.name for ly in design.layers}

    def wrap(layer):
        if layer.name in dense:
            return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer

    return tf.keras.models.clone_model(model, clone_function=wrap)


def step_callback():
    import tensorflow_model_optimization as tfmot

    return tfmot.sparsity.keras.UpdatePruningStep()


def strip(model):
    import tensorflow_model_optimization as tfmot

    return tfmot.sparsity.keras.strip_pruning(model)
