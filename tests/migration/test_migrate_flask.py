"""Migrating a Flask app from its default session to cookiesess, one client throughout.

A real Flask app with Flask's own ``SecureCookieSessionInterface`` logs a user
in; the same httpx client (with its real cookie jar) then talks to the same
app switched to ``CookieSessionInterface(migrate_from="flask")``.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

import httpx
import pytest

flask = pytest.importorskip("flask")

from markupsafe import Markup  # noqa: E402

from cookiesess import ConfigurationError  # noqa: E402
from cookiesess.flask import CookieSessionInterface  # noqa: E402
from cookiesess.legacy import FlaskSessionReader  # noqa: E402
from tests.migration._support import (  # noqa: E402
    SwitchableWSGI,
    flip_last,
    jar,
    opens,
    sent_cookies,
    set_cookies,
    set_value,
)

SECRET = "flask-migration-Jr7Qx2Lm9Wc4Tz8Kp1Vb6Nd3Hs5Gf0Ya"
NEW_SECRET = "flask-migration-Ue3Rk8Xo1Mq6Zi4Cw9Bj2Tl7Pv5Sa0Hd"
AT = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
DAY = 24 * 3600


@pytest.fixture(autouse=True)
def _no_ambient_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COOKIESESS_KEYS", raising=False)
    monkeypatch.delenv("COOKIESESS_KEYS_FILE", raising=False)


def make_app(**config: Any) -> flask.Flask:
    """The app: a login writing Flask's tagged types, views reporting or ignoring the session."""
    app = flask.Flask(__name__)
    app.config.update({"SECRET_KEY": SECRET, **config})

    @app.post("/login")
    @app.post("/app/login")
    def login() -> str:
        flask.session.permanent = True
        flask.session["user"] = flask.request.args.get("user", "alice")
        flask.session["cart"] = (1, 2)
        flask.session["note"] = Markup("<b>hi</b>")
        flask.session["uid"] = uuid.UUID(int=5)
        flask.session["raw"] = b"\x00\xff"
        flask.session["at"] = AT
        return "ok"

    @app.post("/remember")
    def remember() -> str:
        flask.session.permanent = True  # Flask writes a cookie holding only this flag
        return "ok"

    @app.get("/ping")
    def ping() -> str:
        return "pong"

    @app.get("/whoami")
    @app.get("/app/whoami")
    def whoami() -> dict[str, Any]:
        session = flask.session
        return {
            "user": session.get("user", ""),
            "permanent": session.permanent,
            "types": {key: type(value).__name__ for key, value in session.items()},
        }

    return app


def switched(reasons: list[str] | None = None, *, config: Any = None, **options: Any) -> Any:
    """The same app, now on cookiesess with migration on (Flask config as given)."""
    app = make_app(**(config or {}))
    if reasons is not None:
        options["on_reject"] = reasons.append
    options.setdefault("migrate_from", "flask")
    CookieSessionInterface(**options).init_app(app)
    return app


@pytest.fixture
def switch() -> SwitchableWSGI:
    return SwitchableWSGI(make_app())


@pytest.fixture
def client(switch: SwitchableWSGI) -> httpx.Client:
    """A client logged in as alice by the Flask-session app."""
    client = httpx.Client(transport=httpx.WSGITransport(app=switch), base_url="http://testserver")
    assert client.post("/login").text == "ok"
    assert client.get("/whoami").json()["user"] == "alice"
    return client


def engine_of(app: Any) -> Any:
    return app.session_interface.engine_for(app)


def test_logged_in_user_survives_the_switch(switch: SwitchableWSGI, client: httpx.Client) -> None:
    """Same data, still permanent; ours replaces Flask's cookie; the next request sends ours."""
    (legacy,) = jar(client)
    app = switch.current = switched(migrate_until=dt.datetime.now(dt.UTC) + dt.timedelta(days=30))

    first = client.get("/whoami")
    second = client.get("/whoami")

    assert first.json() == {
        "user": "alice",
        "permanent": True,
        "types": {
            "at": "datetime",
            "cart": "list",
            "note": "str",
            "raw": "bytes",
            "uid": "UUID",
            "user": "str",
        },
    }
    assert sent_cookies(first) == f"session={legacy[2]}"
    (line,) = set_cookies(first)
    assert line.startswith("session=")
    assert "; Max-Age=2678400; Path=/; HttpOnly; SameSite=Lax" in line
    ((name, path, value),) = jar(client)
    assert (name, path) == ("session", "/")
    assert value != legacy[2]
    assert opens(engine_of(app), "session", value) == {
        "user": "alice",
        "cart": [1, 2],
        "note": "<b>hi</b>",
        "uid": uuid.UUID(int=5),
        "raw": b"\x00\xff",
        "at": AT,
    }
    assert second.json() == first.json()
    assert sent_cookies(second) == f"session={value}"
    assert set_cookies(second) == []


