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
import operator
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from string import Template

import numpy as np

from hw import params
from model.description.design import N_ROWS, Design
from model.description.formats import FixedFormat

TEMPLATE = Path(__file__).parent / "rtl" / "design_top.v.tmpl"


def generator_sha256() -> str:
    return hashlib.sha256(Path(__file__).read_bytes() + TEMPLATE.read_bytes()).hexdigest()
META_FILE = "rtl_meta.json"


class RtlError(RuntimeError):
    """Exported RTL that is missing, unreadable or of another design (message is one line)."""


@dataclass
class RtlField:
    """One data output port: out_<name>, `count` values of `format`, value j in bits [w*j+w-1:w*j]."""

    name: str
    count: int
    width: int
    signed: bool
    format: str


@dataclass
class RtlMeta:
    design: str
    model_hash: str
    top: str
    latency_cycles: int
    pipeline_stages: int
    adder_levels_per_stage: int
    depth_slack: int  # da4ml hard_dc the adder trees were built with
    n_inputs: int
    input_width: int
    input_bits: int
    score_bits: int
    score_signed: bool
    fields: list[RtlField]
    estimated_luts: float  # da4ml's own estimate, not a synthesis result
    estimated_ffs: int
    sources: list[str]
    generator_sha256: str  # of hw/rtl.py and the wrapper template: a changed generator re-exports
    exported_sha256: str = ""  # of the sources as written: an edited file is noticed, not reused silently

    def __post_init__(self) -> None:
        self.fields = [f if isinstance(f, RtlField) else RtlField(**f) for f in self.fields]


def _kif(p) -> tuple[int, int, int]:
    """hls4ml precision -> da4ml (sign bit, integer bits without sign, fraction bits)."""
    return int(p.signed), p.integer - int(p.signed), p.width - p.integer


def _fmt_kif(fmt: FixedFormat) -> tuple[int, int, int]:
    """A declared format -> da4ml (sign bit, integer bits without sign, fraction bits)."""
    return int(fmt.signed), fmt.integer - int(fmt.signed), fmt.frac


def _round_half_even(v, k: int, i: int, f: int, overflow: str):
    """Quantize to f fraction bits rounding half to even, built from da4ml's TRN quantize.

    With fin > f input fraction bits: add half an output LSB, minus one input LSB, plus one input
    LSB when the truncated result is odd; then truncate. Ties go to the even neighbour,
    everything else to the nearest.
    """
    from da4ml.trace import FixedVariableArray

    # A value with no more than f fraction bits is on the output grid already; counted as having
    # f + 1 the terms below leave it as it is.
    fin = np.maximum(v.kif[2], f + 1)
    odd = v.quantize(0, 1 - f, f, "WRAP", "TRN")  # the output LSB of the truncated value
    out = (v + 2.0 ** -(f + 1) - 2.0**-fin + odd * 2.0 ** (f - fin)).quantize(k, i, f, overflow, "TRN")
    # A constant (a unit whose weights were all pruned: its bias) is cast directly: da4ml does not
    # wrap a constant into a narrower field, so `odd` would be the whole constant, not its LSB.
    if isinstance(v, FixedVariableArray):
        cells = [e.quantize(k, i, f, overflow, "TRN") if e.low == e.high else o
                 for e, o in zip(v._vars.ravel(), out._vars.ravel(), strict=True)]
        return FixedVariableArray(np.array(cells).reshape(out._vars.shape), out.solver_options)
    return v.quantize(k, i, f, overflow, "TRN") if v.low == v.high else out


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


def _tree(terms: list, op=operator.add):
    """A balanced tree of `op` (an adder tree by default): log2(n) levels, not a chain of n - 1."""
    while len(terms) > 1:
        terms = [op(terms[j], terms[j + 1]) if j + 1 < len(terms) else terms[j] for j in range(0, len(terms), 2)]
    return terms[0]


def _dips(design: Design, inp) -> list:
    """Each interior y-profile row's dip below both neighbours, max(0, min(left, right) - row),
    as model.fixed.fixed_ref.profile_dips: min(a, b) = a - relu(a - b). Computed from the inputs
    beside the network, so it adds only the final adder to the score's depth."""
    dips = []
    for s in range(len(design.encoding.slices)):
        row = [inp[s * N_ROWS + r] for r in range(N_ROWS)]
        for r in range(1, N_ROWS - 1):
            low = row[r - 1] - (row[r - 1] - row[r + 1]).relu()
            dips.append((low - row[r]).relu())
    return dips


