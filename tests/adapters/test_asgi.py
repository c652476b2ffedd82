"""cookiesess.asgi.SessionMiddleware with Starlette, FastAPI and raw ASGI calls.

The Starlette tests re-express the behaviours of Starlette's own
``tests/middleware/test_session.py`` against our middleware.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import pytest
from fastapi import FastAPI
from fastapi import Request as FastAPIRequest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from cookiesess import CodecError, ConfigurationError, LazySession, Session, SessionEngine
from cookiesess.asgi import SessionMiddleware
from cookiesess.session import WebSocketSession
from cookiesess.stores import MemoryStore, ThreadedAsyncStore
from tests.adapters._session_apps import (
    OTHER_RING,
    RING,
    AsyncSwitchStore,
    SwitchStore,
    asgi_request,
    raw_asgi_app,
)
from tests.helpers import SECRET_A, SECRET_B, Browser, ring_of

# -- the Starlette app of Starlette's own session tests ----------------------


def view_session(request: Request) -> JSONResponse:
    return JSONResponse({"session": request.session})


async def update_session(request: Request) -> JSONResponse:
    request.session.update(await request.json())
    return JSONResponse({"session": request.session})


async def inplace_update_session(request: Request) -> JSONResponse:
    session = request.session
    session |= await request.json()
    return JSONResponse({"session": request.session})


async def popitem_session(request: Request) -> JSONResponse:
    request.session.popitem()
    return JSONResponse({"session": request.session})


async def pop_session(request: Request) -> JSONResponse:
    return JSONResponse({"value": request.session.pop("a")})


async def clear_session(request: Request) -> JSONResponse:
    request.session.clear()
    return JSONResponse({"session": request.session})


def no_session_access(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


ROUTES = [
    Route("/view_session", endpoint=view_session),
    Route("/update_session", endpoint=update_session, methods=["POST"]),
    Route("/inplace_update_session", endpoint=inplace_update_session, methods=["POST"]),
    Route("/popitem_session", endpoint=popitem_session, methods=["POST"]),
    Route("/pop_session", endpoint=pop_session, methods=["POST"]),
    Route("/clear_session", endpoint=clear_session, methods=["POST"]),
    Route("/no_session", endpoint=no_session_access),
]


def starlette_app(**options: Any) -> Starlette:
    options.setdefault("secure", False)
    return Starlette(routes=ROUTES, middleware=[Middleware(SessionMiddleware, RING, **options)])


def client_for(app: Any, base_url: str = "http://testserver", **kw: Any) -> TestClient:
    return TestClient(app, base_url=base_url, **kw)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


class TestStarletteBehaviours:
    def test_session(self) -> None:
        """Set, read back and clear, as Starlette's test_session."""
        client = client_for(starlette_app())

        empty = client.get("/view_session").json()
        updated = client.post("/update_session", json={"some": "data"})
        read = client.get("/view_session").json()
        cleared = client.post("/clear_session").json()
        after = client.get("/view_session").json()

        assert empty == {"session": {}}
        assert updated.json() == {"session": {"some": "data"}}
        assert "Max-Age" not in updated.headers["set-cookie"]
        assert read == {"session": {"some": "data"}}
        assert cleared == {"session": {}}
        assert after == {"session": {}}

    def test_max_age(self) -> None:
        """max_age sets the cookie's Max-Age, as Starlette's default 14 days."""
        client = client_for(starlette_app(max_age=14 * 24 * 3600))

        response = client.post("/update_session", json={"some": "data"})

        match = re.search(r"; Max-Age=([0-9]+);", response.headers["set-cookie"])
        assert match is not None
        assert int(match[1]) == 14 * 24 * 3600

    def test_session_expires(self) -> None:
        """A cookie past its absolute deadline opens as an empty session."""
        now = [1_700_000_000.0]
        app = starlette_app(absolute_timeout=60, clock=lambda: now[0])
        client = client_for(app)
        client.post("/update_session", json={"some": "data"})

        now[0] += 61
        response = client.get("/view_session")

        assert response.json() == {"session": {}}

    @pytest.mark.parametrize("partitioned", [False, True])
    def test_partitioned_session(self, partitioned: bool) -> None:
        """Partitioned is on the cookie when set and when cleared."""
        app = starlette_app(secure=True, samesite="None", partitioned=partitioned)
        client = client_for(app, base_url="https://testserver")

        written = client.post("/update_session", json={"some": "data"})
        cleared = client.post("/clear_session")

        for response in (written, cleared):
            attributes = response.headers["set-cookie"].split("; ")
            assert ("Partitioned" in attributes) is partitioned
            assert "SameSite=None" in attributes

    def test_secure_session(self) -> None:
        """A Secure cookie (our default) is not sent back over plain http, only over https."""
        app = starlette_app(secure=True)
        secure_client = client_for(app, base_url="https://testserver")
        plain_client = client_for(app, base_url="http://testserver")

        assert plain_client.post("/update_session", json={"some": "data"}).json() == {
            "session": {"some": "data"}
        }
        assert plain_client.get("/view_session").json() == {"session": {}}
        assert secure_client.post("/update_session", json={"some": "data"}).json() == {
            "session": {"some": "data"}
        }
        assert secure_client.get("/view_session").json() == {"session": {"some": "data"}}
        assert secure_client.post("/clear_session").json() == {"session": {}}
        assert secure_client.get("/view_session").json() == {"session": {}}

    def test_session_cookie_subpath(self) -> None:
        """path= is the cookie's Path, for an app mounted under a prefix."""
        second_app = Starlette(
            routes=[Route("/update_session", endpoint=update_session, methods=["POST"])],
            middleware=[Middleware(SessionMiddleware, RING, secure=False, path="/second_app")],
        )
        app = Starlette(routes=[Mount("/second_app", app=second_app)])
        client = client_for(app, base_url="http://testserver/second_app")

        response = client.post("/update_session", json={"some": "data"})

        assert response.status_code == 200
        assert "; Path=/second_app;" in response.headers["set-cookie"]

    def test_invalid_session_cookie(self) -> None:
        """A bogus cookie does not raise: the session is empty."""
        client = client_for(starlette_app(), cookies={"session": "invalid"})

        assert client.get("/view_session").json() == {"session": {}}

    def test_cookie_of_another_secret(self) -> None:
        """A cookie sealed under another secret opens as an empty session."""
        other = Starlette(
            routes=ROUTES, middleware=[Middleware(SessionMiddleware, OTHER_RING, secure=False)]
        )
        token = client_for(other).post("/update_session", json={"a": 1}).cookies["session"]

        client = client_for(starlette_app(), cookies={"session": token})

        assert client.get("/view_session").json() == {"session": {}}

    def test_session_cookie_without_max_age(self) -> None:
        """Without max_age the cookie is a browser-session cookie (no Max-Age)."""
        client = client_for(starlette_app())

        response = client.post("/update_session", json={"some": "data"})
        client.cookies.delete("session")

        assert "Max-Age" not in response.headers["set-cookie"]
        assert client.get("/view_session").json() == {"session": {}}

    def test_domain_cookie(self) -> None:
        """domain= is the cookie's Domain."""
        client = client_for(starlette_app(domain=".example.com"))

        response = client.post("/update_session", json={"some": "data"})

        assert "; Domain=.example.com" in response.headers["set-cookie"]

    @pytest.mark.parametrize(("samesite", "rendered"), [("strict", "Strict"), ("lax", "Lax")])
    def test_samesite(self, samesite: str, rendered: str) -> None:
        """samesite= is the cookie's SameSite, in Starlette's lower-case spelling too."""
        client = client_for(starlette_app(samesite=samesite))

        response = client.post("/update_session", json={"some": "data"})

        assert f"; SameSite={rendered}" in response.headers["set-cookie"]

    def test_set_cookie_only_on_modification(self) -> None:
        """A read-only request sends no Set-Cookie."""
        client = client_for(starlette_app())

        written = client.post("/update_session", json={"some": "data"})
        read = client.get("/view_session")

        assert "set-cookie" in written.headers
        assert read.json() == {"session": {"some": "data"}}
        assert "set-cookie" not in read.headers

    def test_vary_cookie_on_access(self) -> None:
        """Writing or reading a non-empty session varies on Cookie; ignoring it does not."""
        client = client_for(starlette_app())

        written = client.post("/update_session", json={"some": "data"})
        read = client.get("/view_session")
        ignored = client.get("/no_session")

        assert "cookie" in written.headers.get("vary", "").lower()
        assert "cookie" in read.headers.get("vary", "").lower()
        assert "cookie" not in ignored.headers.get("vary", "").lower()

    @pytest.mark.parametrize("data", [{"a": "1"}, {"a": "1", "b": "2"}])
    def test_vary_cookie_on_session_pop(self, data: dict[str, str]) -> None:
        """pop() writes the cookie and varies on Cookie."""
        client = client_for(starlette_app())
        client.post("/update_session", json=data)

        response = client.post("/pop_session")

        assert response.json() == {"value": "1"}
        assert "set-cookie" in response.headers
        assert "cookie" in response.headers.get("vary", "").lower()

    @pytest.mark.parametrize(
        ("path", "data", "expected"),
        [
            ("/inplace_update_session", {"c": "3"}, {"a": "1", "b": "2", "c": "3"}),
            ("/popitem_session", None, {"a": "1"}),
        ],
    )
    def test_session_persists_mutations(
        self, path: str, data: dict[str, str] | None, expected: dict[str, str]
    ) -> None:
        """|= and popitem() persist."""
        client = client_for(starlette_app())
        client.post("/update_session", json={"a": "1", "b": "2"})

        assert client.post(path, json=data).json() == {"session": expected}
        assert client.get("/view_session").json() == {"session": expected}

    def test_request_session_is_a_dict(self) -> None:
        """request.session is a Session, which is a dict."""
        seen: list[Any] = []

        def endpoint(request: Request) -> PlainTextResponse:
            seen.append(request.session)
            return PlainTextResponse("ok")

        app = Starlette(
            routes=[Route("/", endpoint)],
            middleware=[Middleware(SessionMiddleware, RING)],
        )
        client_for(app).get("/")

        assert isinstance(seen[0], Session)
        assert isinstance(seen[0], dict)


