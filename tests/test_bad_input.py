"""Bad input is refused before the work, in one line naming the thing (issue 24, item 5): unknown
keys in a design description, output paths that cannot be written, sizes beyond the machine,
truncated or header-only CSVs, and click's own usage errors in the same `error: ...` style."""

from __future__ import annotations

import copy
import json
import os
import shutil
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from hw import golden as G
from model.description import design as D
from pixvae import preflight
from pixvae.cli import main

VAE_LOW = tomllib.loads((D.DESIGNS_ROOT / "vae-low" / D.DESIGN_FILE).read_text())
JOINT = tomllib.loads((D.DESIGNS_ROOT / "jointvae" / D.DESIGN_FILE).read_text())

# (description, where the misspelled key goes, the key, the table the error must name, the suggestion)
MISSPELLED = [
    (VAE_LOW, (), "descripton", "the top level", "'description'"),
    (VAE_LOW, ("input",), "charge_cod", "[input]", "'charge_code'"),
    (VAE_LOW, ("layers", 1), "activaton", "[[layers]] #2", "'activation'"),
    (VAE_LOW, ("outputs",), "dip_shfit", "[outputs]", "'dip_shift'"),
    (VAE_LOW, ("check",), "input_fraction", "[check]", "'input_frac'"),
    (VAE_LOW, ("check", "layers", 0), "acum", "[[check.layers]] #1", "'accum'"),
    (JOINT, ("latent",), "categorial", "[latent]", "'categorical'"),
    (VAE_LOW, ("rtl",), "depth_slak", "[rtl]", "'depth_slack'"),
    (VAE_LOW, ("decoder",), "unit", "[decoder]", "'units'"),
    (VAE_LOW, ("threshold",), "quantil", "[threshold]", "'quantile'"),
    (VAE_LOW, ("training",), "sparsty", "[training]", "'sparsity'"),
    (VAE_LOW, ("training", "profiles", "short"), "learning_rat", "[training.profiles.short]", "'learning_rate'"),
    (JOINT, ("training", "profiles", "thesis"), "early_stoping_patience", "[training.profiles.thesis]",
     "'early_stopping_patience'"),
]


def _with_key(doc: dict[str, Any], where: tuple[Any, ...], key: str) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    table = out
    for step in where:
        table = table[step]
    table[key] = 0
    return out


@pytest.mark.parametrize("doc, where, key, table, hint", MISSPELLED, ids=[m[2] for m in MISSPELLED])
def test_unknown_key_named_with_its_table_and_the_closest_known(doc: dict[str, Any], where: tuple[Any, ...],
                                                                key: str, table: str, hint: str) -> None:
    folder = D.DESIGNS_ROOT / doc["name"]
    with pytest.raises(D.DesignError) as exc:
        D.parse(_with_key(doc, where, key), folder)
    msg = str(exc.value)
    assert "\n" not in msg and str(folder / D.DESIGN_FILE) in msg, msg
    assert f"unknown key '{key}' in {table}" in msg and f"did you mean {hint}?" in msg, msg


def test_unknown_key_without_a_close_one_lists_the_known() -> None:
    with pytest.raises(D.DesignError, match=r"unknown key 'colour' in \[rtl\]; known keys: adder_levels, depth_slack"):
        D.parse(_with_key(VAE_LOW, ("rtl",), "colour"), D.DESIGNS_ROOT / "vae-low")


def test_sparsity_in_a_profile_is_refused() -> None:
    # design.sparsity is read from [training] only: in a profile it would be ignored.
    with pytest.raises(D.DesignError, match=r"'sparsity' in \[training.profiles.tiny\]"):
        D.parse(_with_key(VAE_LOW, ("training", "profiles", "tiny"), "sparsity"), D.DESIGNS_ROOT / "vae-low")


def test_paper_is_free_form_and_every_shipped_design_loads() -> None:
    assert len(D.names()) == 5
    for name in D.names():
        assert D.load(name).name == name
    D.parse(_with_key(VAE_LOW, ("paper",), "a_figure_a_report_may_add_later"), D.DESIGNS_ROOT / "vae-low")


# --- the command line: one `error: ...` line, exit 2, before any work ---------------------------------


