"""A user's own inputs for a design: a .npy or .csv file of real values (quantized to the design's
input format as hls4ml's C simulation would assign them) or of raw integer codes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from model.description.design import Design
from model.description.formats import FixedFormat


class InputsError(ValueError):
    """An inputs file that cannot be read as the design's inputs (message is one line)."""


def quantize(values: np.ndarray, fmt: FixedFormat) -> np.ndarray:
    """Real values -> raw codes of fmt with its own rounding (TRN floors, RND_CONV rounds half to even)
    and overflow (SAT clips, WRAP wraps), as ap_fixed assigns a double. Scaling by 2**frac is exact."""
    scaled = np.asarray(values, dtype=np.float64) * 2.0**fmt.frac
    raw = np.round(scaled) if fmt.rounding == "RND_CONV" else np.floor(scaled)  # np.round: half to even
    if fmt.overflow == "SAT":
        return np.clip(raw, fmt.raw_min, fmt.raw_max).astype(np.int64)
    bits = np.mod(raw, 2.0**fmt.width).astype(np.int64)
    return fmt.from_unsigned_bits(bits)


def _table(path: Path, design: Design) -> tuple[np.ndarray, bool]:
    """(values, named): a CSV with columns x00.. gives those columns (named: raw codes, as rtl-run
    always took them); any other CSV all its columns, a header row skipped."""
    import pandas as pd

    try:
        df = pd.read_csv(path)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise InputsError(f"{path}: not a CSV table ({str(e).splitlines()[0]})") from None
    if df.empty and len(df.columns):
        raise InputsError(f"{path}: a header and no rows: no inputs to run")
    if design.x_columns[0] in df.columns:
        missing = [c for c in design.x_columns if c not in df.columns]
        extra = [c for c in df.columns if c.startswith("x") and c[1:].isdigit() and c not in design.x_columns]
        if missing or extra:
            raise InputsError(f"{path}: design {design.name} takes {design.n_inputs} inputs "
                              f"{design.x_columns[0]}..{design.x_columns[-1]}; "
                              + (f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}"))
        return df[design.x_columns].to_numpy(), True
    if all(_is_number(c) for c in df.columns):  # no header: the first row is data
        df = pd.read_csv(path, header=None)
    try:
        return df.to_numpy(dtype=np.float64), False
    except ValueError:
        raise InputsError(f"{path}: non-numeric values") from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read(design: Design, path: Path, raw: bool = False) -> np.ndarray:
    """(n, n_inputs) raw input codes from a .npy or .csv file: real values quantized to the input
    format, or with raw=True (or a CSV with x00.. columns) the raw integer codes themselves."""
    path = Path(path)
    if not path.is_file():
        raise InputsError(f"{path}: no such inputs file")
    if path.suffix == ".npy":
        try:
            values = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise InputsError(f"{path}: not a numpy array file ({str(e).splitlines()[0]})") from None
    elif path.suffix == ".csv":
        values, named = _table(path, design)
        raw = raw or named
    else:
        raise InputsError(f"{path}: inputs must be a .npy or .csv file")
    values = np.asarray(values)
    if values.ndim == 1 and design.n_inputs == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[1] != design.n_inputs or not len(values):
        raise InputsError(f"{path}: shape {values.shape}, design {design.name} takes (n, {design.n_inputs}) inputs")
    if not np.issubdtype(values.dtype, np.number) or not np.all(np.isfinite(values)):
        raise InputsError(f"{path}: inputs must be finite numbers ({'raw integer codes' if raw else 'real values'})")
    fmt = design.input_format
    if not raw:
        return quantize(values, fmt)
    codes = values.astype(np.int64)
    if not np.array_equal(codes, values):
        raise InputsError(f"{path}: raw codes must be integers (leave out --raw for real values)")
    bad = (codes < fmt.raw_min) | (codes > fmt.raw_max)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise InputsError(f"{path}: row {r} input {c} = {codes[r, c]} is outside {fmt.hls(False)} raw "
                          f"{fmt.raw_min}..{fmt.raw_max}")
    return codes
