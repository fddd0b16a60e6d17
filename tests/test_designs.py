"""Designs are data: descriptions are checked, encodings follow them, and a user's own design
goes through every stage from its description alone (bit-exact but for one golden bit flipped on
purpose, which fails its flow)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from model.data import encoding, features
from model.data.dataformat import TrackSet
from model.description import design as D
from pixvae.paths import REPO
from tests.test_failing_regression import assert_fails
from tests.test_failing_regression import pixvae as faulted_pixvae

USER = Path(__file__).parent / "data" / "user-net.toml"


def pixvae(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pixvae.cli", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ}, timeout=1500)


def test_shipped_designs() -> None:
    assert {"vae-low", "vae-high", "classifier", "classifier-high", "jointvae"} <= set(D.names())
    low, high, clf = D.load("vae-low"), D.load("vae-high"), D.load("classifier")
    assert [ly.units for ly in low.layers] == [24, 8] and low.n_inputs == 53 and low.input_format.width == 4
    assert [ly.units for ly in high.layers] == [24, 8] and high.input_format.width == 10
    assert high.encoding.charge_code == "sqrt_log" and high.encoding.alpha == 0.094
    assert [ly.units for ly in clf.layers] == [24, 12, 1] and clf.sparsity == 0.4
    assert all(ly.weight.width == 10 and ly.bias.width == 10 for ly in clf.layers)
    assert clf.output_columns == ["score", "keep"] and low.output_columns[-2:] == ["score", "flag"]
    clf_high = D.load("classifier-high")  # the same network on vae-high's 10-bit codes
    assert clf_high.encoding == high.encoding and clf_high.input_format == high.input_format
    assert [(ly.units, ly.weight, ly.result) for ly in clf_high.layers] == \
        [(ly.units, ly.weight, ly.result) for ly in clf.layers]


def _edit(text: str, pattern: str, repl: str) -> str:
    out, n = re.subn(pattern, repl, text, count=1, flags=re.M)
    assert n == 1, pattern
    return out


# A profile check for the user design: hidden units and the prediction's fraction bits to fill in.
CHECK = """[check]
window = 2
y0 = false
shift = 0
[[check.layers]]
name = "chk_h"
units = {units}
activation = "relu"
weight = "fixed<6,1>"
bias = "fixed<6,3>"
accum = "fixed<20,8>"
result = "ufixed<6,2,RND_CONV,SAT>"
[[check.layers]]
name = "chk_p"
units = 52
activation = "linear"
weight = "fixed<6,1>"
bias = "fixed<6,3>"
accum = "fixed<18,9>"
result = "fixed<{width},3,RND_CONV,SAT>"
"""
BAD = [
    (r'^kind = .*$', 'kind = "transformer"', "'kind'"),
    (r'^units = 16$', "units = 0", "'units' = 0"),
    (r'^activation = "relu"$', 'activation = "tanh"', "'activation'"),
    (r'^weight = "fixed<6,1>"$', 'weight = "fixed<6>"', "'weight'"),
    (r'^accum = "fixed<20,8>"$', 'accum = "fixed<20,3>"', "can overflow"),
    (r'^accum = "fixed<20,8>"$', 'accum = "fixed<16,8>"', "fewer fraction bits"),
    (r'^result = "ufixed<6,2,RND_CONV,SAT>"$', 'result = "ufixed<6,2>"', "RND_CONV,SAT"),
    (r'^score_format = .*$', 'score_format = "ufixed<12,6>"', "cannot hold 0.5*sum(mu^2)"),
    (r'^slices = .*$', "slices = [0, 25]", "'slices'"),
    (r'^name = "user-net"$', 'name = "other"', "folder name"),
    (r'^\[outputs\]$', "[rtl]\nadder_levels = 0\n\n[outputs]", "[rtl] 'adder_levels' = 0"),
    (r'^\[outputs\]$', '[rtl]\nadder_levels = "deep"\n\n[outputs]', "[rtl] 'adder_levels'"),
    (r'^\[outputs\]$', "[decoder]\nunits = [24, 0]\n\n[outputs]", "[decoder] 'units'"),
    (r'^\[outputs\]$', "[decoder]\nslices = [0, 20]\n\n[outputs]", "[decoder] 'slices'"),
    (r'^\[outputs\]$', '[decoder]\nweight = "ufixed<8,1>"\n\n[outputs]', "[decoder] weight and bias are signed"),
    (r'^\[training\]$', "[training]\nbeta_min = 1e-4", "a beta anneal needs"),
    (r'^decision = "flag"$', 'decision = "flag"\ndip_shift = 3', "but 0.5*sum(mu^2) + dips * 2**3 reaches"),
    (r'^\[outputs\]$', "[check]\nwindow = 0\nshift = 0\ny0 = false\n\n[outputs]", "[check] 'window' = 0"),
    (r'^\[outputs\]$', "[check]\nwindow = 2\nshift = 0\n\n[outputs]", "[check] 'y0' missing"),
    (r'^\[outputs\]$', CHECK.format(units=20, width=6) + "\n[outputs]", "a multiple of 13"),
    (r'^\[outputs\]$', CHECK.format(units=26, width=9).replace("y0 = false", "y0 = false\ninput_frac = 7")
     + "\n[outputs]", "'input_frac' = 7 must be 1..6"),
    (r'^\[outputs\]$', CHECK.format(units=26, width=6) + "\n[outputs]", "predicts the 52 profile inputs"),
    (r'^\[outputs\]$', CHECK.format(units=26, width=9).replace("shift = 0", "shift = 2") + "\n[outputs]",
     "but 0.5*sum(mu^2) + the check * 2**2 reaches"),
]


@pytest.mark.parametrize("pattern, repl, needle", BAD, ids=[b[2] for b in BAD])
def test_bad_description_is_one_line_naming_file_and_key(tmp_path: Path, pattern: str, repl: str,
                                                         needle: str) -> None:
    folder = tmp_path / "user-net"
    folder.mkdir()
    (folder / D.DESIGN_FILE).write_text(_edit(USER.read_text(), pattern, repl))
    with pytest.raises(D.DesignError) as exc:
        D.load(folder)
    msg = str(exc.value)
    assert "\n" not in msg and str(folder / D.DESIGN_FILE) in msg and needle in msg, msg


def test_a_check_row_never_sees_itself() -> None:
    """The check's masks: a prediction of row r depends on no input of row r, in any slice, through
    any path; it does see rows r-window..r+window, and y0 only if the design says so."""
    chk = D.load("vae-low").check
    reach = chk.mask(0).astype(int)
    for k in range(1, len(chk.layers)):
        reach = (reach @ chk.mask(k).astype(int)) > 0  # which inputs each unit of layer k depends on
    rows = np.arange(chk.n_profile) % 13
    for j in range(chk.n_profile):
        seen = {int(rows[i]) for i in np.flatnonzero(reach[: chk.n_profile, j])}
        assert seen == {r for r in range(13) if r != rows[j] and abs(r - rows[j]) <= chk.window}, j
        assert reach[chk.n_profile, j] == chk.y0


def test_derived_sizes_of_the_user_design(tmp_path: Path) -> None:
    folder = tmp_path / "user-net"
    folder.mkdir()
    shutil.copy(USER, folder / D.DESIGN_FILE)
    d = D.load(folder)
    assert d.n_inputs == 53 and d.input_bits == 318
    assert d.output_columns == [f"mu{j}" for j in range(6)] + ["score", "flag"]
    assert [f.bits for f in d.fields] == [36, 14, 1]


def _tracks(n: int, seed: int) -> TrackSet:
    from model.data import generator

    return generator.generate(n, seed=seed)


def test_paper_encodings_equal_the_feature_module() -> None:
    """The description-driven codes are the paper's 4-bit and 10-bit codes (model/data/features.py), exactly."""
    ts = _tracks(300, 5)
    low, high = D.load("vae-low"), D.load("vae-high")
    assert np.array_equal(encoding.inputs(low, ts, seed=3), features.encoder_inputs(ts, seed=3))
    q = np.r_[0.0, -50.0, 1.0, 1.5, np.geomspace(2, 60_000, 500)]
    assert np.array_equal(encoding.charge_codes(high, q), features.encode_10bit(q))
    y = np.linspace(-9.5, 9.5, 2001)
    assert np.array_equal(encoding.y0_codes(low, y), features.encode_y0_4bit(y))
    hi = encoding.y0_codes(high, np.array([-20.0, -8.0, 0.0, 7.99, 8.0, 8.18]))
    assert hi.tolist() == [0, 0, 512, 1023, 1023, 1023]  # 1/64 mm bins; beyond +-8 mm clipped into the end bins