def cli(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_refused(res: Result, *needles: str) -> str:
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("args", [("evaluate", "--trakcs", "500"), ("evaluate", "--tracks", "5"),
                                  ("no-such-command",), ("data", "import"), ("waves", "--track", "abc")])
def test_click_usage_errors_in_the_one_error_style(args: tuple[str, ...]) -> None:
    line = assert_refused(cli(*args))
    assert "Usage:" not in line and "--help" in line


@pytest.fixture()
def a_file(tmp_path: Path) -> Path:
    (tmp_path / "a_file").write_text("not a folder\n")
    return tmp_path / "a_file"


def test_output_paths_that_cannot_be_written_are_refused_before_the_work(
        tmp_path: Path, a_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pixvae import stages

    def no_work(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("work started before the output path was checked")

    for name in ("export", "make_data", "make_golden", "simulate", "waves"):
        monkeypatch.setattr(stages, name, no_work)
    monkeypatch.setattr("pixvae.measure.run", no_work)
    vectors = D.load("vae-low").vectors_dir / "vectors.csv"
    assert_refused(cli("report", "--out", a_file), "--out", str(a_file), "is a file, not a folder")
    assert_refused(cli("report", "--out", a_file / "sub"), "--out", f"{a_file} is a file")
    assert_refused(cli("golden", "--out", a_file / "g"), "--out", f"{a_file} is a file")
    assert_refused(cli("waves", "--run-dir", a_file), "--run-dir", "is a file, not a folder")
    assert_refused(cli("rtl-run", "--inputs", vectors, "--out", tmp_path), "--out", "is a folder, not a file")
    assert_refused(cli("evaluate", "--out", a_file / "m.json"), "--out", f"{a_file} is a file")
    # A read-only folder: root writes anywhere, so ask os.access as an unprivileged user would be answered.
    ro = tmp_path / "read-only"
    ro.mkdir(mode=0o555)
    real = os.access
    monkeypatch.setattr(os, "access",
                        lambda p, mode, **kw: not (Path(p) == ro and mode & os.W_OK) and real(p, mode, **kw))
    assert_refused(cli("rtl-run", "--inputs", vectors, "--out", ro / "y.csv"), f"{ro} is not writable")
    assert_refused(cli("report", "--out", ro / "rep"), f"{ro / 'rep'} cannot be created: {ro} is not writable")
    assert_refused(cli("regress", "--run-dir", ro), f"{ro} is not writable")


def test_a_measurement_beyond_the_machine_is_refused_with_its_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_work(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the measurement started")

    monkeypatch.setattr("pixvae.measure.run", no_work)
    # 10^9 tracks a set, 5 sets of a VAE: no machine holds 5 x 10^9 tracks' arrays (the pilot times 1,000).
    line = assert_refused(cli("evaluate", "--tracks", "1000000000"), "--tracks", "5,000,000,000 tracks",
                          "h of generation", "GiB of arrays", "GiB to give")
    assert float(line.split("about ")[1].split(" h")[0].replace(",", "")) > 24
    vae = D.load("vae-low")
    sizes = {"test": 10**6, "defect_each": 10**6, "reference": 10**6}
    # Time alone: 5 x 10^6 tracks at 1 ms = 1.4 h, against --max-hours 1.
    with pytest.raises(click.BadParameter, match=r"about 1.4 h .* more than --max-hours 1;"):
        preflight.check_measurement_size(vae, sizes, 1.0, rate=(1e-3, 1.0))
    assert "about 1.4 h" in preflight.check_measurement_size(vae, sizes, 2.0, rate=(1e-3, 1.0))
    # 5 x 10^6 tracks at 0.1 ms = 500 s.
    assert "about 8 min of generation" in preflight.check_measurement_size(vae, sizes, 2.0, rate=(1e-4, 1.0))
    # The paper's sizes (5 x 55,000) are not worth timing first.
    monkeypatch.setattr(preflight, "pilot", lambda *a: pytest.fail("timed a small measurement"))
    assert preflight.check_measurement_size(vae, {k: 55_000 for k in sizes}, 24.0) == ""
    # Memory alone: a classifier measures its test set only; 10^6 tracks of 10^6 bytes is 931 GiB.
    monkeypatch.setattr(preflight, "available_memory", lambda: 2**40)
    with pytest.raises(click.BadParameter, match=r"1,000,000 tracks: .* 931.3 GiB of arrays .* 819.2 GiB to give"):
        preflight.check_measurement_size(D.load("classifier"), sizes, 1e9, rate=(0.0, 1e6))


# --- files: truncated and header-only tables named as such ----------------------------------------------


def test_golden_csv_cut_mid_line_is_named_truncated(tmp_path: Path) -> None:
    vae = D.load("vae-low")
    g = shutil.copytree(vae.vectors_dir, tmp_path / "g")
    text = (g / G.VECTORS_FILE).read_bytes()
    (g / G.VECTORS_FILE).write_bytes(text[: len(text) // 2])
    with pytest.raises(G.GoldenError, match=r"vectors.csv: truncated: it ends mid-line \(the last line has \d+ of "
                                            f"{2 + vae.n_inputs + len(vae.output_columns)} columns"):
        G.load(g, vae)
    cut = text[: text.rindex(b"\n", 0, len(text) // 2) + 1]  # cut at a line's end: fewer vectors than the manifest
    (g / G.VECTORS_FILE).write_bytes(cut)
    n = json.loads((g / G.MANIFEST_FILE).read_text())["n_vectors"]
    with pytest.raises(G.GoldenError, match=rf"vectors, manifest says {n} \(truncated or edited\)"):
        G.load(g, vae)


def test_header_only_rtl_run_input_is_named_as_such(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pixvae import stages

    monkeypatch.setattr(stages, "export", lambda *a, **k: pytest.fail("exported before reading the inputs"))
    vae = D.load("vae-low")
    (tmp_path / "in.csv").write_text(",".join(vae.x_columns) + "\n")
    assert_refused(cli("rtl-run", "--inputs", tmp_path / "in.csv", "--out", tmp_path / "y.csv"),
                   "in.csv: a header and no rows")


def test_golden_into_existing_vectors_is_refused_before_the_work(monkeypatch: pytest.MonkeyPatch) -> None:
    from pixvae import stages

    monkeypatch.setattr(stages, "make_data", lambda *a, **k: pytest.fail("tracks generated before the check"))
    committed = D.load("vae-low").vectors_dir
    assert_refused(cli("golden", "--out", committed), str(committed), "exist already", "never overwritten")