def _check(design: Design, check: tuple, inp) -> list:
    """Each profile input's missing charge, max(0, prediction - input), as
    model.fixed.fixed_ref.profile_check: the check's layers traced from their integer weights in their
    declared formats (masked weights are zero, and da4ml drops zero terms). It reads the inputs
    beside the encoder, so only its adder tree and the final adder add to the score's depth."""
    if len(check) != len(design.check.layers):
        raise ValueError(f"{design.name}: the score's check needs its {len(design.check.layers)} layers")
    x = xin = inp.quantize(0, 0, design.check.input_frac, "WRAP", "TRN")  # the codes' top bits: wiring only
    for ly in check:
        s = ly.spec
        x = (x @ s.weight.to_float(ly.kernel) + s.bias.to_float(ly.bias)).quantize(*_fmt_kif(s.accum), "WRAP", "TRN")
        x = _cast(x.relu() if s.activation == "relu" else x, *_fmt_kif(s.result), s.result.rounding,
                  s.result.overflow)
    return [(x[j] - xin[j]).relu() for j in range(design.check.n_profile)]


def _table(v, fn):
    """A lookup of v through fn (real value -> raw integer, model/fixed/kl_discrete.py), tabulated over
    every value da4ml knows v can take. The table's entries are the raw integers themselves; the
    caller scales the result by 2**-frac of the table's format."""
    n = round((v.high - v.low) / v.step) + 1
    grid = float(v.low) + float(v.step) * np.arange(n)
    return v.lookup(np.asarray(fn(grid), dtype=np.float64))


def _kl_discrete(design: Design, logits: list):
    """The discrete KL of one categorical latent, step for step as model.fixed.kl_discrete.kl_raw:
    a max tree, d = max - a (>= 0), two tables of d summed, the sum truncated to sum_frac bits,
    two tables of it, one multiply."""
    from model.fixed import kl_discrete

    ef, sf, out = design.exp_frac, design.sum_frac, design.score_format.frac
    t = kl_discrete.tables(design, len(logits))
    m = _tree(logits, lambda a, b: a.max_of(b))
    d = [(m - a).relu() for a in logits]  # >= 0 always; relu tells da4ml so
    s = _tree([_table(v, t["exp"]) for v in d]) * 2.0**-ef
    p = _tree([_table(v, t["dexp"]) for v in d]) * 2.0**-ef
    s = s.quantize(0, len(logits).bit_length(), sf, "WRAP", "TRN")
    g = _table(s, t["log"]) * 2.0**-out
    ph = (p * (_table(s, t["inv"]) * 2.0**-ef)).quantize(0, 8, out, "WRAP", "TRN")
    return (g - ph).relu()


def trace(design: Design, hm, check: tuple = ()):
    """Replay the hls4ml graph in da4ml, with the design's profile check from its integer layers
    (model.fixed.fixed_ref.IntLayer); outputs are the exposed latent values (if any), then the score."""
    from da4ml.trace import FixedVariableArray, comb_trace

    x = inp = None
    for layer in hm.get_layers():
        p = layer.get_output_variable().type.precision
        if layer.class_name == "Input":
            k, i, f = _kif(p)
            n = design.n_inputs
            # hard_dc: how many adder levels each constant-matrix adder tree may use beyond its
            # minimum (-1: no limit, da4ml shares the most terms and builds deeper trees).
            x = inp = FixedVariableArray.from_kif(np.full(n, k), np.full(n, i), np.full(n, f),
                                                  solver_options={"hard_dc": design.depth_slack})
        elif layer.class_name == "Dense":
            acc = layer.get_attr("accum_t").precision
            w, b = layer.weights["weight"].data, layer.weights["bias"].data
            # hls4ml multiplies exactly and accumulates in accum_t; exact unless accum_t is narrower.
            # Pruned (zero) weights add no logic: da4ml drops zero terms of the constant matrix.
            x = (x @ w + b).quantize(*_kif(acc), "WRAP", "TRN")
            x = _cast_hls(x, p)
        elif layer.class_name == "Activation" and layer.get_attr("activation") == "relu":
            x = _cast_hls(x.relu(), p)
        else:
            raise NotImplementedError(f"layer {layer.name} ({layer.class_name}) is not replayed")
    sc = design.score_format
    if design.score in ("kl_clipped", "kl_total"):
        split = design.latent_split
        total = _tree([v * v for v in x._vars[: split.continuous]]) * 0.5
        for cols in split.groups():
            total = total + _kl_discrete(design, list(x._vars[cols]))
        # Terms read from the inputs beside the encoder are summed apart, so the KL (the longest
        # path in da4ml's estimate) meets them in one adder instead of two.
        beside = []
        if design.dip_shift is not None:
            beside.append(_tree(_dips(design, inp)) * 2.0 ** (design.dip_shift + design.input_format.frac))
        if design.check is not None:
            beside.append(_tree(_check(design, check, inp)) * 2.0 ** (design.check.shift + design.check.input_frac))
        if beside:
            total = total + _tree(beside)
        score = _cast(total, *_fmt_kif(sc), sc.rounding, sc.overflow)
        out = FixedVariableArray(np.concatenate([x._vars, np.array([score])]))
    else:  # the network's single output is the score
        out = x
    return comb_trace(inp, out)