class TestFastAPI:
    def app(self, **options: Any) -> FastAPI:
        app = FastAPI()
        app.add_middleware(SessionMiddleware, keyring=RING, secure=False, **options)

        @app.post("/login/{user}")
        def login(user: str, request: FastAPIRequest) -> dict[str, Any]:
            session = cast(Session, request.session)
            session.regenerate()
            session["user"] = user
            return {"session": session}

        @app.get("/me")
        def me(request: FastAPIRequest) -> JSONResponse:
            return JSONResponse({"session": request.session})

        @app.post("/logout")
        def logout(request: FastAPIRequest) -> dict[str, Any]:
            cast(Session, request.session).destroy()
            return {"ok": True}

        return app

    def test_login_me_logout(self) -> None:
        """FastAPI's request.session works unchanged, in returned dicts and JSONResponse."""
        client = client_for(self.app())

        login = client.post("/login/alice")
        me = client.get("/me")
        logout = client.post("/logout")
        after = client.get("/me")

        assert login.json() == {"session": {"user": "alice"}}
        assert me.json() == {"session": {"user": "alice"}}
        assert "Max-Age=0" in logout.headers["set-cookie"]
        assert after.json() == {"session": {}}

    def test_regenerate_changes_the_token(self) -> None:
        """Logging in twice issues a new cookie each time (a new session id)."""
        client = client_for(self.app())

        first = client.post("/login/alice").cookies["session"]
        second = client.post("/login/alice").cookies["session"]

        assert first != second


