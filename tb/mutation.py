"""A mutation campaign (MCY's way): the mutants of hw.mutate, all in one Verilator build behind
+mutsel=K, each run on the committed golden vectors through the bulk harness (the protocol mutants
also through the cocotb protocol tests); every survivor then proven equivalent to the original by
a SAT miter, or not, with the input that kills it."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hw import golden as G
from hw import mutate as M
from hw import netlist_forms as NF
from hw import rtl as R
from model.progress import ticking
from tb import bulk

PROTOCOL_TESTS = ["random_gaps", "reset_in_flight", "threshold_flag", "quiet_when_idle_and_no_x"]
RANDOM_TRACKS = 20000  # a kill search among random tracks before a survivor goes to SAT
STATUSES = ("killed", "non-equivalent", "equivalent", "unknown")


def _bulk_kill(exe: Path, g, rtl: Path, k: int, sweep: bool) -> str:
    """'' when mutant k passes the golden regression, else the first reason it fails."""
    try:
        r = bulk.regress(exe, g, rtl, plusargs=(f"+mutsel={k}",), sweep=sweep)
    except bulk.BulkError as e:
        return str(e).splitlines()[0]
    return "" if r["passed"] else (r["first_mismatches"] or r["fail_reasons"] or ["failed"])[0]


def _original_passes(exe: Path, g, sel: Path) -> None:
    """The selector build without a mutant (+mutsel=0) must pass the golden set, or no kill means anything."""
    why = _bulk_kill(exe, g, sel, 0, sweep=True)
    if why:
        raise bulk.BulkError(f"the selector build without a mutant (+mutsel=0) fails the regression: {why}")


def _cocotb_kill(design, rtl: Path, golden_dir: Path, build_dir: Path, work: Path, k: int,
                 tests: list[str]) -> str:
    from tb import runner

    try:
        runner.run(design, rtl, golden_dir, build_dir, testcase=tests, results=work / f"cocotb_m{k}" / "r.json",
                   plusargs=(f"+mutsel={k}",))
    except runner.RegressionFailed as e:
        return str(e).splitlines()[0]
    return ""


def _check_kill(exe: Path, rtl: Path, design, codes: list[int], threshold: int, k: int) -> bool:
    """Whether the counterexample's input, driven through the RTL, gives mutant k other outputs than
    the original (both from the same build)."""
    x = np.array([codes], dtype=np.int64)
    a = bulk.run(exe, rtl, design, x, threshold, ("+mutsel=0",)).y
    b = bulk.run(exe, rtl, design, x, threshold, (f"+mutsel={k}",)).y
    return not np.array_equal(a, b)


def random_tracks(design, n: int = 20000, seed: int = 1) -> np.ndarray:
    """n tracks of input codes for a kill search: dense (uniform codes), sparse (a few hits, as
    tracks are) and the extremes (all zero, all at full scale, one input at full scale)."""
    fmt = design.input_format
    rng = np.random.default_rng(seed)
    m = design.n_inputs
    dense = rng.integers(0, fmt.raw_max + 1, size=(n // 2, m))
    sparse = rng.integers(0, fmt.raw_max + 1, size=(n // 2, m)) * (rng.random((n // 2, m)) < 0.1)
    ext = np.vstack([np.zeros((1, m), int), np.full((1, m), fmt.raw_max), np.eye(m, dtype=int) * fmt.raw_max])
    return np.vstack([ext, dense, sparse]).astype(np.int64)


def random_kill(exe: Path, rtl: Path, design, threshold: int, k: int, x: np.ndarray,
                original: np.ndarray) -> list[int] | None:
    """The first of tracks x on which mutant k's outputs differ from the original's (`original`:
    the outputs of +mutsel=0 on x, from the same build), or None."""
    b = bulk.run(exe, rtl, design, x, threshold, (f"+mutsel={k}",)).y
    bad = np.flatnonzero((original != b).any(axis=1))
    return [int(c) for c in x[bad[0]]] if bad.size else None


def threshold_kill(exe: Path, rtl: Path, design, g, k: int, tries: int = 8) -> dict | None:
    """For a wrapper mutant of the threshold compare: a golden vector and a threshold at, or one
    below, its score on which mutant k's decision differs from the original's, or None."""
    fmt = design.score_format
    for i in range(min(tries, len(g))):
        for thr in (int(g.score[i]), int(g.score[i]) - 1):
            if not fmt.raw_min <= thr <= fmt.raw_max:
                continue
            x = g.x[i:i + 1]
            if not np.array_equal(bulk.run(exe, rtl, design, x, thr, ("+mutsel=0",)).y,
                                  bulk.run(exe, rtl, design, x, thr, (f"+mutsel={k}",)).y):
                return {"golden_vector": i, "codes": [int(c) for c in g.x[i]], "threshold": thr,
                        "kills_in_simulation": True, "found_by": "golden vector at a threshold equal to its score"}
    return None


def select(rtl_dir: Path, meta: R.RtlMeta, n: int, seed: int, work: Path, gold: dict[str, Path],
           yosys_share: float = 0.25, only: Callable[[M.Mutant], bool] | None = None) -> list[M.Mutant]:
    """n mutants (a share of them yosys's netlist mutants), numbered from 1. `only` filters the
    source-level candidates first (a short campaign of chosen kinds)."""
    cands = M.source_mutants(rtl_dir, meta)
    if only is not None:
        cands = [m for m in cands if only(m)]
    n_y = int(round(n * yosys_share))
    muts = M.sample(cands, n - n_y, seed)
    if n_y:
        muts += M.yosys_mutants(gold, n_y, seed, work)
    for i, m in enumerate(muts, 1):
        m.id = i
    return muts


def campaign(design, g, rtl_dir: Path, work: Path, n: int = 200, seed: int = 1, timeout_s: float = 60.0,
             yosys_share: float = 0.25, only: Callable[[M.Mutant], bool] | None = None,
             cocotb: bool = True, log: Callable[[str], None] = print,
             proof_budget_s: float | None = None) -> dict[str, Any]:
    """Run the campaign; the result (per mutant, per kind, totals) is also written to work/campaign.json.
    `proof_budget_s`: wall seconds for all whole-stage proofs together (the rest stay unknown)."""
    t_start = time.monotonic()
    meta = R.load_meta(rtl_dir)
    work.mkdir(parents=True, exist_ok=True)
    ywork = work / "yosys"
    log(f"mutate: {design.name}: flattening the core's stage with yosys")
    with ticking(log, "yosys flatten", every_s=10.0):
        gold = M.prepare_gold(rtl_dir, meta, ywork)
        muts = select(rtl_dir, meta, n, seed, ywork, gold, yosys_share, only)
    kinds = sorted({m.kind for m in muts})
    log(f"mutate: {len(muts)} mutants ({sum(m.source == 'yosys' for m in muts)} from yosys mutate), "
        f"kinds: {', '.join(kinds)}")
    sel = work / "rtl"
    with ticking(log, "writing the selector RTL", every_s=10.0):
        M.write_selector_rtl(rtl_dir, sel, meta, muts, gold, ywork)
    log(f"mutate: one Verilator build of all {len(muts)} mutants ({sel})")
    with ticking(log, "Verilator build", every_s=10.0):
        exe, secs, cached = bulk.build(sel, work / "bulk")
    log(f"mutate: built in {secs:.0f} s{' (cached)' if cached else ''}")
    _original_passes(exe, g, sel)
    # The simulation's verdicts, kept for a rerun of the same mutants on the same RTL and vectors.
    digest = hashlib.sha256((R.sources_sha256(sel, R.load_meta(sel)) + str(cocotb)).encode()
                            + Path(design.vectors_dir, G.VECTORS_FILE).read_bytes()).hexdigest()
    kept = work / "simulated.json"
    old = json.loads(kept.read_text()) if kept.is_file() else {}
    rows: list[dict[str, Any]] = []
    if old.get("sha256") == digest:
        rows = old["rows"]
        log(f"mutate: simulation verdicts of these {len(rows)} mutants reused ({kept})")
    t_last = time.monotonic()
    for i, m in enumerate(muts[len(rows):], len(rows) + 1):
        row: dict[str, Any] = {**m.as_dict(), "killed_by": []}
        why = _bulk_kill(exe, g, sel, m.id, sweep=False) or _bulk_kill(exe, g, sel, m.id, sweep=True)
        if why:
            row["killed_by"].append(f"bulk: {why}")
        if cocotb and m.kind in M.PROTOCOL_KINDS:
            with ticking(log, f"cocotb protocol tests of mutant {m.id}", every_s=10.0):
                why = _cocotb_kill(design, sel, design.vectors_dir, work / "bulk" / "model", work, m.id,
                                   PROTOCOL_TESTS)
            if why:
                row["killed_by"].append(f"cocotb: {why}")
        row["status"] = "killed" if row["killed_by"] else "survived"
        rows.append(row)
        if time.monotonic() - t_last > 5 or i == len(muts):
            done = sum(r["status"] == "killed" for r in rows)
            log(f"mutate: simulated {i}/{len(muts)} mutants, {done} killed")
            t_last = time.monotonic()
            kept.write_text(json.dumps({"sha256": digest, "rows": rows}))
    survivors = [r for r in rows if r["status"] == "survived"]
    log(f"mutate: {len(survivors)} survivors to prove (SAT miter, {timeout_s:.0f} s each at most)")
    by_id = {m.id: m for m in muts}
    proofs: dict[int, M.Proof] = {}
    stage = [by_id[r["id"]] for r in survivors if by_id[r["id"]].file != M.TOP_FILE]
    # Random tracks first (seconds for all): a stage survivor they kill is not equivalent, with its
    # kill input, and needs no proof; SAT gets the rest.
    random_kills: dict[int, list[int]] = {}
    if stage:
        x = random_tracks(design, RANDOM_TRACKS)
        original = bulk.run(exe, sel, design, x, g.threshold_raw, ("+mutsel=0",)).y
        with ticking(log, f"random tracks through {len(stage)} stage survivors", every_s=10.0):
            for m in stage:
                codes = random_kill(exe, sel, design, g.threshold_raw, m.id, x, original)
                if codes is not None:
                    random_kills[m.id] = codes
        log(f"mutate: {len(random_kills)} of {len(stage)} stage survivors killed by {len(x)} random tracks")
    stage = [m for m in stage if m.id not in random_kills]
    # Then the interval argument over the stage's linear forms (hw/netlist_forms.py; a fraction of a
    # second each): a source mutant whose every output has the original's form is equivalent.
    for m in stage:
        t0 = time.monotonic()
        if m.source == "src" and NF.equivalent(rtl_dir / m.file, m.line, m.mutated):
            proofs[m.id] = M.Proof("equivalent", round(time.monotonic() - t0, 2), NF.METHOD)
    if proofs:
        log(f"mutate: {len(proofs)} of {len(stage)} stage survivors equivalent by the interval argument over the "
            "netlist's linear forms")
    stage = [m for m in stage if m.id not in proofs]
    if stage:
        seen = [0]

        def progress(done: int, total: int) -> None:
            if done != seen[0]:
                seen[0] = done
                log(f"mutate: stage proofs {done}/{total} started")

        with ticking(log, f"proving {len(stage)} stage mutants in one yosys run", every_s=10.0):
            deadline = time.monotonic() + proof_budget_s if proof_budget_s else None
            proofs |= M.prove_stage_batch(sel, meta, stage, gold, ywork / "proofs", timeout_s, progress, deadline)
    for j, r in enumerate(survivors, 1):
        m = by_id[r["id"]]
        if m.id in random_kills:
            r.update(status="non-equivalent", proof={"method": "random tracks (no SAT needed)"},
                     counterexample={"codes": random_kills[m.id], "kills_in_simulation": True,
                                     "found_by": f"random simulation ({RANDOM_TRACKS} tracks)"})
            log(f"mutate: survivor {j}/{len(survivors)}: mutant {m.id} ({m.kind}, {m.file}:{m.line} {m.where}): "
                "non-equivalent (random tracks)")
            continue
        if m.id not in proofs:
            with ticking(log, f"proof of mutant {m.id}", every_s=10.0):
                proofs[m.id] = M.prove(rtl_dir, meta, m, gold, ywork / "proofs", timeout_s)
        p = proofs[m.id]
        r.update(status=p.status, proof={"method": p.method, "seconds": p.seconds, "note": p.note},
                 counterexample=p.counterexample)
        if p.counterexample.get("codes"):
            r["counterexample"]["kills_in_simulation"] = _check_kill(exe, sel, design, p.counterexample["codes"],
                                                                     g.threshold_raw, m.id)
            r["counterexample"]["found_by"] = "SAT model"
        elif p.status == "non-equivalent" and m.kind.startswith("comparator"):
            kill = threshold_kill(exe, sel, design, g, m.id)
            if kill:  # the SAT trace's score and threshold, realised by a golden vector
                r["counterexample"]["kill"] = kill
        log(f"mutate: survivor {j}/{len(survivors)}: mutant {m.id} ({m.kind}, {m.file}:{m.line} {m.where}): "
            f"{r['status']}")
    result = {"design": design.name, "model_hash": meta.model_hash, "mutants": len(rows), "seed": seed,
              "proof_timeout_s": timeout_s, "proof_budget_s": proof_budget_s,
              "seconds": round(time.monotonic() - t_start, 1),
              "totals": summarise(rows), "by_kind": {k: summarise([r for r in rows if r["kind"] == k]) for k in kinds},
              "survivors": [r for r in rows if r["status"] != "killed"], "rows": rows}
    (work / "campaign.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def recheck(g, work: Path, result: dict[str, Any]) -> dict[int, str]:
    """The non-equivalent survivors of an earlier campaign (`result`, made in `work`) run again on the
    golden set `g` through that campaign's own build: mutant id -> the first reason it now fails ('':
    it still survives)."""
    exe, sel = work / "bulk" / "bulk_tb", work / "rtl"
    if not exe.is_file() or not (sel / R.META_FILE).is_file():
        raise bulk.BulkError(f"{work}: no campaign build here (run pixvae mutate for this design first)")
    if R.load_meta(sel).model_hash != g.manifest.get("model_hash"):
        raise bulk.BulkError(f"{work}: the campaign's build is of another model than the golden set's")
    _original_passes(exe, g, sel)
    ids = [r["id"] for r in result["survivors"] if r["status"] == "non-equivalent"]
    return {k: _bulk_kill(exe, g, sel, k, sweep=False) or _bulk_kill(exe, g, sel, k, sweep=True) for k in ids}


def kill_inputs(result: dict[str, Any]) -> list[tuple[int, list[int]]]:
    """(mutant id, input codes) of every non-equivalent survivor whose input was checked to kill it in
    simulation: what `pixvae golden --kill-inputs` appends to the golden set. One row per distinct input."""
    seen: set[tuple[int, ...]] = set()
    out = []
    for r in result["survivors"]:
        cex = r.get("counterexample") or {}
        if r["status"] == "non-equivalent" and cex.get("codes") and cex.get("kills_in_simulation"):
            key = tuple(cex["codes"])
            if key not in seen:
                seen.add(key)
                out.append((r["id"], list(key)))
    return out


def write_kill_inputs(result: dict[str, Any], design, path: Path) -> int:
    """kill_inputs(result) as a CSV that `pixvae golden --kill-inputs` reads (columns mutant, x00..);
    returns the rows written (none: no file)."""
    kills = kill_inputs(result)
    if kills:
        rows = [",".join(map(str, [k, *c])) for k, c in kills]
        path.write_text("\n".join([",".join(["mutant", *design.x_columns]), *rows]) + "\n")
    return len(kills)


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    c = {s: sum(r["status"] == s for r in rows) for s in STATUSES}
    live = len(rows) - c["equivalent"]
    return {"mutants": len(rows), **c, "kill_rate": round(c["killed"] / live, 3) if live else None}


def table(result: dict[str, Any]) -> str:
    """The campaign's figures per kind, for people."""
    head = f"{'kind':<18} {'mutants':>7} {'killed':>7} {'non-eq':>7} {'equiv':>6} {'unknown':>7} {'killed/non-eq.':>15}"
    lines = [f"mutation campaign of {result['design']} (model {result['model_hash'][:12]}), "
             f"{result['mutants']} mutants, seed {result['seed']}", head, "-" * len(head)]

    def line(name: str, s: dict[str, Any]) -> str:
        ratio = f"{s['killed']}/{s['mutants'] - s['equivalent']}"
        return (f"{name:<18} {s['mutants']:>7} {s['killed']:>7} {s['non-equivalent']:>7} {s['equivalent']:>6} "
                f"{s['unknown']:>7} {ratio:>15}")

    for k, s in result["by_kind"].items():
        lines.append(line(k, s))
    lines += ["-" * len(head), line("total", result["totals"])]
    surv = result["survivors"]
    if surv:
        lines.append("survivors:")
    for r in surv:
        cex = r.get("counterexample") or {}
        kill = ""
        if cex.get("codes"):
            kill = f"; kill input codes {cex['codes']}" + ("" if cex.get("kills_in_simulation") else
                                                          " (did NOT kill in simulation)")
        elif cex.get("kill"):
            kill = (f"; killed by golden vector {cex['kill']['golden_vector']} at threshold {cex['kill']['threshold']} "
                    f"(its score); SAT trace in the JSON")
        elif cex.get("trace"):
            kill = f"; kill trace {json.dumps(cex['trace'])}"
        lines.append(f"  #{r['id']} {r['kind']} {r['file']}:{r['line']} {r['where']}: {r['status']}{kill}")
    return "\n".join(lines)
