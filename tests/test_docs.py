"""The documentation cannot drift from the code: every `pixvae ...` command that README.md and docs/
show exists (its --help succeeds, run in-process), every command is shown somewhere, and the
README's designs table is the one `pixvae designs` generates from the committed files."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pixvae import designs_table
from pixvae.cli import main

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# `pixvae flow`, `.venv/bin/pixvae data import`, `python -m pixvae.cli regress`: the words after pixvae
COMMAND = re.compile(r"(?<![\w./-])(?:\.venv/bin/)?pixvae(?:\.cli)?((?:[ \t]+[a-z][\w-]*)+)")
CODE = re.compile(r"```.*?```|`[^`\n]+`", re.S)


def _shown() -> dict[tuple[str, ...], str]:
    """Command paths shown in code (spans and blocks) of the README and docs, with where first."""
    found: dict[tuple[str, ...], str] = {}
    for page in PAGES:
        for code in CODE.findall(page.read_text()):
            for m in COMMAND.finditer(code):
                path: list[str] = []
                cmd: click.Command = main
                for word in m[1].split():
                    if not isinstance(cmd, click.Group):
                        break
                    path.append(word)
                    cmd = cmd.commands.get(word)
                    if cmd is None:
                        break
                found.setdefault(tuple(path), page.name)
    return found


def test_docs_are_found():
    assert [p.name for p in PAGES[:1]] == ["README.md"] and len(PAGES) >= 10
    assert len(_shown()) >= 15


@pytest.mark.parametrize("path", sorted(_shown()), ids=" ".join)
def test_every_command_shown_exists(path: tuple[str, ...]):
    res = CliRunner().invoke(main, [*path, "--help"])
    assert res.exit_code == 0, f"`pixvae {' '.join(path)}` ({_shown()[path]}) does not exist: {res.output[-300:]}"


def test_every_command_is_shown():
    shown = set(_shown())
    missing = [f"pixvae {name}" for name in main.commands if (name,) not in shown]
    missing += [f"pixvae {group} {name}" for group, cmd in main.commands.items() if isinstance(cmd, click.Group)
                for name in cmd.commands if (group, name) not in shown]
    assert not missing, f"commands that neither README.md nor docs/ show: {', '.join(missing)}"


def test_readme_designs_table_is_generated():
    readme = (REPO / "README.md").read_text()
    block = designs_table.block(readme)
    assert block is not None, f"README.md lacks the designs table markers ({designs_table.BEGIN})"
    assert block == designs_table.markdown(committed_only=True), (
        "README.md's designs table differs from the committed files: run `pixvae designs --update README.md`")


def test_designs_command_prints_the_readme_table():
    res = CliRunner().invoke(main, ["designs"])
    assert res.exit_code == 0, res.output
    assert designs_table.block((REPO / "README.md").read_text()) in res.output