class TestLazy:
    def capture_app(self, seen: list[Any], touch: bool = False) -> Any:
        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            session = scope["session"]
            seen.append(session)
            if touch:
                session["a"] = "1"
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

        return app

    def test_untouched_lazy_session_adds_no_header(self) -> None:
        """lazy=True: a handler that ignores the session sends no Set-Cookie and no Vary."""
        seen: list[Any] = []
        app = SessionMiddleware(self.capture_app(seen), RING, lazy=True)
        jar = Browser()
        jar.apply(
            run(asgi_request(SessionMiddleware(raw_asgi_app(), RING), "/set?a=1")).set_cookies
        )

        response = run(asgi_request(app, cookies=[jar.header()]))

        assert response.headers == []
        assert type(seen[0]) is LazySession
        assert seen[0].loaded is None
        with pytest.raises(TypeError):
            json.dumps(seen[0])

    def test_lazy_session_in_starlette(self) -> None:
        """A lazy session works through request.session; read varies, write sets the cookie."""

        async def write(request: Request) -> PlainTextResponse:
            request.session["user"] = "bob"
            return PlainTextResponse("ok")

        async def read(request: Request) -> JSONResponse:
            return JSONResponse(dict(request.session))

        async def ignore(request: Request) -> PlainTextResponse:
            return PlainTextResponse("ok")

        app = Starlette(
            routes=[Route("/write", write), Route("/read", read), Route("/ignore", ignore)],
            middleware=[Middleware(SessionMiddleware, RING, secure=False, lazy=True)],
        )
        client = client_for(app)

        written = client.get("/write")
        read_back = client.get("/read")
        ignored = client.get("/ignore")

        assert "set-cookie" in written.headers
        assert read_back.json() == {"user": "bob"}
        assert read_back.headers["vary"] == "Cookie"
        assert "set-cookie" not in read_back.headers
        assert "vary" not in ignored.headers
        assert "set-cookie" not in ignored.headers

    def test_store_reference_is_loaded_before_the_app(self) -> None:
        """A cookie pointing to the store is awaited before the app runs, still lazily typed."""
        store = AsyncSwitchStore()
        seen: list[Any] = []
        writer = SessionMiddleware(raw_asgi_app(), RING, store=store)
        jar = Browser()
        jar.apply(run(asgi_request(writer, "/big?n=9000")).set_cookies)
        app = SessionMiddleware(self.capture_app(seen), RING, store=store, lazy=True)

        run(asgi_request(app, cookies=[jar.header()]))

        assert store.sync.calls == ["set", "get"]
        assert type(seen[0]) is LazySession
        assert seen[0]["blob"] == "b" * 9000


