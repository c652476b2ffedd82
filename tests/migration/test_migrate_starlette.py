"""Migrating a Starlette app from ``starlette.middleware.sessions`` to cookiesess.

A real Starlette app with Starlette's ``SessionMiddleware`` logs a user in; the
same test client (httpx, with its real cookie jar) then talks to the app
switched to ``cookiesess.asgi.SessionMiddleware(migrate_from=[...])``.
"""

from __future__ import annotations

import datetime as dt
import time
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("starlette")

from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware as StarletteSessions
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from cookiesess import ConfigurationError
from cookiesess.asgi import SessionMiddleware
from cookiesess.legacy import StarletteSessionReader
from cookiesess.stores import SQLiteStore
from tests.helpers import SECRET_A, ring_of
from tests.migration._support import (
    SwitchableASGI,
    flip_last,
    jar,
    opens,
    sent_cookies,
    set_cookies,
    set_value,
)

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 when only httpx is installed; the client works the same.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

SECRET = "starlette-migration-8d4f0a2c6e1b9d7f3a5c"
NEW_SECRET = "starlette-migration-1e7b3d9f5a0c8e2d6b4f"
DAY = 24 * 3600
RING = ring_of(("k1", SECRET_A, "primary"))


async def login(request: Request) -> PlainTextResponse:
    request.session["user"] = request.query_params.get("user", "alice")
    request.session["roles"] = ["admin", "dev"]
    request.session["profile"] = {"id": 7, "ratio": 0.5, "active": True, "nick": None}
    return PlainTextResponse("ok")


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"user": request.session.get("user", ""), "session": request.session})


