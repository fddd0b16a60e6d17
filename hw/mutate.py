"""Mutants of an exported design's RTL, in the way of YosysHQ's MCY, and their equivalence proofs.

Two generators: a source-level mutator over the generated Verilog (da4ml's stage file under
rtl/src and the protocol wrapper pixel_encoder_top.v) and yosys `mutate -list` over the
flattened netlist of the core's stage. Every mutant is guarded by `mutsel == K` (K = 0: the
original) in one copy of the RTL whose selector is read from the plusarg +mutsel=K, so a whole
campaign costs one Verilator build. A survivor is proven equivalent to the original, or not, by a
yosys SAT miter of that one mutant against the original (a counterexample names the killing input);
tb/mutation.py first tries the cheaper interval argument of hw/netlist_forms.py.

Mutants are copies: the exported RTL folder is only read.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hw import rtl as R
from hw.synth import SynthError, script_arg, yosys_exe

TOP_FILE = "pixel_encoder_top.v"
STAGE_RE = re.compile(r"src/pixel_encoder_core_stage\d+\.v$")
SEL_WIDTH = 16  # mutant ids fit 16 bits
PLUSARG = 'initial begin if (!$value$plusargs("mutsel=%d", mutsel)) mutsel = 0; end'
# Kinds whose mutants change the wrapper's protocol (reset, valid, gating): also run the cocotb protocol tests.
PROTOCOL_KINDS = ("protocol-reset", "protocol-valid", "protocol-gating")


class MutateError(RuntimeError):
    """Bad input or a failed tool (message is one line)."""


@dataclass
class Mutant:
    id: int
    kind: str
    file: str  # relative to the RTL folder
    line: int  # 1-based
    where: str  # what was changed, for people
    original: str  # the whole line
    mutated: str  # the whole line with this mutation alone
    span: tuple[int, int] | None = None  # the wrapper's lines: the expression replaced, in the original line
    expr: str = ""  # ... and what replaced it
    yosys: str = ""  # a yosys mutant: its `mutate` command (module name left as in the list)
    source: str = "src"  # "src" or "yosys"

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("span")
        return d


# ------------------------------------------------------------------ source-level mutator

_DECL = re.compile(r"^(\s*)wire \[(\d+):0\] (v\d+); (.*)$")
_INST = re.compile(r"^(shift_adder|mux|multiplier|negative) #\(([^)]*)\) (op_\d+) \((.*)\);(.*)$")
_ASSIGN = re.compile(r"^assign (v\d+)\[(\d+):(\d+)\] = (.*);(.*)$")
_SLICE = re.compile(r"\b(v\d+)\[(\d+)(?::(\d+))?\]")
_CONST = re.compile(r"(\d+)?'b([01]+)")


def _const_pm(text: str, width: int) -> list[tuple[str, str]]:
    """A binary constant +1 and -1 (wrapping in its width), written with its width."""
    m = _CONST.fullmatch(text.strip())
    if not m:
        return []
    w = int(m.group(1) or width)
    v = int(m.group(2), 2)
    return [(f"{w}'b{(v + d) % (1 << w):0{w}b}", f"{text.strip()} {'+' if d > 0 else '-'}1") for d in (1, -1)]


def _moved(operand: str, widths: dict[str, int]) -> list[tuple[str, str]]:
    """An operand's bit slice moved by one either way, where the net has the bits."""
    m = _SLICE.fullmatch(operand.strip())
    if not m:
        return []
    net, hi = m.group(1), int(m.group(2))
    lo = int(m.group(3)) if m.group(3) is not None else None
    out = []
    for d in (1, -1):
        h, lo2 = hi + d, (lo + d if lo is not None else None)
        if h >= widths.get(net, 0) or (lo2 if lo2 is not None else h) < 0:
            continue
        text = f"{net}[{h}:{lo2}]" if lo2 is not None else f"{net}[{h}]"
        out.append((text, f"{operand.strip()} -> {text}"))
    return out


def _split_ports(text: str) -> list[str]:
    return [p.strip() for p in text.split(",")]


