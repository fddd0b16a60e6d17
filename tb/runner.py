"""Build the encoder RTL through cocotb's runner (Verilator, or Icarus for the 4-state
cross-check) and run the cocotb tests of tb.test_encoder."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hw import clock, params
from hw import rtl as R
from hw.toolchain import FST_MISSING, ToolchainError, fst_available, require_icarus, setup_verilator_env
from model.description.design import Design
from tb import buildcache, env, verdict

SIMULATORS = ("verilator", "icarus")
# Width warnings come from da4ml's generated arithmetic, which relies on Verilog's sizing rules.
VERILATOR_ARGS = ["-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "--x-initial", "unique"]
# --x-initial unique: every register can start at a random value (chosen at run time by
# +verilator+rand+reset+2, RANDOM_INIT), as silicon does, so a reset that fails to clear the valid
# pipeline cannot pass by Verilator's zero start; the cocotb tests and the bulk harness both use it.
RANDOM_INIT = ["+verilator+rand+reset+2"]
# Waveforms: FST by default (compressed, what Surfer and GTKWave open fastest), VCD on request.
WAVE_FORMATS = ("fst", "vcd")
# The da4ml core's generated wires (v0, v1, ... and the op_N adder instances with their parameters) carry
# no name a reader could follow: 39,433 traced signals for the classifier against 25 without them.
# --trace-depth does not leave them out (Verilator inlines the core: depth 2 traced all 39,433, depth 1
# the top alone), so a control file switches tracing off in every source but the wrapper and the core's
# module (its ports and its stage registers). --trace-underscore (names starting with _) and the
# untraced files come back with all_signals.
ALL_SIGNALS_ARGS = ["--trace-underscore"]
TRACE_OFF_VLT = "`verilator_config\n" + "{lines}"


class RegressionFailed(AssertionError):
    """A cocotb test failed or the simulation died; the message names the first problems and
    `results` holds what the testbench wrote (plus `cocotb_failures`)."""

    def __init__(self, message: str, results: dict[str, Any]) -> None:
        super().__init__(message)
        self.results = results


@dataclass
class BuildInfo:
    build_dir: Path
    seconds: float
    cached: bool


def _prepare(sim: str) -> None:
    if sim == "verilator":
        setup_verilator_env()
    elif sim == "icarus":
        require_icarus()
    else:
        raise ValueError(f"unknown simulator {sim!r} ({', '.join(SIMULATORS)})")


# The cocotb runner's Verilator build takes minutes on a da4ml core, for two reasons measured here:
# it always passes --public-flat-rw, which makes every one of the core's thousands of wires
# VPI-visible (28 MB of generated C++), and it compiles at -Os, which spends most of the time on
# one 12,600-line function. cocotb needs only the top's ports, and a regression of a few thousand
# vectors runs in seconds at any optimization level, so the fast flavour makes only the top module
# public (a Verilator control file) and compiles at -O0: about 20 CPU-seconds instead of ~150.
FAST_MAKE_VARS = ["OPT_FAST=-O0", "OPT_SLOW=-O0", "OPT_GLOBAL=-O0"]
PUBLIC_TOP_VLT = '`verilator_config\npublic_flat_rw -module "{top}" -var "*"\n'
FLAVOURS = ("fast", "stock")


def untraced_sources(meta: R.RtlMeta) -> list[str]:
    """The sources whose signals a default trace leaves out: all but the wrapper and the core's module."""
    keep = {f"{meta.top}.v", f"src/{params.CORE_MODULE}.v"}
    return [s for s in meta.sources if s not in keep]


def trace_args(meta: R.RtlMeta, build_dir: Path, wave_format: str, all_signals: bool) -> list[str]:
    """Verilator's tracing options: the format, and (unless all_signals) a control file written in
    build_dir that switches tracing off in untraced_sources."""
    if wave_format not in WAVE_FORMATS:
        raise ValueError(f"unknown waveform format {wave_format!r} ({', '.join(WAVE_FORMATS)})")
    fmt = ["--trace-fst"] if wave_format == "fst" else []  # the runner itself adds --trace (VCD)
    if all_signals:
        return fmt + ALL_SIGNALS_ARGS
    vlt = build_dir / "trace_off.vlt"
    # Patterns, not absolute paths: the same build from another folder is the same build.
    vlt.write_text(TRACE_OFF_VLT.format(lines="".join(f'tracing_off -file "*/{s}"\n' for s in untraced_sources(meta))))
    return [*fmt, str(vlt.resolve())]  # Verilator runs in build_dir


def _verilator_runner(flavour: str):
    """The cocotb Verilator runner, with its build command made ours: --trace-fst instead of its
    --trace where asked, and the fast flavour's changes."""
    from cocotb_tools.runner import Verilator

    class PixvaeVerilator(Verilator):
        def _build_command(self):
            verilate, make = super()._build_command()
            if "--trace-fst" in verilate:  # the runner always asks for VCD; Verilator takes one format
                verilate = [a for a in verilate if a != "--trace"]
            if flavour == "stock":
                return [verilate, make]
            verilate = [a for a in verilate if a != "--public-flat-rw"]
            vlt = Path(self.build_dir) / "public_top.vlt"
            vlt.write_text(PUBLIC_TOP_VLT.format(top=self.hdl_toplevel))
            i = verilate.index("--vpi") + 1
            # Verilator's runtime objects depend on Vtop.mk, which every verilation rewrites;
            # --assume-old lets make keep the ones _runtime_objects copied in (same flags).
            return [verilate[:i] + [str(vlt)] + verilate[i:], make + FAST_MAKE_VARS + ["--assume-old=Vtop.mk"]]

    return PixvaeVerilator()


