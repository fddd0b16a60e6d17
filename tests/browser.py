"""A report page as a reader's browser lays it out: Debian's chromium (headless shell) loads the
page with a script that measures it, and hands back what it found."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

WIDTH = 1500  # a laptop's browser window, the page's designed width
BROWSERS = ("chromium-headless-shell", "chromium")
# Run in the page once every image has loaded: the page overflowing the window, images that did
# not decode or are drawn wider than the page, and rows of a paper table whose paper cell is
# filled while ours is empty.
PROBE = """<script>
window.addEventListener("load", () => {
  const doc = document.documentElement, out = {overflow_px: doc.scrollWidth - doc.clientWidth,
    images: 0, broken: [], too_wide: [], unfilled: [], paper_cells: 0};
  for (const img of document.images) {
    out.images += 1;
    const r = img.getBoundingClientRect();
    if (!img.complete || img.naturalWidth === 0) out.broken.push(img.alt);
    if (r.right > doc.clientWidth + 1) out.too_wide.push(img.alt);
  }
  for (const row of document.querySelectorAll("table.paper tr")) {
    const paper = row.querySelector("td.paper"), ours = row.querySelectorAll("td.ours");
    if (!paper || paper.classList.contains("missing")) continue;
    out.paper_cells += 1;
    if (ours.length === 0 || [...ours].some(c => !c.textContent.trim())) out.unfilled.push(row.cells[0].textContent);
  }
  const pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def executable() -> str | None:
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


def probe(page: Path, work: Path) -> dict:
    """Load `page` (a copy with the probe added) in the headless browser; the probe's findings."""
    exe = executable()
    if exe is None:
        raise RuntimeError(f"no headless browser: apt-get install {BROWSERS[0]}")
    copy = work / f"probed_{page.name}"
    copy.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", f"--window-size={WIDTH},1000",
           "--virtual-time-budget=20000", "--dump-dom", copy.resolve().as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    if not found:
        raise AssertionError(f"{page}: the probe did not run in {exe}")
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
