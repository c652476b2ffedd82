"""Apps, stores and protocol helpers shared by the WSGI and ASGI adapter tests."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from cookiesess import StoreError
from cookiesess.stores import MemoryStore
from cookiesess.wsgi import ENVIRON_KEY
from tests.helpers import SECRET_A, SECRET_B, ring_of

RING = ring_of(("a", SECRET_A, "primary"))
# Same key id, another secret: its tokens fail authentication under RING.
OTHER_RING = ring_of(("a", SECRET_B, "primary"))


class SwitchStore:
    """A synchronous store over a MemoryStore that fails on demand, counting calls."""

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.broken = False
        self.calls: list[str] = []
        self.threads: set[int] = set()

    def _check(self, op: str) -> None:
        self.calls.append(op)
        self.threads.add(threading.get_ident())
        if self.broken:
            raise StoreError(f"{op}: store is down")

    def get(self, key: str) -> bytes | None:
        self._check("get")
        return self.inner.get(key)

    def set(self, key: str, value: bytes, ttl: int) -> None:
        self._check("set")
        self.inner.set(key, value, ttl)

    def delete(self, key: str) -> None:
        self._check("delete")
        self.inner.delete(key)

    def touch(self, key: str, ttl: int) -> bool:
        self._check("touch")
        return self.inner.touch(key, ttl)


class AsyncSwitchStore:
    """The asyncio twin of `SwitchStore`."""

    def __init__(self) -> None:
        self.sync = SwitchStore()

    async def get(self, key: str) -> bytes | None:
        return self.sync.get(key)

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        self.sync.set(key, value, ttl)

    async def delete(self, key: str) -> None:
        self.sync.delete(key)

    async def touch(self, key: str, ttl: int) -> bool:
        return self.sync.touch(key, ttl)


# -- a WSGI app exercising the session ---------------------------------------


def act_on_session(session: MutableMapping[str, Any], path: str, query: str) -> bytes | None:
    """Apply the route's session action; return the JSON body, or None to ignore it."""
    params = dict(parse_qsl(query))
    if path == "/ignore":
        return None
    if path == "/set":
        for key, value in params.items():
            session[key] = value
    elif path == "/big":
        session["blob"] = "b" * int(params["n"])
    elif path == "/clear":
        session.clear()
    elif path == "/destroy":
        session.destroy()  # type: ignore[attr-defined]
    elif path == "/bad":
        session["bad"] = object()
        return b"{}"
    return json.dumps(dict(session), sort_keys=True).encode()


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Routes: /view /set?k=v /big?n= /clear /destroy /ignore /bad."""
    session = environ[ENVIRON_KEY]
    body = act_on_session(session, environ["PATH_INFO"], environ.get("QUERY_STRING", ""))
    if body is None:
        body = b"ignored"
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


@dataclasses.dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def get_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None

    @property
    def set_cookies(self) -> list[str]:
        return self.get_all("set-cookie")

    def json(self) -> Any:
        return json.loads(self.body)


def environ_for(
    path: str = "/view",
    *,
    cookie: str | None = None,
    scheme: str = "http",
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    from wsgiref.util import setup_testing_defaults

    path, _, query = path.partition("?")
    environ: dict[str, Any] = {"PATH_INFO": path, "QUERY_STRING": query}
    if cookie is not None:
        environ["HTTP_COOKIE"] = cookie
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    setup_testing_defaults(environ)
    environ["wsgi.url_scheme"] = scheme
    return environ


def call_wsgi(app: Callable[..., Iterable[bytes]], environ: dict[str, Any]) -> Response:
    """Call a WSGI app like a server would, closing the body."""
    started: list[tuple[str, list[tuple[str, str]]]] = []
    written: list[bytes] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None and started and written:
            raise exc_info[1].with_traceback(exc_info[2])
        started.append((status, headers))
        return written.append

    body = app(environ, start_response)
    try:
        for chunk in body:
            written.append(chunk)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    status, headers = started[-1]
    return Response(int(status.split()[0]), list(headers), b"".join(written))


# -- raw ASGI --------------------------------------------------------------


async def asgi_request(
    app: Callable[..., Any],
    path: str = "/view",
    *,
    cookies: Iterable[str] = (),
    scheme: str = "http",
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> Response:
    """Run one HTTP request through an ASGI app and collect the response."""
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": scheme,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"cookie", c.encode("latin-1")) for c in cookies] + list(headers),
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}  # pragma: no cover

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    assert start["type"] == "http.response.start"
    body = b"".join(m.get("body", b"") for m in sent[1:] if m["type"] == "http.response.body")
    headers_out = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]]
    return Response(start["status"], headers_out, body)


def raw_asgi_app() -> Callable[..., Any]:
    """A plain ASGI app: applies the /route action to scope["session"], answers JSON."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        session = scope["session"]
        body = act_on_session(session, scope["path"], scope["query_string"].decode())
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body or b"ignored"})

    return app
