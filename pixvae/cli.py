"""Command line: `pixvae flow` runs every stage; each stage is also a subcommand."""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from hw import params
from model.description.design import DEFAULT_DESIGN
from pixvae import preflight
from pixvae.paths import RunPaths
from pixvae.preflight import OneLineGroup, dir_callback, file_callback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the logs


def _known_errors() -> tuple[type[BaseException], ...]:
    from hw.clock import ClockError
    from hw.golden import GoldenError
    from hw.hls import HlsError
    from hw.mutate import MutateError
    from hw.params import ParameterError
    from hw.rtl import RtlError
    from hw.synth import SynthError
    from hw.timing import TimingError
    from hw.toolchain import ToolchainError
    from model.data.inputs import InputsError
    from model.description.design import DesignError
    from model.description.keras_import import KerasImportError
    from model.fixed.decoder import DecoderError
    from model.fixed.reference import ReferenceError
    from model.networks.offchip import OffchipError
    from pixvae.measure import MetricsError
    from tb.bulk import BulkError
    from tb.coverage import CoverageError

    errs: list[type[BaseException]] = [GoldenError, HlsError, ToolchainError, ReferenceError, BulkError, CoverageError,
                                       ParameterError, RtlError, DesignError, SynthError, TimingError, ClockError,
                                       DecoderError, MetricsError, OffchipError, FileNotFoundError, InputsError,
                                       KerasImportError, MutateError]
    try:
        from model.data.dataformat import DataFormatError

        errs.append(DataFormatError)
    except ImportError:
        pass
    return tuple(errs)


