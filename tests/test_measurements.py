"""The paper's measurements: the figures on constructed cases whose answers are worked out by
hand, the decoder file and its numpy forward pass against QKeras, the beta anneal, and the
generator's features file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model.data import encoding
from model.description import design as D
from model.fixed import decoder as decmod
from model.measurements import metrics as M
from model.networks import vae


def test_charge_of_codes() -> None:
    low, high = D.load("vae-low"), D.load("vae-high")
    # linear 500 e bins: code 0 is no charge, code k the centre of [500 k, 500 (k + 1)).
    assert M.charge_of_codes(low, np.array([0, 1, 7, 15])).tolist() == [0.0, 750.0, 3750.0, 7750.0]
    # sqrt_log: the charge of code k codes back to k (the encoder's own coding is the check).
    k = np.arange(1, 1024)
    assert np.array_equal(encoding.charge_codes(high, M.charge_of_codes(high, k)), k)
    assert M.charge_of_codes(high, np.array([0]))[0] == 0.0


def test_roc_points_equal_sklearn_to_the_bit() -> None:
    from sklearn.metrics import roc_curve

    rng = np.random.default_rng(3)
    for n, decimals in ((50, 1), (700, 2), (5000, 6)):  # heavy ties, some, almost none
        y = (rng.random(n) < 0.3).astype(int)
        score = np.round(rng.normal(size=n) + y, decimals)
        fpr, tpr, _ = roc_curve(y, score, drop_intermediate=False)
        mine = M.roc_points(y, score)
        assert np.array_equal(mine[0], fpr) and np.array_equal(mine[1], tpr)


def test_percent_error_by_hand() -> None:
    truth = np.array([[1000.0, 3000.0, 0.0], [0.0, 0.0, 0.0]])
    recon = np.array([[750.0, 3750.0, 250.0], [500.0, 0.0, 0.0]])
    pe = M.percent_error(truth, recon)
    assert pe[0] == pytest.approx(100 * (250 + 750 + 250) / 4000) and np.isnan(pe[1])  # no charge: left out
    s = M.summary(pe)
    assert s["n"] == 1 and s["mean"] == pytest.approx(31.25)


def test_rejection_and_efficiency_by_hand() -> None:
    bkg, sig = np.arange(1000.0), np.arange(1000.0) + 500  # background 0..999, signal 500..1499
    y, score = np.r_[np.zeros(1000), np.ones(1000)], np.r_[bkg, sig]
    # 93% of the signal is kept by the cut score >= 570; background above it: 570..999, 430 tracks.
    r = M.rejection_at_efficiency(y, score, 0.93)
    assert r["value"] == pytest.approx(57.0) and r["signal_eff"] == pytest.approx(93.0)
    # The bootstrap error is at least the binomial one of the background alone (the cut moves too).
    assert r["err"] > 0.9 * 100 * np.sqrt(0.57 * 0.43 / 1000) and r["n_background"] == 1000
    # 90% of the background rejected by score >= 900; signal above it: 900..1499, 600 tracks.
    e = M.efficiency_at_rejection(y, score, 0.90)
    assert e["value"] == pytest.approx(60.0) and e["background_rejection"] == pytest.approx(90.0)
    a = M.auc(y, score)
    assert a["value"] == pytest.approx(100 * (1 - 0.5 * 0.5 * 0.5), abs=0.2)  # half of each overlaps: 87.5%
    assert M.auc(y, np.r_[bkg, sig + 1000])["err"] == 0.0  # separated: AUC 100%, no spread


def test_compressed_size_is_the_papers_arithmetic() -> None:
    low = D.load("vae-low")
    latents = 100 * 8 * 8 / (104 * 4)  # 15.4%: 8 means of 8 bits for 8 slices x 13 rows of 4-bit codes
    assert M.compressed_size(low) == pytest.approx(latents)
    assert M.compressed_size(low, 0.01) == pytest.approx(0.99 * latents + 0.01 * (100 + latents))  # 16.4%


def test_beta_anneal() -> None:
    cfg = {"beta_min": 5e-5, "beta_max": 2.5e-4, "beta_period": 20}
    assert vae.beta_at(cfg, 0) == pytest.approx(5e-5) and vae.beta_at(cfg, 10) == pytest.approx(2.5e-4)
    assert vae.beta_at(cfg, 20) == pytest.approx(5e-5) and vae.beta_at(cfg, 5) == pytest.approx(1.5e-4)
    assert vae.beta_at({"beta": 0.01}, 7) == 0.01


def _random_decoder(design: D.Design, seed: int = 0) -> decmod.Decoder:
    rng = np.random.default_rng(seed)
    dec = design.decoder
    sizes = [design.layers[-1].units, *dec.units, dec.n_out]
    return decmod.Decoder(design, tuple(rng.integers(dec.weight.raw_min, dec.weight.raw_max + 1, (a, b))
                                        for a, b in zip(sizes, sizes[1:], strict=False)),
                          tuple(rng.integers(dec.bias.raw_min, dec.bias.raw_max + 1, b) for b in sizes[1:]), "h" * 64)


def test_numpy_decoder_equals_qkeras(tmp_path: Path) -> None:
    """The decoder file read back and run in numpy gives what the QKeras decoder gives."""
    low = D.load("vae-low")
    d = _random_decoder(low)
    model = vae.build_decoder(low)
    for k, (w, b) in enumerate(zip(d.kernels, d.biases, strict=True)):
        name = f"dec{k + 1}" if k < len(low.decoder.units) else "dec_out"
        model.get_layer(name).set_weights([low.decoder.weight.to_float(w), low.decoder.bias.to_float(b)])
    assert decmod.from_keras(low, model, d.model_hash).kernels[1].tolist() == d.kernels[1].tolist()
    decmod.save(tmp_path, d)
    back = decmod.load(tmp_path, low, d.model_hash)
    mu = low.layers[-1].result.to_float(np.random.default_rng(1).integers(-128, 128, (500, 8)))
    want = model.predict(mu.astype(np.float32), verbose=0)
    # float32 (TensorFlow) against float64 (numpy): the sigmoid outputs agree to float32 precision,
    # unless a hidden value sits on a rounding tie, which the quantized ReLU then rounds apart.
    close = np.isclose(back(mu), want, atol=1e-5).all(axis=1)
    assert close.mean() > 0.99, close.mean()


def test_decoder_file_errors(tmp_path: Path) -> None:
    low = D.load("vae-low")
    with pytest.raises(decmod.DecoderError, match="missing"):
        decmod.load(tmp_path, low, "h" * 64)
    decmod.save(tmp_path, _random_decoder(low))
    with pytest.raises(decmod.DecoderError, match="trained with encoder"):
        decmod.load(tmp_path, low, "0" * 64)
    doc = json.loads((tmp_path / decmod.DECODER_FILE).read_text())
    doc["layers"][0]["kernel"][0][0] = 10_000
    (tmp_path / decmod.DECODER_FILE).write_text(json.dumps(doc))
    with pytest.raises(decmod.DecoderError, match="outside the raw range"):
        decmod.load(tmp_path, low, "h" * 64)
    (tmp_path / decmod.DECODER_FILE).write_text("{")
    with pytest.raises(decmod.DecoderError, match="corrupt JSON"):
        decmod.load(tmp_path, low, "h" * 64)


def test_generated_features_equal_the_in_memory_tracks(tmp_path: Path) -> None:
    from model.data import generator
    from model.data.feature_cache import generate_features, load_features

    generate_features(tmp_path, 1300, seed=7, chunk=500, progress=False)
    cache, ts = load_features(tmp_path), generator.generate(1300, seed=7, progress=False)
    for name in ("vae-low", "vae-high"):
        d = D.load(name)
        assert np.array_equal(encoding.inputs_from_cache(d, cache), encoding.inputs(d, ts, seed=7))
        assert np.array_equal(encoding.decoder_targets_from_cache(d, cache), encoding.decoder_targets(d, ts, seed=7))


def _pixvae(*args: str):
    import os
    import subprocess
    import sys

    from pixvae.paths import REPO

    return subprocess.run([sys.executable, "-m", "pixvae.cli", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ}, timeout=900)


@pytest.mark.parametrize("name", ["vae-low", "vae-high", "classifier", "classifier-high", "jointvae"])
def test_committed_metrics_hold_on_fresh_tracks(name: str, tmp_path: Path) -> None:
    """`pixvae evaluate` measures the committed model on independent seeded sets (seed set 1; its
    training run measured set 0 with 55,000 tracks a set, 20,000 for the JointVAE) and agrees within
    measure.agree_sigma combined standard errors (3.0 to 3.5)."""
    proc = _pixvae("evaluate", "--design", name, "--tracks", "2000", "--out", str(tmp_path / "m.json"))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert "agrees with" in proc.stdout
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["sample_sizes"]["test"] == 2000 and doc["data"]["seed_set"] == 1


def test_evaluate_fails_when_the_committed_metrics_do_not_hold(tmp_path: Path) -> None:
    import shutil

    low = D.load("vae-low")
    ref = shutil.copytree(low.reference_dir, tmp_path / "ref")
    doc = json.loads((ref / "metrics.json").read_text())
    doc["ad_auc"]["loud_pixel"] += 20.0  # far outside any statistical error
    (ref / "metrics.json").write_text(json.dumps(doc))
    proc = _pixvae("evaluate", "--design", "vae-low", "--reference", str(ref), "--tracks", "1000",
                   "--out", str(tmp_path / "m.json"))
    assert proc.returncode == 1 and "DISAGREES: ad_auc.loud_pixel" in proc.stderr, proc.stderr[-2000:]
    doc["model_hash"] = "0" * 64
    (ref / "metrics.json").write_text(json.dumps(doc))
    proc = _pixvae("evaluate", "--design", "vae-low", "--reference", str(ref), "--out", str(tmp_path / "m.json"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "stale" in proc.stderr, proc.stderr


def test_ceiling_reports_each_defect_with_its_sample_sizes() -> None:
    """`pixvae ceiling`: a classifier trained with labels finds the loud pixel (one 9,000 e pixel) in
    almost every track, on 300 held-out tracks per set; each line names its sizes."""
    proc = _pixvae("ceiling", "--design", "vae-low", "--tracks", "600")
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = {ln.split()[0]: ln for ln in proc.stdout.splitlines() if ln.startswith("  ")}
    assert set(lines) == {"dead_pixel", "dead_row", "loud_pixel"}, proc.stdout
    assert all("held out: " in ln and "the on-chip score: " in ln for ln in lines.values()), proc.stdout
    auc = float(lines["loud_pixel"].split("AUC")[1].split("+-")[0])
    assert auc > 90.0, lines["loud_pixel"]
