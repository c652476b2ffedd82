"""Lifecycle rules through the real adapters: what an attacker or operator reaches over HTTP.

Legacy cookies are checked by `generation_check`; a raising hook is a fresh
session, never a 500; a valid cookie wins over junk or a legacy cookie of the
same name whatever the header order; a lowered timeout ends older sessions.
"""

from __future__ import annotations

import warnings
from typing import Any

import flask
import pytest
from werkzeug.test import Client

from cookiesess.flask import CookieSessionInterface
from cookiesess.legacy import StarletteSessionReader
from cookiesess.wsgi import SessionMiddleware as WSGISessions
from tests.adapters._session_apps import RING, call_wsgi, environ_for, wsgi_app
from tests.engine.test_rules import LEGACY_SECRET, starlette_cookie
from tests.helpers import Browser

pytest.importorskip("starlette")
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cookiesess.asgi import SessionMiddleware as ASGISessions

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

DAY = 24 * 3600


def epochs_check(epochs: dict[str, int]) -> Any:
    def check(session: Any) -> int | None:
        user = session.get("user")
        return None if user is None else epochs.get(user, 0)

    return check


# -- Starlette (ASGI) ------------------------------------------------------------


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"user": request.session.get("user")})


async def login(request: Request) -> JSONResponse:
    request.session["user"] = request.query_params["user"]
    return JSONResponse({"user": request.session["user"]})


def starlette_client(**options: Any) -> TestClient:
    app = Starlette(routes=[Route("/whoami", whoami), Route("/login", login)])
    return TestClient(ASGISessions(app, RING, secure=False, **options))


def test_starlette_legacy_cookie_is_checked_by_generation() -> None:
    epochs = {"alice": 0}
    reasons: list[str] = []
    client = starlette_client(
        migrate_from=[StarletteSessionReader(LEGACY_SECRET)],
        generation_check=epochs_check(epochs),
        on_reject=reasons.append,
    )
    legacy = starlette_cookie({"user": "alice"})
    assert client.get("/whoami", headers={"Cookie": f"session={legacy}"}).json() == {
        "user": "alice"
    }
    epochs["alice"] = 1  # log out everywhere
    response = client.get("/whoami", headers={"Cookie": f"session={legacy}"})
    assert response.json() == {"user": None}
    assert reasons == ["revoked"]


def test_starlette_raising_hook_is_a_fresh_session_not_a_500() -> None:
    reasons: list[str] = []
    client = starlette_client(
        generation_check=lambda s: {"alice": 0}[s["user"]], on_reject=reasons.append
    )
    first = client.get("/login?user=alice")
    cookie = first.headers["set-cookie"].split(";")[0]
    client.cookies.clear()
    bob = client.get("/login?user=bob")  # a user the hook does not know: KeyError
    bob_cookie = bob.headers["set-cookie"].split(";")[0]
    client.cookies.clear()
    assert client.get("/whoami", headers={"Cookie": cookie}).json() == {"user": "alice"}
    response = client.get("/whoami", headers={"Cookie": bob_cookie})
    assert response.status_code == 200
    assert response.json() == {"user": None}
    assert reasons == ["hook_failed"]


@pytest.mark.parametrize("valid_first", [True, False])
def test_starlette_valid_cookie_wins_whatever_the_order(valid_first: bool) -> None:
    client = starlette_client(migrate_from=[StarletteSessionReader(LEGACY_SECRET)])
    cookie = client.get("/login?user=new").headers["set-cookie"].split(";")[0]
    client.cookies.clear()
    others = [f"session={starlette_cookie({'user': 'old'})}", "session=junk"]
    pairs = [cookie, *others] if valid_first else [*others, cookie]
    response = client.get("/whoami", headers={"Cookie": "; ".join(pairs)})
    assert response.json() == {"user": "new"}


# -- plain WSGI ------------------------------------------------------------------


def test_wsgi_lowered_absolute_timeout_ends_older_sessions() -> None:
    now = [1_700_000_000]
    before = WSGISessions(wsgi_app, RING, absolute_timeout=14 * DAY, clock=lambda: now[0])
    jar = Browser()
    jar.apply(call_wsgi(before, environ_for("/set?user=alice")).set_cookies)
    after = WSGISessions(wsgi_app, RING, absolute_timeout=3600, clock=lambda: now[0])
    now[0] += 1800
    assert call_wsgi(after, environ_for("/view", cookie=jar.header())).json() == {"user": "alice"}
    now[0] += 3600
    assert call_wsgi(after, environ_for("/view", cookie=jar.header())).json() == {}


@pytest.mark.parametrize("valid_first", [True, False])
def test_wsgi_valid_cookie_wins_over_junk(valid_first: bool) -> None:
    app = WSGISessions(wsgi_app, RING)
    jar = Browser()
    jar.apply(call_wsgi(app, environ_for("/set?user=alice")).set_cookies)
    pairs = [jar.header(), "session=junk"]
    if not valid_first:
        pairs.reverse()
    response = call_wsgi(app, environ_for("/view", cookie="; ".join(pairs)))
    assert response.json() == {"user": "alice"}


# -- Flask -----------------------------------------------------------------------


def flask_app(**options: Any) -> flask.Flask:
    app = flask.Flask(__name__)
    app.config["SECRET_KEY"] = "flask-legacy-secret-3c5e7a9b1d2f4e6a8c0b"

    @app.get("/whoami")
    def whoami() -> dict[str, Any]:
        return {"user": flask.session.get("user")}

    @app.get("/login/<user>")
    def login(user: str) -> str:
        flask.session["user"] = user
        return "ok"

    if options:
        CookieSessionInterface(keyring=RING, secure=False, **options).init_app(app)
    return app


def test_flask_legacy_cookie_is_checked_by_generation() -> None:
    legacy_app = flask_app()
    client = Client(legacy_app)
    client.get("/login/alice")
    legacy = client.get_cookie("session")
    assert legacy is not None
    epochs = {"alice": 0}
    reasons: list[str] = []
    app = flask_app(
        migrate_from="flask", generation_check=epochs_check(epochs), on_reject=reasons.append
    )

    def fresh_client() -> Client:
        client = Client(app)  # werkzeug's client ignores a Cookie header: set it in its jar
        client.set_cookie("session", legacy.value)
        return client

    assert fresh_client().get("/whoami").json == {"user": "alice"}
    epochs["alice"] = 1
    assert fresh_client().get("/whoami").json == {"user": None}
    assert reasons == ["revoked"]


def test_flask_raising_hook_is_a_fresh_session_not_a_500() -> None:
    reasons: list[str] = []
    app = flask_app(generation_check=lambda s: {"alice": 0}[s["user"]], on_reject=reasons.append)
    client = Client(app)
    client.get("/login/bob")
    response = client.get("/whoami")
    assert response.status_code == 200
    assert response.json == {"user": None}
    assert reasons == ["hook_failed"]
