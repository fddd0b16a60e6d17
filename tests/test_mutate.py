"""The mutation campaign's machinery on a few chosen mutants of the classifier (the design that
builds fastest): one Verilator build behind +mutsel, kills by the bulk harness and by the cocotb
protocol tests, and a SAT proof of an equivalent mutant. Full campaigns are `pixvae mutate`."""

from __future__ import annotations

from pathlib import Path

import pytest

from hw import golden as G
from hw import mutate as M
from hw import rtl as R
from model.description import design as D
from model.fixed import reference
from tests.conftest import export

# The classifier's lower score clamp, -2048 raw (fixed<12,6>: -32.0), moved to 0: the stage's sum
# never reaches the clamp, so no input tells them apart (yosys sat proves it in seconds).
UNREACHED_CLAMP = "v1937 = 'b1 +1"
GATING = "out_keep not gated by out_valid"
GE = "threshold > made >="
INVERTED = "op_1941: select v1939[12] inverted"  # the upper clamp's select, next to the output
STUCK_IN_VALID = "in_valid stuck at 1"  # outputs after the last track's: bulk's idle edges and cocotb both see them


@pytest.fixture(scope="module")
def classifier_rtl() -> tuple[D.Design, G.Golden, Path]:
    d = D.load("classifier")
    ref = reference.load(d.reference_dir, d)
    return d, G.load(d.vectors_dir, d, expected_hash=ref.model_hash), export(ref)


def test_candidates_cover_every_kind(classifier_rtl) -> None:
    _, _, rtl = classifier_rtl
    cands = M.source_mutants(rtl, R.load_meta(rtl))
    kinds = {m.kind for m in cands}
    assert {"arith-op", "constant", "shift", "slice", "comparator", "comparator-sign", "saturation-bound",
            "select-inverted", "protocol-reset", "protocol-valid", "protocol-gating"} <= kinds
    for m in cands:  # each changes its line, and only its line
        assert m.mutated != m.original
    assert M.sample(cands, 40, 1) == M.sample(cands, 40, 1)  # the seed fixes the sample


def test_short_campaign(classifier_rtl, tmp_path: Path) -> None:
    from tb import mutation

    design, g, rtl = classifier_rtl
    wanted = {UNREACHED_CLAMP, GATING, GE, STUCK_IN_VALID, INVERTED}
    found = {m.where for m in M.source_mutants(rtl, R.load_meta(rtl))} & wanted
    assert found == wanted, f"mutants not among the candidates: {wanted - found}"
    res = mutation.campaign(design, g, rtl, tmp_path, n=len(wanted), yosys_share=0,
                            only=lambda m: m.where in wanted, timeout_s=120)
    rows = {r["where"]: r for r in res["rows"]}
    assert rows[GATING]["status"] == "killed" and rows[GATING]["killed_by"][0].startswith("bulk")
    assert rows[GE]["status"] == "killed"  # the threshold sweep offers a score equal to the threshold
    stuck = rows[STUCK_IN_VALID]
    assert stuck["status"] == "killed"
    # the bulk harness's idle edges after the last track, and the cocotb tests (+mutsel reached that model too)
    assert [k.split(":")[0] for k in stuck["killed_by"]] == ["bulk", "cocotb"], stuck["killed_by"]
    clamp = rows[UNREACHED_CLAMP]
    assert clamp["status"] == "equivalent", clamp
    assert res["totals"] == {"mutants": 5, "killed": 4, "non-equivalent": 0, "equivalent": 1, "unknown": 0,
                             "kill_rate": 1.0}
    assert "equivalent" in mutation.table(res)

    # A killed mutant is never proven; prove one here: the SAT model's input must kill it in simulation.
    meta = R.load_meta(rtl)
    inv = next(m for m in M.source_mutants(rtl, meta) if m.where == INVERTED)
    inv.id = rows[INVERTED]["id"]
    stage = M.stage_files(meta)[0]
    gold = {stage: tmp_path / "yosys" / f"{M.stage_module(stage)}.il"}
    p = M.prove(rtl, meta, inv, gold, tmp_path / "proof", 120)
    assert p.status == "non-equivalent", p
    codes = p.counterexample["codes"]
    assert len(codes) == design.n_inputs
    assert mutation._check_kill(tmp_path / "bulk" / "bulk_tb", tmp_path / "rtl", design, codes, g.threshold_raw, inv.id)


@pytest.mark.parametrize("args, needle", [(["--design", "no-such-design"], "no-such-design"),
                                          (["--design", "classifier", "--mutants", "0"], "--mutants")])
def test_bad_input_is_one_line(args: list[str], needle: str) -> None:
    from click.testing import CliRunner

    from pixvae import cli

    res = CliRunner().invoke(cli.main, ["mutate", *args])
    assert res.exit_code == 2, res.output
    errors = [ln for ln in res.output.splitlines() if ln.lower().startswith("error")]
    assert len(errors) == 1 and needle in errors[0], res.output