# Verilator's runtime, compiled into every build folder: about 10.5 CPU-seconds at -O0 of each
# build (verilated.cpp 2.9 s, verilated_vpi.cpp 3.8 s, ...), the same for every design. The fast
# flavour compiles it once per Verilator install and tracing mode and copies it into later builds.
RUNTIME_OBJECTS = ("verilated", "verilated_dpi", "verilated_vpi", "verilated_threads")


@contextlib.contextmanager
def _runtime_objects(build_dir: Path, waves: bool, wave_format: str = "fst"):
    """Copy cached runtime objects (and their make dependency files) into build_dir before the
    build, and keep them after a build that compiled them."""
    root = setup_verilator_env()
    key = {"root": str(root), "waves": waves, "make": FAST_MAKE_VARS}
    if waves:  # every object is compiled with -DVM_TRACE_FST=0/1
        key["format"] = wave_format
    entry = buildcache.entry("verilator-runtime", key)
    files = [f"{o}{ext}" for o in RUNTIME_OBJECTS for ext in (".o", ".d")]
    cached = _complete(entry, files)
    build_dir.mkdir(parents=True, exist_ok=True)
    for f in files:
        if cached:
            buildcache.fetch(entry, f, build_dir)  # copy2 keeps their mtime: newer than Verilator's sources
        else:  # a folder's own, perhaps of the other tracing mode: --assume-old would keep it
            (build_dir / f).unlink(missing_ok=True)
    yield
    if not cached and _complete(build_dir, files):
        with buildcache.locked(entry):  # stored once: a complete entry is never replaced while read
            if not _complete(entry, files):
                buildcache.store(entry, *(build_dir / f for f in files))


# What the C++ bulk harness (tb.bulk) links against: the compiled model and Verilator's runtime
# objects of the Verilator build below, kept beside its executable in the cache (3.7 MB for
# vae-low), so that one compile of the RTL serves the cocotb tests and the harness.
MODEL_KIT = ("Vtop.h", "Vtop__ALL.a", "Vtop_classes.mk", *(f"{o}.o" for o in RUNTIME_OBJECTS))


def _complete(entry: Path, files) -> bool:
    """Whether a cache entry holds every one of `files` (a build stored with them)."""
    return all((entry / f).is_file() for f in files)


def _key(rtl_dir: Path, sim: str, waves: bool, flavour: str, wave_format: str = "fst",
         all_signals: bool = False) -> dict[str, Any]:
    meta = R.load_meta(rtl_dir)
    key = {"sim": sim, "sources": meta.sources, "sha256": R.sources_sha256(rtl_dir, meta), "waves": waves,
           "args": VERILATOR_ARGS, "flavour": flavour, "make": FAST_MAKE_VARS if flavour == "fast" else []}
    if waves:  # only traced builds: the untraced ones already cached keep their keys
        key["trace"] = {"format": wave_format, "all_signals": all_signals,
                        "off": [] if all_signals else untraced_sources(meta)}
    return key


def build(rtl_dir: Path, build_dir: Path, waves: bool = False, sim: str = "verilator",
          flavour: str = "fast", need_kit: bool = False, wave_format: str = "fst",
          all_signals: bool = False) -> BuildInfo:
    """Compile the RTL; skipped (cached) when the same sources were already built there or anywhere
    (tb.buildcache keeps Verilator executables by the digest of their sources and options).
    `flavour` "stock" is the cocotb runner's own Verilator build, kept for the benchmark.
    `need_kit`: the cache must also hold the MODEL_KIT (built again where an entry lacks it).
    With `waves`: the trace's `wave_format` (fst or vcd, written as dump.<format>), and with
    `all_signals` the da4ml core's generated wires too (see trace_args)."""
    from cocotb_tools.runner import get_runner

    _prepare(sim)
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown build flavour {flavour!r} ({', '.join(FLAVOURS)})")
    meta = R.load_meta(rtl_dir)
    stamp = build_dir / "pixvae_build.json"
    key = _key(rtl_dir, sim, waves, flavour, wave_format, all_signals)
    entry = buildcache.entry("cocotb-" + sim, key)
    t0 = time.perf_counter()
    kit_ok = not need_kit or _complete(entry, MODEL_KIT)
    if kit_ok and stamp.is_file() and json.loads(stamp.read_text()) == key:
        return BuildInfo(build_dir, time.perf_counter() - t0, True)
    build_dir.mkdir(parents=True, exist_ok=True)
    exe = meta.top  # the runner runs build_dir/<top>; nothing else of the build is needed
    with contextlib.ExitStack() as stack:
        if sim == "verilator":
            stack.enter_context(buildcache.locked(entry))
            kit_ok = not need_kit or _complete(entry, MODEL_KIT)  # again, now that no one stores it
            if kit_ok and buildcache.fetch(entry, exe, build_dir):
                stamp.write_text(json.dumps(key))
                return BuildInfo(build_dir, time.perf_counter() - t0, True)
        if sim == "verilator" and waves and wave_format == "fst" and not fst_available():
            raise ToolchainError(FST_MISSING + " (--vcd)")  # before minutes of compiling that would fail
        args = (VERILATOR_ARGS + (trace_args(meta, build_dir, wave_format, all_signals) if waves else [])
                if sim == "verilator" else [])
        if sim == "verilator" and flavour == "fast":
            stack.enter_context(_runtime_objects(build_dir, waves, wave_format))
        (_verilator_runner(flavour) if sim == "verilator" else get_runner(sim)).build(
            sources=[rtl_dir / s for s in meta.sources],
            hdl_toplevel=meta.top,
            build_dir=build_dir,
            build_args=args,
            waves=waves,
            timescale=("1ns", "1ps"),
            log_file=build_dir / "build.log",
        )
        if sim == "verilator":
            buildcache.store(entry, build_dir / exe, *(build_dir / f for f in MODEL_KIT))
        stamp.write_text(json.dumps(key))
    return BuildInfo(build_dir, time.perf_counter() - t0, False)


