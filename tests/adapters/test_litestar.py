"""cookiesess.asgi.SessionMiddleware in Litestar, through Litestar's own TestClient.

Litestar reads ``request.session`` from ``scope["session"]``;
``request.set_session`` and ``request.clear_session`` replace it, and the
middleware commits whatever it holds when the response starts (issue 14).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar, Request, WebSocket, get, post, websocket
from litestar.middleware import DefineMiddleware
from litestar.testing import TestClient

from cookiesess import SessionEngine
from cookiesess.asgi import SessionMiddleware
from cookiesess.stores import MemoryStore, SQLiteStore
from tests.adapters._session_apps import RING
from tests.adapters.test_examples import EXAMPLES, load


class Profile(msgspec.Struct):
    user: str
    roles: list[str]


@dataclasses.dataclass
class Cart:
    items: list[str]
    total: int


@get("/me", sync_to_thread=False)
def me(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return dict(request.session)


@get("/ignore", sync_to_thread=False)
def ignore() -> str:
    return "ok"


@post("/visit", sync_to_thread=False)
def visit(request: Request[Any, Any, Any]) -> dict[str, Any]:
    request.session["count"] = request.session.get("count", 0) + 1
    return dict(request.session)


@post("/login", sync_to_thread=False)
def login(request: Request[Any, Any, Any]) -> None:
    request.set_session({"user": request.query_params["user"]})


@post("/secure-login", sync_to_thread=False)
def secure_login(request: Request[Any, Any, Any]) -> None:
    request.session.regenerate()
    request.set_session({"user": request.query_params["user"], "blob": "y" * 9000})


@post("/logout", sync_to_thread=False)
def logout(request: Request[Any, Any, Any]) -> None:
    request.clear_session()


@post("/big", sync_to_thread=False)
def big(request: Request[Any, Any, Any]) -> None:
    request.set_session({"blob": "x" * 9000})


@post("/profile", sync_to_thread=False)
def profile(request: Request[Any, Any, Any]) -> None:
    request.set_session(Profile(user="alice", roles=["admin"]))


@post("/cart", sync_to_thread=False)
def cart(request: Request[Any, Any, Any]) -> None:
    request.set_session(Cart(items=["apple"], total=3))


@websocket("/ws")
async def ws(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    try:
        socket.session["user"] = "mallory"
    except TypeError:
        await socket.send_json({"read_only": True, **socket.session})
    await socket.close()


HANDLERS = [me, ignore, visit, login, secure_login, logout, big, profile, cart, ws]


def client(**options: Any) -> TestClient[Litestar]:
    """A TestClient for a Litestar app with the middleware added the Litestar way."""
    options.setdefault("secure", False)
    middleware = DefineMiddleware(SessionMiddleware, keyring=RING, **options)
    app = Litestar(route_handlers=HANDLERS, middleware=[middleware], logging_config=None)
    return TestClient(app)


def test_the_test_apps_leave_no_logging_thread_behind() -> None:
    """Litestar's default logging starts a queue-listener thread per app, attached to the
    root logger, that formats every later test's log records in the background: under
    Python 3.11 that races the main thread's `ast.parse` (CPython gh-106905), which once
    failed a Hypothesis test in CI. The apps these tests build must not start one."""
    threads, handlers = set(threading.enumerate()), list(logging.getLogger().handlers)
    with client() as test_client:
        assert test_client.post("/visit").status_code == 201
    assert set(threading.enumerate()) <= threads
    assert logging.getLogger().handlers == handlers


def session_id(test_client: TestClient[Litestar], **options: Any) -> str:
    """The id of the session the client's cookies hold."""
    cookies = dict(test_client.cookies.items())
    return SessionEngine(RING, **options).load(cookies).id


