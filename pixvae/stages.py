"""The stages of the main job, each callable alone: data, train, export, golden, sim."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from hw import golden as G
from hw import hls, params
from hw import rtl as R
from model import fixed_ref, reference
from model import formats as F
from pixvae.paths import RunPaths
from tb import stimulus

DEFECT_KINDS = ("dead_pixel", "loud_pixel", "dead_row")
# Golden vector sets: normal tracks, each defect applied to other tracks, random and corner codes.
GOLDEN_COUNTS = {"normal": 1200, "dead_pixel": 300, "loud_pixel": 300, "dead_row": 300, "random": 400}
TRAIN_SEED, TEST_SEED, DEFECT_SEED, RANDOM_SEED = 1, 2, 3, 4
TEST_TRACKS = 8000  # golden sets (2,100 tracks) plus the normal tracks that set the score threshold


def log(msg: str) -> None:
    print(f"[pixvae] {msg}", flush=True)


def make_data(out: Path, n: int, seed: int, spectrum: str = "falling") -> Path:
    """Generate tracks and write them in the public release's parquet layout (cached by n/seed)."""
    from model import dataformat, generator

    stamp = out / "pixvae_data.json"
    key = {"n": n, "seed": seed, "spectrum": spectrum}
    if stamp.is_file() and json.loads(stamp.read_text()) == key:
        log(f"data: reusing {out} ({n} tracks, seed {seed})")
        return out
    log(f"data: generating {n} {spectrum}-spectrum tracks (seed {seed}) -> {out}")
    ts = generator.generate(n, spectrum=spectrum, seed=seed, progress=True)
    dataformat.write_parquet(ts, out, file_id=17301 + seed)
    stamp.write_text(json.dumps(key))
    return out


def load_codes(data_dir: Path, seed: int) -> tuple[np.ndarray, Any]:
    """Read a dataset in the real format and compute the 53 encoder input codes."""
    from model import dataformat, features

    ts = dataformat.read_dataset(data_dir)
    return features.encoder_inputs(ts, seed=seed), ts


def train(train_dir: Path, ref_dir: Path, profile: str) -> str:
    from model.vae import TrainConfig
    from model.vae import train as fit

    cfg = TrainConfig.profile(profile)
    codes, _ = load_codes(train_dir, seed=TRAIN_SEED)
    codes = codes[: cfg.n_tracks]
    log(f"train: {profile} profile, {len(codes)} tracks, {cfg.epochs} epochs")
    t0 = time.perf_counter()
    encoder, history = fit(codes, cfg)
    weights = reference.from_keras(encoder)
    meta = {
        "profile": profile,
        "train_config": asdict(cfg),
        "train_data": str(train_dir),
        "train_seconds": round(time.perf_counter() - t0, 1),
        "history": history,
        "host": platform.platform(),
    }
    digest = reference.save(ref_dir, weights, hls.hls_config(), meta)
    log(f"train: saved reference model {digest[:12]} -> {ref_dir}")
    return digest


def convert(ref: reference.Reference, hls_dir: Path, compile_csim: bool = True):
    log(f"export: hls4ml conversion of model {ref.model_hash[:12]}" + (" + C simulation build" if compile_csim else ""))
    return hls.convert(reference.to_keras(ref.weights), ref.hls_config, hls_dir, compile_csim=compile_csim)


def export(ref: reference.Reference, hls_dir: Path, rtl_dir: Path, adder_levels: int, clock_ns: float,
           hm=None) -> R.RtlMeta:
    meta_path = rtl_dir / R.META_FILE
    if meta_path.is_file():
        try:
            old = R.load_meta(rtl_dir)
        except FileNotFoundError:
            old = None
        same = old and (old.model_hash, old.adder_levels_per_stage, old.clock_period_ns, old.generator_sha256)
        if same == (ref.model_hash, adder_levels, clock_ns, R.generator_sha256()):
            log(f"export: reusing RTL in {rtl_dir}")
            return old
    hm = hm or convert(ref, hls_dir, compile_csim=False)
    t0 = time.perf_counter()
    meta = R.export_rtl(hm, rtl_dir, ref.model_hash, adder_levels=adder_levels, clock_period_ns=clock_ns)
    log(f"export: da4ml Verilog in {time.perf_counter() - t0:.1f} s: {meta.pipeline_stages} stages, "
        f"latency {meta.latency_cycles} cycles, "
        f"da4ml estimate {meta.estimated_luts:.0f} LUTs / {meta.estimated_ffs} FFs")
    return meta


