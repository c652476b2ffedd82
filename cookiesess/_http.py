"""What every adapter sends the same way: the session's response headers and the outage 503.

Imports no web framework. WSGI and the Flask/Django response objects speak
``str`` headers, ASGI speaks lowercase ``bytes``; `HeaderNames` carries the
difference so one merge serves both, and `STORE_UNAVAILABLE` is the single
response a store failure gets, whichever adapter answers it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Final, Generic, TypeVar

from .cookies import private_cache_control, vary_cookie

__all__ = [
    "ASGI",
    "STORE_UNAVAILABLE",
    "WSGI",
    "HeaderNames",
    "PlainResponse",
    "joined",
    "with_session_headers",
]

H = TypeVar("H", str, bytes)


@dataclasses.dataclass(frozen=True, slots=True)
class HeaderNames(Generic[H]):
    """How one server interface spells header names and values (`WSGI`: str, `ASGI`: bytes)."""

    vary: H
    cache_control: H
    set_cookie: H
    encode: Callable[[str], H]
    """Turns a header value (latin-1 text) into the interface's type."""
    decode: Callable[[H], str]
    """Turns one of the interface's header values back into text."""
    merged: frozenset[H] = dataclasses.field(init=False)
    """The lowercase names the session's headers merge into."""
    vary_cookie: tuple[H, H] = dataclasses.field(init=False)
    private: tuple[H, H] = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        # Built once: the request path appends these as they are.
        object.__setattr__(
            self, "merged", frozenset((self.vary.lower(), self.cache_control.lower()))
        )
        object.__setattr__(self, "vary_cookie", (self.vary, self.encode("Cookie")))
        object.__setattr__(self, "private", (self.cache_control, self.encode("private")))


def _text(value: str) -> str:
    return value


def _latin1(value: str) -> bytes:
    return value.encode("latin-1")


def _from_latin1(value: bytes) -> str:
    return bytes(value).decode("latin-1")  # bytes(): servers may hand bytearray/memoryview


WSGI: Final[HeaderNames[str]] = HeaderNames("Vary", "Cache-Control", "Set-Cookie", _text, _text)
"""PEP 3333 headers: ``list[tuple[str, str]]`` (also werkzeug's ``Headers`` items)."""
ASGI: Final[HeaderNames[bytes]] = HeaderNames(
    b"vary", b"cache-control", b"set-cookie", _latin1, _from_latin1
)
"""ASGI headers: ``list[tuple[bytes, bytes]]`` with lowercase names."""


def joined(values: Iterable[str]) -> str | None:
    """Return a header's several values as one (RFC 9110 §5.3), or None when there are none."""
    return ", ".join(values) or None


def with_session_headers(
    headers: Iterable[tuple[H, H]],
    set_cookies: Sequence[str],
    *,
    vary: bool,
    names: HeaderNames[H],
) -> list[tuple[H, H]]:
    """Return a copy of `headers` with the session's own headers added.

    ``Vary: Cookie`` when `vary` (the response read the session); with
    `set_cookies`, ``Cache-Control: private`` and one ``Set-Cookie`` each.
    An app's Vary and Cache-Control lines, however many, are merged into one
    line each, keeping every value (``Vary: *`` and ``no-store`` stay as they are).

    Args:
        headers: the response's headers, in the interface's type.
        set_cookies: the Set-Cookie values `SessionEngine.commit` returned.
        vary: whether the response depends on the session.
        names: `WSGI` or `ASGI`.
    """
    out = list(headers)
    merged = names.merged
    for key, _ in out:
        if key.lower() in merged:
            if vary:
                _merge(out, names.vary, vary_cookie, names)
            if set_cookies:
                _merge(out, names.cache_control, private_cache_control, names)
            break
    else:  # nothing to merge with (the common case): append
        if vary:
            out.append(names.vary_cookie)
        if set_cookies:
            out.append(names.private)
    if set_cookies:
        set_cookie, encode = names.set_cookie, names.encode
        for line in set_cookies:  # a loop: a list comprehension is one more call
            out.append((set_cookie, encode(line)))
    return out


def _merge(
    headers: list[tuple[H, H]],
    name: H,
    combine: Callable[[str | None], str],
    names: HeaderNames[H],
) -> None:
    """Replace every `name` header by one whose value is `combine` of their joined values."""
    lower = name.lower()
    decode = names.decode
    values = [decode(value) for key, value in headers if key.lower() == lower]
    if values:
        headers[:] = [(key, value) for key, value in headers if key.lower() != lower]
    headers.append((name, names.encode(combine(joined(values)))))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PlainResponse:
    """A complete plain-text response an adapter sends as is, in place of the app's."""

    status: int
    reason: str
    body: bytes
    cache_control: str
    content_type: str = "text/plain; charset=utf-8"

    @property
    def status_line(self) -> str:
        """The WSGI status, e.g. ``"503 Service Unavailable"``."""
        return f"{self.status} {self.reason}"

    @property
    def headers(self) -> list[tuple[str, str]]:
        """Content-Type, Content-Length and Cache-Control, as WSGI/framework str pairs."""
        return [
            ("Content-Type", self.content_type),
            ("Content-Length", str(len(self.body))),
            ("Cache-Control", self.cache_control),
        ]

    @property
    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """The same headers as ASGI lowercase bytes pairs."""
        return [(name.lower().encode("latin-1"), _latin1(value)) for name, value in self.headers]


STORE_UNAVAILABLE: Final = PlainResponse(
    status=503,
    reason="Service Unavailable",
    body=b"Service Unavailable: the session store failed.\n",
    # SECURITY: no cache may keep an outage page for a URL, and none is shared
    # between users; the response carries no Set-Cookie (the client keeps its session).
    cache_control="no-store",
)
"""The response to a request whose session store failed, on every adapter and path."""
