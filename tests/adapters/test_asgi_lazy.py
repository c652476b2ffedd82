"""cookiesess.asgi.SessionMiddleware(lazy=True): a LazySession opened on first use."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from cookiesess import LazySession
from cookiesess.asgi import SessionMiddleware
from tests.adapters._asgi_support import client_for, cookies_from, run
from tests.adapters._session_apps import RING, AsyncSwitchStore, asgi_request, raw_asgi_app
from tests.helpers import Browser


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
        assert isinstance(seen[0], LazySession)
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
        jar = cookies_from(SessionMiddleware(raw_asgi_app(), RING, store=store), "/big?n=9000")
        app = SessionMiddleware(self.capture_app(seen), RING, store=store, lazy=True)

        run(asgi_request(app, cookies=[jar.header()]))

        assert store.sync.calls == ["set", "get"]
        assert isinstance(seen[0], LazySession)
        assert seen[0]["blob"] == "b" * 9000