def _core_targets(design: Design) -> list[tuple[str, FixedFormat, int]]:
    """(wrapper wire, format, bit offset) of each core output, in the core's output order."""
    if not design.has_score:
        (fl,) = design.fields
        return [(f"core_{fl.name}", fl.fmt, j * fl.fmt.width) for j in range(fl.count)]
    out = []
    for lat in design.latents:
        out += [(f"core_{lat.name}", lat.fmt, j * lat.fmt.width) for j in range(lat.count)]
    return out + [("core_score", design.score_format, 0)]


def _output_assigns(design: Design, out_qint, core_bits: int) -> list[str]:
    """Map each minimally packed core output onto its declared port format."""
    lines, offset = [], 0
    for (port, fmt, base), q in zip(_core_targets(design), out_qint, strict=True):
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


def _input_assigns(design: Design, inp_qint) -> list[str]:
    """The core's input bits from in_data when da4ml dropped some (inputs whose weights are all
    zero, kept as unused ports): each used input's bits, packed as the core reads them."""
    fmt, lines, offset = design.input_format, [], 0
    for j, q in enumerate(inp_qint):
        k, i, f = (int(v) for v in _minimal_kif_of(q))
        width = k + i + f
        if width <= 0:
            continue  # unused input: its port bits go nowhere
        lo = j * fmt.width + fmt.frac - f
        if fmt.frac < f or lo + width > (j + 1) * fmt.width:
            raise ValueError(f"core input {j} (k={k}, i={i}, f={f}) does not fit {fmt.hls()}")
        lines.append(f"    assign core_in[{offset + width - 1}:{offset}] = in_data[{lo + width - 1}:{lo}];  // x{j}")
        offset += width
    return [f"    wire [{offset}-1:0] core_in;"] + lines


