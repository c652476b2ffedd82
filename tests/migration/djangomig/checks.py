"""Migrating a Django project from ``signed_cookies`` sessions to cookiesess.django.

Collected only by the pytest subprocess that tests/migration/test_migrate_django.py
starts (Django's settings are process-wide). One httpx client (a real cookie
jar) logs in through Django's own LoginView on the legacy middleware stack,
then talks to the same project with ``cookiesess.django.SessionMiddleware`` in
its place and ``COOKIESESS = {"migrate_from": "django"}``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections.abc import Iterable
from typing import Any

import django
import httpx
import pytest

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djangomig.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import override_settings  # noqa: E402

from cookiesess import ConfigurationError, SessionEngine  # noqa: E402
from cookiesess.django import SessionMiddleware  # noqa: E402

PASSWORD = "correct horse battery staple"
KEYS = "m1:M08xMqzGRaRwNBrYCFAP0KzVLX3o3BR-F8KyVde4rTQ"
OLD_SECRET = settings.SECRET_KEY
NEW_SECRET = "djangomig-rotated-V7c2Xk9Rb4Nq1Ws8Hm3Lz6Tf0Pd-test"
DAY = 24 * 3600
REASONS: list[str] = []

call_command("migrate", verbosity=0, interactive=False)
for name in ("alice", "bob"):
    get_user_model().objects.create_user(name, password=PASSWORD)


class Switch:
    """The deployment: a WSGI app whose middleware stack is swapped mid-test."""

    def __init__(self) -> None:
        self.current: Any = WSGIHandler()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return self.current(environ, start_response)  # type: ignore[no-any-return]


def cookiesess_app(overrides: dict[str, Any] | None = None, **options: Any) -> Any:
    """The project with cookiesess in place of Django's sessions (and `overrides` settings)."""
    overrides = overrides or {}
    options = {"keys": KEYS, "migrate_from": "django", "on_reject": REASONS.append, **options}
    with override_settings(
        MIDDLEWARE=settings.COOKIESESS_MIDDLEWARE, COOKIESESS=options, **overrides
    ):
        handler = WSGIHandler()

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with override_settings(**overrides):
            return handler(environ, start_response)  # type: ignore[no-any-return]

    return app


def engine(**options: Any) -> SessionEngine:
    with override_settings(COOKIESESS={"keys": KEYS, **options}):
        return SessionMiddleware(lambda request: None).engine


@pytest.fixture(autouse=True)
def _clear_reasons() -> None:
    REASONS.clear()


@pytest.fixture
def switch() -> Switch:
    return Switch()


def log_in(client: httpx.Client, user: str = "alice") -> None:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get("/login/").text)
    assert match
    form = {"username": user, "password": PASSWORD, "csrfmiddlewaretoken": match.group(1)}
    response = client.post("/login/", data=form)
    assert response.status_code == 302, response.text


@pytest.fixture
def client(switch: Switch) -> httpx.Client:
    """A client logged in as alice through Django's LoginView on signed_cookies sessions."""
    client = httpx.Client(transport=httpx.WSGITransport(app=switch), base_url="http://testserver")
    log_in(client)
    assert client.get("/private/").json()["user"] == "alice"
    assert ":" in client.cookies["sessionid"]  # Django's signed value
    return client


def session_cookies(client: httpx.Client) -> list[tuple[str, str, str]]:
    return sorted(
        (c.name, c.path, c.value or "") for c in client.cookies.jar if c.name != "csrftoken"
    )


def set_cookies(response: httpx.Response, name: str) -> list[str]:
    # Django's WSGI handler renders each Set-Cookie value with a leading space.
    lines = [line.strip() for line in response.headers.get_list("set-cookie")]
    return [line for line in lines if line.startswith(name + "=")]


def sent(response: httpx.Response) -> str:
    return response.request.headers.get("cookie", "")


AUTH_KEYS = ["_auth_user_backend", "_auth_user_hash", "_auth_user_id"]


