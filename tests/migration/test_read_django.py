"""The Django signed_cookies reader against cookies made by the real Django.

``django.core.signing`` is also the oracle (it accepts iff the reader accepts)
for expiry boundaries, fallback keys and signed garbage.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from typing import Any

import pytest
from django.core import signing
from hypothesis import given
from hypothesis import strategies as st

from cookiesess.exceptions import InvalidToken
from cookiesess.legacy import DjangoSignedCookiesReader
from tests.migration._legacy_support import (
    DJANGO_SALT,
    JSON_DATA,
    NOW,
    OLD_SECRET,
    OTHER_SECRET,
    SECRET,
    TWO_WEEKS,
    Clock,
    django_cookie,
    django_signer,
    fuzz,
    json_sessions,
    signed_garbage,
)

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
