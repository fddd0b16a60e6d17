"""Small file helpers shared by the reference, decoder, golden and metrics files: a write that
replaces a file only once the new text is complete, and a JSON read whose failure is one line
naming the file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def atomic_write(path: Path, text: str) -> None:
    """Write `text` to a temporary sibling, then move it over `path`: an interrupted write leaves
    the old file as it was."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_json(path: Path, error: type[Exception]) -> Any:
    """The JSON document in `path`; a corrupt one raises `error` with one line naming the file."""
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as e:
        raise error(f"{path}: corrupt JSON ({e.msg} at line {e.lineno})") from None
