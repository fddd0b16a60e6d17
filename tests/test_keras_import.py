"""A user's own QKeras model through the harness (`pixvae designs new NAME --from-keras MODEL`): the
two public topologies of hls4ml's QKeras tests, built here with QKeras (seeded, small), imported
with their own weights, exported, given golden vectors from the user's inputs and regressed in RTL;
and each refusal, in one line, before any long work."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from model.description import design as D
from pixvae.paths import REPO

TOML_PLAIN = """
name = "{name}"
kind = "classifier"
[input]
format = "{fmt}"
count = 3
[[layers]]
name = "fc1"
units = 2
activation = "linear"
weight = "fixed<4,1>"
bias = "fixed<4,1>"
accum = "fixed<12,5>"
result = "fixed<12,5,RND_CONV,SAT>"
[outputs]
score = "none"
[rtl]
budget_ns = 40
"""


def pixvae(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pixvae.cli", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=300)


def assert_one_line(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
    for w in words:
        assert w in lines[0], lines[0]


def qdense(units: int, bits: int, name: str, seed: int, **kw):
    import tensorflow as tf
    from qkeras import QDense, quantized_bits

    init = tf.keras.initializers.RandomUniform(-1, 1, seed=seed)
    q = quantized_bits(bits, 0, alpha=1)
    return QDense(units, kernel_quantizer=q, bias_quantizer=quantized_bits(bits, 0, alpha=1), kernel_initializer=init,
                  bias_initializer=tf.keras.initializers.RandomUniform(-0.5, 0.5, seed=seed + 1), name=name, **kw)


def small_model():
    """hls4ml's QKeras test topology: 16 -> 16 QDense, quantized_bits(4,0,alpha=1) kernel and bias,
    quantized_relu(4,0)."""
    import tensorflow as tf
    from qkeras import QActivation, quantized_relu

    x = inp = tf.keras.Input((16,), name="x_in")
    x = qdense(16, 4, "fc1", 11)(x)
    x = QActivation(quantized_relu(4, 0), name="relu1")(x)
    return tf.keras.Model(inp, x)


def jet_model():
    """hls4ml tutorial's jet tagger: 16 -> 64 -> 32 -> 32 -> 5, quantized_bits(6,0,alpha=1), quantized_relu(6),
    no softmax; every kernel pruned to 75% as the tutorial prunes, inputs 3 and 11 all zero (unused ports)."""
    import tensorflow as tf
    from qkeras import QActivation, quantized_relu

    x = inp = tf.keras.Input((16,), name="x_in")
    for k, units in enumerate((64, 32, 32)):
        x = qdense(units, 6, f"fc{k + 1}", 20 + k)(x)
        x = QActivation(quantized_relu(6), name=f"relu{k + 1}")(x)
    x = qdense(5, 6, "output", 30)(x)
    model = tf.keras.Model(inp, x)
    for name in ("fc1", "fc2", "fc3", "output"):
        k, b = model.get_layer(name).get_weights()
        k[np.abs(k) < np.quantile(np.abs(k), 0.75)] = 0.0
        if name == "fc1":
            k[[3, 11]] = 0.0
        model.get_layer(name).set_weights([k, b])
    return model


# --- refusals and the description's new keys (fast, no RTL) ---------------------------------------


def test_plain_inputs_score_none_and_budget_are_design_data(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    d = D.parse(tomllib.loads(TOML_PLAIN.format(name="plain", fmt="fixed<6,2>")), folder)
    assert d.encoding is None and d.n_inputs == 3 and d.input_format.signed and d.budget_ns == 40.0
    assert [f.port for f in d.fields] == ["out_y"] and d.output_columns == ["y0", "y1"] and not d.has_score
    from pixvae import stages

    with pytest.raises(D.DesignError, match="no track encoding to train on"):
        stages.train(d, tmp_path, tmp_path / "ref", "tiny")
    text = TOML_PLAIN.format(name="plain", fmt="fixed<6,2>")
    for bad, words in ((text.replace("count = 3", "count = 3\ncharge_code = \"linear\""), "no track encoding"),
                       (text.replace('kind = "classifier"', 'kind = "vae_encoder"'), "belong to a classifier"),
                       (text.replace("budget_ns = 40", "budget_ns = 0"), "'budget_ns'"),
                       (text.replace('score = "none"', 'score = "none"\ndecision = "keep"'), "without decision"),
                       (text.replace('accum = "fixed<12,5>"', 'accum = "fixed<9,2>"'), "can overflow")):
        with pytest.raises(D.DesignError, match=words):
            D.parse(tomllib.loads(bad), folder)


def test_a_file_that_is_not_a_keras_model_is_refused_in_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "jet.h5"
    junk.write_bytes(b"\x00\xff not hdf5 \x89\xfe" * 50)
    assert_one_line(pixvae("designs", "new", "jet", "--from-keras", str(junk), "--root", str(tmp_path)),
                    str(junk), "not a Keras model file")
    # --from a binary file (the UnicodeDecodeError traceback)
    assert_one_line(pixvae("designs", "new", "jet", "--from", str(junk), "--root", str(tmp_path)),
                    "not a text design description", "--from-keras")
    empty = tmp_path / "folder"
    empty.mkdir()
    assert_one_line(pixvae("designs", "new", "jet", "--from-keras", str(empty), "--root", str(tmp_path)),
                    "saved_model.pb")
    assert not (tmp_path / "jet").exists()


def test_unsupported_layers_and_quantizers_are_refused_naming_the_layer(tmp_path: Path) -> None:
    import tensorflow as tf
    from qkeras import QActivation, quantized_bits, quantized_relu

    from model.description import keras_import as K

    def chain(*layers):
        x = inp = tf.keras.Input((8,), name="x_in")
        for ly in layers:
            x = ly(x)
        return tf.keras.Model(inp, x)

    cases = [
        (chain(qdense(4, 4, "fc1", 1), tf.keras.layers.Activation("softmax", name="sm")),
         "layer 'sm' (Activation): activation softmax is not supported"),
        (chain(qdense(4, 4, "fc1", 1), tf.keras.layers.Dropout(0.1, name="drop")),
         "layer 'drop' (Dropout): not supported"),
        (chain(tf.keras.layers.Reshape((8, 1), name="rs"), tf.keras.layers.Conv1D(2, 3, name="conv")),
         "layer 'rs' (Reshape): not supported"),
        (chain(qdense(4, 4, "fc1", 1), QActivation(quantized_relu(4, 0, negative_slope=0.25), name="lrelu")),
         "negative_slope"),
    ]
    from qkeras import QDense

    auto = QDense(4, kernel_quantizer=quantized_bits(4, 0, alpha="auto"), bias_quantizer=quantized_bits(4, 0, alpha=1),
                  name="fca")
    cases.append((chain(auto), "layer 'fca' (QDense) kernel: quantized_bits with alpha='auto'"))
    for model, words in cases:
        with pytest.raises(K.KerasImportError, match=words.replace("(", r"\(").replace(")", r"\)")):
            K.to_design_text("m", model, tmp_path / "m.h5", "0" * 64, None, 25.0)


def test_batchnorm_folds_where_exact_and_is_refused_where_not(tmp_path: Path) -> None:
    import tensorflow as tf

    from model.description import keras_import as K

    def with_bn(scale: float):
        x = inp = tf.keras.Input((8,), name="x_in")
        x = qdense(4, 4, "fc1", 3)(x)
        bn = tf.keras.layers.BatchNormalization(name="bn", epsilon=0.0)
        x = bn(x)
        model = tf.keras.Model(inp, x)
        bn.set_weights([np.full(4, scale, np.float32), np.array([0.25, -0.5, 0.125, 0], np.float32),
                        np.array([0.5, 0, -0.25, 1], np.float32), np.ones(4, np.float32)])
        return model

    with pytest.raises(K.KerasImportError, match=r"layer 'bn' \(BatchNormalization\): .* not a power of two"):
        K.to_design_text("m", with_bn(0.7), tmp_path / "m.h5", "0" * 64, None, 25.0)
    model = with_bn(2.0)
    text, gs = K.to_design_text("m", model, tmp_path / "m.h5", "0" * 64, D.F.parse("fixed<6,3>"), 25.0)
    design = D.parse(tomllib.loads(text), tmp_path / "m")
    net = K.integer_network(design, gs)
    from tb import stimulus

    codes = np.concatenate([stimulus.random_codes(design, 300, 5), stimulus.corner_codes(design)])
    assert np.array_equal(net.forward(codes), K.predict_raw(design, model, codes))  # folded, exactly as Keras


# --- end to end: import, export, golden, RTL regression ------------------------------------------


def _through(tmp_path: Path, model, name: str, input_format: str, user: np.ndarray,
             budget_ns: float = 25.0):
    """Returns the hls4ml model (its C simulation compiled)."""
    """Import the saved model, write golden vectors from `user` real inputs, export and regress the
    RTL; the golden outputs of the user's inputs (which the RTL matched bit for bit) equal the
    model's own predict."""
    from hw import hls
    from model.data import inputs as I
    from model.description import keras_import as K
    from model.fixed import reference
    from pixvae import keras_flow, stages
    from tb import runner

    path = tmp_path / f"{name}.h5"
    model.save(path)
    folder = tmp_path / name
    lines = keras_flow.import_model(name, path, folder, input_format, budget_ns)
    assert "0 of" in lines[2], lines
    design = D.load(folder)
    assert design.encoding is None and not design.has_score
    ref = reference.load(design.reference_dir, design)
    assert ref.metadata["source"]["sha256"] == K.sha256(path)
    np.save(tmp_path / "x.npy", user)
    codes = I.read(design, tmp_path / "x.npy")
    hm = hls.convert(design, reference.to_keras(ref.network), ref.hls_config, tmp_path / "hls4ml")
    manifest = stages.make_golden(ref, None, design.vectors_dir, hm, codes, "x.npy",  # C-sim == numpy, or it raises
                                  exact=stages.flow_exact(5.0))  # 5 s in all: CI time
    assert manifest["references"]["qkeras_vs_hls4ml_csim_mismatched_outputs"] == 0
    stages.export(ref, tmp_path / "hls4ml", tmp_path / "rtl", hm=hm)
    runner.build(tmp_path / "rtl", tmp_path / "sim")
    res = runner.run(design, tmp_path / "rtl", design.vectors_dir, tmp_path / "sim", testcase="regression")
    n = manifest["n_vectors"] if "n_vectors" in manifest else sum(manifest["sets"].values())
    assert res["vectors"] == n and res["mismatched_fields"] == 0 and res["protocol_errors"] == 0
    assert res["budget_ns"] == budget_ns and res["latency_ns"] <= budget_ns  # the design's own budget
    from hw import golden as G

    g = G.load(design.vectors_dir, design, expected_hash=ref.model_hash)
    mine = g.sets == "user"
    assert mine.sum() == len(user) and set(g.sets) == {"user", "random", "corner", "directed"}
    assert np.array_equal(g.y[mine], K.predict_raw(design, model, g.x[mine]))  # the user's own model, bit for bit
    assert np.any(g.y[mine] != 0)
    return hm


