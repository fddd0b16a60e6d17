"""Three references, one truth, for every committed design: hls4ml's C simulation and QKeras
against the golden vectors that the numpy integer model wrote."""

from __future__ import annotations

import numpy as np
import pytest

from hw import golden as G
from hw import hls
from model.fixed import reference


def test_hls4ml_csim_equals_golden_bit_for_bit(ref: reference.Reference, hls_model, golden: G.Golden) -> None:
    last = hls.csim_raw(ref.design, hls_model, golden.x)
    y = golden.y.copy()
    if ref.design.latent:  # the C simulation computes the network; score and decision come from its output
        y[:, : last.shape[1]] = last
    else:
        y[:, 0] = last[:, 0]
    diffs = G.diff_against(golden, y, "hls4ml C-sim")
    assert not diffs, f"{len(diffs)} differences; first: " + " | ".join(diffs[:5])


def test_qkeras_agrees_and_differences_are_the_counted_ones(ref: reference.Reference, golden: G.Golden) -> None:
    # QKeras rounds half to even exactly like RND_CONV, so the count recorded at generation is
    # expected to be 0; whatever it is, it must be reproduced, never hidden by a tolerance.
    d = ref.design
    out = reference.to_keras(ref.network).predict(d.input_format.to_float(golden.x), verbose=0)
    last = d.layers[-1].result.to_raw(np.asarray(out).reshape(len(golden), -1))
    recorded = golden.manifest["references"]["qkeras_vs_hls4ml_csim_mismatched_outputs"]
    assert int(np.sum(last != ref.network.forward(golden.x))) == recorded


def test_hls4ml_graph_has_declared_precisions(ref: reference.Reference, hls_model) -> None:
    names = [(ly.name, ly.class_name) for ly in hls_model.get_layers()]
    assert names == [(n, c) for n, c, _ in hls.expected_graph(ref.design)]


def test_pruned_weights_stay_exact_zeros(ref: reference.Reference, hls_model) -> None:
    """Zeros of the integer reference are zeros in hls4ml's weights (and so absent from da4ml's logic)."""
    for ly in ref.network.layers:
        w = hls_model.graph[ly.spec.name].weights["weight"].data
        assert np.array_equal(w == 0, ly.kernel == 0), ly.spec.name
        if ref.design.sparsity:
            # tfmot masks round(s * n) weights of each kernel, so a layer may fall short of the target
            # by half a weight; quantization can only add zeros.
            got = float(np.mean(ly.kernel == 0))
            assert got >= ref.design.sparsity - 0.5 / ly.kernel.size, f"{ly.spec.name}: sparsity {got:.3f}"


def test_pruning_shows_in_the_da4ml_estimate(ref: reference.Reference, tmp_path) -> None:
    """The pruned network costs less logic than the same network with its zeros made one LSB."""
    import dataclasses

    from hw import rtl
    from model.fixed.fixed_ref import IntegerNetwork

    if not ref.design.sparsity:
        pytest.skip(f"{ref.design.name} is not pruned")
    rng = np.random.default_rng(0)
    dense = IntegerNetwork(ref.design, tuple(
        dataclasses.replace(ly, kernel=np.where(ly.kernel == 0, rng.choice([-1, 1], ly.kernel.shape), ly.kernel))
        for ly in ref.network.layers))

    encoder_only = dataclasses.replace(ref.design, check=None)  # the profile check is not pruned

    def cost(net: IntegerNetwork, name: str) -> float:
        hm = hls.convert(ref.design, reference.to_keras(net), ref.hls_config, tmp_path / name, compile_csim=False)
        return float(rtl.trace(encoder_only, hm).cost)

    pruned, unpruned = cost(ref.network, "pruned"), cost(dense, "dense")
    assert pruned < 0.9 * unpruned, (pruned, unpruned)


def test_a_unit_pruned_to_a_constant_is_exact_in_the_da4ml_trace(ref: reference.Reference, tmp_path) -> None:
    """A unit whose weights were all pruned is a constant (its bias) that needs no rounding; the
    RTL generator once rounded it half to even anyway and put -1 on a latent that was 0 (found by
    the regression of a pruned vae-low). da4ml's own evaluation of the traced logic must equal the
    numpy integer model on random codes, every output, for every committed design."""
    import dataclasses

    from hw import rtl
    from model.fixed.fixed_ref import IntegerNetwork

    d = ref.design
    last = ref.network.layers[-1]
    kernel, bias = last.kernel.copy(), last.bias.copy()
    kernel[:, 0], bias[0] = 0, 0  # unit 0: a constant zero
    if last.spec.units > 1:
        kernel[:, -1], bias[-1] = 0, 3  # the last unit: a constant 3 LSB of its bias
    net = IntegerNetwork(d, (*ref.network.layers[:-1], dataclasses.replace(last, kernel=kernel, bias=bias)),
                         ref.network.check)
    hm = hls.convert(d, reference.to_keras(net), ref.hls_config, tmp_path / "hls", compile_csim=False)
    comb = rtl.trace(d, hm, net.check)
    x = np.random.default_rng(0).integers(0, 1 << d.input_format.width, (500, d.n_inputs))
    got = np.asarray(comb.predict(d.input_format.to_float(x).astype(np.float64)))
    raw = net.forward(x)
    want = d.layers[-1].result.to_float(raw)
    if d.latent:
        assert np.array_equal(got[:, : raw.shape[1]], want)
        want = d.score_format.to_float(net.score(x, raw))
        assert np.array_equal(got[:, -1], want)
    else:
        assert np.array_equal(got[:, 0], want[:, 0])


def test_profile_check_qkeras_equals_numpy(ref: reference.Reference, golden: G.Golden) -> None:
    """The check's QKeras model (model/networks/check.py) carrying the integer weights predicts what the
    numpy integer model predicts, on every golden vector: TensorFlow's arithmetic as a second
    reference for the check, as QKeras is for the encoder."""
    from model.fixed import fixed_ref
    from model.networks import check

    d = ref.design
    if d.check is None:
        pytest.skip(f"{d.name} has no profile check")
    model = check.build(d)
    for ly in ref.network.check:
        model.get_layer(ly.spec.name).set_weights([ly.spec.weight.to_float(ly.kernel), ly.spec.bias.to_float(ly.bias)])
    got = d.check.layers[-1].result.to_raw(model.predict(check.inputs(d, golden.x), verbose=0))
    assert np.array_equal(got, fixed_ref.check_predictions(d, ref.network.check, golden.x))


def _edited_reference(tmp_path, edit) -> reference.Reference:
    import json
    import shutil

    from model.description import design as D

    d = D.load("vae-low")
    out = tmp_path / "reference"
    shutil.copytree(d.reference_dir, out)
    doc = json.loads((out / reference.WEIGHTS_FILE).read_text())
    edit(doc)
    (out / reference.WEIGHTS_FILE).write_text(json.dumps(doc))
    return reference.load(out, d)


def test_check_weight_that_lets_a_row_see_itself_is_refused(tmp_path) -> None:
    def edit(doc):
        doc["check"]["layers"][0]["kernel"][0][0] = 1  # input row 0 -> a hidden unit of row 0

    with pytest.raises(reference.ReferenceError, match="outside its mask"):
        _edited_reference(tmp_path, edit)


def test_reference_without_the_designs_check_is_stale(tmp_path) -> None:
    with pytest.raises(reference.ReferenceError, match="no profile check, the design has one"):
        _edited_reference(tmp_path, lambda doc: doc.pop("check"))
