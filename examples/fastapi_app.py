"""A FastAPI JSON API with a cookie session: a counter, log in and log out.

Run (from the repository root):  uvicorn examples.fastapi_app:app
then try ``curl -c jar -b jar http://127.0.0.1:8000/`` and
``curl -c jar -b jar -X POST -H 'content-type: application/json'
-d '{"user": "alice"}' http://127.0.0.1:8000/login``. Keys come from
COOKIESESS_KEYS (``python -m cookiesess keygen``); without it a throwaway key is used.
"""

from __future__ import annotations

import os
import sys
from typing import Any, cast

from fastapi import FastAPI, Request
from pydantic import BaseModel, Field

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


class Login(BaseModel):
    user: str = Field(min_length=1, max_length=64)


app = FastAPI(title="cookiesess FastAPI example")
# The same place as Starlette's SessionMiddleware: request.session works unchanged.
app.add_middleware(SessionMiddleware, keyring=dev_keyring(), secure="auto")


def session_of(request: Request) -> Session:
    """``request.session``, typed: Starlette declares it a plain dict."""
    return cast(Session, request.session)


@app.get("/")
def home(request: Request) -> dict[str, Any]:
    session = session_of(request)
    session["count"] = session.get("count", 0) + 1
    return {"count": session["count"], "user": session.get("user")}


@app.post("/login")
def login(body: Login, request: Request) -> dict[str, Any]:
    session = session_of(request)
    session.regenerate()  # a new session id at login (no session fixation)
    session["user"] = body.user
    return {"user": body.user}


@app.post("/logout")
def logout(request: Request) -> dict[str, Any]:
    session_of(request).destroy()  # empties the session and expires its cookies
    return {"user": None}
