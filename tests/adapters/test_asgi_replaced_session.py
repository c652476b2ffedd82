"""cookiesess.asgi.SessionMiddleware when the app replaces or deletes scope["session"] (#14)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from cookiesess import CodecError, LazySession, SessionEngine
from cookiesess.asgi import SessionMiddleware
from cookiesess.stores import MemoryStore
from tests.adapters._asgi_support import ROUTES, client_for, cookies_from, run
from tests.adapters._session_apps import RING, AsyncSwitchStore, asgi_request, raw_asgi_app
from tests.helpers import Browser


def replacing_app(replace: Any) -> Any:
    """A raw ASGI app that hands scope to `replace` before answering with what it holds."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        replace(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def _set(value: Any) -> Any:
    def replace(scope: dict[str, Any]) -> None:
        scope["session"] = value

    return replace


def _delete(scope: dict[str, Any]) -> None:
    del scope["session"]


def logged_in(app: Any = None, path: str = "/set?user=alice&role=admin") -> Browser:
    """A jar holding the session the raw app wrote for `path`."""
    return cookies_from(app if app is not None else SessionMiddleware(raw_asgi_app(), RING), path)


def view(jar: Browser, app: Any = None) -> Any:
    """What the next request of `jar` sees in its session."""
    reader = app if app is not None else SessionMiddleware(raw_asgi_app(), RING)
    return run(asgi_request(reader, cookies=[jar.header()])).json()


