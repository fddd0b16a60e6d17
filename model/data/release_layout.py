"""Where the files of a smart-pixel release are: every folder layout seen in its public writers and readers.

A release is a set of d{N} file pairs (charges + labels), found under the folder a user points at:

- flat, as the dataset's own writer puts them: ``labels_d{N}.parquet``, ``recon3D_d{N}.parquet``
  (and ``recon2D_d{N}.parquet``) side by side;
- subfolders, as other readers expect: ``recon3D/recon3D_d{N}.parquet`` and ``labels/labels_d{N}.parquet``;
- the older CSV release: ``recon8t_d{N}.csv`` beside ``labels_d{N}.csv``;
- a folder of such folders, as the CSV release split by charge sign (``unflipped-positive/``,
  ``unflipped-negative/``): each folder is a *part*, and the same d{N} may occur in several parts.

One file of a set (its labels, recon2D or recon3D/recon8t file) selects that set alone. recon2D
files hold only the last slice, which the features do not use: the set is read from recon3D.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from model.data.tracks import DataFormatError

CHARGE_GLOBS = ("recon3D_d*.parquet", "recon8t_d*.csv")
_SET_FILE = re.compile(r"^(labels|recon2D|recon3D|recon8t)_d(\d+)\.(parquet|csv)$")


@dataclass(frozen=True)
class FilePair:
    """The charge and label files of one d{N}; `part` is its folder within the release ("" at the top)."""

    part: str
    file_id: int
    charges: Path
    labels: Path

    @property
    def is_csv(self) -> bool:
        return self.charges.suffix == ".csv"

    def name(self, path: Path) -> str:
        """How messages name one of this pair's files: part/file, so same-named files stay distinct."""
        return f"{self.part}/{path.name}" if self.part else path.name


def _root(charge_file: Path) -> Path:
    """The folder a d{N} set lives in: the parent of recon3D/ in the subfolder layout."""
    folder = charge_file.parent
    return folder.parent if folder.name == "recon3D" else folder


def _labels_for(charge_file: Path) -> Path:
    fid = int(_SET_FILE.match(charge_file.name).group(2))  # type: ignore[union-attr]
    name = f"labels_d{fid}{charge_file.suffix}"
    for folder in (charge_file.parent, _root(charge_file) / "labels"):
        if (folder / name).is_file():
            return folder / name
    raise DataFormatError(f"{charge_file.name}: no matching labels file {name} (beside it or in labels/)")


def _charges_for(set_file: Path) -> Path:
    """The recon3D/recon8t file of the set that a labels or recon2D file belongs to."""
    kind, fid, suffix = _SET_FILE.match(set_file.name).groups()  # type: ignore[union-attr]
    name = f"recon8t_d{fid}.csv" if suffix == "csv" else f"recon3D_d{fid}.parquet"
    folder = set_file.parent
    root = folder.parent if folder.name in ("labels", "recon2D") else folder
    for candidate in (folder / name, root / "recon3D" / name):
        if candidate.is_file():
            return candidate
    why = " (recon2D holds only the last slice)" if kind == "recon2D" else ""
    raise DataFormatError(f"{set_file.name}: no matching charge file {name} (beside it or in recon3D/){why}")


def _pair(release: Path, charge_file: Path) -> FilePair:
    root = _root(charge_file)
    part = root.relative_to(release).as_posix() if root.is_relative_to(release) else ""
    fid = int(_SET_FILE.match(charge_file.name).group(2))  # type: ignore[union-attr]
    return FilePair("" if part == "." else part, fid, charge_file, _labels_for(charge_file))


def find_pairs(path: str | os.PathLike[str]) -> list[FilePair]:
    """Every d{N} file pair of a release folder (any layout above) or of one of its files, by part and id."""
    path = Path(path)
    if not path.exists():
        raise DataFormatError(f"{path}: no such file or directory")
    if path.is_file():
        match = _SET_FILE.match(path.name)
        if match is None:
            raise DataFormatError(
                f"{path.name}: expected a labels_d<N>, recon2D_d<N> or recon3D_d<N> .parquet file, "
                "or a recon8t_d<N> or labels_d<N> .csv file"
            )
        charge_file = path if match.group(1) in ("recon3D", "recon8t") else _charges_for(path)
        return [_pair(charge_file.parent, charge_file)]
    charge_files = sorted({f for pattern in CHARGE_GLOBS for f in path.rglob(pattern) if f.is_file()})
    if not charge_files:
        raise DataFormatError(
            f"{path.name}: no recon3D_d*.parquet or recon8t_d*.csv files "
            "(looked beside labels, in recon3D/ and in subfolders)"
        )
    pairs = sorted((_pair(path, f) for f in charge_files), key=lambda p: (p.part, p.file_id, p.charges.suffix))
    seen: dict[tuple[str, int], FilePair] = {}
    for pair in pairs:
        other = seen.setdefault((pair.part, pair.file_id), pair)
        if other is not pair:
            raise DataFormatError(
                f"{pair.name(pair.charges)}: d{pair.file_id} also in {other.charges.relative_to(path)}; "
                "point at one of them"
            )
    return pairs
