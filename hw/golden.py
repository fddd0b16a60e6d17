"""Golden vectors: the encoder's expected outputs as integers, in a diffable CSV plus a manifest.

``vectors.csv`` has one row per vector: ``id, set, x00..x52, mu0..mu7, score, flag``.
Every number is the raw integer of its fixed-point format (value = raw * 2**-frac):
x* are ufixed<4,0> codes 0..15, mu* are fixed<8,4> as signed integers -128..127, score is
ufixed<18,9> (0..131072), flag is 1 when score > the manifest's ``score_threshold_raw``.
``manifest.json`` states these formats, the model hash the vectors were made from, the per-set
counts and how the three references (numpy integer model, hls4ml C simulation, QKeras) agreed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model import fixed_ref
from model import formats as F

VECTORS_FILE = "vectors.csv"
MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1
X_COLS = [f"x{j:02d}" for j in range(F.N_INPUTS)]
MU_COLS = [f"mu{j}" for j in range(F.N_LATENT)]
COLUMNS = ["id", "set", *X_COLS, *MU_COLS, "score", "flag"]


class GoldenError(RuntimeError):
    """Missing, corrupt, malformed or stale golden vectors (message is one line)."""


@dataclass
class Golden:
    path: Path
    ids: np.ndarray  # (n,)
    sets: np.ndarray  # (n,) str
    x: np.ndarray  # (n, 53) INPUT raw
    mu: np.ndarray  # (n, 8) LATENT raw (signed)
    score: np.ndarray  # (n,) SCORE raw
    flag: np.ndarray  # (n,)
    manifest: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def threshold_raw(self) -> int:
        return int(self.manifest["score_threshold_raw"])


def manifest_formats() -> dict[str, str]:
    return {
        "x00..x52": f"{F.INPUT.hls(False)} raw code (value = raw / 2**{F.INPUT.frac})",
        "mu0..mu7": f"{F.LATENT.hls(False)} raw, signed (value = raw / 2**{F.LATENT.frac})",
        "score": f"{F.SCORE.hls(False)} raw (value = raw / 2**{F.SCORE.frac}) = 0.5*sum(mu^2)",
        "flag": "1 if score_raw > score_threshold_raw",
    }


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write(path: Path, ids, sets, x, mu, score, flag, manifest: dict[str, Any]) -> None:
    """Write vectors and manifest; refuses to overwrite an existing golden directory."""
    path = Path(path)
    if (path / VECTORS_FILE).exists() or (path / MANIFEST_FILE).exists():
        raise GoldenError(f"{path}: golden vectors exist already; they are never overwritten (use a new directory)")
    path.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(x, columns=X_COLS)
    df.insert(0, "set", sets)
    df.insert(0, "id", ids)
    for j, c in enumerate(MU_COLS):
        df[c] = mu[:, j]
    df["score"], df["flag"] = score, flag
    tmp = path / (VECTORS_FILE + ".tmp")
    df.to_csv(tmp, index=False, lineterminator="\n")
    os.replace(tmp, path / VECTORS_FILE)
    full = {"format_version": FORMAT_VERSION, "vectors_file": VECTORS_FILE, "n_vectors": len(df),
            "formats": manifest_formats(), **manifest}
    _atomic_write(path / MANIFEST_FILE, json.dumps(full, indent=2) + "\n")


def _check_range(arr: np.ndarray, cols: list[str], lo: int, hi: int, fmt: str, src: Path, ids: np.ndarray) -> None:
    bad = (arr < lo) | (arr > hi)
    if bad.any():
        r, c = np.argwhere(bad if bad.ndim == 2 else bad[:, None])[0]
        raise GoldenError(
            f"{src}: vector {ids[r]} column '{cols[c]}' = {arr[r] if arr.ndim == 1 else arr[r, c]} "
            f"does not fit {fmt} (raw range {lo}..{hi}): wrong-width or corrupt vector"
        )


def load(path: Path, expected_hash: str | None = None) -> Golden:
    """Read and validate golden vectors; with expected_hash, refuse vectors of another model."""
    path = Path(path)
    mpath, vpath = path / MANIFEST_FILE, path / VECTORS_FILE
    for p in (mpath, vpath):
        if not p.is_file():
            raise GoldenError(f"{p}: missing (run `pixvae golden`)")
    try:
        manifest = json.loads(mpath.read_text())
    except json.JSONDecodeError as e:
        raise GoldenError(f"{mpath}: corrupt JSON ({e.msg} at line {e.lineno})") from None
    for key in ("format_version", "model_hash", "n_vectors", "score_threshold_raw"):
        if key not in manifest:
            raise GoldenError(f"{mpath}: key '{key}' missing")
    if manifest["format_version"] != FORMAT_VERSION:
        raise GoldenError(f"{mpath}: format_version {manifest['format_version']}, expected {FORMAT_VERSION}")
    if expected_hash is not None and manifest["model_hash"] != expected_hash:
        raise GoldenError(
            f"{path}: stale golden vectors: made for model {manifest['model_hash'][:12]}, "
            f"reference model is {expected_hash[:12]} (regenerate with `pixvae golden` into a new directory)"
        )
    with open(vpath) as fh:
        header = fh.readline().rstrip("\n").split(",")
    if header != COLUMNS:
        missing = [c for c in COLUMNS if c not in header]
        extra = [c for c in header if c not in COLUMNS]
        what = f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}" if extra else "columns out of order"
        raise GoldenError(f"{vpath}: header has {len(header)} columns, expected {len(COLUMNS)} ({what})")
    try:
        df = pd.read_csv(vpath, dtype={"set": str}, keep_default_na=False)
        ints = df.drop(columns=["set"]).apply(pd.to_numeric, errors="raise")
    except (ValueError, pd.errors.ParserError) as e:
        raise GoldenError(f"{vpath}: not an integer table ({str(e).splitlines()[0]})") from None
    if ints.isna().any().any() or not all(np.issubdtype(t, np.integer) for t in ints.dtypes):
        col = next(c for c in ints.columns if not np.issubdtype(ints[c].dtype, np.integer) or ints[c].isna().any())
        raise GoldenError(f"{vpath}: column '{col}' has empty or non-integer values")
    if len(df) != manifest["n_vectors"]:
        raise GoldenError(f"{vpath}: {len(df)} vectors, manifest says {manifest['n_vectors']}")
    ids = ints["id"].to_numpy()
    x, mu = ints[X_COLS].to_numpy(np.int64), ints[MU_COLS].to_numpy(np.int64)
    score, flag = ints["score"].to_numpy(np.int64), ints["flag"].to_numpy(np.int64)
    _check_range(x, X_COLS, F.INPUT.raw_min, F.INPUT.raw_max, F.INPUT.hls(False), vpath, ids)
    _check_range(mu, MU_COLS, F.LATENT.raw_min, F.LATENT.raw_max, F.LATENT.hls(False), vpath, ids)
    _check_range(score, ["score"], F.SCORE.raw_min, F.SCORE.raw_max, F.SCORE.hls(False), vpath, ids)
    _check_range(flag, ["flag"], 0, 1, "a 1-bit flag", vpath, ids)
    return Golden(path, ids, df["set"].to_numpy(str), x, mu, score, flag, manifest)


def describe(fmt: F.FixedFormat, raw: int) -> str:
    return f"{raw} (0x{int(fmt.to_unsigned_bits(np.int64(raw))):0{(fmt.width + 3) // 4}x}, {raw * 2.0**-fmt.frac:g})"


def diff_against(g: Golden, mu: np.ndarray, score: np.ndarray, flag: np.ndarray, who: str) -> list[str]:
    """One line per differing output field, naming the vector, the field and both values."""
    lines = []
    for j in range(F.N_LATENT):
        for r in np.flatnonzero(mu[:, j] != g.mu[:, j]):
            lines.append(f"vector {g.ids[r]} ({g.sets[r]}) mu{j}: {who} {describe(F.LATENT, mu[r, j])} "
                         f"!= golden {describe(F.LATENT, g.mu[r, j])} [{F.LATENT.hls(False)}]")
    for r in np.flatnonzero(score != g.score):
        lines.append(f"vector {g.ids[r]} ({g.sets[r]}) score: {who} {describe(F.SCORE, score[r])} "
                     f"!= golden {describe(F.SCORE, g.score[r])} [{F.SCORE.hls(False)}]")
    for r in np.flatnonzero(flag != g.flag):
        lines.append(f"vector {g.ids[r]} ({g.sets[r]}) flag: {who} {flag[r]} != golden {g.flag[r]}")
    return sorted(lines, key=lambda s: int(s.split()[1]))


def check_against_reference(g: Golden, weights: fixed_ref.IntegerEncoder) -> list[str]:
    """Golden outputs recomputed by the numpy integer model from the golden inputs."""
    mu = weights.latent(g.x)
    score = fixed_ref.score_raw(mu)
    return diff_against(g, mu, score, fixed_ref.flag(score, g.threshold_raw), "numpy reference")
