"""The package's imports run one way: its layers contract holds, and no module cycle exists.

Both checks count every import: at module level, inside functions and under
``TYPE_CHECKING`` (grimp, under import-linter, reads them all).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Set
from pathlib import Path

import grimp
import pytest
from conftest import ROOT


def cycles(imports: Mapping[str, Set[str]]) -> list[list[str]]:
    """Every set of modules that import each other in a circle (Tarjan's components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in imports.get(module, ()):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while (member := stack.pop()) != module:
                component.append(member)
            if component:
                found.append(sorted([module, *component]))

    for module in sorted(imports):
        if module not in index:
            visit(module)
    return found


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_cnn_guide_imports_itself_back():
    graph = grimp.build_graph("cnn_guide")
    imports = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    # The package itself re-exports from its modules: an edge, not a layer.
    imports["cnn_guide"] = set()
    assert cycles(imports) == []


@pytest.mark.parametrize("import_kind", ["inside a function", "under TYPE_CHECKING"])
def test_hidden_imports_count(tmp_path, import_kind):
    # An upward import hidden in a function or under TYPE_CHECKING still breaks a cycle check.
    package = tmp_path / "toy"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text(
        "def f():\n    from toy import high\n"
        if import_kind == "inside a function"
        else "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from toy import high\n"
    )
    (package / "high.py").write_text("from toy import low\n")
    sys.path.insert(0, str(tmp_path))
    try:
        graph = grimp.build_graph("toy", cache_dir=None)
    finally:
        sys.path.remove(str(tmp_path))
    imports = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    assert cycles(imports) == [["toy.high", "toy.low"]]


def test_the_layers_contract_holds():
    # pyproject.toml's [tool.importlinter] names every module's layer.
    lint_imports = Path(sys.executable).with_name("lint-imports")
    lint = subprocess.run(
        [lint_imports, "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert lint.returncode == 0 and "1 kept, 0 broken" in lint.stdout, lint.stdout[-3000:]
