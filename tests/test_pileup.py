"""`pixvae pileup` (model/measurements/pileup.py) on a few hundred tracks: the measurement finds the pT
information where it is (truth cotBeta and y-local), not where it is not (shuffled labels), and
the command writes its table and JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from model.measurements import pileup as P
from pixvae.paths import REPO


@pytest.fixture(scope="module")
def tracks() -> P.Tracks:
    return P.generate(400, log=lambda m: None)


def test_truth_beats_shuffled_labels(tracks: P.Tracks) -> None:
    """Truth cotBeta with float y-local separates |pT| > 2 GeV almost perfectly (AUC 0.98 on 30,000
    tracks); the same inputs with the labels shuffled are at chance. A measurement that lost the
    angle, the position or the labels' pairing with them would fail one side."""
    row = P.chain_rows()[0]
    assert row.angle is None and row.y0_bits is None
    train, test = P.split(tracks)
    shuffled_pt = np.random.default_rng(0).permutation(tracks.pt)
    train_s, test_s = P.split(P.Tracks(shuffled_pt, tracks.cot_beta, tracks.y_local, tracks.prof, tracks.chunk_seed))
    with threadpool_limits(1):  # as `pixvae pileup`: OpenMP threads spinning on shared cores cost more than they give
        truth = P.measure_row(row, train, test, log=lambda m: None)
        chance = P.measure_row(row, train_s, test_s, log=lambda m: None)
    assert truth["n_signal"] + truth["n_background"] == 200
    assert truth["auc"] > 90.0 and truth["br93"] > 60.0, truth
    assert chance["auc"] < 70.0, chance
    assert truth["auc"] - chance["auc"] > 25.0


def test_y0_bins_cost_angle_as_computed(tracks: P.Tracks) -> None:
    """A 4-bit y0 (1 mm bins) adds 1 mm / sqrt(12) / 30 mm = 0.0096 rms to the geometric angle."""
    phys = P.physics(tracks)
    assert abs(phys["y0_4bit_angle_rms"] - 1 / np.sqrt(12) / 30) < 0.001
    assert abs(phys["bend_cotbeta_at_2GeV"] - 0.0086) < 0.0002


def test_command_writes_table_and_json(tmp_path: Path) -> None:
    out = tmp_path / "pileup.json"
    run = [sys.executable, "-m", "pixvae.cli", "pileup", "--tracks", "400"]
    proc = subprocess.run([*run, "--parts", "percent-error", "--out", str(out)], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert doc["tracks"] == 400 and doc["test"] == 200
    high = doc["percent_error"]["vae-high"]
    # The exponential readback: the charge error is several times the code-space error.
    assert high["charge (the project's definition)"]["mean"] > 3 * high["code units"]["mean"]
    assert "percent error, vae-high (200 tracks)" in proc.stdout
    bad = subprocess.run([*run, "--parts", "chian"], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert bad.returncode == 2 and "--parts" in bad.stderr, bad.stderr
