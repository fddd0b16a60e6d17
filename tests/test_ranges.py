"""Range analysis (model/description/ranges.py) and design-derived corner vectors (tb/corners.py): formats that
cannot hold what reaches them are refused in one line, and the directed search's targets."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from hw import golden as G
from model.description import design as D
from model.fixed import reference
from model.fixed.fixed_ref import IntegerNetwork, IntLayer
from tb import corners

USER = Path(__file__).parent / "data" / "user-net.toml"

# The description of issue 20: 53 -> 16 ReLU means of ufixed<4,0>, so 0.5*sum(mu^2) reaches
# 0.5 * 16 * (15/16)**2 = 7.03125, and ufixed<10,1> holds at most 1023/512.
ISSUE_LAYER = """[[layers]]
name = "hidden"
units = 16
activation = "relu"
weight = "fixed<6,1>"
bias = "fixed<6,3>"
accum = "fixed<20,8>"
result = "ufixed<4,0,RND_CONV,SAT>"

"""


def _write(tmp_path: Path, text: str, name: str = "user-net") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / D.DESIGN_FILE).write_text(text.replace('name = "user-net"', f'name = "{name}"'))
    return folder


def _issue(score_format: str) -> str:
    text = USER.read_text()
    text = text[: text.index("[[layers]]")] + ISSUE_LAYER + text[text.index("[outputs]"):]
    return re.sub(r'^score_format = .*$', f'score_format = "{score_format}"', text, flags=re.M)


def _refused(folder: Path) -> str:
    with pytest.raises(D.DesignError) as exc:
        D.load(folder)
    msg = str(exc.value)
    assert "\n" not in msg and str(folder / D.DESIGN_FILE) in msg, msg
    return msg


def test_the_issue_description_is_refused_naming_the_key_and_the_reachable_max(tmp_path: Path) -> None:
    msg = _refused(_write(tmp_path, _issue("ufixed<10,1>")))
    reach, holds = 0.5 * 16 * (15 / 16) ** 2, 1023 / 512
    assert f"[outputs] 'score_format' ufixed<10,1> holds at most {holds:.4g} but 0.5*sum(mu^2) reaches {reach:.4g}" \
        in msg, msg
    D.load(_write(tmp_path, _issue("ufixed<12,3>"), "wider"))  # holds 7.998: accepted


def test_a_signed_last_layer_is_sized_by_its_most_negative_mean(tmp_path: Path) -> None:
    # 6 means of fixed<6,3>: the largest square is (-4)**2, so 0.5*sum(mu^2) reaches 48.
    text = re.sub(r'^score_format = .*$', 'score_format = "ufixed<12,5>"', USER.read_text(), flags=re.M)
    msg = _refused(_write(tmp_path, text))
    assert "holds at most 31.99 but 0.5*sum(mu^2) reaches 48 " in msg, msg
    text = re.sub(r'^score_format = .*$', 'score_format = "ufixed<13,6>"', USER.read_text(), flags=re.M)
    D.load(_write(tmp_path, text, "wider"))


def test_an_accumulator_that_can_wrap_is_refused(tmp_path: Path) -> None:
    # 53 inputs in [0, 63/64], weights in [-1, 31/32], bias down to -4: the sum reaches -56.17,
    # beyond fixed<20,6>'s -32 (its positive side, 54.4, is beyond too).
    text = USER.read_text().replace('accum = "fixed<20,8>"', 'accum = "fixed<20,6>"', 1)
    msg = _refused(_write(tmp_path, text))
    low = -53 * 63 / 64 - 4
    assert "[[layers]] #1 'accum' fixed<20,6> can overflow" in msg and f"[{low:g}," in msg, msg
    D.load(_write(tmp_path, USER.read_text().replace('accum = "fixed<20,8>"', 'accum = "fixed<20,7>"', 1), "wider"))


def test_a_reference_whose_weights_overflow_is_refused(vae_low: D.Design, tmp_path: Path) -> None:
    """A design built without model.description.design's check (so its formats-only check never ran): the
    loader's check with the weights refuses it."""
    ref = reference.load(vae_low.reference_dir, vae_low)
    first = ref.network.layers[0]
    narrow = dataclasses.replace(first.spec, accum=dataclasses.replace(first.spec.accum, width=18, integer=2))
    # The largest sum of one unit with every input at its top code 15/16: computed here from the kernel.
    top = (np.maximum(first.kernel, 0).sum(axis=0) * 15 * 2.0**-11 + first.bias * 2.0**-4).max()
    assert top >= 2  # fixed<18,2> holds below 2
    design = dataclasses.replace(vae_low, layers=(narrow, *vae_low.layers[1:]))
    net = IntegerNetwork(design, (dataclasses.replace(first, spec=narrow), *ref.network.layers[1:]),
                         ref.network.check)
    reference.save(tmp_path / "ref", net, ref.hls_config, {})
    with pytest.raises(D.DesignError, match=r"with these weights, .*\[\[layers\]\] #1 'accum' fixed<18,2> can "
                                            r"overflow"):
        reference.load(tmp_path / "ref", design)


