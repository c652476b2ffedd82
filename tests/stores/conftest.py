"""Fixtures for the store tests: fake clocks and one harness per store.

The real redis-server fixtures (`redis_url`, `own_redis`, `redis_cluster`)
live in `tests/redis_fixtures.py`, registered for every suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from cookiesess.stores import (
    AsyncRedisStore,
    MemoryStore,
    RedisStore,
    SQLiteStore,
    ThreadedAsyncStore,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

# --------------------------------------------------------------------- Harnesses


class FakeClock:
    """A settable clock for stores that accept `clock=`."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SyncFacade:
    """Drive an `AsyncStore` through the sync `Store` interface on one event loop."""

    def __init__(self, runner: asyncio.Runner, store: Any) -> None:
        self.runner = runner
        self.store = store

    def get(self, key: str) -> bytes | None:
        return self.runner.run(self.store.get(key))

    def set(self, key: str, value: bytes, ttl: int) -> None:
        self.runner.run(self.store.set(key, value, ttl))

    def delete(self, key: str) -> None:
        self.runner.run(self.store.delete(key))

    def delete_if(self, key: str, value: bytes) -> bool:
        return bool(self.runner.run(self.store.delete_if(key, value)))

    def touch(self, key: str, ttl: int) -> bool:
        return self.runner.run(self.store.touch(key, ttl))


@dataclass
class Harness:
    """A store under test, seen through the sync interface, with its controls."""

    kind: str
    store: Any  # the sync view (the store itself, or a SyncFacade)
    raw: Any  # the object built (for isinstance checks against the protocols)
    advance: Callable[[float], None]  # let time pass: fake clock, or real sleep
    count: Callable[[], int]
    clear: Callable[[], None]
    is_async: bool = False


SYNC_KINDS = ["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)]
ASYNC_KINDS = [
    "threaded-sqlite",
    pytest.param("async-redis", marks=pytest.mark.redis),
]


@contextlib.contextmanager
def build_harness(kind: str, request: pytest.FixtureRequest) -> Iterator[Harness]:
    """Build a fresh store of `kind` for one test and tear it down afterwards."""
    if kind == "memory":
        clock = FakeClock()
        memory = MemoryStore(clock=clock)
        yield Harness(kind, memory, memory, clock.advance, memory.count, memory.clear)
    elif kind in {"sqlite", "threaded-sqlite"}:
        clock = FakeClock()
        tmp_path = request.getfixturevalue("tmp_path")
        # 2 s, as for Redis below: 50 threads writing at once can starve one
        # past 0.25 s on a loaded box; test_sqlite.py checks the timeouts.
        sqlite = SQLiteStore(tmp_path / "sessions.db", clock=clock, timeout=2.0)
        try:
            if kind == "sqlite":
                yield Harness(kind, sqlite, sqlite, clock.advance, sqlite.count, sqlite.clear)
            else:
                threaded = ThreadedAsyncStore(sqlite)
                with asyncio.Runner() as runner:
                    yield Harness(
                        kind,
                        SyncFacade(runner, threaded),
                        threaded,
                        clock.advance,
                        sqlite.count,
                        sqlite.clear,
                        is_async=True,
                    )
        finally:
            sqlite.close()
    elif kind == "redis":
        url = request.getfixturevalue("redis_url")
        # A generous timeout: these tests check behaviour, not latency (the
        # fault tests check the default timeout), and 50 threads opening
        # connections at once on a loaded 2-core CI box can take > 0.25 s.
        prefix = request.getfixturevalue("redis_prefix")
        redis_store = RedisStore(url, prefix=prefix, timeout=2.0)
        try:
            yield Harness(
                kind,
                redis_store,
                redis_store,
                time.sleep,
                redis_store.count,
                redis_store.clear,
            )
        finally:
            redis_store.clear()
            redis_store.close()
    elif kind == "async-redis":
        url = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("redis_prefix")
        with asyncio.Runner() as runner:
            astore = AsyncRedisStore(url, prefix=prefix, timeout=2.0)
            try:
                yield Harness(
                    kind,
                    SyncFacade(runner, astore),
                    astore,
                    time.sleep,
                    lambda: runner.run(astore.count()),
                    lambda: runner.run(astore.clear()),
                    is_async=True,
                )
            finally:
                runner.run(astore.clear())
                runner.run(astore.aclose())
    else:  # pragma: no cover - a typo in a parametrize list
        raise AssertionError(kind)


@pytest.fixture(params=[*SYNC_KINDS, *ASYNC_KINDS])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """Every store, sync and async, behind the same sync test interface."""
    with build_harness(request.param, request) as built:
        yield built


@pytest.fixture(params=SYNC_KINDS)
def sync_harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """Every synchronous store (for thread-based tests)."""
    with build_harness(request.param, request) as built:
        yield built
