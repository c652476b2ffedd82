"""Django's session, auth, messages and CSRF behaviours against cookiesess.django.

Collected only by the pytest subprocess that tests/adapters/test_django.py
starts (with ``DJANGO_SETTINGS_MODULE=djangoproj.settings`` and a bootstrapped
database): Django's settings are process-wide.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
from collections.abc import Callable, Iterator
from typing import Any

import django
import pytest

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djangoproj.settings")
django.setup()

from django.contrib.auth import alogin, alogout, get_user_model  # noqa: E402
from django.contrib.auth.models import AnonymousUser  # noqa: E402
from django.contrib.sessions.backends.base import SessionBase  # noqa: E402
from django.contrib.sessions.middleware import (  # noqa: E402
    SessionMiddleware as DjangoSessionMiddleware,
)
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.test import AsyncClient, Client, RequestFactory, override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from cookiesess import ConfigurationError, KeyringError  # noqa: E402
from cookiesess.django import DjangoSession, LazyDjangoSession, SessionMiddleware  # noqa: E402
from djangoproj.bootstrap import PASSWORD, USERNAME  # noqa: E402
from tests.helpers import FlakyStore  # noqa: E402

AGE = 1_209_600
NAME = "sessionid"
KEYS = "t1:M08xMqzGRaRwNBrYCFAP0KzVLX3o3BR-F8KyVde4rTQ"  # as in settings.COOKIESESS
factory = RequestFactory()
View = Callable[[HttpRequest], HttpResponse]


def set_cookie_lines(response: HttpResponse) -> list[str]:
    return [morsel.OutputString() for morsel in response.cookies.values()]


def cookie_header(response: HttpResponse) -> str:
    """The Cookie header a browser would send back after `response`."""
    return "; ".join(f"{m.key}={m.value}" for m in response.cookies.values() if m["max-age"] != "0")


def serve(view: View, *, cookie: str = "", secure: bool = False) -> tuple[HttpRequest, Any]:
    """Run one request through a fresh middleware (settings read at construction)."""
    request = factory.get("/", secure=secure, HTTP_COOKIE=cookie)
    response = SessionMiddleware(view)(request)
    return request, response


def ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def setter(**values: Any) -> View:
    def view(request: HttpRequest) -> HttpResponse:
        for key, value in values.items():
            request.session[key] = value
        return HttpResponse("ok")

    return view


def loaded(**values: Any) -> str:
    """Return the Cookie header of a saved session holding `values`."""
    _, response = serve(setter(**values))
    return cookie_header(response)


# -- the session object (Django's SessionTestsMixin, re-expressed) ------------


def test_new_session_is_empty_and_has_no_key() -> None:
    """A request without a cookie gets an empty, new session with no key yet."""
    seen: dict[str, Any] = {}

    def view(request: HttpRequest) -> HttpResponse:
        session = request.session
        seen.update(
            cls=type(session),
            new=session.new,
            empty=session.is_empty(),
            key=session.session_key,
            missing=session.get("cat"),
            modified=session.modified,
        )
        return HttpResponse("ok")

    _, response = serve(view)

    assert seen == {
        "cls": DjangoSession,
        "new": True,
        "empty": True,
        "key": None,
        "missing": None,
        "modified": False,
    }
    assert response.cookies == {}


def test_mapping_api_matches_django() -> None:
    """get/pop/setdefault/update/has_key/keys/values/items/clear behave as in Django."""
    seen: dict[str, Any] = {}

    def view(request: HttpRequest) -> HttpResponse:
        s = request.session
        s["some key"] = 1
        s.update({"update key": 2})
        seen["has"] = (s.has_key("some key"), "update key" in s, s.has_key("nope"))
        seen["setdefault"] = (s.setdefault("foo", "bar"), s.setdefault("foo", "baz"))
        seen["pop"] = (s.pop("some key"), s.pop("some key", "dflt"), s.pop("x", default=None))
        with pytest.raises(KeyError):
            s.pop("some key")
        seen["keys"] = sorted(s.keys())
        seen["values"] = sorted(map(str, s.values()))
        seen["items"] = sorted(s.items())
        seen["key"] = s.session_key is not None
        s.clear()
        seen["cleared"] = (s.is_empty(), dict(s))
        s["kept"] = True
        return HttpResponse("ok")

    _, response = serve(view)

    assert seen == {
        "has": (True, True, False),
        "setdefault": ("bar", "bar"),
        "pop": (1, "dflt", None),
        "keys": ["foo", "update key"],
        "values": ["2", "bar"],
        "items": [("foo", "bar"), ("update key", 2)],
        "key": True,
        "cleared": (True, {}),
    }
    assert len(set_cookie_lines(response)) == 1


def test_values_round_trip_with_supported_types() -> None:
    """Values Django apps store (str ids, ints, lists, dicts, datetimes) come back."""
    when = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    cookie = loaded(uid="42", n=7, cart=[1, 2], prefs={"a": [True, None]}, when=when)
    seen: dict[str, Any] = {}

    def view(request: HttpRequest) -> HttpResponse:
        seen.update(request.session.copy())
        return HttpResponse("ok")

    serve(view, cookie=cookie)

    assert seen == {
        "uid": "42",
        "n": 7,
        "cart": [1, 2],
        "prefs": {"a": [True, None]},
        "when": when,
    }


def test_setting_modified_forces_a_write() -> None:
    """``request.session.modified = True`` writes an unchanged session, as in Django."""
    cookie = loaded(a=1)

    def touch(request: HttpRequest) -> HttpResponse:
        request.session.get("a")
        request.session.modified = True
        return HttpResponse("ok")

    _, untouched = serve(lambda r: HttpResponse(str(r.session.get("a"))), cookie=cookie)
    _, response = serve(touch, cookie=cookie)

    assert untouched.cookies == {}
    assert len(set_cookie_lines(response)) == 1


def test_cycle_key_keeps_data_and_changes_id() -> None:
    """cycle_key() (what login calls) issues a new id and keeps the data."""
    cookie = loaded(a="b")
    seen: dict[str, Any] = {}

    def view(request: HttpRequest) -> HttpResponse:
        seen["before"] = request.session.session_key
        request.session.cycle_key()
        seen["after"] = request.session.session_key
        seen["data"] = dict(request.session.items())
        return HttpResponse("ok")

    _, response = serve(view, cookie=cookie)

    assert seen["before"] != seen["after"]
    assert seen["data"] == {"a": "b"}
    assert len(set_cookie_lines(response)) == 1


def test_flush_empties_and_expires_the_cookie() -> None:
    """flush() (what logout calls) empties the session and deletes its cookie."""
    cookie = loaded(a="b")
    seen: dict[str, Any] = {}

    def view(request: HttpRequest) -> HttpResponse:
        old = request.session.session_key
        request.session.flush()
        seen.update(old=old, key=request.session.session_key, data=dict(request.session))
        return HttpResponse("ok")

    _, response = serve(view, cookie=cookie)

    assert seen["old"] is not None
    assert seen["key"] is None
    assert seen["data"] == {}
    (line,) = set_cookie_lines(response)
    assert line.startswith("sessionid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    assert "Path=/" in line
    assert response.headers["Vary"] == "Cookie"


@override_settings(SESSION_COOKIE_DOMAIN=".example.local", SESSION_COOKIE_PATH="/example/")
def test_flush_expires_with_custom_domain_and_path() -> None:
    """The deleting Set-Cookie carries the configured Domain and Path."""
    cookie = loaded(a="b")

    def view(request: HttpRequest) -> HttpResponse:
        request.session.flush()
        return HttpResponse("ok")

    _, response = serve(view, cookie=cookie)

    (line,) = set_cookie_lines(response)
    assert "Max-Age=0" in line
    assert "Domain=.example.local" in line
    assert "Path=/example/" in line


def test_flush_without_cookie_sets_no_cookie() -> None:
    """Flushing a session that never had a cookie sets none, but varies on Cookie."""

    def view(request: HttpRequest) -> HttpResponse:
        request.session.flush()
        return HttpResponse("ok")

    _, response = serve(view)

    assert response.cookies == {}
    assert response.headers["Vary"] == "Cookie"


def test_emptied_session_expires_the_cookie() -> None:
    """Removing the last key deletes the cookie (Django would keep an empty one)."""
    cookie = loaded(foo="bar")

    def view(request: HttpRequest) -> HttpResponse:
        del request.session["foo"]
        return HttpResponse("ok")

    _, response = serve(view, cookie=cookie)

    (line,) = set_cookie_lines(response)
    assert "Max-Age=0" in line
    assert response.headers["Vary"] == "Cookie"


def test_tampered_cookie_gives_a_fresh_session() -> None:
    """A forged or corrupted cookie is answered like no cookie at all."""
    good = loaded(user="1")
    name, _, value = good.partition("=")
    flipped = value[:-3] + ("A" if value[-3] != "A" else "B") + value[-2:]
    seen: list[Any] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append((request.session.new, dict(request.session)))
        return HttpResponse("ok")

    for cookie in (f"{name}={flipped}", f"{name}=garbage", f"{name}="):
        _, response = serve(view, cookie=cookie)
        assert response.status_code == 200
        assert response.cookies == {}

    assert seen == [(True, {})] * 3


# -- expiry ----------------------------------------------------------------------


def expiry_of(action: Callable[[DjangoSession], Any]) -> tuple[Any, HttpResponse]:
    result: list[Any] = []

    def view(request: HttpRequest) -> HttpResponse:
        request.session["a"] = 1
        result.append(action(request.session))
        return HttpResponse("ok")

    _, response = serve(view)
    return result[0], response


def test_default_expiry() -> None:
    """Without set_expiry the age is SESSION_COOKIE_AGE and the cookie says so."""
    (age, at_close), response = expiry_of(
        lambda s: (s.get_expiry_age(), s.get_expire_at_browser_close())
    )

    assert age == AGE
    assert at_close is False
    assert f"Max-Age={AGE}" in set_cookie_lines(response)[0]


def test_custom_expiry_seconds() -> None:
    """set_expiry(seconds) sets the age and the cookie's Max-Age."""
    age, response = expiry_of(lambda s: (s.set_expiry(10), s.get_expiry_age())[1])

    assert age == 10
    assert "Max-Age=10;" in set_cookie_lines(response)[0]


