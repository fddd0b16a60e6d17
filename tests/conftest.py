"""Shared fixtures: the committed reference model and golden vectors, and the RTL built from them."""

from __future__ import annotations

import os
import shutil
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


@pytest.fixture(scope="session")
def rtl_build(ref: reference.Reference, hls_model) -> tuple[Path, Path]:
    """(rtl_dir, verilator build dir) for the committed model; the build is reused across sessions."""
    from hw import params
    from pixvae import stages
    from tb import runner

    rtl_dir, sim_dir = BUILD / "rtl", BUILD / "sim_build"
    stages.export(ref, BUILD / "hls4ml", rtl_dir, params.ADDER_LEVELS_PER_STAGE, params.CLOCK_PERIOD_NS, hm=hls_model)
    runner.build(rtl_dir, sim_dir)
    return rtl_dir, sim_dir


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