def stage_mutants(path: Path, rel: str) -> list[Mutant]:
    """Every source-level mutation of a da4ml stage file, one line each (ids assigned later)."""
    lines = path.read_text().splitlines()
    widths: dict[str, int] = {}
    mux_keys: set[str] = set()
    mux_data: set[str] = set()
    for ln in lines:
        m = _DECL.match(ln)
        if not m:
            continue
        widths[m.group(3)] = int(m.group(2)) + 1
        im = _INST.match(m.group(4))
        if im and im.group(1) == "mux":
            ports = _split_ports(im.group(4))
            mux_keys.add(ports[0].split("[")[0])
            mux_data.update(p.split("[")[0] for p in ports[1:3])
    out: list[Mutant] = []

    def add(i: int, kind: str, where: str, new_stmt: str, indent: str, decl: str) -> None:
        out.append(Mutant(0, kind, rel, i + 1, where, lines[i], f"{indent}{decl} {new_stmt}"))

    for i, ln in enumerate(lines):
        m = _DECL.match(ln)
        if not m:
            continue
        indent, net, stmt = m.group(1), m.group(3), m.group(4)
        decl = f"wire [{m.group(2)}:0] {net};"
        im = _INST.match(stmt)
        am = _ASSIGN.match(stmt)
        if im:
            cell, params, inst, ports_text, tail = im.groups()
            params_l = _split_ports(params)
            ports = _split_ports(ports_text)

            def inst_text(p: list[str], q: list[str], cell: str = cell, inst: str = inst, tail: str = tail) -> str:
                return f"{cell} #({', '.join(p)}) {inst} ({', '.join(q)});{tail}"

            comparator = net in mux_keys  # its sign bit selects a mux: a comparison (a - b < 0)
            if cell == "shift_adder":
                p = list(params_l)
                p[6] = "1" if p[6] == "0" else "0"
                add(i, "arith-op", f"{inst}: {'-' if p[6] == '1' else '+'} for {'+' if p[6] == '1' else '-'}",
                    inst_text(p, ports), indent, decl)
                for d in (1, -1):
                    p = list(params_l)
                    p[5] = str(int(p[5]) + d)
                    add(i, "shift", f"{inst}: shift {params_l[5]} -> {p[5]}", inst_text(p, ports), indent, decl)
                for j in (2, 3):
                    p = list(params_l)
                    p[j] = "1" if p[j] == "0" else "0"
                    add(i, "comparator-sign" if comparator else "signedness",
                        f"{inst}: input {j - 2} {'signed' if p[j] == '1' else 'unsigned'}", inst_text(p, ports),
                        indent, decl)
                for j in (0, 1):
                    for new, what in _const_pm(ports[j], int(params_l[j])):
                        q = list(ports)
                        q[j] = new
                        add(i, "comparator" if comparator else "constant", f"{inst}: {what}", inst_text(params_l, q),
                            indent, decl)
                    for new, what in _moved(ports[j], widths):
                        q = list(ports)
                        q[j] = new
                        add(i, "slice", f"{inst}: {what}", inst_text(params_l, q), indent, decl)
            elif cell == "mux":
                q = list(ports)
                q[0] = f"~{ports[0]}"
                add(i, "select-inverted", f"{inst}: select {ports[0]} inverted", inst_text(params_l, q), indent, decl)
                for new, what in _moved(ports[0], widths):
                    q = list(ports)
                    q[0] = new
                    add(i, "slice", f"{inst}: select {what}", inst_text(params_l, q), indent, decl)
                for d in (1, -1):
                    p = list(params_l)
                    p[5] = str(int(p[5]) + d)
                    add(i, "shift", f"{inst}: shift {params_l[5]} -> {p[5]}", inst_text(p, ports), indent, decl)
            elif cell == "multiplier":
                for j in (0, 1):
                    for new, what in _moved(ports[j], widths):
                        q = list(ports)
                        q[j] = new
                        add(i, "slice", f"{inst}: {what}", inst_text(params_l, q), indent, decl)
        elif am:
            _, hi, lo, rhs, tail = am.groups()
            lhs = f"assign {net}[{hi}:{lo}] = "
            consts = _const_pm(rhs, int(hi) - int(lo) + 1)
            for new, what in consts:  # a constant feeding a mux's data: a saturation bound
                add(i, "saturation-bound" if net in mux_data else "constant", f"{net} = {what}",
                    f"{lhs}{new};{tail}", indent, decl)
            if not consts:
                for new, what in _moved(rhs, widths):
                    add(i, "slice", f"{net} = {what}", f"{lhs}{new};{tail}", indent, decl)
    return out


_PORT = re.compile(r"^\s*(input|output)\s+wire\s*(\[[^\]]*\])?\s*(\w+)")


def top_ports(text: str) -> list[tuple[str, str, str]]:
    """(direction, range, name) of the wrapper's ports."""
    return [(m.group(1), m.group(2) or "", m.group(3)) for m in map(_PORT.match, text.splitlines()) if m]


