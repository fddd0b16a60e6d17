"""QTools energy of the on-chip encoder (model/measurements/energy.py): float versus quantized, per layer."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from model.description import design as D
from model.measurements import energy
from model.networks import qnet
from pixvae.paths import REPO

DESIGNS = ["vae-low", "jointvae"]


@pytest.fixture(scope="module")
def results() -> dict[str, dict]:
    return {name: energy.compare(D.load(name)) for name in DESIGNS}


@pytest.fixture(params=DESIGNS)
def case(request: pytest.FixtureRequest, results: dict[str, dict]) -> tuple[D.Design, dict]:
    return D.load(request.param), results[request.param]


def macs(design: D.Design) -> dict[str, int]:
    """Multiplies per inference of each Dense layer."""
    n_in, out = design.n_inputs, {}
    for layer in design.layers:
        out[layer.name] = n_in * layer.units
        n_in = layer.units
    return out


def test_quantized_costs_less(case):
    _, result = case
    flt, qnt = result["float"], result["quantized"]
    assert 0 < qnt["total_pj"] < flt["total_pj"]
    assert result["saving_percent"] == pytest.approx(100 * (1 - qnt["total_pj"] / flt["total_pj"]))
    assert 0 < result["saving_percent"] < 100
    for r in (flt, qnt):
        assert r["process"] == "horowitz"
        assert r["tool"].startswith("QKeras ") and r["tool"].endswith(" QTools")
        assert r["total_pj"] == pytest.approx(sum(r["layers"].values()))


def test_layers_named_after_the_design(case):
    d, result = case
    flt, qnt = result["float"]["layers"], result["quantized"]["layers"]
    assert list(flt) == list(qnt)  # the float model keeps the quantized one's names
    for layer in d.layers:
        assert layer.name in flt
        assert qnet.activation_name(layer) in flt
        assert qnt[layer.name] > 0
        assert qnt[layer.name] < flt[layer.name]


def test_float_dense_layers_cost_their_macs(case):
    """Past the first (which also reads the input), a float Dense layer on chip costs exactly its
    multiply-accumulates at QTools's fp32 prices."""
    from qkeras.qtools.settings import cfg

    d, result = case
    per_mac = cfg.fp32_mul(32) + cfg.fp32_add(32)
    counts = macs(d)
    first = d.layers[0].name
    assert result["float"]["layers"][first] > counts[first] * per_mac
    for layer in d.layers[1:]:
        assert result["float"]["layers"][layer.name] == pytest.approx(counts[layer.name] * per_mac, abs=0.01)


def test_more_multiplies_cost_more(case):
    d, result = case
    counts = macs(d)
    big, small = max(counts, key=counts.get), min(counts, key=counts.get)
    assert counts[big] > counts[small]
    for kind in ("float", "quantized"):
        assert result[kind]["layers"][big] > result[kind]["layers"][small]


def test_wider_head_costs_more(results):
    """jointvae's head (means and logits) is vae-low's (means) with twice the units."""
    low, joint = D.load("vae-low"), D.load("jointvae")
    assert macs(joint)[joint.layers[-1].name] > macs(low)[low.layers[-1].name]
    for kind in ("float", "quantized"):
        a, b = results["vae-low"][kind], results["jointvae"][kind]
        assert b["layers"][joint.layers[-1].name] > a["layers"][low.layers[-1].name]
        assert b["total_pj"] > a["total_pj"]


def test_weights_do_not_matter():
    d = D.load("vae-low")
    model = qnet.build(d)
    before = energy.model_energy(model, d.input_format, quantized=True)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(size=w.shape) for w in model.get_weights()])
    after = energy.model_energy(model, d.input_format, quantized=True)
    assert after["layers"] == before["layers"]


def test_import_is_cheap():
    code = "import sys, model.measurements.energy; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
