"""Shared fixtures: keyrings with fixed ids, a fixed clock, engine factories.

Components a test needs but the machine lacks (redis-server, chromium) make
the test skip with a reason locally, and fail when the matching
``COOKIESESS_REQUIRE_*`` variable is set, as `.ci/run` does.
"""

from __future__ import annotations

import atexit
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cookiesess import Keyring, SessionConfig, SessionEngine
from tests.helpers import NOW, SECRET_A, Browser, require, ring_of

pytest_plugins = ["tests.redis_fixtures"]

__all__ = ["NOW", "SECRET_A", "Browser", "require", "ring_of"]


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """Handlers a test's app added to the root logger go when the test ends.

    Litestar's default logging (kept in the example and the docs' quick start, as a
    user's app has it) attaches a queue handler whose listener thread would format every
    later test's records in the background, racing the main thread's `ast.parse` under
    Python 3.11 (CPython gh-106905).
    """
    root = logging.getLogger()
    before = list(root.handlers)
    yield
    for handler in [h for h in root.handlers if h not in before]:
        root.removeHandler(handler)
        listener = getattr(handler, "listener", None)
        if listener is not None:
            listener.stop()
            atexit.unregister(listener.stop)  # stopping twice raises under 3.11


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
