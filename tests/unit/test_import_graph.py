"""The layers of DEVELOPERS.md, held by the import graph of ``src/ecert`` (issue 11 "One place for each
job"): no import cycle, ``domain`` imports only the standard library and itself, ``adapters`` never
import ``services`` or ``entrypoints``, ``services`` never import ``entrypoints``.

The graph is read from the source with :mod:`ast`, not by importing: every ``import`` and ``from …
import`` statement counts, at module level, in a function or under ``if TYPE_CHECKING:``, relative
ones resolved. ``from package import name`` is an edge to ``package.name`` when that is a module of
the tree, else to ``package``."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

import ecert

SRC = Path(ecert.__file__).resolve().parent
ROOT = SRC.parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _files() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _imported(module: str, path: Path) -> Iterator[str]:
    """Every module name ``module`` imports (absolute)."""
    modules = _files()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            subs = [f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in modules]
            yield from subs or [target]


@cache
def _graph() -> dict[str, set[str]]:
    """Each module of the tree → the modules it imports (every one, inside or outside the tree)."""
    return {m: set(_imported(m, p)) for m, p in _files().items()}


def _internal(target: str) -> str | None:
    """The module of the tree that an import of ``target`` names (the longest known prefix), if any."""
    modules = _files()
    parts = target.split(".")
    for i in range(len(parts), 0, -1):
        name = ".".join(parts[:i])
        if name in modules:
            return name
    return None


def _internal_graph() -> dict[str, set[str]]:
    return {m: {t for i in imports if (t := _internal(i)) is not None} for m, imports in _graph().items()}


def _cycles() -> list[list[str]]:
    """The strongly connected components with more than one module, or a module importing itself
    (Tarjan's algorithm), each sorted."""
    graph = _internal_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component: list[str] = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


WEB = "ecert.entrypoints.web"


def test_the_graph_is_read() -> None:
    graph = _internal_graph()
    assert {"ecert.domain.verification", "ecert.services.verification", "ecert.adapters.sealing"} <= set(graph)
    assert "ecert.domain.verification" in graph["ecert.services.verification"]
    assert _internal("ecert.domain.messages") == "ecert.domain.messages"
    assert _internal("ecert.domain.messages.text") == "ecert.domain.messages"


def test_relative_function_level_and_type_checking_imports_count(tmp_path: Path) -> None:
    source = tmp_path / "example.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import registry\n"
        "from ..domain import messages, model as m\n"
        "from .views.history import holder_history\n"
        "if TYPE_CHECKING:\n"
        "    from ecert.adapters.db import tables\n"
        "def f() -> None:\n"
        "    import json, ecert.entrypoints.cli\n",
        "utf-8",
    )
    assert set(_imported("ecert.services.example", source)) == {
        "typing", "ecert.services.registry", "ecert.domain.messages", "ecert.domain.model",
        "ecert.services.views.history", "ecert.adapters.db.tables", "json", "ecert.entrypoints.cli",
    }  # fmt: skip


def test_no_import_cycle_outside_the_web_layer() -> None:
    cycles = [c for c in _cycles() if not all(_in(m, WEB) for m in c)]
    assert not cycles, cycles


def test_no_import_cycle_in_the_web_layer() -> None:
    cycles = [c for c in _cycles() if all(_in(m, WEB) for m in c)]
    assert not cycles, cycles


def test_the_domain_imports_only_the_standard_library_and_itself() -> None:
    bad = {
        (m, i)
        for m, imports in _graph().items()
        if _in(m, "ecert.domain")
        for i in imports
        if not _in(i, "ecert.domain") and i.partition(".")[0] not in sys.stdlib_module_names
    }
    assert not bad, sorted(bad)


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("ecert.adapters", ("ecert.services", "ecert.entrypoints")),
        ("ecert.services", ("ecert.entrypoints",)),
        ("ecert.domain", ("ecert.adapters", "ecert.services", "ecert.entrypoints")),
    ],
)
def test_a_layer_does_not_import_the_layers_above_it(layer: str, forbidden: tuple[str, ...]) -> None:
    bad = {
        (m, i) for m, imports in _graph().items() if _in(m, layer) for i in imports if any(_in(i, f) for f in forbidden)
    }
    assert not bad, sorted(bad)
