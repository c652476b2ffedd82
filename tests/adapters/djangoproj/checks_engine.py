"""``SESSION_ENGINE = "cookiesess.django"``: Django's test client and SessionStore users.

Collected only by the pytest subprocess that tests/adapters/test_django.py
starts (``DJANGO_SETTINGS_MODULE=djangoproj.settings``, bootstrapped database):
Django's test client (``login``, ``force_login``, ``client.session``),
``django.contrib.auth.login`` outside a request and ``clearsessions`` build
sessions with ``SESSION_ENGINE``'s store; the cookiesess middleware must open
what they make, and they must read what the middleware wrote.
"""

from __future__ import annotations

import asyncio
import os
from importlib import import_module
from typing import Any

import django
import pytest

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djangoproj.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model, login  # noqa: E402
from django.contrib.sessions.backends.base import SessionBase  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.test import AsyncClient, Client, RequestFactory, override_settings  # noqa: E402

from cookiesess import SessionTooLarge  # noqa: E402
from cookiesess.django import SessionMiddleware, SessionStore  # noqa: E402
from cookiesess.stores import MemoryStore  # noqa: E402
from djangoproj.bootstrap import PASSWORD, USERNAME  # noqa: E402

KEYS = "t1:M08xMqzGRaRwNBrYCFAP0KzVLX3o3BR-F8KyVde4rTQ"  # as in settings.COOKIESESS
NAME = "sessionid"
factory = RequestFactory()


def alice() -> Any:
    return get_user_model().objects.get(username=USERNAME)


def whoami(client: Client) -> dict[str, Any]:
    return client.get("/whoami/").json()  # type: ignore[no-any-return]


def inspect(value: str) -> Any:
    """What the middleware's engine (under the current settings) finds in this cookie value."""
    return SessionMiddleware(lambda request: None).engine.inspect({NAME: value})


# -- the engine module -------------------------------------------------------------------


def test_session_engine_is_the_cookiesess_module() -> None:
    """SESSION_ENGINE names cookiesess.django, whose SessionStore is a Django SessionBase."""
    engine = import_module(settings.SESSION_ENGINE)

    assert settings.SESSION_ENGINE == "cookiesess.django"
    assert engine.SessionStore is SessionStore
    assert issubclass(SessionStore, SessionBase)


# -- Django's test client ----------------------------------------------------------------


def test_force_login_is_opened_by_the_middleware() -> None:
    """client.force_login(user): the next request through cookiesess is logged in."""
    client = Client()

    client.force_login(alice())
    response = client.get("/private/")

    assert response.status_code == 200
    assert response.json()["user"] == USERNAME


def test_login_with_credentials() -> None:
    """client.login(username=..., password=...) logs in; wrong credentials do not."""
    client = Client()

    assert client.login(username=USERNAME, password="wrong") is False
    assert client.login(username=USERNAME, password=PASSWORD) is True
    assert whoami(client)["user"] == USERNAME


def test_logout_clears_the_login() -> None:
    """client.logout() after force_login: anonymous again."""
    client = Client()
    client.force_login(alice())

    client.logout()

    assert client.get("/private/").status_code == 302


def test_async_client_force_login() -> None:
    """AsyncClient.aforce_login / alogin work the same way."""
    user = alice()

    async def run() -> tuple[int, bool, int]:
        client = AsyncClient()
        await client.aforce_login(user)
        forced = (await client.get("/private/")).status_code
        other = AsyncClient()
        ok = await other.alogin(username=USERNAME, password=PASSWORD)
        return forced, ok, (await other.get("/private/")).status_code

    assert asyncio.run(run()) == (200, True, 200)


def test_client_session_reads_what_a_request_wrote() -> None:
    """client.session opens the cookie the middleware set (a view counted to 2)."""
    client = Client()
    client.get("/async/")
    client.get("/async/")

    session = client.session

    assert session["count"] == 2
    assert session.session_key == client.cookies[NAME].value


def test_client_session_edited_and_saved_reaches_the_view() -> None:
    """Edit client.session, save() and put its key in the cookie: the view sees the edit."""
    client = Client()
    client.get("/async/")
    session = client.session
    session["count"] = 41

    session.save()
    client.cookies[NAME] = session.session_key

    assert client.get("/async/").json()["count"] == 42


def test_client_session_without_a_cookie_creates_one() -> None:
    """client.session with no cookie yet saves an empty session the middleware opens."""
    client = Client()

    session = client.session
    session["count"] = 9
    session.save()
    client.cookies[NAME] = session.session_key

    assert client.get("/async/").json()["count"] == 10


def test_auth_login_outside_a_request() -> None:
    """django.contrib.auth.login on a bare request with a SessionStore, then save()."""
    request = HttpRequest()
    request.session = SessionStore()

    login(request, alice(), backend="django.contrib.auth.backends.ModelBackend")
    request.session.save()
    client = Client()
    client.cookies[NAME] = request.session.session_key

    assert client.get("/private/").json()["user"] == USERNAME


