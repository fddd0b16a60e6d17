"""The one definition of a passing RTL regression, used by every entry point.

pytest, every `pixvae` command (sim, regress, flow, candidate, bench), the CI scripts and the
C++ bulk path all judge a run here. A run passes only when

- the expected number of vectors was compared (an empty golden set never passes),
- no output field differs from golden and the scoreboard saw no protocol error,
- cocotb's own results file (JUnit XML) exists and records no failed or errored test,
- the latency (cycles x clock period) is within the budget, at the period hw.clock resolved (closed
  by a timing tool for this RTL, given, or assumed: the reason says which).

Anything else is a FAIL with one reason per broken rule. cocotb's runner checks its results file
only under pytest, so the file is read here, always.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "fail_reasons": list(self.reasons)}


def junit_failures(path: Path) -> list[str]:
    """One line per failed or errored test in a cocotb results file; a missing or unreadable
    file is itself a failure (the simulator died before cocotb could write it)."""
    path = Path(path)
    if not path.is_file():
        return [f"cocotb wrote no results file ({path}): the simulation ended abnormally"]
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as e:
        return [f"cocotb results file {path} is unreadable ({e})"]
    cases = list(root.iter("testcase"))
    if not cases:
        return [f"cocotb results file {path} records no test"]
    out = []
    for case in cases:
        for bad in (*case.findall("failure"), *case.findall("error")):
            msg = (bad.get("message") or bad.text or bad.tag).strip().splitlines()
            out.append(f"cocotb test {case.get('name')} {bad.tag}: {msg[0] if msg else bad.tag}")
    return out


def judge(results: dict[str, Any], expected_vectors: int, failures: list[str] | None = None) -> Verdict:
    """Apply the rules above to a regression's results (the testbench's or the bulk harness's)."""
    reasons: list[str] = list(failures or [])  # a testbench error or failure first: it says the most
    if expected_vectors <= 0:
        reasons.append("no vectors to compare (empty golden set)")
    got = results.get("vectors")
    if got is None:  # nothing else was measured either
        reasons.append("the testbench compared nothing (no results written)")
        return Verdict(False, tuple(reasons))
    if got != expected_vectors:
        reasons.append(f"{got} of {expected_vectors} expected vectors compared")
    for key, what in (("mismatched_fields", "output fields differ from golden"),
                      ("protocol_errors", "protocol errors (lost, duplicated or late outputs)")):
        n = results.get(key)
        if n is None:
            reasons.append(f"{key} not reported")
        elif n:
            reasons.append(f"{n} {what}")
    ns, budget = results.get("latency_ns"), results.get("budget_ns")
    if ns is None or budget is None:
        reasons.append("latency not measured")
    elif ns > budget:
        where = (f"the period closed at {results.get('clock_target')}, {results.get('clock_corner')}"
                 if results.get("clock_closed") else "an assumed period")
        reasons.append(f"latency {results.get('latency_cycles')} cycles x {results.get('clock_period_ns')} ns "
                       f"= {ns} ns exceeds the {budget} ns budget (at {where})")
    if results.get("initiation_interval") != 1:
        reasons.append(f"initiation interval {results.get('initiation_interval')}, expected 1")
    return Verdict(not reasons, tuple(reasons))
