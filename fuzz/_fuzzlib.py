"""Shared pieces of the fuzz harnesses: fixed keys, a byte reader, real tokens.

Everything here is deterministic: the keys are fixed, and tokens are sealed
with nonces and session ids drawn from a seeded hash instead of the OS, so a
crashing input found once reproduces on every machine. Imported by the
harnesses, by `make_corpus.py` and by the corpus replay test; never imports
atheris.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import hashlib
import itertools
import math
import os
import types
import uuid
from collections.abc import Iterator, Mapping
from typing import Any
from unittest import mock

from cookiesess import Keyring, Session, SessionConfig, SessionEngine
from cookiesess import session as _session_mod
from cookiesess import xaes as _xaes
from cookiesess.cookies import parse_cookie_header
from cookiesess.keys import Key

NOW = 1_700_000_000
"""The clock of every harness engine (the same instant as the test suite's)."""
SECRET_A = bytes(range(32))
SECRET_B = bytes(range(100, 132))
SECRET_C = bytes(range(200, 232))
SECRET_FOREIGN = bytes(range(50, 82))

KEYRING = Keyring([Key("a", SECRET_A, "primary"), Key("b", SECRET_B, "decrypt")])
"""The keyring every harness opens with: primary ``a``, decrypt-only ``b``."""
RING_B = Keyring([Key("b", SECRET_B, "primary")])
"""Seals under ``b``: tokens that open under `KEYRING` via a decrypt-only key."""
RING_FOREIGN = Keyring([Key("x", SECRET_FOREIGN, "primary")])
"""A key `KEYRING` does not hold: its tokens are ``unknown_key``."""

# Session data of the real tokens, from tiny to several chunks. Values cover
# every type the codec supports, so real plaintexts exercise every tag.
SAMPLE_DATA: tuple[dict[str, Any], ...] = (
    {},
    {"user": 42},
    {
        "user": "alice",
        "roles": ["admin", "dev"],
        "at": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "day": dt.date(2026, 1, 2),
        "uid": uuid.UUID(int=0x1234),
        "price": decimal.Decimal("12.50"),
        "tags": {"a", "b"},
        "blob": b"\x00\xff",
        "ratio": 0.5,
        "big": 2**100,
        "flag": True,
        "none": None,
    },
    {"cart": [{"sku": i, "qty": i % 3} for i in range(150)]},
    {"text": "x" * 3000},
    {"text": "y" * 9000},
    {"blob": bytes(range(256)) * 100},
)

LEGACY_DATA: tuple[dict[str, Any], ...] = (
    {"user": "legacy-flask", "n": 1},
    {"user": "legacy-starlette", "n": 2},
    {"user": "legacy-django", "n": 3},
    {"user": "legacy-flask-compressed", "pad": "z" * 400},
)
LEGACY_SECRET = "a-long-legacy-secret-key-for-fuzzing-0123456789"


class Bytes:
    """Reads fuzz input as a stream of small decisions; past the end, zeros."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def remaining(self) -> int:
        """Return how many bytes are left."""
        return len(self.data) - self.pos

    def u8(self) -> int:
        """Return the next byte (0 past the end)."""
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def u16(self) -> int:
        """Return the next two bytes as a big-endian int."""
        return self.u8() << 8 | self.u8()

    def take(self, n: int) -> bytes:
        """Return up to `n` next bytes."""
        out = self.data[self.pos : self.pos + n]
        self.pos += len(out)
        return out

    def rest(self) -> bytes:
        """Return every remaining byte."""
        return self.take(self.remaining())


class DictStore:
    """A dict-backed store that records writes (a load must make none)."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.writes = 0

    def get(self, key: str) -> bytes | None:
        """Return the value or None."""
        return self.data.get(key)

    def set(self, key: str, value: bytes, ttl: int) -> None:
        """Store a value (the TTL is ignored)."""
        self.writes += 1
        self.data[key] = value

    def delete(self, key: str) -> None:
        """Delete a value."""
        self.writes += 1
        self.data.pop(key, None)

    def touch(self, key: str, ttl: int) -> bool:
        """Return whether the key exists."""
        return key in self.data


@contextlib.contextmanager
def deterministic(seed: bytes) -> Iterator[None]:
    """Draw nonces and session ids from a seeded hash instead of the OS."""
    counter = itertools.count()

    def urandom(n: int) -> bytes:
        out = b""
        while len(out) < n:
            block = next(counter).to_bytes(8, "big")
            out += hashlib.sha256(seed + block).digest()
        return out[:n]

    fake_os = types.SimpleNamespace(urandom=urandom, getpid=os.getpid)
    # A fresh nonce source makes every key draw a new sealing prefix from `urandom`.
    with (
        mock.patch.object(_xaes, "os", fake_os),
        mock.patch.object(_xaes, "_RANDOM", _xaes._Randomness()),
        mock.patch.object(_session_mod, "os", fake_os),
    ):
        yield


def make_engine(keyring: Keyring = KEYRING, **options: Any) -> SessionEngine:
    """Return an engine on the fixed clock."""
    options.setdefault("clock", lambda: NOW)
    return SessionEngine(keyring, SessionConfig(**options))


def seal_cookies(engine: SessionEngine, data: Mapping[str, Any], *, seed: bytes) -> dict[str, str]:
    """Commit a new session holding `data`; return the cookies a browser sends back."""
    with deterministic(seed):
        session = engine.new_session(now=NOW)
        session.update(data)
        session.save()
        lines = engine.commit(session, {}, now=NOW)
    jar: dict[str, str] = {}
    for line in lines:
        pair = line.partition(";")[0]
        name, _, value = pair.partition("=")
        jar[name] = value
    return jar


def header_of(cookies: Mapping[str, str]) -> str:
    """Render cookies as one Cookie header value."""
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def plain(session: Session) -> dict[str, Any]:
    """Return a session's data without touching its change tracking."""
    return dict(dict.items(session))


def _member(value: object) -> tuple[str, str]:
    return type(value).__name__, repr(value)


def same(a: object, b: object) -> bool:
    """Deep equality as the codec reads values back (NaN equal, tuple = list)."""
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if isinstance(a, tuple):
        a = list(a)
    if isinstance(a, frozenset):
        a = set(a)
    if isinstance(a, set):
        # Members by type and repr: a set holding NaN never equals its copy.
        return type(b) is set and sorted(map(_member, a)) == sorted(map(_member, b))
    if isinstance(a, list):
        return (
            type(b) is list
            and len(a) == len(b)
            and all(same(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, dict):
        return type(b) is dict and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def reload(engine: SessionEngine, set_cookies: list[str], jar: dict[str, str]) -> Session:
    """Apply Set-Cookie lines to `jar` like a browser, then load the result."""
    for line in set_cookies:
        pair, _, attrs = line.partition(";")
        name, _, value = pair.partition("=")
        if "Max-Age=0" in attrs:
            jar.pop(name, None)
        else:
            jar[name] = value
    return engine.load(parse_cookie_header(header_of(jar)), now=NOW)
