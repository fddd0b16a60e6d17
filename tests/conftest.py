"""Shared fixtures: the committed reference model and golden vectors, and the RTL built from them."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from hw import golden as G  # noqa: E402
from model import reference  # noqa: E402
from pixvae.paths import COMMITTED_GOLDEN, COMMITTED_REFERENCE, REPO  # noqa: E402

BUILD = REPO / "build" / "pytest"


@pytest.fixture(scope="session")
def ref() -> reference.Reference:
    return reference.load(COMMITTED_REFERENCE)


@pytest.fixture(scope="session")
def golden(ref: reference.Reference) -> G.Golden:
    return G.load(COMMITTED_GOLDEN, expected_hash=ref.model_hash)


@pytest.fixture(scope="session")
def hls_model(ref: reference.Reference, tmp_path_factory: pytest.TempPathFactory):
    """The committed model converted by hls4ml, with its C simulation compiled."""
    from hw import hls

    return hls.convert(reference.to_keras(ref.weights), ref.hls_config, tmp_path_factory.mktemp("hls4ml"))


@contextlib.contextmanager
def build_lock():
    """One pytest-xdist worker exports and builds; the others wait, then reuse its build."""
    BUILD.mkdir(parents=True, exist_ok=True)
    with open(BUILD / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def rtl_dir(ref: reference.Reference) -> Path:
    """The committed model exported to Verilog (reused while model and generator are unchanged)."""
    from hw import params
    from pixvae import stages

    with build_lock():
        stages.export(ref, BUILD / "hls4ml", BUILD / "rtl", params.ADDER_LEVELS_PER_STAGE, params.CLOCK_PERIOD_NS)
    return BUILD / "rtl"


def _built(rtl_dir: Path, sim: str) -> tuple[Path, Path]:
    from tb import runner

    sim_dir = BUILD / f"{sim}_build"
    with build_lock():
        runner.build(rtl_dir, sim_dir, sim=sim)
    return rtl_dir, sim_dir


@pytest.fixture(scope="session")
def rtl_build(rtl_dir: Path) -> tuple[Path, Path]:
    """(rtl_dir, Verilator build dir) for the committed model."""
    return _built(rtl_dir, "verilator")


@pytest.fixture(scope="session")
def icarus_build(rtl_dir: Path) -> tuple[Path, Path]:
    """(rtl_dir, Icarus build dir) for the committed model."""
    return _built(rtl_dir, "icarus")