def test_designs_command_lists_and_creates(tmp_path: Path) -> None:
    proc = pixvae("designs")
    assert proc.returncode == 0 and "classifier" in proc.stdout and "vae-high" in proc.stdout, proc.stderr
    name = "pytest-tmp-design"
    try:
        proc = pixvae("designs", "new", name, "--from", str(USER))
        assert proc.returncode == 0, proc.stderr
        assert tomllib.loads((D.DESIGNS_ROOT / name / D.DESIGN_FILE).read_text())["name"] == name
        again = pixvae("designs", "new", name, "--from", str(USER))
        assert again.returncode == 2 and "exists already" in again.stderr
    finally:
        shutil.rmtree(D.DESIGNS_ROOT / name, ignore_errors=True)


@pytest.mark.e2e
def test_a_user_design_goes_through_every_stage_and_its_flow_fails_on_a_flipped_golden_bit(tmp_path: Path) -> None:
    """From a description alone: train (tiny), hls4ml + C-sim, Verilog, golden, RTL regression. One
    bit of the flow's own golden set is flipped after it is written (tests/faults): the RTL matches
    the other 2,560 vectors bit for bit, and the flow's exit status carries the one mismatch. (One
    flow for both: each costs a minute of CI; the JointVAE's flow shows the exit 0 and PASS.)"""
    folder = tmp_path / "user-net"
    folder.mkdir()
    shutil.copy(USER, folder / D.DESIGN_FILE)
    # --pdk-dir none: the flow's timing of its own RTL (hw.closure.time_run) costs a minute and a half of
    # CPU here; tests/test_timing.py runs it on a small RTL and checks hw.clock reads its report.
    # --exact-budget 1: the directed set's exact programs get 1 s in all, not the flow's 30 (CI time).
    proc = faulted_pixvae("flow", "--design", str(folder), "--profile", "tiny", "--run-dir", str(tmp_path / "run"),
                          "--pdk-dir", "none", "--exact-budget", "1", fault="golden_bit")
    assert "== RTL regression summary ==" in proc.stdout, proc.stderr[-3000:]  # it reached the last stage
    assert_fails(proc, "golden_bit")
    assert "design           : user-net" in proc.stdout
    compared = re.search(r"vectors compared : (\d+) of (\d+)", proc.stdout)  # 2,561 + its directed set
    assert compared and compared[1] == compared[2] and int(compared[1]) > 2561, proc.stdout[-2000:]
    assert "mismatches       : 1 vectors (1 output fields), 0 protocol errors" in proc.stdout
    top = (tmp_path / "run" / "rtl" / "pixel_encoder_top.v").read_text()
    assert "input  wire [318-1:0]  in_data" in top and "output wire [36-1:0] out_mu" in top


