"""Where each stage of a run reads and writes (one run directory, one sub-folder per stage)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class RunPaths:
    root: Path

    @property
    def train_data(self) -> Path:
        return self.root / "data" / "train"

    @property
    def test_data(self) -> Path:
        return self.root / "data" / "test"

    @property
    def reference(self) -> Path:
        return self.root / "reference"

    @property
    def hls(self) -> Path:
        return self.root / "hls4ml"

    @property
    def rtl(self) -> Path:
        return self.root / "rtl"

    @property
    def golden(self) -> Path:
        return self.root / "golden"

    @property
    def sim(self) -> Path:
        return self.root / "sim_build"

    @property
    def report(self) -> Path:
        return self.root / "report"
