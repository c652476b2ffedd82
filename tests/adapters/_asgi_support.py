"""Shared by the ASGI adapter tests: the Starlette app of Starlette's own session tests, run()."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from cookiesess.asgi import SessionMiddleware
from tests.adapters._session_apps import RING, asgi_request
from tests.helpers import Browser


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


def cookies_from(app: Any, path: str) -> Browser:
    """A browser holding the cookies `app` set in answer to `path`."""
    jar = Browser()
    jar.apply(run(asgi_request(app, path)).set_cookies)
    return jar
