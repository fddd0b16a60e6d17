"""Figures and page furniture for the HTML reports: matplotlib without a display in the field's
style (mplhep's CMS style, without an experiment's label: these are not an experiment's results),
a figure as an embedded PNG that is refused when a title or label would be cut, and the CSS that
lays the plots out in a grid at a size fit for a talk."""

from __future__ import annotations

import base64
import html
import io
import textwrap

import matplotlib
import numpy as np
from PIL import Image

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402
from matplotlib.text import Text  # noqa: E402

plt.style.use(mplhep.style.CMS)
# CMS style sizes for a 10 x 10 inch canvas; ours are smaller, so smaller type keeps labels whole.
plt.rcParams.update({"font.size": 16, "axes.titlesize": 16, "legend.fontsize": 12, "xtick.labelsize": 14,
                     "ytick.labelsize": 14, "axes.labelsize": 16, "figure.figsize": (9, 6),
                     "figure.constrained_layout.use": True})
DPI = 100
CSS = """body{font-family:sans-serif;max-width:1500px;margin:0 auto;padding:0 12px;line-height:1.4}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #999;padding:3px 8px;vertical-align:top}
th{background:#eee}td.num{text-align:right;white-space:nowrap}td.missing{color:#999}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(620px,1fr));gap:18px;margin:12px 0}
img{max-width:100%}.grid img,.wide img{width:100%;height:auto;display:block}.wide{margin:12px 0}
figure{margin:0}
figcaption{font-size:90%;color:#333}"""


class FigureCut(RuntimeError):
    """A figure whose text would fall outside its canvas (message is one line)."""


def _check_whole(fig) -> None:
    """Every title, axis (its label and the ticks in view) and legend lies on the canvas. The
    data artists are left out: they are clipped to their panel, and measuring them costs most."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    w, h = fig.canvas.get_width_height()

    def outside(box) -> bool:
        return box is not None and (box.x0 < -1 or box.y0 < -1 or box.x1 > w + 1 or box.y1 > h + 1)

    for t in [*fig.texts, *([fig._suptitle] if fig._suptitle else []), *fig.legends]:
        if t.get_visible() and outside(t.get_window_extent(renderer)):
            text = t.get_text() if isinstance(t, Text) else "legend"
            raise FigureCut(f"figure '{_title(fig)}': '{text[:60]}' falls outside the {w} x {h} px canvas")
    for ax in fig.axes:
        if not ax.get_visible() or not ax.axison and not ax.get_title():
            continue
        parts = {"title": ax.title, "x axis": ax.xaxis, "y axis": ax.yaxis, "legend": ax.get_legend()}
        for what, part in parts.items():
            if part is None or not part.get_visible() or (isinstance(part, Text) and not part.get_text()):
                continue
            box = part.get_tightbbox(renderer) if hasattr(part, "get_tightbbox") else part.get_window_extent(renderer)
            if outside(box):
                raise FigureCut(f"figure '{_title(fig)}': the {what} of the panel '{ax.get_title() or ax.get_xlabel()}'"
                                f" falls outside the {w} x {h} px canvas")


def _title(fig) -> str:
    if fig._suptitle is not None:
        return fig._suptitle.get_text()
    return next((ax.get_title() for ax in fig.axes if ax.get_title()), "untitled")


def _wrap(fig) -> None:
    """Titles broken into lines that fit their figure or panel (about 7 characters an inch at 16 pt)."""
    def fill(text: str, inches: float) -> str:
        return "\n".join(textwrap.fill(line, max(int(inches * 7), 20)) for line in text.split("\n"))

    if fig._suptitle is not None:
        fig._suptitle.set_text(fill(fig._suptitle.get_text(), fig.get_figwidth()))
    for ax in fig.axes:
        if ax.get_title():
            ax.set_title(fill(ax.get_title(), ax.get_position().width * fig.get_figwidth()))


def png(fig, caption: str = "", wide: bool = False) -> str:
    """`fig` as a ``<figure>`` holding its PNG data (the figure is closed); FigureCut when a title,
    label or legend would be cut at the canvas edge."""
    if fig.get_layout_engine() is None:
        fig.set_layout_engine("constrained")
    try:
        _wrap(fig)
        fig.set_dpi(DPI)
        _check_whole(fig)  # draws the canvas once; its pixels are the PNG (savefig would draw it again)
        buf = io.BytesIO()
        Image.fromarray(np.asarray(fig.canvas.buffer_rgba())).save(buf, format="png")
    finally:
        plt.close(fig)
    alt = html.escape(_title(fig))
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    cls = ' class="wide"' if wide else ""
    return (f'<figure{cls}><img alt="{alt}" src="data:image/png;base64,'
            f'{base64.b64encode(buf.getvalue()).decode()}">{cap}</figure>')


def grid(figures: list[str]) -> str:
    """Plots side by side, two or more a row depending on the page's width."""
    return f'<div class="grid">{"".join(figures)}</div>'


def page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{CSS}</style></head><body>{body}</body></html>\n")