@pytest.mark.e2e
def test_training_reads_an_imported_release_through_its_features_cache(tmp_path: Path) -> None:
    """A design's codes from `pixvae data import`'s features.npz equal those of the release in memory,
    and `pixvae train --data` trains from it."""
    from model.data import dataformat
    from model.data.feature_cache import Readout, load_features
    from model.data.release_import import import_release

    ts = _tracks(400, 9)
    dataformat.write_parquet(ts, tmp_path / "release", 17301, layout="flat")
    import_release(tmp_path / "release", tmp_path / "imported", readout=Readout(seed=4), copy=False)
    cache = load_features(tmp_path / "imported")
    back = dataformat.read_dataset(tmp_path / "release")
    for name in ("vae-low", "vae-high", "classifier"):
        d = D.load(name)
        assert np.array_equal(encoding.inputs_from_cache(d, cache), encoding.inputs(d, back, seed=4)), name
    proc = pixvae("train", "--profile", "tiny", "--data", str(tmp_path / "imported"),
                  "--run-dir", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "400 tracks from" in proc.stdout and (tmp_path / "run" / "reference" / "weights.json").is_file()
    # --onto: the check trained again onto that encoder and decoder, which stay as they were.
    proc = pixvae("train", "--profile", "tiny", "--data", str(tmp_path / "imported"),
                  "--run-dir", str(tmp_path / "again"), "--onto", str(tmp_path / "run" / "reference"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    from model.fixed import decoder, reference

    d = D.load("vae-low")
    first, again = (reference.load(tmp_path / r / "reference", d) for r in ("run", "again"))
    assert all(np.array_equal(a.kernel, b.kernel) and np.array_equal(a.bias, b.bias)
               for a, b in zip(first.network.layers, again.network.layers, strict=True))
    # Seeded training on the same tracks is deterministic: the same check, so the same hash.
    assert len(again.network.check) == 2 and again.model_hash == first.model_hash
    assert again.metadata["check_trained_onto"] == first.model_hash and "check_trained_onto" not in first.metadata
    decoder.load(tmp_path / "again" / "reference", d, again.model_hash)  # re-tied to the new hash
