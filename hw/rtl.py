"""Verilog from the converted hls4ml model, through da4ml, plus the protocol wrapper.

The layers are replayed from the hls4ml model (weights and every precision read from it, not
from our own format table), traced by da4ml into adder/multiplier logic, split into pipeline
stages and written as Verilog. da4ml rounds only by truncation (TRN) or half-up (RND); hls4ml's
RND_CONV (half to even, as QKeras) is built here from da4ml's own operations.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from string import Template

import numpy as np

from hw import params
from model import formats as F

TEMPLATE = Path(__file__).parent / "rtl" / "pixel_encoder_top.v.tmpl"


def generator_sha256() -> str:
    return hashlib.sha256(Path(__file__).read_bytes() + TEMPLATE.read_bytes()).hexdigest()
META_FILE = "rtl_meta.json"


@dataclass
class RtlMeta:
    model_hash: str
    top: str
    latency_cycles: int
    pipeline_stages: int
    adder_levels_per_stage: int
    clock_period_ns: float
    input_bits: int
    latent_bits: int
    score_bits: int
    estimated_luts: float  # da4ml's own estimate, not a synthesis result
    estimated_ffs: int
    sources: list[str]
    generator_sha256: str  # of hw/rtl.py and the wrapper template: a changed generator re-exports


def _kif(p) -> tuple[int, int, int]:
    """hls4ml precision -> da4ml (sign bit, integer bits without sign, fraction bits)."""
    return int(p.signed), p.integer - int(p.signed), p.width - p.integer


def _round_half_even(v, k: int, i: int, f: int, overflow: str):
    """Quantize to f fraction bits rounding half to even, built from da4ml's TRN quantize.

    With fin input fraction bits: add half an output LSB, minus one input LSB, plus one input
    LSB when the truncated result is odd; then truncate. Ties go to the even neighbour,
    everything else to the nearest.
    """
    fin = v.kif[2]
    odd = v.quantize(0, 1 - f, f, "WRAP", "TRN")  # the output LSB of the truncated value
    return (v + 2.0 ** -(f + 1) - 2.0**-fin + odd * 2.0 ** (f - fin)).quantize(k, i, f, overflow, "TRN")


def _cast(v, k: int, i: int, f: int, rounding: str, overflow: str):
    """ap_fixed assignment semantics: round (TRN or RND_CONV), then handle overflow."""
    if overflow not in ("WRAP", "SAT", "SAT_SYM"):
        raise NotImplementedError(f"overflow mode {overflow} is not replayed")
    if rounding == "TRN":
        return v.quantize(k, i, f, overflow, "TRN")
    if rounding == "RND_CONV":
        return _round_half_even(v, k, i, f, overflow)
    raise NotImplementedError(f"rounding mode {rounding} is not replayed (only TRN and RND_CONV)")


def _cast_hls(v, p):
    return _cast(v, *_kif(p), p.rounding_mode.name, p.saturation_mode.name)


def trace_encoder(hm):
    """Replay the hls4ml graph in da4ml; outputs are the 8 latent means then the score."""
    from da4ml.trace import FixedVariableArray, comb_trace

    x = inp = None
    for layer in hm.get_layers():
        p = layer.get_output_variable().type.precision
        if layer.class_name == "Input":
            k, i, f = _kif(p)
            n = F.N_INPUTS
            x = inp = FixedVariableArray.from_kif(np.full(n, k), np.full(n, i), np.full(n, f))
        elif layer.class_name == "Dense":
            acc = layer.get_attr("accum_t").precision
            w, b = layer.weights["weight"].data, layer.weights["bias"].data
            # hls4ml multiplies exactly and accumulates in accum_t; exact unless accum_t is narrower.
            x = (x @ w + b).quantize(*_kif(acc), "WRAP", "TRN")
            x = _cast_hls(x, p)
        elif layer.class_name == "Activation" and layer.get_attr("activation") == "relu":
            x = _cast_hls(x.relu(), p)
        else:
            raise NotImplementedError(f"layer {layer.name} ({layer.class_name}) is not replayed")
    mu = x
    sq = mu * mu
    total = sq[0]
    for j in range(1, F.N_LATENT):
        total = total + sq[j]
    sc = F.SCORE
    score = _cast(total * 0.5, int(sc.signed), sc.integer - int(sc.signed), sc.frac, sc.rounding, sc.overflow)
    out = FixedVariableArray(np.concatenate([mu._vars, np.array([score])]))
    return comb_trace(inp, out)


def _output_assigns(out_qint, core_bits: int) -> list[str]:
    """Map each minimally packed core output onto its declared port format."""
    lines, offset = [], 0
    targets = [("core_mu", F.LATENT, j * F.LATENT.width) for j in range(F.N_LATENT)] + [("core_score", F.SCORE, 0)]
    for (port, fmt, base), q in zip(targets, out_qint, strict=True):
        k, i, f = (int(v) for v in _minimal_kif_of(q))
        width = k + i + f
        hi, lo = base + fmt.width - 1, base
        if width <= 0:
            lines.append(f"    assign {port}[{hi}:{lo}] = {fmt.width}'d0;  // constant zero")
            continue
        pad_lo = fmt.frac - f
        pad_hi = fmt.width - width - pad_lo
        if pad_lo < 0 or pad_hi < 0 or (k and not fmt.signed):
            raise ValueError(f"core output {port}[{lo}] (k={k}, i={i}, f={f}) does not fit {fmt.hls()}")
        field = f"core_out[{offset + width - 1}:{offset}]"
        sign = f"core_out[{offset + width - 1}]" if k else "1'b0"
        parts = ([f"{{{pad_hi}{{{sign}}}}}"] if pad_hi else []) + [field] + ([f"{pad_lo}'b0"] if pad_lo else [])
        lines.append(f"    assign {port}[{hi}:{lo}] = {{{', '.join(parts)}}};  // core k={k} i={i} f={f}")
        offset += width
    if offset != core_bits:
        raise ValueError(f"core output packing covers {offset} bits, core has {core_bits}")
    return lines


def export_rtl(
    hm,
    out_dir: Path,
    model_hash: str,
    adder_levels: int = params.ADDER_LEVELS_PER_STAGE,
    clock_period_ns: float = params.CLOCK_PERIOD_NS,
) -> RtlMeta:
    """Write the pipelined core and the protocol wrapper under out_dir; returns its metadata."""
    from da4ml.codegen import VerilogModel

    comb = trace_encoder(hm)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    with contextlib.redirect_stdout(io.StringIO()):
        vm = VerilogModel(comb, params.CORE_MODULE, out_dir, latency_cutoff=adder_levels)
        vm.write()
    pipe = vm._pipe  # da4ml exposes the stage split only here
    n_stages = len(pipe.solutions)
    core_in = sum(sum(int(v) for v in kif) for kif in map(_minimal_kif_of, pipe.solutions[0].inp_qint))
    core_out = sum(sum(int(v) for v in kif) for kif in map(_minimal_kif_of, pipe.out_qint))
    if core_in != F.INPUT_BITS:
        raise ValueError(f"da4ml core input is {core_in} bits, expected {F.INPUT_BITS}")
    # The core registers its input at the accepting edge, then each of the n stage outputs:
    # a track accepted at edge a appears after edge a + n.
    latency = n_stages
    top = Template(TEMPLATE.read_text()).substitute(
        TOP=params.TOP_MODULE,
        CORE=params.CORE_MODULE,
        MODEL_HASH=model_hash,
        LATENCY=latency,
        INPUT_BITS=F.INPUT_BITS,
        LATENT_BITS=F.LATENT_BITS,
        SCORE_BITS=F.SCORE.width,
        CORE_OUT_BITS=core_out,
        INPUT_FMT=F.INPUT.hls(False),
        LATENT_FMT=F.LATENT.hls(False),
        SCORE_FMT=F.SCORE.hls(False),
        OUTPUT_ASSIGNS="\n".join(_output_assigns(pipe.out_qint, core_out)),
    )
    (out_dir / f"{params.TOP_MODULE}.v").write_text(top)
    src = out_dir / "src"
    sources = sorted(str(p.relative_to(out_dir)) for p in (src / "static").glob("*.v"))
    sources += [str(p.relative_to(out_dir)) for p in sorted(src.glob(f"{params.CORE_MODULE}*.v"))
                if not p.name.endswith("_wrapper.v")]
    sources.append(f"{params.TOP_MODULE}.v")
    meta = RtlMeta(
        model_hash=model_hash,
        top=params.TOP_MODULE,
        latency_cycles=latency,
        pipeline_stages=n_stages,
        adder_levels_per_stage=adder_levels,
        clock_period_ns=clock_period_ns,
        input_bits=F.INPUT_BITS,
        latent_bits=F.LATENT_BITS,
        score_bits=F.SCORE.width,
        estimated_luts=float(comb.cost),
        estimated_ffs=int(pipe.reg_bits),
        sources=sources,
        generator_sha256=generator_sha256(),
    )
    (out_dir / META_FILE).write_text(json.dumps(asdict(meta), indent=2) + "\n")
    return meta


def _minimal_kif_of(q):
    from da4ml.cmvm.types import _minimal_kif

    return _minimal_kif(q)


def sources_sha256(rtl_dir: Path, meta: RtlMeta, *extra: Path) -> str:
    """Digest of the exported sources (and any extra files): a build is reusable while it is unchanged."""
    paths = [Path(rtl_dir) / s for s in meta.sources] + list(extra)
    return hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()


def load_meta(rtl_dir: Path) -> RtlMeta:
    path = Path(rtl_dir) / META_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing (run `pixvae export`)")
    try:
        return RtlMeta(**json.loads(path.read_text()))
    except (TypeError, json.JSONDecodeError):
        raise FileNotFoundError(f"{path}: unreadable or from another version (run `pixvae export`)") from None