def one_line_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Known problems end with `error: <one line>` on stderr and exit status 2, not a traceback; no
    command is silent for more than 10 s (pixvae.heartbeat)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from pixvae.heartbeat import heartbeat
        from tb.runner import RegressionFailed

        try:
            with heartbeat():  # a line after every 8 s of silence, naming the phase it is in
                return fn(*args, **kwargs)
        except RegressionFailed as e:  # a check that ran and failed: exit 1, as a failed regression
            click.echo(f"error: {str(e).splitlines()[0]}", err=True)
            sys.exit(1)
        except _known_errors() as e:
            click.echo(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", err=True)
            sys.exit(2)

    return wrapper


run_dir_opt = click.option("--run-dir", type=click.Path(path_type=Path), default=None, callback=dir_callback,
                           help="Where every stage writes [default: runs/DESIGN].")
reference_opt = click.option("--reference", type=click.Path(path_type=Path), default=None,
                             help="Reference model directory [default: RUN_DIR/reference].")
design_opt = click.option("--design", "design_name", default=DEFAULT_DESIGN, show_default=True,
                          help="A design name (golden/NAME/design.toml) or a design folder; see `pixvae designs`.")
# Periods, budgets and adder levels that make a run meaningless are refused before any work.
POSITIVE = click.FloatRange(min=0, min_open=True)
clock_opt = click.option("--clock-ns", type=POSITIVE, default=None,
                         help="Clock period the latency is checked with against the budget [default: the period "
                              "closed by a timing tool in golden/DESIGN/timing.json when it applies to this RTL, "
                              f"else an assumed {params.CLOCK_PERIOD_NS} ns; the summary says which].")
budget_opt = click.option("--budget-ns", type=POSITIVE, default=None,
                          help="Latency budget [default: the design's [rtl] budget_ns, else "
                               f"{params.LATENCY_BUDGET_NS:g} ns, one 40 MHz bunch crossing].")
profile_opt = click.option("--profile", default="short", show_default=True,
                           help="Training profile, one of the design's [training.profiles] (tiny: a smoke test of "
                                "the flow, not a model; short; paper, or thesis for the JointVAE).")
failure_waves_opt = click.option("--failure-waves/--no-failure-waves", default=True, show_default=True,
                                 help="On a failure, draw the first failing vector's waveform (a traced Verilator "
                                      "build, minutes when not cached) after printing the verdict.")
exact_budget_opt = click.option("--exact-budget", "exact_budget", type=click.FloatRange(min=1), default=30.0,
                                show_default=True,
                                help="Seconds for all the directed set's exact programs together (tb/corners.py; "
                                     "5 s each at most); targets left open are listed in the manifest.")
failure_format_opt = click.option("--failure-waves-format", "failure_format", type=click.Choice(["fst", "vcd"]),
                                  default="fst", show_default=True,
                                  help="The failing vector's waveform file: dump.fst, or dump.vcd for a tool that "
                                       "reads only VCD.")


def failure_waves_opts(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--failure-waves/--no-failure-waves and --failure-waves-format."""
    return failure_waves_opt(failure_format_opt(fn))


inputs_opt = click.option("--inputs", type=click.Path(path_type=Path), default=None,
                          help="The design's inputs, .npy or .csv: real values (quantized to the input format) "
                               "or, with --raw or a CSV with columns x00.., raw integer codes.")
raw_opt = click.option("--raw", is_flag=True, help="--inputs holds raw integer codes, not real values.")
levels_opt = click.option("--adder-levels", type=click.IntRange(min=1), default=None,
                          help="Adder levels per pipeline stage (da4ml latency cutoff) [default: the design's "
                               "[rtl] adder_levels, chosen from closed timing by `pixvae timing`].")


class MainGroup(OneLineGroup):
    """`pixvae data` (model/data/data_cli.py) is imported only when it is asked for: its track generator
    imports scipy.stats, most of a second of every other command's start."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), "data"])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == "data":
            from model.data.data_cli import data

            return data
        return super().get_command(ctx, cmd_name)


@click.group(cls=MainGroup)
def main() -> None:
    """Co-simulation harness for on-chip pixel-detector networks: QKeras -> hls4ml -> Verilog -> cocotb."""


def _design(name: str):
    from model.description import design as D

    return D.load(name)


def _run(run_dir: Path | None, design, root: str = "runs") -> RunPaths:
    return RunPaths(run_dir or Path(root) / design.name)


def _ref(design, reference: Path | None, run: RunPaths):
    from model.fixed import reference as refmod

    return refmod.load(reference or run.reference, design)


@main.group(invoke_without_command=True)
@click.option("--update", "update_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Rewrite the designs table between FILE's markers (README.md) from the committed files.")
@click.pass_context
@one_line_errors
def designs(ctx: click.Context, update_file: Path | None) -> None:
    """The designs (golden/*/design.toml) and their committed figures: the table README.md shows.

    `designs new` adds one from a description."""
    if ctx.invoked_subcommand:
        return
    from pixvae import designs_table

    if update_file:
        changed = designs_table.update(update_file)
        click.echo(f"{update_file}: designs table {'rewritten' if changed else 'already current'}")
        return
    click.echo(designs_table.markdown(committed_only=True), nl=False)
    others = designs_table.uncommitted()
    if others:
        click.echo(f"\nDescribed, with no committed reference, vectors and timing report yet: {', '.join(others)} "
                   "(`pixvae flow --design NAME` runs one)")


@designs.command("new")
@click.argument("name")
@click.option("--from", "source", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A design description (TOML) to start from; its 'name' is set to NAME.")
@click.option("--from-keras", "keras_model", type=click.Path(path_type=Path), default=None,
              help="A QKeras model (.h5, .keras or a SavedModel folder): its layers and quantizers become the "
                   "description, its quantized weights the reference (golden/NAME/reference), no training.")
@click.option("--input-format", default=None,
              help="--from-keras: the inputs' format, e.g. 'fixed<16,6>' [default: the model's input quantizer, "
                   "else hls4ml's fixed<16,6>].")
@click.option("--budget-ns", type=POSITIVE, default=params.LATENCY_BUDGET_NS, show_default=True,
              help="--from-keras: the latency budget written into the description ([rtl] budget_ns).")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Create the design folder NAME here instead of golden/ (then pass --design ROOT/NAME).")
@one_line_errors
def designs_new(name: str, source: Path | None, keras_model: Path | None, input_format: str | None,
                budget_ns: float, root: Path | None) -> None:
    """Create golden/NAME/design.toml from a description or a QKeras model (checked first; never overwrites)."""
    import re
    import tomllib

    from model.description import design as D

    folder = (root or D.DESIGNS_ROOT) / name
    if (folder / D.DESIGN_FILE).exists():
        raise D.DesignError(f"{folder / D.DESIGN_FILE}: exists already; edit it or choose another name")
    if (source is None) == (keras_model is None):
        raise click.UsageError("give one of --from DESCRIPTION.toml or --from-keras MODEL")
    if keras_model is not None:
        from pixvae import keras_flow

        for line in keras_flow.import_model(name, keras_model, folder, input_format, budget_ns):
            click.echo(line)
        return
    try:
        text = source.read_text()
    except UnicodeDecodeError:
        raise D.DesignError(f"{source}: not a text design description (for a Keras model use --from-keras)") from None
    text, n = re.subn(r'(?m)^name\s*=\s*"[^"]*"', f'name = "{name}"', text, count=1)
    if not n:
        raise D.DesignError(f"{source}: no top-level 'name = \"...\"' line")
    try:
        D.parse(tomllib.loads(text), folder)  # refuse a bad description before writing anything
    except tomllib.TOMLDecodeError as e:
        raise D.DesignError(f"{source}: not valid TOML ({e})") from None
    folder.mkdir(parents=True, exist_ok=False)
    (folder / D.DESIGN_FILE).write_text(text)
    click.echo(f"created {folder / D.DESIGN_FILE}; next: pixvae flow --design {name}")


@main.command()
@design_opt
@run_dir_opt
@profile_opt
@click.option("--data", "data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Train on this dataset (e.g. a `pixvae data import` folder, read from its features.npz) "
                   "instead of generated tracks.")
@click.option("--onto", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Keep the encoder and decoder of this reference (e.g. golden/DESIGN/reference) and train "
                   "only the design's profile check onto it; the result goes to RUN_DIR/reference.")
@one_line_errors
def train(design_name: str, run_dir: Path | None, profile: str, data_dir: Path | None, onto: Path | None) -> None:
    """Train the design's network (and its profile check) on generated tracks (made if needed) or on --data."""
    from pixvae import stages

    design = _design(design_name)
    run = _run(run_dir, design)
    if data_dir is None:
        stages.make_data(run.train_data, int(design.profile(profile)["n_tracks"]), stages.TRAIN_SEED)
    stages.train(design, data_dir or run.train_data, run.reference, profile, onto)


@main.command()
@design_opt
@run_dir_opt
@reference_opt
@levels_opt
@one_line_errors
def export(design_name: str, run_dir: Path | None, reference: Path | None, adder_levels: int | None) -> None:
    """Convert with hls4ml and emit pipelined Verilog through da4ml."""
    from pixvae import stages

    design = _design(design_name)
    run = _run(run_dir, design)
    stages.export(_ref(design, reference, run), run.hls, run.rtl, adder_levels)


@main.command()
@design_opt
@run_dir_opt
@reference_opt
@click.option("--out", type=click.Path(path_type=Path), default=None, callback=dir_callback,
              help="[default: RUN_DIR/golden]")
@inputs_opt
@raw_opt
@click.option("--kill-inputs", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Raw input codes (.csv with columns x00.., or .npy) appended as the set 'kill': inputs that "
                   "kill mutants the other sets let through (`pixvae mutate` writes them).")
@click.option("--onto", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="With --kill-inputs: append them to this golden set (e.g. golden/DESIGN/vectors) instead of "
                   "making every set again; its rows, threshold and directed coverage stay as they are.")
@one_line_errors
def golden(design_name: str, run_dir: Path | None, reference: Path | None, out: Path | None,
           inputs: Path | None, raw: bool, kill_inputs: Path | None, onto: Path | None) -> None:
    """Write golden vectors (never overwrites an existing directory). A design with plain inputs takes
    the user's --inputs plus random and corner sets; a track design, generated tracks; both then get
    the directed set (tb/corners.py) and any --kill-inputs."""
    from hw import golden as G
    from model.data import inputs as I
    from pixvae import stages

    design = _design(design_name)
    run = _run(run_dir, design)
    if reference is None and design.encoding is None:  # an imported design: its reference is in its folder
        reference = design.reference_dir
    out = out or run.golden
    if (out / G.VECTORS_FILE).exists() or (out / G.MANIFEST_FILE).exists():  # refused by G.write too, after the work
        raise G.GoldenError(f"{out}: golden vectors exist already; they are never overwritten (use a new directory)")
    kill = I.read(design, kill_inputs, raw=True) if kill_inputs is not None else None
    if onto is not None and kill is None:
        raise click.BadParameter("--onto appends --kill-inputs; give them", param_hint="--onto")
    ref = _ref(design, reference, run)
    if onto is not None:
        stages.append_kill(ref, onto, out, stages.convert(ref, run.hls), kill)
        return
    if design.encoding is None:
        user = I.read(design, inputs, raw) if inputs is not None else None
        stages.make_golden(ref, None, out, stages.convert(ref, run.hls), user, str(inputs or ""), kill=kill)
        return
    if inputs is not None:
        raise click.BadParameter(f"design {design.name} encodes tracks; --inputs is for plain-input designs",
                                 param_hint="--inputs")
    stages.make_data(run.test_data, stages.TEST_TRACKS, stages.TEST_SEED)
    stages.make_golden(ref, run.test_data, out, stages.convert(ref, run.hls), kill=kill)


def _sim(design, run: RunPaths, ref_dir: Path, golden_dir: Path, clock_ns: float | None,
         adder_levels: int | None, budget_ns: float | None, failure_waves: bool = True,
         failure_format: str = "fst") -> dict[str, Any]:
    from hw.golden import load as load_golden
    from hw.toolchain import setup_verilator_env
    from pixvae import stages

    setup_verilator_env()  # a missing simulator stops here, before any conversion work
    ref = _ref(design, ref_dir, run)
    load_golden(golden_dir, design, expected_hash=ref.model_hash)  # stale or corrupt golden: stop before building
    stages.export(ref, run.hls, run.rtl, adder_levels)
    return stages.simulate(design, run.rtl, golden_dir, run.sim, clock_ns, budget_ns, failure_waves,
                           wave_format=failure_format)


def _finish(results: dict[str, Any], run: RunPaths) -> None:
    from pixvae import stages

    run.root.mkdir(parents=True, exist_ok=True)
    (run.root / "summary.json").write_text(json.dumps(results, indent=2) + "\n")
    click.echo("\n== RTL regression summary ==")
    for line in stages.summary_lines(results):
        click.echo(line)
    if not results.get("passed"):  # tb.verdict's judgement; its reasons were printed above
        fw = results.get("failure_waves") or {}
        where = f" (first failing vector: {fw['waves']}, {fw.get('png')})" if "waves" in fw else ""
        click.echo(f"error: RTL regression FAILED: {'; '.join(results.get('fail_reasons', [])[:3])}{where}", err=True)
        sys.exit(1)


@main.command()
@design_opt
@run_dir_opt
@reference_opt
@click.option("--golden", "golden_dir", type=click.Path(path_type=Path), default=None,
              help="[default: RUN_DIR/golden]")
@clock_opt
@budget_opt
@levels_opt
@failure_waves_opts
@one_line_errors
def sim(design_name: str, run_dir: Path | None, reference: Path | None, golden_dir: Path | None,
        clock_ns: float | None,
        budget_ns: float | None, adder_levels: int | None, failure_waves: bool, failure_format: str) -> None:
    """Build the RTL under Verilator and run the cocotb regression on golden vectors."""
    design = _design(design_name)
    run = _run(run_dir, design)
    _finish(_sim(design, run, reference or run.reference, golden_dir or run.golden, clock_ns, adder_levels,
                 budget_ns, failure_waves, failure_format), run)


@main.command()
@design_opt
@click.option("--run-dir", type=click.Path(path_type=Path), default=None, callback=dir_callback,
              help="[default: build/regress/DESIGN]")
@clock_opt
@budget_opt
@levels_opt
@failure_waves_opts
@one_line_errors
def regress(design_name: str, run_dir: Path | None, clock_ns: float | None, budget_ns: float | None,
            adder_levels: int | None, failure_waves: bool, failure_format: str) -> None:
    """RTL regression of a design's committed reference model on its committed golden vectors."""
    design = _design(design_name)
    run = _run(run_dir, design, "build/regress")
    _finish(_sim(design, run, design.reference_dir, design.vectors_dir, clock_ns, adder_levels, budget_ns,
                 failure_waves, failure_format), run)


@main.command("rtl-run")
@design_opt
@click.option("--inputs", "inputs", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="The inputs, .npy or .csv: a CSV with columns x00.. holds raw codes (other columns are ignored); "
                   "anything else holds real values quantized to the input format (or raw codes with --raw).")
@raw_opt
@click.option("--out", type=click.Path(path_type=Path), required=True, callback=file_callback,
              help="CSV of the design's output columns.")
@click.option("--threshold", type=int, default=None, help="Score threshold, raw [default: the committed one].")
@click.option("--reference", "ref_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Any reference model directory of this design [default: the committed golden/DESIGN/reference].")
@click.option("--keras", "keras_model", type=click.Path(exists=True, path_type=Path), default=None,
              help="The Keras model the design was imported from: the RTL's outputs must equal its predict, "
                   "hls4ml's C simulation and the numpy integer model on these inputs (exit 1 otherwise).")
@click.option("--run-dir", type=click.Path(path_type=Path), default=None, callback=dir_callback,
              help="[default: build/regress/DESIGN, or build/rtl-run/DESIGN-HASH with --reference]")
@one_line_errors
def rtl_run(design_name: str, inputs: Path, raw: bool, out: Path, threshold: int | None, ref_dir: Path | None,
            keras_model: Path | None, run_dir: Path | None) -> None:
    """Run any inputs through a design's RTL (the C++ bulk harness, not Python) and write its outputs."""
    import pandas as pd

    from hw.golden import load as load_golden
    from model.data import inputs as I
    from pixvae import stages
    from tb import bulk

    design = _design(design_name)
    ref = _ref(design, ref_dir or design.reference_dir, _run(run_dir, design, "build/regress"))
    run = (_run(run_dir, design, "build/regress") if ref_dir is None or run_dir is not None
           else RunPaths(Path("build/rtl-run") / f"{design.name}-{ref.model_hash[:12]}"))
    if keras_model is not None and design.has_score and design.score != "network":
        raise click.BadParameter(f"design {design.name} adds a {design.score} score to its network; --keras "
                                 "compares a network's own outputs (score none or network)", param_hint="--keras")
    if threshold is None and design.has_score:
        threshold = load_golden(design.vectors_dir, design, expected_hash=ref.model_hash).threshold_raw
    fmt = design.score_format
    if design.has_score and not fmt.raw_min <= threshold <= fmt.raw_max:
        raise bulk.BulkError(f"--threshold {threshold} does not fit {fmt.hls(False)} "
                             f"(raw {fmt.raw_min}..{fmt.raw_max})")
    codes = bulk.check_codes(design, I.read(design, inputs, raw), str(inputs))
    stages.export(ref, run.hls, run.rtl)
    exe = bulk.build(run.rtl, run.root / "bulk_build")[0]
    res = bulk.run(exe, run.rtl, design, codes, threshold or 0)
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(res.y, columns=design.output_columns).to_csv(out, index=False)
    click.echo(f"{len(codes)} inputs through the {design.name} RTL (model {ref.model_hash[:12]}) -> {out}"
               + (f" (threshold {threshold} raw)" if design.has_score else ""))
    if keras_model is not None:
        from pixvae import keras_flow

        last = res.y if not design.has_score else res.y[:, [design.output_columns.index("score")]]
        lines, bad = keras_flow.check_against_keras(design, ref, keras_model, codes, last, run.hls)
        for line in lines:
            click.echo(line)
        if bad:
            click.echo(f"error: the RTL differs from {keras_model} on {bad} outputs", err=True)
            sys.exit(1)
        click.echo(f"bit-exact: the RTL equals {keras_model}'s predict, hls4ml's C simulation and the numpy "
                   f"integer model on all {last.size} outputs")


@main.command("coverage")
@design_opt
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="JSON report [default: build/coverage/DESIGN/coverage.json].")
@click.option("--sat-budget", type=click.FloatRange(min=0), default=120.0, show_default=True,
              help="Seconds for yosys sat proofs of never-toggled bits (0: the wrapper's assignments and opt only).")
@one_line_errors
def coverage(design_name: str, out: Path | None, sat_budget: float) -> None:
    """Line and toggle coverage (Verilator) of the committed RTL under the golden vectors at every
    threshold of the regression's sweep; never-toggled bits split into constant by construction
    (with the proof's method) and not proven constant."""
    from hw.golden import load as load_golden
    from hw.synth import yosys_exe
    from hw.toolchain import setup_verilator_env
    from pixvae import stages
    from tb import coverage as cov

    design = _design(design_name)
    setup_verilator_env()
    yosys_exe()  # missing tools stop here, before any work
    run = _run(None, design, "build/regress")  # the RTL `pixvae regress` exports
    ref = _ref(design, design.reference_dir, run)
    g = load_golden(design.vectors_dir, design, expected_hash=ref.model_hash)
    work = Path("build/coverage") / design.name
    out = out or work / "coverage.json"
    if out.is_dir():
        raise cov.CoverageError(f"--out {out}: a directory, not a JSON file")
    stages.export(ref, run.hls, run.rtl)
    res = cov.measure(design, run.rtl, g, work, sat_budget_s=sat_budget)
    res["functional"] = cov.functional(ref.network, g)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    click.echo(f"\n== RTL code coverage: {design.name} ==")
    for line in cov.summary_lines(res):
        click.echo(line)
    click.echo(f"written: {out}")


@main.command("waves")
@design_opt
@click.option("--run-dir", type=click.Path(path_type=Path), default=None, callback=dir_callback,
              help="[default: build/regress/DESIGN]")
@click.option("--track", type=int, default=None,
              help="Golden vector id to record alone and draw as a PNG [default: the whole regression, no PNG].")
@click.option("--vcd", is_flag=True, help="Write dump.vcd instead of dump.fst (for a tool that reads only VCD).")
@click.option("--all-signals", is_flag=True,
              help="Trace the da4ml core's generated wires too (v0.., op_N: tens of thousands of anonymous "
                   "signals) [default: the wrapper, the core's ports and its stage registers].")
@click.option("--max-mb", type=POSITIVE, default=None,
              help="The largest whole-regression trace to write, in MB, estimated first from a trace of 64 "
                   "vectors [default: 200].")
@clock_opt
@levels_opt
@one_line_errors
def waves_cmd(design_name: str, run_dir: Path | None, track: int | None, vcd: bool, all_signals: bool,
              max_mb: float | None, clock_ns: float | None, adder_levels: int | None) -> None:
    """Record waveforms (FST, or VCD with --vcd; readable port names) and render one track's first cycles to PNG."""
    from hw.golden import load as load_golden
    from hw.toolchain import setup_verilator_env
    from pixvae import stages

    setup_verilator_env()
    design = _design(design_name)
    run = _run(run_dir, design, "build/regress")
    ref = _ref(design, design.reference_dir, run)
    g = load_golden(design.vectors_dir, design, expected_hash=ref.model_hash)
    if track is not None and track not in set(g.ids.tolist()):
        raise click.BadParameter(f"vector {track} is not in {design.vectors_dir} (ids {g.ids.min()}..{g.ids.max()})")
    stages.export(ref, run.hls, run.rtl, adder_levels)
    out = run.root / "waves" / (f"track_{track}" if track is not None else "regression")
    stages.waves(design, run.rtl, design.vectors_dir, run.root / "sim_build_waves", out, track, clock_ns,
                 "vcd" if vcd else "fst", all_signals, stages.MAX_TRACE_MB if max_mb is None else max_mb)


@main.command()
@design_opt
@profile_opt
@click.option("--version", default=None, help="Folder name under OUT [default: UTC time + git sha].")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Where versioned candidates go [default: golden/DESIGN/candidates].")
@click.option("--build-root", type=click.Path(path_type=Path), default=None,
              help="Scratch space for the candidate's run [default: build/candidate/DESIGN].")
@exact_budget_opt
@one_line_errors
def candidate(design_name: str, profile: str, version: str | None, out: Path | None, build_root: Path | None,
              exact_budget: float) -> None:
    """Model-change pipeline: retrain, export, new versioned golden folder, RTL regression, change report."""
    from hw.toolchain import setup_verilator_env
    from pixvae import candidate as C

    setup_verilator_env()
    design = _design(design_name)
    dest = C.run(design, profile, version, build_root=build_root or C.BUILD_ROOT / design.name,
                 candidates=out or design.path / "candidates", exact_budget_s=exact_budget)
    click.echo((dest / "CHANGE_REPORT.md").read_text())
    sim = json.loads((dest / "change_report.json").read_text())["candidate_rtl_regression"]
    if not sim["passed"]:
        click.echo(f"error: candidate RTL regression FAILED: {'; '.join(sim.get('fail_reasons', [])[:3])}", err=True)
        sys.exit(1)


@main.command()
@design_opt
@click.option("--run-dir", type=click.Path(path_type=Path), default=None, callback=dir_callback,
              help="[default: build/regress/DESIGN]")
@click.option("--family", default="xcup", show_default=True, help="yosys synth_xilinx family.")
@levels_opt
@one_line_errors
def synth(design_name: str, run_dir: Path | None, family: str, adder_levels: int | None) -> None:
    """Resource estimate of a design's committed model: yosys synth_xilinx beside da4ml's own estimate."""
    from hw import synth as S
    from pixvae import stages

    S.yosys_version()  # a missing yosys stops here, before any export
    design = _design(design_name)
    run = _run(run_dir, design, "build/regress")
    meta = stages.export(_ref(design, design.reference_dir, run), run.hls, run.rtl, adder_levels)
    est = S.estimate(run.rtl, run.root / "synth")
    click.echo(f"\n== resource estimate of {design.name} (model {meta.model_hash[:12]}, "
               f"{meta.latency_cycles} cycles at {meta.adder_levels_per_stage} adder levels per stage) ==")
    click.echo(f"{est['tool']:<40}: {est['luts']} LUT, {est['ffs']} FF, {est['dsps']} DSP, {est['carry']} CARRY"
               f"{' (cached)' if est.get('cached') else ''}")
    click.echo(f"{'da4ml cost model':<40}: {meta.estimated_luts:.0f} LUT, {meta.estimated_ffs} FF")
    click.echo("both are estimates, not a vendor tool's implementation")


def _liberties(values: tuple[str, ...]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for v in values:
        corner, sep, path = v.partition("=")
        if not sep or not corner.isidentifier() or not path:
            raise click.BadParameter(f"{v!r}: expected CORNER=PATH, e.g. slow=nangate45_slow.lib",
                                     param_hint="--liberty")
        out[corner] = Path(path)
    return out


@main.command()
@design_opt
@click.option("--levels", default=None,
              help="Adder levels per stage to try, comma-separated [default: the design's, 8, 16 and 1000 "
                   "(one stage)].")
@click.option("--targets", default="asic,ecp5,xilinx", show_default=True,
              help="Comma-separated: asic (yosys+abc, OpenSTA; needs --liberty), ecp5 (yosys + nextpnr-ecp5, "
                   "minutes), xilinx (yosys synth_xilinx resource estimate).")
@click.option("--liberty", "liberty", multiple=True, metavar="CORNER=PATH",
              help="A liberty file per corner, e.g. --liberty slow=nangate45_slow.lib --liberty "
                   "typical=nangate45_typ.lib; the first one is mapped onto (list the sign-off corner first).")
@click.option("--library", default=None, help="Name of the cell library in the report [default: from the file].")
@click.option("--pdk-dir", default=None, metavar="DIR|none",
              help="ASAP7 library folder, timed at its SS (sign-off), TT and FF (hold) corners beside any --liberty "
                   "[default: ../shared/pdk/asap7 when present; 'none' skips it].")
@click.option("--route-minutes", type=click.FloatRange(min=1), default=40, show_default=True,
              help="Stop ECP5 routing after this long and report the placement's estimate (which closes nothing).")
@click.option("--ecp5-levels", default=None,
              help="Depths to place and route on ECP5 (minutes each) [default: the depth the other targets chose].")
@budget_opt
@click.option("--out", type=click.Path(path_type=Path), default=None, callback=dir_callback,
              help="[default: build/timing/DESIGN]")
@one_line_errors
def timing(design_name: str, levels: str | None, targets: str, liberty: tuple[str, ...], library: str | None,
           pdk_dir: str | None, route_minutes: float, ecp5_levels: str | None, budget_ns: float | None,
           out: Path | None) -> None:
    """Close timing with open tools and choose the pipeline depth: Fmax on ECP5, the standard-cell
    period at each liberty corner, latency in ns per target; writes OUT/timing.json to commit."""
    from hw import closure

    design = _design(design_name)
    budget_ns = design.budget_ns if budget_ns is None else budget_ns
    libs = _liberties(liberty)
    def ints(text: str, option: str) -> list[int]:
        try:
            return sorted({int(v) for v in text.split(",")})
        except ValueError:
            raise click.BadParameter(f"{text!r}: comma-separated integers", param_hint=option) from None

    depths = ints(levels, "--levels") if levels else sorted({design.adder_levels, 8, 16, 1000})
    fpga = ints(ecp5_levels, "--ecp5-levels") if ecp5_levels else None
    wanted = tuple(t for t in targets.split(",") if t)
    from hw import timing as T

    libraries = []
    if libs:
        lib_name = library or re.sub(r"[_-](typ|tt|slow|ss|fast|ff)\w*$", "", next(iter(libs.values())).stem)
        libraries.append(T.liberty_library(libs, lib_name))
    pdk = T.default_pdk_dir() if pdk_dir is None else None if pdk_dir == "none" else Path(pdk_dir)
    if pdk is not None and "asic" in wanted:
        libraries.append(T.asap7_library(pdk))
    closure.check_request(wanted, libraries, sorted(set(depths) | set(fpga or [])))
    out = out or Path("build/timing") / design.name
    ref = _ref(design, design.reference_dir, _run(out, design))
    rep = closure.sweep(ref, sorted(set(depths) | set(fpga or [])), out, wanted, libraries, budget_ns, fpga,
                        route_minutes * 60)
    out.mkdir(parents=True, exist_ok=True)
    (out / "timing.json").write_text(json.dumps(rep, indent=2) + "\n")
    for line in closure.table(rep):
        click.echo(line)
    click.echo(f"\nreport: {out / 'timing.json'}; to make the {budget_ns:g} ns check use it: set [rtl] adder_levels = "
               f"{rep['adder_levels']} in {design.path / 'design.toml'} and commit it as {design.path / 'timing.json'}")


@main.command()
@design_opt
@click.option("--out", type=click.Path(path_type=Path), default=Path("build/bench"), show_default=True,
              callback=dir_callback)
@click.option("--tracks", type=click.IntRange(min=1), default=55_000, show_default=True,
              help="Normal tracks (and x3 defect tracks).")
@one_line_errors
def bench(design_name: str, out: Path, tracks: int) -> None:
    """Print harness speed figures: build times, cocotb vs C++ harness, full test sets through RTL."""
    from hw.toolchain import setup_verilator_env
    from pixvae import bench as B

    setup_verilator_env()
    fig = B.run(_design(design_name), out, tracks)
    click.echo("\n== harness benchmark (this machine; ratios matter more than seconds) ==")
    for line in B.lines(fig):
        click.echo(line)
    if fig["full_mismatched_fields"] or not fig["bulk_golden"]["passed"]:
        click.echo("error: the RTL disagrees with the reference in the benchmark (see above)", err=True)
        sys.exit(1)


@main.command()
@design_opt
@run_dir_opt
@profile_opt
@clock_opt
@budget_opt
@levels_opt
@click.option("--pdk-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="ASAP7 library folder whose SS corner closes this run's clock period [default: "
                   "../shared/pdk/asap7 when present]; 'none' leaves the RTL untimed.")
@exact_budget_opt
@failure_waves_opts
@one_line_errors
def flow(design_name: str, run_dir: Path | None, profile: str, clock_ns: float | None, budget_ns: float | None,
         adder_levels: int | None, pdk_dir: Path | None, exact_budget: float, failure_waves: bool,
         failure_format: str) -> None:
    """Every stage on the bundled default data: data, train, hls4ml, Verilog, golden, Verilator+cocotb."""
    import shutil

    from pixvae import report, stages

    design = _design(design_name)
    run = _run(run_dir, design)
    shutil.rmtree(run.golden, ignore_errors=True)  # this run's own vectors, regenerated with its model
    timed = str(pdk_dir) != "none"  # 'none': the period stays the assumed one, and the summary says so
    if timed and pdk_dir is not None and not pdk_dir.is_dir():
        raise click.BadParameter(f"{pdk_dir}: not a folder", param_hint="--pdk-dir")
    _, _, results = stages.full_run(design, run, profile, run.golden, adder_levels, clock_ns, budget_ns,
                                    failure_waves, timing=timed, pdk_dir=pdk_dir if timed else None,
                                    wave_format=failure_format, exact_budget_s=exact_budget)
    results["report"] = str(report.write(design, run, results))
    _finish(results, run)


committed_ref_opt = click.option("--reference", type=click.Path(path_type=Path), default=None,
                                 help="Reference model directory [default: the committed golden/DESIGN/reference].")
seed_set_opt = click.option("--seed-set", type=click.IntRange(min=0), default=1, show_default=True,
                            help="Which independent seeded sets to generate (the training run measured set 0).")
tracks_opt = click.option("--tracks", type=click.IntRange(min=100), default=None,
                          help="Tracks per set (normal test, each defect, normal reference) [default: the sizes in "
                               "the reference's metrics.json, else 55,000 as the paper]; refused when this machine's "
                               "memory cannot hold them or generating them alone would outlast --max-hours.")
max_hours_opt = click.option("--max-hours", type=POSITIVE, default=preflight.MAX_HOURS, show_default=True,
                             help="Refuse --tracks whose generation alone is estimated (timed on a few tracks "
                                  "first) to take longer.")


def _measure(design_name: str, reference: Path | None, tracks: int | None, seed_set: int, max_hours: float):
    from pixvae import measure

    design = _design(design_name)
    ref_dir = reference or design.reference_dir
    committed = ref_dir / measure.METRICS_FILE
    if tracks:
        sizes = {k: tracks for k in measure.DEFAULT_SIZES}
        est = preflight.check_measurement_size(design, sizes, max_hours)
        if est:
            click.echo(f"{design.name}: {est}")
    elif committed.is_file():
        from model.fixed import reference as refmod

        sizes = measure.load_metrics(committed, refmod.model_hash(ref_dir)).get("sample_sizes", {})
        sizes = {k: int(sizes.get(k, v)) for k, v in measure.DEFAULT_SIZES.items()}
    else:
        sizes = dict(measure.DEFAULT_SIZES)
    return design, ref_dir, measure.run(design, ref_dir, sizes, seed_set)


def measure_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options `evaluate` and `report` share: which model, how many tracks, which seeds."""
    for opt in (max_hours_opt, seed_set_opt, tracks_opt, committed_ref_opt, design_opt):
        fn = opt(fn)
    return fn


def _write_metrics(design, m, path: Path) -> dict[str, Any]:
    from pixvae import measure

    doc = measure.write_metrics(m, path)
    click.echo("\n".join(measure.table(design, doc)))
    return doc


@main.command()
@measure_options
@click.option("--out", type=click.Path(path_type=Path), default=None, callback=file_callback,
              help="metrics.json to write [default: build/evaluate/DESIGN/metrics.json].")
@one_line_errors
def evaluate(design_name: str, reference: Path | None, tracks: int | None, seed_set: int, max_hours: float,
             out: Path | None) -> None:
    """The paper's measurements of a reference model on fresh seeded tracks, checked against the
    metrics.json of its training run (exit 1 when a figure differs by more than measure.agree_sigma
    combined standard errors: 5% false alarms over all the figures compared)."""
    from pixvae import measure

    design, ref_dir, m = _measure(design_name, reference, tracks, seed_set, max_hours)
    out = out or Path("build") / "evaluate" / design.name / measure.METRICS_FILE
    doc = _write_metrics(design, m, out)
    click.echo(f"wrote {out}")
    committed = ref_dir / measure.METRICS_FILE
    if not committed.is_file():
        click.echo(f"no {committed} to check against")
        return
    old = measure.load_metrics(committed, m.model_hash)
    skipped = measure.not_compared(old, doc)
    if skipped:
        click.echo(f"not compared (a classifier fitted on reference sets of {old['sample_sizes'].get('reference')} "
                   f"and {doc['sample_sizes'].get('reference')} tracks): {', '.join(skipped)}")
    bad, n = measure.compare(old, doc)
    if bad:
        for line in bad:
            click.echo(f"DISAGREES: {line}", err=True)
        click.echo(f"error: {len(bad)} figures of {committed} do not hold on fresh tracks", err=True)
        sys.exit(1)
    click.echo(f"agrees with {committed}: {n} figures, each within {measure.agree_sigma(n):.2f} combined standard "
               f"errors ({100 * measure.FALSE_ALARM:g}% false alarms over all {n})")


@main.command()
@design_opt
@click.option("--tracks", type=click.IntRange(min=500), default=15_000, show_default=True,
              help="Normal tracks, and as many per defect; half of each trains the classifier.")
@one_line_errors
def ceiling(design_name: str, tracks: int) -> None:
    """What the design's input codes tell of each defect at all: a classifier trained WITH defect labels
    (model/measurements/ceiling.py), beside the committed on-chip score. A reference, not an on-chip score."""
    from model.fixed import reference as refmod
    from model.measurements import ceiling as C
    from model.measurements.evaluation import DEFECT_KINDS
    from pixvae import measure

    design = _design(design_name)
    committed = design.reference_dir / measure.METRICS_FILE
    ours = (measure.load_metrics(committed, refmod.model_hash(design.reference_dir))  # refused when stale
            if committed.is_file() else {})
    doc = C.supervised(design, tracks)
    click.echo(f"{design.name}: {doc['classifier']}; {tracks} tracks per set")
    for kind in DEFECT_KINDS:
        eff, auc = doc[kind]["ad_eff_at_br90"], doc[kind]["ad_auc"]
        line = (f"  {kind:<11} efficiency at 90% rejection {eff['value']:5.1f} +- {eff['err']:.1f}%, "
                f"AUC {auc['value']:5.1f} +- {auc['err']:.1f}% (held out: {eff['n_signal']} + {eff['n_background']})")
        if kind in ours.get("ad_eff_at_br90", {}):
            n = ours.get("sample_sizes", {}).get("defect_each")
            line += f"; the on-chip score: {ours['ad_eff_at_br90'][kind]:.1f}% ({committed}, {n} tracks a set)"
        click.echo(line)


@main.command()
@click.option("--tracks", type=click.IntRange(min=400), default=6_000, show_default=True,
              help="Generated tracks; the first half trains, the second half is measured.")
@click.option("--parts", default="chain,mlp,percent-error", show_default=True,
              help="Comma-separated: chain (gradient-boosted trees along the chain), mlp (the paper's "
                   "off-detector MLP), percent-error (vae-high's and vae-low's, several definitions).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("build/pileup/pileup.json"), show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@one_line_errors
def pileup(tracks: int, parts: str, out: Path, threads: int) -> None:
    """Where the pT information is lost along the chain, measured step by step (model/measurements/pileup.py)."""
    from model.measurements import pileup as P

    chosen = tuple(p.strip() for p in parts.split(",") if p.strip())
    if not chosen or any(p not in P.PARTS for p in chosen):
        raise click.UsageError(f"--parts: expected some of {', '.join(P.PARTS)}, found '{parts}'")
    doc = P.run(tracks, chosen, threads, log=lambda m: click.echo(m, err=True))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    click.echo("\n".join(P.table(doc)))
    click.echo(f"written {out} ({doc['seconds']:.0f} s)")


@main.command()
@measure_options
@click.option("--out", type=click.Path(path_type=Path), default=None, callback=dir_callback,
              help="Folder for report.html and metrics.json [default: build/report/DESIGN].")
@one_line_errors
def report(design_name: str, reference: Path | None, tracks: int | None, seed_set: int, max_hours: float,
           out: Path | None) -> None:
    """A self-contained HTML report of the paper's measurements (plots embedded), metrics.json beside it."""
    from pixvae import measure, model_report

    design, ref_dir, m = _measure(design_name, reference, tracks, seed_set, max_hours)
    out = out or Path("build") / "report" / design.name
    doc = _write_metrics(design, m, out / measure.METRICS_FILE)
    click.echo(f"report: drawing the plots of {design.name} into {out / 'report.html'} (minutes for a JointVAE)")
    path = model_report.write(design, m, doc, out, ref_dir, log=lambda s: click.echo(s))
    click.echo(f"wrote {path} and {out / measure.METRICS_FILE}")


@main.command()
@design_opt
@click.option("--mutants", type=click.IntRange(min=1, max=30000), default=200, show_default=True,
              help="Mutants in the campaign (a quarter from yosys mutate, the rest source-level; all of the "
                   "wrapper's protocol mutants among them).")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the mutant sample.")
@click.option("--proof-timeout", type=click.IntRange(min=1), default=30, show_default=True,
              help="Seconds the SAT solver may spend on one survivor.")
@click.option("--proof-budget", type=click.IntRange(min=1), default=None,
              help="Wall seconds for all whole-stage proofs together; survivors not reached stay unknown "
                   "[default: no limit].")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JSON of the campaign [default: build/mutate/DESIGN/campaign.json].")
@click.option("--recheck", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Instead of a campaign: run that earlier campaign's non-equivalent survivors (its JSON) on the "
                   "committed golden set, through its own build; exit 1 if any survives.")
@one_line_errors
def mutate(design_name: str, mutants: int, seed: int, proof_timeout: int, proof_budget: int | None,
           out: Path | None, recheck: Path | None) -> None:
    """Mutation campaign (MCY's way) on a design's exported RTL: how many mutants the golden vectors kill."""
    from hw import golden as G
    from hw import synth as S
    from pixvae import stages
    from tb import mutation

    design = _design(design_name)
    if recheck is not None:
        res = json.loads(recheck.read_text())
        g = G.load(design.vectors_dir, design)
        work = _run(None, design, "build/mutate").root / "campaign"  # where the campaign below builds
        click.echo(f"mutate: {recheck}'s non-equivalent survivors on {design.vectors_dir} ({len(g)} vectors), "
                   f"through the build in {work}")
        why = mutation.recheck(g, work, res)
        for k, reason in why.items():
            click.echo(f"  mutant {k}: " + (f"killed: {reason}" if reason else "SURVIVES"))
        alive = [k for k, reason in why.items() if not reason]
        click.echo(f"mutate: {len(why) - len(alive)} of {len(why)} killed by the committed golden set")
        if alive:
            sys.exit(1)
        return
    S.yosys_version()  # a missing yosys stops here, before any export
    run = _run(None, design, "build/mutate")
    ref = _ref(design, design.reference_dir, run)
    g = G.load(design.vectors_dir, design, expected_hash=ref.model_hash)
    stages.export(ref, run.hls, run.rtl)
    res = mutation.campaign(design, g, run.rtl, run.root / "campaign", n=mutants, seed=seed,
                            timeout_s=float(proof_timeout), log=lambda s: click.echo(s),
                            proof_budget_s=proof_budget)
    out = out or run.root / "campaign.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    click.echo("\n" + mutation.table(res))
    click.echo(f"wrote {out}")
    csv = out.with_name("kill_inputs.csv")
    n = mutation.write_kill_inputs(res, design, csv)
    if n:  # the documented route into the golden set is a reviewed commit, never automatic
        click.echo(f"wrote {csv}: the inputs that kill {n} non-equivalent survivors; to add them to the golden set: "
                   f"pixvae golden --design {design.name} --reference {design.reference_dir} --kill-inputs {csv} "
                   f"--onto {design.vectors_dir} --out NEW_FOLDER, copy it in and commit it with the reason; "
                   f"then pixvae mutate --design {design.name} --recheck {out}")


if __name__ == "__main__":
    main()
