"""Cookie syntax: parsing request Cookie headers, rendering Set-Cookie, chunk names.

The parser runs in linear time over a bounded input, joins several header
lines, splits on ``;`` and ``,`` (gunicorn joins repeated Cookie headers with a
comma; our values never contain one), skips malformed pairs instead of
aborting, and never uses `http.cookies` (CVE-2024-7592). When a name repeats,
the mapping holds the first occurrence (browsers send the most specific path
first) and `values_of` all of them, up to `MAX_VALUES`: the
engine opens whichever value is a valid session, whatever the order.
Rendering goes through a validated `SetCookie`. No I/O, no clock.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Final, Literal, cast

from .exceptions import ConfigurationError

__all__ = [
    "EXPIRED",
    "MAX_AGE_CAP",
    "MAX_HEADER_CHARS",
    "MAX_PAIRS",
    "MAX_VALUES",
    "RequestCookies",
    "SameSite",
    "SetCookie",
    "chunk_name",
    "parse_cookie_header",
    "private_cache_control",
    "request_is_secure",
    "values_of",
    "vary_cookie",
]

MAX_HEADER_CHARS: Final = 64 * 1024
"""Characters of Cookie header considered; the rest is ignored (fail closed)."""
MAX_PAIRS: Final = 256
MAX_VALUES: Final = 4
"""Values of one cookie name considered (several paths or domains, a leftover legacy cookie)."""
MAX_AGE_CAP: Final = 400 * 24 * 3600
"""RFC 6265bis §5.6.2: user agents cap Max-Age and Expires at 400 days."""

EXPIRED: Final = "; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
"""The attributes that delete a cookie: Expires in the past too, for clients that ignore
Max-Age."""

SameSite = Literal["Strict", "Lax", "None"]
Priority = Literal["Low", "Medium", "High"]

# RFC 6265 §4.1.1: cookie-name is an RFC 2616 token; cookie-octet excludes
# CTLs, whitespace, DQUOTE, comma, semicolon and backslash.
_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+").fullmatch
_COOKIE_VALUE: Final = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*").fullmatch
_ATTR_VALUE: Final = re.compile(r"[\x20-\x3a\x3c-\x7e]*").fullmatch


class RequestCookies(dict[str, str]):
    """A request's cookies when a name repeats: ``{name: first value}``, plus the repeats."""

    def __init__(self, first: dict[str, str], repeated: dict[str, list[str]]) -> None:
        super().__init__(first)
        self.repeated = repeated
        """The second and later values of each repeated name, in header order."""


