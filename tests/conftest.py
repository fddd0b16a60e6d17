"""Shared fixtures, one set per committed design: its description, reference model, golden
vectors, and the RTL built from them. A test that takes `design` (or anything built on it) runs
once for every design under golden/ that has a committed reference."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from hw import golden as G  # noqa: E402
from model.description import design as D  # noqa: E402
from model.fixed import reference  # noqa: E402
from pixvae.paths import REPO  # noqa: E402

BUILD = REPO / "build" / "pytest"
COMMITTED = [n for n in D.names() if (D.load(n).reference_dir / reference.WEIGHTS_FILE).is_file()]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The end-to-end runs (marked e2e, about a minute each) go first: on two workers, one that
    started last would leave the other worker idle for its last minute."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is None)


@pytest.fixture(scope="session", params=COMMITTED)
def design(request: pytest.FixtureRequest) -> D.Design:
    return D.load(request.param)


@pytest.fixture(scope="session")
def vae_low() -> D.Design:
    """The default design, for tests of one design's machinery (error paths, formats)."""
    return D.load(D.DEFAULT_DESIGN)


@pytest.fixture(scope="session")
def ref(design: D.Design) -> reference.Reference:
    return reference.load(design.reference_dir, design)


@pytest.fixture(scope="session")
def golden(design: D.Design, ref: reference.Reference) -> G.Golden:
    return G.load(design.vectors_dir, design, expected_hash=ref.model_hash)


@pytest.fixture(scope="session")
def hls_model(ref: reference.Reference, tmp_path_factory: pytest.TempPathFactory):
    """The committed model converted by hls4ml, with its C simulation compiled."""
    from hw import hls

    return hls.convert(ref.design, reference.to_keras(ref.network), ref.hls_config, tmp_path_factory.mktemp("hls4ml"))


@contextlib.contextmanager
def build_lock(name: str):
    """One pytest-xdist worker exports and builds a design; the others wait, then reuse its build.
    One lock per design, so two workers can build two designs at once."""
    BUILD.mkdir(parents=True, exist_ok=True)
    with open(BUILD / f".lock-{name}", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def export(ref: reference.Reference) -> Path:
    from pixvae import stages

    out = BUILD / ref.design.name
    with build_lock(ref.design.name):
        stages.export(ref, out / "hls4ml", out / "rtl")
    return out / "rtl"


@pytest.fixture(scope="session")
def rtl_dir(ref: reference.Reference) -> Path:
    """The committed model exported to Verilog (reused while model and generator are unchanged)."""
    return export(ref)


def _built(rtl_dir: Path, sim: str) -> tuple[Path, Path]:
    from tb import runner

    sim_dir = rtl_dir.parent / f"{sim}_build"
    with build_lock(rtl_dir.parent.name):
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


@pytest.fixture(scope="session")
def vae_low_build(vae_low: D.Design) -> tuple[Path, Path]:
    """(rtl_dir, Verilator build dir) of the default design alone."""
    return _built(export(reference.load(vae_low.reference_dir, vae_low)), "verilator")


def flipped_golden(design: D.Design, dest: Path, row: int) -> Path:
    """A copy of the design's committed vectors with the lowest bit of one vector's score flipped."""
    import shutil

    gdir = shutil.copytree(design.vectors_dir, dest)
    lines = (gdir / G.VECTORS_FILE).read_text().splitlines()
    cells = lines[1 + row].split(",")
    col = G.columns(design).index("score")
    cells[col] = str(int(cells[col]) ^ 1)
    lines[1 + row] = ",".join(cells)
    (gdir / G.VECTORS_FILE).write_text("\n".join(lines) + "\n")
    return gdir


def adder_verilog(width: int) -> str:
    """A registered adder: inputs and sum registered, so a timing tool sees one reg-to-reg path."""
    return f"""\
module adder_reg (
    input clk,
    input [{width - 1}:0] a,
    input [{width - 1}:0] b,
    output reg [{width}:0] s
);
  reg [{width - 1}:0] ra, rb;
  always @(posedge clk) begin ra <= a; rb <= b; s <= ra + rb; end
endmodule
"""


def tiny_rtl(rtl_dir: Path, width: int = 4) -> Path:
    """A hand-written exported-RTL folder (meta and one source) for the synthesis and timing tools."""
    import json
    from dataclasses import asdict

    from hw import rtl as R

    (rtl_dir / "src").mkdir(parents=True)
    (rtl_dir / "src" / "adder_reg.v").write_text(adder_verilog(width))
    meta = R.RtlMeta(
        design="tiny-adder", model_hash="0" * 64, top="adder_reg", latency_cycles=2, pipeline_stages=1,
        adder_levels_per_stage=1, depth_slack=-1, n_inputs=2, input_width=width, input_bits=2 * width,
        score_bits=width + 1,
        score_signed=False,
        fields=[R.RtlField(name="score", count=1, width=width + 1, signed=False, format=f"ufixed<{width + 1},"
                                                                                     f"{width + 1}>")],
        estimated_luts=float(width), estimated_ffs=3 * width + 1, sources=["src/adder_reg.v"], generator_sha256="",
    )
    meta.exported_sha256 = R.sources_sha256(rtl_dir, meta)
    (rtl_dir / R.META_FILE).write_text(json.dumps(asdict(meta), indent=2) + "\n")
    R.load_meta(rtl_dir)  # the meta written here must load as an exported one does
    return rtl_dir