async def ignore(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ignored")


ROUTES = [
    Route("/login", login, methods=["POST"]),
    Route("/whoami", whoami),
    Route("/ignore", ignore),
]


def legacy_app(secret: str = SECRET) -> Starlette:
    return Starlette(routes=ROUTES, middleware=[Middleware(StarletteSessions, secret_key=secret)])


def switched(reasons: list[str] | None = None, **options: Any) -> Starlette:
    """The same app on cookiesess, migrating Starlette's cookies."""
    options.setdefault("migrate_from", [StarletteSessionReader(SECRET)])
    if reasons is not None:
        options["on_reject"] = reasons.append
    return Starlette(routes=ROUTES, middleware=[Middleware(SessionMiddleware, RING, **options)])


@pytest.fixture
def switch() -> SwitchableASGI:
    return SwitchableASGI(legacy_app())


@pytest.fixture
def client(switch: SwitchableASGI) -> TestClient:
    """A client logged in as alice by Starlette's session middleware (over HTTPS)."""
    client = TestClient(switch, base_url="https://testserver")
    assert client.post("/login").text == "ok"
    assert client.get("/whoami").json()["user"] == "alice"
    return client


def engine_of(app: Starlette) -> Any:
    stack = app.build_middleware_stack()
    while not isinstance(stack, SessionMiddleware):
        stack = stack.app
    return stack.engine


EXPECTED = {
    "user": "alice",
    "roles": ["admin", "dev"],
    "profile": {"id": 7, "ratio": 0.5, "active": True, "nick": None},
}


def test_logged_in_user_survives_the_switch(switch: SwitchableASGI, client: TestClient) -> None:
    """Same JSON data; our cookie replaces Starlette's; the next request sends ours only."""
    ((_, _, legacy),) = jar(client)
    app = switch.current = switched()

    first = client.get("/whoami")
    second = client.get("/whoami")

    assert first.json() == {"user": "alice", "session": EXPECTED}
    assert sent_cookies(first) == f"session={legacy}"
    (line,) = set_cookies(first)
    assert line.startswith("session=")
    assert line.endswith("; Path=/; Secure; HttpOnly; SameSite=Lax")
    ((name, path, value),) = jar(client)
    assert (name, path) == ("session", "/")
    assert opens(engine_of(app), "session", value) == EXPECTED
    assert second.json() == first.json()
    assert sent_cookies(second) == f"session={value}"
    assert set_cookies(second) == []


def test_legacy_cookie_under_another_name_is_expired(
    switch: SwitchableASGI, client: TestClient
) -> None:
    """With cookie_name="__Host-session", Starlette's cookie is expired with its attributes."""
    switch.current = switched(cookie_name="__Host-session")

    first = client.get("/whoami")
    second = client.get("/whoami")

    assert first.json()["user"] == "alice"
    assert (
        "session=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly; "
        "SameSite=Lax" in set_cookies(first)
    )
    assert [name for name, _, _ in jar(client)] == ["__Host-session"]
    assert "session=" not in sent_cookies(second).replace("__Host-session=", "")
    assert second.json()["user"] == "alice"


@pytest.mark.parametrize("store", [False, True], ids=["no store", "a store to await"])
@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_legacy_cookie_moves_over_on_a_request_that_never_touches_the_session(
    switch: SwitchableASGI, client: TestClient, lazy: bool, store: bool, tmp_path: Path
) -> None:
    """An app that ignores the session still migrates it and expires the legacy cookie,
    with ``lazy=True`` too (the WSGI middleware does the same)."""
    options: dict[str, Any] = {"store": SQLiteStore(tmp_path / "s.db")} if store else {}
    app = switch.current = switched(cookie_name="__Host-session", lazy=lazy, **options)

    response = client.get("/ignore")

    assert response.text == "ignored"
    ((name, _, value),) = jar(client)
    assert name == "__Host-session"
    assert opens(engine_of(app), "__Host-session", value) == EXPECTED
    assert set_cookies(client.get("/ignore")) == []


def test_tampered_legacy_cookie_gives_a_fresh_session(
    switch: SwitchableASGI, client: TestClient
) -> None:
    """One character changed: not logged in, reason legacy_rejected, nothing written."""
    set_value(client, "session", flip_last)
    reasons: list[str] = []
    switch.current = switched(reasons)

    response = client.get("/whoami")

    assert response.json() == {"user": "", "session": {}}
    assert reasons == ["legacy_rejected"]
    assert set_cookies(response) == []


def test_expired_legacy_cookie_gives_a_fresh_session(
    switch: SwitchableASGI, client: TestClient
) -> None:
    """Past Starlette's max_age (14 days by default) the cookie is refused, as Starlette would."""
    reasons: list[str] = []
    switch.current = switched(reasons, clock=lambda: time.time() + 15 * DAY)

    assert client.get("/whoami").json()["user"] == ""
    assert reasons == ["legacy_rejected"]


def test_wrong_secret_gives_a_fresh_session(switch: SwitchableASGI, client: TestClient) -> None:
    """A reader keyed with another secret rejects the cookie."""
    reasons: list[str] = []
    switch.current = switched(reasons, migrate_from=[StarletteSessionReader(NEW_SECRET)])

    assert client.get("/whoami").json()["user"] == ""
    assert reasons == ["legacy_rejected"]


def test_old_secret_as_a_second_reader(switch: SwitchableASGI, client: TestClient) -> None:
    """Starlette has no fallback keys; a second reader of the same cookie plays that part."""
    reasons: list[str] = []
    readers = [StarletteSessionReader(NEW_SECRET), StarletteSessionReader(SECRET)]
    switch.current = switched(reasons, migrate_from=readers)

    assert client.get("/whoami").json() == {"user": "alice", "session": EXPECTED}
    assert reasons == []


def test_cookiesess_cookie_wins_over_a_legacy_one(switch: SwitchableASGI) -> None:
    """Both cookies sent: ours is used and the legacy one is expired."""
    client = TestClient(switch, base_url="https://testserver")
    client.post("/login?user=alice")
    new_app = switched(cookie_name="cs")
    switch.current = new_app
    client.get("/whoami")  # alice migrated into "cs"
    switch.current = legacy_app()  # a host still on Starlette sessions logs bob in
    client.post("/login?user=bob")
    assert [name for name, _, _ in jar(client)] == ["cs", "session"]
    switch.current = new_app

    first = client.get("/whoami")
    second = client.get("/whoami")

    assert first.json()["user"] == "alice"
    assert any(line.startswith("session=; Max-Age=0;") for line in set_cookies(first))
    assert [name for name, _, _ in jar(client)] == ["cs"]
    assert second.json()["user"] == "alice"
    assert "session=" not in sent_cookies(second)


def test_deadline_passed_ignores_legacy_cookies(switch: SwitchableASGI, client: TestClient) -> None:
    """After migrate_until the cookie is not read: a fresh session, no rejection."""
    reasons: list[str] = []
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    switch.current = switched(reasons, migrate_until=past)

    assert client.get("/whoami").json()["user"] == ""
    assert reasons == []


def test_a_single_reader_object_is_accepted() -> None:
    """migrate_from takes one reader as well as a list; names are refused here."""
    reader = StarletteSessionReader(SECRET)

    assert engine_of(switched(migrate_from=reader)).config.migrate_from == (reader,)
    with pytest.raises(ConfigurationError, match="pass reader objects"):
        SessionMiddleware(legacy_app(), RING, migrate_from="starlette")


def test_wsgi_middleware_migrates_too() -> None:
    """cookiesess.wsgi takes the same option (here: a Starlette cookie, read by a WSGI app)."""
    from cookiesess.wsgi import SessionMiddleware as WSGISessionMiddleware

    legacy = TestClient(legacy_app(), base_url="https://testserver")
    legacy.post("/login")

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        user = environ["cookiesess.session"].get("user", "")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [user.encode()]

    wrapped = WSGISessionMiddleware(app, RING, migrate_from=StarletteSessionReader(SECRET))
    client = httpx.Client(
        transport=httpx.WSGITransport(app=wrapped),
        base_url="https://testserver",
        cookies=legacy.cookies,
    )

    response = client.get("/")

    assert response.text == "alice"
    assert [name for name, _, _ in jar(client)] == ["session"]
    assert client.get("/").request.headers["cookie"] != sent_cookies(response)