def test_logged_in_user_survives_the_switch(switch: Switch, client: httpx.Client) -> None:
    """Still logged in, same data; ours replaces Django's cookie; the next request sends ours."""
    ((_, _, legacy),) = session_cookies(client)
    switch.current = cookiesess_app()

    first = client.get("/private/")
    second = client.get("/private/")

    assert first.status_code == 200
    assert first.json() == {"user": "alice", "keys": AUTH_KEYS}
    assert f"sessionid={legacy}" in sent(first)
    (line,) = set_cookies(first, "sessionid")
    assert "; Max-Age=1209600; Path=/; HttpOnly; SameSite=Lax" in line
    ((name, path, value),) = session_cookies(client)
    assert (name, path) == ("sessionid", "/")
    data = engine().inspect({"sessionid": value})
    assert data is not None
    assert data.data is not None
    assert sorted(data.data) == AUTH_KEYS
    assert second.json() == first.json()
    assert f"sessionid={value}" in sent(second)
    assert set_cookies(second, "sessionid") == []
    assert REASONS == []


def test_set_expiry_zero_becomes_a_browser_session_cookie(
    switch: Switch, client: httpx.Client
) -> None:
    """Django keeps set_expiry(0) as "_session_expiry" in the data; it maps to no Max-Age."""
    assert "_session_expiry" in client.get("/forget-me/").json()["keys"]
    switch.current = cookiesess_app()

    response = client.get("/whoami/")

    assert response.json() == {"user": "alice", "keys": AUTH_KEYS}
    (line,) = set_cookies(response, "sessionid")
    assert "Max-Age" not in line


def test_set_expiry_datetime_becomes_the_deadline(switch: Switch, client: httpx.Client) -> None:
    """An ISO "_session_expiry" becomes the session's deadline and the cookie's Max-Age."""
    assert "_session_expiry" in client.get("/expire-in-an-hour/").json()["keys"]
    switch.current = cookiesess_app()

    response = client.get("/whoami/")

    assert response.json() == {"user": "alice", "keys": AUTH_KEYS}
    (line,) = set_cookies(response, "sessionid")
    max_age = int(re.search(r"Max-Age=(\d+)", line).group(1))  # type: ignore[union-attr]
    assert 3500 < max_age <= 3600
    data = engine().inspect({"sessionid": line.split(";")[0].split("=", 1)[1]})
    assert data is not None
    assert data.deadline is not None
    assert 3500 < data.deadline - time.time() <= 3600


def test_legacy_cookie_under_another_name_is_expired(switch: Switch, client: httpx.Client) -> None:
    """With cookie_name="cs" the response expires Django's cookie with its attributes."""
    switch.current = cookiesess_app(cookie_name="cs")

    first = client.get("/private/")
    second = client.get("/private/")

    assert first.json()["user"] == "alice"
    assert set_cookies(first, "sessionid") == [
        "sessionid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly; "
        "SameSite=Lax"
    ]
    assert [name for name, _, _ in session_cookies(client)] == ["cs"]
    assert "sessionid=" not in sent(second)
    assert second.json()["user"] == "alice"


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_legacy_cookie_moves_over_on_a_request_that_never_touches_the_session(
    switch: Switch, client: httpx.Client, lazy: bool
) -> None:
    """A view that ignores the session still migrates it and expires Django's cookie,
    with ``lazy=True`` too."""
    switch.current = cookiesess_app(cookie_name="cs", lazy=lazy)

    response = client.get("/ignore/")

    assert response.json() == {}
    assert [name for name, _, _ in session_cookies(client)] == ["cs"]
    assert client.get("/private/").json()["user"] == "alice"


def test_legacy_cookie_of_the_same_name_on_another_path_is_expired(
    switch: Switch, client: httpx.Client
) -> None:
    """Same name, another Path: both Set-Cookie lines reach the jar, which keeps only ours."""
    ((_, legacy_path, _),) = session_cookies(client)
    switch.current = cookiesess_app(path="/private/")

    first = client.get("/private/")
    second = client.get("/private/")

    assert legacy_path == "/"
    assert first.json()["user"] == "alice"
    lines = set_cookies(first, "sessionid")
    assert len(lines) == 2
    assert any("Max-Age=0" in line and "Path=/;" in line for line in lines)
    assert any("Max-Age=0" not in line and "Path=/private/;" in line for line in lines)
    ((name, path, value),) = session_cookies(client)
    assert (name, path) == ("sessionid", "/private/")
    assert f"sessionid={value}" in sent(second)
    assert sent(second).count("sessionid=") == 1
    assert second.json()["user"] == "alice"
    assert set_cookies(second, "sessionid") == []


