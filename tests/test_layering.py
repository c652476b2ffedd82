"""The core stays sans-IO and framework-free; optional drivers load only when used."""

from __future__ import annotations

import subprocess
import sys

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