def top_mutants(path: Path, rel: str) -> list[Mutant]:
    """The wrapper's mutations: its reset, valid pipeline, output gating, threshold compare and the
    slices that unpack the core's output. Each replaces one expression of one line."""
    lines = path.read_text().splitlines()
    out: list[Mutant] = []

    def add(i: int, start: int, end: int, expr: str, kind: str, where: str) -> None:
        ln = lines[i]
        out.append(Mutant(0, kind, rel, i + 1, where, ln, ln[:start] + expr + ln[end:], (start, end), expr))

    for i, ln in enumerate(lines):
        if m := re.search(r"\bif \((rst)\)", ln):
            add(i, m.start(1), m.end(1), "1'b0", "protocol-reset", "reset removed")
        elif m := re.search(r"else\s+valid_pipe <= (\{valid_pipe\[LATENCY-1:0\], in_valid\});", ln):
            s, e = m.start(1), m.end(1)
            add(i, s, e, "{valid_pipe[LATENCY-1:0], 1'b1}", "protocol-valid", "in_valid stuck at 1")
            add(i, s, e, "{valid_pipe[LATENCY-1:0], 1'b0}", "protocol-valid", "in_valid stuck at 0")
            add(i, s, e, "valid_pipe", "protocol-valid", "valid pipeline stuck (holds its value)")
        elif m := re.search(r"assign out_valid = (valid_pipe\[LATENCY\]);", ln):
            s, e = m.start(1), m.end(1)
            add(i, s, e, "valid_pipe[LATENCY-1]", "protocol-valid", "valid pipeline shortened by one")
            add(i, s, e, "1'b1", "protocol-valid", "out_valid stuck at 1")
            add(i, s, e, "(valid_pipe[LATENCY] | valid_pipe[LATENCY-1])", "protocol-valid", "out_valid stretched")
        elif m := re.search(r"assign (out_\w+) = (out_valid \? (core_\w+) : \{\d+\{1'b0\}\});", ln):
            add(i, m.start(2), m.end(2), m.group(3), "protocol-gating", f"{m.group(1)} not gated by out_valid")
        elif m := re.search(r"assign (out_\w+) = (out_valid & \((.*)\));", ln):
            s, e, cmp_ = m.start(2), m.end(2), m.group(3)
            add(i, s, e, f"({cmp_})", "protocol-gating", f"{m.group(1)} not gated by out_valid")
            if " > " in cmp_:
                add(i, s, e, f"out_valid & ({cmp_.replace(' > ', ' >= ')})", "comparator", "threshold > made >=")
                add(i, s, e, f"out_valid & ({cmp_.replace(' > ', ' < ')})", "comparator", "threshold > made <")
            if "$signed(" in cmp_:
                uns = re.sub(r"\$signed\((\w+)\)", r"\1", cmp_)
                add(i, s, e, f"out_valid & ({uns})", "comparator-sign", "threshold compare made unsigned")
            else:
                sig = re.sub(r"(\w+) > (\w+)", r"$signed(\1) > $signed(\2)", cmp_)
                add(i, s, e, f"out_valid & ({sig})", "comparator-sign", "threshold compare made signed")
        elif m := re.search(r"assign core_\w+\[\d+:\d+\] = (.*);", ln):
            rhs, s0 = m.group(1), m.start(1)
            width = _core_out_width(lines)
            for sm in re.finditer(r"core_out\[(\d+):(\d+)\]", rhs):
                hi, lo = int(sm.group(1)), int(sm.group(2))
                for d in (1, -1):
                    if lo + d >= 0 and hi + d < width:
                        new = rhs[:sm.start()] + f"core_out[{hi + d}:{lo + d}]" + rhs[sm.end():]
                        add(i, s0, s0 + len(rhs), new, "slice", f"core_out[{hi}:{lo}] -> [{hi + d}:{lo + d}]")
            if em := re.search(r"\{\{(\d+)\{(core_out\[\d+\])\}\}", rhs):
                new = rhs[:em.start(2)] + "1'b0" + rhs[em.end(2):]
                add(i, s0, s0 + len(rhs), new, "slice", "sign extension made zero extension")
    return out


def _core_out_width(lines: list[str]) -> int:
    for ln in lines:
        if m := re.search(r"wire \[(\d+)-1:0\] core_out;", ln):
            return int(m.group(1))
    raise MutateError(f"{TOP_FILE}: no core_out declaration (not a pixvae wrapper)")


def stage_files(meta: R.RtlMeta) -> list[str]:
    return [s for s in meta.sources if STAGE_RE.search(s)]


def source_mutants(rtl_dir: Path, meta: R.RtlMeta) -> list[Mutant]:
    """Every source-level mutation of the exported RTL (not yet numbered)."""
    if TOP_FILE not in meta.sources or not stage_files(meta):
        raise MutateError(f"{rtl_dir}: no {TOP_FILE} or da4ml stage among its sources (not a pixvae export)")
    out = top_mutants(rtl_dir / TOP_FILE, TOP_FILE)
    for s in stage_files(meta):
        out += stage_mutants(rtl_dir / s, s)
    return out


