"""Checks a command makes before its work starts (issue 24): output paths it could not write, and
measurement sizes whose time or memory this machine cannot give. A refusal is a click.BadParameter
naming the option, which the CLI's group (OneLineGroup, here too) prints as one `error: ...` line
with exit status 2, as it prints click's own usage errors."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # the CLI imports this module for its callbacks: keep its start-up light
    from model.description.design import Design

PILOT_TRACKS = 1000  # tracks generated to time this machine before a large measurement (about 0.3 s)
WARM_UP_TRACKS = 20  # generated first: the first call pays one-off costs (8 ms a track against 0.25)
NO_PILOT_TRACKS = 300_000  # at most this many in all (the paper's 5 x 55,000 included) are not timed first
MAX_HOURS = 24.0  # the longest measurement `evaluate` / `report` start without --max-hours
MEMORY_SHARE = 0.8  # of the memory available now that a measurement's arrays may take


class UsageLine(click.ClickException):
    """Click's own usage and parameter errors in the style of every other error: one line, exit 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class OneLineGroup(click.Group):
    """A group whose (and whose subcommands') click errors print as `error: <one line>`, exit 2, instead of
    click's "Usage: ... Error: ..." block, so that every refusal reads the same."""

    @staticmethod
    def _one_line(e: click.ClickException) -> click.ClickException:
        if isinstance(e, UsageLine) or type(e).__name__ == "NoArgsIsHelpError":  # bare `pixvae`: its help
            return e
        msg = " ".join(e.format_message().split())
        ctx = getattr(e, "ctx", None)
        return UsageLine(f"{msg} (see `{ctx.command_path} --help`)" if isinstance(e, click.UsageError) and ctx
                         else msg)

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.ClickException as e:
            raise self._one_line(e) from e

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as e:
            raise self._one_line(e) from e


def _first_existing(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def writable_dir(path: Path, option: str) -> Path:
    """Refuse a folder that is a file, lies under a file, or cannot be created or written in."""
    if path.exists() and not path.is_dir():
        raise click.BadParameter(f"{path} is a file, not a folder", param_hint=option)
    anc = _first_existing(path)
    if not anc.is_dir():
        raise click.BadParameter(f"{path} cannot be created: {anc} is a file", param_hint=option)
    if not os.access(anc, os.W_OK | os.X_OK):
        what = "is not writable" if anc == path.absolute() else f"cannot be created: {anc} is not writable"
        raise click.BadParameter(f"{path} {what}", param_hint=option)
    return path


def writable_file(path: Path, option: str) -> Path:
    """Refuse a file path that is a folder, an existing read-only file, or in a folder that cannot be written."""
    if path.is_dir():
        raise click.BadParameter(f"{path} is a folder, not a file", param_hint=option)
    if path.exists() and not os.access(path, os.W_OK):
        raise click.BadParameter(f"{path} is not writable", param_hint=option)
    writable_dir(path.parent, option)
    return path


def dir_callback(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """click callback: an output folder option, checked while the command line is parsed."""
    return None if value is None else writable_dir(value, param.opts[0])


def file_callback(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """click callback: an output file option, checked while the command line is parsed."""
    return None if value is None else writable_file(value, param.opts[0])


def available_memory() -> int:
    """Bytes the kernel says a new allocation can take now (MemAvailable), else the physical memory."""
    from model.data.release_reader import available_memory as mem_available

    return mem_available() or os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def measurement_tracks(design: Design, sizes: dict[str, int]) -> int:
    """Tracks a measurement generates: the test set; a VAE's reference set and one set per defect too."""
    from model.measurements.evaluation import DEFECT_KINDS

    if design.kind != "vae_encoder":
        return sizes["test"]
    return sizes["test"] + sizes["reference"] + len(DEFECT_KINDS) * sizes["defect_each"]


def pilot(design: Design, n: int = PILOT_TRACKS) -> tuple[float, float]:
    """(seconds, bytes) per track of generating and encoding tracks for this design, measured now on
    `n` tracks: the arrays a measurement keeps per track (codes, pT, a VAE's decoder truth)."""
    from model.measurements import evaluation as E

    E.sample(design, WARM_UP_TRACKS, seed=999_998, progress=False)
    started = time.perf_counter()
    s = E.sample(design, n, seed=999_999, progress=False)
    seconds = (time.perf_counter() - started) / n
    kept = sum(a.nbytes for a in (s.codes, s.pt, s.truth_e, s.target_codes) if a is not None)
    return seconds, kept / n


def check_measurement_size(design: Design, sizes: dict[str, int], max_hours: float,
                           rate: tuple[float, float] | None = None) -> str:
    """Refuse (--tracks) a measurement whose generation alone would outlast max_hours or whose kept
    arrays alone would not fit in memory. Both leave out inference, the decoder and the plots, which
    come on top; the time is timed on PILOT_TRACKS (generated in chunks of model.measurements.evaluation.CHUNK,
    a track costs a few percent less). Returns the estimate as a line ("" for at most NO_PILOT_TRACKS
    tracks, minutes and a few hundred MB on any machine this runs on: not worth timing)."""
    n = measurement_tracks(design, sizes)
    if rate is None and n <= NO_PILOT_TRACKS:
        return ""
    sec, nbytes = rate or pilot(design)
    hours, gib = n * sec / 3600, n * nbytes / 2**30
    avail = available_memory() * MEMORY_SHARE / 2**30
    took = f"{hours:,.1f} h" if hours >= 1 else f"{hours * 60:.0f} min"
    est = (f"{n:,} tracks: about {took} of generation alone ({sec * 1e3:.2f} ms a track, measured on "
           f"{PILOT_TRACKS} now) and {gib:,.1f} GiB of arrays ({nbytes:,.0f} bytes a track)")
    if gib > avail:
        raise click.BadParameter(f"{est}; this machine has {avail:,.1f} GiB to give ({MEMORY_SHARE:.0%} of the "
                                 "memory available now); use fewer tracks", param_hint="--tracks")
    if hours > max_hours:
        raise click.BadParameter(f"{est}, more than --max-hours {max_hours:g}; use fewer tracks or raise "
                                 "--max-hours", param_hint="--tracks")
    return est


def check_trace_size(nbytes: int, estimate: str, max_mb: float) -> str:
    """Refuse (--max-mb) a whole-regression trace estimated above max_mb megabytes; `estimate` is the
    line that says how large and from what. Returns it."""
    if nbytes > max_mb * 1e6:
        raise click.BadParameter(f"{estimate}, more than --max-mb {max_mb:g}; trace one vector (--track ID) or "
                                 "raise --max-mb", param_hint="--max-mb")
    return estimate
