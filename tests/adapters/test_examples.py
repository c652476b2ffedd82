"""Smoke tests of examples/{wsgi,asgi,fastapi}_app.py, driven in-process."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
from starlette.testclient import TestClient
from werkzeug.test import Client

from tests.adapters._session_apps import RING

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> ModuleType:
    """Import a fresh copy of examples/<name>.py (its keyring is read at import)."""
    spec = importlib.util.spec_from_file_location(f"_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@pytest.fixture
def keys_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COOKIESESS_KEYS_FILE", raising=False)
    monkeypatch.setenv("COOKIESESS_KEYS", f"a:{RING.primary.secret_b64()}")


def visits(html: str) -> int:
    match = re.search(r"Visits in this session: (\d+)", html)
    assert match is not None, html
    return int(match[1])


@pytest.mark.usefixtures("keys_env")
def test_wsgi_example() -> None:
    """The WSGI example counts visits, logs in and logs out."""
    client = Client(load("wsgi_app").app)

    first = visits(client.get("/").text)
    second = visits(client.get("/").text)
    client.post("/login", data={"user": "alice"})
    logged_in = client.get("/").text
    client.post("/logout")
    logged_out = client.get("/").text

    assert (first, second) == (1, 2)
    assert "Logged in as <b>alice</b>" in logged_in
    assert visits(logged_in) == 3
    assert "Log in" in logged_out
    assert visits(logged_out) == 1


@pytest.mark.usefixtures("keys_env")
def test_asgi_example() -> None:
    """The plain ASGI example counts visits, logs in and logs out (lifespan included)."""
    with TestClient(load("asgi_app").app, follow_redirects=False) as client:
        first = visits(client.get("/").text)
        second = visits(client.get("/").text)
        client.post("/login", data={"user": "bob"})
        logged_in = client.get("/").text
        client.post("/logout")
        logged_out = client.get("/").text

    assert (first, second) == (1, 2)
    assert "Logged in as <b>bob</b>" in logged_in
    assert visits(logged_in) == 3
    assert "Log in" in logged_out
    assert visits(logged_out) == 1


@pytest.mark.usefixtures("keys_env")
def test_fastapi_example() -> None:
    """The FastAPI example counts visits, logs in and logs out."""
    client = TestClient(load("fastapi_app").app)

    first = client.get("/").json()
    second = client.get("/").json()
    login = client.post("/login", json={"user": "carol"})
    me = client.get("/").json()
    client.post("/logout")
    after = client.get("/").json()

    assert first == {"count": 1, "user": None}
    assert second == {"count": 2, "user": None}
    assert login.json() == {"user": "carol"}
    assert me == {"count": 3, "user": "carol"}
    assert after == {"count": 1, "user": None}


@pytest.mark.parametrize("name", ["wsgi_app", "asgi_app", "fastapi_app"])
def test_examples_warn_and_generate_a_key_without_configuration(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without COOKIESESS_KEYS an example starts with a throwaway key and says so."""
    monkeypatch.delenv("COOKIESESS_KEYS", raising=False)
    monkeypatch.delenv("COOKIESESS_KEYS_FILE", raising=False)

    module = load(name)

    assert module.app is not None
    assert "COOKIESESS_KEYS is not set" in capsys.readouterr().err


def test_examples_say_how_to_run_them() -> None:
    """Each example's docstring gives the one command that runs it."""
    commands = {
        "wsgi_app": "python examples/wsgi_app.py",
        "asgi_app": "uvicorn examples.asgi_app:app",
        "fastapi_app": "uvicorn examples.fastapi_app:app",
    }
    for name, command in commands.items():
        head = (EXAMPLES / f"{name}.py").read_text()[:400]
        assert command in head, name
