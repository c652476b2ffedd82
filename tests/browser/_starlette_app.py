"""A small Starlette app behind cookiesess's ASGI middleware, for the browser tests.

Run as ``python _starlette_app.py PORT``. The budget (16000 bytes in total)
lets a 10 KB session travel in three chunks; past it the data moves to a
`MemoryStore`. ``POST /rotate`` swaps the engine's keyring live.
"""

from __future__ import annotations

import os
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from cookiesess import InvalidToken, Keyring
from cookiesess._b64 import decode as b64decode
from cookiesess.asgi import SessionMiddleware
from cookiesess.cookies import parse_cookie_header
from cookiesess.keys import Key
from cookiesess.stores import MemoryStore

KEYS = iter(range(1, 1000))


def new_key(state: str = "primary") -> Key:
    return Key(f"s{next(KEYS)}", os.urandom(32), state)  # type: ignore[arg-type]


async def page(request: Request) -> HTMLResponse:
    user = request.session.get("user", "")
    return HTMLResponse(f"<!doctype html><title>starlette</title><p id='user'>{user}</p>")


async def data(request: Request) -> JSONResponse:
    cookies = parse_cookie_header(request.headers.get("cookie", ""))
    try:
        found = app.engine.inspect(cookies, fetch=False)
    except InvalidToken as exc:
        return JSONResponse({"data": request.session, "rejected": exc.reason})
    facts = None if found is None else {"mode": found.mode, "key_id": found.key_id}
    return JSONResponse({"data": request.session, "cookie": facts})


async def replace(request: Request) -> Response:
    body = await request.json()
    request.session.clear()
    request.session.update(body)
    return Response(status_code=204)


async def logout(request: Request) -> Response:
    request.session.destroy()
    return Response(status_code=204)


async def rotate(request: Request) -> JSONResponse:
    old = app.engine.keyring.primary
    demoted = Key(old.id, b64decode(old.secret_b64()), "decrypt")
    app.engine.keyring = Keyring([new_key(), demoted])
    return JSONResponse({"primary": app.engine.keyring.primary.id})


routes = [
    Route("/", page),
    Route("/data", data),
    Route("/data", replace, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/rotate", rotate, methods=["POST"]),
]
# secure=False: the tests speak plain http to 127.0.0.1.
app = SessionMiddleware(
    Starlette(routes=routes),
    keyring=Keyring([new_key()]),
    secure=False,
    max_total_bytes=16000,
    store=MemoryStore(),
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
