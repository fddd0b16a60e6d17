"""Golden vectors: a design's expected outputs as integers, in a diffable CSV plus a manifest.

``vectors.csv`` has one row per vector: ``id, set``, the inputs ``x00..`` and the design's output
columns (for a VAE encoder ``mu0.., score, flag``; for a classifier ``score, keep``). Every
number is the raw integer of its fixed-point format (value = raw * 2**-frac); the manifest states
each format, the model hash the vectors were made from, the per-set counts, the threshold and
how the references (numpy integer model, hls4ml C simulation, QKeras) agreed.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.description.design import Design
from model.description.formats import FixedFormat
from model.fixed.files import atomic_write, read_json
from model.fixed.fixed_ref import IntegerNetwork

VECTORS_FILE = "vectors.csv"
MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 2


class GoldenError(RuntimeError):
    """Missing, corrupt, malformed or stale golden vectors (message is one line)."""


def columns(design: Design) -> list[str]:
    return ["id", "set", *design.x_columns, *design.output_columns]


def column_formats(design: Design) -> list[FixedFormat]:
    """The format of each output column, in design.output_columns order."""
    return [f.fmt for f in design.fields for _ in range(f.count)]


@dataclass
class Golden:
    path: Path
    design: Design
    ids: np.ndarray  # (n,)
    sets: np.ndarray  # (n,) str
    x: np.ndarray  # (n, n_inputs) input raw codes
    y: np.ndarray  # (n, len(design.output_columns)) output raw values
    manifest: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def threshold_raw(self) -> int:
        """The committed threshold (0, unused, for a design without a score)."""
        return int(self.manifest.get("score_threshold_raw", 0))

    def column(self, name: str) -> np.ndarray:
        return self.y[:, self.design.output_columns.index(name)]

    @property
    def score(self) -> np.ndarray:
        return self.column("score")

    @property
    def decision(self) -> np.ndarray:
        return self.column(self.design.decision)

    @property
    def latent(self) -> np.ndarray | None:
        lat = self.design.latent
        return None if lat is None else self.y[:, : lat.count]

    def at_threshold(self, threshold_raw: int) -> np.ndarray:
        """The expected outputs with the score compared against another threshold: only the
        decision bit changes (score > threshold), as the RTL's comparator computes it."""
        y = self.y.copy()
        y[:, self.design.output_columns.index(self.design.decision)] = (self.score > threshold_raw).astype(np.int64)
        return y

    def subset(self, rows: np.ndarray) -> Golden:
        return Golden(self.path, self.design, self.ids[rows], self.sets[rows], self.x[rows], self.y[rows],
                      self.manifest)


def manifest_formats(design: Design) -> dict[str, str]:
    x = design.x_columns
    fmt = design.input_format
    out = {f"{x[0]}..{x[-1]}": f"{fmt.hls(False)} raw code (value = raw / 2**{fmt.frac})"}
    for fl in design.fields[:-1]:
        cols = fl.columns
        name = cols[0] if len(cols) == 1 else f"{cols[0]}..{cols[-1]}"
        out[name] = (f"{fl.fmt.hls(False)} raw{', signed' if fl.fmt.signed else ''} "
                     f"(value = raw / 2**{fl.fmt.frac})")
    if not design.has_score:
        return out
    out["score"] += {"kl_clipped": " = 0.5*sum(mu^2)", "network": " = the network output",
                     "kl_total": " = 0.5*sum(mu^2) + the discrete KL of alpha (model.kl_discrete)"}[design.score]
    if design.dip_shift is not None:
        out["score"] += f" + 2**{design.dip_shift} * (the input y-profiles' dips, model.fixed_ref.profile_dips)"
    if design.check is not None:
        out["score"] += f" + 2**{design.check.shift} * (the profile check, model.fixed_ref.profile_check)"
    out[design.decision] = "1 if score_raw > score_threshold_raw"
    return out


