"""Liberty files for the ASIC timing flow: a library folder's corners (ASAP7: five files a corner),
one merged file per corner for yosys/abc, a copy without the default wire-load model, and a
wire-load model sized to the design for a library that defines none.

Why a merge: yosys `abc -liberty` and `dfflibmap` read one file, and a naive concatenation of
ASAP7's five files breaks its lookup-table templates (each file defines them again). The merge
keeps the first file's header, every template once (renamed, with its uses, if two files defined
the same name differently), and every file's cells. OpenSTA reads the original files instead.
"""

from __future__ import annotations

import gzip
import math
import re
from dataclasses import dataclass
from pathlib import Path

# ASAP7's corners: file-name tag, and what each is for.
ASAP7_CORNERS = {"ss": ("SS", "slow: setup sign-off, 0.63 V 100 C"),
                 "tt": ("TT", "typical: 0.70 V 25 C"),
                 "ff": ("FF", "fast: hold checks, 0.70 V 25 C")}
ASAP7_GROUPS = ("SIMPLE", "AO", "OA", "INVBUF", "SEQ")

# The wire-load estimate for a library without one (ASAP7). Calibrated on the one model in hand,
# nangate45's 5K_hvratio_1_1 (fanout -> length in um for a 5,000-gate block), then scaled:
# - by the design's size with Rent's rule: net length grows as N^(p - 0.5) in cell pitches;
#   p = 0.65, mid-range of the 0.57-0.75 reported for random logic (an assumption, not data);
# - by the cell pitch, sqrt(mean cell area / utilisation), nangate45's (NAND2_X1-sized cells,
#   0.8 um2 at 70%) against the design's own mapped cells at 70%;
# - wire capacitance and resistance per um: OpenROAD-flow-scripts' asap7 platform, layer M3
#   (setRC.tcl: 0.2285 fF/um, 1.83 ohm/um as that flow reads it).
REF_WIRE_LOAD = {1: 1.7460, 2: 3.9394, 3: 6.4626, 4: 9.2201, 5: 11.9123, 6: 14.8358, 7: 18.6155, 8: 22.6727,
                 9: 25.4842, 11: 27.0320}
REF_WIRE_LOAD_SLOPE = 5.0
REF_GATES, REF_CELL_AREA_UM2, UTILISATION, RENT_P = 5000, 0.798, 0.7, 0.65
WIRE_CAP_FF_PER_UM, WIRE_RES_KOHM_PER_UM = 0.2285, 0.00183
WIRE_LOAD_LIBRARY, WIRE_LOAD_NAME = "pixvae_wire_load", "pixvae_estimate"


class LibertyError(RuntimeError):
    """A library folder or liberty file unusable (message is one line)."""


def read(path: Path) -> str:
    """A liberty's text, gzipped or not."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", errors="replace") as fh:
                return fh.read()
        return path.read_text(errors="replace")
    except (OSError, EOFError) as e:
        raise LibertyError(f"{path}: unreadable liberty ({getattr(e, 'strerror', None) or e})") from None


def asap7_corner_files(pdk_dir: Path, corner: str) -> list[Path]:
    """The five files of one ASAP7 corner in `pdk_dir`, refused in one line when any is missing."""
    tag = ASAP7_CORNERS[corner][0]
    files = []
    for group in ASAP7_GROUPS:
        found = sorted(Path(pdk_dir).glob(f"asap7sc7p5t_{group}_RVT_{tag}_nldm_*.lib*"))
        if not found:
            raise LibertyError(f"{pdk_dir}: no asap7sc7p5t_{group}_RVT_{tag}_nldm_*.lib(.gz) "
                               f"(an ASAP7 library folder needs all five files of each corner)")
        files.append(found[-1])
    return files


def _groups(body: str, start: int) -> list[tuple[str, str, int, int]]:
    """Top-level groups `kind (name) { ... }` of a library body from `start`: (kind, name, begin, end)."""
    out, pos = [], start
    head = re.compile(r"(\w+)\s*\(\s*\"?([^)\"]*)\"?\s*\)\s*\{")
    while True:
        m = head.search(body, pos)
        if not m:
            return out
        depth, i = 1, m.end()
        while depth:
            j = body.find("}", i)
            k = body.find("{", i)
            if j < 0:
                raise LibertyError("unbalanced braces in a liberty file")
            if 0 <= k < j:
                depth, i = depth + 1, k + 1
            else:
                depth, i = depth - 1, j + 1
        out.append((m.group(1), m.group(2), m.start(), i))
        pos = i


def _library_body(text: str, path: Path) -> tuple[int, int]:
    m = re.search(r"\blibrary\s*\([^)]*\)\s*\{", text)
    end = text.rfind("}")
    if not m or end < m.end():
        raise LibertyError(f"{path}: no library group: not a liberty file")
    return m.end(), end


def merge(paths: list[Path], out: Path, name: str) -> Path:
    """One liberty with every file's cells and each lookup-table template once (see the module doc)."""
    templates: dict[str, str] = {}
    header, cells, extra = "", [], []
    for n, path in enumerate(paths):
        text = read(path)
        lo, hi = _library_body(text, path)
        groups = _groups(text[:hi], lo)
        first_cell = next((g[2] for g in groups if g[0] == "cell"), hi)
        renames: dict[str, str] = {}
        for kind, gname, b, e in groups:
            if not kind.endswith("_template"):
                continue
            body = text[b:e]
            if gname not in templates:
                templates[gname] = body
                if n:
                    extra.append(body)
            elif templates[gname] != body:  # same name, other table: this file's cells get a copy of their own
                renames[gname] = f"{gname}__{n}"
                extra.append(body.replace(gname, renames[gname], 1))
        if n == 0:
            header = f"library ({name}) {{\n" + text[lo:first_cell]
        for kind, _name, b, e in groups:
            if kind == "cell":
                body = text[b:e]
                for old, new in renames.items():
                    body = re.sub(rf"\(\s*{re.escape(old)}\s*\)", f"({new})", body)
                cells.append(body)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(header + "\n  ".join(["", *extra]) + "\n  " + "\n  ".join(cells) + "\n}\n")
    return out


