"""Test helpers importable from any test module (``from tests.helpers import ...``)."""

from __future__ import annotations

import os

import pytest

from cookiesess import Keyring
from cookiesess.cookies import parse_cookie_header
from cookiesess.keys import Key

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
