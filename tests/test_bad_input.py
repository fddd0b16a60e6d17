"""Bad input is refused before the work, in one line naming the thing (issue 24, item 5): unknown
keys in a design description, output paths that cannot be written, sizes beyond the machine,
truncated or header-only CSVs, and click's own usage errors in the same `error: ...` style."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from model import design as D

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
