"""A plain WSGI app with a cookie session: a visit counter, log in and log out.

Run (from the repository root):  python examples/wsgi_app.py
then open http://127.0.0.1:8000/ . Keys come from COOKIESESS_KEYS (generate
one with ``python -m cookiesess keygen``); without it a throwaway key is used.
"""

from __future__ import annotations

import html
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import make_server

from cookiesess import Keyring
from cookiesess.wsgi import ENVIRON_KEY, SessionMiddleware


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


PAGE = """<!doctype html><title>cookiesess WSGI example</title>
<p>Visits in this session: {count}</p>
{user}
"""
LOGIN = """<form method=post action=/login><input name=user placeholder=name>
<button>Log in</button></form>"""
LOGOUT = """<p>Logged in as <b>{name}</b></p>
<form method=post action=/logout><button>Log out</button></form>"""


def site(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    session = environ[ENVIRON_KEY]
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    if method == "POST" and path == "/login":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        form = parse_qs(environ["wsgi.input"].read(min(length, 4096)).decode())
        session.regenerate()  # a new session id at login (no session fixation)
        session["user"] = form.get("user", ["guest"])[0][:64]
        return redirect(start_response)
    if method == "POST" and path == "/logout":
        session.destroy()
        return redirect(start_response)
    if path != "/":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    session["count"] = session.get("count", 0) + 1
    user = session.get("user")
    body = PAGE.format(
        count=session["count"],
        user=LOGIN if user is None else LOGOUT.format(name=html.escape(user)),
    )
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [body.encode()]


def redirect(start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("303 See Other", [("Location", "/")])
    return [b""]


# secure="auto": Secure cookies over https, plain ones on http://127.0.0.1.
app = SessionMiddleware(site, dev_keyring(), secure="auto")

if __name__ == "__main__":
    with make_server("127.0.0.1", 8000, app) as server:
        print("serving on http://127.0.0.1:8000/", file=sys.stderr)
        server.serve_forever()
