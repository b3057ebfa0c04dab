"""The catalog's modules import one another in one direction: each imports alone, in a fresh
interpreter, and no module imports one that imports it back (not even inside a function)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import mpdp_catalog

PACKAGE = Path(mpdp_catalog.__file__).parent
MODULES = sorted(path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__")


def test_every_module_imports_alone():
    runs = {
        module: subprocess.Popen(
            [sys.executable, "-c", f"import mpdp_catalog.{module}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for module in MODULES
    }
    failed = {module: run.communicate()[0] for module, run in runs.items() if run.wait() != 0}
    assert not failed


def _imported(module: str) -> set[str]:
    """The package's modules that `module` imports anywhere in its body."""
    found = set()
    for node in ast.walk(ast.parse((PACKAGE / f"{module}.py").read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module.split(".")[0]} if node.module else {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mpdp_catalog."):
            found.add(node.module.split(".")[1])
    return found & set(MODULES)


def test_no_import_cycle():
    graph = {module: _imported(module) for module in MODULES}
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        for imported in sorted(graph[module]):
            if imported in path:
                cycles.append([*path[path.index(imported) :], imported])
            elif imported not in done:
                visit(imported, [*path, imported])
        done.add(module)

    done: set[str] = set()
    for module in MODULES:
        visit(module, [module])
    assert not cycles