# -- what save() makes: one sealed cookie, or a sealed store reference -------------------


def test_small_session_key_is_a_sealed_token() -> None:
    """A session that fits one cookie: session_key is the sealed session itself."""
    session = SessionStore()
    session["cart"] = [1, 2, 3]

    session.save()
    found = inspect(session.session_key)

    assert found.mode == "cookie"
    assert found.chunks == 1
    assert found.data == {"cart": [1, 2, 3]}


def test_large_session_key_is_a_store_reference() -> None:
    """Past one cookie, with a store configured: a sealed reference, opened by the middleware."""
    store = MemoryStore()
    big = os.urandom(5000)
    with override_settings(COOKIESESS={"keys": KEYS, "store": store}):
        session = SessionStore()
        session["big"] = big
        session.save()
        found = inspect(session.session_key)
        seen: list[Any] = []

        def view(request: HttpRequest) -> HttpResponse:
            seen.append(request.session["big"])
            return HttpResponse("ok")

        SessionMiddleware(view)(factory.get("/", HTTP_COOKIE=f"{NAME}={session.session_key}"))

    assert found.mode == "store"
    assert len(session.session_key) < 1000
    assert seen == [big]


def test_large_session_without_a_store_is_refused() -> None:
    """Past one cookie and no store: SessionTooLarge, never a key that loses data."""
    session = SessionStore()
    session["big"] = os.urandom(5000)

    with pytest.raises(SessionTooLarge):
        session.save()


def test_invalid_key_is_a_fresh_session() -> None:
    """A key that does not open is dropped, as Django drops an unknown key."""
    session = SessionStore("not-a-cookiesess-token")

    assert session.load() == {}
    assert session.session_key is None
    assert session.exists("not-a-cookiesess-token") is False


def test_clearsessions_command_succeeds() -> None:
    """clearsessions runs: client-side sessions need no clearing (clear_expired is a no-op)."""
    call_command("clearsessions")

    assert SessionStore.clear_expired() is None


def test_expiry_round_trips_between_middleware_and_session_store() -> None:
    """set_expiry(0) in a view shows in SessionStore, and survives its save()."""

    def remember_not(request: HttpRequest) -> HttpResponse:
        request.session["a"] = 1
        request.session.set_expiry(0)
        return HttpResponse("ok")

    response = SessionMiddleware(remember_not)(factory.get("/"))
    session = SessionStore(response.cookies[NAME].value)
    at_close = session.get_expire_at_browser_close()
    session["b"] = 2
    session.save()
    lines: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        lines.append(str(request.session.get_expire_at_browser_close()))
        request.session["c"] = 3
        return HttpResponse("ok")

    after = SessionMiddleware(view)(factory.get("/", HTTP_COOKIE=f"{NAME}={session.session_key}"))

    assert at_close is True
    assert lines == ["True"]
    assert "Max-Age" not in after.cookies[NAME].OutputString()


def test_engine_alone_under_djangos_own_middleware() -> None:
    """SESSION_ENGINE alone, with django.contrib.sessions' middleware: one-cookie sessions work."""
    from django.contrib.sessions.middleware import SessionMiddleware as DjangoMiddleware

    def write(request: HttpRequest) -> HttpResponse:
        request.session["cart"] = [1]
        return HttpResponse("ok")

    def read(request: HttpRequest) -> HttpResponse:
        return HttpResponse(repr(request.session.get("cart")))

    first = DjangoMiddleware(write)(factory.get("/"))
    value = first.cookies[NAME].value
    second = DjangoMiddleware(read)(factory.get("/", HTTP_COOKIE=f"{NAME}={value}"))
    ours = SessionMiddleware(read)(factory.get("/", HTTP_COOKIE=f"{NAME}={value}"))

    assert inspect(value).mode == "cookie"
    assert second.content == b"[1]"
    assert ours.content == b"[1]"


def test_one_cookie_limit_matches_the_middlewares_first_cookie() -> None:
    """SessionStore takes exactly what the middleware fits in one cookie, and not a byte more."""

    def saves(size: int) -> bool:
        session = SessionStore()
        session["d"] = b"x" * size
        try:
            session.save()
        except SessionTooLarge:
            return False
        return True

    low, high = 1000, 8000  # saves(low), not saves(high)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if saves(middle) else (low, middle)
    engine = SessionMiddleware(lambda request: None).engine

    def cookies_for(size: int) -> list[str]:
        session = engine.new_session()
        session["d"] = b"x" * size
        return engine.commit(session, {}, secure=True)

    assert len(cookies_for(low)) == 1
    assert len(cookies_for(low)[0]) <= engine.config.max_cookie_bytes
    assert len(cookies_for(high)) == 2
