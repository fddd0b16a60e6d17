"""The features file (``features.npz``) that ``pixvae data import`` writes next to an imported release.

Training and evaluation need, per track, only the y-profiles (charge summed over the 21 x
columns) of a few time slices and the labels: 8 x 13 + 13 float32 values (468 bytes) instead of
20 x 273 (21.8 kB), so 500,000 tracks take 234 MB instead of 11 GB and load in a second.

The release holds raw charge; the front end's noise and threshold act per pixel, before the sum
over x, so they cannot be applied to cached profiles afterwards. The profiles are therefore
cached after :class:`Readout` (by default as :func:`model.data.features.readout` with its default
noise, threshold and seed) or raw (``readout=None``, for data read out already).
:class:`ProfileStream` draws each slice's noise from the same stream ``(seed, slice)`` that
:func:`model.data.features.readout` uses for a whole set at once, continuing it from chunk to chunk, so
:meth:`FeatureCache.encoder_inputs` and :meth:`FeatureCache.model_features` equal
``features.encoder_inputs`` and ``features.model_features`` of the release read into memory (NaN
rows dropped, files in the same order), bit for bit.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.data.dataformat import LABEL_COLUMNS, N_COLS, N_ROWS, DataFormatError
from model.data.features import DEFAULT_SLICES, ENCODER_SLICES, encode_4bit, encode_y0_4bit

FEATURES_FILE = "features.npz"
FORMAT = "pixvae-features/1"


@dataclass(frozen=True)
class Readout:
    """The front end applied before the profiles are summed (see :func:`model.data.features.readout`)."""

    noise_e: float = 80.0
    threshold_e: float = 400.0
    seed: int = 0


class ProfileStream:
    """y-profiles (m, len(slices), 13) of the chosen slices, one chunk of tracks after another.

    Without readout these are :func:`model.data.features.y_profiles`; with it, each slice's noise
    generator persists across chunks, so the chunks together draw what :func:`model.data.features.readout`
    draws for all tracks at once (NumPy generators fill arrays sequentially). The arithmetic below
    repeats that function's, in float32, and a test keeps the two identical.
    """

    def __init__(self, slices: Sequence[int], readout: Readout | None) -> None:
        self.slices = tuple(slices)
        self.readout = readout
        self._noise = [np.random.default_rng([readout.seed, k]) for k in self.slices] if readout else []

    def __call__(self, charges: np.ndarray) -> np.ndarray:
        """Profiles of `charges` (m, len(slices), 13, 21): the chosen slices only, in order."""
        out = np.empty((len(charges), len(self.slices), N_ROWS), dtype=np.float32)
        for j in range(len(self.slices)):
            if self.readout is None:
                out[:, j] = charges[:, j].sum(axis=-1, dtype=np.float32)
                continue
            noise = self._noise[j].standard_normal((len(charges), N_ROWS, N_COLS), dtype=np.float32)
            noisy = charges[:, j] + noise * np.float32(self.readout.noise_e)
            noisy[noisy < self.readout.threshold_e] = 0
            out[:, j] = noisy.sum(axis=-1, dtype=np.float32)
        return out


@dataclass
class FeatureCache:
    """Per-track y-profiles and labels of an imported release, with where each track came from."""

    profiles: np.ndarray  # float32 (n, len(slices), 13)
    labels: pd.DataFrame  # float32 LABEL_COLUMNS; NaN in optional columns a release file lacked
    source: np.ndarray  # int32 (n,): index into `files`
    row: np.ndarray  # int64 (n,): the track's row id in its source file (pandas index, else position)
    slices: tuple[int, ...]
    readout: Readout | None
    files: list[dict[str, Any]]  # per source file pair: part, file_id, paths, row counts, drops
    release: str = ""

    def __len__(self) -> int:
        return len(self.profiles)

    def profiles_of(self, slices: Sequence[int]) -> np.ndarray:
        """(n, len(slices), 13) profiles of cached slices."""
        absent = [k for k in slices if k not in self.slices]
        if absent:
            raise DataFormatError(f"{FEATURES_FILE}: slice {absent[0]} not cached (slices {list(self.slices)})")
        return self.profiles[:, [self.slices.index(k) for k in slices]]

    def encoder_inputs(self) -> np.ndarray:
        """The 53 encoder inputs (uint8), as :func:`model.data.features.encoder_inputs` with the cached readout."""
        rows = encode_4bit(self.profiles_of(ENCODER_SLICES)).reshape(len(self), -1)
        y0 = encode_y0_4bit(self.labels["y-local"].to_numpy())
        return np.concatenate([rows, y0[:, None]], axis=1)

    def model_features(self, slices: Sequence[int] = DEFAULT_SLICES, y0_scale: float = 1 / 8) -> np.ndarray:
        """Float features as :func:`model.data.features.model_features`: profiles slice-major, then y0 * y0_scale."""
        rows = self.profiles_of(slices).reshape(len(self), -1)
        y0 = self.labels["y-local"].to_numpy(np.float32) * np.float32(y0_scale)
        return np.concatenate([rows, y0[:, None]], axis=1)

    def _meta(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "release": self.release,
            "slices": list(self.slices),
            "readout": asdict(self.readout) if self.readout else None,
            "label_columns": list(LABEL_COLUMNS),
            "files": self.files,
        }

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write to `path` as it is (callers stage it; see :func:`model.data.dataformat.staged_files`)."""
        with open(path, "wb") as f:  # a file object: np.savez would append ".npz" to a name
            np.savez(
                f,
                profiles=self.profiles,
                labels=self.labels.loc[:, list(LABEL_COLUMNS)].to_numpy(np.float32),
                source=self.source,
                row=self.row,
                meta=np.array(json.dumps(self._meta())),
            )


