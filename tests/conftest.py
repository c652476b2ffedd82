"""Shared fixtures: keyrings with fixed ids, a fixed clock, engine factories.

Components a test needs but the machine lacks (redis-server, chromium) make
the test skip with a reason locally, and fail when the matching
``COOKIESESS_REQUIRE_*`` variable is set, as `.ci/run` does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from cookiesess import Keyring, SessionConfig, SessionEngine
from tests.helpers import NOW, SECRET_A, Browser, require, ring_of

pytest_plugins = ["tests.redis_fixtures"]

__all__ = ["NOW", "SECRET_A", "Browser", "require", "ring_of"]


@pytest.fixture
def ring() -> Keyring:
    return ring_of(("a", SECRET_A, "primary"))


@pytest.fixture
def make_engine(ring: Keyring) -> Callable[..., SessionEngine]:
    def factory(keyring: Keyring | None = None, **options: Any) -> SessionEngine:
        options.setdefault("clock", lambda: NOW)
        return SessionEngine(keyring or ring, SessionConfig(**options))

    return factory


@pytest.fixture
def engine(make_engine: Callable[..., SessionEngine]) -> SessionEngine:
    return make_engine()


@pytest.fixture
def browser() -> Browser:
    return Browser()


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every block `os.urandom` returns from now on, in order."""
    blocks: list[bytes] = []
    real = os.urandom

    def spy(n: int) -> bytes:
        blocks.append(real(n))
        return blocks[-1]

    monkeypatch.setattr(os, "urandom", spy)
    return blocks
