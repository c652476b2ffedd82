"""Shared by the legacy reader tests: secrets, data, strategies, a clock, cookie makers.

Each cookie maker is the real library (Flask's signing serializer, Starlette's
SessionMiddleware through its TestClient, ``django.core.signing``).
"""

from __future__ import annotations

import functools
import json
import string
import warnings
import zlib
from collections.abc import Callable
from typing import Any

import itsdangerous
from django.core import signing
from flask import Flask
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

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


class Clock:
    """A settable clock shared by itsdangerous and django.core.signing."""

    def __init__(self) -> None:
        self.now: float = NOW


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


def django_signer(secret: str = SECRET) -> signing.TimestampSigner:
    return signing.TimestampSigner(key=secret, salt=DJANGO_SALT, fallback_keys=[])


def django_cookie(data: object, *, secret: str = SECRET, compress: bool = True) -> str:
    return django_signer(secret).sign_object(
        data, serializer=signing.JSONSerializer, compress=compress
    )
