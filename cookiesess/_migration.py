"""Migration from another session library: the `LegacyReader` protocol, reading once, expiry.

A legacy cookie is read only when no value of the session cookie's name is a
cookiesess token, before ``migrate_until``; its data then passes the same
admission as any session. Legacy cookies are expired wherever the browser
would otherwise keep them.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, cast

from . import codec
from .cookies import SetCookie, values_of
from .exceptions import CodecError, ConfigurationError, InvalidToken

__all__ = ["LegacyReader", "Migration", "expire_line", "readers_of"]


class LegacyReader(Protocol):
    """Reads the cookie of the session library an app is leaving (see `cookiesess.legacy`).

    The attributes are those the legacy cookie was set with, to expire it exactly.
    """

    @property
    def cookie_name(self) -> str:
        """Name of the legacy cookie."""

    @property
    def path(self) -> str:
        """Its Path attribute."""

    @property
    def domain(self) -> str | None:
        """Its Domain attribute, if any."""

    @property
    def secure(self) -> bool:
        """Whether it was set with Secure."""

    @property
    def httponly(self) -> bool:
        """Whether it was set with HttpOnly."""

    @property
    def samesite(self) -> str | None:
        """Its SameSite attribute, if any."""

    @property
    def partitioned(self) -> bool:
        """Whether it was set with Partitioned."""

    def read(self, value: str, *, now: float) -> dict[str, Any]:
        """Return the verified data, or raise `InvalidToken`."""
        ...  # pragma: no cover


def expire_line(reader: LegacyReader) -> str:
    """The Set-Cookie value that deletes the reader's cookie."""
    samesite = reader.samesite.capitalize() if reader.samesite else None
    return SetCookie(
        name=reader.cookie_name,
        path=reader.path,
        domain=reader.domain,
        secure=reader.secure,
        httponly=reader.httponly,
        samesite=samesite,  # type: ignore[arg-type]
        partitioned=reader.partitioned,
        max_age=0,
    ).render()


def readers_of(value: object, problems: list[str]) -> tuple[LegacyReader, ...]:
    """Return ``migrate_from`` as a tuple of readers; append a message per bad entry."""
    if callable(getattr(value, "read", None)):
        return (cast("LegacyReader", value),)
    if isinstance(value, str) or not isinstance(value, Iterable):
        problems.append(
            f"migrate_from={value!r}: pass reader objects from cookiesess.legacy, e.g. "
            "[StarletteSessionReader(secret_key)] (only the Flask and Django adapters "
            "take the names 'flask' and 'django')"
        )
        return ()
    readers: list[LegacyReader] = []
    for reader in value:
        if not callable(getattr(reader, "read", None)):
            problems.append(
                f"migrate_from entry {reader!r} is not a legacy reader (no read() method)"
            )
            continue
        try:
            expire_line(reader)
        except ConfigurationError as exc:
            problems.extend(f"migrate_from entry {reader!r}: {p}" for p in exc.problems)
            continue
        except AttributeError as exc:  # a reader missing a cookie attribute
            problems.append(f"migrate_from entry {reader!r}: {exc}")
            continue
        readers.append(reader)
    return tuple(readers)


def _domain_key(domain: str | None) -> str | None:
    # RFC 6265 section 5.2.3: a leading dot is ignored; domains compare case-insensitively.
    return None if domain is None else domain.lstrip(".").lower()


class Migration:
    """The legacy readers of one configuration, and where our cookies meet theirs."""

    __slots__ = ("_chunk_names", "_legacy_names", "_name", "_ours", "_until", "readers")

    def __init__(
        self,
        readers: Sequence[LegacyReader],
        until: _dt.datetime | None,
        *,
        names: Sequence[str],
        path: str,
        domain: str | None,
        partitioned: bool,
    ) -> None:
        self.readers = tuple(readers)
        self._legacy_names = frozenset(reader.cookie_name for reader in self.readers)
        self._until = None if until is None else until.timestamp()
        self._name = names[0]
        self._chunk_names = frozenset(names)
        self._ours = (path, _domain_key(domain), partitioned)

    def came(self, cookies: Mapping[str, str]) -> bool:
        """Whether `cookies` hold a cookie of a reader's name (cheap: names only)."""
        return not self._legacy_names.isdisjoint(cookies)

    def read(
        self, cookies: Mapping[str, str], now: int
    ) -> tuple[dict[str, Any], bytes, object] | None:
        """Return the first legacy cookie a reader verifies: its data, encoded, and the reader.

        None when no legacy cookie came (or ``migrate_until`` has passed).

        Raises:
            InvalidToken: ``legacy_rejected`` when legacy cookies came and none verified.
        """
        if self._until is not None and now >= self._until:
            return None
        rejected = False
        for reader in self.readers:
            for value in values_of(cookies, reader.cookie_name):
                try:
                    data = reader.read(value, now=now)
                    # Check now that the data can be re-sealed: a CodecError at
                    # commit would fail every request of this user.
                    encoded = codec.encode(data)
                except (InvalidToken, CodecError):
                    rejected = True  # another reader of the same name may verify it
                    continue
                return data, encoded, reader
        if rejected:
            raise InvalidToken("legacy_rejected")
        return None

    def replaces(self, reader: LegacyReader) -> bool:
        """Whether our first cookie overwrites the reader's in the browser's jar."""
        return (
            reader.cookie_name == self._name
            and (
                reader.path,
                _domain_key(reader.domain),
                reader.partitioned,
            )
            == self._ours
        )

    def expiry_lines(
        self,
        cookies: Mapping[str, str],
        migrated: object,
        *,
        foreign: tuple[str, ...],
        ours: bool,
        writing: bool,
        now: int,
    ) -> list[str]:
        """The lines that delete the legacy cookies this response would leave behind.

        Args:
            cookies: the request's cookies.
            migrated: the reader this request's session was read with, if any.
            foreign: values of our cookie name that may not be our token; one a
                reader verifies is its cookie (under another path or domain,
                or left after ``migrate_until``).
            ours: the request carried our valid cookie. A legacy value under our
                name, path and domain then came from elsewhere (a sibling
                domain's cookie): expiring it with those attributes would
                delete ours.
            writing: this response writes or deletes our cookie, which then
                replaces a legacy cookie of the same name, path and domain.
            now: the time, for the readers.
        """
        lines: dict[str, None] = {}
        for reader in self.readers:
            name = reader.cookie_name
            if name == self._name:
                present = migrated is reader or _verifies(reader, foreign, now)
                if self.replaces(reader):
                    present = present and not writing and not ours
            elif name in self._chunk_names:
                present = migrated is reader
            else:
                present = name in cookies
            if present:
                lines[expire_line(reader)] = None
        return list(lines)


def _verifies(reader: LegacyReader, values: tuple[str, ...], now: int) -> bool:
    for value in values:
        try:
            reader.read(value, now=now)
        except (InvalidToken, TypeError):
            continue
        return True
    return False
