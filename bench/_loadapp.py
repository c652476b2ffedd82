"""The app `bench/load.py` serves with uvicorn: minimal Starlette, one session middleware.

``BENCH_STACK`` picks the middleware: ``none`` (no sessions), ``cookiesess``
or ``starlette``. Routes: ``/seed?payload=NAME`` stores a benchmark payload
in the session (the load test takes its cookie from there), ``/read`` reads
one key, ``/modify`` sets one; ``/pad?n=N`` answers hello with an N-byte header.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent))

from payloads import PAYLOADS

STACK = os.environ.get("BENCH_STACK", "none")
SECRET = os.environ.get("BENCH_SECRET", "x" * 64)


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def seed(request: Request) -> PlainTextResponse:
    request.session.update(PAYLOADS[request.query_params.get("payload", "tiny")])
    return PlainTextResponse("seeded")


async def read(request: Request) -> PlainTextResponse:
    if STACK == "none":
        return PlainTextResponse("hello")
    return PlainTextResponse(str(request.session["uid"]))


async def pad(request: Request) -> PlainTextResponse:
    """The no-session hello, padded by a header to a given response size (a control)."""
    return PlainTextResponse("hello", headers={"x-pad": "p" * int(request.query_params["n"])})


async def modify(request: Request) -> PlainTextResponse:
    if STACK != "none":
        session = request.session
        session["n"] = session.get("n", 0) + 1
    return PlainTextResponse("hello")


def _middleware() -> list[Middleware]:
    if STACK == "cookiesess":
        from cookiesess import Keyring
        from cookiesess.asgi import SessionMiddleware

        keyring = Keyring.from_text(os.environ["BENCH_KEYS"])
        # secure=False: the load test speaks plain HTTP on loopback.
        return [Middleware(SessionMiddleware, keyring=keyring, secure=False)]
    if STACK == "starlette":
        from starlette.middleware.sessions import SessionMiddleware

        return [Middleware(SessionMiddleware, secret_key=SECRET)]
    return []


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/seed", seed),
        Route("/read", read),
        Route("/modify", modify),
        Route("/pad", pad),
    ],
    middleware=_middleware(),
)
