"""cookiesess.asgi.SessionMiddleware with a store: sync and async stores, a failing store's 503."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from cookiesess import CodecError
from cookiesess.asgi import SessionMiddleware
from cookiesess.stores import MemoryStore, ThreadedAsyncStore
from tests.adapters._asgi_support import client_for, cookies_from, run
from tests.adapters._session_apps import (
    RING,
    AsyncSwitchStore,
    SwitchStore,
    asgi_request,
    raw_asgi_app,
)
from tests.helpers import Browser


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
        jar = cookies_from(SessionMiddleware(raw_asgi_app(), RING, store=store), "/big?n=9000")
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