def model_kit(rtl_dir: Path, build_dir: Path) -> Path:
    """The folder holding the MODEL_KIT of the RTL's Verilator build (the same build the cocotb tests
    run), compiled into build_dir first when no cached build has one."""
    build(rtl_dir, build_dir, need_kit=True)
    return buildcache.entry("cocotb-verilator", _key(rtl_dir, "verilator", False, "fast"))


def run(
    design: Design,
    rtl_dir: Path,
    golden_dir: Path,
    build_dir: Path,
    testcase: str | list[str] | None = None,
    results: Path | None = None,
    clock_ns: float | None = None,
    waves: bool = False,
    seed: int = 1,
    sim: str = "verilator",
    track: int | None = None,
    shard: tuple[int, int] | None = None,
    budget_ns: float | None = None,
    plusargs: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Run cocotb tests; raises RegressionFailed when any fails. Returns the results JSON if written.
    budget_ns: the latency budget [default: the design's [rtl] budget_ns]. `plusargs` go to the
    simulator after the random-init ones (e.g. a mutant selector, +mutsel=K)."""
    from cocotb_tools.runner import get_runner

    budget_ns = design.budget_ns if budget_ns is None else budget_ns
    meta = R.load_meta(rtl_dir)
    params.check(clock_ns=clock_ns, budget_ns=budget_ns)
    clk = clock.resolve(design, rtl_dir, clock_ns)
    _prepare(sim)
    results = results or build_dir / "regression.json"
    results.unlink(missing_ok=True)
    test_dir = results.parent  # per run, so concurrent runs (pytest-xdist) share only the build
    test_dir.mkdir(parents=True, exist_ok=True)
    if meta.design != design.name:
        raise R.RtlError(f"{rtl_dir}: RTL of design {meta.design!r}, not {design.name!r}")
    extra = {
        env.DESIGN: str(Path(design.path).resolve()),
        env.GOLDEN: str(Path(golden_dir).resolve()),
        env.RTL: str(Path(rtl_dir).resolve()),
        env.RESULTS: str(results.resolve()),
        env.CLOCK_NS: str(clk.period_ns),
        env.BUDGET_NS: str(budget_ns),
        env.SEED: str(seed),
        **({env.TRACK: str(track)} if track is not None else {}),
        **({env.SHARD: f"{shard[0]}/{shard[1]}"} if shard is not None else {}),
    }
    xml = test_dir.resolve() / "results.xml"
    exit_status = None
    try:
        get_runner(sim).test(
            test_module="tb.test_encoder",
            hdl_toplevel=meta.top,
            hdl_toplevel_lang="verilog",
            testcase=testcase,
            build_dir=build_dir,
            test_dir=test_dir,
            extra_env=extra,
            waves=waves,
            seed=seed,
            plusargs=([*RANDOM_INIT, f"+verilator+seed+{seed}"] if sim == "verilator" else []) + list(plusargs),
            timescale=("1ns", "1ps") if sim == "icarus" else None,
            results_xml=str(xml),
        )
    except SystemExit as e:  # the runner exits on a failed test (under pytest) or a dead simulator
        exit_status = e.code
    # The runner checks its results file only under pytest: read it here, always.
    got: dict[str, Any] = json.loads(results.read_text()) if results.is_file() else {}
    failures = verdict.junit_failures(xml)
    if exit_status not in (None, 0) and not failures:
        failures.append(f"simulator exited with status {exit_status}")
    got["cocotb_failures"] = failures
    if got:
        got |= clk.as_dict()
    if failures:
        first = got.get("first_mismatches", [])[:3] or failures[:3]
        raise RegressionFailed(f"cocotb test(s) {testcase or 'all'} failed under {sim}: " + "; ".join(first), got)
    return got
