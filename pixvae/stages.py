"""The stages of the main job, each a pass over one design: data, train, export, golden, sim."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from hw import clock, hls, params
from hw import golden as G
from hw import rtl as R
from hw.export import convert, export, log
from model.description.design import Design
from model.fixed import reference
from pixvae import measure
from pixvae.paths import RunPaths
from tb import stimulus

DEFECT_KINDS = ("dead_pixel", "loud_pixel", "dead_row")
# Golden vector sets: normal tracks, each defect applied to other tracks, random and corner codes
# (then make_golden's "directed" set: tb/corners.py's search for the model's coverage targets).
GOLDEN_COUNTS = {"normal": 1200, "dead_pixel": 300, "loud_pixel": 300, "dead_row": 300, "random": 400}
DEFAULT_EVAL_TRACKS = 2000  # tracks per set measured after training, unless the profile says `eval_tracks`
TRAIN_SEED, TEST_SEED, DEFECT_SEED, RANDOM_SEED = 1, 2, 3, 4
DIRECTED_SEED = 5  # the directed search's random starts and moves (tb/corners.py)
PARQUET_MAX_TRACKS = 100_000  # larger generated training sets go straight to a features file
TEST_TRACKS = 8000  # golden sets (2,100 tracks) plus the normal tracks that set the score threshold


def _needs_tracks(design: Design) -> None:
    """Training needs tracks: a design with plain inputs (an imported model) has none to train on."""
    if design.encoding is None:
        from model.description.design import DesignError

        raise DesignError(f"{design.path / 'design.toml'}: plain inputs ([input] count), no track encoding to "
                          "train on; its reference comes from `pixvae designs new --from-keras`")


def make_data(out: Path, n: int, seed: int, spectrum: str = "falling") -> Path:
    """Generate tracks and write them in the public release's parquet layout (cached by n/seed)."""
    from model.data import dataformat, feature_cache, generator

    stamp = out / "pixvae_data.json"
    key = {"n": n, "seed": seed, "spectrum": spectrum}
    if stamp.is_file() and json.loads(stamp.read_text()) == key:
        log(f"data: reusing {out} ({n} tracks, seed {seed})")
        return out
    if n > PARQUET_MAX_TRACKS:
        log(f"data: generating {n} {spectrum}-spectrum tracks (seed {seed}) into {out / 'features.npz'} "
            f"(y-profiles after readout; as parquet they would take {n * 44_000 / 1e9:.0f} GB)")
        feature_cache.generate_features(out, n, seed, spectrum)
    else:
        (out / feature_cache.FEATURES_FILE).unlink(missing_ok=True)  # it would be read instead
        log(f"data: generating {n} {spectrum}-spectrum tracks (seed {seed}) -> {out}")
        ts = generator.generate(n, spectrum=spectrum, seed=seed, progress=True)
        dataformat.write_parquet(ts, out, file_id=17301 + seed)
    stamp.write_text(json.dumps(key))
    return out


def load_codes(design: Design, data_dir: Path, seed: int) -> tuple[np.ndarray, Any, np.ndarray | None]:
    """The design's input codes, the tracks' labels (as `.labels`) and, for a VAE, its decoder's
    target codes, of a dataset: from its features cache when `pixvae data import` wrote one (a
    full release never sits in memory), else read in the real format."""
    from model.data import dataformat, encoding, feature_cache

    vae = design.decoder is not None
    if (Path(data_dir) / feature_cache.FEATURES_FILE).is_file():
        cache = feature_cache.load_features(data_dir)
        log(f"data: {len(cache)} tracks from {Path(data_dir) / feature_cache.FEATURES_FILE} "
            f"(readout {cache.readout})")
        targets = encoding.decoder_targets_from_cache(design, cache) if vae else None
        return encoding.inputs_from_cache(design, cache), cache, targets
    ts = dataformat.read_dataset(data_dir)
    targets = encoding.decoder_targets(design, ts, seed=seed) if vae else None
    return encoding.inputs(design, ts, seed=seed), ts, targets