@pytest.mark.e2e
def test_16_to_16_qdense_goes_through(tmp_path: Path) -> None:
    """With signed inputs wider than 16 bits (fixed<17,5>: sums stay exact in Keras' float32), also
    through the C++ bulk harness (tb/bulk.py), which packs each code's two's-complement bits."""
    from hw import golden as G
    from tb import bulk

    user = np.random.default_rng(1).normal(0, 1.5, (64, 16))
    hm = _through(tmp_path, small_model(), "qdense16", "fixed<17,5>", user)
    top = (tmp_path / "rtl" / "pixel_encoder_top.v").read_text()
    assert "output wire [64-1:0] out_y" in top and "score_threshold" not in top
    design = D.load(tmp_path / "qdense16")
    g = G.load(design.vectors_dir, design)
    assert g.x.min() == -(1 << 16) and g.x.max() == (1 << 16) - 1  # the corner set reaches both ends
    exe = bulk.build(tmp_path / "rtl", tmp_path / "bulk")[0]
    y = bulk.run(exe, tmp_path / "rtl", design, g.x, 0).y
    assert np.array_equal(y, g.y)
    # `rtl-run --keras`'s check: the RTL against the saved model's predict, the C simulation, numpy
    from model.fixed import reference
    from pixvae import keras_flow

    ref = reference.load(design.reference_dir, design)
    lines, bad = keras_flow.check_against_keras(design, ref, tmp_path / "qdense16.h5", g.x, y, tmp_path, hm)
    assert bad == 0 and lines[0] == f"RTL vs the Keras model's predict: 0 of {y.size} outputs differ", lines
    y[5, 3] += 1  # and it can fail
    assert keras_flow.check_against_keras(design, ref, tmp_path / "qdense16.h5", g.x, y, tmp_path, hm)[1] == 3


@pytest.mark.e2e
def test_pruned_jet_tagger_with_unused_inputs_goes_through(tmp_path: Path) -> None:
    user = np.random.default_rng(2).normal(0, 1, (64, 16))
    _through(tmp_path, jet_model(), "jet", "fixed<8,3>", user, budget_ns=50.0)
    top = (tmp_path / "rtl" / "pixel_encoder_top.v").read_text()
    assert "input  wire [128-1:0]  in_data" in top  # all 16 ports kept
    assert "// x3" not in top and "// x11" not in top and "// x4" in top  # inputs 3 and 11 wired to nothing