class TestReplacedSession:
    @pytest.mark.parametrize(
        "replace",
        [_set({}), _set(None), _delete],
        ids=["empty-dict", "none", "deleted"],
    )
    @pytest.mark.parametrize("lazy", [False, True])
    def test_cleared_scope_session_deletes_the_cookie(self, replace: Any, lazy: bool) -> None:
        """scope["session"] = {} / None / del: every session cookie is expired, as destroy()."""
        jar = logged_in(path="/big?n=3500")  # two chunks
        assert len(jar.jar) == 2
        app = SessionMiddleware(replacing_app(replace), RING, lazy=lazy)

        response = run(asgi_request(app, cookies=[jar.header()]))
        jar.apply(response.set_cookies)

        assert sorted(line.partition("=")[0] for line in response.set_cookies) == [
            "session",
            "session.1",
        ]
        assert all("Max-Age=0" in line for line in response.set_cookies)
        assert response.get("cache-control") == "private"
        assert jar.jar == {}

    @pytest.mark.parametrize("lazy", [False, True])
    def test_replaced_dict_is_the_new_data_under_the_same_id(self, lazy: bool) -> None:
        """A new mapping becomes the session's data; the id stays (no privilege signal)."""
        jar = logged_in()
        before = SessionEngine(RING).load(jar.cookies).id
        app = SessionMiddleware(replacing_app(_set({"user": "bob"})), RING, lazy=lazy)

        response = run(asgi_request(app, cookies=[jar.header()]))
        jar.apply(response.set_cookies)

        assert view(jar) == {"user": "bob"}
        assert SessionEngine(RING).load(jar.cookies).id == before
        assert response.get("vary") == "Cookie"

    def test_replaced_dict_on_a_new_session_sets_the_cookie(self) -> None:
        """A request without a cookie whose app assigns a dict gets a session."""
        jar = Browser()
        app = SessionMiddleware(replacing_app(_set({"user": "carol"})), RING)

        jar.apply(run(asgi_request(app)).set_cookies)

        assert view(jar) == {"user": "carol"}

    def test_replaced_with_equal_data_writes_nothing(self) -> None:
        """A copy holding the same data is no change: no Set-Cookie (write on change)."""
        jar = logged_in()

        def copy(scope: dict[str, Any]) -> None:
            scope["session"] = dict(scope["session"])

        app = SessionMiddleware(replacing_app(copy), RING)

        response = run(asgi_request(app, cookies=[jar.header()]))

        assert response.set_cookies == []

    def test_the_same_session_put_back_is_a_no_op(self) -> None:
        """Assigning the middleware's own session (or the opened lazy one) changes nothing."""

        def put_back(scope: dict[str, Any]) -> None:
            session = scope["session"]
            scope["session"] = session.open() if isinstance(session, LazySession) else session

        jar = logged_in()
        for lazy in (False, True):
            app = SessionMiddleware(replacing_app(put_back), RING, lazy=lazy)

            response = run(asgi_request(app, cookies=[jar.header()]))

            assert response.set_cookies == []

    def test_replaced_values_pass_the_codec(self) -> None:
        """A replacement holding a value the codec refuses raises CodecError, naming the key."""
        app = SessionMiddleware(replacing_app(_set({"when": object()})), RING)

        with pytest.raises(CodecError, match="when"):
            run(asgi_request(app))

    def test_a_non_mapping_replacement_is_refused(self) -> None:
        """Anything but a mapping (or a data class) is a bug in the app: a clear TypeError."""
        app = SessionMiddleware(replacing_app(_set("alice")), RING)

        with pytest.raises(TypeError, match=r"scope\[.session.\] holds a str"):
            run(asgi_request(app))

    @pytest.mark.parametrize("lazy", [False, True])
    @pytest.mark.parametrize("store_kind", ["memory", "async"])
    def test_cleared_store_session_deletes_the_record(self, lazy: bool, store_kind: str) -> None:
        """A cleared session held in the store loses its record too, lazy or not."""
        memory = MemoryStore()
        async_store = AsyncSwitchStore()
        store: Any = memory if store_kind == "memory" else async_store
        jar = logged_in(SessionMiddleware(raw_asgi_app(), RING, store=store), "/big?n=9000")
        records = memory.count if store_kind == "memory" else async_store.sync.inner.count
        assert records() == 1
        app = SessionMiddleware(replacing_app(_set({})), RING, store=store, lazy=lazy)

        response = run(asgi_request(app, cookies=[jar.header()]))
        jar.apply(response.set_cookies)

        assert records() == 0
        assert jar.jar == {}

    def test_replaced_data_moves_between_store_and_cookie(self) -> None:
        """A large replacement goes to the store; a small one comes back and drops the record."""
        store = MemoryStore()
        jar = logged_in(SessionMiddleware(raw_asgi_app(), RING, store=store))
        big = SessionMiddleware(replacing_app(_set({"blob": "x" * 9000})), RING, store=store)
        small = SessionMiddleware(replacing_app(_set({"user": "dave"})), RING, store=store)

        jar.apply(run(asgi_request(big, cookies=[jar.header()])).set_cookies)
        in_store = store.count()
        jar.apply(run(asgi_request(small, cookies=[jar.header()])).set_cookies)

        assert in_store == 1
        assert store.count() == 0
        assert view(jar, SessionMiddleware(raw_asgi_app(), RING, store=store)) == {"user": "dave"}

    def test_starlette_endpoint_replacing_scope_session(self) -> None:
        """Starlette code assigning request.scope["session"] = {} logs the user out."""

        async def logout(request: Request) -> PlainTextResponse:
            request.scope["session"] = {}
            return PlainTextResponse("bye")

        app = Starlette(
            routes=[*ROUTES, Route("/logout", logout, methods=["POST"])],
            middleware=[Middleware(SessionMiddleware, RING, secure=False)],
        )
        client = client_for(app)
        client.post("/update_session", json={"user": "erin"})

        response = client.post("/logout")

        assert "Max-Age=0" in response.headers["set-cookie"]
        assert client.get("/view_session").json() == {"session": {}}

    def test_keyword_app_argument(self) -> None:
        """SessionMiddleware(app=..., keyring=...) works: Litestar's DefineMiddleware calls that."""
        app = SessionMiddleware(app=raw_asgi_app(), keyring=RING)

        response = run(asgi_request(app, "/set?a=1"))

        assert response.json() == {"a": "1"}
        assert len(response.set_cookies) == 1

    def test_data_container_replacements_keep_native_types(self) -> None:
        """A dataclass or msgspec Struct becomes its fields; datetimes and UUIDs stay typed."""
        import dataclasses
        import datetime as dt
        import uuid

        import msgspec

        when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
        ident = uuid.UUID(int=7)

        class Inner(msgspec.Struct):
            at: dt.datetime

        class Outer(msgspec.Struct):
            id: uuid.UUID
            inner: Inner

        @dataclasses.dataclass
        class Plain:
            at: dt.datetime
            tags: list[str]

        for value, expected in [
            (Outer(id=ident, inner=Inner(at=when)), {"id": ident, "inner": {"at": when}}),
            (Plain(at=when, tags=["a"]), {"at": when, "tags": ["a"]}),
        ]:
            jar = Browser()
            app = SessionMiddleware(replacing_app(_set(value)), RING)

            jar.apply(run(asgi_request(app)).set_cookies)

            assert dict(SessionEngine(RING).load(jar.cookies)) == expected