def values_of(cookies: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Every value of `name` in `cookies`, in header order (at most `MAX_VALUES`)."""
    first = cookies.get(name)
    if first is None:
        return ()
    more = cookies.repeated.get(name) if type(cookies) is RequestCookies else None
    return (first, *more) if more else (first,)


def parse_cookie_header(header: str | bytes | Iterable[str | bytes]) -> dict[str, str]:
    """Parse one or several Cookie header values into ``{name: value}``.

    Bytes are read as latin-1 (as PEP 3333 does). Only the first
    `MAX_HEADER_CHARS` characters and `MAX_PAIRS` pairs are considered. When
    a name repeats, the result is a `RequestCookies` that keeps its values.
    """
    if type(header) is bytes and len(header) <= MAX_HEADER_CHARS:
        text = header.decode("latin-1")  # the usual: one ASGI header line, no call
    else:
        text = _header_text(header)
    if ";" not in text and "," not in text:  # one pair (a session cookie alone): no split
        name, eq, value = text.partition("=")
        name = name.strip(" \t")
        return {name: value.strip(" \t")} if eq and name else {}
    cookies: dict[str, str] = {}
    repeated: dict[str, list[str]] | None = None
    for pair in text.replace(",", ";").split(";", MAX_PAIRS)[:MAX_PAIRS]:
        name, eq, value = pair.partition("=")
        if not eq:
            continue
        name = name.strip(" \t")
        if not name:
            continue
        if name not in cookies:
            cookies[name] = value.strip(" \t")
            continue
        if repeated is None:
            repeated = {}
        more = repeated.setdefault(name, [])
        if len(more) < MAX_VALUES - 1:
            more.append(value.strip(" \t"))
    if repeated is None:
        return cookies  # the usual request: a plain dict
    return RequestCookies(cookies, repeated)


def _header_text(header: str | bytes | Iterable[str | bytes]) -> str:
    """The Cookie header line(s) as one text, cut at `MAX_HEADER_CHARS`."""
    if isinstance(header, bytes):
        text = header.decode("latin-1")
    elif isinstance(header, str):
        text = header
    elif type(header) is list and len(header) == 1 and type(header[0]) is bytes:
        text = header[0].decode("latin-1")  # the usual single ASGI header line
    else:
        text = "; ".join(h.decode("latin-1") if isinstance(h, bytes) else h for h in header)
    return text[:MAX_HEADER_CHARS] if len(text) > MAX_HEADER_CHARS else text


def chunk_name(name: str, index: int) -> str:
    """Return the cookie name of chunk `index`: ``NAME``, then ``NAME.1``, ``NAME.2``…."""
    return name if index == 0 else f"{name}.{index}"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SetCookie:
    """A validated Set-Cookie value; `render` produces the header value.

    Raises:
        ConfigurationError: at construction, listing every invalid attribute.
    """

    name: str
    value: str = ""
    path: str | None = "/"
    domain: str | None = None
    max_age: int | None = None
    secure: bool = True
    httponly: bool = True
    samesite: SameSite | None = "Lax"
    partitioned: bool = False
    priority: Priority | None = None

    def __post_init__(self) -> None:
        problems = cookie_attribute_problems(
            name=self.name,
            path=self.path,
            domain=self.domain,
            secure=self.secure,
            samesite=self.samesite,
            partitioned=self.partitioned,
            priority=self.priority,
        )
        if not _COOKIE_VALUE(self.value):
            problems.append("cookie value contains characters not allowed by RFC 6265")
        if self.max_age is not None and self.max_age < 0:
            problems.append("max_age must be >= 0 (0 deletes the cookie)")
        if problems:
            raise ConfigurationError(problems)

    def attributes(self) -> str:
        """Return the attributes after ``name=value`` except Max-Age."""
        parts = []
        if self.path is not None:
            parts.append(f"; Path={self.path}")
        if self.domain is not None:
            parts.append(f"; Domain={self.domain}")
        if self.secure:
            parts.append("; Secure")
        if self.httponly:
            parts.append("; HttpOnly")
        if self.samesite is not None:
            parts.append(f"; SameSite={self.samesite}")
        if self.partitioned:
            parts.append("; Partitioned")
        if self.priority is not None:
            parts.append(f"; Priority={self.priority}")
        return "".join(parts)

    def render(self) -> str:
        """Return the Set-Cookie header value."""
        if self.max_age == 0:
            max_age = EXPIRED
        elif self.max_age is None:
            max_age = ""
        else:
            max_age = f"; Max-Age={min(self.max_age, MAX_AGE_CAP)}"
        return f"{self.name}={self.value}{max_age}{self.attributes()}"


def cookie_attribute_problems(
    *,
    name: str,
    path: str | None,
    domain: str | None,
    secure: bool,
    samesite: str | None,
    partitioned: bool,
    priority: str | None,
) -> list[str]:
    """Return every problem with these cookie attributes (empty when valid)."""
    problems = _name_problems(name, path=path, domain=domain, secure=secure)
    if path is not None and (not path.startswith("/") or not _ATTR_VALUE(path)):
        problems.append(f"path {path!r} must start with '/' and contain no ';' or controls")
    if domain is not None and (not domain or not _ATTR_VALUE(domain) or " " in domain):
        problems.append(f"domain {domain!r} is not a valid cookie domain")
    if samesite not in ("Strict", "Lax", "None", None):
        problems.append(f"samesite {samesite!r} must be 'Strict', 'Lax', 'None' or None")
    if samesite == "None" and not secure:
        problems.append("samesite='None' requires secure=True (browsers reject it otherwise)")
    if partitioned and not secure:
        problems.append("partitioned=True requires secure=True")
    if priority not in ("Low", "Medium", "High", None):
        problems.append(f"priority {priority!r} must be 'Low', 'Medium', 'High' or None")
    return problems


def _name_problems(name: str, *, path: str | None, domain: str | None, secure: bool) -> list[str]:
    """The problems of a cookie name, with the rules of its ``__Host-``/``__Secure-`` prefix."""
    if not isinstance(cast("object", name), str) or not _TOKEN(name):
        return [
            f"cookie name {name!r} is not an RFC 6265 token (letters, digits and !#$%&'*+-.^_`|~)"
        ]
    problems = []
    if name.startswith("__Host-"):
        if not secure:
            problems.append(f"cookie name {name!r}: the __Host- prefix requires secure=True")
        if path != "/":
            problems.append(f"cookie name {name!r}: the __Host- prefix requires path='/'")
        if domain is not None:
            problems.append(f"cookie name {name!r}: the __Host- prefix forbids a domain")
    elif name.startswith("__Secure-") and not secure:
        problems.append(f"cookie name {name!r}: the __Secure- prefix requires secure=True")
    return problems


def vary_cookie(existing: str | None) -> str:
    """Return a Vary value that includes ``Cookie`` (for responses that read the session)."""
    if not existing:
        return "Cookie"
    fields = [f.strip() for f in existing.split(",")]
    if any(f == "*" or f.lower() == "cookie" for f in fields):
        return existing
    return f"{existing}, Cookie"


def private_cache_control(existing: str | None) -> str:
    """Return a Cache-Control value that keeps shared caches from storing a Set-Cookie."""
    if not existing:
        return "private"
    directives = [d.strip() for d in existing.split(",") if d.strip()]
    lowered = [d.lower() for d in directives]
    if "private" in lowered or "no-store" in lowered:
        return existing
    kept = [d for d, low in zip(directives, lowered, strict=True) if low != "public"]
    return ", ".join(["private", *kept])


def request_is_secure(scheme: str, forwarded_proto: str | None, *, trust_proxy: bool) -> bool:
    """Decide ``secure="auto"``: the request scheme, or X-Forwarded-Proto behind a trusted proxy."""
    if trust_proxy and forwarded_proto:
        # The first value is the one the client used (proxies append).
        return forwarded_proto.split(",")[0].strip().lower() == "https"
    return scheme in ("https", "wss")