def sample(cands: list[Mutant], n: int, seed: int) -> list[Mutant]:
    """n mutants: every one of the wrapper's (few, and the protocol's only), then the core's drawn
    evenly over the kinds (round robin over kinds, random within each)."""
    rng = random.Random(seed)
    top = [m for m in cands if m.file == TOP_FILE]
    by_kind: dict[str, list[Mutant]] = {}
    for m in cands:
        if m.file != TOP_FILE:
            by_kind.setdefault(m.kind, []).append(m)
    for v in by_kind.values():
        rng.shuffle(v)
    picked = top[:n]
    kinds = sorted(by_kind)
    while len(picked) < n and any(by_kind.values()):
        for k in kinds:
            if by_kind[k] and len(picked) < n:
                picked.append(by_kind[k].pop())
    return picked


# ------------------------------------------------------------------ yosys mutate

def _run_yosys(script: str, work: Path, name: str, timeout_s: float) -> tuple[int, str]:
    path = work / f"{name}.ys"
    path.write_text(script)
    log = work / f"{name}.log"
    log.unlink(missing_ok=True)
    try:
        rc = subprocess.run([yosys_exe(), "-q", "-l", str(log.resolve()), "-s", str(path.resolve())],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd=work, timeout=timeout_s).returncode
    except subprocess.TimeoutExpired:
        return -1, ""
    return rc, log.read_text(errors="replace") if log.is_file() else ""


def _reads(rtl_dir: Path, meta: R.RtlMeta, sources: list[str], replace: dict[str, Path] | None = None) -> list[str]:
    replace = replace or {}
    return [f"read_verilog -defer {script_arg(Path(replace.get(s, rtl_dir / s)).resolve())}" for s in sources]


def _stage_sources(meta: R.RtlMeta, stage: str) -> list[str]:
    return [s for s in meta.sources if "/static/" in s] + [stage]


def stage_module(stage: str) -> str:
    return Path(stage).stem


def prepare_gold(rtl_dir: Path, meta: R.RtlMeta, work: Path) -> dict[str, Path]:
    """The original stage(s) flattened to RTLIL (the gold side of every core miter, and the netlist
    yosys mutates)."""
    work.mkdir(parents=True, exist_ok=True)
    out = {}
    for stage in stage_files(meta):
        mod = stage_module(stage)
        il = work / f"{mod}.il"
        script = "\n".join([*_reads(rtl_dir, meta, _stage_sources(meta, stage)), f"hierarchy -top {mod}", "proc",
                            "flatten", "opt", f"write_rtlil {script_arg(il.resolve())}", ""])
        rc, log = _run_yosys(script, work, f"gold_{mod}", 1800)
        if rc != 0 or not il.is_file():
            raise SynthError(f"yosys could not flatten {stage} (see {work / f'gold_{mod}.log'})")
        out[stage] = il
    return out


def yosys_mutants(gold: dict[str, Path], n: int, seed: int, work: Path) -> list[Mutant]:
    """`mutate -list n -seed seed` over the flattened stage (n split over the stages)."""
    out: list[Mutant] = []
    for k, (stage, il) in enumerate(gold.items()):
        want = n // len(gold) + (1 if k < n % len(gold) else 0)
        if want <= 0:
            continue
        lst = work / f"mutate_{stage_module(stage)}.txt"
        script = (f"read_rtlil {script_arg(il.resolve())}\n"
                  f"mutate -list {want} -seed {seed} -o {script_arg(lst.resolve())}\n")
        rc, _ = _run_yosys(script, work, f"list_{stage_module(stage)}", 1800)
        if rc != 0 or not lst.is_file():
            raise SynthError(f"yosys mutate -list failed (see {work / f'list_{stage_module(stage)}.log'})")
        for cmd in lst.read_text().splitlines():
            cmd = re.sub(r" -src \S+", "", cmd.strip())  # src tags: long paths, not needed to apply it
            if not cmd.startswith("mutate "):
                continue
            arg = {k: v for k, v in re.findall(r"-(\w+) (\S+)", cmd)}
            op = re.search(r"\\(op_\d+)", arg.get("cell", ""))  # the da4ml operator the cell came from
            where = f"{op.group(1) if op else arg.get('cell', '?')} port {arg.get('port')}[{arg.get('portbit')}]"
            mode = arg.get("mode", "?")
            out.append(Mutant(0, f"yosys-{mode}", stage, 0, where, "", "", yosys=cmd, source="yosys"))
    return out


# ------------------------------------------------------------------ the selector RTL