def test_custom_expiry_timedelta_and_datetime() -> None:
    """A timedelta or datetime expiry gives the remaining seconds, in the cookie too."""
    later = timezone.now() + dt.timedelta(seconds=10)
    by_delta, _ = expiry_of(lambda s: (s.set_expiry(dt.timedelta(seconds=10)), s.get_expiry_age()))
    by_date, response = expiry_of(lambda s: (s.set_expiry(later), s.get_expiry_date()))

    assert by_delta[1] in (9, 10)
    assert abs((by_date[1] - later).total_seconds()) <= 1
    assert re.search(r"Max-Age=(9|10);", set_cookie_lines(response)[0])


def test_custom_expiry_reset() -> None:
    """set_expiry(None) returns to the default policy."""
    age, _ = expiry_of(
        lambda s: (s.set_expiry(None), s.set_expiry(10), s.set_expiry(None), s.get_expiry_age())
    )

    assert age[-1] == AGE


def test_expire_at_browser_close() -> None:
    """set_expiry(0) makes a browser-session cookie; set_expiry(None) follows the setting."""
    cases = [
        (lambda s: s.set_expiry(10), False),
        (lambda s: s.set_expiry(0), True),
        (lambda s: s.set_expiry(None), False),
    ]
    for action, expected in cases:
        at_close, response = expiry_of(
            lambda s, act=action: (act(s), s.get_expire_at_browser_close())[1]
        )
        assert at_close is expected
        assert ("Max-Age" not in set_cookie_lines(response)[0]) is expected

    with override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=True):
        at_close, response = expiry_of(lambda s: s.get_expire_at_browser_close())
        assert at_close is True
        assert "Max-Age" not in set_cookie_lines(response)[0]
        seconds, _ = expiry_of(lambda s: (s.set_expiry(10), s.get_expire_at_browser_close()))
        assert seconds[1] is False


