"""Fault injection for the entry-point tests (tests/test_failing_regression.py).

Python imports `sitecustomize` at start-up from the first sys.path entry that has one; the tests
put this folder on PYTHONPATH and name a fault in PIXVAE_FAULT, so the fault reaches a `pixvae`
command, a CI script and the simulator process cocotb starts, with no hook in the product:

- rtl_shift: after every RTL export, one adder's shift in the exported core is changed (a wrong
  netlist, as a generator bug would make it);
- golden_bit: after golden vectors are written, one bit of vector 7's score is flipped on disk;
- tb_raise: inside the simulator, the testbench raises while comparing outputs.
"""

import os
import re

FAULT = os.environ.get("PIXVAE_FAULT", "")
IN_SIMULATOR = bool(os.environ.get("COCOTB_TEST_MODULES"))


def _mutate_core(rtl_dir) -> None:
    """Change the shift of the first shifted adder of the first pipeline stage by one bit."""
    path = next(p for p in sorted((rtl_dir / "src").glob("*_stage0.v")))
    text = path.read_text()
    pat = re.compile(r"shift_adder #\((\d+), (\d+), (\d+), (\d+), (\d+), ([1-9]\d*), (\d)\)")
    m = pat.search(text)
    assert m, f"no shifted adder in {path}"
    g = list(m.groups())
    g[5] = str(int(g[5]) + 1)
    path.write_text(text[: m.start()] + f"shift_adder #({', '.join(g)})" + text[m.end():])


if FAULT == "rtl_shift" and not IN_SIMULATOR:
    from hw import rtl as _rtl

    _export = _rtl.export_rtl

    def _export_mutated(design, hm, out_dir, *args, **kwargs):
        meta = _export(design, hm, out_dir, *args, **kwargs)
        _mutate_core(out_dir)
        return meta

    _rtl.export_rtl = _export_mutated

elif FAULT == "golden_bit" and not IN_SIMULATOR:
    from hw import golden as _golden

    _write = _golden.write

    def _write_flipped(path, *args, **kwargs):
        _write(path, *args, **kwargs)
        vec = _golden.Path(path) / _golden.VECTORS_FILE
        lines = vec.read_text().splitlines()
        cells = lines[1 + 7].split(",")
        col = lines[0].split(",").index("score")
        cells[col] = str(int(cells[col]) ^ 1)
        lines[1 + 7] = ",".join(cells)
        vec.write_text("\n".join(lines) + "\n")

    _golden.write = _write_flipped

elif FAULT == "tb_raise" and IN_SIMULATOR:
    from hw import golden as _golden

    def _raise(*args, **kwargs):
        raise RuntimeError("injected testbench fault")

    _golden.diff_against = _raise
