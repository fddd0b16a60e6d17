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
from model.design import DEFAULT_DESIGN
from pixvae.paths import RunPaths

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
    from model.decoder import DecoderError
    from model.design import DesignError
    from model.offchip import OffchipError
    from model.reference import ReferenceError
    from pixvae.measure import MetricsError
    from tb.bulk import BulkError

    errs: list[type[BaseException]] = [GoldenError, HlsError, ToolchainError, ReferenceError, BulkError,
                                       ParameterError, RtlError, DesignError, SynthError, TimingError, ClockError,
                                       DecoderError, MetricsError, OffchipError, FileNotFoundError, MutateError]
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
        from tb.runner import RegressionFailed

        try:
            return fn(*args, **kwargs)
        except RegressionFailed as e:  # a check that ran and failed: exit 1, as a failed regression
            click.echo(f"error: {str(e).splitlines()[0]}", err=True)
            sys.exit(1)
        except _known_errors() as e:
            click.echo(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", err=True)
            sys.exit(2)

    return wrapper


run_dir_opt = click.option("--run-dir", type=click.Path(path_type=Path), default=None,
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
budget_opt = click.option("--budget-ns", type=POSITIVE, default=params.LATENCY_BUDGET_NS, show_default=True,
                          help="Latency budget (one 40 MHz bunch crossing).")
profile_opt = click.option("--profile", default="short", show_default=True,
                           help="Training profile, one of the design's [training.profiles] (tiny: a smoke test of "
                                "the flow, not a model; short; paper, or thesis for the JointVAE).")
levels_opt = click.option("--adder-levels", type=click.IntRange(min=1), default=None,
                          help="Adder levels per pipeline stage (da4ml latency cutoff) [default: the design's "
                               "[rtl] adder_levels, chosen from closed timing by `pixvae timing`].")


@click.group()
def main() -> None:
    """Co-simulation harness for on-chip pixel-detector networks: QKeras -> hls4ml -> Verilog -> cocotb."""


try:
    from model.data_cli import data as _data_group

    main.add_command(_data_group, "data")
except ImportError:  # the data CLI is optional while the data module is developed
    pass


def _design(name: str):
    from model import design as D

    return D.load(name)


def _run(run_dir: Path | None, design, root: str = "runs") -> RunPaths:
    return RunPaths(run_dir or Path(root) / design.name)


def _ref(design, reference: Path | None, run: RunPaths):
    from model import reference as refmod

    return refmod.load(reference or run.reference, design)


@main.group(invoke_without_command=True)
@click.pass_context
@one_line_errors
def designs(ctx: click.Context) -> None:
    """List the designs (golden/*/design.toml); `designs new` adds one from a description."""
    if ctx.invoked_subcommand:
        return
    from model import design as D

    click.echo(f"{'design':<14} {'kind':<12} {'inputs':<16} {'layers':<22} {'sparsity':<9} committed reference")
    for name in D.names():
        d = D.load(name)
        layers = " -> ".join([str(d.n_inputs)] + [f"{ly.units}{'r' if ly.activation == 'relu' else ''}"
                                                  for ly in d.layers])
        ref = (d.reference_dir / "weights.json").is_file() and (d.vectors_dir / "vectors.csv").is_file()
        click.echo(f"{d.name:<14} {d.kind:<12} {d.n_inputs} x {d.input_format.hls(False):<9} {layers:<22} "
                   f"{d.sparsity:<9g} {'yes' if ref else 'no'}")


@designs.command("new")
@click.argument("name")
@click.option("--from", "source", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="A design description (TOML) to start from; its 'name' is set to NAME.")
@one_line_errors
def designs_new(name: str, source: Path) -> None:
    """Create golden/NAME/design.toml from a description (checked first; never overwrites)."""
    import re
    import tomllib

    from model import design as D

    folder = D.DESIGNS_ROOT / name
    if (folder / D.DESIGN_FILE).exists():
        raise D.DesignError(f"{folder / D.DESIGN_FILE}: exists already; edit it or choose another name")
    text = source.read_text()
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
@click.option("--out", type=click.Path(path_type=Path), default=None, help="[default: RUN_DIR/golden]")
@one_line_errors
def golden(design_name: str, run_dir: Path | None, reference: Path | None, out: Path | None) -> None:
    """Write golden vectors (never overwrites an existing directory)."""
    from pixvae import stages

    design = _design(design_name)
    run = _run(run_dir, design)
    ref = _ref(design, reference, run)
    stages.make_data(run.test_data, stages.TEST_TRACKS, stages.TEST_SEED)
    stages.make_golden(ref, run.test_data, out or run.golden, stages.convert(ref, run.hls))


def _sim(design, run: RunPaths, ref_dir: Path, golden_dir: Path, clock_ns: float | None,
         adder_levels: int | None, budget_ns: float) -> dict[str, Any]:
    from hw.golden import load as load_golden
    from hw.toolchain import setup_verilator_env
    from pixvae import stages

    setup_verilator_env()  # a missing simulator stops here, before any conversion work
    ref = _ref(design, ref_dir, run)
    load_golden(golden_dir, design, expected_hash=ref.model_hash)  # stale or corrupt golden: stop before building
    stages.export(ref, run.hls, run.rtl, adder_levels)
    return stages.simulate(design, run.rtl, golden_dir, run.sim, clock_ns, budget_ns)


def _finish(results: dict[str, Any], run: RunPaths) -> None:
    from pixvae import stages

    run.root.mkdir(parents=True, exist_ok=True)
    (run.root / "summary.json").write_text(json.dumps(results, indent=2) + "\n")
    click.echo("\n== RTL regression summary ==")
    for line in stages.summary_lines(results):
        click.echo(line)
    if not results.get("passed"):  # tb.verdict's judgement; its reasons were printed above
        fw = results.get("failure_waves") or {}
        where = f" (first failing vector: {fw['vcd']}, {fw.get('png')})" if "vcd" in fw else ""
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
@one_line_errors
def sim(design_name: str, run_dir: Path | None, reference: Path | None, golden_dir: Path | None,
        clock_ns: float | None,
        budget_ns: float, adder_levels: int | None) -> None:
    """Build the RTL under Verilator and run the cocotb regression on golden vectors."""
    design = _design(design_name)
    run = _run(run_dir, design)
    _finish(_sim(design, run, reference or run.reference, golden_dir or run.golden, clock_ns, adder_levels,
                 budget_ns), run)


@main.command()
@design_opt
@click.option("--run-dir", type=click.Path(path_type=Path), default=None, help="[default: build/regress/DESIGN]")
@clock_opt
@budget_opt
@levels_opt
@one_line_errors
def regress(design_name: str, run_dir: Path | None, clock_ns: float | None, budget_ns: float,
            adder_levels: int | None) -> None:
    """RTL regression of a design's committed reference model on its committed golden vectors."""
    design = _design(design_name)
    run = _run(run_dir, design, "build/regress")
    _finish(_sim(design, run, design.reference_dir, design.vectors_dir, clock_ns, adder_levels, budget_ns), run)


@main.command("rtl-run")
@design_opt
@click.option("--inputs", "inputs", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="CSV with columns x00..x{n-1} of raw input codes (other columns are ignored).")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="CSV of the design's output columns.")
@click.option("--threshold", type=int, default=None, help="Score threshold, raw [default: the committed one].")
@click.option("--run-dir", type=click.Path(path_type=Path), default=None, help="[default: build/regress/DESIGN]")
@one_line_errors
def rtl_run(design_name: str, inputs: Path, out: Path, threshold: int | None, run_dir: Path | None) -> None:
    """Run any inputs through a design's RTL (the C++ bulk harness, not Python) and write its outputs."""
    import numpy as np
    import pandas as pd

    from hw.golden import load as load_golden
    from pixvae import stages
    from tb import bulk

    design = _design(design_name)
    run = _run(run_dir, design, "build/regress")
    ref = _ref(design, design.reference_dir, run)
    if threshold is None:
        threshold = load_golden(design.vectors_dir, design, expected_hash=ref.model_hash).threshold_raw
    fmt = design.score_format
    if not fmt.raw_min <= threshold <= fmt.raw_max:
        raise bulk.BulkError(f"--threshold {threshold} does not fit {fmt.hls(False)} "
                             f"(raw {fmt.raw_min}..{fmt.raw_max})")
    try:
        df = pd.read_csv(inputs)
    except (ValueError, pd.errors.ParserError) as e:
        raise bulk.BulkError(f"{inputs}: not a CSV table ({str(e).splitlines()[0]})") from None
    missing = [c for c in design.x_columns if c not in df.columns]
    extra = [c for c in df.columns if c.startswith("x") and c[1:].isdigit() and c not in design.x_columns]
    if missing or extra:
        raise bulk.BulkError(f"{inputs}: design {design.name} takes {design.n_inputs} inputs "
                             f"{design.x_columns[0]}..{design.x_columns[-1]}; "
                             + (f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}"))
    codes = df[design.x_columns].to_numpy()
    if not np.issubdtype(codes.dtype, np.integer):
        raise bulk.BulkError(f"{inputs}: input columns must hold raw integer codes")
    bulk.check_codes(design, codes, str(inputs))
    stages.export(ref, run.hls, run.rtl)
    exe = bulk.build(run.rtl, run.root / "bulk_build")[0]
    res = bulk.run(exe, run.rtl, design, codes, threshold)
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(res.y, columns=design.output_columns).to_csv(out, index=False)
    click.echo(f"{len(codes)} inputs through the {design.name} RTL -> {out} (threshold {threshold} raw)")


@main.command("waves")
@design_opt
@click.option("--run-dir", type=click.Path(path_type=Path), default=None, help="[default: build/regress/DESIGN]")
@click.option("--track", type=int, default=None,
              help="Golden vector id to record alone and draw as a PNG [default: the whole regression, VCD only].")
@clock_opt
@levels_opt
@one_line_errors
def waves_cmd(design_name: str, run_dir: Path | None, track: int | None, clock_ns: float | None,
              adder_levels: int | None) -> None:
    """Record waveforms (VCD, readable port names) and render one track's first cycles to PNG."""
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
    stages.waves(design, run.rtl, design.vectors_dir, run.root / "sim_build_waves", out, track, clock_ns)


@main.command()
@design_opt
@profile_opt
@click.option("--version", default=None, help="Folder name under OUT [default: UTC time + git sha].")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Where versioned candidates go [default: golden/DESIGN/candidates].")
@click.option("--build-root", type=click.Path(path_type=Path), default=None,
              help="Scratch space for the candidate's run [default: build/candidate/DESIGN].")
@one_line_errors
def candidate(design_name: str, profile: str, version: str | None, out: Path | None, build_root: Path | None) -> None:
    """Model-change pipeline: retrain, export, new versioned golden folder, RTL regression, change report."""
    from hw.toolchain import setup_verilator_env
    from pixvae import candidate as C

    setup_verilator_env()
    design = _design(design_name)
    dest = C.run(design, profile, version, build_root=build_root or C.BUILD_ROOT / design.name,
                 candidates=out or design.path / "candidates")
    click.echo((dest / "CHANGE_REPORT.md").read_text())
    sim = json.loads((dest / "change_report.json").read_text())["candidate_rtl_regression"]
    if not sim["passed"]:
        click.echo(f"error: candidate RTL regression FAILED: {'; '.join(sim.get('fail_reasons', [])[:3])}", err=True)
        sys.exit(1)


@main.command()
@design_opt
@click.option("--run-dir", type=click.Path(path_type=Path), default=None, help="[default: build/regress/DESIGN]")
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
@click.option("--route-minutes", type=click.FloatRange(min=1), default=40, show_default=True,
              help="Stop ECP5 routing after this long and report the placement's estimate (which closes nothing).")
@click.option("--ecp5-levels", default=None,
              help="Depths to place and route on ECP5 (minutes each) [default: the depth the other targets chose].")
@budget_opt
@click.option("--out", type=click.Path(path_type=Path), default=None, help="[default: build/timing/DESIGN]")
@one_line_errors
def timing(design_name: str, levels: str | None, targets: str, liberty: tuple[str, ...], library: str | None,
           route_minutes: float, ecp5_levels: str | None, budget_ns: float, out: Path | None) -> None:
    """Close timing with open tools and choose the pipeline depth: Fmax on ECP5, the standard-cell
    period at each liberty corner, latency in ns per target; writes OUT/timing.json to commit."""
    from hw import closure

    design = _design(design_name)
    libs = _liberties(liberty)
    def ints(text: str, option: str) -> list[int]:
        try:
            return sorted({int(v) for v in text.split(",")})
        except ValueError:
            raise click.BadParameter(f"{text!r}: comma-separated integers", param_hint=option) from None

    depths = ints(levels, "--levels") if levels else sorted({design.adder_levels, 8, 16, 1000})
    fpga = ints(ecp5_levels, "--ecp5-levels") if ecp5_levels else None
    wanted = tuple(t for t in targets.split(",") if t)
    closure.check_request(wanted, libs, sorted(set(depths) | set(fpga or [])))
    out = out or Path("build/timing") / design.name
    ref = _ref(design, design.reference_dir, _run(out, design))
    lib_name = library or (re.sub(r"[_-](typ|tt|slow|ss|fast|ff)\w*$", "", next(iter(libs.values())).stem)
                           if libs else "")
    rep = closure.sweep(ref, sorted(set(depths) | set(fpga or [])), out, wanted, libs, lib_name, budget_ns, fpga,
                        route_minutes * 60)
    out.mkdir(parents=True, exist_ok=True)
    (out / "timing.json").write_text(json.dumps(rep, indent=2) + "\n")
    for line in closure.table(rep):
        click.echo(line)
    click.echo(f"\nreport: {out / 'timing.json'}; to make the 25 ns check use it: set [rtl] adder_levels = "
               f"{rep['adder_levels']} in {design.path / 'design.toml'} and commit it as {design.path / 'timing.json'}")


@main.command()
@design_opt
@click.option("--out", type=click.Path(path_type=Path), default=Path("build/bench"), show_default=True)
@click.option("--tracks", type=int, default=55_000, show_default=True, help="Normal tracks (and x3 defect tracks).")
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
@one_line_errors
def flow(design_name: str, run_dir: Path | None, profile: str, clock_ns: float | None, budget_ns: float,
         adder_levels: int | None) -> None:
    """Every stage on the bundled default data: data, train, hls4ml, Verilog, golden, Verilator+cocotb."""
    import shutil

    from pixvae import report, stages

    design = _design(design_name)
    run = _run(run_dir, design)
    shutil.rmtree(run.golden, ignore_errors=True)  # this run's own vectors, regenerated with its model
    _, _, results = stages.full_run(design, run, profile, run.golden, adder_levels, clock_ns, budget_ns)
    results["report"] = str(report.write(design, run, results))
    _finish(results, run)


committed_ref_opt = click.option("--reference", type=click.Path(path_type=Path), default=None,
                                 help="Reference model directory [default: the committed golden/DESIGN/reference].")
seed_set_opt = click.option("--seed-set", type=click.IntRange(min=0), default=1, show_default=True,
                            help="Which independent seeded sets to generate (the training run measured set 0).")
tracks_opt = click.option("--tracks", type=click.IntRange(min=100), default=None,
                          help="Tracks per set (normal test, each defect, normal reference) [default: the sizes in "
                               "the reference's metrics.json, else 55,000 as the paper].")


def _measure(design_name: str, reference: Path | None, tracks: int | None, seed_set: int):
    from pixvae import measure

    design = _design(design_name)
    ref_dir = reference or design.reference_dir
    committed = ref_dir / measure.METRICS_FILE
    if tracks:
        sizes = {k: tracks for k in measure.DEFAULT_SIZES}
    elif committed.is_file():
        from model import reference as refmod

        sizes = measure.load_metrics(committed, refmod.model_hash(ref_dir)).get("sample_sizes", {})
        sizes = {k: int(sizes.get(k, v)) for k, v in measure.DEFAULT_SIZES.items()}
    else:
        sizes = dict(measure.DEFAULT_SIZES)
    return design, ref_dir, measure.run(design, ref_dir, sizes, seed_set)


def measure_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options `evaluate` and `report` share: which model, how many tracks, which seeds."""
    for opt in (seed_set_opt, tracks_opt, committed_ref_opt, design_opt):
        fn = opt(fn)
    return fn


def _write_metrics(design, m, path: Path) -> dict[str, Any]:
    from pixvae import measure

    doc = measure.write_metrics(m, path)
    click.echo("\n".join(measure.table(design, doc)))
    return doc


@main.command()
@measure_options
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="metrics.json to write [default: build/evaluate/DESIGN/metrics.json].")
@one_line_errors
def evaluate(design_name: str, reference: Path | None, tracks: int | None, seed_set: int, out: Path | None) -> None:
    """The paper's measurements of a reference model on fresh seeded tracks, checked against the
    metrics.json of its training run (exit 1 when a figure differs by more than measure.agree_sigma
    combined standard errors: 5% false alarms over all the figures compared)."""
    from pixvae import measure

    design, ref_dir, m = _measure(design_name, reference, tracks, seed_set)
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
    (model/ceiling.py), beside the committed on-chip score. A reference, not an on-chip score."""
    from model import ceiling as C
    from model import reference as refmod
    from model.evaluation import DEFECT_KINDS
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
@measure_options
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder for report.html and metrics.json [default: build/report/DESIGN].")
@one_line_errors
def report(design_name: str, reference: Path | None, tracks: int | None, seed_set: int, out: Path | None) -> None:
    """A self-contained HTML report of the paper's measurements (plots embedded), metrics.json beside it."""
    from pixvae import measure, model_report

    design, ref_dir, m = _measure(design_name, reference, tracks, seed_set)
    out = out or Path("build") / "report" / design.name
    doc = _write_metrics(design, m, out / measure.METRICS_FILE)
    click.echo(f"wrote {model_report.write(design, m, doc, out, ref_dir)} and {out / measure.METRICS_FILE}")


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
@one_line_errors
def mutate(design_name: str, mutants: int, seed: int, proof_timeout: int, proof_budget: int | None,
           out: Path | None) -> None:
    """Mutation campaign (MCY's way) on a design's exported RTL: how many mutants the golden vectors kill."""
    from hw import golden as G
    from hw import synth as S
    from pixvae import stages
    from tb import mutation

    S.yosys_version()  # a missing yosys stops here, before any export
    design = _design(design_name)
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


if __name__ == "__main__":
    main()