def test_golden_refuses_a_vector_its_formats_cannot_hold(vae_low: D.Design, tmp_path: Path) -> None:
    x = np.zeros((2, vae_low.n_inputs), dtype=np.int64)
    y = np.zeros((2, len(vae_low.output_columns)), dtype=np.int64)
    y[1, vae_low.output_columns.index("score")] = vae_low.score_format.raw_max + 1
    with pytest.raises(D.DesignError, match=rf"vector 1 column 'score' = {vae_low.score_format.raw_max + 1} does "
                                            r"not fit ufixed"):
        G.write(tmp_path / "g", vae_low, np.arange(2), np.array(["a", "a"]), x, y, {})
    assert not (tmp_path / "g" / G.VECTORS_FILE).exists()


TINY = """name = "tiny"
kind = "classifier"
[input]
format = "ufixed<4,0>"
charge_code = "linear"
slices = [0]
y0 = false
[[layers]]
name = "h"
units = 2
activation = "relu"
weight = "fixed<8,1>"
bias = "fixed<8,4>"
accum = "fixed<20,8>"
result = "ufixed<4,0,RND_CONV,SAT>"
[[layers]]
name = "o"
units = 1
activation = "linear"
weight = "fixed<8,1>"
bias = "fixed<8,4>"
accum = "fixed<20,8>"
result = "fixed<8,4,RND_CONV,SAT>"
[outputs]
score = "network"
score_format = "fixed<8,4,RND_CONV,SAT>"
decision = "keep"
"""


def test_the_directed_search_hits_a_rail_known_by_construction(tmp_path: Path) -> None:
    """h[1] = 127/128 x0 - sum of x1..x12 (inputs c/16) reaches its rail 15/16 only from x0 = 15 with
    every other input 0 (x0 = 15 alone gives 0.93, which rounds to 15/16; one LSB more elsewhere
    gives 0.87, which does not); h[0] = x3 / 2 stays at most 15/32, so its rail is unreachable."""
    design = D.load(_write(tmp_path, TINY, "tiny"))
    h, o = design.layers
    k1 = np.zeros((13, 2), dtype=np.int64)
    k1[3, 0] = 64
    k1[0, 1], k1[1:, 1] = 127, -128
    net = IntegerNetwork(design, (IntLayer(h, k1, np.zeros(2, np.int64)),
                                  IntLayer(o, np.array([[64], [64]]), np.zeros(1, np.int64))))
    rng = np.random.default_rng(0)
    x, cov = corners.directed(net, 0, rng.integers(1, 16, (50, 13)))
    status = {r["target"]: r for r in cov["list"]}
    assert status["h[0] high rail"]["status"] == "unreachable"
    hit = status["h[1] high rail"]
    assert hit["status"] == "hit"
    assert x[hit["vector"]].tolist() == [15] + [0] * 12
    assert net.layers[0](x[hit["vector"]][None, :], 4)[0, 1] == 15


