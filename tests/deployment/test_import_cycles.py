"""No package of the platform has an import circle: each module can be read knowing only the ones
below it, none depends on the order in which a process happens to import them, and no import is
put inside a function to hide a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {path.name: path for path in [ROOT / "libs/common/mpdp_common", ROOT / "cli/mpdp_cli", *ROOT.glob("services/*/mpdp_*")]}


def _module_name(package: str, path: Path) -> str:
    parts = [package, *path.relative_to(PACKAGES[package]).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.Module, module: str, is_package: bool) -> set[tuple[str, tuple[str, ...]]]:
    """Every import a module makes, as (module, names imported from it), at load time or inside a
    function (a circle closed inside a function is a circle still), but not those under
    `if TYPE_CHECKING`, which never run."""
    skipped = {
        id(node) for top in ast.walk(tree) if isinstance(top, ast.If) and "TYPE_CHECKING" in ast.unparse(top.test) for node in ast.walk(top)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update((alias.name, ()) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = module if is_package else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = f"{base}.{node.module}" if node.level and node.module else node.module or base
            found.add((target, tuple(alias.name for alias in node.names)))
    return found


def import_graph() -> dict[str, set[str]]:
    files = {
        _module_name(package, path): path
        for package, folder in PACKAGES.items()
        for path in folder.rglob("*.py")
        if "migrations" not in path.relative_to(folder).parts
    }
    graph = {}
    for module, path in files.items():
        targets = set()
        for target, names in _imports(ast.parse(path.read_text()), module, path.name == "__init__.py"):
            submodules = {f"{target}.{name}" for name in names} & files.keys()
            # `from . import delivery` depends on the module delivery, not on the package's __init__
            targets |= submodules or ({target} & files.keys())
        graph[module] = targets - {module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_the_cycle_finder_finds_a_circle_and_accepts_a_line():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_the_graph_sees_relative_and_absolute_imports():
    graph = import_graph()
    assert "mpdp_common.events" in graph["mpdp_common.service"]
    assert "mpdp_common.config" in graph["mpdp_common.events.relay"] or "mpdp_common.db" in graph["mpdp_common.events.relay"]


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_package_has_an_import_circle(package):
    graph = import_graph()
    circles = [circle for circle in cycles(graph) if circle[0].split(".")[0] == package]
    assert circles == [], f"modules that import each other as they load: {circles}"