def write(path: Path, design: Design, ids, sets, x, y, manifest: dict[str, Any]) -> None:
    """Write vectors and manifest; refuses to overwrite an existing golden directory."""
    path = Path(path)
    if (path / VECTORS_FILE).exists() or (path / MANIFEST_FILE).exists():
        raise GoldenError(f"{path}: golden vectors exist already; they are never overwritten (use a new directory)")
    check_formats(design, ids, x, y)
    path.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(np.column_stack([x, y]).astype(np.int64), columns=[*design.x_columns, *design.output_columns])
    df.insert(0, "set", sets)
    df.insert(0, "id", ids)
    tmp = path / (VECTORS_FILE + ".tmp")
    df.to_csv(tmp, index=False, lineterminator="\n")
    os.replace(tmp, path / VECTORS_FILE)
    full = {"format_version": FORMAT_VERSION, "design": design.name, "vectors_file": VECTORS_FILE,
            "n_vectors": len(df), "formats": manifest_formats(design), **manifest}
    atomic_write(path / MANIFEST_FILE, json.dumps(full, indent=2) + "\n")


def check_formats(design: Design, ids, x, y) -> None:
    """Refuse computed vectors a column's format cannot hold (before anything is written): the
    design's formats are wrong for what its model computes, a design error, not a corrupt file."""
    from model.description.design import DesignError

    cols = [*design.x_columns, *design.output_columns]
    fmts = [design.input_format] * design.n_inputs + column_formats(design)
    arr = np.column_stack([x, y]).astype(np.int64)
    bad = _outside(arr, fmts)
    if bad:
        r, c, lo, hi = bad
        raise DesignError(
            f"{design.path / 'design.toml'}: vector {np.asarray(ids)[r]} column '{cols[c]}' = {arr[r, c]} does not "
            f"fit {fmts[c].hls(False)} (raw range {lo}..{hi}): the design's formats cannot hold what its "
            f"model computes; no vectors written"
        )


def _outside(arr: np.ndarray, fmts: list[FixedFormat]) -> tuple[int, int, int, int] | None:
    """The first (row, column, raw_min, raw_max) whose value the column's format cannot hold."""
    lo = np.array([f.raw_min for f in fmts])
    hi = np.array([f.raw_max for f in fmts])
    bad = np.argwhere((arr < lo) | (arr > hi))
    return (int(bad[0][0]), int(bad[0][1]), int(lo[bad[0][1]]), int(hi[bad[0][1]])) if len(bad) else None


def _check_range(arr: np.ndarray, cols: list[str], fmts: list[FixedFormat], src: Path, ids: np.ndarray) -> None:
    bad = _outside(arr, fmts)
    if bad:
        r, c, lo, hi = bad
        raise GoldenError(
            f"{src}: vector {ids[r]} column '{cols[c]}' = {arr[r, c]} does not fit {fmts[c].hls(False)} "
            f"(raw range {lo}..{hi}): wrong-width or corrupt vector"
        )


def _refuse_truncated(vpath: Path, n_cols: int) -> None:
    """write() ends every line with a newline: a file that does not was cut mid-line (a copy or a
    download that stopped), which pandas would read as a short last row of empty values."""
    with open(vpath, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(0, size - 65536))
        tail = fh.read()
    if tail and not tail.endswith(b"\n"):
        cells = tail.rsplit(b"\n", 1)[-1].count(b",") + 1
        raise GoldenError(f"{vpath}: truncated: it ends mid-line (the last line has {cells} of {n_cols} columns "
                          "and no newline)")


