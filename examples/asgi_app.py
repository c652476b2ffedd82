"""A plain ASGI app (no framework) with a cookie session: a counter, log in and out.

Run (from the repository root):  uvicorn examples.asgi_app:app
then open http://127.0.0.1:8000/ . Keys come from COOKIESESS_KEYS (generate
one with ``python -m cookiesess keygen``); without it a throwaway key is used.
"""

from __future__ import annotations

import html
import os
import sys
from typing import Any
from urllib.parse import parse_qs

from cookiesess import Keyring
from cookiesess.asgi import SessionMiddleware


def dev_keyring() -> Keyring:
    """The configured keys, or a throwaway key for local development (with a warning)."""
    if os.environ.get("COOKIESESS_KEYS") or os.environ.get("COOKIESESS_KEYS_FILE"):
        return Keyring.from_env()
    print(
        "warning: COOKIESESS_KEYS is not set; using a throwaway development key "
        "(sessions end when the process restarts)",
        file=sys.stderr,
    )
    return Keyring.generate("dev")


LOGIN = """<form method=post action=/login><input name=user placeholder=name>
<button>Log in</button></form>"""
LOGOUT = """<p>Logged in as <b>{name}</b></p>
<form method=post action=/logout><button>Log out</button></form>"""


async def site(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    session = scope["session"]
    path, method = scope["path"], scope["method"]
    if method == "POST" and path == "/login":
        form = parse_qs((await read_body(receive)).decode())
        session.regenerate()  # a new session id at login (no session fixation)
        session["user"] = form.get("user", ["guest"])[0][:64]
        await respond(send, 303, b"", [(b"location", b"/")])
    elif method == "POST" and path == "/logout":
        session.destroy()
        await respond(send, 303, b"", [(b"location", b"/")])
    elif path == "/":
        session["count"] = session.get("count", 0) + 1
        user = session.get("user")
        body = f"<!doctype html><p>Visits in this session: {session['count']}</p>" + (
            LOGIN if user is None else LOGOUT.format(name=html.escape(user))
        )
        await respond(send, 200, body.encode(), [(b"content-type", b"text/html; charset=utf-8")])
    else:
        await respond(send, 404, b"not found", [(b"content-type", b"text/plain")])


async def read_body(receive: Any, limit: int = 4096) -> bytes:
    body = b""
    while True:
        message = await receive()
        chunk: bytes = message.get("body", b"")
        body += chunk
        if not message.get("more_body") or len(body) > limit:
            return body[:limit]


async def respond(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# secure="auto": Secure cookies over https, plain ones on http://127.0.0.1.
app = SessionMiddleware(site, dev_keyring(), secure="auto")
