"""The committed model through hls4ml to Verilog: the conversion and the export every command shares.

hls4ml converts the reference's QKeras model (its C simulation built on request); da4ml writes the
RTL at the design's pipeline depth, reused while model, depth, generator and files are unchanged.
Here, below pixvae/, so that hw/closure.py's depth sweep need not import the command line's stages.
"""

from __future__ import annotations

import time
from pathlib import Path

from hw import hls, params
from hw import rtl as R
from model.fixed import reference


def log(msg: str) -> None:
    print(f"[pixvae] {msg}", flush=True)


def convert(ref: reference.Reference, hls_dir: Path, compile_csim: bool = True):
    log(f"export: hls4ml conversion of {ref.design.name} model {ref.model_hash[:12]}"
        + (" + C simulation build" if compile_csim else ""))
    return hls.convert(ref.design, reference.to_keras(ref.network), ref.hls_config, hls_dir, compile_csim=compile_csim)


def export(ref: reference.Reference, hls_dir: Path, rtl_dir: Path, adder_levels: int | None = None,
           hm=None) -> R.RtlMeta:
    """Write the RTL at the design's pipeline depth (or `adder_levels` per stage); reused while model,
    depth, generator and the written files are unchanged."""
    adder_levels = adder_levels or ref.design.adder_levels
    params.check(adder_levels=adder_levels)
    meta_path = rtl_dir / R.META_FILE
    if meta_path.is_file():
        try:
            old = R.load_meta(rtl_dir)
        except R.RtlError:
            old = None
        same = old and (old.design, old.model_hash, old.adder_levels_per_stage, old.depth_slack,
                        old.generator_sha256)
        if same == (ref.design.name, ref.model_hash, adder_levels, ref.design.depth_slack, R.generator_sha256()):
            if R.sources_intact(rtl_dir, old):
                log(f"export: reusing RTL in {rtl_dir}")
                return old
            log(f"export: RTL in {rtl_dir} was edited after export; exporting again")
    hm = hm or convert(ref, hls_dir, compile_csim=False)
    t0 = time.perf_counter()
    meta = R.export_rtl(ref.design, hm, rtl_dir, ref.model_hash, adder_levels=adder_levels,
                        check=ref.network.check)
    log(f"export: da4ml Verilog in {time.perf_counter() - t0:.1f} s: {meta.pipeline_stages} stages, "
        f"latency {meta.latency_cycles} cycles, "
        f"da4ml estimate {meta.estimated_luts:.0f} LUTs / {meta.estimated_ffs} FFs")
    return meta