def test_tampered_legacy_cookie_gives_a_fresh_session(switch: Switch, client: httpx.Client) -> None:
    """One character changed: logged out, reason legacy_rejected."""
    (cookie,) = [c for c in client.cookies.jar if c.name == "sessionid"]
    value = cookie.value or ""
    cookie.value = value[:-1] + ("A" if value[-1] != "A" else "B")
    switch.current = cookiesess_app()

    response = client.get("/private/")

    assert response.status_code == 302  # to the login page
    assert REASONS == ["legacy_rejected"]


def test_expired_legacy_cookie_gives_a_fresh_session(switch: Switch, client: httpx.Client) -> None:
    """Older than SESSION_COOKIE_AGE (two weeks): refused, as Django would."""
    switch.current = cookiesess_app(clock=lambda: time.time() + 15 * DAY)

    assert client.get("/whoami/").json()["user"] == ""
    assert REASONS == ["legacy_rejected"]


def test_wrong_secret_gives_a_fresh_session(switch: Switch, client: httpx.Client) -> None:
    """A SECRET_KEY that did not sign the cookie, no fallback: refused."""
    switch.current = cookiesess_app({"SECRET_KEY": NEW_SECRET})

    assert client.get("/whoami/").json()["user"] == ""
    assert REASONS == ["legacy_rejected"]


def test_fallback_secret_verifies_the_legacy_cookie(switch: Switch, client: httpx.Client) -> None:
    """Secret rotated at the switch: SECRET_KEY_FALLBACKS verifies the cookie and auth's hash."""
    rotated = {"SECRET_KEY": NEW_SECRET, "SECRET_KEY_FALLBACKS": [OLD_SECRET]}
    switch.current = cookiesess_app(rotated)

    first = client.get("/private/")
    second = client.get("/private/")

    assert first.json()["user"] == "alice"
    assert second.json()["user"] == "alice"
    assert REASONS == []


def test_cookiesess_cookie_wins_over_a_legacy_one(switch: Switch, client: httpx.Client) -> None:
    """Both cookies sent: ours is used and Django's is expired."""
    new_app = cookiesess_app(cookie_name="cs")
    switch.current = new_app
    client.get("/whoami/")  # alice migrated into "cs"
    switch.current = WSGIHandler()  # a host still on Django sessions logs bob in
    log_in(client, "bob")
    assert [name for name, _, _ in session_cookies(client)] == ["cs", "sessionid"]
    switch.current = new_app

    first = client.get("/whoami/")
    second = client.get("/whoami/")

    assert first.json()["user"] == "alice"
    assert [line.split(";")[0] for line in set_cookies(first, "sessionid")] == ["sessionid="]
    assert [name for name, _, _ in session_cookies(client)] == ["cs"]
    assert "sessionid=" not in sent(second)
    assert second.json()["user"] == "alice"


def test_deadline_passed_ignores_legacy_cookies(switch: Switch, client: httpx.Client) -> None:
    """After migrate_until Django's cookie is not read: logged out, no rejection."""
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    switch.current = cookiesess_app(migrate_until=past)

    assert client.get("/whoami/").json()["user"] == ""
    assert REASONS == []


def test_configuration_errors() -> None:
    """Another framework's name, or a serializer the reader cannot read, fails at start-up."""
    with pytest.raises(ConfigurationError, match="migrate_from='flask'"):
        engine(migrate_from="flask")
    with (
        override_settings(SESSION_SERIALIZER="myapp.serializers.YAMLSerializer"),
        pytest.raises(ConfigurationError, match="SESSION_SERIALIZER"),
    ):
        engine(migrate_from="django")
