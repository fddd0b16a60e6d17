"""The C++ bulk harness (same RTL, no Python per cycle) against golden and the numpy model,
for every committed design; and `pixvae rtl-run`, which runs any inputs through it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hw import golden as G
from model.description.design import Design
from model.fixed import reference
from pixvae.paths import REPO
from tb import bulk
from tests.conftest import build_lock


@pytest.fixture(scope="session")
def exe(rtl_dir: Path) -> Path:
    with build_lock(rtl_dir.parent.name):
        return bulk.build(rtl_dir, rtl_dir.parent / "bulk_build")[0]


def test_bulk_equals_golden(exe: Path, golden: G.Golden, rtl_dir: Path) -> None:
    res = bulk.regress(exe, golden, rtl_dir)
    assert res["passed"], res["fail_reasons"]


def test_bulk_random_codes_equal_numpy_model(exe: Path, ref: reference.Reference, golden: G.Golden,
                                             rtl_dir: Path) -> None:
    d = ref.design
    x = np.random.default_rng(5).integers(0, d.input_format.raw_max + 1, (50_000, d.n_inputs))
    r = bulk.run(exe, rtl_dir, d, x, golden.threshold_raw)
    assert np.array_equal(r.y, ref.network.outputs(x, golden.threshold_raw))


def test_bulk_rejects_wrong_width_codes(exe: Path, design: Design, rtl_dir: Path) -> None:
    top = design.input_format.raw_max
    with pytest.raises(bulk.BulkError, match=f"outside {design.input_format.hls(False)}"):
        bulk.run(exe, rtl_dir, design, np.full((3, design.n_inputs), top + 1), 0)
    with pytest.raises(bulk.BulkError, match=rf"shape \(3, {design.n_inputs - 1}\)"):
        bulk.run(exe, rtl_dir, design, np.zeros((3, design.n_inputs - 1), dtype=int), 0)


def rtl_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pixvae.cli", "rtl-run", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=900)


def test_rtl_run_writes_the_rtl_outputs(design: Design, golden: G.Golden, exe: Path, rtl_dir: Path,
                                       tmp_path: Path) -> None:
    """Run in the session's build folder, which has the run-folder layout: the command reuses the
    export and the harness there, as it does on a user's second run (a new folder would export
    and build again, the same work the fixtures above did)."""
    rows = np.arange(0, len(golden), 97)
    pd.DataFrame(golden.x[rows], columns=design.x_columns).to_csv(tmp_path / "in.csv", index=False)
    with build_lock(rtl_dir.parent.name):
        proc = rtl_run("--design", design.name, "--inputs", str(tmp_path / "in.csv"), "--out",
                       str(tmp_path / "o.csv"), "--run-dir", str(rtl_dir.parent))
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = pd.read_csv(tmp_path / "o.csv")
    assert list(out.columns) == design.output_columns
    assert np.array_equal(out.to_numpy(), golden.y[rows])


@pytest.mark.parametrize("bad, needle", [("wide", "outside"), ("narrow", "missing"), ("text", "integer")])
def test_rtl_run_rejects_bad_inputs(vae_low: Design, tmp_path: Path, bad: str, needle: str) -> None:
    x = np.zeros((2, vae_low.n_inputs), dtype=np.int64)
    df = pd.DataFrame(x, columns=vae_low.x_columns)
    if bad == "wide":
        df.iloc[1, 5] = 16
    elif bad == "narrow":
        df = df.drop(columns=vae_low.x_columns[-1])
    else:
        df["x03"] = ["a", "b"]
    df.to_csv(tmp_path / "in.csv", index=False)
    proc = rtl_run("--inputs", str(tmp_path / "in.csv"), "--out", str(tmp_path / "o.csv"),
                   "--run-dir", str(tmp_path / "run"))
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert proc.returncode == 2 and len(errors) == 1 and needle in errors[0], proc.stderr[-2000:]
    assert not (tmp_path / "o.csv").exists()
