"""The clock period the 25 ns latency check uses, and where it came from.

A design's committed timing report (``golden/<design>/timing.json``, written by `pixvae timing`)
names the target and corner whose closed period the check uses. It applies only to the RTL it
was measured on: the same model hash, the same adder levels per stage and the same exported
sources (sha256). For any other RTL the period is the assumed default, and every summary says so
plainly; a period given on the command line says that instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hw import params
from hw import rtl as R
from model.description.design import Design

REPORT_FILE = "timing.json"
FORMAT_VERSION = 2  # 2: standard-cell results per library, each corner with and without a wire-load model
READABLE_VERSIONS = (1, 2)  # only `check` and the RTL's identity are read here, the same in both


class ClockError(RuntimeError):
    """A committed timing report that cannot be read (message is one line)."""


@dataclass(frozen=True)
class Clock:
    period_ns: float
    source: str  # one line, for summaries: which tool closed it, at which target and corner, or "assumed"
    closed: bool  # a timing tool closed this period on exactly this RTL
    target: str | None = None
    corner: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"clock_period_ns": self.period_ns, "clock_source": self.source, "clock_closed": self.closed,
                "clock_target": self.target, "clock_corner": self.corner}


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def report_path(design: Design) -> Path:
    return design.path / REPORT_FILE


def load_report(path: Path) -> dict[str, Any] | None:
    """A timing report, or None when there is none; a corrupt one is an error naming the file."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
        check = doc["check"]
        float(check["period_ns"])
        ok = doc.get("format_version") in READABLE_VERSIONS and all(
            k in doc for k in ("design", "model_hash", "adder_levels", "rtl_sha256"))
    except (OSError, ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise ClockError(f"{path}: not a timing report of format {FORMAT_VERSION} (write it with `pixvae timing`)")
    return doc


def why_stale(doc: dict[str, Any], meta: R.RtlMeta, rtl_sha256: str) -> str | None:
    """Why a timing report does not describe this RTL, or None when it does."""
    if doc["design"] != meta.design:
        return f"it is design {doc['design']}'s"
    if doc["model_hash"] != meta.model_hash:
        return f"it was made for model {doc['model_hash'][:12]}, this RTL is model {meta.model_hash[:12]}"
    if doc["adder_levels"] != meta.adder_levels_per_stage:
        return (f"it was made at {doc['adder_levels']} adder levels per stage, "
                f"this RTL has {meta.adder_levels_per_stage}")
    if doc["rtl_sha256"] != rtl_sha256:
        return "the exported sources differ from the ones it timed"
    return None


def resolve(design: Design, rtl_dir: Path, override_ns: float | None = None, run_report: Path | None = None,
            run_note: str | None = None) -> Clock:
    """The period for this RTL: given, closed by a tool (the committed report, else `run_report`:
    the one `pixvae flow` wrote for the RTL it built), or the assumed default; `run_note` says why
    a run has no report of its own (no library folder), for the summary."""
    if override_ns is not None:
        params.check(clock_ns=override_ns)
        return Clock(float(override_ns), "given on the command line (--clock-ns); not closed by a timing tool", False)
    meta = R.load_meta(rtl_dir)
    path = report_path(design)
    doc = load_report(path)
    assumed = f"{params.CLOCK_PERIOD_NS} ns assumed, not closed by a timing tool"
    digest = R.sources_sha256(rtl_dir, meta)
    stale = why_stale(doc, meta, digest) if doc is not None else "none"
    own = load_report(run_report) if run_report is not None and stale else None
    if own is not None and why_stale(own, meta, digest) is None:
        c = own["check"]
        return Clock(float(c["period_ns"]), f"closed by {c['tool']} for {c['target']}, {c['corner']} "
                                            f"({_shown(Path(run_report))}: this run's RTL)", True, c["target"],
                     c["corner"])
    assumed += f"; {run_note}" if run_note else ""
    if doc is None:
        return Clock(params.CLOCK_PERIOD_NS, f"{assumed} (no {_shown(path)}; "
                                             f"run `pixvae timing --design {design.name}`)", False)
    if stale:
        c = doc["check"]
        return Clock(params.CLOCK_PERIOD_NS, f"{assumed} ({path.name} does not apply: {stale}; it closed "
                                             f"{c['period_ns']} ns at {c['target']}, {c['corner']}; run "
                                             f"`pixvae timing --design {design.name}` for this RTL)", False)
    c = doc["check"]
    return Clock(float(c["period_ns"]),
                 f"closed by {c['tool']} for {c['target']}, {c['corner']} "
                 f"({_shown(path)}, model {doc['model_hash'][:12]})",
                 True, c["target"], c["corner"])
