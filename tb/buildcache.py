"""A cache of simulator executables (and of the objects later builds reuse) keyed by what they were
built from.

A Verilator build takes minutes; the same sources (a retrained model that did not change, the
tests' copies, another run directory) are built once and copied from here. The key covers the
sources' digest and every build option. Location: PIXVAE_SIM_CACHE, default build/simcache.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent  # the checkout (tb/ never imports pixvae/)


def root() -> Path:
    return Path(os.environ.get("PIXVAE_SIM_CACHE") or REPO / "build" / "simcache")


def entry(kind: str, key: dict[str, Any]) -> Path:
    return root() / f"{kind}-{hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]}"


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Exclusive while building: concurrent builds of the same key (pytest-xdist) wait for one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def fetch(path: Path, name: str, dest_dir: Path) -> bool:
    """Copy a cached executable into dest_dir; False when it is not cached."""
    if not (path / name).is_file():
        return False
    dest_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path / name, dest_dir / name)
    return True


def store(path: Path, *files: Path) -> None:
    """Keep built files (an executable, objects) under `path`, replacing what was there."""
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for f in files:
        shutil.copy2(f, tmp / f.name)
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
