"""A Litestar JSON API with a cookie session: a counter, log in and log out.

Run (from the repository root):  uvicorn examples.litestar_app:app
then try ``curl -c jar -b jar http://127.0.0.1:8000/`` and
``curl -c jar -b jar -X POST -H 'content-type: application/json'
-d '{"user": "alice"}' http://127.0.0.1:8000/login``. Keys come from
COOKIESESS_KEYS (``python -m cookiesess keygen``); without it a throwaway key is used.

Litestar reads ``request.session`` from the ASGI scope, where the middleware
puts it; ``request.set_session(...)`` and ``request.clear_session()`` replace
it, and the middleware commits whatever the scope holds when the response starts.
"""

# No `from __future__ import annotations`: Litestar and msgspec read the
# annotations below at run time.
import os
import sys
from typing import Annotated, Any, cast

import msgspec
from litestar import Litestar, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.middleware import DefineMiddleware
from litestar.params import Body

from cookiesess import Keyring, Session
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


class Login(msgspec.Struct):
    user: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


def session_of(request: Request[Any, Any, Any]) -> Session:
    """``request.session``, typed: Litestar declares it a plain dict."""
    return cast(Session, request.session)


@get("/")
async def home(request: Request[Any, Any, Any]) -> dict[str, Any]:
    session = request.session
    session["count"] = session.get("count", 0) + 1
    return {"count": session["count"], "user": session.get("user")}


@post("/login")
async def login(
    request: Request[Any, Any, Any],
    data: Annotated[Login, Body(media_type=RequestEncodingType.JSON)],
) -> dict[str, Any]:
    session_of(request).regenerate()  # a new session id at login (no session fixation)
    request.set_session({"user": data.user})  # replaces the data, as Litestar documents
    return {"user": data.user}


@post("/logout")
async def logout(request: Request[Any, Any, Any]) -> dict[str, Any]:
    request.clear_session()  # expires every session cookie (and a store record)
    return {"user": None}


# secure="auto": Secure cookies over https, plain ones on http://127.0.0.1.
app = Litestar(
    route_handlers=[home, login, logout],
    middleware=[DefineMiddleware(SessionMiddleware, keyring=dev_keyring(), secure="auto")],
)