def test_legacy_cookie_under_another_name_is_expired(
    switch: SwitchableWSGI, client: httpx.Client
) -> None:
    """With another cookie name, the response expires Flask's cookie with its attributes."""
    switch.current = switched(cookie_name="cs")

    first = client.get("/whoami")
    second = client.get("/whoami")

    assert first.json()["user"] == "alice"
    assert "session=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly" in (
        set_cookies(first)
    )
    assert [name for name, _, _ in jar(client)] == ["cs"]
    assert "session=" not in sent_cookies(second)
    assert second.json()["user"] == "alice"


def test_legacy_cookie_on_another_path_is_expired_too() -> None:
    """Same name, other Path: ours would not replace it in the jar, so it is expired as well."""
    switch = SwitchableWSGI(make_app(SESSION_COOKIE_PATH="/app"))
    client = httpx.Client(transport=httpx.WSGITransport(app=switch), base_url="http://testserver")
    client.post("/app/login")
    assert [(n, p) for n, p, _ in jar(client)] == [("session", "/app")]
    switch.current = switched(config={"SESSION_COOKIE_PATH": "/app"}, path="/")

    first = client.get("/app/whoami")
    second = client.get("/app/whoami")

    assert first.json()["user"] == "alice"
    assert any(
        line.startswith("session=; Max-Age=0;") and "Path=/app;" in line
        for line in set_cookies(first)
    )
    assert [(n, p) for n, p, _ in jar(client)] == [("session", "/")]
    assert sent_cookies(second).count("session=") == 1
    assert second.json()["user"] == "alice"


def test_tampered_legacy_cookie_gives_a_fresh_session(
    switch: SwitchableWSGI, client: httpx.Client
) -> None:
    """One character changed: not logged in, reason legacy_rejected, nothing written."""
    set_value(client, "session", flip_last)
    reasons: list[str] = []
    switch.current = switched(reasons)

    response = client.get("/whoami")

    assert response.json() == {"user": "", "permanent": False, "types": {}}
    assert reasons == ["legacy_rejected"]
    assert set_cookies(response) == []


def test_expired_legacy_cookie_gives_a_fresh_session(
    switch: SwitchableWSGI, client: httpx.Client
) -> None:
    """Past PERMANENT_SESSION_LIFETIME (31 days by default) Flask would refuse it; so do we."""
    reasons: list[str] = []
    switch.current = switched(reasons, clock=lambda: time.time() + 32 * DAY)

    assert client.get("/whoami").json()["user"] == ""
    assert reasons == ["legacy_rejected"]


def test_lifetime_is_read_from_the_app_config(switch: SwitchableWSGI, client: httpx.Client) -> None:
    """A longer PERMANENT_SESSION_LIFETIME keeps the same 32-day-old cookie valid."""
    switch.current = switched(
        config={"PERMANENT_SESSION_LIFETIME": dt.timedelta(days=60)},
        clock=lambda: time.time() + 32 * DAY,
    )

    assert client.get("/whoami").json()["user"] == "alice"


def test_wrong_secret_gives_a_fresh_session(switch: SwitchableWSGI, client: httpx.Client) -> None:
    """A SECRET_KEY that did not sign the cookie (and no fallback): rejected."""
    reasons: list[str] = []
    switch.current = switched(reasons, config={"SECRET_KEY": NEW_SECRET})

    assert client.get("/whoami").json()["user"] == ""
    assert reasons == ["legacy_rejected"]


def test_fallback_secret_verifies_the_legacy_cookie(
    switch: SwitchableWSGI, client: httpx.Client
) -> None:
    """Secret rotated at the switch: the old one in SECRET_KEY_FALLBACKS still verifies it."""
    reasons: list[str] = []
    switch.current = switched(
        reasons, config={"SECRET_KEY": NEW_SECRET, "SECRET_KEY_FALLBACKS": [SECRET]}
    )

    first = client.get("/whoami")

    assert first.json()["user"] == "alice"
    assert reasons == []
    assert client.get("/whoami").json()["user"] == "alice"


