"""cookiesess.flask: a failing store answers one 503 (no-store, no Set-Cookie); the fallback."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

flask = pytest.importorskip("flask")

from cookiesess.stores import SQLiteStore  # noqa: E402
from tests.adapters import _flask_support  # noqa: E402
from tests.adapters._flask_support import install, make_app, set_cookie_lines  # noqa: E402
from tests.helpers import FlakyStore  # noqa: E402

# The shared fixtures, bound here for pytest to find them in this module.
no_ambient_keys = _flask_support.no_ambient_keys


# -- store failures -----------------------------------------------------------------------


OUTAGE_HEADERS = {
    "Content-Type": "text/plain; charset=utf-8",
    "Cache-Control": "no-store",
}


def add_store_routes(app: flask.Flask, ran: list[str]) -> None:
    """``/big`` writes 8000 random bytes (past the cookie: to the store), ``/read`` reads
    their length; each records that it ran."""

    @app.get("/big")
    def big() -> str:
        ran.append("big")
        flask.session["blob"] = os.urandom(8000)
        return "stored"

    @app.get("/read")
    def read() -> str:
        ran.append("read")
        return str(len(flask.session.get("blob", b"")))


def outage_app(store: Any, seen: list[str]) -> flask.Flask:
    """An app whose hooks record what they saw: a login check, a view, a session writer."""
    app = make_app()

    @app.before_request
    def require_login() -> Any:
        seen.append(f"before_request: {type(flask.session).__name__} {dict(flask.session)}")
        if flask.request.path != "/big" and "blob" not in flask.session:
            return flask.redirect("/login")
        return None

    add_store_routes(app, seen)

    @app.after_request
    def stamp(response: flask.Response) -> flask.Response:
        flask.session["last_status"] = response.status_code
        response.set_cookie("theme", "dark")
        return response

    install(app, store=store)
    return app


def client_with_session_of(app: flask.Flask, response: Any) -> Any:
    """A test client of `app` holding the session cookie `response` set (a store reference)."""
    (pair,) = [line.split(";", 1)[0] for line in set_cookie_lines(response) if "session=" in line]
    client = app.test_client()
    client.set_cookie(*pair.split("=", 1))
    return client


def assert_outage(response: Any) -> None:
    """The one 503 every adapter answers on a store failure: no-store, no Set-Cookie."""
    assert response.status_code == 503
    assert {name: response.headers.get(name) for name in OUTAGE_HEADERS} == OUTAGE_HEADERS
    assert response.data == b"Service Unavailable: the session store failed.\n"
    assert response.headers["Content-Length"] == str(len(response.data))
    assert set_cookie_lines(response) == []


def test_store_failure_on_open_answers_503_before_any_handler(tmp_path: Path) -> None:
    """Store down on open: 503 before before_request handlers run (no stand-in session seen)."""
    seen: list[str] = []
    working = outage_app(SQLiteStore(tmp_path / "sessions.db"), seen)
    stored = working.test_client().get("/big")
    assert stored.text == "stored"
    broken = outage_app(SQLiteStore(tmp_path), seen)  # a directory: SQLite cannot open it
    client = client_with_session_of(broken, stored)
    seen.clear()

    response = client.get("/read")

    assert_outage(response)
    assert seen == []


def test_store_failure_on_open_is_the_same_503_whatever_the_error_handlers(
    tmp_path: Path,
) -> None:
    """An app's 503 handler does not change the outage response (same shape everywhere)."""
    seen: list[str] = []
    working = outage_app(SQLiteStore(tmp_path / "sessions.db"), seen)
    stored = working.test_client().get("/big")
    broken = outage_app(SQLiteStore(tmp_path), seen)

    @broken.errorhandler(503)
    def unavailable(error: Exception) -> tuple[str, int, dict[str, str]]:
        return "try again later", 503, {"Cache-Control": "max-age=3600"}

    response = client_with_session_of(broken, stored).get("/read")

    assert_outage(response)


def test_store_failure_on_save_answers_503(tmp_path: Path) -> None:
    """Store down on save: the view's response becomes the same 503, no-store, no Set-Cookie."""
    seen: list[str] = []
    broken = outage_app(SQLiteStore(tmp_path), seen)

    response = broken.test_client().get("/big")

    assert_outage(response)
    assert seen[-1] == "big"


@pytest.fixture
def flaky_app() -> tuple[flask.Flask, FlakyStore, list[str]]:
    app = make_app()
    store = FlakyStore()
    ran: list[str] = []

    add_store_routes(app, ran)

    install(app, store=store)
    return app, store, ran


def test_large_session_moves_to_the_store(
    flaky_app: tuple[flask.Flask, FlakyStore, list[str]],
) -> None:
    """Data over the cookie budget goes to the store; the cookie holds a reference."""
    app, _, _ = flaky_app
    client = app.test_client()

    response = client.get("/big")

    (line,) = set_cookie_lines(response)
    assert len(line) < 400
    assert client.get("/read").text == "8000"


def test_stand_in_session_refuses_writes_until_the_503_is_decided(tmp_path: Path) -> None:
    """Under test_request_context (no dispatch) the stand-in reads empty and refuses writes."""
    seen: list[str] = []
    working = outage_app(SQLiteStore(tmp_path / "sessions.db"), seen)
    stored = working.test_client().get("/big")
    (pair,) = [line.split(";", 1)[0] for line in set_cookie_lines(stored) if "session=" in line]
    broken = outage_app(SQLiteStore(tmp_path), seen)

    with broken.test_request_context("/read", headers={"Cookie": pair}):
        assert flask.session.get("blob") is None
        with pytest.raises(RuntimeError, match="session store failed"):
            flask.session["blob"] = b""