def test_expiry_persists_across_requests() -> None:
    """A per-session expiry travels in the sealed cookie and applies on later writes."""

    def first(request: HttpRequest) -> HttpResponse:
        request.session["a"] = 1
        request.session.set_expiry(300)
        return HttpResponse("ok")

    def second(request: HttpRequest) -> HttpResponse:
        request.session["b"] = request.session.get_expiry_age()
        return HttpResponse("ok")

    _, response = serve(first)
    _, response = serve(second, cookie=cookie_header(response))

    assert "Max-Age=300;" in set_cookie_lines(response)[0]


def test_django_expiry_keywords() -> None:
    """get_expiry_age/get_expiry_date accept Django's modification/expiry keywords."""
    now = timezone.now()
    ages, _ = expiry_of(
        lambda s: (
            s.get_expiry_age(modification=now, expiry=None),
            s.get_expiry_age(modification=now, expiry=30),
            s.get_expiry_age(modification=now, expiry=now + dt.timedelta(seconds=45)),
            s.get_expiry_date(modification=now, expiry=60),
        )
    )

    assert ages == (AGE, 30, 45, now + dt.timedelta(seconds=60))


# -- the middleware (Django's SessionMiddlewareTests, re-expressed) -----------------


@override_settings(SESSION_COOKIE_SECURE=True)
def test_secure_session_cookie() -> None:
    """SESSION_COOKIE_SECURE=True marks the cookie Secure."""
    _, response = serve(setter(hello="world"))

    assert response.cookies["sessionid"]["secure"] is True
    assert "; Secure" in set_cookie_lines(response)[0]


def test_secure_auto_follows_the_request_scheme() -> None:
    """SESSION_COOKIE_SECURE=False (the default) still sets Secure over HTTPS."""
    _, plain = serve(setter(hello="world"))
    _, tls = serve(setter(hello="world"), secure=True)

    assert "Secure" not in set_cookie_lines(plain)[0]
    assert "; Secure" in set_cookie_lines(tls)[0]