def load_features(path: str | os.PathLike[str]) -> FeatureCache:
    """Load a features file, or the one in an imported release's folder."""
    path = Path(path)
    if path.is_dir():
        path = path / FEATURES_FILE
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != FORMAT:
                raise DataFormatError(f"{path.name}: format {meta.get('format')!r}, expected {FORMAT!r}")
            arrays = {key: data[key] for key in ("profiles", "labels", "source", "row")}
    except (OSError, ValueError, KeyError) as exc:
        if isinstance(exc, DataFormatError):
            raise
        raise DataFormatError(f"{path.name}: unreadable features file ({' '.join(str(exc).split())})") from exc
    readout = meta["readout"]
    return FeatureCache(
        profiles=arrays["profiles"],
        labels=pd.DataFrame(arrays["labels"], columns=meta["label_columns"]),
        source=arrays["source"],
        row=arrays["row"],
        slices=tuple(meta["slices"]),
        readout=Readout(**readout) if readout else None,
        files=meta["files"],
        release=meta["release"],
    )


def generate_features(out: Path, n: int, seed: int, spectrum: str = "falling",
                      slices: Sequence[int] = DEFAULT_SLICES, chunk: int = 20_000, progress: bool = True) -> Path:
    """Generated tracks straight into a features file (``out/features.npz``), chunk by chunk: a
    training set of the paper's 440,000 tracks would take 19 GB as parquet. The generator's
    blocks are seeded by position, so the tracks equal ``generator.generate(n, seed=seed)``'s and
    the profiles equal the in-memory readout's (Readout(seed=seed), see :class:`ProfileStream`)."""
    from tqdm import tqdm

    from model.data import generator
    from model.data.dataformat import staged_files

    readout = Readout(seed=seed)
    stream = ProfileStream(slices, readout)
    profiles, labels = [], []
    with tqdm(total=n, disable=not progress, unit="track", desc="generate features") as bar:
        for ts in generator.generate_chunks(n, chunk, spectrum=spectrum, seed=seed):
            profiles.append(stream(ts.charges[:, list(slices)]))
            labels.append(ts.labels)
            bar.update(len(ts))
    cache = FeatureCache(
        profiles=np.concatenate(profiles), labels=pd.concat(labels, ignore_index=True).astype(np.float32),
        source=np.zeros(n, np.int32), row=np.arange(n, dtype=np.int64), slices=tuple(slices), readout=readout,
        files=[{"generator": "model.generator", "n": n, "seed": seed, "spectrum": spectrum}],
        release=f"generated: {n} {spectrum}-spectrum tracks, seed {seed}")
    with staged_files() as stage:
        cache.write(stage(Path(out) / FEATURES_FILE))
    return Path(out) / FEATURES_FILE