def default_wire_load(text: str) -> str | None:
    m = re.search(r"^\s*default_wire_load\s*:\s*\"?([\w.]+)\"?\s*;", text, re.M)
    return m.group(1) if m else None


def without_default_wire_load(src: Path, out: Path) -> Path:
    """A copy of a liberty with its `default_wire_load` line removed, so that OpenSTA applies no
    wire-load model unless the flow names one (it would apply the default silently)."""
    text = read(src)
    Path(out).write_text(re.sub(r"^\s*default_wire_load\s*:[^;]*;\s*$", "", text, flags=re.M))
    return Path(out)


# OpenSTA refuses a library without these, even one holding only a wire-load table.
_THRESHOLDS = "".join(f"  {k}_{e} : {v};\n" for k, v in (("input_threshold_pct", 50), ("output_threshold_pct", 50),
                                                          ("slew_lower_threshold_pct", 10),
                                                          ("slew_upper_threshold_pct", 90)) for e in ("rise", "fall"))


@dataclass(frozen=True)
class WireLoad:
    """A wire-load model the flow generated (see the constants above for how)."""
    lengths_um: dict[int, float]
    slope_um: float
    cell_pitch_um: float
    scale: float
    method: str

    def liberty(self, time_unit: str = "1ps") -> str:
        """A liberty with only this wire-load table, for OpenSTA's `set_wire_load_model -library`."""
        rows = "\n".join(f"    fanout_length({f}, {v:.4f});" for f, v in self.lengths_um.items())
        return (f"library ({WIRE_LOAD_LIBRARY}) {{\n  delay_model : table_lookup;\n  time_unit : \"{time_unit}\";\n"
                f"  capacitive_load_unit (1,ff);\n  pulling_resistance_unit : \"1kohm\";\n{_THRESHOLDS}"
                f"  wire_load(\"{WIRE_LOAD_NAME}\") {{\n    capacitance : {WIRE_CAP_FF_PER_UM};\n"
                f"    resistance : {WIRE_RES_KOHM_PER_UM};\n    area : 0;\n    slope : {self.slope_um:.4f};\n"
                f"{rows}\n  }}\n}}\n")


def estimate_wire_load(cells: int, area_um2: float) -> WireLoad:
    """nangate45's 5K-gate model scaled to `cells` mapped cells of total `area_um2` (see above)."""
    if cells <= 0 or area_um2 <= 0:
        raise LibertyError(f"no wire-load estimate for {cells} cells of {area_um2} um2")
    pitch = math.sqrt(area_um2 / cells / UTILISATION)
    ref_pitch = math.sqrt(REF_CELL_AREA_UM2 / UTILISATION)
    scale = pitch / ref_pitch * (cells / REF_GATES) ** (RENT_P - 0.5)
    method = (f"nangate45 5K_hvratio_1_1 lengths x {scale:.3f} = cell pitch {pitch:.3f}/{ref_pitch:.3f} um x "
              f"Rent (N={cells:,}/{REF_GATES:,})^({RENT_P}-0.5); {WIRE_CAP_FF_PER_UM} fF/um, "
              f"{WIRE_RES_KOHM_PER_UM * 1000:g} ohm/um (ORFS asap7 M3)")
    return WireLoad({f: v * scale for f, v in REF_WIRE_LOAD.items()}, REF_WIRE_LOAD_SLOPE * scale, pitch, scale,
                    method)