def train(design: Design, train_dir: Path, ref_dir: Path, profile: str, onto: Path | None = None) -> str:
    """Train the design's network (a VAE for vae_encoder designs, with its decoder saved beside
    the reference; a classifier otherwise), then its profile check if it has one, and save the
    reference model. With `onto` (a reference of this design): keep that encoder and decoder and
    train only the check."""
    from model.fixed import decoder

    _needs_tracks(design)
    cfg = design.profile(profile)
    codes, ts, targets = load_codes(design, train_dir, seed=TRAIN_SEED)
    n = min(len(codes), int(cfg["n_tracks"]))
    t0 = time.perf_counter()
    extras, extra_meta = None, {}  # a JointVAE's float parts (offchip.npz) and its float baseline's history
    if onto is not None:
        if design.check is None:
            raise reference.ReferenceError(f"{design.path / 'design.toml'}: no [check] to train onto {onto}")
        old = reference.load(onto, design, with_check=False)
        net, dec = old.network, decoder.load(onto, design, old.model_hash)
        if design.joint:  # a JointVAE's float parts are tied to the hash too: carried over like the decoder
            from model.networks import offchip

            extras = offchip.load(onto, design, old.model_hash).arrays
        meta = {k: v for k, v in old.metadata.items() if k not in ("design", "model_hash", "check")}
        meta["check_trained_onto"] = old.model_hash
        log(f"train: keeping the encoder and decoder of {onto} ({old.model_hash[:12]})")
    else:
        log(f"train: {design.name} ({design.kind}), {profile} profile, {n} tracks, {cfg['epochs']} epochs"
            + (f", pruned to {design.sparsity:g}" if design.sparsity else ""))
        dec_model = None
        if design.kind == "classifier":
            from model.networks import classifier

            model, history = classifier.train(design, codes[:n], ts.labels.iloc[:n], cfg)
        elif design.joint:  # a JointVAE, and its float baseline beside it
            from model.networks import jointvae, offchip

            model, history, dec_model, logvar = jointvae.train(design, codes[:n], targets[:n], cfg)
            log(f"train: the float baseline of {design.name} (same architecture, no quantizers)")
            f_enc, f_hist, f_dec, f_logvar = jointvae.train(design, codes[:n], targets[:n], cfg, quantized=False)
            extras = offchip.collect(design, logvar, f_enc, f_logvar, f_dec, model)
            extra_meta = {"float_baseline_history": f_hist}
        else:
            from model.networks import vae

            model, history, dec_model = vae.train(design, codes[:n], targets[:n], cfg)
        net = reference.from_keras(design, model)
        dec = decoder.from_keras(design, dec_model, "") if dec_model is not None else None
        meta = {
            "profile": profile,
            "train_config": cfg,
            "train_data": str(train_dir),
            "history": history,
            "kernel_sparsity": {ly.spec.name: round(ly.sparsity, 4) for ly in net.layers},
            "host": platform.platform(),
            **extra_meta,
        }
    if design.check is not None:
        from model.networks import check

        log(f"train: the profile check of {design.name}, {n} normal tracks, "
            f"{cfg.get('check_epochs', cfg['epochs'])} epochs")
        t1 = time.perf_counter()
        chk_model, chk_history = check.train(design, codes[:n], cfg)
        net = dataclasses.replace(net, check=check.from_keras(design, chk_model))
        meta["check"] = {"tracks": n, "seconds": round(time.perf_counter() - t1, 1), "history": chk_history}
    if onto is None:  # else the encoder's own training time stays, and the check's is beside it
        meta["train_seconds"] = round(time.perf_counter() - t0, 1)
    digest = reference.save(ref_dir, net, hls.hls_config(design), meta)
    if dec is not None:  # tied to the new hash: the same encoder, now with its check
        decoder.save(ref_dir, dataclasses.replace(dec, model_hash=digest))
    if extras is not None:
        offchip.save(ref_dir, extras, digest)
    log(f"train: saved reference model {digest[:12]} -> {ref_dir}")
    n_eval = int(cfg.get("eval_tracks", DEFAULT_EVAL_TRACKS))
    sizes = {"test": n_eval, "defect_each": n_eval, "reference": n_eval}
    m = measure.run(design, ref_dir, sizes, progress=False, log=log)
    measure.write_metrics(m, ref_dir / measure.METRICS_FILE)
    log(f"train: the paper's measurements on {n_eval:,} fresh tracks per set -> {ref_dir / measure.METRICS_FILE}")
    return digest