class TestStores:
    def test_sync_store_runs_in_worker_threads(self) -> None:
        """A blocking store is wrapped in ThreadedAsyncStore: calls leave the event loop."""
        store = SwitchStore()
        app = SessionMiddleware(raw_asgi_app(), RING, store=store)
        jar = Browser()

        jar.apply(run(asgi_request(app, "/big?n=9000")).set_cookies)
        response = run(asgi_request(app, cookies=[jar.header()]))

        assert isinstance(app.engine.config.store, ThreadedAsyncStore)
        assert response.json() == {"blob": "b" * 9000}
        assert store.calls == ["set", "get"]
        assert threading.get_ident() not in store.threads

    def test_memory_and_async_stores_are_used_directly(self) -> None:
        """MemoryStore (no I/O) and async stores are not wrapped."""
        memory = MemoryStore()
        async_store = AsyncSwitchStore()

        assert SessionMiddleware(raw_asgi_app(), RING, store=memory).engine.config.store is memory
        assert (
            SessionMiddleware(raw_asgi_app(), RING, store=async_store).engine.config.store
            is async_store
        )

    def test_store_failure_on_load_is_a_503_without_calling_the_app(self) -> None:
        """A store down while loading answers 503 itself; the app never runs."""
        store = AsyncSwitchStore()
        jar = Browser()
        writer = SessionMiddleware(raw_asgi_app(), RING, store=store)
        jar.apply(run(asgi_request(writer, "/big?n=9000")).set_cookies)
        store.sync.broken = True
        calls: list[str] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            calls.append("app")  # pragma: no cover

        response = run(
            asgi_request(SessionMiddleware(app, RING, store=store), cookies=[jar.header()])
        )

        assert response.status == 503
        assert response.set_cookies == []
        assert calls == []

    def test_store_failure_on_commit_is_a_503_and_drops_the_body(self) -> None:
        """A store down while saving sends a 503 instead of the app's streamed response."""
        store = AsyncSwitchStore()
        store.sync.broken = True

        async def stream(request: Request) -> StreamingResponse:
            request.session["blob"] = "x" * 9000

            async def chunks() -> AsyncIterator[bytes]:
                for _ in range(3):
                    yield b"app body"

            return StreamingResponse(chunks(), headers={"x-app": "1"})

        app = Starlette(
            routes=[Route("/", stream)],
            middleware=[Middleware(SessionMiddleware, RING, store=store)],
        )

        response = client_for(app).get("/")

        assert response.status_code == 503
        assert "set-cookie" not in response.headers
        assert "x-app" not in response.headers
        assert b"app body" not in response.content
        assert response.headers["cache-control"] == "no-store"

    def test_codec_error_at_commit_propagates(self) -> None:
        """A value the codec cannot encode raises (a 500), never drops the cookie."""
        app = SessionMiddleware(raw_asgi_app(), RING)

        with pytest.raises(CodecError):
            run(asgi_request(app, "/bad"))