@override_settings(SESSION_COOKIE_HTTPONLY=True)
def test_httponly_session_cookie() -> None:
    """SESSION_COOKIE_HTTPONLY=True marks the cookie HttpOnly."""
    _, response = serve(setter(hello="world"))

    assert response.cookies["sessionid"]["httponly"] is True
    assert "; HttpOnly" in str(response.cookies["sessionid"])


@override_settings(SESSION_COOKIE_HTTPONLY=False)
def test_no_httponly_session_cookie() -> None:
    """SESSION_COOKIE_HTTPONLY=False leaves HttpOnly out."""
    _, response = serve(setter(hello="world"))

    assert response.cookies["sessionid"]["httponly"] == ""
    assert "HttpOnly" not in str(response.cookies["sessionid"])


@override_settings(SESSION_COOKIE_SAMESITE="Strict")
def test_samesite_session_cookie() -> None:
    """SESSION_COOKIE_SAMESITE is rendered."""
    _, response = serve(setter(hello="world"))

    assert response.cookies["sessionid"]["samesite"] == "Strict"


@override_settings(SESSION_COOKIE_NAME="__Host-sid", SESSION_COOKIE_SECURE=True)
def test_cookie_name_setting() -> None:
    """SESSION_COOKIE_NAME names the cookie."""
    _, response = serve(setter(hello="world"))

    assert list(response.cookies) == ["__Host-sid"]
    assert "; Secure" in set_cookie_lines(response)[0]


@override_settings(SESSION_COOKIE_NAME="__Host-sid", SESSION_COOKIE_SECURE=False)
def test_invalid_cookie_settings_fail_at_start_up() -> None:
    """A __Host- name without SESSION_COOKIE_SECURE=True is refused when the middleware loads."""
    with pytest.raises(ConfigurationError, match="__Host-"):
        SessionMiddleware(ok)


def test_no_save_on_5xx() -> None:
    """As Django: a 5xx response saves nothing."""
    for status in (500, 503):

        def view(request: HttpRequest, status: int = status) -> HttpResponse:
            request.session["hello"] = "world"
            return HttpResponse("Horrible error", status=status)

        _, response = serve(view)
        assert response.cookies == {}
        assert response.headers["Vary"] == "Cookie"


def test_vary_and_cache_control() -> None:
    """Vary: Cookie only when the session was read; Cache-Control: private with a cookie."""
    _, untouched = serve(ok)
    _, read = serve(lambda r: HttpResponse(str(r.session.get("a"))))
    _, written = serve(setter(a=1))

    assert "Vary" not in untouched.headers
    assert read.headers["Vary"] == "Cookie"
    assert "Cache-Control" not in read.headers
    assert written.headers["Vary"] == "Cookie"
    assert written.headers["Cache-Control"] == "private"


def test_unchanged_session_sets_no_cookie() -> None:
    """Reading a session (nested values included) re-sends nothing."""
    cookie = loaded(cart=[1, 2], prefs={"x": 1})

    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse(str(len(request.session["cart"]) + request.session["prefs"]["x"]))

    _, response = serve(view, cookie=cookie)

    assert response.content == b"3"
    assert response.cookies == {}


def test_nested_mutation_is_saved() -> None:
    """Mutating a nested list is a change, without setting modified by hand."""
    cookie = loaded(cart=[1])

    def add(request: HttpRequest) -> HttpResponse:
        request.session["cart"].append(2)
        return HttpResponse("ok")

    def read(request: HttpRequest) -> HttpResponse:
        return HttpResponse(repr(request.session["cart"]))

    _, response = serve(add, cookie=cookie)
    _, after = serve(read, cookie=cookie_header(response))

    assert after.content == b"[1, 2]"


def test_save_every_request_refreshes_at_bounded_granularity() -> None:
    """SESSION_SAVE_EVERY_REQUEST re-sends the cookie once the refresh interval passed."""
    now = [1_900_000_000.0]
    step = AGE // 10 + 1
    with override_settings(
        SESSION_SAVE_EVERY_REQUEST=True,
        COOKIESESS={"keys": KEYS, "clock": lambda: now[0], "absolute_timeout": None},
    ):
        cookie = loaded(a=1)
        _, soon = serve(lambda r: HttpResponse(str(r.session["a"])), cookie=cookie)
        now[0] += step
        _, later = serve(lambda r: HttpResponse(str(r.session["a"])), cookie=cookie)
        refreshed = cookie_header(later)
        now[0] += AGE - step + 1
        _, kept = serve(lambda r: HttpResponse(str(r.session.get("a"))), cookie=refreshed)
        _, idle = serve(lambda r: HttpResponse(str(r.session.get("a"))), cookie=cookie)

    assert soon.cookies == {}
    assert f"Max-Age={AGE};" in set_cookie_lines(later)[0]
    assert kept.content == b"1"
    assert idle.content == b"None"


