"""Render the first cycles of one track from a waveform (FST or VCD) as a PNG: clock, reset, valids, input and
output values in hex, with the acceptance edge, the output edge and the latency marked. Given the
golden vector's outputs, every output field shows the expected value beside the RTL's, a field
that differs is highlighted in red, and the title says PASS or FAIL (also in the PNG's metadata)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hw.rtl import RtlMeta  # noqa: E402
from model.description import formats as F  # noqa: E402

BASE_SIGNALS = ("clk", "rst", "in_valid", "in_data", "score_threshold", "out_valid")


def read_waves(path: Path, scope: str, names: tuple[str, ...] = BASE_SIGNALS) -> tuple[dict[str, list], float]:
    """Value changes [(time, int or None for x/z)] of the named signals of one scope, and the time unit in ns.

    pywellen (the reader behind the Surfer viewer) reads VCD and FST alike, Verilator's aliased
    signals included; a value with an x or z bit comes back as a string.
    """
    import pywellen

    wave = pywellen.Waveform(str(path))
    ts = wave.timescale
    unit_ns = ts.factor * 10.0 ** (ts.unit.to_exponent() + 9)
    found = {v.name: v for v in wave.all_vars() if v.full_name == f"{scope}.{v.name}" and v.name in names}
    series: dict[str, list] = {}
    for name in names:
        sig = found[name].signal if name in found else None
        changes = [sig[i] for i in range(len(sig))] if sig is not None else []
        series[name] = [(t, v if isinstance(v, int) else None) for t, v in changes]
    return series, unit_ns


def value_at(changes: list, t: float):
    v = None
    for tt, val in changes:
        if tt > t:
            break
        v = val
    return v


def _rows(meta: RtlMeta) -> list[tuple[str, str, int, int, bool, int]]:
    """(label, traced signal, bit offset, width, signed, fraction bits) of each row of the picture.

    Data outputs are split into their values and shown decoded (signed, in real units), from the
    design's formats; the wide input bus stays hex.
    """
    rows = [(n, n, 0, 1, False, 0) for n in ("clk", "rst", "in_valid")]
    rows += [("in_data", "in_data", 0, meta.input_bits, False, 0)]
    if any(f.name == "score" for f in meta.fields):  # a design without a score has no threshold port
        rows += [("score_threshold", "score_threshold", 0, meta.score_bits, meta.score_signed, _frac(meta, "score"))]
    rows += [("out_valid", "out_valid", 0, 1, False, 0)]
    for f in meta.fields:
        frac = _frac(meta, f.name)
        if f.count == 1:
            rows.append((f"out_{f.name} {f.format}" if f.width > 1 else f"out_{f.name}", f"out_{f.name}", 0, f.width,
                         f.signed, frac))
        else:
            rows += [(f"out_{f.name}[{j}] {f.format}", f"out_{f.name}", j * f.width, f.width, f.signed, frac)
                     for j in range(f.count)]
    return rows


def _columns(meta: RtlMeta) -> list[str | None]:
    """The golden column of each row of _rows (None for the rows that are not data outputs)."""
    cols: list[str | None] = [None] * 6
    for f in meta.fields:
        cols += [f.name] if f.count == 1 else [f"{f.name}{j}" for j in range(f.count)]
    return cols


def _decode(raw: int | None, lo: int, width: int, signed: bool) -> int | None:
    if raw is None:
        return None
    v = (raw >> lo) & ((1 << width) - 1)
    return v - (1 << width) if signed and v >> (width - 1) else v


def compare(meta: RtlMeta, series: dict[str, list], unit: float, t_out: float,
            expected: dict[str, int]) -> list[tuple[int, str, int | None, int, bool]]:
    """(row, golden column, RTL raw value at t_out in ns, expected raw value, differs) per output field."""
    out = []
    for row, ((_l, sig, lo, width, signed, _f), col) in enumerate(zip(_rows(meta), _columns(meta), strict=True)):
        if col is None or col not in expected:
            continue
        got = _decode(value_at(series[sig], t_out / unit), lo, width, signed)
        out.append((row, col, got, int(expected[col]), got != int(expected[col])))
    return out


def _frac(meta: RtlMeta, name: str) -> int:
    f = next(f for f in meta.fields if f.name == name)
    return F.parse(f.format).frac


def render(waves: Path, out: Path, meta: RtlMeta, clock_ns: float, title: str,
           expected: dict[str, int] | None = None) -> Path:
    """The picture; `expected`: the golden vector's raw output per column (mu0.., score, flag)."""
    rows = _rows(meta)
    signals = tuple(dict.fromkeys(r[1] for r in rows))
    series, unit = read_waves(waves, meta.top, signals)
    latency = meta.latency_cycles
    clk = series["clk"]
    rises = [t * unit for (t, v), (_, p) in zip(clk[1:], clk[:-1], strict=True) if v == 1 and p == 0]
    # The track: first rising edge where in_valid is high; show from two cycles before to after its output.
    accept = next(t for t in rises if value_at(series["in_valid"], t / unit - 1) == 1)
    t0, t1 = accept - 2.5 * clock_ns, accept + (latency + 2.5) * clock_ns
    n = len(rows)
    fig, ax = plt.subplots(figsize=(14, 0.5 * n + 1.4))
    for row, (_label, sig, lo, width, signed, frac) in enumerate(rows):
        y = n - 1 - row
        ch = [(t * unit, v) for t, v in series[sig]]
        pts = [(t0, value_at(series[sig], t0 / unit))] + [(t, v) for t, v in ch if t0 < t < t1] + [(t1, None)]
        for (ta, va), (tb, _) in zip(pts[:-1], pts[1:], strict=True):
            if width == 1:
                bit = None if va is None else (va >> lo) & 1
                lvl = y + (0.6 if bit else 0.0)
                ax.plot([ta, tb], [lvl, lvl], color="red" if bit is None else "tab:blue", lw=1.4)
                ax.plot([tb, tb], [y, y + 0.6], color="tab:blue", lw=0.6, alpha=0.5)
                continue
            ax.fill_between([ta, tb], y, y + 0.6, color="0.93" if va else "0.98", ec="tab:blue", lw=0.8)
            if va is None:
                text = "X"
            elif sig == "in_data":
                text = f"{va:0{(width + 3) // 4}x}"
            else:
                text = f"{_decode(va, lo, width, signed) * 2.0 ** -frac:g}"
            room = int((tb - ta) / clock_ns * 16)  # characters that fit in the box
            if room >= 2:
                text = text if len(text) <= room else text[: room - 1] + "…"
                ax.text((ta + tb) / 2, y + 0.3, text, ha="center", va="center", fontsize=6, family="monospace")
    out_edge = accept + latency * clock_ns
    for t, text in ((accept, "accepted"), (out_edge, "out_valid")):
        ax.axvline(t, color="tab:green", ls="--", lw=1)
        ax.text(t, n + 0.05, text, color="tab:green", ha="center", fontsize=8)
    ax.annotate("", xy=(out_edge, n - 0.2), xytext=(accept, n - 0.2),
                arrowprops={"arrowstyle": "<->", "color": "tab:green"})
    ax.text((accept + out_edge) / 2, n - 0.1, f"latency {latency} cycles = {latency * clock_ns:g} ns",
            ha="center", color="tab:green", fontsize=9)
    desc = ""
    if expected is not None:  # the golden values beside the RTL's, one cycle into the output
        checks = compare(meta, series, unit, out_edge + 0.5 * clock_ns, expected)
        bad = [c for c in checks if c[4]]
        side = ax.get_yaxis_transform()  # x in axes fractions, y in data
        ax.text(1.01, n + 0.05, "golden (expected)", transform=side, fontsize=8, fontweight="bold")
        for row, _col, got, want, differs in checks:
            y, scale = n - 1 - row, 2.0 ** -rows[row][5]
            text = f"{want * scale:g}" + (f"  != RTL {'X' if got is None else f'{got * scale:g}'}" if differs else "")
            if differs:
                ax.axhspan(y - 0.15, y + 0.75, color="red", alpha=0.15, lw=0)
            ax.text(1.01, y + 0.3, text, transform=side, va="center", fontsize=8, family="monospace",
                    color="red" if differs else "black", fontweight="bold" if differs else "normal")
        verdict = (f"FAIL: {len(bad)} of {len(checks)} output fields differ from golden" if bad
                   else f"PASS: all {len(checks)} output fields equal golden")
        title = f"{verdict}\n{title}"
        desc = "; ".join(f"{col}: RTL {got} != golden {want} (raw)" for _r, col, got, want, _d in bad)
    ax.set(xlim=(t0, t1), ylim=(-0.3, n + 0.4), xlabel="time (ns)")
    ax.set_title(title, color="red" if desc else "black", fontweight="bold" if desc else "normal")
    ax.set_yticks([n - 1 - r + 0.3 for r in range(n)], [r[0] for r in rows], fontsize=8, family="monospace")
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    fig.savefig(out, dpi=120, bbox_inches="tight", metadata={"Title": title, "Description": desc})
    plt.close(fig)
    return out