def load(path: Path, design: Design, expected_hash: str | None = None) -> Golden:
    """Read and validate golden vectors; with expected_hash, refuse vectors of another model."""
    path = Path(path)
    mpath, vpath = path / MANIFEST_FILE, path / VECTORS_FILE
    for p in (mpath, vpath):
        if not p.is_file():
            raise GoldenError(f"{p}: missing (run `pixvae golden --design {design.name}`)")
    manifest = read_json(mpath, GoldenError)
    for key in ("format_version", "design", "model_hash", "n_vectors", "score_threshold_raw")[:5 if design.has_score
                                                                                              else 4]:
        if key not in manifest:
            raise GoldenError(f"{mpath}: key '{key}' missing")
    if manifest["format_version"] != FORMAT_VERSION:
        raise GoldenError(f"{mpath}: format_version {manifest['format_version']}, expected {FORMAT_VERSION}")
    if manifest["design"] != design.name:
        raise GoldenError(f"{mpath}: vectors of design {manifest['design']!r}, not {design.name!r}")
    if expected_hash is not None and manifest["model_hash"] != expected_hash:
        raise GoldenError(
            f"{path}: stale golden vectors: made for model {manifest['model_hash'][:12]}, "
            f"reference model is {expected_hash[:12]} (regenerate with `pixvae golden` into a new directory)"
        )
    cols = columns(design)
    with open(vpath) as fh:
        header = fh.readline().rstrip("\n").split(",")
    if header != cols:
        missing = [c for c in cols if c not in header]
        extra = [c for c in header if c not in cols]
        what = f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}" if extra else "columns out of order"
        raise GoldenError(f"{vpath}: header has {len(header)} columns, expected {len(cols)} ({what})")
    _refuse_truncated(vpath, len(cols))
    try:
        df = pd.read_csv(vpath, dtype={"set": str}, keep_default_na=False)
        if len(df) == 0:
            raise GoldenError(f"{vpath}: no vectors (an empty golden set verifies nothing)")
        ints = df.drop(columns=["set"]).apply(pd.to_numeric, errors="raise")
    except (ValueError, pd.errors.ParserError) as e:
        raise GoldenError(f"{vpath}: not an integer table ({str(e).splitlines()[0]})") from None
    if ints.isna().any().any() or not all(np.issubdtype(t, np.integer) for t in ints.dtypes):
        col = next(c for c in ints.columns if not np.issubdtype(ints[c].dtype, np.integer) or ints[c].isna().any())
        raise GoldenError(f"{vpath}: column '{col}' has empty or non-integer values")
    if len(df) != manifest["n_vectors"]:
        raise GoldenError(f"{vpath}: {len(df)} vectors, manifest says {manifest['n_vectors']} (truncated or edited)")
    ids = ints["id"].to_numpy()
    x = ints[design.x_columns].to_numpy(np.int64)
    y = ints[design.output_columns].to_numpy(np.int64)
    _check_range(x, design.x_columns, [design.input_format] * design.n_inputs, vpath, ids)
    _check_range(y, design.output_columns, column_formats(design), vpath, ids)
    return Golden(path, design, ids, df["set"].to_numpy(str), x, y, manifest)


def describe(fmt: FixedFormat, raw: int) -> str:
    return f"{raw} (0x{int(fmt.to_unsigned_bits(np.int64(raw))):0{(fmt.width + 3) // 4}x}, {raw * 2.0**-fmt.frac:g})"


_DIFF_LINE = re.compile(r"vector (-?\d+) \(")


def diff_vector(line: str) -> int | None:
    """The vector id of a diff_against line (None for other lines, e.g. protocol errors)."""
    m = _DIFF_LINE.match(line)
    return int(m.group(1)) if m else None


def diff_against(g: Golden, y: np.ndarray, who: str) -> list[str]:
    """One line per differing output field, naming the vector, the column, both values and the format."""
    lines = []
    y = np.asarray(y, dtype=np.int64).reshape(g.y.shape)
    for j, (col, fmt) in enumerate(zip(g.design.output_columns, column_formats(g.design), strict=True)):
        for r in np.flatnonzero(y[:, j] != g.y[:, j]):
            lines.append(f"vector {g.ids[r]} ({g.sets[r]}) {col}: {who} {describe(fmt, y[r, j])} "
                         f"!= golden {describe(fmt, g.y[r, j])} [{fmt.hls(False)}]")
    return sorted(lines, key=diff_vector)


def check_against_reference(g: Golden, net: IntegerNetwork) -> list[str]:
    """Golden outputs recomputed by the numpy integer model from the golden inputs."""
    return diff_against(g, net.outputs(g.x, g.threshold_raw), "numpy reference")