def test_test_cookie_methods() -> None:
    """set_test_cookie / test_cookie_worked / delete_test_cookie work across requests."""
    _, response = serve(lambda r: (r.session.set_test_cookie(), HttpResponse("ok"))[1])
    seen: list[bool] = []

    def check(request: HttpRequest) -> HttpResponse:
        seen.append(request.session.test_cookie_worked())
        request.session.delete_test_cookie()
        seen.append(request.session.test_cookie_worked())
        return HttpResponse("ok")

    serve(check, cookie=cookie_header(response))

    assert seen == [True, False]


def test_is_a_django_session_middleware() -> None:
    """It subclasses Django's middleware, so admin's check (admin.E410) accepts it."""
    assert issubclass(SessionMiddleware, DjangoSessionMiddleware)
    assert SessionMiddleware.sync_capable is True
    assert SessionMiddleware.async_capable is True


# -- keys ---------------------------------------------------------------------------


def test_weak_secret_key_is_refused() -> None:
    """Without COOKIESESS keys, a django-insecure SECRET_KEY is refused with the fix."""
    with (
        override_settings(COOKIESESS={}, SECRET_KEY="django-insecure-" + "x1y2z3" * 10),
        pytest.raises(KeyringError) as info,
    ):
        SessionMiddleware(ok)

    message = str(info.value)
    assert "SECRET_KEY" in message
    assert "cookiesess keygen" in message
    assert "x1y2z3" not in message


def test_secret_key_fallbacks_rotate() -> None:
    """A cookie sealed under an old SECRET_KEY opens via SECRET_KEY_FALLBACKS and is re-sealed."""
    old = "old-9wQ3nV7kT1pL5xR8cZ2mB6hJ4fD0sG-secret"
    new = "new-4tY8uI2oP6aS0dF5gH9jK3lZ7xC1vB-secret"
    with override_settings(COOKIESESS={}, SECRET_KEY=old):
        cookie = loaded(user="1")
    seen: list[Any] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(dict(request.session))
        return HttpResponse("ok")

    with override_settings(COOKIESESS={}, SECRET_KEY=new, SECRET_KEY_FALLBACKS=[old]):
        _, rotated = serve(view, cookie=cookie)
    with override_settings(COOKIESESS={}, SECRET_KEY=new, SECRET_KEY_FALLBACKS=[]):
        serve(view, cookie=cookie)
        serve(view, cookie=cookie_header(rotated))

    assert seen == [{"user": "1"}, {}, {"user": "1"}]


def test_unknown_option_is_refused() -> None:
    """A typo in settings.COOKIESESS fails at start-up, naming the option."""
    with (
        override_settings(COOKIESESS={"max_agee": 5}),
        pytest.raises(ConfigurationError, match="max_agee"),
    ):
        SessionMiddleware(ok)


# -- store failures --------------------------------------------------------------------


@pytest.fixture
def flaky() -> Iterator[FlakyStore]:
    store = FlakyStore()
    with override_settings(COOKIESESS={"keys": KEYS, "store": store}):
        yield store


def test_store_failure_on_load_answers_503(flaky: FlakyStore) -> None:
    """A session in a failing store gives 503 with no Set-Cookie; the view never runs."""
    cookie = loaded(big=os.urandom(8000))
    flaky.fail = True
    ran: list[bool] = []

    def view(request: HttpRequest) -> HttpResponse:
        ran.append(True)
        return HttpResponse("ok")

    _, response = serve(view, cookie=cookie)

    assert response.status_code == 503
    assert response.cookies == {}
    assert response.headers["Cache-Control"] == "no-store"
    assert ran == []


def test_store_failure_on_save_answers_503(flaky: FlakyStore) -> None:
    """A failing store at commit replaces the response with a 503 without Set-Cookie."""
    flaky.fail = True

    _, response = serve(setter(big=os.urandom(8000)))

    assert response.status_code == 503
    assert response.cookies == {}
    assert response.headers["Cache-Control"] == "no-store"


def test_store_failure_async(flaky: FlakyStore) -> None:
    """The async path answers 503 the same way."""
    flaky.fail = True

    async def view(request: HttpRequest) -> HttpResponse:
        await request.session.aset("big", os.urandom(8000))
        return HttpResponse("ok")

    response = asyncio.run(SessionMiddleware(view)(factory.get("/")))

    assert response.status_code == 503
    assert response.cookies == {}


# -- async ------------------------------------------------------------------------------


