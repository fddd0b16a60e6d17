"""The project's import graph, read with ast (nothing is imported): no module imports itself back
through others, and the lower floors (model/, hw/, tb/) never import the command line (pixvae/).

Imports inside functions count (they run, later); imports under ``if TYPE_CHECKING:`` do not.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("model", "hw", "tb", "pixvae")
LOWER = ("model", "hw", "tb")


def _modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.AST, module: str, is_package: bool):
    """Yield (line, names) for every import that runs: the dotted names it may load, most specific first
    (``from hw import rtl`` loads the module hw.rtl, ``from hw.rtl import RtlMeta`` hw.rtl too)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if _type_checking_only(child):
                stack.extend(child.orelse)
                continue
            if isinstance(child, ast.Import):
                yield from ((child.lineno, (a.name,)) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = module.split(".")[: len(module.split(".")) - child.level + is_package]
                    base = ".".join([*anchor, base] if base else anchor)
                yield from ((child.lineno, (f"{base}.{a.name}", base)) for a in child.names)
            stack.append(child)


def _graph() -> dict[str, dict[str, int]]:
    """module -> {imported project module: first line}."""
    modules = _modules()
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        edges = graph.setdefault(name, {})
        tree = ast.parse(path.read_text(), filename=str(path))
        for line, names in _imports(tree, name, path.name == "__init__.py"):
            target = next((n for n in names if n in modules), None)
            if target and target != name:
                edges.setdefault(target, line)
    return graph


def _cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One import circle (its modules in order, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return [*path[path.index(n):], n]
            if n not in state and (found := visit(n)):
                return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_no_import_circle():
    graph = _graph()
    assert len(graph) > 50, "the project's modules were not found"
    circle = _cycle(graph)
    assert circle is None, "import circle: " + " -> ".join(
        f"{a} (line {graph[a][b]})" for a, b in zip(circle, circle[1:], strict=False)) + f" -> {circle[-1]}"


def test_lower_floors_never_import_pixvae():
    up = [f"{m} line {line} imports {target}" for m, edges in sorted(_graph().items()) if m.split(".")[0] in LOWER
          for target, line in edges.items() if target.split(".")[0] == "pixvae"]
    assert not up, "model/, hw/ and tb/ must not import pixvae/: " + "; ".join(up)
