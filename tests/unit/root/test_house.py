"""The house plan (docs/architecture.md) checked on the code itself: no import cycle
between any two modules, pk8opt imported inside functions only by the CLI, and no
function longer than a screen but the hot loops named below. The layer order itself is
checked by the import contracts in pyproject.toml (`make lint`, CI)."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "pk8opt"
MAX_LINES = 80

# Long on purpose: each is a hot loop where a call per step costs measurable speed
# (docs/architecture.md "Long functions").
HOT_LOOPS = {
    "backtest/compiled/kernel.py:run_kernel": "the compiled replay's event loop",
    "backtest/replay.py:_drive_fast_delayed": "the Python fast replay's loop with a feed latency",
}


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out.append((".".join(parts), path))
    return out


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if not w.startswith("pk8opt"):
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for m in sorted(graph.modules):
        if m.startswith("pk8opt") and m not in index:
            visit(m)
    return found


def test_no_import_cycle_between_modules():
    graph = grimp.build_graph("pk8opt", include_external_packages=False)
    assert _cycles(graph) == []


def test_a_cycle_is_found_when_there_is_one():
    graph = grimp.ImportGraph()
    for m in ("pk8opt.a", "pk8opt.b", "pk8opt.c"):
        graph.add_module(m)
    graph.add_import(importer="pk8opt.a", imported="pk8opt.b")
    graph.add_import(importer="pk8opt.b", imported="pk8opt.c")
    assert _cycles(graph) == []
    graph.add_import(importer="pk8opt.c", imported="pk8opt.a")
    assert _cycles(graph) == [["pk8opt.a", "pk8opt.b", "pk8opt.c"]]


def _functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


# the compiled replay's modules load numba: imported when a run first needs them
LAZY = "pk8opt.backtest.compiled"


def test_only_the_cli_imports_pk8opt_inside_functions():
    inner = []
    for name, path in _modules():
        if name.startswith("pk8opt.cli"):
            continue
        for fn in _functions(ast.parse(path.read_text())):
            for node in ast.walk(fn):
                module = node.module or "" if isinstance(node, ast.ImportFrom) else ""
                if module.startswith(LAZY):
                    continue
                if isinstance(node, ast.ImportFrom) and module.startswith("pk8opt"):
                    inner.append(f"{name}:{node.lineno} {fn.name} imports {node.module}")
                elif isinstance(node, ast.Import) and any(
                    a.name.startswith("pk8opt") for a in node.names
                ):
                    inner.append(f"{name}:{node.lineno} {fn.name}")
    assert inner == [], "\n".join(inner)


def test_no_function_longer_than_a_screen_but_the_hot_loops():
    long = []
    for _, path in _modules():
        rel = path.relative_to(PACKAGE).as_posix()
        for fn in _functions(ast.parse(path.read_text())):
            lines = (fn.end_lineno or fn.lineno) - fn.lineno + 1
            if lines > MAX_LINES and f"{rel}:{fn.name}" not in HOT_LOOPS:
                long.append(f"{rel}:{fn.lineno} {fn.name} ({lines} lines)")
    assert long == [], "\n".join(long)


@pytest.mark.parametrize("where", sorted(HOT_LOOPS))
def test_each_allowed_long_function_still_exists(where):
    rel, name = where.split(":")
    tree = ast.parse((PACKAGE / rel).read_text())
    assert any(fn.name == name for fn in _functions(tree)), (
        f"{where} is gone: drop it from HOT_LOOPS"
    )
