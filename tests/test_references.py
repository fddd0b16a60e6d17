"""Three references, one truth: hls4ml's C simulation and QKeras against the golden vectors."""

from __future__ import annotations

import numpy as np

from hw import golden as G
from hw import hls
from model import formats as F
from model import reference


def test_hls4ml_csim_equals_golden_bit_for_bit(hls_model, golden: G.Golden) -> None:
    mu = hls.csim_latent_raw(hls_model, golden.x)
    diffs = G.diff_against(golden, mu, golden.score, golden.flag, "hls4ml C-sim")
    assert not diffs, f"{len(diffs)} differences; first: " + " | ".join(diffs[:5])


def test_qkeras_agrees_and_differences_are_the_counted_ones(ref: reference.Reference, golden: G.Golden) -> None:
    # QKeras rounds half to even exactly like RND_CONV, so the count recorded at generation is
    # expected to be 0; whatever it is, it must be reproduced, never hidden by a tolerance.
    mu = F.LATENT.to_raw(reference.to_keras(ref.weights).predict(F.INPUT.to_float(golden.x), verbose=0))
    recorded = golden.manifest["references"]["qkeras_vs_hls4ml_csim_mismatched_outputs"]
    assert int(np.sum(mu != golden.mu)) == recorded


def test_hls4ml_graph_has_declared_precisions(hls_model) -> None:
    names = [(ly.name, ly.class_name) for ly in hls_model.get_layers()]
    assert names == [(n, c) for n, c, _ in hls.EXPECTED_GRAPH]
