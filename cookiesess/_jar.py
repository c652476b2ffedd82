"""The session's cookies: chunk names, capacity, fit, join, Set-Cookie and expiry lines.

A sealed token is split across ``NAME``, ``NAME.1``, … so that every
Set-Cookie line (name, value and attributes) fits ``max_cookie_bytes`` and
the cookies together fit ``max_total_bytes`` as the browser sends them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .cookies import EXPIRED, MAX_AGE_CAP, SetCookie, chunk_name, values_of
from .envelope import MAX_CHUNKS
from .exceptions import ConfigurationError, InvalidToken

if TYPE_CHECKING:
    from .config import SessionConfig

__all__ = ["Jar"]


class Jar:
    """The cookies of one configuration: their names, attributes and room."""

    __slots__ = ("_attrs", "_capacity", "_chunks", "_fits", "_max_total", "name", "names")

    def __init__(self, config: SessionConfig) -> None:
        name = self.name = config.cookie_name
        self.names = tuple(chunk_name(name, i) for i in range(MAX_CHUNKS))
        self._chunks = frozenset(self.names[1:])
        self._attrs = {
            secure: SetCookie(
                name=name,
                secure=secure,
                path=config.path,
                domain=config.domain,
                httponly=config.httponly,
                samesite=config.samesite,
                partitioned=config.partitioned,
                priority=config.priority,
            ).attributes()
            for secure in ((True, False) if config.secure == "auto" else (config.secure,))
        }
        # Worst-case Max-Age attribute: "; Max-Age=34560000".
        reserve = len(f"; Max-Age={MAX_AGE_CAP}") + max(map(len, self._attrs.values()))
        self._capacity = tuple(config.max_cookie_bytes - len(n) - 1 - reserve for n in self.names)
        if self._capacity[-1] < 256:
            raise ConfigurationError(
                "max_cookie_bytes leaves under 256 bytes for the value once the name and "
                "attributes are counted; raise it or shorten the cookie name/attributes"
            )
        # Per chunk count: the value room of that many cookies, and the bytes their
        # names, "=" and the "; " joining them add to the Cookie header.
        self._fits = tuple(
            (
                sum(self._capacity[:count]),
                sum(len(n) + 1 for n in self.names[:count]) + 2 * (count - 1),
            )
            for count in range(1, MAX_CHUNKS + 1)
        )
        self._max_total = config.max_total_bytes

    @property
    def single_cookie_bytes(self) -> int:
        """The most ``name=value`` bytes one cookie of the session may hold."""
        return self._capacity[0] + len(self.name) + 1

    def candidates(self, cookies: Mapping[str, str]) -> tuple[str, ...]:
        """The values of the base name the request carries, in header order (bounded)."""
        return values_of(cookies, self.name)

    def join(self, cookies: Mapping[str, str], first: str, count: int) -> str:
        """Reassemble a token from `first` and chunks 1..count-1 (by index, never order).

        Raises:
            InvalidToken: ``chunk_missing``.
        """
        parts = [first]
        for name in self.names[1:count]:
            part = cookies.get(name)
            if not part:
                raise InvalidToken("chunk_missing")
            parts.append(part)
        return "".join(parts)

    def fit(self, length: int) -> int:
        """Return the chunk count that fits `length` characters, or 0 if none does."""
        spare = self._max_total - length
        for count, (room, overhead) in enumerate(self._fits, 1):
            if overhead > spare:
                return 0
            if room >= length:
                return count
        return 0

    def lines(self, token: str, count: int, max_age: int | None, secure: bool) -> list[str]:
        """The Set-Cookie values carrying `token` in `count` chunks."""
        suffix = ("" if max_age is None else f"; Max-Age={max_age}") + self._attrs[secure]
        if count == 1:
            return [f"{self.name}={token}{suffix}"]
        lines = []
        start = 0
        for name, room in zip(self.names[:count], self._capacity, strict=False):
            lines.append(f"{name}={token[start : start + room]}{suffix}")
            start += room
        return lines

    def expire(self, cookies: Mapping[str, str], secure: bool, keep: int = 0) -> list[str]:
        """Expiry lines for the request's chunk cookies from index `keep` on."""
        if keep and self._chunks.isdisjoint(cookies):
            return []  # no chunk cookie came (the usual request): none is stale
        attrs = EXPIRED + self._attrs[secure]
        return [f"{name}={attrs}" for name in self.names[keep:] if name in cookies]