def golden_inputs(design: Design, test_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any]:
    """(codes, set names, threshold-setting codes, their labels) for the golden vector sets."""
    from model.data import dataformat, defects, encoding

    ts = dataformat.read_dataset(test_dir)
    n_norm = GOLDEN_COUNTS["normal"]
    normal = encoding.inputs(design, ts.subset(np.arange(n_norm)), seed=TEST_SEED)
    parts, names = [normal], ["normal"] * n_norm
    start = n_norm
    for k, kind in enumerate(DEFECT_KINDS):
        n = GOLDEN_COUNTS[kind]
        sub = ts.subset(np.arange(start, start + n))
        sub.charges, _ = defects.inject(sub.charges, kind, seed=DEFECT_SEED + k)
        parts.append(encoding.inputs(design, sub, seed=TEST_SEED + 1 + k))
        names += [kind] * n
        start += n
    rand = stimulus.random_codes(design, GOLDEN_COUNTS["random"], RANDOM_SEED)
    corner = stimulus.corner_codes(design)
    parts += [rand, corner]
    names += ["random"] * len(rand) + ["corner"] * len(corner)
    rest = ts.subset(np.arange(start, len(ts)))
    thr_codes = encoding.inputs(design, rest, seed=TEST_SEED + 9)
    return np.concatenate(parts).astype(np.int64), np.array(names), thr_codes, rest.labels


