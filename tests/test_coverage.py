"""Code coverage of the regression (tb.coverage) on the smallest design: the coverage build runs the
golden vectors, and a bit that one all-zero vector cannot move is named as never toggled, while the
golden set toggles it. The bits are found from the numpy integer model, not from the code tested."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hw import golden as G
from hw import rtl as R
from model.description import design as D
from model.fixed import reference
from tests.conftest import BUILD, build_lock, export

NAME = "classifier"


@pytest.fixture(scope="module")
def setup() -> tuple[D.Design, G.Golden, reference.Reference, Path, Path]:
    from tb import coverage

    design = D.load(NAME)
    if not (design.reference_dir / reference.WEIGHTS_FILE).is_file():
        pytest.skip(f"{NAME} has no committed reference")
    ref = reference.load(design.reference_dir, design)
    golden = G.load(design.vectors_dir, design, expected_hash=ref.model_hash)
    rtl_dir = export(ref)
    work = BUILD / NAME / "coverage"
    with build_lock(NAME):
        exe = coverage.build(rtl_dir, work)
    return design, golden, ref, rtl_dir, exe


def _never(result: dict) -> set[str]:
    nt = result["never_toggled"]
    return {e["signal"] for e in nt["constant_by_construction"] + nt["not_proven_constant"] if e["scope"] == "top"}


def test_tiny_input_leaves_score_bits_the_golden_set_toggles(setup, tmp_path: Path) -> None:
    from tb import coverage

    design, golden, ref, rtl_dir, exe = setup
    meta = R.load_meta(rtl_dir)
    thr = golden.threshold_raw
    fmt = design.score_format
    zero = np.zeros((1, design.n_inputs), dtype=np.int64)
    # The zero vector's score by the independent integer model: out_score shows it for one cycle and
    # is zero otherwise, so exactly the score's zero bits never toggle.
    score0 = int(fmt.to_unsigned_bits(int(ref.network.outputs(zero, thr)[0, design.output_columns.index("score")])))
    idle = {f"out_score[{b}]" for b in range(fmt.width) if not score0 >> b & 1}
    assert idle, "the zero vector's score has no zero bit: pick another tiny input"

    tiny = coverage.analyse(coverage.run_counts(exe, rtl_dir, design, zero, [thr], tmp_path), meta, rtl_dir,
                            tmp_path, prove=False)
    scores = [f"out_score[{b}]" for b in range(fmt.width)]
    assert {s for s in scores if s in _never(tiny)} == idle

    flag = design.output_columns.index(design.decision)
    want = golden.y.copy()
    want[:, flag] = (golden.score > thr).astype(np.int64)
    counts = coverage.run_counts(exe, rtl_dir, design, golden.x, [thr], tmp_path, expected=lambda _: want)
    full = coverage.analyse(counts, meta, rtl_dir, tmp_path, prove=False)
    ever_set = {f"out_score[{b}]" for b in range(fmt.width)
                if any(int(fmt.to_unsigned_bits(int(s))) >> b & 1 for s in golden.score)}
    assert idle & ever_set, "the golden set sets none of the zero vector's idle score bits"
    assert not (idle & ever_set) & _never(full)  # named above, toggled by the golden set
    assert full["toggle"]["core"]["percent"] > tiny["toggle"]["core"]["percent"]
    assert 0 < full["line"]["top"]["percent"] <= 100


def test_coverage_counts_merge_across_runs(tmp_path: Path) -> None:
    """Counts of the same point add up across runs; a file that is not Verilator's is refused."""
    from tb import coverage

    key = "\x01t\x02toggle\x01page\x02v_toggle/top\x01o\x02a[0]:0->1\x01h\x02TOP.top"
    for i, n in enumerate((2, 3)):
        (tmp_path / f"r{i}.dat").write_text(f"# SystemC::Coverage-3\nC '{key}' {n}\n")
    counts: dict[str, int] = {}
    for i in range(2):
        coverage.read_dat(tmp_path / f"r{i}.dat", counts)
    assert counts == {key: 5}
    (tmp_path / "bad.dat").write_text("not coverage\n")
    with pytest.raises(coverage.CoverageError, match="not a Verilator coverage file"):
        coverage.read_dat(tmp_path / "bad.dat")
