"""Test helpers importable from any test module (``from tests.helpers import ...``)."""

from __future__ import annotations

import os

import pytest

from cookiesess import Keyring, StoreError
from cookiesess.cookies import parse_cookie_header
from cookiesess.keys import Key
from cookiesess.stores import MemoryStore

NOW = 1_700_000_000
SECRET_A = bytes(range(32))
SECRET_B = bytes(range(100, 132))
SECRET_C = bytes(range(200, 232))


def require(component: str, available: bool, reason: str) -> None:
    """Skip (locally) or fail (when COOKIESESS_REQUIRE_<COMPONENT> is set)."""
    if available:
        return
    if os.environ.get(f"COOKIESESS_REQUIRE_{component.upper()}"):
        pytest.fail(f"{reason} (COOKIESESS_REQUIRE_{component.upper()} is set)")
    pytest.skip(reason)


def ring_of(*keys: tuple[str, bytes, str]) -> Keyring:
    return Keyring([Key(kid, secret, state) for kid, secret, state in keys])  # type: ignore[arg-type]


class Browser:
    """A minimal cookie jar that applies Set-Cookie values like a browser would."""

    def __init__(self) -> None:
        self.jar: dict[str, str] = {}

    def apply(self, set_cookies: list[str]) -> None:
        for line in set_cookies:
            pair, _, attrs = line.partition(";")
            name, _, value = pair.partition("=")
            if "Max-Age=0" in attrs:
                self.jar.pop(name, None)
            else:
                self.jar[name] = value

    @property
    def cookies(self) -> dict[str, str]:
        return parse_cookie_header(self.header())

    def header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.jar.items())


class DictStore:
    """The least a third-party store offers: get/set/delete/touch on a dict; no TTL or delete_if."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def set(self, key: str, value: bytes, ttl: int) -> None:
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def touch(self, key: str, ttl: int) -> bool:
        return key in self.data


class FlakyStore(MemoryStore):
    """A `MemoryStore` whose reads and writes fail with `StoreError` while `fail` is set."""

    fail = False

    def get(self, key: str) -> bytes | None:
        if self.fail:
            raise StoreError("store down")
        return super().get(key)

    def set(self, key: str, value: bytes, ttl: int) -> None:
        if self.fail:
            raise StoreError("store down")
        super().set(key, value, ttl)
