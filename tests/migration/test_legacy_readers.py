"""Legacy readers against cookies made by the real Flask, Starlette and Django.

Every positive case is a cookie produced by the library itself; the library is
also used as the oracle (it accepts iff the reader accepts) wherever its
behaviour is the contract: expiry boundaries, fallback keys, signed garbage.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import json
import string
import subprocess
import sys
import types
import uuid
import warnings
import zlib
from collections.abc import Callable
from typing import Any

import itsdangerous
import pytest
from django.core import signing
from flask import Flask
from flask import session as flask_session
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from cookiesess.exceptions import ConfigurationError, InvalidToken
from cookiesess.legacy import (
    DjangoSignedCookiesReader,
    FlaskSessionReader,
    LegacyReader,
    StarletteSessionReader,
)

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 when only httpx is installed; the test
    # client works the same, and the project's deps are not this suite's call.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

NOW = 1_700_000_000
SECRET = "legacy-test-secret-0f3c9a7e41d2b8"
OLD_SECRET = "legacy-test-old-secret-77aa21c0de"
OTHER_SECRET = "unrelated-secret-5be0c1d99a2f43"
DJANGO_SALT = "django.contrib.sessions.backends.signed_cookies"
FLASK_MAX_AGE = 31 * 24 * 3600
TWO_WEEKS = 14 * 24 * 3600

# Characters a tamperer would try: every alphabet the three formats use.
SWAP_CHARS = string.ascii_letters + string.digits + "-_.:+/=!~"

JSON_DATA: dict[str, Any] = {
    "user_id": 42,
    "name": "Zoë 🍪 \u2028 «ümlaut»",
    "ratio": 0.125,
    "neg": -7,
    "big": 2**70,
    "flags": [True, False, None],
    "nested": {"cart": [{"sku": "A-1", "qty": 3}, {"sku": "B-2", "qty": 1}]},
    "empty": {},
    "list": [],
    "padding": "x" * 300,  # long enough for the compressed branches
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
json_sessions = st.dictionaries(st.text(max_size=8), json_values, max_size=5)
# Raw JSON shaped like Flask's tags, with odd contents: signed directly, it
# drives the reader's untagging through every branch Flask has.
tag_soup = st.recursive(
    json_values
    | st.sampled_from(
        [
            "",
            "AAEC",
            "not base64!",
            "Wed, 21 Oct 2015",
            "Wed, 21 Oct 2015 07:28:00 +0200",
            "Wed, 21 Oct 2015 07:28:00 -0000",
            "12345678123456781234567812345678",
        ]
    ),
    lambda children: (
        st.dictionaries(
            st.sampled_from([" t", " b", " m", " u", " d", " di", "x", "y__"]),
            children,
            max_size=2,
        )
        | st.lists(children, max_size=2)
    ),
    max_leaves=8,
).map(lambda v: {"v": v} if not isinstance(v, dict) else v)


def signed_garbage(encode: Callable[[bytes], bytes]) -> st.SearchStrategy[str]:
    """Payloads to sign with the real signer: junk, JSON of any shape, zlib."""
    documents = st.one_of(
        st.binary(max_size=60),
        json_values.map(lambda v: json.dumps(v).encode()),
        json_sessions.map(lambda v: json.dumps(v).encode()),
    )
    return st.one_of(
        st.text(alphabet=SWAP_CHARS, max_size=40),
        documents.map(lambda b: encode(b).decode()),
        documents.map(lambda b: "." + encode(zlib.compress(b)).decode()),
    )


def fuzz(examples: int) -> hsettings:
    """Hypothesis settings for this suite: bounded, no deadline, no database."""
    return hsettings(
        max_examples=examples,
        deadline=None,
        database=None,  # keep the repo free of .hypothesis/ writes
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )


# ---------------------------------------------------------------- clock


class Clock:
    """A settable clock shared by itsdangerous and django.core.signing."""

    def __init__(self) -> None:
        self.now: float = NOW


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: int(c.now))
    monkeypatch.setattr(signing, "time", types.SimpleNamespace(time=lambda: c.now))
    return c


# ---------------------------------------------------------------- Flask


def flask_app(secret: str = SECRET, fallbacks: list[str] | None = None) -> Flask:
    app = Flask("legacy_readers_test")
    app.secret_key = secret
    app.config["SECRET_KEY_FALLBACKS"] = fallbacks
    return app


@functools.cache
def flask_serializer(
    secret: str = SECRET, fallbacks: tuple[str, ...] = ()
) -> tuple[itsdangerous.URLSafeTimedSerializer, int]:
    """The serializer and max_age Flask's session interface uses (one app each)."""
    app = flask_app(secret, list(fallbacks) or None)
    serializer = app.session_interface.get_signing_serializer(app)
    assert serializer is not None
    return serializer, int(app.permanent_session_lifetime.total_seconds())


