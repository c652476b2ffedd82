"""The core stays sans-IO and framework-free; optional drivers load only when used."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

CORE_FORBIDDEN = (
    "flask",
    "django",
    "starlette",
    "werkzeug",
    "redis",
    "sqlite3",
    "asyncio",
    "socket",
    "http.cookies",
    "pickle",
)


def imported_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(out.stdout.split())


def test_core_imports_no_framework_driver_or_io() -> None:
    """Importing the public API and the engine loads no framework, store driver or socket."""
    loaded = imported_after("import cookiesess, cookiesess.engine")
    assert loaded.isdisjoint(CORE_FORBIDDEN), loaded & set(CORE_FORBIDDEN)


def test_stores_package_does_not_import_redis() -> None:
    """`cookiesess.stores` imports redis only when a Redis store is built."""
    assert "redis" not in imported_after("import cookiesess.stores")


def test_legacy_readers_do_not_import_the_frameworks() -> None:
    """Legacy readers are written from the formats, not by importing the old libraries."""
    loaded = imported_after("import cookiesess.legacy")
    assert loaded.isdisjoint({"flask", "itsdangerous", "django", "starlette", "werkzeug"})


# -- the import contract, read from the source ------------------------------------

PACKAGE = Path(__file__).resolve().parent.parent / "cookiesess"
ADAPTERS = {"wsgi", "asgi", "flask", "django", "cli", "demo", "__main__", "_frameworks", "_http"}
CORE = {
    "__init__",
    "_b64",
    "_decision",
    "_drive",
    "_fallback",
    "_inspect",
    "_jar",
    "_lifetime",
    "_migration",
    "_opening",
    "_placing",
    "_plaintext",
    "codec",
    "config",
    "cookies",
    "engine",
    "envelope",
    "events",
    "exceptions",
    "keys",
    "session",
    "xaes",
}
CLOCK_FREE = CORE - {"config", "_drive"}  # the default clock; timing failed store calls


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


def runtime_imports(path: Path) -> list[tuple[str, list[str]]]:
    """``(module, names)`` for each import outside ``if TYPE_CHECKING:`` blocks (lazy ones too)."""
    tree = ast.parse(path.read_text())
    package = (
        module_name(path).rpartition(".")[0]
        if path.name != "__init__.py"
        else module_name(path).removesuffix(".__init__")
    )
    found: list[tuple[str, list[str]]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                found.extend((alias.name, []) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - child.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                names = [alias.name for alias in child.names]
                found.append((base, names))
                found.extend((f"{base}.{name}", []) for name in names)
            else:
                visit(child)  # function bodies too: a lazy import is still an import

    visit(tree)
    return found


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def graph() -> dict[str, set[str]]:
    return {
        name: {target for target, _ in runtime_imports(path) if target in MODULES}
        for name, path in MODULES.items()
    }


def test_no_module_imports_another_modules_private_name() -> None:
    offenders = [
        f"{name} imports {target}.{imported}"
        for name, path in MODULES.items()
        for target, names in runtime_imports(path)
        if target in MODULES and target != name
        for imported in names
        if imported.startswith("_") and f"{target}.{imported}" not in MODULES
    ]
    assert offenders == []


def test_no_import_cycles() -> None:
    edges = graph()
    cycles: list[list[str]] = []

    def walk(node: str, stack: list[str]) -> None:
        for nxt in sorted(edges[node]):
            if nxt in stack:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif len(stack) < len(MODULES):
                walk(nxt, [*stack, nxt])

    for start in MODULES:
        if start.endswith("__init__") or start == "cookiesess":
            continue
        walk(start, [start])
    assert [
        c for c in cycles if not any(m in ("cookiesess", "cookiesess.__init__") for m in c)
    ] == []


@pytest.mark.parametrize("core", sorted(CORE))
def test_core_modules_import_no_adapter_framework_driver_or_clock(core: str) -> None:
    name = "cookiesess" if core == "__init__" else f"cookiesess.{core}"
    path = MODULES.get(name) or MODULES["cookiesess.__init__"]
    targets = {target for target, _ in runtime_imports(path)}
    adapters = {f"cookiesess.{a}" for a in ADAPTERS}
    assert targets.isdisjoint(adapters), targets & adapters
    assert targets.isdisjoint(CORE_FORBIDDEN), targets & set(CORE_FORBIDDEN)
    assert not {t for t in targets if t.startswith("cookiesess.stores")}
    if core in CLOCK_FREE:
        assert targets.isdisjoint({"time", "time.time", "time.monotonic"}), targets
