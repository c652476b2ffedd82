"""Apps for the system tests: one set of routes behind both middlewares.

Imported in-process by the concurrency tests and by the server subprocesses
of the fault tests (``tests.system._apps``, with the repo root on PYTHONPATH):
``uvicorn --factory tests.system._apps:asgi_from_env`` and
``gunicorn 'tests.system._apps:wsgi_from_env()'``. In a subprocess the keys
come from ``COOKIESESS_KEYS`` and the store from ``SYSTEM_STORE``: a Redis URL
or ``sqlite:PATH``. Plain http, hence ``secure=False``.

Routes (query parameters in brackets), each answering JSON with the session
id, whether it is new, what the request read and what it left:

- ``/read``: nothing changes.
- ``/write`` [owner, pad]: the session becomes ``{"owner", "n": 0, "writes": [],
  "pad"}``; ``pad`` characters of padding derived from the owner (a session
  past the cookie budget lives in the store).
- ``/inc`` [w, pad, delay]: ``n += 1`` and ``w`` appended to ``writes``; with
  ``pad`` the padding is resized (``pad=0`` removes it: the session shrinks
  back into the cookie); ``delay`` seconds of sleep before the change.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cookiesess import Keyring
from cookiesess.asgi import SessionMiddleware as ASGISessionMiddleware
from cookiesess.stores import AsyncRedisStore, RedisStore, SQLiteStore
from cookiesess.wsgi import ENVIRON_KEY
from cookiesess.wsgi import SessionMiddleware as WSGISessionMiddleware

STORE_MODE_PAD = 9000
"""Padding that takes a session past the default 6000-byte cookie budget."""


def padding(owner: str, size: int) -> str:
    """Return `size` characters that name `owner` throughout (a crossed record shows)."""
    unit = owner + "|"
    return (unit * (size // len(unit) + 1))[:size]


def state(session: MutableMapping[str, Any]) -> dict[str, Any]:
    """The part of the session the tests compare: owner, counter, writes, pad intact."""
    pad = session.get("pad", "")
    owner = session.get("owner")
    return {
        "owner": owner,
        "n": session.get("n"),
        "writes": list(session.get("writes", [])),
        "pad": len(pad),
        "pad_ok": pad == padding(str(owner), len(pad)),
    }


def delay_of(query: str) -> float:
    """The ``delay`` parameter: seconds to sleep between the load and the change."""
    return float(dict(parse_qsl(query)).get("delay", "0"))


def act(session: Any, path: str, query: str) -> dict[str, Any]:
    """Apply the route to the session; return the JSON body."""
    params = dict(parse_qsl(query))
    body: dict[str, Any] = {"id": session.id, "new": session.new, "read": state(session)}
    if path == "/write":
        owner = params["owner"]
        session.clear()
        session.update(owner=owner, n=0, writes=[], pad=padding(owner, int(params.get("pad", "0"))))
    elif path == "/inc":
        session["n"] = session.get("n", 0) + 1
        session["writes"] = [*session.get("writes", []), params["w"]]
        if "pad" in params:
            size = int(params["pad"])
            if size:
                session["pad"] = padding(str(session.get("owner")), size)
            else:
                session.pop("pad", None)
    body["wrote"] = state(session)
    return body


def make_wsgi_app(store: Any, keyring: Keyring | None = None) -> WSGISessionMiddleware:
    """Our WSGI middleware with `store` around the routes."""

    def inner(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        query = environ.get("QUERY_STRING", "")
        delay = delay_of(query)
        if delay:
            time.sleep(delay)  # the session was loaded before, and is committed after
        body = act(environ[ENVIRON_KEY], environ["PATH_INFO"], query)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    return WSGISessionMiddleware(inner, keyring, store=store, secure=False)


def make_asgi_app(store: Any, keyring: Keyring | None = None) -> Starlette:
    """A Starlette app with our ASGI middleware and `store` around the routes."""

    async def endpoint(request: Request) -> Response:
        query = request.url.query
        delay = delay_of(query)
        if delay:
            await asyncio.sleep(delay)
        body = act(request.session, "/" + request.path_params["action"], query)
        return Response(json.dumps(body), media_type="application/json")

    return Starlette(
        routes=[Route("/{action}", endpoint)],
        middleware=[Middleware(ASGISessionMiddleware, keyring=keyring, store=store, secure=False)],
    )


def _store_from_env(*, asynchronous: bool) -> Any:
    target = os.environ["SYSTEM_STORE"]
    if target.startswith("sqlite:"):
        return SQLiteStore(target.removeprefix("sqlite:"))
    return AsyncRedisStore(target) if asynchronous else RedisStore(target)


def wsgi_from_env() -> WSGISessionMiddleware:
    """The WSGI app a gunicorn subprocess serves (store from ``SYSTEM_STORE``)."""
    return make_wsgi_app(_store_from_env(asynchronous=False))


def asgi_from_env() -> Starlette:
    """The ASGI app a uvicorn subprocess serves (``AsyncRedisStore`` from ``SYSTEM_STORE``)."""
    return make_asgi_app(_store_from_env(asynchronous=True))
