"""The code in the README and the docs: every Python block parses, the quick starts run.

A quick start that is a whole program is executed as printed and driven through its
framework's test client, so a renamed option or import in the code breaks this test
instead of the reader's first five minutes.
"""

from __future__ import annotations

import ast
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cookiesess import Keyring

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
BLOCK = re.compile(r"^( *)```python\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def python_blocks(page: Path) -> list[str]:
    """The ```python blocks of a page, dedented to their fence."""
    blocks = []
    for indent, body in BLOCK.findall(page.read_text()):
        blocks.append("".join(line.removeprefix(indent) for line in body.splitlines(True)))
    return blocks


def block_with(page: Path, marker: str) -> str:
    (block,) = [b for b in python_blocks(page) if marker in b]
    return block


@pytest.fixture(autouse=True)
def keys_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COOKIESESS_KEYS_FILE", raising=False)
    monkeypatch.setenv("COOKIESESS_KEYS", f"k1:primary:{Keyring.generate().primary.secret_b64()}")


@pytest.fixture(autouse=True)
def _forget_quick_starts() -> Iterator[None]:
    yield
    for name in [name for name in sys.modules if name.startswith("_quickstart_")]:
        del sys.modules[name]


def run(source: str, namespace: dict[str, Any] | None = None) -> dict[str, Any]:
    """Execute a block in a fresh module in sys.modules (Litestar looks it up), or `namespace`."""
    if namespace is None:
        module = types.ModuleType(f"_quickstart_{len(sys.modules)}")
        sys.modules[module.__name__] = module
        namespace = module.__dict__
    exec(compile(source, "<quick start>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_python_block_parses(page: Path) -> None:
    """Each ```python block in README.md and docs/ is valid Python."""
    for block in python_blocks(page):
        ast.parse(block)


def test_the_fastapi_quick_start_counts_visits() -> None:
    """docs/quickstart/asgi.md's FastAPI app, as printed, keeps a session across requests."""
    pytest.importorskip("fastapi")
    from starlette.testclient import TestClient

    app = run(block_with(REPO / "docs/quickstart/asgi.md", "FastAPI()"))["app"]

    with TestClient(app, base_url="https://testserver") as client:
        visits = [client.get("/").json()["visits"] for _ in range(3)]

    assert visits == [1, 2, 3]


def test_the_litestar_quick_start_logs_in_and_out() -> None:
    """docs/quickstart/litestar.md's app, as printed: set_session logs in, clear_session out."""
    pytest.importorskip("litestar")
    from litestar.testing import TestClient

    app = run(block_with(REPO / "docs/quickstart/litestar.md", "DefineMiddleware("))["app"]

    with TestClient(app, base_url="https://testserver.local") as client:
        before = client.get("/").json()
        client.post("/login")
        during = client.get("/").json()
        client.post("/logout")
        after = client.get("/").json()

    assert (before, during, after) == ({"user": None}, {"user": "alice"}, {"user": None})


def test_the_flask_quick_start_logs_in() -> None:
    """docs/quickstart/flask.md's app, as printed, logs in with a new session id."""
    pytest.importorskip("flask")
    from flask import session

    app = run(block_with(REPO / "docs/quickstart/flask.md", "init_app"))["app"]

    @app.get("/whoami")
    def whoami() -> dict[str, Any]:
        return {"user": session.get("user"), "id": session.id}

    client = app.test_client()
    before = client.get("/whoami", base_url="https://localhost").json
    client.post("/login", base_url="https://localhost")
    after = client.get("/whoami", base_url="https://localhost").json

    assert (before["user"], after["user"]) == (None, "ada")
    assert before["id"] != after["id"]


def test_the_wsgi_quick_start_counts_visits() -> None:
    """docs/quickstart/wsgi.md's app, wrapped by its first block, counts visits."""
    from werkzeug.test import Client

    page = REPO / "docs/quickstart/wsgi.md"
    namespace = run(block_with(page, "def application"))
    run(block_with(page, "SessionMiddleware(application)"), namespace)

    client = Client(namespace["application"])
    texts = [client.get("/", base_url="https://localhost").text for _ in range(2)]

    assert texts == ["visits: 1", "visits: 2"]
