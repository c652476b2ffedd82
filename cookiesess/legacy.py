"""Readers for the session cookies of the libraries an app migrates away from.

Each reader verifies one legacy format exactly as its library does (MAC first,
then the timestamp, then the payload) and returns plain data for re-sealing.
Sans-IO and clock-free (time comes in as ``now``); stdlib only: it must never
import flask, werkzeug, itsdangerous, django or starlette.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import uuid
import zlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from cookiesess.engine import LegacyReader
from cookiesess.exceptions import ConfigurationError, InvalidToken

__all__ = [
    "DjangoSignedCookiesReader",
    "FlaskSessionReader",
    "LegacyReader",
    "StarletteSessionReader",
]

SameSite = Literal["Strict", "Lax", "None"]

# SECURITY: no browser sends a cookie value this long (RFC 6265 section 6.1
# asks for 4096 bytes per cookie, name included), so longer input is refused
# before any hashing: the work per read stays bounded.
_MAX_VALUE_CHARS: Final = 16_384
# SECURITY: cap on inflated payloads (zlib bombs). Neither itsdangerous nor
# Django caps it; a 4 KB cookie inflates to about 4 MiB at most, and no real
# session approaches 1 MiB.
_MAX_INFLATED_BYTES: Final = 1 << 20

_FLASK_SALT: Final = b"cookie-session"
_FLASK_DEFAULT_MAX_AGE: Final = 31 * 24 * 3600  # PERMANENT_SESSION_LIFETIME
_ITSDANGEROUS_SIGNER_SALT: Final = b"itsdangerous.Signer"
_STARLETTE_DEFAULT_MAX_AGE: Final = 14 * 24 * 3600
_DJANGO_SALT: Final = b"django.contrib.sessions.backends.signed_cookies"
_DJANGO_DEFAULT_MAX_AGE: Final = 14 * 24 * 3600  # SESSION_COOKIE_AGE
_BASE62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SAMESITE: Final[dict[str, SameSite]] = {
    "strict": "Strict",
    "lax": "Lax",
    "none": "None",
}


class _Rejected(Exception):
    """Internal: the value is unusable; turned into InvalidToken by ``read``."""


class _BaseReader:
    """Cookie attributes, validation and the one-exception ``read`` contract."""

    __slots__ = (
        "_keys",
        "cookie_name",
        "domain",
        "httponly",
        "partitioned",
        "path",
        "samesite",
        "secure",
    )

    def __init__(
        self,
        *,
        keys: tuple[bytes, ...],
        cookie_name: str,
        path: str,
        domain: str | None,
        secure: bool,
        httponly: bool,
        samesite: str | None,
        partitioned: bool,
        problems: list[str],
    ) -> None:
        _check_attributes(
            problems,
            cookie_name=cookie_name,
            path=path,
            domain=domain,
            flags={"secure": secure, "httponly": httponly, "partitioned": partitioned},
            samesite=samesite,
        )
        if problems:
            raise ConfigurationError(problems)
        self._keys = keys
        self.cookie_name: str = cookie_name
        self.path: str = path
        self.domain: str | None = domain
        self.secure: bool = secure
        self.httponly: bool = httponly
        self.samesite: SameSite | None = None if samesite is None else _SAMESITE[samesite.lower()]
        self.partitioned: bool = partitioned

    def read(self, value: str, *, now: float) -> dict[str, object]:
        """Verify a legacy cookie value and return its session data.

        Args:
            value: The cookie value as the browser sent it.
            now: Current Unix time in seconds.

        Returns:
            The verified session data, as plain Python values.

        Raises:
            InvalidToken: With reason ``"legacy_rejected"``, for any value
                the legacy library would not accept (and nothing else).
            TypeError: If ``value`` is not a ``str``.
        """
        _check_str(value)
        data: dict[str, object] | None
        try:
            # Every legacy format is ASCII on the wire; anything else is not
            # a cookie the library set.
            raw = value.encode("ascii")
            if not raw or len(raw) > _MAX_VALUE_CHARS:
                raise _Rejected
            data = self._read(raw, now)
        except Exception:  # SECURITY: every failure is the same opaque one
            data = None
        if data is None:
            # Raised outside the handler: no __context__ holding the payload
            # (a JSONDecodeError keeps the whole decoded document).
            raise InvalidToken("legacy_rejected")
        return data

    def _read(self, raw: bytes, now: float) -> dict[str, object]:
        raise NotImplementedError

    def __repr__(self) -> str:
        # SECURITY: never show secrets or derived keys.
        return f"{type(self).__name__}(cookie_name={self.cookie_name!r}, keys={len(self._keys)})"


class FlaskSessionReader(_BaseReader):
    """Reader for Flask's default ``SecureCookieSessionInterface`` cookie.

    Format (itsdangerous ``URLSafeTimedSerializer``, salt ``cookie-session``,
    ``hmac`` key derivation, HMAC-SHA1): ``[.]payload.timestamp.signature``,
    all base64url; a leading ``.`` marks a zlib-compressed payload, which is
    Flask's tagged JSON. Tagged values map to plain types: tuple to list,
    ``Markup`` to str, bytes to bytes, UUID to ``uuid.UUID``, datetime to an
    aware UTC datetime.

    Args:
        secret_key: Flask's ``SECRET_KEY``.
        fallbacks: Flask's ``SECRET_KEY_FALLBACKS``, also accepted.
        max_age: ``PERMANENT_SESSION_LIFETIME`` (seconds or timedelta); Flask
            applies it whether or not the session was permanent.
        cookie_name: ``SESSION_COOKIE_NAME``.
        path: ``SESSION_COOKIE_PATH`` (or ``APPLICATION_ROOT``).
        domain: ``SESSION_COOKIE_DOMAIN``.
        secure: ``SESSION_COOKIE_SECURE``.
        httponly: ``SESSION_COOKIE_HTTPONLY``.
        samesite: ``SESSION_COOKIE_SAMESITE``.
        partitioned: ``SESSION_COOKIE_PARTITIONED``.

    Raises:
        ConfigurationError: Listing every invalid option.

    .. versionadded:: 0.1
    """

    __slots__ = ("max_age",)

    def __init__(
        self,
        secret_key: str | bytes,
        *,
        fallbacks: Iterable[str | bytes] = (),
        max_age: int | timedelta = _FLASK_DEFAULT_MAX_AGE,
        cookie_name: str = "session",
        path: str = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = True,
        samesite: str | None = None,
        partitioned: bool = False,
    ) -> None:
        problems: list[str] = []
        secrets = _secrets(secret_key, fallbacks, problems)
        # Flask passes [*fallbacks, secret_key] (oldest to newest) and
        # itsdangerous tries them newest first.
        self.max_age: int = int(_seconds(max_age, problems))
        super().__init__(
            keys=tuple(hmac.new(s, _FLASK_SALT, "sha1").digest() for s in reversed(secrets)),
            cookie_name=cookie_name,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
            partitioned=partitioned,
            problems=problems,
        )

    def _read(self, raw: bytes, now: float) -> dict[str, object]:
        payload = _its_unsign(raw, self._keys, self.max_age, now)
        return _as_session(_flask_untag(json.loads(_payload(payload).decode("utf-8"))))


class StarletteSessionReader(_BaseReader):
    """Reader for Starlette's ``SessionMiddleware`` cookie.

    Format (itsdangerous ``TimestampSigner(str(secret_key))``: salt
    ``itsdangerous.Signer``, ``django-concat`` key derivation, HMAC-SHA1):
    ``base64(json).timestamp.signature``; the payload is standard base64
    (with ``+``, ``/`` and ``=``) of plain JSON.

    Args:
        secret_key: The middleware's ``secret_key``. Like Starlette, the reader
            keys on ``str(secret_key)`` (so bytes count as their repr there too).
        max_age: The middleware's ``max_age`` in seconds; None skips the check.
        cookie_name: The middleware's ``session_cookie``.
        path: The middleware's ``path``.
        domain: The middleware's ``domain``.
        secure: The middleware's ``https_only``.
        httponly: Always True in Starlette.
        samesite: The middleware's ``same_site``.
        partitioned: The middleware's ``partitioned``.

    Raises:
        ConfigurationError: Listing every invalid option.

    .. versionadded:: 0.1
    """

    __slots__ = ("max_age",)

    def __init__(
        self,
        secret_key: str | bytes,
        *,
        max_age: int | None = _STARLETTE_DEFAULT_MAX_AGE,
        cookie_name: str = "session",
        path: str = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = True,
        samesite: str | None = "lax",
        partitioned: bool = False,
    ) -> None:
        problems: list[str] = []
        # Starlette calls TimestampSigner(str(secret_key)); mirror it so any
        # value the middleware was given (str or starlette's Secret) works.
        text = secret_key if isinstance(secret_key, str) else str(secret_key)
        if not text:
            problems.append("secret_key must not be empty")
        self.max_age: int | None = None if max_age is None else int(_seconds(max_age, problems))
        super().__init__(
            keys=(
                hashlib.sha1(  # noqa: S324  # the legacy format fixes SHA-1
                    _ITSDANGEROUS_SIGNER_SALT + b"signer" + text.encode("utf-8")
                ).digest(),
            ),
            cookie_name=cookie_name,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
            partitioned=partitioned,
            problems=problems,
        )

    def _read(self, raw: bytes, now: float) -> dict[str, object]:
        payload = _its_unsign(raw, self._keys, self.max_age, now)
        # Starlette: json.loads(b64decode(data)), standard alphabet.
        return _as_session(json.loads(base64.b64decode(payload)))


class DjangoSignedCookiesReader(_BaseReader):
    """Reader for Django's ``signed_cookies`` session backend.

    Format (``django.core.signing`` ``TimestampSigner``, salt
    ``django.contrib.sessions.backends.signed_cookies``, HMAC-SHA256 keyed by
    SHA-256(salt + "signer" + secret)): ``[.]payload:timestamp:signature``,
    base64url with base62 timestamps; a leading ``.`` marks a zlib-compressed
    payload of compact JSON. Like Django, a timestamp in the future is not
    refused.

    Args:
        secret_key: Django's ``SECRET_KEY``.
        fallbacks: Django's ``SECRET_KEY_FALLBACKS``, also accepted.
        max_age: ``SESSION_COOKIE_AGE`` (seconds or timedelta).
        cookie_name: ``SESSION_COOKIE_NAME``.
        path: ``SESSION_COOKIE_PATH``.
        domain: ``SESSION_COOKIE_DOMAIN``.
        secure: ``SESSION_COOKIE_SECURE``.
        httponly: ``SESSION_COOKIE_HTTPONLY``.
        samesite: ``SESSION_COOKIE_SAMESITE``.
        partitioned: Whether the cookie was set with Partitioned.

    Raises:
        ConfigurationError: Listing every invalid option.

    .. versionadded:: 0.1
    """

    __slots__ = ("max_age",)

    def __init__(
        self,
        secret_key: str | bytes,
        *,
        fallbacks: Iterable[str | bytes] = (),
        max_age: int | timedelta = _DJANGO_DEFAULT_MAX_AGE,
        cookie_name: str = "sessionid",
        path: str = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = True,
        samesite: str | None = "Lax",
        partitioned: bool = False,
    ) -> None:
        problems: list[str] = []
        secrets = _secrets(secret_key, fallbacks, problems)
        self.max_age: float = _seconds(max_age, problems)
        # salted_hmac(salt + "signer", value, key, algorithm="sha256"); Django
        # tries [SECRET_KEY, *SECRET_KEY_FALLBACKS] in that order.
        super().__init__(
            keys=tuple(hashlib.sha256(_DJANGO_SALT + b"signer" + s).digest() for s in secrets),
            cookie_name=cookie_name,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
            partitioned=partitioned,
            problems=problems,
        )

    def _read(self, raw: bytes, now: float) -> dict[str, object]:
        signed, signature = _split(raw, b":")
        _verify(signed, signature, self._keys, "sha256")
        # MAC verified: from here on the bytes are Django's own output.
        payload, ts_text = _split(signed, b":")
        timestamp = _b62_decode(ts_text.decode("ascii"))
        # django.core.signing.TimestampSigner.unsign: float age, no future check.
        if now - timestamp > self.max_age:
            raise _Rejected
        return _as_session(json.loads(_payload(payload).decode("latin-1")))


# ---------------------------------------------------------------- helpers


def _check_str(value: object) -> None:
    if not isinstance(value, str):
        msg = f"a legacy cookie value must be str, not {type(value).__name__}"
        raise TypeError(msg)


def _check_attributes(
    problems: list[str],
    *,
    cookie_name: object,
    path: object,
    domain: object,
    flags: dict[str, object],
    samesite: object,
) -> None:
    """Append a message to ``problems`` for each invalid cookie attribute."""
    if not isinstance(cookie_name, str) or not cookie_name:
        problems.append("cookie_name must be a non-empty str")
    if not isinstance(path, str) or not path.startswith("/"):
        problems.append("path must be a str starting with '/'")
    if domain is not None and (not isinstance(domain, str) or not domain):
        problems.append("domain must be None or a non-empty str")
    problems.extend(
        f"{flag} must be a bool" for flag, value in flags.items() if not isinstance(value, bool)
    )
    if samesite is not None and (
        not isinstance(samesite, str) or samesite.lower() not in _SAMESITE
    ):
        problems.append("samesite must be None, 'Strict', 'Lax' or 'None'")


def _secrets(secret_key: object, fallbacks: object, problems: list[str]) -> list[bytes]:
    """Return the secrets as bytes, current first, then the fallbacks in order."""
    if isinstance(fallbacks, str | bytes) or not isinstance(fallbacks, Iterable):
        problems.append("fallbacks must be a list of secrets, not a single secret")
        fallbacks = ()
    secrets: list[bytes] = []
    for label, secret in (
        ("secret_key", secret_key),
        *((f"fallbacks[{i}]", f) for i, f in enumerate(fallbacks)),
    ):
        if isinstance(secret, str):
            secret = secret.encode("utf-8")  # noqa: PLW2901  # want_bytes/force_bytes
        if not isinstance(secret, bytes) or not secret:
            problems.append(f"{label} must be a non-empty str or bytes")
            continue
        secrets.append(secret)
    return secrets


def _seconds(max_age: object, problems: list[str]) -> float:
    """Return ``max_age`` in seconds (int, or a timedelta as the libraries take)."""
    seconds = max_age.total_seconds() if isinstance(max_age, timedelta) else max_age
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        problems.append("max_age must be a non-negative int (seconds) or a timedelta")
        return 0
    return seconds


def _split(raw: bytes, sep: bytes) -> tuple[bytes, bytes]:
    """Split on the last ``sep`` (both libraries use ``rsplit(sep, 1)``)."""
    head, found, tail = raw.rpartition(sep)
    if not found:
        raise _Rejected
    return head, tail


def _verify(
    signed: bytes,
    signature: bytes,
    keys: tuple[bytes, ...],
    digest: str,
) -> None:
    """Check the base64url signature text against each key, in library order.

    SECURITY: the expected MAC is encoded and compared as text, so only the
    canonical encoding the library emits is accepted (itsdangerous's lenient
    decoder would also take variants differing in the unused final bits).
    """
    for key in keys:
        expected = base64.urlsafe_b64encode(hmac.new(key, signed, digest).digest()).rstrip(b"=")
        if hmac.compare_digest(expected, signature):
            return
    raise _Rejected


def _its_unsign(raw: bytes, keys: tuple[bytes, ...], max_age: int | None, now: float) -> bytes:
    """Verify an itsdangerous ``TimestampSigner`` value; return its payload."""
    signed, signature = _split(raw, b".")
    _verify(signed, signature, keys, "sha1")
    # MAC verified: from here on the bytes are the library's own output.
    payload, ts_text = _split(signed, b".")
    ts_bytes = _b64url_decode(ts_text)
    if len(ts_bytes) > 8:  # itsdangerous: struct ">Q" after rjust(8)
        raise _Rejected
    timestamp = int.from_bytes(ts_bytes, "big")
    if max_age is not None:
        # itsdangerous TimestampSigner.unsign: int clock, both bounds.
        age = int(now) - timestamp
        if age > max_age or age < 0:
            raise _Rejected
    return payload


def _b64url_decode(text: bytes) -> bytes:
    """Decode unpadded base64url as itsdangerous and Django do (after the MAC)."""
    return base64.b64decode(text + b"=" * (-len(text) % 4), altchars=b"-_")


def _b62_decode(text: str) -> int:
    """Mirror ``django.core.signing.b62_decode``."""
    if text == "0":
        return 0
    sign = 1
    if text[0] == "-":
        text = text[1:]
        sign = -1
    decoded = 0
    for digit in text:
        decoded = decoded * 62 + _BASE62.index(digit)
    return sign * decoded


def _payload(payload: bytes) -> bytes:
    """Decode a base64url payload; a leading ``.`` marks zlib (itsdangerous and Django)."""
    if payload.startswith(b"."):
        return _inflate(_b64url_decode(payload[1:]))
    return _b64url_decode(payload)


def _inflate(data: bytes) -> bytes:
    """Decompress a complete zlib stream of at most ``_MAX_INFLATED_BYTES``."""
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, _MAX_INFLATED_BYTES)
    if inflater.unconsumed_tail or not inflater.eof:
        raise _Rejected
    return out


def _as_session(data: object) -> dict[str, object]:
    if not isinstance(data, dict):
        raise _Rejected
    return data


def _flask_untag(value: object) -> object:
    """Mirror ``TaggedJSONSerializer._untag_scan``, mapping tags to plain types."""
    if isinstance(value, dict):
        scanned = {key: _flask_untag(item) for key, item in value.items()}
        if len(scanned) == 1:
            ((tag, inner),) = scanned.items()
            untag = _FLASK_TAGS.get(tag)
            if untag is not None:
                return untag(inner)
        return scanned
    if isinstance(value, list):
        return [_flask_untag(item) for item in value]
    return value


# Each default tag's ``to_python`` (flask/json/tag.py), returning the plain
# types the codec keeps; anything Flask itself would fail on is rejected.


def _untag_dict(value: object) -> object:
    """TagDict ``' di'``: a 1-key dict whose key looks like a tag."""
    if not isinstance(value, dict) or not value:
        raise _Rejected
    key = next(iter(value))
    return {key[:-2]: value[key]}


def _untag_tuple(value: object) -> object:
    """TagTuple ``' t'``: ``tuple(value)``, kept as a list (the codec's form)."""
    if not isinstance(value, list | str | dict):
        raise _Rejected
    return list(value)


def _untag_bytes(value: object) -> object:
    """TagBytes ``' b'``: ``base64.b64decode(value)``."""
    if not isinstance(value, str | bytes):
        raise _Rejected
    return base64.b64decode(value)


def _untag_markup(value: object) -> object:
    """TagMarkup ``' m'``: ``Markup(value)`` as a str; the safe-HTML mark is lost."""
    return str(value)


def _untag_uuid(value: object) -> object:
    """TagUUID ``' u'``: ``uuid.UUID(value)``."""
    if not isinstance(value, str):
        raise _Rejected
    return uuid.UUID(value)


def _untag_datetime(value: object) -> object:
    """TagDateTime ``' d'``: ``werkzeug.http.parse_date(value)``, in UTC."""
    if isinstance(value, str):
        return _parse_http_date(value)
    if not value:  # parse_date gives None for falsy input
        return None
    raise _Rejected


_FLASK_TAGS: Final[dict[str, Callable[[object], object]]] = {
    " di": _untag_dict,
    " t": _untag_tuple,
    " b": _untag_bytes,
    " m": _untag_markup,
    " u": _untag_uuid,
    " d": _untag_datetime,
}


def _parse_http_date(value: str) -> datetime | None:
    """Mirror ``werkzeug.http.parse_date`` (None when unparseable), in UTC."""
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