def golden_inputs(test_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(codes, set names, normal-track codes for the threshold) for the golden vector sets."""
    from model import dataformat, defects, features

    ts = dataformat.read_dataset(test_dir)
    n_norm = GOLDEN_COUNTS["normal"]
    normal = features.encoder_inputs(ts.subset(np.arange(n_norm)), seed=TEST_SEED)
    parts, names = [normal], ["normal"] * n_norm
    start = n_norm
    for k, kind in enumerate(DEFECT_KINDS):
        n = GOLDEN_COUNTS[kind]
        sub = ts.subset(np.arange(start, start + n))
        sub.charges, _ = defects.inject(sub.charges, kind, seed=DEFECT_SEED + k)
        parts.append(features.encoder_inputs(sub, seed=TEST_SEED + 1 + k))
        names += [kind] * n
        start += n
    rand = stimulus.random_codes(GOLDEN_COUNTS["random"], RANDOM_SEED)
    corner = stimulus.corner_codes()
    parts += [rand, corner]
    names += ["random"] * len(rand) + ["corner"] * len(corner)
    threshold_codes = features.encoder_inputs(ts.subset(np.arange(start, len(ts))), seed=TEST_SEED + 9)
    return np.concatenate(parts).astype(np.int64), np.array(names), threshold_codes


def make_golden(ref: reference.Reference, test_dir: Path, out: Path, hm) -> dict[str, Any]:
    """Compute the vectors with the numpy integer model; check hls4ml C-sim and QKeras against it."""
    x, sets, thr_codes = golden_inputs(test_dir)
    mu = ref.weights.latent(x)
    score = fixed_ref.score_raw(mu)
    thr_scores = fixed_ref.score_raw(ref.weights.latent(thr_codes))
    threshold = int(np.percentile(thr_scores, 99, method="lower"))
    csim = hls.csim_latent_raw(hm, x)
    csim_diff = int(np.sum(csim != mu))
    if csim_diff:
        raise G.GoldenError(f"hls4ml C simulation differs from the numpy integer model on {csim_diff} outputs")
    keras_mu = F.LATENT.to_raw(reference.to_keras(ref.weights).predict(F.INPUT.to_float(x), verbose=0))
    keras_diff = keras_mu != mu
    manifest = {
        "model_hash": ref.model_hash,
        "score_threshold_raw": threshold,
        "score_threshold_definition": f"99th percentile of the score of {len(thr_codes)} normal tracks "
                                      f"(lower method), {F.SCORE.hls(False)} raw",
        "sets": {s: int(np.sum(sets == s)) for s in dict.fromkeys(sets)},
        "references": {
            "numpy_integer_vs_hls4ml_csim_mismatched_outputs": csim_diff,
            "qkeras_vs_hls4ml_csim_mismatched_outputs": int(keras_diff.sum()),
            "qkeras_vs_hls4ml_csim_mismatched_vectors": int(keras_diff.any(axis=1).sum()),
            "outputs_compared": int(mu.size),
        },
        "data": {"test_data": str(test_dir), "seeds": {"test": TEST_SEED, "defects": DEFECT_SEED,
                                                       "random": RANDOM_SEED}},
    }
    G.write(out, np.arange(len(x)), sets, x, mu, score, fixed_ref.flag(score, threshold), manifest)
    log(f"golden: {len(x)} vectors -> {out}; C-sim == numpy on {mu.size} outputs; "
        f"QKeras differs on {int(keras_diff.sum())} outputs")
    return manifest


def simulate(rtl_dir: Path, golden_dir: Path, build_dir: Path, clock_ns: float | None = None) -> dict[str, Any]:
    from tb import runner

    meta = R.load_meta(rtl_dir)
    log(f"sim: Verilator build of {meta.top} ({len(meta.sources)} files) in {build_dir}")
    info = runner.build(rtl_dir, build_dir)
    log(f"sim: build {'cached' if info.cached else 'done'} in {info.seconds:.1f} s; running cocotb regression")
    results: dict[str, Any] = {"build_seconds": round(info.seconds, 1), "build_cached": info.cached}
    try:
        results |= runner.run(rtl_dir, golden_dir, build_dir, testcase="regression", clock_ns=clock_ns)
        results["passed"] = True
    except runner.RegressionFailed:  # the results JSON says why
        path = build_dir / "regression.json"
        results |= json.loads(path.read_text()) if path.is_file() else {}
        results["passed"] = False
    return results


def waves(rtl_dir: Path, golden_dir: Path, build_dir: Path, out_dir: Path, track: int | None,
          clock_ns: float | None = None) -> dict[str, Any]:
    """Record a VCD (one track, or the whole regression when track is None) and, for one track, a PNG."""
    from tb import runner, wave_png

    meta = R.load_meta(rtl_dir)
    log(f"waves: Verilator build with tracing in {build_dir}")
    runner.build(rtl_dir, build_dir, waves=True)
    test = "single_track" if track is not None else "regression"
    runner.run(rtl_dir, golden_dir, build_dir, testcase=test, results=out_dir / "results.json", waves=True,
               clock_ns=clock_ns, track=track)
    vcd = out_dir / "dump.vcd"
    got: dict[str, Any] = {"vcd": str(vcd)}
    if track is not None:
        png = wave_png.render(
            vcd, out_dir / f"track_{track}.png", meta.top,
            {"in_data": meta.input_bits, "score_threshold": meta.score_bits, "out_mu": meta.latent_bits,
             "out_score": meta.score_bits},
            clock_ns or meta.clock_period_ns, meta.latency_cycles, f"golden vector {track} through {meta.top}",
        )
        got["png"] = str(png)
    log(f"waves: {vcd} (open with `gtkwave {vcd}` or `surfer {vcd}`)")
    if "png" in got:
        log(f"waves: picture {got['png']}")
    return got


def full_run(run: RunPaths, profile: str, golden_out: Path, adder_levels: int = params.ADDER_LEVELS_PER_STAGE,
             clock_ns: float = params.CLOCK_PERIOD_NS) -> tuple[reference.Reference, R.RtlMeta, dict[str, Any]]:
    """Every stage in order: data, train, hls4ml + C-sim, Verilog, golden vectors, RTL regression."""
    from model.vae import TrainConfig

    make_data(run.train_data, TrainConfig.profile(profile).n_tracks, TRAIN_SEED)
    make_data(run.test_data, TEST_TRACKS, TEST_SEED)
    train(run.train_data, run.reference, profile)
    ref = reference.load(run.reference)
    hm = convert(ref, run.hls)
    meta = export(ref, run.hls, run.rtl, adder_levels, clock_ns, hm=hm)
    make_golden(ref, run.test_data, golden_out, hm)
    return ref, meta, simulate(run.rtl, golden_out, run.sim, clock_ns)


def summary_lines(results: dict[str, Any]) -> list[str]:
    lat, ns, budget = results.get("latency_cycles"), results.get("latency_ns"), results.get("budget_ns",
                                                                                          params.LATENCY_BUDGET_NS)
    ok = results.get("passed") and ns is not None and ns <= budget
    lines = [
        f"vectors compared : {results.get('vectors', 0)}",
        f"mismatches       : {results.get('mismatched_vectors', 'n/a')} vectors "
        f"({results.get('mismatched_fields', 'n/a')} output fields)",
        f"latency          : {lat} cycles x {results.get('clock_period_ns')} ns = {ns} ns "
        f"(budget {budget} ns: {'within' if ns is not None and ns <= budget else 'EXCEEDED'})",
        f"initiation intvl : {results.get('initiation_interval')} cycle(s)",
        f"verilator build  : {results.get('build_seconds')} s{' (cached)' if results.get('build_cached') else ''}",
        f"cocotb speed     : {results.get('cycles_per_s', 0):.0f} cycles/s",
        f"result           : {'PASS' if ok else 'FAIL'}",
    ]
    lines += [f"  {m}" for m in results.get("first_mismatches", [])[:5]]
    return lines