def _guard_stage_line(line: str, muts: list[Mutant]) -> list[str]:
    """A stage line and its mutants: the original net renamed, one copy per mutant, and a select."""
    m = _DECL.match(line)
    indent, hi, net = m.group(1), m.group(2), m.group(3)
    inst = re.search(r"\b(op_\d+)\b", m.group(4))

    def renamed(stmt: str, suffix: str) -> str:
        stmt = re.sub(rf"\b{net}\b", f"{net}__{suffix}", stmt)
        return re.sub(rf"\b{inst.group(1)}\b", f"{inst.group(1)}__{suffix}", stmt) if inst else stmt

    out = [f"{indent}wire [{hi}:0] {net}; wire [{hi}:0] {net}__o; {renamed(m.group(4), 'o')}"]
    sel = f"{net}__o"
    for mu in muts:
        mm = _DECL.match(mu.mutated)
        out.append(f"{indent}wire [{hi}:0] {net}__m{mu.id}; {renamed(mm.group(4), f'm{mu.id}')}")
        sel = f"(mutsel == {mu.id}) ? {net}__m{mu.id} : {sel}"
    out.append(f"{indent}assign {net} = {sel};")
    return out


def _guard_top_line(line: str, muts: list[Mutant]) -> str:
    s, e = muts[0].span
    expr = f"({line[s:e]})"
    for mu in muts:
        if mu.span != (s, e):
            raise MutateError(f"{TOP_FILE}:{mu.line}: mutants of one line must replace the same expression")
        expr = f"(mutsel == {mu.id}) ? ({mu.expr}) : {expr}"
    return line[:s] + f"({expr})" + line[e:]


def _with_selector(text: str, module: str, new_name: str, port: bool) -> str:
    """Rename the module and give it the selector: an input port, or a plusarg read."""
    head = re.search(rf"module {module}\s*(#\([^;]*?\))?\s*\(", text)
    if not head:
        raise MutateError(f"module {module} not found")
    text = text[:head.start()] + head.group(0).replace(f"module {module}", f"module {new_name}") + \
        (f"\n    input wire [{SEL_WIDTH - 1}:0] mutsel," if port else "") + text[head.end():]
    if not port:
        body = re.search(r"\);\n", text[head.start():])
        at = head.start() + body.end()
        text = text[:at] + f"    integer mutsel;\n    {PLUSARG}\n" + text[at:]
    return text


def _stage_wrapper(original: str, mod: str, netlist: bool, ybase: int) -> str:
    """The stage's own name around the source-mutated copy and the netlist-mutated one, choosing by
    the selector (netlist mutants have the ids from ybase on)."""
    ports = re.search(r"module \w+\s*\((.*?)\);", original, re.S).group(1)
    decl = [p.strip() for p in ports.split(",")]
    names = [p.split()[-1] for p in decl]
    outs = [(re.search(r"\[[^\]]*\]", p).group(0), p.split()[-1]) for p in decl if p.startswith("output")]
    onames = [n for _, n in outs]
    w = [f"// Mutant selector around {mod}: the source-level mutants"
         + (f", and from id {ybase} on yosys's netlist mutants." if netlist else "."),
         "`timescale 1 ns / 1 ps", f"module {mod} ({ports});", "    integer mutsel;", f"    {PLUSARG}"]
    for r, n in outs:
        w.append(f"    wire {r} {n}__s, {n}__y;")
    for sub, suffix, inst in ((f"{mod}__src", "__s", "u_src"), (f"{mod}__yos", "__y", "u_yos"))[:2 if netlist else 1]:
        conn = ", ".join(f".{n}({n + suffix if n in onames else n})" for n in names)
        w.append(f"    {sub} {inst} ({conn}, .mutsel(mutsel[{SEL_WIDTH - 1}:0]));")
    for n in onames:
        w.append(f"    assign {n} = (mutsel >= {ybase}) ? {n}__y : {n}__s;" if netlist else f"    assign {n} = {n}__s;")
    return "\n".join([*w, "endmodule", ""])