def plain_golden_inputs(design: Design, user: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(codes, set names) of a design with plain inputs: the user's own inputs (if given), then the
    random and corner sets over the whole input space."""
    rand = stimulus.random_codes(design, GOLDEN_COUNTS["random"], RANDOM_SEED)
    corner = stimulus.corner_codes(design)
    parts = ([] if user is None else [np.asarray(user, dtype=np.int64)]) + [rand, corner]
    names = ["user"] * (0 if user is None else len(user)) + ["random"] * len(rand) + ["corner"] * len(corner)
    return np.concatenate(parts).astype(np.int64), np.array(names)


def threshold(ref: reference.Reference, codes: np.ndarray, labels: Any) -> tuple[int, str]:
    """The committed threshold and its definition, as the design declares it."""
    from model.networks import classifier

    d = ref.design
    scores = ref.network.score(codes, ref.network.forward(codes))
    what = "normal tracks"
    if d.threshold_on == "signal":
        scores = scores[classifier.signal_labels(labels) == 1]
        what = f"signal tracks (|pT| > {classifier.SIGNAL_PT_GEV} GeV)"
    if not len(scores):
        raise G.GoldenError(f"no {what} among the test tracks to set the threshold")
    raw = int(np.quantile(scores, d.threshold_quantile, method="lower"))
    return raw, (f"{d.threshold_quantile:g} quantile (lower) of the score of {len(scores)} {what}, "
                 f"{d.score_format.hls(False)} raw")


# The directed set's exact programs (tb/corners.py): `pixvae golden` gives each 30 s, as the committed
# golden sets were made; a flow's fresh model gets a total budget, so the main job stays short.
EXACT_SECONDS = 30.0
FLOW_EXACT_BUDGET = 30.0  # seconds for all of a flow's exact programs together, 5 s each at most


def flow_exact(budget_s: float = FLOW_EXACT_BUDGET) -> dict[str, float]:
    return {"exact_seconds": min(5.0, budget_s), "exact_budget": budget_s}


def make_golden(ref: reference.Reference, test_dir: Path | None, out: Path, hm, user: np.ndarray | None = None,
                user_source: str = "", kill: np.ndarray | None = None,
                exact: dict[str, float] | None = None) -> dict[str, Any]:
    """Compute the vectors with the numpy integer model; check hls4ml C-sim and QKeras against it.
    A design with plain inputs takes `user` codes (from `user_source`) instead of tracks. `kill`:
    input codes appended last as the set "kill" (inputs that kill mutants, from `pixvae mutate`)."""
    from tb import corners

    d, net = ref.design, ref.network
    if d.encoding is None:
        x, sets = plain_golden_inputs(d, user)
        # A score's threshold over the user's inputs (or every vector without them): no labels here.
        thr_codes, thr_labels = x[sets == "user"] if user is not None else x, None
    else:
        x, sets, thr_codes, thr_labels = golden_inputs(d, test_dir)
    thr, thr_def = threshold(ref, thr_codes, thr_labels) if d.has_score else (None, "")
    # The directed set (tb/corners.py): searched from the other sets' inputs, for the targets of
    # this model and threshold; appended last, so the other sets' rows and ids stay as they were.
    exact = exact or {"exact_seconds": EXACT_SECONDS}
    directed, cov = corners.directed(net, thr, x, seed=DIRECTED_SEED, log=log, **exact)
    cov["exact_programs"] = exact  # how long the programs were given (targets left open depend on it)
    x = np.concatenate([x, directed])
    sets = np.concatenate([sets, np.full(len(directed), "directed")])
    if kill is not None and len(kill):
        x = np.concatenate([x, np.asarray(kill, dtype=np.int64)])
        sets = np.concatenate([sets, np.full(len(kill), "kill")])
    y = net.outputs(x, thr)
    refs = _reference_checks(ref, hm, x)
    manifest = {
        "model_hash": ref.model_hash,
        **({"score_threshold_raw": thr, "score_threshold_definition": thr_def} if d.has_score else {}),
        "sets": _set_counts(sets),
        "references": refs,
        "data": {"test_data": str(test_dir), "seeds": {"test": TEST_SEED, "defects": DEFECT_SEED,
                                                       "random": RANDOM_SEED, "directed": DIRECTED_SEED}}
        if d.encoding is not None
        else {"user_inputs": user_source or None, "seeds": {"random": RANDOM_SEED, "directed": DIRECTED_SEED}},
        "directed": {k: v for k, v in cov.items() if k != "list"},  # functional coverage of that set alone
    }
    G.write(out, d, np.arange(len(x)), sets, x, y, manifest)
    log(f"golden: {len(x)} vectors of {d.name} -> {out}; C-sim == numpy on {refs['outputs_compared']} outputs; "
        f"QKeras differs on {refs['qkeras_vs_hls4ml_csim_mismatched_outputs']} outputs")
    return manifest


def _set_counts(sets: np.ndarray) -> dict[str, int]:
    return {s: int(np.sum(sets == s)) for s in dict.fromkeys(sets)}


def _reference_checks(ref: reference.Reference, hm, x: np.ndarray) -> dict[str, int]:
    """The manifest's "references": hls4ml's C simulation must equal the numpy integer model on every
    output of `x` (else a GoldenError); QKeras's differences are counted."""
    d, net = ref.design, ref.network
    last = net.forward(x)
    csim_diff = int(np.sum(hls.csim_raw(d, hm, x) != last))
    if csim_diff:
        raise G.GoldenError(f"hls4ml C simulation differs from the numpy integer model on {csim_diff} outputs")
    keras = reference.to_keras(net).predict(d.input_format.to_float(x), verbose=0)
    keras_diff = d.layers[-1].result.to_raw(np.asarray(keras).reshape(last.shape)) != last
    return {"numpy_integer_vs_hls4ml_csim_mismatched_outputs": csim_diff,
            "qkeras_vs_hls4ml_csim_mismatched_outputs": int(keras_diff.sum()),
            "qkeras_vs_hls4ml_csim_mismatched_vectors": int(keras_diff.any(axis=1).sum()),
            "outputs_compared": int(last.size)}


def append_kill(ref: reference.Reference, onto: Path, out: Path, hm, kill: np.ndarray) -> dict[str, Any]:
    """A copy of the golden set `onto` with `kill` input codes appended as the set "kill" (inputs
    already in it skipped): every earlier row byte for byte, the same threshold and directed
    coverage, nothing searched again. The whole set is recomputed by the numpy integer model and
    must equal what `onto` holds; hls4ml C-sim and QKeras are checked against it on every row."""
    d, net = ref.design, ref.network
    g = G.load(onto, d, expected_hash=ref.model_hash)
    seen = {tuple(r) for r in g.x.tolist()}
    new = np.array([r for r in np.asarray(kill, dtype=np.int64).tolist() if tuple(r) not in seen], dtype=np.int64)
    new = np.unique(new, axis=0) if len(new) else new.reshape(0, d.n_inputs)
    if not len(new):
        raise G.GoldenError(f"{onto}: holds every kill input already; nothing to append")
    thr = g.threshold_raw
    x = np.concatenate([g.x, new])
    sets = np.concatenate([g.sets, np.full(len(new), "kill")])
    y = net.outputs(x, thr)
    if not np.array_equal(y[:len(g)], g.y):
        bad = int(np.argmax(np.any(y[:len(g)] != g.y, axis=1)))
        raise G.GoldenError(f"{onto}: vector id {int(g.ids[bad])} differs from the numpy integer model; a golden set "
                            "is extended only while it agrees with its model")
    refs = _reference_checks(ref, hm, x)
    written_by_write = {"format_version", "design", "vectors_file", "n_vectors", "formats"}
    manifest = {k: v for k, v in g.manifest.items() if k not in written_by_write}
    manifest |= {"sets": _set_counts(sets), "references": refs}
    ids = np.concatenate([g.ids, g.ids.max() + 1 + np.arange(len(new))])
    G.write(out, d, ids, sets, x, y, manifest)
    log(f"golden: {len(new)} kill vectors appended to the {len(g)} of {onto} -> {out}; C-sim == numpy on "
        f"{refs['outputs_compared']} outputs; QKeras differs on {refs['qkeras_vs_hls4ml_csim_mismatched_outputs']} "
        "outputs")
    return manifest


def time_rtl(design: Design, run: RunPaths, budget_ns: float = params.LATENCY_BUDGET_NS,
             pdk_dir: Path | None = None) -> tuple[Path | None, str | None]:
    """Close the clock period of the RTL this run built, unless the committed timing report
    already applies to it: ASAP7's SS corner with its wire-load estimate (hw.closure.time_run),
    cached by the RTL's digest. Returns (this run's timing report, or None; why there is none)."""
    from hw import closure
    from hw import timing as T

    meta = R.load_meta(run.rtl)
    doc = clock.load_report(clock.report_path(design))
    if doc is not None and clock.why_stale(doc, meta, R.sources_sha256(run.rtl, meta)) is None:
        log(f"timing: {clock.report_path(design)} applies to this RTL; not timed again")
        return None, None
    pdk = pdk_dir or T.default_pdk_dir()
    if pdk is None:
        why = (f"not timed: no ASAP7 library folder at {T.DEFAULT_PDK_DIR} (give --pdk-dir); ASAP7's SS corner "
               f"or nangate45's slow one (`pixvae timing --design {design.name} --liberty slow=PATH/"
               f"nangate45_slow.lib`) would close it")
        log(f"timing: {why}")
        return None, why
    log(f"timing: closing this RTL's clock period at ASAP7 SS with its wire-load estimate ({pdk}; cached by "
        f"the RTL's digest)")
    t0 = time.monotonic()
    try:
        rep = closure.time_run(run.rtl, run.root / "timing", pdk, budget_ns)
    except T.TimingError as e:
        why = f"timing this RTL failed: {str(e).splitlines()[0]}"
        log(f"timing: {why}")
        return None, why
    out = run.root / "timing" / clock.REPORT_FILE
    out.write_text(json.dumps(rep, indent=2) + "\n")
    c = rep["check"]
    log(f"timing: {c['period_ns']} ns at {c['target']}, {c['corner']} in {time.monotonic() - t0:.0f} s -> {out}")
    return out, None


def simulate(design: Design, rtl_dir: Path, golden_dir: Path, build_dir: Path, clock_ns: float | None = None,
             budget_ns: float | None = None, failure_waves: bool = True, timing_report: Path | None = None,
             timing_note: str | None = None, wave_format: str = "fst") -> dict[str, Any]:
    """Build and run the cocotb regression; `passed` and `fail_reasons` come from tb.verdict. A failing
    one also gets the waveform of its first failing vector (a traced build: minutes when cold; dump.fst,
    or dump.vcd with `wave_format` "vcd") unless `failure_waves` is False or PIXVAE_FAILURE_WAVES=0;
    the verdict is printed before it is built.
    budget_ns: the latency budget [default: the design's [rtl] budget_ns]. `timing_report`: the run's
    own timing report (time_rtl), used when the committed one does not apply."""
    from tb import runner, verdict

    budget_ns = design.budget_ns if budget_ns is None else budget_ns
    meta = R.load_meta(rtl_dir)
    params.check(clock_ns=clock_ns, budget_ns=budget_ns)
    clk = clock.resolve(design, rtl_dir, clock_ns, timing_report, timing_note)
    g = G.load(golden_dir, design, expected_hash=meta.model_hash)
    log(f"sim: Verilator build of {design.name} ({len(meta.sources)} files) in {build_dir}")
    info = runner.build(rtl_dir, build_dir)
    log(f"sim: build {'cached' if info.cached else 'done'} in {info.seconds:.1f} s; "
        f"running the cocotb regression on {len(g)} vectors")
    results: dict[str, Any] = {"design": design.name, **clk.as_dict(),
                               "adder_levels_per_stage": meta.adder_levels_per_stage,
                               "build_seconds": round(info.seconds, 1),
                               "build_cached": info.cached, "expected_vectors": len(g), "golden": str(golden_dir)}
    try:
        # tb.runner resolves the committed report only: a period closed for this run is passed on.
        run_clock = clk.period_ns if clock_ns is None and timing_report is not None and clk.closed else clock_ns
        results |= runner.run(design, rtl_dir, golden_dir, build_dir, testcase="regression", clock_ns=run_clock,
                              budget_ns=budget_ns)
    except runner.RegressionFailed as e:
        results |= e.results
    results |= clk.as_dict()  # where the period came from (tb.runner only knows the committed report)
    results |= verdict.judge(results, len(g), results.get("cocotb_failures")).as_dict()
    first = first_failing_vector(results)
    why = "; ".join(results.get("fail_reasons", [])[:2])
    log(f"sim: {'PASS' if results.get('passed') else 'FAIL'}"
        + (f" ({why if len(why) <= 160 else why[:157] + '...'}; the summary follows)" if why else ""))
    if first is not None and failure_waves and os.environ.get("PIXVAE_FAILURE_WAVES", "1") != "0":
        from hw.toolchain import FST_MISSING, fst_available

        if wave_format == "fst" and not fst_available():  # a VCD beats no waveform
            log(f"sim: {FST_MISSING}: writing VCD")
            wave_format = "vcd"
        log(f"sim: drawing the waveform of the first failing vector, {first} (a traced build; "
            "--no-failure-waves skips it)")
        try:  # the waveform of the first failing vector, so an engineer can open it at once
            results["failure_waves"] = waves(design, rtl_dir, golden_dir, build_dir.parent / "sim_build_waves",
                                             build_dir.parent / "failure_waves" / f"track_{first}", first,
                                             clock_ns, wave_format)
        except Exception as e:  # noqa: BLE001 - the verdict stands; say why there is no picture
            results["failure_waves"] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
    return results


def first_failing_vector(results: dict[str, Any]) -> int | None:
    """The id of the first vector with a differing field, from the testbench's mismatch lines."""
    return next((v for v in map(G.diff_vector, results.get("first_mismatches", [])) if v is not None), None)


# A whole-regression trace is estimated first from a trace of every PROBE_EVERY-th vector: streamed
# back to back like the regression, so its bytes per vector scale (a little over: its header and
# reset are counted as many times as it is scaled).
PROBE_VECTORS = 64
MAX_TRACE_MB = 200.0  # the largest whole-regression trace written without --max-mb


def waves(design: Design, rtl_dir: Path, golden_dir: Path, build_dir: Path, out_dir: Path, track: int | None,
          clock_ns: float | None = None, wave_format: str = "fst", all_signals: bool = False,
          max_mb: float = MAX_TRACE_MB) -> dict[str, Any]:
    """Record a trace, dump.fst (or dump.vcd), of one track or of the whole regression (track None) and,
    for one track, a PNG. `all_signals`: the da4ml core's generated wires too (tb.runner.trace_args).
    A whole-regression trace says its estimated size first and is refused (click.BadParameter, --max-mb)
    above `max_mb`."""
    from pixvae import preflight
    from tb import runner, wave_png

    meta = R.load_meta(rtl_dir)
    period_ns = clock.resolve(design, rtl_dir, clock_ns).period_ns
    log(f"waves: Verilator build with tracing ({wave_format.upper()}"
        f"{', every signal' if all_signals else ''}) in {build_dir}")
    runner.build(rtl_dir, build_dir, waves=True, wave_format=wave_format, all_signals=all_signals)
    dump = out_dir / f"dump.{wave_format}"
    for stale in runner.WAVE_FORMATS:  # what lies there is this run's, in one format
        (out_dir / f"dump.{stale}").unlink(missing_ok=True)
    if track is None:
        est = trace_estimate(design, rtl_dir, golden_dir, build_dir, out_dir / "probe", clock_ns, wave_format)
        log(f"waves: {est['line']}")
        preflight.check_trace_size(est["bytes"], est["line"], max_mb)
    test = "single_track" if track is not None else "regression"
    try:
        runner.run(design, rtl_dir, golden_dir, build_dir, testcase=test, results=out_dir / "results.json",
                   waves=True, clock_ns=clock_ns, track=track)
    except runner.RegressionFailed as e:  # a failing vector still leaves its waveform: draw it, then say so
        log(f"waves: the traced run failed too ({str(e).splitlines()[0]})")
    got: dict[str, Any] = {"waves": str(dump), "format": wave_format}
    if track is not None:  # the golden vector's outputs beside the RTL's, a differing field in red
        g = G.load(golden_dir, design)
        expected = dict(zip(design.output_columns, g.y[list(g.ids).index(track)].tolist(), strict=True))
        png = wave_png.render(dump, out_dir / f"track_{track}.png", meta, period_ns,
                              f"{design.name}: golden vector {track} through {meta.top}", expected)
        got["png"] = str(png)
    size = human_bytes(dump.stat().st_size) if dump.is_file() else "not written"
    log(f"waves: {dump}, {size} (open with `gtkwave {dump}` or `surfer {dump}`)")
    if "png" in got:
        log(f"waves: picture {got['png']}")
    return got


def human_bytes(n: float) -> str:
    """A file size as people read it: 952 bytes, 38.4 kB, 2.0 MB (decimal units, as --max-mb)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{int(n)} bytes"


def trace_estimate(design: Design, rtl_dir: Path, golden_dir: Path, build_dir: Path, probe_dir: Path,
                   clock_ns: float | None, wave_format: str) -> dict[str, Any]:
    """The whole regression's trace size, scaled from a traced run of every n-th vector (a shard of the
    regression, about PROBE_VECTORS of them, in probe_dir, removed after): {"bytes", "line"}."""
    from tb import runner

    n = len(G.load(golden_dir, design))
    every = max(1, n // PROBE_VECTORS)
    probed = len(range(0, n, every))
    with contextlib.suppress(runner.RegressionFailed):  # a failing vector traces as many bytes as a passing one
        runner.run(design, rtl_dir, golden_dir, build_dir, testcase="regression", results=probe_dir / "results.json",
                   waves=True, clock_ns=clock_ns, shard=(0, every))
    dump = probe_dir / f"dump.{wave_format}"
    if not dump.is_file():
        raise RuntimeError(f"waves: the probe trace of {probed} vectors wrote no {dump.name}")
    probe_bytes = dump.stat().st_size
    shutil.rmtree(probe_dir, ignore_errors=True)
    nbytes = int(probe_bytes * n / probed)
    line = (f"the whole regression ({n:,} vectors) as {wave_format.upper()}: about {human_bytes(nbytes)} "
            f"at most (scaled from a trace of {probed} of them, {human_bytes(probe_bytes)})")
    return {"bytes": nbytes, "line": line}


def full_run(design: Design, run: RunPaths, profile: str, golden_out: Path,
             adder_levels: int | None = None, clock_ns: float | None = None,
             budget_ns: float | None = None, failure_waves: bool = True, timing: bool = False,
             pdk_dir: Path | None = None, wave_format: str = "fst", exact_budget_s: float = FLOW_EXACT_BUDGET
             ) -> tuple[reference.Reference, R.RtlMeta, dict[str, Any]]:
    """Every stage in order: data, train, hls4ml + C-sim, Verilog, (with `timing`: its clock
    period closed, see time_rtl), golden vectors, RTL regression."""
    params.check(clock_ns=clock_ns, budget_ns=budget_ns, adder_levels=adder_levels)
    _needs_tracks(design)
    make_data(run.train_data, int(design.profile(profile)["n_tracks"]), TRAIN_SEED)
    make_data(run.test_data, TEST_TRACKS, TEST_SEED)
    train(design, run.train_data, run.reference, profile)
    ref = reference.load(run.reference, design)
    return ref, *verify(ref, run, golden_out, adder_levels, clock_ns, budget_ns, failure_waves, timing, pdk_dir,
                        wave_format, exact_budget_s)


def verify(ref: reference.Reference, run: RunPaths, golden_out: Path,
           adder_levels: int | None = None, clock_ns: float | None = None,
           budget_ns: float | None = None, failure_waves: bool = True, timing: bool = False,
           pdk_dir: Path | None = None, wave_format: str = "fst",
           exact_budget_s: float = FLOW_EXACT_BUDGET) -> tuple[R.RtlMeta, dict[str, Any]]:
    """A trained model to its regression verdict: hls4ml + C-sim, Verilog, (its timing), golden
    vectors, RTL regression."""
    hm = convert(ref, run.hls)
    meta = export(ref, run.hls, run.rtl, adder_levels, hm=hm)
    # The timing tools (yosys, OpenSTA: subprocesses, one core) run while the golden vectors are
    # made on the other core; the regression waits for the period.
    with ThreadPoolExecutor(max_workers=1) as pool:
        timed = pool.submit(time_rtl, ref.design, run, budget_ns or ref.design.budget_ns, pdk_dir) \
            if timing and clock_ns is None else None
        make_golden(ref, run.test_data, golden_out, hm, exact=flow_exact(exact_budget_s))
        report, note = timed.result() if timed is not None else (None, None)
    return meta, simulate(ref.design, run.rtl, golden_out, run.sim, clock_ns, budget_ns, failure_waves, report, note,
                          wave_format)


def summary_lines(results: dict[str, Any]) -> list[str]:
    """The regression summary; PASS or FAIL is tb.verdict's, with its reasons."""
    lat, ns = results.get("latency_cycles"), results.get("latency_ns")
    budget = results.get("budget_ns", params.LATENCY_BUDGET_NS)
    passed = bool(results.get("passed"))
    where = (f"at {results.get('clock_target')}, {results.get('clock_corner')}" if results.get("clock_closed")
             else "at a period no timing tool closed")
    lines = [
        f"design           : {results.get('design')}",
        f"vectors compared : {results.get('vectors', 0)} of {results.get('expected_vectors', 'n/a')}",
        f"mismatches       : {results.get('mismatched_vectors', 'n/a')} vectors "
        f"({results.get('mismatched_fields', 'n/a')} output fields), "
        f"{results.get('protocol_errors', 'n/a')} protocol errors",
        f"latency          : {lat} cycles x {results.get('clock_period_ns')} ns = {ns} ns "
        f"(budget {budget} ns: {'within' if ns <= budget else 'EXCEEDED'}, {where})" if ns is not None
        else "latency          : not measured",
        f"clock period     : {results.get('clock_period_ns')} ns, {results.get('clock_source', 'not resolved')}",
        f"pipeline         : {results.get('adder_levels_per_stage')} adder levels per stage",
        f"initiation intvl : {results.get('initiation_interval')} cycle(s)",
        f"verilator build  : {results.get('build_seconds')} s{' (cached)' if results.get('build_cached') else ''}",
        f"cocotb speed     : {results.get('cycles_per_s', 0):.0f} cycles/s",
        f"result           : {'PASS' if passed else 'FAIL'}",
    ]
    if not passed:
        lines += [f"  why: {r}" for r in results.get("fail_reasons", ["no verdict (the regression did not run)"])[:8]]
    lines += [f"  {m}" for m in results.get("first_mismatches", [])[:5]]
    fw = results.get("failure_waves")
    if fw:
        lines.append(f"first failing vector: waveform {fw['waves']}, picture {fw.get('png')}" if "waves" in fw
                     else f"first failing vector: no waveform ({fw.get('error')})")
    return lines