@pytest.mark.parametrize("lazy", [False, True])
class TestLitestar:
    def test_login_read_logout(self, lazy: bool) -> None:
        """set_session logs in, request.session reads it, clear_session logs out."""
        with client(lazy=lazy) as test_client:
            anonymous = test_client.get("/me").json()
            logged_in = test_client.post("/login?user=alice")
            read = test_client.get("/me")
            logged_out = test_client.post("/logout")
            after = test_client.get("/me")

        assert anonymous == {}
        assert "session=" in logged_in.headers["set-cookie"]
        assert read.json() == {"user": "alice"}
        assert "set-cookie" not in read.headers
        assert read.headers["vary"] == "Cookie"
        assert "Max-Age=0" in logged_out.headers["set-cookie"]
        assert after.json() == {}
        assert "set-cookie" not in after.headers
        assert "session" not in test_client.cookies

    def test_set_session_replaces_the_data(self, lazy: bool) -> None:
        """set_session drops what the session held before; the id stays."""
        with client(lazy=lazy) as test_client:
            test_client.post("/visit")
            test_client.post("/visit")
            before = session_id(test_client)
            test_client.post("/login?user=bob")

            assert test_client.get("/me").json() == {"user": "bob"}
            assert session_id(test_client) == before

    def test_request_session_mutation(self, lazy: bool) -> None:
        """request.session is the session: mutating it writes the cookie."""
        with client(lazy=lazy) as test_client:
            counts = [test_client.post("/visit").json()["count"] for _ in range(3)]

        assert counts == [1, 2, 3]

    def test_untouched_handler_sends_no_cookie(self, lazy: bool) -> None:
        """A handler that never touches the session gets no Set-Cookie (write on change)."""
        with client(lazy=lazy) as test_client:
            test_client.post("/login?user=carol")
            response = test_client.get("/ignore")

        assert "set-cookie" not in response.headers

    def test_logout_without_a_session_sends_nothing(self, lazy: bool) -> None:
        """clear_session on a request without a cookie has no cookie to expire."""
        with client(lazy=lazy) as test_client:
            response = test_client.post("/logout")

        assert "set-cookie" not in response.headers

    @pytest.mark.parametrize(("path", "data"), [
        ("/profile", {"user": "alice", "roles": ["admin"]}),
        ("/cart", {"items": ["apple"], "total": 3}),
    ])  # fmt: skip
    def test_set_session_with_a_data_container(
        self, lazy: bool, path: str, data: dict[str, Any]
    ) -> None:
        """A msgspec Struct or dataclass given to set_session is stored as its fields."""
        with client(lazy=lazy) as test_client:
            test_client.post(path)

            assert test_client.get("/me").json() == data

    @pytest.mark.parametrize("kind", ["memory", "sqlite"])
    def test_store_fallback(self, lazy: bool, kind: str, tmp_path: Path) -> None:
        """A large session moves into the store and back; logout deletes the record."""
        store: Any = MemoryStore() if kind == "memory" else SQLiteStore(tmp_path / "s.db")
        with client(lazy=lazy, store=store) as test_client:
            test_client.post("/big")
            in_store = store.count()
            cookie_bytes = len(test_client.cookies["session"])
            big_read = test_client.get("/me").json()
            test_client.post("/login?user=dave")
            back_in_cookie = store.count()
            small_read = test_client.get("/me").json()
            test_client.post("/big")
            test_client.post("/logout")

            assert (in_store, back_in_cookie, store.count()) == (1, 0, 0)
            assert cookie_bytes < 400
            assert big_read == {"blob": "x" * 9000}
            assert small_read == {"user": "dave"}
            assert test_client.get("/me").json() == {}

    def test_regenerate_then_set_session(self, lazy: bool) -> None:
        """regenerate() before set_session gives a new id; the old store record goes."""
        store = MemoryStore()
        with client(lazy=lazy, store=store) as test_client:
            test_client.post("/big")
            before = session_id(test_client, store=store)
            old_cookie = test_client.cookies["session"]
            test_client.post("/secure-login?user=erin")

            assert session_id(test_client, store=store) != before
            assert store.count() == 1
            assert test_client.get("/me").json()["user"] == "erin"
            test_client.cookies.clear()
            test_client.cookies.set("session", old_cookie)
            assert test_client.get("/me").json() == {}

    def test_websocket_reads_the_session(self, lazy: bool) -> None:
        """A Litestar WebSocket handler reads the session; writing to it raises TypeError."""
        with client(lazy=lazy) as test_client:
            test_client.post("/login?user=frank")
            with test_client.websocket_connect("/ws") as socket:
                received = socket.receive_json()

        assert received == {"read_only": True, "user": "frank"}


# -- examples/litestar_app.py ----------------------------------------------------


@pytest.fixture
def keys_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COOKIESESS_KEYS_FILE", raising=False)
    monkeypatch.setenv("COOKIESESS_KEYS", f"a:{RING.primary.secret_b64()}")


@pytest.mark.usefixtures("keys_env")
def test_litestar_example() -> None:
    """The Litestar example counts visits, logs in (new id, fresh data) and logs out."""
    with TestClient(load("litestar_app").app) as test_client:
        first = test_client.get("/").json()
        second = test_client.get("/").json()
        before = session_id(test_client)
        login_response = test_client.post("/login", json={"user": "carol"})
        after_login = session_id(test_client)
        me = test_client.get("/").json()
        logout_response = test_client.post("/logout")
        after = test_client.get("/").json()
        refused = test_client.post("/login", json={"user": ""})

    assert (first, second) == ({"count": 1, "user": None}, {"count": 2, "user": None})
    assert login_response.json() == {"user": "carol"}
    assert after_login != before
    assert me == {"count": 1, "user": "carol"}
    assert "Max-Age=0" in logout_response.headers["set-cookie"]
    assert after == {"count": 1, "user": None}
    assert refused.status_code == 400


def test_litestar_example_runs_without_configuration(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without COOKIESESS_KEYS the example starts with a throwaway key and says so."""
    monkeypatch.delenv("COOKIESESS_KEYS", raising=False)
    monkeypatch.delenv("COOKIESESS_KEYS_FILE", raising=False)

    module = load("litestar_app")

    assert isinstance(module.app, Litestar)
    assert "COOKIESESS_KEYS is not set" in capsys.readouterr().err
    assert "uvicorn examples.litestar_app:app" in (EXAMPLES / "litestar_app.py").read_text()[:400]
