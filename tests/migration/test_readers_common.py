"""What every legacy reader shares: tamper resistance, bounded input, configuration.

Each format is exercised with a cookie made by its real library.
"""

from __future__ import annotations

import base64
import types
import zlib
from collections.abc import Callable

import itsdangerous
import pytest
from django.core import signing
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st

from cookiesess.exceptions import ConfigurationError, InvalidToken
from cookiesess.legacy import (
    DjangoSignedCookiesReader,
    FlaskSessionReader,
    LegacyReader,
    StarletteSessionReader,
)
from tests.migration._legacy_support import (
    FLASK_MAX_AGE,
    JSON_DATA,
    NOW,
    OLD_SECRET,
    OTHER_SECRET,
    SECRET,
    SWAP_CHARS,
    TWO_WEEKS,
    Clock,
    StarletteHarness,
    django_cookie,
    django_signer,
    flask_cookie,
    fuzz,
)

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
