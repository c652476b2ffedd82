"""cookiesess.asgi.SessionMiddleware on WebSockets: a read-only session, a store outage."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from cookiesess.asgi import SessionMiddleware
from cookiesess.session import WebSocketSession
from tests.adapters._asgi_support import client_for, cookies_from, run
from tests.adapters._session_apps import RING, AsyncSwitchStore, raw_asgi_app


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
        jar = cookies_from(SessionMiddleware(raw_asgi_app(), RING, store=store), "/big?n=9000")
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