def test_async_session_api() -> None:
    """The a* variants behave like their sync counterparts."""
    seen: dict[str, Any] = {}

    async def view(request: HttpRequest) -> HttpResponse:
        s = request.session
        await s.aset("a", 1)
        await s.aupdate({"b": 2})
        seen["get"] = (await s.aget("a"), await s.aget("zz", "d"))
        seen["has"] = (await s.ahas_key("b"), await s.ahas_key("zz"))
        seen["setdefault"] = await s.asetdefault("c", 3)
        seen["pop"] = (await s.apop("c"), await s.apop("c", None))
        seen["views"] = (
            sorted(await s.akeys()),
            sorted(await s.avalues()),
            sorted(await s.aitems()),
        )
        await s.aset_expiry(60)
        seen["expiry"] = (
            await s.aget_expiry_age(),
            await s.aget_expire_at_browser_close(),
            (await s.aget_expiry_date()) > timezone.now(),
        )
        await s.aset_test_cookie()
        seen["test_cookie"] = await s.atest_cookie_worked()
        await s.adelete_test_cookie()
        key = s.session_key
        await s.acycle_key()
        seen["cycled"] = s.session_key != key
        return HttpResponse("ok")

    middleware = SessionMiddleware(view)
    response = asyncio.run(middleware(factory.get("/")))

    assert seen == {
        "get": (1, "d"),
        "has": (True, False),
        "setdefault": 3,
        "pop": (3, None),
        "views": (["a", "b"], [1, 2], [("a", 1), ("b", 2)]),
        "expiry": (60, False, True),
        "test_cookie": True,
        "cycled": True,
    }
    assert "Max-Age=60;" in set_cookie_lines(response)[0]


def test_async_flush_and_clear() -> None:
    """aflush empties and expires; aclear empties."""
    cookie = loaded(a=1)

    async def flush(request: HttpRequest) -> HttpResponse:
        await request.session.aflush()
        return HttpResponse("ok")

    async def clear(request: HttpRequest) -> HttpResponse:
        await request.session.aclear()
        return HttpResponse(str(request.session.is_empty()))

    flushed = asyncio.run(SessionMiddleware(flush)(factory.get("/", HTTP_COOKIE=cookie)))
    cleared = asyncio.run(SessionMiddleware(clear)(factory.get("/", HTTP_COOKIE=cookie)))

    assert "Max-Age=0" in set_cookie_lines(flushed)[0]
    assert cleared.content == b"True"
    assert "Max-Age=0" in set_cookie_lines(cleared)[0]


def test_async_client_round_trip() -> None:
    """Through Django's ASGI stack, an async view's session persists across requests."""

    async def run() -> list[int]:
        client = AsyncClient()
        counts = []
        for _ in range(3):
            response = await client.get("/async/")
            counts.append(response.json()["count"])
        return counts

    assert asyncio.run(run()) == [1, 2, 3]


def test_alogin_alogout() -> None:
    """django.contrib.auth's alogin/alogout use the async API: new id, then emptied."""
    user = get_user_model().objects.get(username=USERNAME)
    request = factory.get("/")
    middleware = SessionMiddleware(ok)
    middleware.process_request(request)
    request.user = AnonymousUser()
    request.session["cart"] = [1]
    before = request.session.session_key

    asyncio.run(alogin(request, user))
    after = request.session.session_key
    data = dict(request.session)
    asyncio.run(alogout(request))

    assert before != after
    assert data["_auth_user_id"] == str(user.pk)
    assert data["cart"] == [1]
    assert dict(request.session) == {}
    response = middleware.process_response(request, HttpResponse("ok"))
    assert all("Max-Age=0" in line for line in set_cookie_lines(response))


# -- the whole project: auth, messages, CSRF ------------------------------------------


def csrf_token(client: Client, path: str) -> str:
    response = client.get(path)
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode())
    assert match
    return match.group(1)