def _wrapper_text(design: Design, model_hash: str, latency: int, core_bits: int, assigns: list[str],
                  core_in: list[str] | None = None) -> str:
    """The protocol wrapper: ports, field documentation and output gating, all from the design.
    core_in: the wiring of the used inputs when the core reads fewer than all (_input_assigns)."""
    fields = design.fields
    decision = fields[-1] if design.has_score else None
    docs, ports, gated = [], [], []
    for fl in fields:
        w = fl.fmt.width
        if fl is decision:
            cmp = "signed" if design.score_format.signed else "unsigned"
            docs.append(f"//   {fl.port:<16} score > score_threshold ({cmp} comparison)")
        elif fl.count > 1:
            docs.append(f"//   {fl.port:<16} {fl.count} values of {fl.fmt.hls(False)}, "
                        f"value j in bits [{w}j+{w - 1}:{w}j]")
        elif not design.has_score:
            docs.append(f"//   {fl.port:<16} the last layer's result, {fl.fmt.hls(False)}")
        else:
            docs.append(f"//   {fl.port:<16} {design.score} score, {fl.fmt.hls(False)}")
        ports.append(f"    output wire [{fl.bits}-1:0] {fl.port}")
    score_cmp = ("$signed(core_score) > $signed(score_threshold)" if design.score_format.signed
                 else "core_score > score_threshold")
    data = fields[:-1] if decision else fields
    for fl in data:
        gated.append(f"    assign {fl.port} = out_valid ? core_{fl.name} : {{{fl.bits}{{1'b0}}}};")
    if decision:
        gated.append(f"    assign {decision.port} = out_valid & ({score_cmp});")
    wires = [f"    wire [{fl.bits}-1:0] core_{fl.name};" for fl in data] + (core_in or [])
    fmt = design.input_format
    sc = design.score_format
    threshold_doc = (f"\n//   score_threshold  {sc.hls(False)}, compared with the score of each track"
                     if decision else "")
    threshold_port = f"\n    input  wire [{sc.width}-1:0]  score_threshold," if decision else ""
    return Template(TEMPLATE.read_text()).substitute(
        THRESHOLD_DOC=threshold_doc, THRESHOLD_PORT=threshold_port, CORE_IN="core_in" if core_in else "in_data",
        DESIGN=design.name, TOP=params.TOP_MODULE, CORE=params.CORE_MODULE, MODEL_HASH=model_hash, LATENCY=latency,
        N_INPUTS=design.n_inputs, INPUT_FMT=fmt.hls(False), INPUT_WIDTH=fmt.width, INPUT_MSB=fmt.width - 1,
        INPUT_BITS=design.input_bits, SCORE_BITS=design.score_format.width, SCORE_FMT=design.score_format.hls(False),
        FIELD_DOCS="\n".join(docs), FIELD_PORTS=",\n".join(ports), CORE_OUT_BITS=core_bits,
        CORE_WIRES="\n".join(wires), OUTPUT_ASSIGNS="\n".join(assigns), GATED_OUTPUTS="\n".join(gated),
    )


TABLE_INSTANCE = re.compile(r'lookup_table #\((\d+), (\d+), "(table_[^"]+\.mem)"\)')


def _inline_tables(out_dir: Path) -> None:
    """Replace da4ml's lookup tables by ROM modules written out as `case` statements.

    da4ml reads each table with $readmemh from a file named by a random UUID, relative to the
    simulator's working directory: the RTL would change with every export (so no digest could
    tie a timing report to it) and a simulator started elsewhere reads zeros. Each table becomes
    a module named by the digest of its contents, in src/<core>_tables.v."""
    src = out_dir / "src"
    mods: dict[str, str] = {}
    for stage in sorted(src.glob(f"{params.CORE_MODULE}*.v")):
        text = stage.read_text()

        def rom(m: re.Match) -> str:
            bw_in, bw_out = int(m.group(1)), int(m.group(2))
            words = (src / "memfiles" / m.group(3)).read_text().split()
            digest = hashlib.sha256(f"{bw_in},{bw_out}:{','.join(words)}".encode()).hexdigest()[:16]
            name = f"{params.CORE_MODULE}_rom_{digest}"
            if name not in mods:
                cases = "\n".join(f"            {bw_in}'d{j}: out = {bw_out}'h{w};" for j, w in enumerate(words))
                mods[name] = (f"module {name} (input [{bw_in - 1}:0] in, output reg [{bw_out - 1}:0] out);\n"
                              f"    always @(*) begin\n        case (in)\n{cases}\n"
                              f"            default: out = {bw_out}'d0;\n        endcase\n    end\nendmodule\n")
            return name

        new = TABLE_INSTANCE.sub(rom, text)
        if new != text:
            stage.write_text(new)
    shutil.rmtree(src / "memfiles", ignore_errors=True)
    if mods:
        (src / f"{params.CORE_MODULE}_tables.v").write_text(
            "`timescale 1ns / 1ps\n// da4ml's lookup tables as ROMs (hw/rtl.py _inline_tables)\n\n"
            + "\n".join(mods[k] for k in sorted(mods)))