class TestProtocol:
    def test_several_cookie_header_lines(self) -> None:
        """Every cookie header line of the scope is read: a chunked session split over two."""
        app = SessionMiddleware(raw_asgi_app(), RING, max_total_bytes=12000)
        written = run(asgi_request(app, "/big?n=7000"))
        pairs = [line.partition(";")[0] for line in written.set_cookies]
        assert len(pairs) == 3

        response = run(asgi_request(app, cookies=[f"{pairs[0]}; a=b", f"{pairs[1]}; {pairs[2]}"]))

        assert response.json() == {"blob": "b" * 7000}

    def test_key_rotation_reseals_on_a_read(self) -> None:
        """A cookie under a decrypt-only key is read and re-sealed under the new primary."""
        jar = Browser()
        jar.apply(
            run(asgi_request(SessionMiddleware(raw_asgi_app(), RING), "/set?a=1")).set_cookies
        )
        rotated = ring_of(("b", SECRET_B, "primary"), ("a", SECRET_A, "decrypt"))

        response = run(
            asgi_request(SessionMiddleware(raw_asgi_app(), rotated), cookies=[jar.header()])
        )

        assert response.json() == {"a": "1"}
        assert len(response.set_cookies) == 1
        assert response.get("cache-control") == "private"

    @pytest.mark.parametrize(
        ("scheme", "forwarded", "trust_proxy", "secure"),
        [
            ("http", None, False, False),
            ("https", None, False, True),
            ("http", b"https", False, False),
            ("http", b"https", True, True),
            ("https", b"http", True, False),
        ],
    )
    def test_secure_auto(
        self, scheme: str, forwarded: bytes | None, trust_proxy: bool, secure: bool
    ) -> None:
        """secure="auto" follows scope["scheme"], or x-forwarded-proto with trust_proxy."""
        app = SessionMiddleware(raw_asgi_app(), RING, secure="auto", trust_proxy=trust_proxy)
        headers = [(b"x-forwarded-proto", forwarded)] if forwarded else []

        response = run(asgi_request(app, "/set?a=1", scheme=scheme, headers=headers))

        assert ("; Secure" in response.set_cookies[0]) is secure

    def test_existing_vary_and_cache_control_are_merged(self) -> None:
        """The app's Vary and Cache-Control are kept and extended."""

        async def endpoint(request: Request) -> PlainTextResponse:
            request.session["a"] = 1
            return PlainTextResponse(
                "ok", headers={"vary": "Accept-Encoding", "cache-control": "public, max-age=9"}
            )

        app = Starlette(
            routes=[Route("/", endpoint)], middleware=[Middleware(SessionMiddleware, RING)]
        )

        response = client_for(app).get("/")

        assert response.headers.get_list("vary") == ["Accept-Encoding, Cookie"]
        assert response.headers.get_list("cache-control") == ["private, max-age=9"]

    def test_scope_is_copied_not_mutated(self) -> None:
        """The caller's scope is left as it was (ASGI: middleware copies the scope)."""
        scopes: list[dict[str, Any]] = []

        async def outer(scope: dict[str, Any], receive: Any, send: Any) -> None:
            scopes.append(scope)
            await SessionMiddleware(raw_asgi_app(), RING)(scope, receive, send)

        run(asgi_request(outer))

        assert "session" not in scopes[0]

    def test_lifespan_passes_through(self) -> None:
        """lifespan events reach the app, with no session in the scope."""
        events: list[str] = []

        @asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            events.append("startup")
            yield
            events.append("shutdown")

        app = Starlette(
            routes=ROUTES, lifespan=lifespan, middleware=[Middleware(SessionMiddleware, RING)]
        )
        with client_for(app) as client:
            client.get("/no_session")

        assert events == ["startup", "shutdown"]

    def test_other_scope_types_pass_through(self) -> None:
        """Unknown scope types reach the app untouched."""
        seen: list[Any] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            seen.append(scope)

        scope = {"type": "custom.protocol"}
        run(SessionMiddleware(app, RING)(scope, None, None))  # type: ignore[arg-type]

        assert seen == [scope]

    def test_prebuilt_engine(self) -> None:
        """engine= takes a prebuilt SessionEngine; mixing it with options is refused."""
        engine = SessionEngine(RING, cookie_name="prebuilt")

        response = run(asgi_request(SessionMiddleware(raw_asgi_app(), engine=engine), "/set?a=1"))

        assert response.set_cookies[0].startswith("prebuilt=")
        with pytest.raises(ConfigurationError, match="either engine"):
            SessionMiddleware(raw_asgi_app(), RING, engine=engine)


