"""The web layer imports without a cycle (issue 11, item 4): every module of
``ecert.entrypoints.web`` imports alone in a fresh interpreter and builds nothing there (the rate
limiter, the verification log and the QR hot path are built by ``bootstrap.web_parts`` when an
application is), and the package's own import graph, read from the source, has no cycle: no
route module imports app.py."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import ecert.entrypoints.web as web

PACKAGE = "ecert.entrypoints.web"
ROOT = Path(web.__file__).parent
MODULES = sorted(f"{PACKAGE}.{p.stem}" if p.stem != "__init__" else PACKAGE for p in ROOT.glob("*.py"))

# Run in the fresh interpreter after the import: no module-level value of the package is one of the
# things only the composition root builds.
NOTHING_BUILT = """
import importlib, sys
from ecert.adapters.db.engine import AsyncReadPool
from ecert.adapters.db.verification_log import VerificationLog
from ecert.adapters.ratelimit import ClientBuckets, RedisWindows
from ecert.services.qr_verify import FastVerify
built = (AsyncReadPool, VerificationLog, ClientBuckets, RedisWindows, FastVerify)
importlib.import_module(sys.argv[1])
found = [
    f"{name}.{attr}"
    for name, module in list(sys.modules.items())
    if name == "ecert.entrypoints.web" or name.startswith("ecert.entrypoints.web.")
    for attr, value in vars(module).items()
    if isinstance(value, built)
]
assert not found, found
"""


def test_every_module_is_listed() -> None:
    assert {f"{PACKAGE}.{m}" for m in ("app", "routes_verify", "routes_session", "qr_fast_path")} <= set(MODULES)
    assert {f"{PACKAGE}.{m}" for m in ("templating", "middleware", "verdicts", "deps")} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_each_module_imports_alone_and_builds_nothing(module: str) -> None:
    """In a fresh interpreter, first and alone: an import cycle fails here whichever module of the
    cycle is imported first."""
    res = subprocess.run([sys.executable, "-c", NOTHING_BUILT, module], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr


def _module_of(path: Path) -> str:
    return PACKAGE if path.stem == "__init__" else f"{PACKAGE}.{path.stem}"


def _imports(path: Path) -> set[str]:
    """The package's modules that ``path`` imports, anywhere in it (a deferred import inside a
    function is an edge too: it only hides a cycle until the function runs)."""
    own = set(MODULES)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in own}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                if sub in own:  # from ecert.entrypoints.web import metrics
                    found.add(sub)
                elif node.module in own:
                    found.add(node.module)
    found.discard(_module_of(path))
    return found


GRAPH = {_module_of(p): _imports(p) for p in ROOT.glob("*.py")}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_cycle_finder_finds_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_web_package_has_no_import_cycle() -> None:
    assert _cycle(GRAPH) is None, " -> ".join(_cycle(GRAPH) or [])


def test_only_the_package_itself_imports_app() -> None:
    """app.py is the top: the route modules, the fast path, templating and middleware never import it."""
    importers = {m for m, deps in GRAPH.items() if f"{PACKAGE}.app" in deps}
    assert importers <= {PACKAGE}, importers
    assert GRAPH[f"{PACKAGE}.app"] >= {f"{PACKAGE}.{m}" for m in ("routes_verify", "routes_session", "qr_fast_path")}
