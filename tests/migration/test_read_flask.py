"""The Flask session reader against cookies made by the real Flask.

Flask is also the oracle (it accepts iff the reader accepts) wherever its
behaviour is the contract: expiry boundaries, fallback keys, signed tag soup.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

import itsdangerous
import pytest
from flask import session as flask_session
from hypothesis import given
from markupsafe import Markup

from cookiesess.exceptions import InvalidToken
from cookiesess.legacy import FlaskSessionReader
from tests.migration._legacy_support import (
    FLASK_MAX_AGE,
    JSON_DATA,
    NOW,
    OLD_SECRET,
    OTHER_SECRET,
    SECRET,
    Clock,
    flask_app,
    flask_cookie,
    flask_serializer,
    fuzz,
    json_sessions,
    tag_soup,
)


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