def test_the_committed_golden_sets_cover_every_target_but_the_documented_misses(design: D.Design,
                                                                                 ref: reference.Reference,
                                                                                 golden: G.Golden) -> None:
    """Every coverage target is hit by the committed vectors or proven unreachable, except the ones
    the directed search missed when the vectors were made (the manifest lists them). The targets an
    exact program proved unreachable are read from the manifest (re-proving them takes minutes:
    `pixvae golden` does)."""
    proven = golden.manifest["directed"].get("proven_by_milp", {})
    cov = corners.functional_coverage(ref.network, golden.x, golden.threshold_raw, proven=proven)
    documented = golden.manifest["directed"]["missed_targets"]
    assert cov["targets"] == cov["hit"] + cov["unreachable"] + cov["missed"]
    assert set(cov["missed_targets"]) <= set(documented), set(cov["missed_targets"]) - set(documented)
    assert cov["hit"] >= golden.manifest["directed"]["hit"]
    # the directed set alone hits what the manifest says it does
    alone = corners.functional_coverage(ref.network, golden.x[golden.sets == "directed"], golden.threshold_raw,
                                        proven=proven)
    assert alone["hit"] == golden.manifest["directed"]["hit"]


def test_observe_is_the_integer_model(design: D.Design, ref: reference.Reference, golden: G.Golden) -> None:
    """The search's own forward pass (float BLAS where exact) equals model.fixed.fixed_ref's outputs."""
    obs = corners.observe(ref.network, golden.x)
    assert np.array_equal(obs["score"][:, 0], golden.score)
    last = ref.network.layers[-1].spec.name
    if design.latents:
        assert np.array_equal(obs[f"{last}.out"], golden.y[:, : ref.network.layers[-1].spec.units])


def test_the_relaxation_keeps_what_two_units_share(tmp_path: Path) -> None:
    """h[0] and h[1] are the same unit (127/128 x0), so o = (h[0] - h[1]) / 2 is 0 on every input:
    intervals alone let o's sum reach +-15/32 (h in [0, 15/16]); the relaxation keeps z shared
    and leaves only each unit's rounding (half an LSB either way) and the chord's departure from
    z's own slope (at most half an LSB at the far end): two LSBs of h at most."""
    from model.description import ranges

    design = D.load(_write(tmp_path, TINY, "tiny"))
    h, o = design.layers
    k1 = np.zeros((13, 2), dtype=np.int64)
    k1[0, :] = 127
    net = IntegerNetwork(design, (IntLayer(h, k1, np.zeros(2, np.int64)),
                                  IntLayer(o, np.array([[64], [-64]]), np.zeros(1, np.int64))))
    loose, tight = ranges.analyse(design, net).layers[1], ranges.analyse(design, net, tight=True).layers[1]
    lsb = 2 ** (o.accum.frac - h.result.frac - o.weight.frac)  # one LSB of h times a weight of 1
    assert (loose.acc_lo[0], loose.acc_hi[0]) == (-15 * 64 * lsb, 15 * 64 * lsb)
    assert -2 * 64 * lsb <= tight.acc_lo[0] <= 0 <= tight.acc_hi[0] <= 2 * 64 * lsb


def test_the_tight_bounds_hold_on_the_committed_vectors(design: D.Design, ref: reference.Reference,
                                                        golden: G.Golden) -> None:
    """Soundness on data: every accumulator the integer model computes lies inside its bound."""
    from model.description import ranges

    obs = corners.observe(ref.network, golden.x)
    for lr in ranges.analyse(design, ref.network, tight=True).all_layers:
        acc = obs[f"{lr.spec.name}.acc"]
        assert (acc >= lr.acc_lo.astype(np.int64)).all() and (acc <= lr.acc_hi.astype(np.int64)).all(), lr.spec.name