def export_rtl(
    design: Design,
    hm,
    out_dir: Path,
    model_hash: str,
    adder_levels: int = params.ADDER_LEVELS_PER_STAGE,
    check: tuple = (),
) -> RtlMeta:
    """Write the pipelined core and the protocol wrapper under out_dir; returns its metadata.
    `check`: the reference's profile-check layers, when the design has a check."""
    from da4ml.codegen import VerilogModel

    comb = trace(design, hm, check)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    with contextlib.redirect_stdout(io.StringIO()):
        vm = VerilogModel(comb, params.CORE_MODULE, out_dir, latency_cutoff=adder_levels)
        vm.write()
    _inline_tables(out_dir)
    pipe = vm._pipe  # da4ml exposes the stage split only here
    n_stages = len(pipe.solutions)
    core_in = sum(sum(int(v) for v in kif) for kif in map(_minimal_kif_of, pipe.solutions[0].inp_qint))
    core_out = sum(sum(int(v) for v in kif) for kif in map(_minimal_kif_of, pipe.out_qint))
    # da4ml drops inputs whose weights are all zero (pruning): the wrapper keeps their ports and
    # wires only the used inputs' bits into the core.
    in_wiring = _input_assigns(design, pipe.solutions[0].inp_qint) if core_in != design.input_bits else None
    # The core registers its input at the accepting edge, then each of the n stage outputs:
    # a track accepted at edge a appears after edge a + n.
    latency = n_stages
    assigns = _output_assigns(design, pipe.out_qint, core_out)
    (out_dir / f"{params.TOP_MODULE}.v").write_text(_wrapper_text(design, model_hash, latency, core_out, assigns,
                                                                  in_wiring))
    src = out_dir / "src"
    sources = sorted(str(p.relative_to(out_dir)) for p in (src / "static").glob("*.v"))
    sources += [str(p.relative_to(out_dir)) for p in sorted(src.glob(f"{params.CORE_MODULE}*.v"))
                if not p.name.endswith("_wrapper.v")]
    sources.append(f"{params.TOP_MODULE}.v")
    meta = RtlMeta(
        design=design.name,
        model_hash=model_hash,
        top=params.TOP_MODULE,
        latency_cycles=latency,
        pipeline_stages=n_stages,
        adder_levels_per_stage=adder_levels,
        depth_slack=design.depth_slack,
        n_inputs=design.n_inputs,
        input_width=design.input_format.width,
        input_bits=design.input_bits,
        score_bits=design.score_format.width,
        score_signed=design.score_format.signed,
        fields=[RtlField(f.name, f.count, f.fmt.width, f.fmt.signed, f.fmt.hls(False)) for f in design.fields],
        estimated_luts=float(comb.cost),
        estimated_ffs=int(pipe.reg_bits),
        sources=sources,
        generator_sha256=generator_sha256(),
    )
    meta.exported_sha256 = sources_sha256(out_dir, meta)
    (out_dir / META_FILE).write_text(json.dumps(asdict(meta), indent=2) + "\n")
    return meta


def warm_da4ml() -> None:
    """Compile da4ml's numba kernels once (they cache to disk): a fresh environment otherwise
    compiles them in every process that exports first, several at once under pytest-xdist."""
    from da4ml.trace import FixedVariableArray, comb_trace

    rng = np.random.default_rng(0)
    x = FixedVariableArray.from_kif(np.zeros(6), np.full(6, 4), np.zeros(6), solver_options={"hard_dc": 0})
    y = (x @ rng.integers(-8, 8, (6, 3)).astype(np.float64) * 0.125).relu().quantize(0, 4, 2, "SAT", "TRN")
    comb_trace(x, _round_half_even(y, 1, 3, 1, "SAT"))


def _minimal_kif_of(q):
    from da4ml.cmvm.types import _minimal_kif

    return _minimal_kif(q)


def sources_sha256(rtl_dir: Path, meta: RtlMeta, *extra: Path) -> str:
    """Digest of the exported sources (and any extra files): a build is reusable while it is unchanged."""
    paths = [Path(rtl_dir) / s for s in meta.sources] + list(extra)
    return hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()


def sources_intact(rtl_dir: Path, meta: RtlMeta) -> bool:
    """True while every exported source still has the content it was written with."""
    try:
        return bool(meta.exported_sha256) and sources_sha256(rtl_dir, meta) == meta.exported_sha256
    except FileNotFoundError:
        return False


def load_meta(rtl_dir: Path) -> RtlMeta:
    path = Path(rtl_dir) / META_FILE
    if not path.is_file():
        raise RtlError(f"{path}: missing (run `pixvae export`)")
    try:
        return RtlMeta(**json.loads(path.read_text()))
    except (TypeError, json.JSONDecodeError):
        raise RtlError(f"{path}: unreadable or from another version (run `pixvae export`)") from None