class TestWebSocket:
    def app(self) -> Starlette:
        async def login(request: Request) -> PlainTextResponse:
            request.session["user"] = "alice"
            return PlainTextResponse("ok")

        async def ws(websocket: WebSocket) -> None:
            await websocket.accept()
            session = websocket.session
            await websocket.send_json({"type": type(session).__name__, "user": session.get("user")})
            try:
                session["user"] = "mallory"
            except TypeError as exc:
                await websocket.send_text(str(exc))
            await websocket.close()

        return Starlette(
            routes=[Route("/login", login), WebSocketRoute("/ws", ws)],
            middleware=[Middleware(SessionMiddleware, RING, secure=False)],
        )

    def test_websocket_session_is_read_only(self) -> None:
        """A WebSocket sees the session read-only; a write raises a clear TypeError."""
        client = client_for(self.app())
        client.get("/login")

        with client.websocket_connect("/ws") as websocket:
            first = websocket.receive_json()
            error = websocket.receive_text()

        assert first == {"type": WebSocketSession.__name__, "user": "alice"}
        assert "read-only in WebSocket" in error

    def test_websocket_store_failure_refuses_the_handshake(self) -> None:
        """A store down while a WebSocket opens closes it with 1011, the app never runs."""
        store = AsyncSwitchStore()
        jar = Browser()
        writer = SessionMiddleware(raw_asgi_app(), RING, store=store)
        jar.apply(run(asgi_request(writer, "/big?n=9000")).set_cookies)
        store.sync.broken = True
        sent: list[Any] = []
        called: list[str] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            called.append("app")  # pragma: no cover

        async def receive() -> dict[str, Any]:
            return {"type": "websocket.connect"}

        async def send(message: Any) -> None:
            sent.append(message)

        scope = {"type": "websocket", "headers": [(b"cookie", jar.header().encode())]}
        run(SessionMiddleware(app, RING, store=store)(scope, receive, send))

        assert sent == [{"type": "websocket.close", "code": 1011}]
        assert called == []


# -- an app that replaces scope["session"] (issue 14) --------------------------


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
    jar = Browser()
    writer = app if app is not None else SessionMiddleware(raw_asgi_app(), RING)
    jar.apply(run(asgi_request(writer, path)).set_cookies)
    return jar


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
