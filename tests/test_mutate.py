"""The mutation campaign's machinery on a few chosen mutants of the classifier (the design that
builds fastest): one Verilator build behind +mutsel, kills by the bulk harness and by the cocotb
protocol tests, and a SAT proof of an equivalent mutant. Full campaigns are `pixvae mutate`."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from hw import golden as G
from hw import mutate as M
from hw import netlist_forms as NF
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
    # --recheck: an earlier campaign's non-equivalent survivor, run again on a golden set through this build.
    again = mutation.recheck(g, tmp_path, {"survivors": [{"id": rows[GATING]["id"], "status": "non-equivalent"}]})
    assert list(again) == [rows[GATING]["id"]] and again[rows[GATING]["id"]]

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


# ---------------------------------------------------------------- the interval argument (hw/netlist_forms.py)

def _core_fields(top: str, core_out: np.ndarray) -> dict[str, np.ndarray]:
    """The wrapper's core_<field> words from the core's output bits (its concatenations of core_out
    slices and zero bits), as the RTL wires them."""
    out: dict[str, np.ndarray] = {}
    for m in re.finditer(r"assign core_(\w+)\[(\d+):(\d+)\] = \{(.*)\};", top):
        value = np.zeros(len(core_out), dtype=object)
        for part in re.findall(r"\{(\d+)\{1'b0\}\}|core_out\[(\d+)(?::(\d+))?\]", m[4]):
            zeros, h, low = part
            width = int(zeros) if zeros else int(h) - int(low or h) + 1
            bits = 0 if zeros else (core_out >> int(low or h)) & ((1 << width) - 1)
            value = (value << width) | bits
        out[m[1]] = out.get(m[1], np.zeros(len(core_out), dtype=object)) | (value << int(m[3]))
    return out


def test_netlist_forms_compute_the_golden_vectors(design: D.Design, golden: G.Golden, rtl_dir: Path) -> None:
    """The model behind the interval argument is the RTL's arithmetic: evaluated from the forms, every
    committed design's stage gives every golden vector's latents, score or outputs bit for bit."""
    stage = NF.Stage((rtl_dir / "src" / "pixel_encoder_core_stage0.v").read_text(), NF.Nodes(),
                     NF.load_tables(rtl_dir / "src" / "pixel_encoder_core_tables.v"))
    core_out = stage.evaluate(golden.x, design.input_format.width)
    words = _core_fields((rtl_dir / "pixel_encoder_top.v").read_text(), core_out)
    compared = 0
    for f in design.fields:
        if f.name not in words:  # the decision: the wrapper's compare, not the core's
            continue
        w = f.fmt.width
        for j, col in enumerate(f.columns):
            raw = (words[f.name] >> (j * w)) & ((1 << w) - 1)
            got = np.array([v - (1 << w) if f.fmt.signed and v >> (w - 1) else v for v in raw], dtype=np.int64)
            assert np.array_equal(got, golden.column(col)), f"{design.name} {col}"
            compared += 1
    assert compared >= 1


TINY = """module s (
    input [7:0] model_inp,
    output [4:0] model_out
);
    wire [3:0] v0; assign v0[3:0] = model_inp[3:0];
    wire [3:0] v1; assign v1[3:0] = model_inp[7:4];
    wire [4:0] v2; shift_adder #(4, 4, 0, 0, 5, 0, 0) op_2 (v0[3:0], v1[3:0], v2[4:0]);
    wire [5:0] v3; shift_adder #(5, 4, 0, 0, 6, 0, 1) op_3 (v2[4:0], v1[3:0], v3[5:0]);
    wire [6:0] v4; shift_adder #(6, 5, 1, 0, 7, 0, 1) op_4 (v3[5:0], 5'b{LIMIT}, v4[6:0]);
    wire [4:0] v5; assign v5[4:0] = 'b{LIMIT};
    wire [4:0] v6; mux #(6, 5, 1, 0, 5, 0, 0) op_6 (v4[6], v3[5:0], v5[4:0], v6[4:0]);
    assign model_out[4:0] = v6[4:0];
endmodule
"""


@pytest.mark.parametrize(("limit", "proven"), [(20, True), (10, False)])
def test_interval_argument_sees_through_shared_terms(limit: int, proven: bool) -> None:
    """(x0 + x1) - x1 is x0, at most 15: a clamp at 20 is never taken, so moving its bound is
    equivalent, although each op's own interval (-15..30) says it can be; a clamp at 10 is taken."""
    def stage(bound: int, taken: int) -> str:
        return TINY.replace("5'b{LIMIT}", f"5'b{bound:05b}").replace("'b{LIMIT}", f"'b{taken:05b}")

    assert NF.same_function(stage(limit, limit), stage(limit, limit - 1)) is proven
    nodes = NF.Nodes()
    s = NF.Stage(stage(limit, limit), nodes)
    x = np.array([[a, b] for a in range(16) for b in range(16)], dtype=object)
    assert list(s.evaluate(x, 4)) == [min(a, limit) for a, _b in x]  # the model computes the clamp
    with pytest.raises(NF.FormsError, match="no model for the statement"):
        NF.Stage(stage(limit, limit).replace("    assign model_out", "    assign v9 = v6;\n    assign model_out"),
                 NF.Nodes())


def test_kill_inputs_are_written_for_pixvae_golden(tmp_path: Path) -> None:
    """Only non-equivalent survivors whose input killed them in simulation, each input once, in a CSV
    that the golden stage's reader takes as raw codes."""
    from model.data import inputs as I
    from tb import mutation

    design = D.load("classifier")
    a, b = [i % 4 for i in range(design.n_inputs)], [1] * design.n_inputs

    def surv(i: int, status: str, codes: list[int] | None, kills: bool = True) -> dict:
        return {"id": i, "status": status, "counterexample": {"codes": codes, "kills_in_simulation": kills}}

    res = {"survivors": [surv(1, "non-equivalent", a), surv(2, "non-equivalent", a), surv(3, "unknown", b),
                         surv(4, "non-equivalent", b, kills=False), surv(5, "non-equivalent", None),
                         surv(6, "non-equivalent", b)]}
    path = tmp_path / "kill_inputs.csv"
    assert mutation.write_kill_inputs(res, design, path) == 2
    assert np.array_equal(I.read(design, path, raw=True), np.array([a, b]))
    assert path.read_text().splitlines()[1].startswith("1,0,1,2")
    assert mutation.write_kill_inputs({"survivors": []}, design, tmp_path / "none.csv") == 0
    assert not (tmp_path / "none.csv").exists()
