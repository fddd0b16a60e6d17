"""Render the first cycles of one track from a VCD as a PNG: clock, reset, valids, input and
output values in hex, with the acceptance edge, the output edge and the latency marked."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SIGNALS = ("clk", "rst", "in_valid", "in_data", "score_threshold", "out_valid", "out_mu", "out_score", "out_flag")


def read_vcd(path: Path, scope: str, names: tuple[str, ...] = SIGNALS) -> tuple[dict[str, list], float]:
    """Value changes [(time, int or None for x/z)] of the named signals of one scope, and the time unit in ns.

    A small reader on purpose: only the top scope's ports are needed, and the general VCD
    libraries on PyPI reject the aliased id codes Verilator writes.
    """
    ids: dict[str, str] = {}
    series: dict[str, list] = {n: [] for n in names}
    unit_ns, now, stack = 1e-3, 0, []
    units = {"fs": 1e-6, "ps": 1e-3, "ns": 1.0, "us": 1e3}
    with open(path) as fh:
        header = True
        for line in fh:
            tok = line.split()
            if not tok:
                continue
            if header:
                if tok[0] == "$timescale":
                    spec = "".join(tok[1:-1]) if len(tok) > 2 else next(fh).strip()
                    num = "".join(ch for ch in spec if ch.isdigit()) or "1"
                    unit_ns = int(num) * units[spec.lstrip("0123456789")]
                elif tok[0] == "$scope":
                    stack.append(tok[2])
                elif tok[0] == "$upscope":
                    stack.pop()
                elif tok[0] == "$var" and stack and stack[-1] == scope and len(stack) <= 2 and tok[4] in series:
                    ids.setdefault(tok[3], tok[4])
                elif tok[0] == "$enddefinitions":
                    header = False
                continue
            c = tok[0][0]
            if c == "#":
                now = int(tok[0][1:])
            elif c in "bB" and len(tok) == 2 and tok[1] in ids:
                bits = tok[0][1:]
                series[ids[tok[1]]].append((now, None if any(ch in "xXzZ" for ch in bits) else int(bits, 2)))
            elif c in "01xXzZ" and tok[0][1:] in ids:
                series[ids[tok[0][1:]]].append((now, None if c in "xXzZ" else int(c)))
    return series, unit_ns


def value_at(changes: list, t: float):
    v = None
    for tt, val in changes:
        if tt > t:
            break
        v = val
    return v


def render(vcd: Path, out: Path, scope: str, width_bits: dict[str, int], clock_ns: float, latency: int,
           title: str) -> Path:
    series, unit = read_vcd(vcd, scope)
    clk = series["clk"]
    rises = [t * unit for (t, v), (_, p) in zip(clk[1:], clk[:-1], strict=True) if v == 1 and p == 0]
    # The track: first rising edge where in_valid is high; show from two cycles before to after its output.
    accept = next(t for t in rises if value_at(series["in_valid"], t / unit - 1) == 1)
    t0, t1 = accept - 2.5 * clock_ns, accept + (latency + 2.5) * clock_ns
    fig, ax = plt.subplots(figsize=(14, 0.62 * len(SIGNALS) + 1.2))
    for row, name in enumerate(SIGNALS):
        y = len(SIGNALS) - 1 - row
        ch = [(t * unit, v) for t, v in series[name]]
        pts = [(t0, value_at(series[name], t0 / unit))] + [(t, v) for t, v in ch if t0 < t < t1] + [(t1, None)]
        ax.text(t0 - 0.3, y + 0.3, name, ha="right", va="center", fontsize=9, family="monospace")
        for (ta, va), (tb, _) in zip(pts[:-1], pts[1:], strict=True):
            if width_bits.get(name, 1) == 1:
                lvl = y + (0.6 if va else 0.0)
                ax.plot([ta, tb], [lvl, lvl], color="red" if va is None else "tab:blue", lw=1.4)
                ax.plot([tb, tb], [y, y + 0.6], color="tab:blue", lw=0.6, alpha=0.5)
            else:
                ax.fill_between([ta, tb], y, y + 0.6, color="0.93" if va else "0.98", ec="tab:blue", lw=0.8)
                digits = (width_bits[name] + 3) // 4
                label = "X" * digits if va is None else f"{va:0{digits}x}"
                room = int((tb - ta) / clock_ns * 16)  # characters that fit in the box
                if room >= 4:
                    label = label if len(label) <= room else label[: room - 1] + "…"
                    ax.text((ta + tb) / 2, y + 0.3, label, ha="center", va="center", fontsize=6, family="monospace")
    out_edge = accept + latency * clock_ns
    for t, text in ((accept, "accepted"), (out_edge, "out_valid")):
        ax.axvline(t, color="tab:green", ls="--", lw=1)
        ax.text(t, len(SIGNALS) + 0.05, text, color="tab:green", ha="center", fontsize=8)
    ax.annotate("", xy=(out_edge, len(SIGNALS) - 0.2), xytext=(accept, len(SIGNALS) - 0.2),
                arrowprops={"arrowstyle": "<->", "color": "tab:green"})
    ax.text((accept + out_edge) / 2, len(SIGNALS) - 0.1, f"latency {latency} cycles = {latency * clock_ns:g} ns",
            ha="center", color="tab:green", fontsize=9)
    ax.set(xlim=(t0 - 5 * clock_ns, t1), ylim=(-0.3, len(SIGNALS) + 0.4), yticks=[], xlabel="time (ns)", title=title)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
