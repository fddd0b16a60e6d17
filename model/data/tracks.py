"""Tracks in memory and the release's columns: what the format definitions, the readers and the writer share.

:class:`TrackSet` holds clusters (float32 charges ``(n, T, 13, 21)``) and their truth labels; the
constants name the release's label and charge columns and its shapes; :class:`DataFormatError` is
the one-line error of every reader. Kept apart from :mod:`model.data.dataformat` (the writer and the
reading entry points) so that the readers need not import it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

LABEL_COLUMNS: tuple[str, ...] = (
    "x-entry", "y-entry", "z-entry", "n_x", "n_y", "n_z", "number_eh_pairs",
    "y-local", "pt", "cotAlpha", "cotBeta", "y-midplane", "x-midplane",
)  # fmt: skip
# What the features and evaluations use (y0, the pileup and angle selections). Older label
# writers left out the midplanes or more; absent optional columns read as NaN.
REQUIRED_LABELS: tuple[str, ...] = ("y-local", "pt", "cotAlpha", "cotBeta")
OPTIONAL_LABELS: tuple[str, ...] = tuple(c for c in LABEL_COLUMNS if c not in REQUIRED_LABELS)
N_ROWS = 13
N_COLS = 21
PIXELS = N_ROWS * N_COLS
CSV_SLICES = 8
INDEX_COLUMN = "__index_level_0__"  # pandas' name for an unnamed index stored as a column


class DataFormatError(ValueError):
    """A dataset file that does not match the release format (one-line message)."""


@dataclass
class TrackSet:
    """Clusters and their truth labels.

    charges: float32 ``(n, T, 13, 21)`` in electrons; labels: one float32 row per cluster with
    exactly :data:`LABEL_COLUMNS` (NaN in optional columns a release file did not have).
    """

    charges: np.ndarray
    labels: pd.DataFrame

    def __post_init__(self) -> None:
        self.charges = np.asarray(self.charges, dtype=np.float32)
        if self.charges.ndim != 4 or self.charges.shape[2:] != (N_ROWS, N_COLS):
            raise ValueError(f"charges: expected shape (n, T, 13, 21), found {self.charges.shape}")
        missing = [c for c in LABEL_COLUMNS if c not in self.labels.columns]
        if missing:
            raise ValueError(f"labels: column '{missing[0]}' missing")
        if len(self.labels) != len(self.charges):
            raise ValueError(f"labels: {len(self.labels)} rows but charges have {len(self.charges)}")
        self.labels = self.labels.loc[:, list(LABEL_COLUMNS)].astype(np.float32).reset_index(drop=True)

    def __len__(self) -> int:
        return len(self.charges)

    @property
    def n_slices(self) -> int:
        return int(self.charges.shape[1])

    def subset(self, idx: Any) -> TrackSet:
        """Tracks selected by a slice, integer indices or a boolean mask."""
        rows = np.arange(len(self))[idx]
        return TrackSet(self.charges[rows], self.labels.iloc[rows])

    @staticmethod
    def concat(sets: Sequence[TrackSet]) -> TrackSet:
        if len({s.n_slices for s in sets}) > 1:
            found = sorted({s.n_slices for s in sets})
            raise ValueError(f"cannot concatenate track sets with {found} slices")
        return TrackSet(
            np.concatenate([s.charges for s in sets]),
            pd.concat([s.labels for s in sets], ignore_index=True),
        )


def charge_names(n_slices: int) -> list[str]:
    """Column names of a charge file with `n_slices` slices: "0".."n_slices*273-1"."""
    return [str(i) for i in range(n_slices * PIXELS)]


ROW_GROUP_ROWS = 4096  # bounds the float64 copy a writer builds and what a streaming reader decodes at once
