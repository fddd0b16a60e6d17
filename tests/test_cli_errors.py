"""Bad input ends with one line naming the problem and a non-zero exit, and destroys nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hw import golden as G
from model.description import design as D
from model.fixed import reference
from pixvae.paths import REPO

DESIGN = D.load(D.DEFAULT_DESIGN)
COMMITTED_REFERENCE, COMMITTED_GOLDEN = DESIGN.reference_dir, DESIGN.vectors_dir


def pixvae(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pixvae.cli", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, **(env or {})}, timeout=600)


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_missing_model(tmp_path: Path) -> None:
    proc = pixvae("sim", "--run-dir", str(tmp_path), "--reference", str(tmp_path / "nope"),
                  "--golden", str(COMMITTED_GOLDEN))
    assert_one_line_error(proc, "nope", "missing")


def test_stale_golden(tmp_path: Path) -> None:
    rdir = shutil.copytree(COMMITTED_REFERENCE, tmp_path / "ref")
    net = reference.load(rdir, DESIGN).network
    b = net.layers[-1].bias
    b[0] = b[0] + (1 if b[0] < 127 else -1)
    (rdir / reference.WEIGHTS_FILE).write_text(reference.weights_json(net))
    proc = pixvae("sim", "--run-dir", str(tmp_path), "--reference", str(rdir), "--golden", str(COMMITTED_GOLDEN))
    assert_one_line_error(proc, "stale golden vectors")


def test_corrupt_golden_manifest(tmp_path: Path) -> None:
    gdir = shutil.copytree(COMMITTED_GOLDEN, tmp_path / "g")
    (gdir / G.MANIFEST_FILE).write_text('{"format_version": 1, "model_hash": ')
    proc = pixvae("sim", "--run-dir", str(tmp_path), "--reference", str(COMMITTED_REFERENCE), "--golden", str(gdir))
    assert_one_line_error(proc, "manifest.json", "corrupt JSON")


def test_wrong_width_vector(tmp_path: Path) -> None:
    gdir = shutil.copytree(COMMITTED_GOLDEN, tmp_path / "g")
    path = gdir / G.VECTORS_FILE
    lines = path.read_text().splitlines()
    cells = lines[3].split(",")
    cells[G.columns(DESIGN).index("mu5")] = "300"  # 9+ bits in an 8-bit latent
    lines[3] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    proc = pixvae("sim", "--run-dir", str(tmp_path), "--reference", str(COMMITTED_REFERENCE), "--golden", str(gdir))
    assert_one_line_error(proc, "vector 2", "mu5", "fixed<8,4>")


@pytest.mark.parametrize("what", ["verilator", "make"])
def test_missing_simulator(tmp_path: Path, what: str) -> None:
    # An empty Verilator root, or a PATH without make/g++ (Verilator cannot build anything).
    env = {"PIXVAE_VERILATOR_ROOT": str(tmp_path)} if what == "verilator" else {"PATH": str(tmp_path)}
    proc = pixvae("regress", "--run-dir", str(tmp_path / "run"), env=env)
    assert_one_line_error(proc, what)
    assert not (tmp_path / "run").exists()  # nothing was started


@pytest.mark.parametrize("text, needle", [
    ("name = 'x'", "'kind' missing"),
    ("this is not toml", "not valid TOML"),
])
def test_bad_design_description(tmp_path: Path, text: str, needle: str) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / D.DESIGN_FILE).write_text(text)
    assert_one_line_error(pixvae("regress", "--design", str(tmp_path / "x")), needle, "design.toml")
    assert_one_line_error(pixvae("regress", "--design", "no-such-design"), "no design description", "vae-low")


def test_nothing_committed_was_touched() -> None:
    # The error paths above work on copies; the committed tree must be byte-identical to git's.
    cmd = ["git", "status", "--porcelain", "--untracked-files=no", "golden/"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        pytest.skip("not a git checkout")
    assert proc.stdout == ""
