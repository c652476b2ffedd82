"""The Starlette session reader against cookies made by the real SessionMiddleware.

The middleware is also the oracle (it accepts iff the reader accepts) for
expiry boundaries and signed garbage.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import itsdangerous
import pytest
from hypothesis import given

from cookiesess.exceptions import InvalidToken
from cookiesess.legacy import StarletteSessionReader
from tests.migration._legacy_support import (
    JSON_DATA,
    NOW,
    SECRET,
    TWO_WEEKS,
    Clock,
    StarletteHarness,
    fuzz,
    json_sessions,
    signed_garbage,
)


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
