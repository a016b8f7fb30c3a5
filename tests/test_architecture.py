"""The layers' import rules (docs/architecture.md), checked on the source with an AST walk: every
``import`` and ``from ... import`` anywhere in a module counts, the lazy ones inside functions too."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "screener"
FRONT_ENDS = ("screener.agi", "screener.ari", "screener.cli", "screener.admin")
#: modules that do I/O (network, processes, files, event loop): never under the engine
IO_MODULES = ("asyncio", "socket", "subprocess", "os", "pathlib", "shutil", "io", "http", "urllib", "redis",
              "aiohttp", "sqlite3", "selectors", "ssl", "tempfile")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


@cache
def imports_of(module: str) -> frozenset[str]:
    """Every module ``module`` imports, absolute, anywhere in its source."""
    path = modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules())
    return frozenset(found)


def under(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(sources: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(f"{m} imports {imp}" for m in modules() if under(m, *sources)
                  for imp in imports_of(m) if under(imp, *forbidden))


def closure(start: str) -> set[str]:
    """``start`` and every screener module it imports, directly or not."""
    seen: set[str] = set()
    todo = [m for m in modules() if under(m, start)]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo += [imp for imp in imports_of(m) if imp in modules()]
    return seen


def test_the_walk_sees_real_imports() -> None:
    # the checks below are only worth something if the walk finds what is there
    assert "screener.service.screening" in modules()
    assert "screener.store.keys" in {i for m in modules() if under(m, "screener.service") for i in imports_of(m)}
    assert violations(("screener.service",), ("screener.store",))  # the service does use the store


def test_the_engine_and_what_it_imports_do_no_io() -> None:
    bad = sorted(f"{m} imports {imp}" for m in closure("screener.engine") for imp in imports_of(m)
                 if under(imp, *IO_MODULES))
    assert bad == []
    layers = ("screener.store", "screener.service", "screener.lab", "screener.embedded_redis", *FRONT_ENDS)
    assert [m for m in closure("screener.engine") if under(m, *layers)] == []


def test_front_ends_never_import_the_store() -> None:
    assert violations(FRONT_ENDS, ("screener.store",)) == []


def test_agi_and_ari_never_import_each_other() -> None:
    assert violations(("screener.agi",), ("screener.ari",)) == []
    assert violations(("screener.ari",), ("screener.agi",)) == []


def test_the_store_imports_no_front_end_and_no_service() -> None:
    assert violations(("screener.store",), (*FRONT_ENDS, "screener.service", "screener.lab")) == []


def test_the_service_imports_no_front_end() -> None:
    assert violations(("screener.service",), (*FRONT_ENDS, "screener.lab")) == []