def flask_cookie(data: object, *, secret: str = SECRET, fallbacks: tuple[str, ...] = ()) -> str:
    serializer, _ = flask_serializer(secret, fallbacks)
    return serializer.dumps(data)


def flask_oracle(cookie: str, *, secret: str = SECRET, fallbacks: tuple[str, ...] = ()) -> object:
    """Open the cookie as Flask's open_session does; None when Flask refuses it."""
    serializer, max_age = flask_serializer(secret, fallbacks)
    try:
        data = serializer.loads(cookie, max_age=max_age)
    except Exception:
        return None
    return normalize(data) if isinstance(data, dict) else None


def normalize(value: object) -> object:
    """Map Flask's tagged types onto what the reader returns."""
    if isinstance(value, Markup):
        return str(value)
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalize(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return value


FLASK_EXTRA: dict[str, Any] = {
    "tuple": (1, "two", (3.5, None)),
    "bytes": b"\x00\xffbinary\x80",
    "markup": Markup("<b>safe</b>"),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "when": dt.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=dt.UTC),
    "naive": dt.datetime(2020, 1, 1, 12, 0, 0),
    "tz": dt.datetime(2021, 6, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    " t": "a key that looks like a tag",
    "wrapped": {" di": {"x": 1}},
    "deep": [{"b": b"1", "t": (b"2",)}],
}
FLASK_EXPECTED: dict[str, Any] = {
    "tuple": [1, "two", [3.5, None]],
    "bytes": b"\x00\xffbinary\x80",
    "markup": "<b>safe</b>",
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "when": dt.datetime(2024, 2, 29, 23, 59, 58, tzinfo=dt.UTC),
    "naive": dt.datetime(2020, 1, 1, 12, 0, 0, tzinfo=dt.UTC),
    "tz": dt.datetime(2021, 6, 1, 6, 0, tzinfo=dt.UTC),
    " t": "a key that looks like a tag",
    "wrapped": {" di": {"x": 1}},
    "deep": [{"b": b"1", "t": [b"2"]}],
}


class TestFlask:
    @pytest.mark.parametrize("data", [{}, {"k": "v"}, JSON_DATA])
    def test_json_types(self, clock: Clock, data: dict[str, Any]) -> None:
        """Plain JSON sessions, compressed or not, read back as Flask wrote them."""
        cookie = flask_cookie(data)

        got = FlaskSessionReader(SECRET).read(cookie, now=NOW)

        assert got == data == flask_oracle(cookie)

    def test_compressed_branch_is_exercised(self, clock: Clock) -> None:
        """A large session takes itsdangerous' zlib branch (leading '.')."""
        assert flask_cookie(JSON_DATA).startswith(".")
        assert not flask_cookie({"k": "v"}).startswith(".")

    def test_tagged_types(self, clock: Clock) -> None:
        """Flask's tagged types map to plain cookiesess-friendly types."""
        cookie = flask_cookie(FLASK_EXTRA)

        got = FlaskSessionReader(SECRET).read(cookie, now=NOW)

        assert got == FLASK_EXPECTED
        assert type(got["markup"]) is str
        assert got["when"].tzinfo is dt.UTC
        assert got == flask_oracle(cookie)

    def test_real_test_client(self, clock: Clock) -> None:
        """A cookie set by a real Flask app through its test client reads back."""
        app = flask_app()

        @app.post("/login")
        def login() -> str:
            flask_session["user"] = {"id": 7, "roles": ("admin", "ops")}
            flask_session.permanent = True
            return "ok"

        client = app.test_client()
        client.post("/login")
        cookie = client.get_cookie("session")
        assert cookie is not None

        got = FlaskSessionReader(SECRET).read(cookie.value, now=NOW)

        assert got == {"_permanent": True, "user": {"id": 7, "roles": ["admin", "ops"]}}

    @given(data=json_sessions)
    @fuzz(30)
    def test_any_json_session(self, data: dict[str, Any]) -> None:
        """Any JSON session Flask signs reads back equal (its own clock)."""
        cookie = flask_cookie(data)
        now = itsdangerous.TimestampSigner("k").get_timestamp()

        assert FlaskSessionReader(SECRET).read(cookie, now=now) == data

    def test_fallback_secret(self, clock: Clock) -> None:
        """A cookie signed under a SECRET_KEY_FALLBACKS key opens, as in Flask."""
        cookie = flask_cookie({"k": 1}, secret=OLD_SECRET)

        with_fallback = FlaskSessionReader(SECRET, fallbacks=(OTHER_SECRET, OLD_SECRET))
        without = FlaskSessionReader(SECRET)

        assert with_fallback.read(cookie, now=NOW) == {"k": 1}
        assert flask_oracle(cookie, fallbacks=(OTHER_SECRET, OLD_SECRET)) == {"k": 1}
        with pytest.raises(InvalidToken):
            without.read(cookie, now=NOW)
        assert flask_oracle(cookie) is None

    def test_app_with_fallbacks_signs_with_current_key(self, clock: Clock) -> None:
        """Flask signs with SECRET_KEY even when fallbacks are configured."""
        cookie = flask_cookie({"k": 1}, fallbacks=(OLD_SECRET,))

        assert FlaskSessionReader(SECRET).read(cookie, now=NOW) == {"k": 1}

    @pytest.mark.parametrize(
        "age",
        [-(10**6), -2, -1, 0, 1, FLASK_MAX_AGE - 1, FLASK_MAX_AGE, FLASK_MAX_AGE + 1],
    )
    @pytest.mark.parametrize("fraction", [0.0, 0.999])
    def test_age_matches_flask(self, clock: Clock, age: int, fraction: float) -> None:
        """Expiry and future timestamps are decided exactly as Flask decides."""
        cookie = flask_cookie({"k": 1})
        clock.now = NOW + age + fraction
        expected = flask_oracle(cookie)

        try:
            got: object = FlaskSessionReader(SECRET).read(cookie, now=clock.now)
        except InvalidToken:
            got = None

        assert got == expected
        assert (got is not None) == (0 <= age <= FLASK_MAX_AGE)

    def test_custom_max_age_timedelta(self, clock: Clock) -> None:
        """max_age accepts PERMANENT_SESSION_LIFETIME as a timedelta."""
        cookie = flask_cookie({"k": 1})
        reader = FlaskSessionReader(SECRET, max_age=dt.timedelta(hours=1))

        assert reader.read(cookie, now=NOW + 3600) == {"k": 1}
        with pytest.raises(InvalidToken):
            reader.read(cookie, now=NOW + 3601)

    def test_other_salt_rejected(self, clock: Clock) -> None:
        """Another itsdangerous serializer under the same key does not open."""
        cookie = itsdangerous.URLSafeTimedSerializer(SECRET).dumps({"k": 1})

        with pytest.raises(InvalidToken):
            FlaskSessionReader(SECRET).read(cookie, now=NOW)

    @given(data=tag_soup)
    @fuzz(80)
    def test_signed_tag_soup_matches_flask(self, data: object) -> None:
        """Any validly signed JSON, tag-shaped or not, is judged as Flask judges it."""
        untagged = itsdangerous.URLSafeTimedSerializer(
            SECRET,
            salt="cookie-session",
            signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
        )
        cookie = untagged.dumps(data)
        now = itsdangerous.TimestampSigner("k").get_timestamp()

        try:
            got: object = FlaskSessionReader(SECRET).read(cookie, now=now)
        except InvalidToken:
            got = None

        assert got == flask_oracle(cookie)
        assert all_datetimes_utc(got)


def all_datetimes_utc(value: object) -> bool:
    if isinstance(value, dt.datetime):
        return value.tzinfo is dt.UTC
    if isinstance(value, dict):
        return all(all_datetimes_utc(v) for v in value.values())
    if isinstance(value, list):
        return all(all_datetimes_utc(v) for v in value)
    return True


# ---------------------------------------------------------------- Starlette


class StarletteHarness:
    """A real Starlette app with SessionMiddleware, driven by its TestClient."""

    def __init__(self, *, secret: str = SECRET, max_age: int | None = TWO_WEEKS):
        self.to_store: dict[str, Any] = {}
        self.seen: list[dict[str, Any]] = []

        async def store(request: Request) -> PlainTextResponse:
            request.session.update(self.to_store)
            return PlainTextResponse("ok")

        async def show(request: Request) -> PlainTextResponse:
            self.seen.append(dict(request.session))
            return PlainTextResponse("ok")

        app = Starlette(
            routes=[Route("/store", store, methods=["POST"]), Route("/show", show)],
            middleware=[Middleware(SessionMiddleware, secret_key=secret, max_age=max_age)],
        )
        self.client = TestClient(app)

    def cookie(self, data: dict[str, Any]) -> str:
        self.to_store = data
        response = self.client.post("/store")
        # The raw Set-Cookie value, as a browser stores it (no cookie jar).
        (header,) = response.headers.get_list("set-cookie")
        name, _, value = header.split(";", 1)[0].partition("=")
        assert name == "session"
        self.client.cookies.clear()
        return value

    def oracle(self, cookie: str) -> dict[str, Any]:
        """The session Starlette opens from the cookie; {} when it refuses it."""
        self.seen.clear()
        try:
            self.client.get("/show", headers={"cookie": f"session={cookie}"})
        except Exception:
            return {}  # Starlette 500s on signed-but-undecodable payloads
        (seen,) = self.seen
        return seen


def is_json_object(payload: str) -> bool:
    try:
        return isinstance(json.loads(base64.b64decode(payload)), dict)
    except Exception:
        return True  # undecodable: let the oracle say what Starlette does


def as_starlette_sees(got: dict[str, object] | None) -> dict[str, object]:
    """Starlette hands out an empty session for a refused cookie."""
    return {} if got is None else got


@pytest.fixture(scope="module")
def starlette() -> StarletteHarness:
    return StarletteHarness()


class TestStarlette:
    @pytest.mark.parametrize("data", [{"k": "v"}, JSON_DATA, {"inf": float("inf")}])
    def test_json_types(
        self, clock: Clock, starlette: StarletteHarness, data: dict[str, Any]
    ) -> None:
        """Sessions set by the real middleware read back as Starlette reads them."""
        cookie = starlette.cookie(data)

        got = StarletteSessionReader(SECRET).read(cookie, now=NOW)

        assert got == data == starlette.oracle(cookie)

    def test_standard_base64_alphabet(self, clock: Clock, starlette: StarletteHarness) -> None:
        """Starlette's payload uses '+', '/' and '=' (standard base64)."""
        data = {"s": "\x00>>>???~~~"}
        cookie = starlette.cookie(data)
        assert set(cookie) & set("+/=")

        assert StarletteSessionReader(SECRET).read(cookie, now=NOW) == data

    @given(data=json_sessions.filter(bool))
    @fuzz(30)
    def test_any_json_session(self, starlette: StarletteHarness, data: dict[str, Any]) -> None:
        """Any JSON session the middleware writes reads back equal."""
        cookie = starlette.cookie(data)
        now = itsdangerous.TimestampSigner("k").get_timestamp()

        assert StarletteSessionReader(SECRET).read(cookie, now=now) == data

    @pytest.mark.parametrize(
        "age", [-1, 0, 1, TWO_WEEKS - 1, TWO_WEEKS, TWO_WEEKS + 1, 10 * TWO_WEEKS]
    )
    def test_age_matches_starlette(
        self, clock: Clock, starlette: StarletteHarness, age: int
    ) -> None:
        """Expiry is decided exactly as the middleware decides (max_age set)."""
        cookie = starlette.cookie({"k": 1})
        clock.now = NOW + age + 0.5

        try:
            got: dict[str, object] | None = StarletteSessionReader(SECRET).read(
                cookie, now=clock.now
            )
        except InvalidToken:
            got = None

        assert as_starlette_sees(got) == starlette.oracle(cookie)
        assert (got is not None) == (0 <= age <= TWO_WEEKS)

    def test_no_max_age(self, clock: Clock) -> None:
        """max_age=None checks no age at all, like SessionMiddleware(max_age=None)."""
        harness = StarletteHarness(max_age=None)
        cookie = harness.cookie({"k": 1})
        reader = StarletteSessionReader(SECRET, max_age=None)

        for age in (-(10**6), 10 * TWO_WEEKS):
            clock.now = NOW + age
            assert reader.read(cookie, now=clock.now) == {"k": 1}
            assert harness.oracle(cookie) == {"k": 1}

    @given(payload=signed_garbage(base64.b64encode))
    @fuzz(60)
    def test_signed_garbage_matches_starlette(
        self, starlette: StarletteHarness, payload: str
    ) -> None:
        """Any validly signed payload is judged as the middleware judges it.

        One deliberate difference: Starlette builds its session with dict(), so
        a signed JSON list of pairs opens there; only a JSON object opens here.
        """
        cookie = itsdangerous.TimestampSigner(SECRET).sign(payload).decode()
        now = itsdangerous.TimestampSigner("k").get_timestamp()
        expected = starlette.oracle(cookie) if is_json_object(payload) else {}

        try:
            got: dict[str, object] | None = StarletteSessionReader(SECRET).read(cookie, now=now)
        except InvalidToken:
            got = None

        assert as_starlette_sees(got) == expected

    def test_deleted_session_marker(self) -> None:
        """The 'null' value Starlette writes when clearing a session is rejected."""
        with pytest.raises(InvalidToken):
            StarletteSessionReader(SECRET).read("null", now=NOW)

    def test_attributes_default_to_starlette(self) -> None:
        """Defaults are the middleware's cookie attributes (samesite normalized)."""
        r = StarletteSessionReader(SECRET, secure=True, domain="example.com")

        assert (r.cookie_name, r.path, r.domain, r.secure, r.httponly) == (
            "session",
            "/",
            "example.com",
            True,
            True,
        )
        assert r.samesite == "Lax"
        assert r.partitioned is False


# ---------------------------------------------------------------- Django


# signing.dumps and SessionStore read django.conf.settings, which can be
# configured once per process; a child process keeps this suite from fixing
# settings for every other test (e.g. a Django adapter's own configuration).
DJANGO_CHILD = """
import json, sys, types
from django.conf import settings
args = json.load(sys.stdin)
settings.configure(SECRET_KEY=args["secret"], SECRET_KEY_FALLBACKS=[])
from django.core import signing
signing.time = types.SimpleNamespace(time=lambda: args["now"])
from django.contrib.sessions.backends.signed_cookies import SessionStore
dumps = {
    f"{name}-{compress}": signing.dumps(
        data, salt=args["salt"], compress=compress, serializer=signing.JSONSerializer
    )
    for name, data in args["data"].items()
    for compress in (True, False)
}
store = SessionStore()
store.update(args["data"]["store"])
store.save()
loaded = SessionStore(session_key=store.session_key).load()
json.dump({"dumps": dumps, "store": store.session_key, "loaded": loaded}, sys.stdout)
"""
DJANGO_DATA: dict[str, dict[str, Any]] = {
    "small": {"k": "v"},
    "json": JSON_DATA,
    "store": {"_auth_user_id": "12", "_auth_user_backend": "x.Backend", "cart": [1, 2]},
}


@pytest.fixture(scope="module")
def django_made() -> dict[str, Any]:
    """Cookies made by signing.dumps and the real SessionStore, at NOW."""
    args = {"secret": SECRET, "now": NOW, "salt": DJANGO_SALT, "data": DJANGO_DATA}
    child = subprocess.run(
        [sys.executable, "-c", DJANGO_CHILD],
        input=json.dumps(args),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    made: dict[str, Any] = json.loads(child.stdout)
    return made


def django_signer(secret: str = SECRET) -> signing.TimestampSigner:
    return signing.TimestampSigner(key=secret, salt=DJANGO_SALT, fallback_keys=[])


def django_cookie(data: object, *, secret: str = SECRET, compress: bool = True) -> str:
    return django_signer(secret).sign_object(
        data, serializer=signing.JSONSerializer, compress=compress
    )


def django_oracle(
    cookie: str,
    *,
    fallbacks: tuple[str, ...] = (),
    max_age: float = TWO_WEEKS,
) -> object:
    """signing.loads exactly as the signed_cookies backend calls it; None if refused."""
    try:
        data = signing.loads(
            cookie,
            key=SECRET,
            fallback_keys=list(fallbacks),
            salt=DJANGO_SALT,
            serializer=signing.JSONSerializer,
            max_age=max_age,
        )
    except Exception:
        return None
    return data if isinstance(data, dict) else None


class TestDjango:
    @pytest.mark.parametrize("compress", [True, False])
    @pytest.mark.parametrize("name", ["small", "json"])
    def test_signing_dumps(
        self, clock: Clock, django_made: dict[str, Any], name: str, compress: bool
    ) -> None:
        """signing.dumps output, compressed or not, reads back equal."""
        cookie = django_made["dumps"][f"{name}-{compress}"]

        got = DjangoSignedCookiesReader(SECRET).read(cookie, now=NOW)

        assert got == DJANGO_DATA[name] == django_oracle(cookie)
        assert cookie.startswith(".") == (compress and name == "json")

    def test_real_session_store(self, django_made: dict[str, Any]) -> None:
        """A cookie made by the signed_cookies SessionStore itself reads back."""
        cookie = django_made["store"]
        assert django_made["loaded"] == DJANGO_DATA["store"]  # Django opens it

        got = DjangoSignedCookiesReader(SECRET).read(cookie, now=NOW)

        assert got == DJANGO_DATA["store"]

    @given(data=json_sessions, compress=st.booleans())
    @fuzz(40)
    def test_any_json_session(self, data: dict[str, Any], compress: bool) -> None:
        """Any JSON session Django signs reads back equal (its own clock)."""
        cookie = django_cookie(data, compress=compress)
        now = signing.time.time()

        assert DjangoSignedCookiesReader(SECRET).read(cookie, now=now) == data

    def test_fallback_secret(self, clock: Clock) -> None:
        """A cookie signed under SECRET_KEY_FALLBACKS opens, as in Django."""
        cookie = django_cookie({"k": 1}, secret=OLD_SECRET)

        reader = DjangoSignedCookiesReader(SECRET, fallbacks=(OTHER_SECRET, OLD_SECRET))

        assert reader.read(cookie, now=NOW) == {"k": 1}
        assert django_oracle(cookie, fallbacks=(OTHER_SECRET, OLD_SECRET)) == {"k": 1}
        with pytest.raises(InvalidToken):
            DjangoSignedCookiesReader(SECRET).read(cookie, now=NOW)
        assert django_oracle(cookie) is None

    @pytest.mark.parametrize(
        "age",
        [-(10**6), -1, 0, 1, TWO_WEEKS - 1, TWO_WEEKS, TWO_WEEKS + 0.25, TWO_WEEKS + 1],
    )
    def test_age_matches_django(self, clock: Clock, age: float) -> None:
        """Expiry is decided as Django decides: float age, future not refused."""
        cookie = django_cookie({"k": 1})
        clock.now = NOW + age

        try:
            got: object = DjangoSignedCookiesReader(SECRET).read(cookie, now=clock.now)
        except InvalidToken:
            got = None

        assert got == django_oracle(cookie)
        assert (got is not None) == (age <= TWO_WEEKS)

    @given(payload=signed_garbage(base64.urlsafe_b64encode))
    @fuzz(100)
    def test_signed_garbage_matches_django(self, payload: str) -> None:
        """Any validly signed payload is judged as signing.loads judges it."""
        cookie = django_signer().sign(payload.rstrip("="))
        now = signing.time.time()

        try:
            got: object = DjangoSignedCookiesReader(SECRET).read(cookie, now=now)
        except InvalidToken:
            got = None

        assert got == django_oracle(cookie)


# ---------------------------------------------------------------- all formats


REAL_NAMES = ["flask", "flask-zlib", "starlette", "django", "django-zlib"]


@pytest.fixture(scope="module")
def real() -> dict[str, tuple[LegacyReader, str]]:
    """One real cookie per format, each with its matching reader."""
    clock = Clock()
    with pytest.MonkeyPatch.context() as patcher:
        patcher.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: int(clock.now))
        patcher.setattr(signing, "time", types.SimpleNamespace(time=lambda: clock.now))
        small = {"uid": 1, "n": "é"}
        return {
            "flask": (FlaskSessionReader(SECRET), flask_cookie(small)),
            "flask-zlib": (FlaskSessionReader(SECRET), flask_cookie(JSON_DATA)),
            "starlette": (
                StarletteSessionReader(SECRET),
                StarletteHarness().cookie(small),
            ),
            "django": (
                DjangoSignedCookiesReader(SECRET),
                django_cookie(small, compress=False),
            ),
            "django-zlib": (
                DjangoSignedCookiesReader(SECRET),
                django_cookie(JSON_DATA),
            ),
        }


READERS: dict[str, Callable[[str], LegacyReader]] = {
    "flask": FlaskSessionReader,
    "starlette": StarletteSessionReader,
    "django": DjangoSignedCookiesReader,
}


def rejects(reader: LegacyReader, value: str) -> bool:
    """True when read raises the opaque InvalidToken (anything else propagates)."""
    caught: InvalidToken | None = None
    try:
        reader.read(value, now=NOW)
    except InvalidToken as exc:
        caught = exc
    if caught is None:
        return False
    # Opaque: the reason code only, no chained internal error or payload.
    assert caught.reason == "legacy_rejected"
    assert caught.__cause__ is None
    assert caught.__context__ is None
    assert caught.args == ()
    return True


def family(name: str) -> str:
    return name.partition("-")[0]


@pytest.mark.parametrize("name", REAL_NAMES)
class TestTampering:
    def test_genuine_accepted(self, real: dict[str, tuple[LegacyReader, str]], name: str) -> None:
        """Control: the untouched cookie opens."""
        reader, cookie = real[name]

        assert not rejects(reader, cookie)

    def test_every_single_character_swap(
        self, real: dict[str, tuple[LegacyReader, str]], name: str
    ) -> None:
        """Replacing any one character with any other never opens (0 acceptances)."""
        reader, cookie = real[name]
        accepted = []

        for i, original in enumerate(cookie):
            swaps = set(SWAP_CHARS) | {chr(ord(original) ^ (1 << b)) for b in range(8)}
            for c in swaps - {original}:
                mutated = cookie[:i] + c + cookie[i + 1 :]
                if not rejects(reader, mutated):
                    accepted.append(mutated)

        assert accepted == []

    def test_truncated_deleted_and_extended(
        self, real: dict[str, tuple[LegacyReader, str]], name: str
    ) -> None:
        """Every prefix, suffix, single deletion and appended byte is rejected."""
        reader, cookie = real[name]
        variants = {cookie[:i] for i in range(len(cookie))}
        variants |= {cookie[i:] for i in range(1, len(cookie) + 1)}
        variants |= {cookie[:i] + cookie[i + 1 :] for i in range(len(cookie))}
        variants |= {cookie + c for c in SWAP_CHARS}
        variants |= {f'"{cookie}"', f" {cookie}", f"{cookie} "}

        assert [v for v in variants if not rejects(reader, v)] == []

    def test_wrong_secret(self, real: dict[str, tuple[LegacyReader, str]], name: str) -> None:
        """The same cookie under any other secret is rejected."""
        _, cookie = real[name]
        other = READERS[family(name)](OTHER_SECRET)

        assert rejects(other, cookie)

    def test_other_formats_reject(
        self, real: dict[str, tuple[LegacyReader, str]], name: str
    ) -> None:
        """A cookie of one format never opens in another format's reader."""
        _, cookie = real[name]
        others = [r for r in READERS if r != family(name)]

        assert [r for r in others if not rejects(READERS[r](SECRET), cookie)] == []


def zlib_payload(size: int) -> bytes:
    """Compressed '.'-marked base64url of a valid JSON object ``size`` bytes long."""
    document = b'{"a":"' + b"a" * (size - 8) + b'"}'
    assert len(document) == size
    return b"." + base64.urlsafe_b64encode(zlib.compress(document, 9)).rstrip(b"=")


FLASK_SIGNER = itsdangerous.TimestampSigner(SECRET, salt="cookie-session", key_derivation="hmac")


class TestRobustness:
    @pytest.mark.parametrize(("size", "accepted"), [(1 << 20, True), ((1 << 20) + 1, False)])
    def test_inflate_cap_flask(self, clock: Clock, size: int, accepted: bool) -> None:
        """A signed zlib payload inflates to at most 1 MiB (a bomb is cut off)."""
        cookie = FLASK_SIGNER.sign(zlib_payload(size)).decode()
        assert len(cookie) < 16_384

        assert rejects(FlaskSessionReader(SECRET), cookie) != accepted

    @pytest.mark.parametrize(("size", "accepted"), [(1 << 20, True), ((1 << 20) + 1, False)])
    def test_inflate_cap_django(self, clock: Clock, size: int, accepted: bool) -> None:
        """Django's compressed branch has the same 1 MiB cap."""
        cookie = django_signer().sign(zlib_payload(size).decode())

        assert rejects(DjangoSignedCookiesReader(SECRET), cookie) != accepted

    @pytest.mark.parametrize("name", READERS)
    def test_non_dict_payload(self, name: str, clock: Clock) -> None:
        """A validly signed non-object payload is refused."""
        cookies = {
            "flask": lambda: flask_cookie([1, 2]),
            "starlette": lambda: (
                itsdangerous.TimestampSigner(SECRET).sign(base64.b64encode(b"[1,2]")).decode()
            ),
            "django": lambda: django_cookie([1, 2]),
        }

        assert rejects(READERS[name](SECRET), cookies[name]())

    @pytest.mark.parametrize("name", READERS)
    def test_misuse_is_type_error(self, name: str) -> None:
        """Passing bytes is a programming error, not a rejected cookie."""
        with pytest.raises(TypeError):
            READERS[name](SECRET).read(b"abc", now=NOW)  # type: ignore[arg-type]

    @pytest.mark.parametrize("name", READERS)
    @given(value=st.text() | st.text(alphabet=SWAP_CHARS, max_size=120))
    @fuzz(150)
    def test_arbitrary_text_only_invalid_token(self, name: str, value: str) -> None:
        """For any string, read returns a dict or raises InvalidToken, nothing else."""
        reader = READERS[name](SECRET)

        try:
            result = reader.read(value, now=NOW)
        except InvalidToken:
            return
        assert isinstance(result, dict)  # pragma: no cover - forging is the bug

    @pytest.mark.parametrize("name", READERS)
    def test_oversized_value(self, name: str) -> None:
        """Values longer than any browser sends are refused before hashing."""
        assert rejects(READERS[name](SECRET), "a" * 100_000)

    @pytest.mark.parametrize("name", READERS)
    def test_repr_hides_secrets(self, name: str) -> None:
        """repr shows the cookie name and key count, never a secret."""
        text = repr(READERS[name](SECRET))

        assert SECRET not in text
        assert "keys=1" in text


class TestConfiguration:
    def test_every_problem_reported(self) -> None:
        """Bad options are all listed in one ConfigurationError."""
        with pytest.raises(ConfigurationError) as info:
            FlaskSessionReader(
                "",
                fallbacks="oops",  # a single string, not a list
                max_age=-1,
                cookie_name="",
                path="nope",
                samesite="sideways",
                secure="yes",  # type: ignore[arg-type]
            )

        assert len(info.value.problems) == 7

    def test_fallback_entry_named(self) -> None:
        """An empty fallback is reported by its index."""
        with pytest.raises(ConfigurationError, match=r"fallbacks\[1\]"):
            DjangoSignedCookiesReader(SECRET, fallbacks=[OLD_SECRET, b""])

    def test_defaults_mirror_libraries(self) -> None:
        """Default attributes are each library's defaults."""
        flask = FlaskSessionReader(SECRET)
        django = DjangoSignedCookiesReader(SECRET)
        star = StarletteSessionReader(SECRET)

        assert (flask.cookie_name, flask.samesite, flask.max_age) == (
            "session",
            None,
            FLASK_MAX_AGE,
        )
        assert (django.cookie_name, django.samesite, django.max_age) == (
            "sessionid",
            "Lax",
            TWO_WEEKS,
        )
        assert (star.cookie_name, star.samesite, star.max_age) == (
            "session",
            "Lax",
            TWO_WEEKS,
        )
        for reader in (flask, django, star):
            assert (reader.path, reader.domain, reader.secure, reader.httponly) == (
                "/",
                None,
                False,
                True,
            )

    def test_bytes_secret_like_flask(self, clock: Clock) -> None:
        """A bytes SECRET_KEY works as Flask uses it."""
        app = Flask("bytes_secret")
        app.secret_key = b"\x01\x02binary-secret-bytes"
        serializer = app.session_interface.get_signing_serializer(app)
        assert serializer is not None
        cookie = serializer.dumps({"k": 1})

        reader = FlaskSessionReader(b"\x01\x02binary-secret-bytes")

        assert reader.read(cookie, now=NOW) == {"k": 1}
