"""The reports as a reader sees them: each shipped design's `pixvae report` rendered in a headless
browser (Debian's chromium) with nothing cut and every figure the paper has filled beside it;
figures refused when a label would be cut; words that come from the design."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from model.description import design as D
from pixvae import labels, measure
from pixvae.figures import FigureCut, page, plt, png
from pixvae.paths import REPO
from tests import browser
from tests.conftest import COMMITTED

NEEDS_BROWSER = pytest.mark.skipif(
    browser.executable() is None and not os.environ.get("PIXVAE_REQUIRE_TIMING"),
    reason="no headless chromium (apt-get install chromium-headless-shell; CI requires it)")
TRACKS = 120  # per set: the page's layout and tables, not the figures' precision, are under test


@NEEDS_BROWSER
@pytest.mark.parametrize("name", COMMITTED)
def test_design_report_renders_whole_with_the_papers_figures_filled(name: str, tmp_path: Path) -> None:
    out = tmp_path / "report"
    run = subprocess.run([sys.executable, "-m", "pixvae.cli", "report", "--design", name, "--tracks", str(TRACKS),
                          "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    found = browser.probe(out / "report.html", tmp_path)
    assert found["overflow_px"] <= 0, found
    assert found["images"] >= 3 and not found["broken"] and not found["too_wide"], found
    assert not found["unfilled"], f"paper figures without ours: {found['unfilled']}"
    design = D.load(name)
    # Every figure of the paper this design names is a filled row (a hardware row too).
    want = sum(len(v) if isinstance(v, dict) else 1 for k, v in design.paper.items()
               if k in measure.PAPER_KEYS) + sum(1 for k in ("latency_ns", "luts", "ffs", "dsps")
                                                 if k in design.paper.get("hardware", {}))
    want += 2 if "thesis_kl_total" in design.paper else 0
    assert found["paper_cells"] == want, found


@NEEDS_BROWSER
def test_the_probe_finds_a_cut_page_and_an_empty_cell(tmp_path: Path) -> None:
    """The browser check can fail: an image wider than the page and a paper figure without ours."""
    gif = "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"  # one pixel
    wide = f'<img alt="wide" style="max-width:none;width:3000px" src="data:image/gif;base64,{gif}">'
    table = ('<table class="paper"><tr><td>figure</td><td class="ours"></td><td class="paper">21</td></tr>'
             '<tr><td>other</td><td class="ours">1.0</td><td class="paper missing">&mdash;</td></tr></table>')
    path = tmp_path / "bad.html"
    path.write_text(page("bad", wide + table))
    found = browser.probe(path, tmp_path)
    assert found["overflow_px"] > 0 and found["too_wide"] == ["wide"]
    assert found["unfilled"] == ["figure"] and found["paper_cells"] == 1


def test_a_figure_whose_text_would_be_cut_is_refused() -> None:
    fig, ax = plt.subplots(figsize=(4, 3))
    fig.text(1.05, 0.5, "beyond the right edge")
    with pytest.raises(FigureCut, match="beyond the right edge"):
        png(fig)
    fig, ax = plt.subplots(figsize=(4, 3), layout="none")
    ax.set_position((0.5, 0.0, 0.6, 0.8))  # the panel's right part and its x labels off the canvas
    ax.set(xlabel="a label below the canvas", xlim=(0, 10))
    with pytest.raises(FigureCut, match="x axis"):
        png(fig)
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.set_title("a title long enough to need two lines at four inches wide, wrapped by png")
    assert png(fig).startswith("<figure><img")


def test_words_come_from_the_design() -> None:
    low, cls, joint = D.load("vae-low"), D.load("classifier"), D.load("jointvae")
    assert "profile dips" in labels.score_words(low) and "profile check" in labels.score_words(low)
    assert "logit" in labels.score_words(cls) and "μ" not in labels.score_words(cls)
    assert "discrete KL" in labels.score_words(joint) and "dips" not in labels.score_words(joint)
    assert labels.figure(cls, "br_at_se93")[0].startswith("On-chip pileup rejection")
    assert labels.figure(low, "br_at_se93")[0].startswith("Pileup rejection on decoded tracks")
    assert labels.figure(low, "ad_eff_at_br90", "dead_row")[0].startswith("Dead row")
    for name in COMMITTED:  # every figure a shipped design's paper names has words
        for key in D.load(name).paper:
            if key in measure.PAPER_KEYS:
                labels.figure(D.load(name), key, "dead_pixel")
    with pytest.raises(KeyError, match="pixvae/labels.py"):
        labels.figure(low, "no_such_figure")