def write_selector_rtl(rtl_dir: Path, out_dir: Path, meta: R.RtlMeta, mutants: list[Mutant],
                       gold: dict[str, Path], work: Path) -> R.RtlMeta:
    """A copy of the RTL with every mutant behind `mutsel == id` (+mutsel=id; 0 the original)."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    shutil.copytree(rtl_dir, out_dir)
    sources = list(meta.sources)
    by_file: dict[str, dict[int, list[Mutant]]] = {}
    for mu in mutants:
        if mu.source == "src":
            by_file.setdefault(mu.file, {}).setdefault(mu.line, []).append(mu)
    # The wrapper: guarded expressions and a plusarg read.
    lines = (rtl_dir / TOP_FILE).read_text().splitlines()
    for ln, muts in by_file.get(TOP_FILE, {}).items():
        lines[ln - 1] = _guard_top_line(lines[ln - 1], muts)
    text = "\n".join(lines) + "\n"
    if by_file.get(TOP_FILE):
        text = _with_selector(text, meta.top, meta.top, port=False)
    (out_dir / TOP_FILE).write_text(text)
    for stage in stage_files(meta):
        mod = stage_module(stage)
        lines = (rtl_dir / stage).read_text().splitlines()
        new: list[str] = []
        for i, ln in enumerate(lines):
            muts = by_file.get(stage, {}).get(i + 1)
            new += _guard_stage_line(ln, muts) if muts else [ln]
        src_mod, yos_mod = f"{mod}__src", f"{mod}__yos"
        (out_dir / stage).write_text(_with_selector("\n".join(new) + "\n", mod, src_mod, port=True))
        ymuts = [mu for mu in mutants if mu.source == "yosys" and mu.file == stage]
        extra = []
        if ymuts:
            yfile = Path(stage).with_name(f"{yos_mod}.v").as_posix()
            ycmds = [re.sub(r"-module \S+", f"-module {yos_mod}", mu.yosys) + f" -ctrl mutsel {SEL_WIDTH} {mu.id}"
                     for mu in ymuts]
            script = "\n".join([f"read_rtlil {script_arg(gold[stage].resolve())}", f"rename {mod} {yos_mod}",
                                *ycmds, "opt_clean", f"write_verilog -noattr {script_arg((out_dir / yfile).resolve())}",
                                ""])
            rc, _ = _run_yosys(script, work, f"yos_{mod}", 1800)
            if rc != 0:
                raise SynthError(f"yosys could not apply the netlist mutants (see {work / f'yos_{mod}.log'})")
            extra.append(yfile)
        wfile = Path(stage).with_name(f"{mod}__sel.v").as_posix()
        (out_dir / wfile).write_text(_stage_wrapper((rtl_dir / stage).read_text(), mod, bool(ymuts),
                                                    min((mu.id for mu in ymuts), default=0)))
        at = sources.index(stage)
        sources[at + 1:at + 1] = [*extra, wfile]
    doc = json.loads((rtl_dir / R.META_FILE).read_text())
    doc["sources"] = sources
    new_meta = R.RtlMeta(**doc)
    new_meta.exported_sha256 = R.sources_sha256(out_dir, new_meta)
    (out_dir / R.META_FILE).write_text(json.dumps(asdict(new_meta), indent=2) + "\n")
    (out_dir / "mutants.json").write_text(json.dumps([m.as_dict() for m in mutants], indent=1) + "\n")
    return new_meta


# ------------------------------------------------------------------ equivalence proofs

@dataclass
class Proof:
    status: str  # "equivalent", "non-equivalent" or "unknown"
    seconds: float
    method: str
    counterexample: dict = field(default_factory=dict)
    note: str = ""


def _cut_core(text: str, width: int) -> str:
    """The wrapper without its core: core_out becomes an input, so a proof about the wrapper holds
    for any output of the core (equivalent here => equivalent with the real core)."""
    text = re.sub(r"\n\s*pixel_encoder_core u_core \(.*?\);", "\n    assign core_out = core_out_free;", text,
                  count=1, flags=re.S)
    head = re.search(r"module \w+\s*(#\([^;]*?\))?\s*\(", text)
    return text[:head.end()] + f"\n    input wire [{width - 1}:0] core_out_free," + text[head.end():]


def _parse_cex(log: str) -> list[dict[str, str]]:
    """The input table `sat -show-inputs` prints: rows of (step, signal, value in binary)."""
    rows = []
    for m in re.finditer(r"^\s*(\d+\s+)?\\(\S+)\s+(\S+)\s+(\S+)\s+([01xz]+)\s*$", log, re.M):
        rows.append({"step": int(m.group(1) or 0), "signal": m.group(2), "bits": m.group(5)})  # no step: combinational
    return rows


def _codes(bits: str, code_bits: int, n: int) -> list[int]:
    v = int(bits.replace("x", "0").replace("z", "0"), 2)
    return [(v >> (code_bits * j)) & ((1 << code_bits) - 1) for j in range(n)]


def prove(rtl_dir: Path, meta: R.RtlMeta, mutant: Mutant, gold: dict[str, Path], work: Path,
          timeout_s: float = 60.0) -> Proof:
    """Mutant against the original by a SAT miter. A stage mutant: the stage alone (combinational,
    so the counterexample is one input vector, the input codes). A wrapper mutant: the wrapper with
    the core cut off (core_out free), over LATENCY + 4 cycles from any register state with reset
    high in the first cycle, compared from the second on (the design is feed-forward, so every
    reachable window fits)."""
    work.mkdir(parents=True, exist_ok=True)
    name = f"m{mutant.id}"
    t0 = time.monotonic()
    if mutant.file == TOP_FILE:
        width = _core_out_width((rtl_dir / TOP_FILE).read_text().splitlines())
        gold_v = work / f"{name}_gold.v"
        gate_v = work / f"{name}_gate.v"
        orig = (rtl_dir / TOP_FILE).read_text()
        gold_v.write_text(_cut_core(orig, width))
        lines = orig.splitlines()
        lines[mutant.line - 1] = mutant.mutated
        gate_v.write_text(_cut_core("\n".join(lines) + "\n", width))
        steps = meta.latency_cycles + 4
        pre = [f"read_verilog {script_arg(gold_v.resolve())}", f"hierarchy -top {meta.top}", "proc", "flatten",
               f"rename {meta.top} gold", "design -stash gold",
               f"read_verilog {script_arg(gate_v.resolve())}", f"hierarchy -top {meta.top}", "proc", "flatten",
               f"rename {meta.top} gate", "design -stash gate",
               "design -copy-from gold -as gold gold", "design -copy-from gate -as gate gate"]
        sat = (f"sat -verify -prove trigger 0 -seq {steps} -set-at 1 in_rst 1 -prove-skip 1 "
               f"-show-inputs -timeout {int(timeout_s)} miter")
        method = f"wrapper miter, core cut, {steps} cycles from any state, reset in cycle 1"
    else:
        mod = stage_module(mutant.file)
        if mutant.source == "yosys":
            pre = [f"read_rtlil {script_arg(gold[mutant.file].resolve())}", f"rename {mod} gold",
                   "copy gold gate", re.sub(r"-module \S+", "-module gate", mutant.yosys)]
        else:
            gate_v = work / f"{name}_{Path(mutant.file).name}"
            lines = (rtl_dir / mutant.file).read_text().splitlines()
            lines[mutant.line - 1] = mutant.mutated
            gate_v.write_text("\n".join(lines) + "\n")
            pre = [f"read_rtlil {script_arg(gold[mutant.file].resolve())}", f"rename {mod} gold",
                   "design -stash gold",
                   *_reads(rtl_dir, meta, _stage_sources(meta, mutant.file), {mutant.file: gate_v}),
                   f"hierarchy -top {mod}", "proc", "flatten", "opt", f"rename {mod} gate", "design -stash gate",
                   "design -copy-from gold -as gold gold", "design -copy-from gate -as gate gate"]
        sat = f"sat -verify -prove trigger 0 -show-inputs -timeout {int(timeout_s)} miter"
        method = "stage miter (combinational)"
    script = "\n".join([*pre, "miter -equiv -flatten -make_outputs gold gate miter", "hierarchy -top miter",
                        "opt_merge", "opt_clean", sat, ""])
    rc, log = _run_yosys(script, work, name, timeout_s * 3 + 120)
    return _verdict(log, rc, round(time.monotonic() - t0, 1), method, mutant, meta, timeout_s,
                    work / f"{name}.log")


def _verdict(log: str, rc: int, seconds: float, method: str, mutant: Mutant, meta: R.RtlMeta, timeout_s: float,
             where: Path) -> Proof:
    """The Proof a yosys `sat -prove` log says (rc -1: the process was stopped)."""
    if rc == -1 or "did time out" in log or "TIMEOUT" in log:
        return Proof("unknown", seconds, method, note=f"no answer within {timeout_s:.0f} s")
    if "SAT proof finished - no model found: SUCCESS" in log:
        return Proof("equivalent", seconds, method)
    rows = _parse_cex(log)
    if "SAT proof finished - model found" in log and rows:
        cex: dict = {}
        if mutant.file == TOP_FILE:
            steps: dict[int, dict] = {}
            for r in rows:
                steps.setdefault(r["step"], {})[r["signal"].removeprefix("in_")] = r["bits"]
            cex["trace"] = []
            for st in sorted(steps):  # in_data is not read with the core cut; core_out_free stands for the core
                row = {k: int(v.replace("x", "0"), 2) for k, v in steps[st].items() if k not in ("clk", "in_data")}
                cex["trace"].append({"step": st, **row})
        else:
            inp = next((r for r in rows if r["signal"] == "in_model_inp"), None)
            if inp:
                cex["codes"] = _codes(inp["bits"], meta.input_width, meta.n_inputs)
        return Proof("non-equivalent", seconds, method, cex)
    return Proof("unknown", seconds, method, note=f"yosys exit {rc}, no verdict (log {where})")


def prove_stage_batch(sel_dir: Path, meta: R.RtlMeta, mutants: list[Mutant], gold: dict[str, Path], work: Path,
                      timeout_s: float = 60.0, progress=None, deadline: float | None = None) -> dict[int, Proof]:
    """Stage mutants proven in one yosys process: the selector copy of the stage (every source mutant
    behind its `mutsel`) is read and flattened once; for mutant K, gold is that module with mutsel
    tied to 0 and gate with mutsel tied to K, constants folded (the other mutants' logic falls
    away), so the two differ only where mutant K does. Netlist mutants: the flattened original
    against a copy with yosys's `mutate` applied. `progress(done, total)` is called as logs appear.
    `deadline` (time.monotonic()): the whole-stage proofs stop there; those not reached are unknown."""
    work.mkdir(parents=True, exist_ok=True)
    out: dict[int, Proof] = {}
    for stage in stage_files(meta):
        mod = stage_module(stage)
        muts = [m for m in mutants if m.file == stage]
        if not muts:
            continue
        sel_il = work / f"{mod}__src.il"
        # First, locally: a source mutant whose own net equals the original's for every input (the
        # selector copy computes both, vN__o and vN__mK) is equivalent, proven on that net's input
        # cone only. The rest go to the whole-stage miter below.
        lines = [*_reads(sel_dir, meta, _stage_sources(meta, stage)), f"hierarchy -top {mod}__src", "proc",
                 "flatten", f"write_rtlil {script_arg(sel_il.resolve())}", f"cd {mod}__src"]
        local = [m for m in muts if m.source == "src"]
        for m in local:
            net = _DECL.match(m.original).group(3)
            a, b = f"{net}__o", f"{net}__m{m.id}"
            lines.append(f"tee -o {script_arg((work / f'm{m.id}.local.log').resolve())} sat -prove {a} {b} "
                         f"-timeout {int(timeout_s)} w:{a} w:{b} %u %ci*")
            (work / f"m{m.id}.local.log").unlink(missing_ok=True)
        script = work / f"local_{mod}.ys"
        script.write_text("\n".join(lines) + "\n")
        t0 = time.monotonic()
        # (a timeout stops it; what finished is read below)
        with (work / f"local_{mod}.log").open("w") as fh, contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run([yosys_exe(), "-q", "-s", str(script.resolve())], stdout=fh, stderr=subprocess.STDOUT,
                           cwd=work, timeout=len(local) * (timeout_s + 30) + 1800)
        for m in local:
            p = work / f"m{m.id}.local.log"
            if p.is_file() and "SAT proof finished - no model found: SUCCESS" in p.read_text(errors="replace"):
                out[m.id] = Proof("equivalent", round((time.monotonic() - t0) / max(len(local), 1), 1),
                                  "the mutated net equals the original's (its input cone, SAT)")
        if progress:
            progress(len(out), len(muts))
        muts = [m for m in muts if m.id not in out]
        if not muts:
            continue
        lines = [f"read_rtlil {script_arg(sel_il.resolve())}", f"read_rtlil {script_arg(gold[stage].resolve())}",
                 "design -save base"]
        for m in muts:
            lines.append("design -load base")
            if m.source == "yosys":
                lines += [f"delete {mod}__src", f"rename {mod} gold", "copy gold gate",
                          re.sub(r"-module \S+", "-module gate", m.yosys)]
            else:
                lines += [f"delete {mod}", f"rename {mod}__src gate", "copy gate gold",
                          "delete -port gold/mutsel gate/mutsel",
                          "cd gold", f"connect -set mutsel {SEL_WIDTH}'d0", "cd ..",
                          "cd gate", f"connect -set mutsel {SEL_WIDTH}'d{m.id}", "cd ..", "opt -fast gold gate"]
            lines += ["miter -equiv -flatten -make_outputs gold gate miter", "hierarchy -top miter", "opt_merge",
                      "opt_clean",
                      f"tee -o {script_arg((work / f'm{m.id}.sat.log').resolve())} sat -prove trigger 0 "
                      f"-show-inputs -timeout {int(timeout_s)} miter"]
        for m in muts:
            (work / f"m{m.id}.sat.log").unlink(missing_ok=True)
        script = work / f"batch_{mod}.ys"
        script.write_text("\n".join(lines) + "\n")
        log = work / f"batch_{mod}.log"
        t0 = time.monotonic()
        with log.open("w") as fh:
            proc = subprocess.Popen([yosys_exe(), "-q", "-s", str(script.resolve())], stdout=fh,
                                    stderr=subprocess.STDOUT, cwd=work)
            stop = min(t0 + len(muts) * (timeout_s + 60) + 600, deadline or float("inf"))
            while proc.poll() is None and time.monotonic() < stop:
                time.sleep(2)
                if progress:
                    progress(len(out) + sum((work / f"m{m.id}.sat.log").is_file() for m in muts), len(muts) + len(out))
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        seconds = round((time.monotonic() - t0) / len(muts), 1)
        for m in muts:
            p = work / f"m{m.id}.sat.log"
            text = p.read_text(errors="replace") if p.is_file() else ""
            method = "stage miter (combinational)" + (", selector copy, mutsel tied" if m.source == "src" else "")
            pr = _verdict(text, 0 if text else -1, seconds, method, m, meta, timeout_s, p)
            if not text:
                pr.note = f"yosys stopped before this proof (log {log})"
            out[m.id] = pr
    return out
