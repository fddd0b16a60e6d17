"""An interval argument over da4ml's generated stage: every net as an exact linear form of input
codes and of the stage's few nonlinear results (ReLU clamps, muxes, products, floors of a slice),
each with a sound interval; a mux whose key bit the interval fixes is no mux at all.

Two versions of a stage (the original and a mutant) are analysed with one table of nonlinear
nodes, so structurally equal nodes are the same node. When every output slice has the same form in
both, the mutant computes the same function: proven equivalent. The intervals are box bounds, exact
for a layer that reads the input codes (whose cross-terms da4ml's shared subexpressions hide from
its own per-op intervals), looser behind a nonlinear node; what they cannot settle stays for SAT.

The primitives are modelled as da4ml's static Verilog (src/static/*.v) computes them; `evaluate`
runs the model on input codes, and tests/test_mutate.py checks it against the golden vectors.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

Form = tuple[tuple[tuple[int, int], ...], int]  # ((node, coefficient), ...) sorted, constant


class FormsError(RuntimeError):
    """A stage line outside the grammar this module models (message is one line)."""


@dataclass
class Nodes:
    """The nonlinear nodes of one or more analyses: key -> id, each id's interval and definition, and
    for a ReLU or a floor its linear relaxation (what `range` substitutes back towards the inputs)."""

    ids: dict[tuple, int] = field(default_factory=dict)
    lo: list[int] = field(default_factory=list)
    hi: list[int] = field(default_factory=list)
    keys: list[tuple] = field(default_factory=list)
    relax: dict[int, tuple] = field(default_factory=dict)
    cache: dict[Form, tuple[int, int]] = field(default_factory=dict)

    def node(self, key: tuple, lo: int, hi: int) -> Form:
        if key not in self.ids:
            n = self.ids[key] = len(self.keys)
            self.keys.append(key)
            self.lo.append(lo)
            self.hi.append(hi)
            if key[0] == "relu":  # max(F, 0) with F in [l, u], l < 0 < u (else it is no node)
                l_, u_ = self.range(key[1])
                self.relax[n] = ("relu", key[1], l_, u_)
            elif key[0] == "floor":  # floor(F / 2^s)
                self.relax[n] = ("floor", key[1], key[2])
        return (((self.ids[key], 1),), 0)

    def box(self, f: Form) -> tuple[int, int]:
        lo = hi = f[1]
        for n, c in f[0]:
            a, b = c * self.lo[n], c * self.hi[n]
            lo, hi = lo + min(a, b), hi + max(a, b)
        return lo, hi

    def range(self, f: Form) -> tuple[int, int]:
        """Sound integer bounds of a form: its ReLUs and floors replaced by their linear relaxations,
        back to the inputs (exact fractions), then the box of what is left; never looser than the box."""
        if f not in self.cache:
            blo, bhi = self.box(f)
            lo, hi = self._bound(f, False), self._bound(f, True)
            self.cache[f] = (max(blo, math.ceil(lo)), min(bhi, math.floor(hi)))
        return self.cache[f]

    def _bound(self, f: Form, upper: bool) -> Fraction:
        expr = {n: Fraction(c) for n, c in f[0]}
        const = Fraction(f[1])
        while True:
            open_ = [n for n in expr if n in self.relax]
            if not open_:
                break
            n = max(open_)  # the latest node first: its argument holds only earlier ones
            c = expr.pop(n)
            up = (c > 0) == upper
            r = self.relax[n]
            if r[0] == "relu":
                _, arg, lo, hi = r
                if up:  # the chord from (lo, 0) to (hi, hi)
                    slope = Fraction(hi, hi - lo)
                    offset = -slope * lo
                else:  # max(F, 0) >= F or >= 0, whichever is nearer on the wider side
                    slope, offset = (Fraction(1), Fraction(0)) if hi >= -lo else (Fraction(0), Fraction(0))
            else:
                _, arg, sh = r
                slope = Fraction(1, 1 << sh)
                offset = Fraction(0) if up else -Fraction((1 << sh) - 1, 1 << sh)
            const += c * offset
            if slope:
                const += c * slope * arg[1]
                for m, d in arg[0]:
                    expr[m] = expr.get(m, 0) + c * slope * d
        return const + sum(c * (self.hi[n] if (c > 0) == upper else self.lo[n]) for n, c in expr.items())


def _const(v: int) -> Form:
    return ((), v)


def _lin(*terms: tuple[int, Form], const: int = 0) -> Form:
    acc: dict[int, int] = {}
    for k, f in terms:
        const += k * f[1]
        for n, c in f[0]:
            acc[n] = acc.get(n, 0) + k * c
    return tuple(sorted((n, c) for n, c in acc.items() if c)), const


def _fits(lo: int, hi: int, width: int, signed: bool) -> bool:
    return (-(1 << (width - 1)) <= lo and hi < (1 << (width - 1))) if signed else (lo >= 0 and hi < (1 << width))


_WIRE = re.compile(r"^\s*wire \[(\d+):0\] (\w+);\s*(.*?)\s*(//.*)?$")
_SLICE = re.compile(r"^(\w+)\[(\d+)(?::(\d+))?\]$")
_CONST = re.compile(r"^(?:(\d+)')?b([01]+)$")
_PRIM = re.compile(r"^(shift_adder|mux|multiplier|negative|lookup_table)\s*#\(([^)]*)\)\s*\w+\s*\((.*)\);$")
_RELU = re.compile(r"^assign (\w+)\[(\d+):0\] = (\w+)\[(\d+):0\] & \{(\d+)\{~(\w+)\[(\d+)\]\}\};$")
_ASSIGN = re.compile(r"^assign (\w+)\[(\d+):0\] = (.+);$")
_ROM = re.compile(r"^(\w+_rom_\w+)\s+\w+\s*\((\S+),\s*(\S+)\);$")
_ROM_MODULE = re.compile(r"module (\w+) \(input \[(\d+):0\] in, output reg \[(\d+):0\] out\);")
_ROM_ENTRY = re.compile(r"(\d+)'d(\d+): out = (\d+)'h([0-9a-fA-F]+);")
_OUT = re.compile(r"^\s*assign model_out\[(\d+):(\d+)\] = (\w+)\[(\d+):(\d+)\];")


class Stage:
    """One analysis of a stage's Verilog text (see the module docstring)."""

    def __init__(self, text: str, nodes: Nodes, tables: dict[str, dict[int, int]] | None = None) -> None:
        self.nodes = nodes
        self.tables = tables or {}
        self.form: dict[str, Form] = {}
        self.width: dict[str, int] = {}
        self.outputs: list[tuple[int, int, str, int, int]] = []
        for line in text.splitlines():
            m = _WIRE.match(line)
            if m:
                self.width[m[2]] = int(m[1]) + 1
                self.form[m[2]] = self._define(m[2], m[3])
                continue
            o = _OUT.match(line)
            if o:
                self.outputs.append((int(o[1]), int(o[2]), o[3], int(o[4]), int(o[5])))
            elif re.search(r"\b(assign|wire|reg|always)\b|#\(", line.split("//")[0]):
                # Every statement is modelled, or the analysis claims nothing (a line it skipped
                # could be the one a mutant changed).
                raise FormsError(f"no model for the statement '{line.strip()[:80]}'")

    # -- reading a net ------------------------------------------------------------------------
    def read(self, operand: str, signed: bool) -> Form:
        """The value an operand (`vN[h:l]`, `vN` or a constant) has when read with this signedness."""
        c = _CONST.match(operand)
        if c:
            v, width = int(c[2], 2), int(c[1]) if c[1] else len(c[2])
            return _const(v - (1 << width) if signed and v >> (width - 1) & 1 else v)
        s = _SLICE.match(operand)
        name, top, low = (s[1], int(s[2]), int(s[3] if s[3] is not None else s[2])) if s else \
            (operand, self.width[operand] - 1, 0)
        f = self.form[name]
        if low:
            lo, hi = self.nodes.range(f)
            f = self.nodes.node(("floor", f, low), lo >> low, hi >> low)
        lo, hi = self.nodes.range(f)
        k = top - low + 1
        if _fits(lo, hi, k, signed):  # the slice holds the value itself
            return f
        return self.nodes.node(("bits", f, k, signed), -(1 << (k - 1)) if signed else 0,
                               (1 << (k - 1)) - 1 if signed else (1 << k) - 1)

    def bit(self, operand: str) -> Form | int:
        """A one-bit key: 0 or 1 when the interval fixes it, else its node."""
        s = _SLICE.match(operand)
        if not s or s[3] is not None:
            raise FormsError(f"key '{operand}' is not one bit of a net")
        f, j = self.form[s[1]], int(s[2])
        lo, hi = self.nodes.range(f)
        if lo >> j == hi >> j:  # bit j of the two's complement is the parity of floor(v / 2^j)
            return (lo >> j) & 1
        return self.nodes.node(("bit", f, j), 0, 1)

    # -- defining a net -----------------------------------------------------------------------
    def _define(self, name: str, rest: str) -> Form:
        p = _PRIM.match(rest)
        if p:
            return self._prim(p[1], [int(x) for x in p[2].split(",")], [a.strip() for a in p[3].split(",")])
        rom = _ROM.match(rest)
        if rom:  # one of the design's lookup tables (hw/rtl.py writes them as ROM modules)
            table = self.tables.get(rom[1])
            w = self.width[name]
            lo, hi = (min(0, *table.values()), max(0, *table.values())) if table else (0, (1 << w) - 1)
            return self.nodes.node(("rom", rom[1], self.read(rom[2], signed=False)), lo, hi)
        r = _RELU.match(rest)
        if r:
            return self._relu(r[3], int(r[4]) + 1, r[6], int(r[7]))
        a = _ASSIGN.match(rest)
        if a and a[1] == name:
            src = a[3].strip()
            if src.startswith("model_inp["):
                s = _SLICE.match(src)
                k = int(s[2]) - int(s[3]) + 1
                return self.nodes.node(("inp", int(s[3]), k), 0, (1 << k) - 1)
            c = _CONST.match(src.removeprefix("'"))
            if c:
                return _const(int(c[2], 2))
            # A copy of bits: the net holds floor(v / 2^l) mod 2^width, which is all a net's form says.
            s = _SLICE.match(src)
            if s:
                f, low = self.form[s[1]], int(s[3] if s[3] is not None else s[2])
                if not low:
                    return f
                lo, hi = self.nodes.range(f)
                return self.nodes.node(("floor", f, low), lo >> low, hi >> low)
        raise FormsError(f"{name}: no model for '{rest[:80]}'")

    def _max0(self, f: Form) -> Form:
        lo, hi = self.nodes.range(f)
        if hi <= 0:
            return _const(0)
        return f if lo >= 0 else self.nodes.node(("relu", f), 0, hi)

    def _relu(self, src: str, k: int, key_net: str, j: int) -> Form:
        """`vN = vM[k-1:0] & {k{~vM[j]}}`: vM where its bit j is 0, else 0."""
        if key_net != src:
            raise FormsError(f"clamp of {src} keyed on another net {key_net}")
        f = self.form[src]
        lo, hi = self.nodes.range(f)
        if _fits(lo, hi, j + 1, True) and hi < (1 << k):  # bit j is the sign: max(v, 0)
            return self._max0(f)
        key = self.bit(f"{src}[{j}]")
        low = self.read(f"{src}[{k - 1}:0]", signed=False)
        if isinstance(key, int):
            return _const(0) if key else low
        return self.nodes.node(("and_not", low, key), 0, self.nodes.range(low)[1])

    def _prim(self, kind: str, p: list[int], args: list[str]) -> Form:
        if kind == "shift_adder":
            _, _, s0, s1, _, sh, sub = p
            a, b = self.read(args[0], bool(s0)), self.read(args[1], bool(s1))
            return _lin((1 << max(0, -sh), a), ((-1 if sub else 1) << max(0, sh), b))
        if kind == "mux":
            _, _, s0, s1, _, sh, inv = p
            key = self.bit(args[0])
            a = _lin((1 << max(0, -sh), self.read(args[1], bool(s0))))
            b = _lin(((-1 if inv else 1) << max(0, sh), self.read(args[2], bool(s1))))
            if isinstance(key, int):
                return a if key else b
            # A clamp: the key is the sign of a - b (then the mux is min(a, b) = a - relu(a - b)) or
            # of b - a (max(a, b) = b + relu(a - b)); linear but for one ReLU, it keeps its relaxation.
            k = self.nodes.keys[key[0][0][0]]
            if k[0] == "bit" and _fits(*self.nodes.range(k[1]), k[2] + 1, True):
                d = _lin((1, a), (-1, b))
                if k[1] == d:
                    return _lin((1, a), (-1, self._max0(d)))
                if k[1] == _lin((-1, d)):
                    return _lin((1, b), (1, self._max0(d)))
            (la, ha), (lb, hb) = self.nodes.range(a), self.nodes.range(b)
            return self.nodes.node(("mux", key, a, b), min(la, lb), max(ha, hb))
        if kind == "multiplier":
            _, _, s0, s1, _ = p  # out = in0 * in1, both extended by their signedness, then truncated
            a, b = self.read(args[0], bool(s0)), self.read(args[1], bool(s1))
            if not a[0]:
                return _lin((a[1], b))
            if not b[0]:
                return _lin((b[1], a))
            (la, ha), (lb, hb) = self.nodes.range(a), self.nodes.range(b)
            prods = [la * lb, la * hb, ha * lb, ha * hb]
            lo = 0 if a == b and la <= 0 <= ha else min(prods)
            return self.nodes.node(("mul", *sorted((a, b))), lo, max(prods))
        if kind == "negative":
            return _lin((-1, self.read(args[0], bool(p[2]))))
        raise FormsError(f"no model for the primitive {kind}")

    # -- results --------------------------------------------------------------------------------
    def output_forms(self) -> list[tuple[int, int, Form, int, int]]:
        """Each output slice with the form of the net it takes its bits from."""
        return [(top, low, self.form[n], nh, nl) for top, low, n, nh, nl in self.outputs]

    def evaluate(self, codes: np.ndarray, input_bits: int) -> np.ndarray:
        """The stage's output bits for rows of input codes, from the forms (a check of the model)."""
        form = self.evaluator(codes, input_bits)
        out = np.zeros(len(codes), dtype=object)
        for top, low, f, _nh, nl in self.output_forms():
            out = out | (((form(f) >> nl) & ((1 << (top - low + 1)) - 1)) << low)
        return out

    def evaluator(self, codes: np.ndarray, input_bits: int):
        """A function giving a form's values for rows of input codes."""
        vals: dict[int, np.ndarray] = {}
        cols = np.asarray(codes, dtype=object)

        def form(f: Form) -> np.ndarray:
            out = np.full(len(cols), f[1], dtype=object)
            for n, c in f[0]:
                out = out + c * node(n)
            return out

        def node(n: int) -> np.ndarray:
            if n not in vals:
                k = self.nodes.keys[n]
                op = k[0]
                if op == "inp":
                    v = np.zeros(len(cols), dtype=object)
                    first, width = k[1] // input_bits, k[2]
                    for j in range(width // input_bits):
                        v = v + (cols[:, first + j] << (j * input_bits))
                    vals[n] = v
                elif op == "floor":
                    vals[n] = form(k[1]) >> k[2]
                elif op == "bits":
                    v = form(k[1]) & ((1 << k[2]) - 1)
                    vals[n] = np.where(v >= (1 << (k[2] - 1)), v - (1 << k[2]), v) if k[3] else v
                elif op == "bit":
                    vals[n] = (form(k[1]) >> k[2]) & 1
                elif op == "relu":
                    v = form(k[1])
                    vals[n] = np.where(v > 0, v, 0)
                elif op == "and_not":
                    vals[n] = np.where(form(k[2]) == 1, 0, form(k[1]))
                elif op == "mux":
                    vals[n] = np.where(form(k[1]) == 1, form(k[2]), form(k[3]))
                elif op == "mul":
                    vals[n] = form(k[1]) * form(k[2])
                elif op == "rom":
                    table = self.tables[k[1]]
                    vals[n] = np.array([table.get(int(v), 0) for v in form(k[2])], dtype=object)
                else:
                    raise FormsError(f"cannot evaluate node {op}")
            return vals[n]

        return form


def same_function(original: str, mutant: str) -> bool:
    """True when every output slice of the two stage texts has the same form: the mutant is
    equivalent (sound; False says only that this argument does not settle it)."""
    nodes = Nodes()
    a, b = Stage(original, nodes), Stage(mutant, nodes)
    return a.output_forms() == b.output_forms()


def load_tables(path: Path) -> dict[str, dict[int, int]]:
    """The ROM modules of a design's tables file: name -> {address: value} (a missing address reads 0,
    the case statement's default)."""
    out: dict[str, dict[int, int]] = {}
    current: dict[int, int] | None = None
    for line in path.read_text().splitlines() if path.is_file() else []:
        m = _ROM_MODULE.search(line)
        if m:
            current = out.setdefault(m[1], {})
            continue
        e = _ROM_ENTRY.search(line)
        if e and current is not None:
            current[int(e[2])] = int(e[4], 16)
    return out


METHOD = "interval argument: every output's linear form over the netlist equals the original's (hw/netlist_forms.py)"


@functools.lru_cache(maxsize=4)
def _original(text: str) -> tuple[Nodes, list]:
    """A stage's analysis, once per text: every mutant of it is analysed into the same node table
    (a mutant's new nodes are added; the original's are shared, so equal structure is equal node)."""
    nodes = Nodes()
    return nodes, Stage(text, nodes).output_forms()


def equivalent(stage: Path, line: int, mutated: str) -> bool:
    """The stage file with `line` (1-based) replaced by `mutated`, proven equivalent to the file as
    it is; False when the argument does not settle it (or a line is outside the modelled grammar)."""
    text = stage.read_text()
    lines = text.splitlines()
    lines[line - 1] = mutated
    try:
        nodes, forms = _original(text)
        return Stage("\n".join(lines) + "\n", nodes).output_forms() == forms
    except (FormsError, KeyError, ValueError):  # a net or operand the grammar does not know
        return False