def test_login_cycles_key_and_logout_flushes() -> None:
    """Login: new session id keeping the session; logout: emptied, cookies expired."""
    client = Client(enforce_csrf_checks=True)
    token = csrf_token(client, "/login/")
    anonymous = client.get("/whoami/").json()

    login = client.post(
        "/login/", {"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    private = client.get("/private/").json()
    logout = client.post("/logout/", {"csrfmiddlewaretoken": csrf_token(client, "/form/")})
    after = client.get("/whoami/").json()

    assert anonymous["user"] == ""
    assert login.status_code == 302
    assert login["Location"] == "/private/"
    assert private["user"] == USERNAME
    assert private["session_id"] != anonymous["session_id"]
    assert {"_auth_user_id", "_auth_user_hash", "_auth_user_backend"} <= set(private["keys"])
    assert logout.status_code == 302
    assert set_cookie_lines(logout) == [
        "sessionid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly; "
        "SameSite=Lax"
    ]
    assert after == {"user": "", "session_id": after["session_id"], "keys": []}
    assert client.get("/private/").status_code == 302


def test_wrong_password_keeps_anonymous_session() -> None:
    """A failed login changes nothing about the session's identity."""
    client = Client(enforce_csrf_checks=True)
    token = csrf_token(client, "/login/")
    before = client.get("/whoami/").json()

    response = client.post(
        "/login/", {"username": USERNAME, "password": "wrong", "csrfmiddlewaretoken": token}
    )

    assert response.status_code == 200
    assert client.get("/whoami/").json() == before


def test_login_required_redirects_anonymous() -> None:
    """@login_required sends an anonymous visitor to the login page."""
    response = Client().get("/private/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/private/")


def test_messages_session_storage() -> None:
    """django.contrib.messages' SessionStorage keeps messages until shown once."""
    client = Client()

    client.get("/flash/")
    first = client.get("/messages/").json()
    second = client.get("/messages/").json()

    assert first == {"messages": ["saved", "careful"]}
    assert second == {"messages": []}


def test_csrf_use_sessions() -> None:
    """With CSRF_USE_SESSIONS the token lives in the session and is enforced."""
    client = Client(enforce_csrf_checks=True)
    token = csrf_token(client, "/form/")

    accepted = client.post("/form/", {"csrfmiddlewaretoken": token})
    refused = client.post("/form/", {})
    keys = client.get("/whoami/").json()["keys"]

    assert accepted.content == b"accepted"
    assert refused.status_code == 403
    assert keys == ["_csrftoken"]
    assert "csrftoken" not in client.cookies


# -- lazy=True: the cookie opened only when a view touches request.session -----------


def test_lazy_session_untouched_is_never_opened() -> None:
    """A view that never touches request.session costs no decryption and writes nothing."""
    reasons: list[str] = []
    seen: list[Any] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(request.session)
        return HttpResponse("ok")

    with override_settings(COOKIESESS={"keys": KEYS, "lazy": True, "on_reject": reasons.append}):
        _, untouched = serve(view, cookie="sessionid=garbage")
        _, touched = serve(lambda r: HttpResponse(str(r.session.get("a"))), cookie="sessionid=x")

    assert type(seen[0]) is LazyDjangoSession
    assert seen[0].loaded is None
    assert untouched.cookies == {}
    assert not untouched.has_header("Vary")
    assert touched.content == b"None"
    assert touched["Vary"] == "Cookie"
    assert reasons == ["malformed"]  # only the request that touched the session


def test_lazy_session_reads_writes_and_django_api() -> None:
    """Data, attribute writes (modified = True), cycle_key and set_expiry reach the session."""
    with override_settings(COOKIESESS={"keys": KEYS, "lazy": True}):
        cookie = loaded(cart=[1])

        def view(request: HttpRequest) -> HttpResponse:
            request.session["cart"].append(2)
            request.session.modified = True
            request.session.set_expiry(0)
            old = request.session.session_key
            request.session.cycle_key()
            return HttpResponse(str(old != request.session.session_key))

        _, response = serve(view, cookie=cookie)
        _, after = serve(
            lambda r: HttpResponse(str(r.session["cart"])), cookie=cookie_header(response)
        )

    assert response.content == b"True"
    (line,) = set_cookie_lines(response)
    assert "Max-Age" not in line  # set_expiry(0): a browser-session cookie
    assert after.content == b"[1, 2]"


def test_lazy_session_with_auth_messages_and_csrf() -> None:
    """django.contrib.auth, messages and CSRF_USE_SESSIONS work unchanged when lazy."""
    with override_settings(COOKIESESS={"keys": KEYS, "lazy": True}):
        test_login_cycles_key_and_logout_flushes()
        test_messages_session_storage()
        test_csrf_use_sessions()


def test_lazy_store_reference_is_loaded_on_arrival(flaky: FlakyStore) -> None:
    """Lazy or not, a cookie pointing to a failing store is a 503 before the view runs."""
    with override_settings(COOKIESESS={"keys": KEYS, "store": flaky, "lazy": True}):
        test_store_failure_on_load_answers_503(flaky)


def test_lazy_has_no_effect_when_every_request_saves() -> None:
    """SESSION_SAVE_EVERY_REQUEST reads every session, so it is opened on arrival."""
    seen: list[Any] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(request.session)
        return HttpResponse("ok")

    with override_settings(
        SESSION_SAVE_EVERY_REQUEST=True, COOKIESESS={"keys": KEYS, "lazy": True}
    ):
        serve(view)

    assert type(seen[0]) is DjangoSession


def test_lazy_async_round_trip() -> None:
    """Through Django's ASGI stack with lazy=True, an async view's session persists."""
    with override_settings(COOKIESESS={"keys": KEYS, "lazy": True}):
        test_async_client_round_trip()


# -- request.session: the whole SessionBase API (issue 11 item 10) ------------------------


def public_api() -> list[str]:
    return sorted(name for name in dir(SessionBase) if not name.startswith("_"))


def open_session(view: Any, *, lazy: bool = False, cookie: str = "") -> tuple[Any, Any]:
    options = {"keys": KEYS, "lazy": lazy}
    with override_settings(COOKIESESS=options):
        request = factory.get("/", HTTP_COOKIE=cookie)
        response = SessionMiddleware(view)(request)
    return request, response


@pytest.mark.parametrize("lazy", [False, True])
def test_request_session_has_every_session_base_method(lazy: bool) -> None:
    """Every public name of the installed Django's SessionBase is on request.session."""
    missing: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        missing.extend(name for name in public_api() if not hasattr(request.session, name))
        return HttpResponse("ok")

    open_session(view, lazy=lazy)

    assert missing == []


@pytest.mark.parametrize("lazy", [False, True])
@pytest.mark.parametrize("status", [500, 503])
def test_load_after_a_5xx_has_nothing_saved(lazy: bool, status: int) -> None:
    """Django's test_session_save_on_500/5xx: load() after a 5xx has no "hello"."""

    def view(request: HttpRequest) -> HttpResponse:
        request.session["hello"] = "world"
        return HttpResponse("Horrible error", status=status)

    request, response = open_session(view, lazy=lazy)

    assert "hello" not in request.session.load()
    assert response.cookies == {}


def test_load_returns_what_the_client_holds() -> None:
    """load() reads the stored session: the request's cookie, or what this response set."""
    _, first = open_session(lambda r: (r.session.__setitem__("a", 1), HttpResponse())[1])
    cookie = f"{NAME}={first.cookies[NAME].value}"
    seen: list[Any] = []

    def view(request: HttpRequest) -> HttpResponse:
        request.session["a"] = 2
        seen.append(request.session.load())
        return HttpResponse("ok")

    request, _ = open_session(view, cookie=cookie)

    assert seen == [{"a": 1}]
    assert request.session.load() == {"a": 2}


def test_exists_delete_and_clear_expired() -> None:
    """exists(key), delete() (the session is emptied and its cookie expired), clear_expired()."""
    _, first = open_session(lambda r: (r.session.__setitem__("a", 1), HttpResponse())[1])
    cookie = f"{NAME}={first.cookies[NAME].value}"
    seen: dict[str, Any] = {}

    def view(request: HttpRequest) -> HttpResponse:
        s = request.session
        seen["exists"] = (s.exists(s.session_key), s.exists(None), s.exists("nope-nope"))
        s.delete()
        seen["after"] = (dict(s), s.session_key)
        seen["clear_expired"] = type(s).clear_expired()
        return HttpResponse("ok")

    _, response = open_session(view, cookie=cookie)

    assert seen == {"exists": (True, False, False), "after": ({}, None), "clear_expired": None}
    assert response.cookies[NAME]["max-age"] == "0"


def test_async_load_exists_delete() -> None:
    """aload, aexists, adelete and aclear_expired behave like their sync twins."""
    _, first = open_session(lambda r: (r.session.__setitem__("a", 1), HttpResponse())[1])
    cookie = f"{NAME}={first.cookies[NAME].value}"
    seen: dict[str, Any] = {}

    async def view(request: HttpRequest) -> HttpResponse:
        s = request.session
        await s.aset("a", 2)
        seen["load"] = await s.aload()
        seen["exists"] = await s.aexists(s.session_key)
        await s.adelete()
        seen["after"] = dict(s)
        seen["clear"] = await type(s).aclear_expired()
        return HttpResponse("ok")

    with override_settings(COOKIESESS={"keys": KEYS}):
        response = asyncio.run(SessionMiddleware(view)(factory.get("/", HTTP_COOKIE=cookie)))

    assert seen == {"load": {"a": 1}, "exists": True, "after": {}, "clear": None}
    assert response.cookies[NAME]["max-age"] == "0"


@pytest.mark.parametrize("valid_first", [True, False])
def test_valid_cookie_wins_over_junk_of_the_same_name(valid_first: bool) -> None:
    """Two values of the session cookie's name: the one that opens is used, whatever the order."""
    cookie = loaded(user="alice")
    pairs = [cookie, f"{NAME}=junk"]
    if not valid_first:
        pairs.reverse()

    _, response = serve(lambda r: HttpResponse(str(r.session.get("user"))), cookie="; ".join(pairs))

    assert response.content == b"alice"