def test_cookiesess_cookie_wins_over_a_legacy_one(switch: SwitchableWSGI) -> None:
    """Both cookies sent: ours is used and the legacy one is expired."""
    client = httpx.Client(transport=httpx.WSGITransport(app=switch), base_url="http://testserver")
    client.post("/login?user=alice")
    new_app = switched(cookie_name="cs")
    switch.current = new_app
    client.get("/whoami")  # alice migrated into "cs"
    switch.current = make_app()  # a host still on Flask sessions logs bob in
    client.post("/login?user=bob")
    assert [name for name, _, _ in jar(client)] == ["cs", "session"]
    switch.current = new_app

    first = client.get("/whoami")
    second = client.get("/whoami")

    assert first.json()["user"] == "alice"
    assert any(line.startswith("session=; Max-Age=0;") for line in set_cookies(first))
    assert not any(line.startswith("cs=") for line in set_cookies(first))
    assert [name for name, _, _ in jar(client)] == ["cs"]
    assert second.json()["user"] == "alice"
    assert "session=" not in sent_cookies(second)


def test_deadline_passed_ignores_legacy_cookies(
    switch: SwitchableWSGI, client: httpx.Client
) -> None:
    """After migrate_until the Flask cookie is not read at all: a fresh session, no rejection."""
    reasons: list[str] = []
    switch.current = switched(reasons, migrate_until=dt.datetime.now(dt.UTC) - dt.timedelta(1))

    assert client.get("/whoami").json()["user"] == ""
    assert reasons == []


def test_reader_objects_and_lists_are_accepted(
    switch: SwitchableWSGI, client: httpx.Client
) -> None:
    """migrate_from also takes a reader, or a list mixing readers and "flask"."""
    reader = FlaskSessionReader(NEW_SECRET, cookie_name="other")
    switch.current = switched(migrate_from=["flask", reader], cookie_name="cs")

    assert client.get("/whoami").json()["user"] == "alice"

    app = switched(migrate_from=reader)
    assert engine_of(app).config.migrate_from == (reader,)


def test_configuration_errors_name_the_option() -> None:
    """Another framework's name, or no SECRET_KEY to verify with, fails at init_app."""
    with pytest.raises(ConfigurationError, match="migrate_from='django'"):
        switched(migrate_from="django")

    app = make_app(SECRET_KEY=None)
    interface = CookieSessionInterface(keyring=None, migrate_from="flask", secure=False, max_age=60)
    app.config["COOKIESESS_KEYS"] = "k1:M08xMqzGRaRwNBrYCFAP0KzVLX3o3BR-F8KyVde4rTQ"
    with pytest.raises(ConfigurationError, match="migrate_from='flask': secret_key"):
        interface.init_app(app)


PAST = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("setup", "options"),
    [
        (flip_last, {}),
        (None, {"migrate_until": PAST}),
    ],
    ids=["tampered", "after-migrate-until"],
)
def test_legacy_cookie_under_another_name_leaves_the_jar_when_the_session_is_empty(
    switch: SwitchableWSGI,
    client: httpx.Client,
    setup: Any,
    options: dict[str, Any],
) -> None:
    """Nothing migrated (rejected, or past migrate_until), session ignored: still expired."""
    if setup is not None:
        set_value(client, "session", setup)
    switch.current = switched(cookie_name="cs", **options)

    response = client.get("/ping")

    assert response.text == "pong"
    assert "session=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly" in (
        set_cookies(response)
    )
    assert jar(client) == []


def test_legacy_session_with_no_data_leaves_the_jar() -> None:
    """Flask's cookie held only ``permanent``: nothing to write, so the legacy cookie is expired."""
    switch = SwitchableWSGI(make_app())
    client = httpx.Client(transport=httpx.WSGITransport(app=switch), base_url="http://testserver")
    assert client.post("/remember").text == "ok"
    assert [name for name, _, _ in jar(client)] == ["session"]
    switch.current = switched()

    response = client.get("/ping")

    assert response.text == "pong"
    assert [line.split(";")[0] for line in set_cookies(response)] == ["session="]
    assert jar(client) == []


def test_legacy_cookie_under_our_name_leaves_the_jar_after_migrate_until(
    switch: SwitchableWSGI, client: httpx.Client
) -> None:
    """Past migrate_until Flask's cookie is not read, but the response still expires it."""
    switch.current = switched(migrate_until=PAST)

    response = client.get("/whoami")

    assert response.json()["user"] == ""
    assert jar(client) == []
