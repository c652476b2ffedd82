"""MemoryStore specifics: the size bound, eviction order, configuration.

The shared contract (get/set/delete/touch, TTL, threads) is in test_contract.py.
"""

from __future__ import annotations

import asyncio

import pytest

from cookiesess.exceptions import ConfigurationError
from cookiesess.stores import MemoryStore, ThreadedAsyncStore


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def test_full_store_evicts_least_recently_used(clock):
    """At the bound, the entry unused for longest goes first; reads count as use."""
    store = MemoryStore(max_entries=3, clock=clock)
    for key in ("aa", "bb", "cc"):
        store.set(key, key.encode(), 60)
    store.get("aa")

    store.set("dd", b"dd", 60)

    assert store.get("bb") is None
    assert [store.get(k) for k in ("aa", "cc", "dd")] == [b"aa", b"cc", b"dd"]
    assert store.count() == 3


def test_full_store_evicts_expired_before_live(clock):
    """Expired entries make room before any live entry is evicted."""
    store = MemoryStore(max_entries=3, clock=clock)
    store.set("aa", b"old-but-live", 60)
    store.set("bb", b"expiring", 1)
    store.set("cc", b"live", 60)
    clock.now += 2

    store.set("dd", b"new", 60)

    assert store.get("aa") == b"old-but-live"
    assert store.get("bb") is None
    assert store.count() == 3


def test_overwrite_at_bound_evicts_nothing(clock):
    """Rewriting an existing key in a full store keeps every other entry."""
    store = MemoryStore(max_entries=2, clock=clock)
    store.set("aa", b"1", 60)
    store.set("bb", b"2", 60)

    store.set("aa", b"3", 60)

    assert store.get("aa") == b"3"
    assert store.get("bb") == b"2"


def test_touch_counts_as_use(clock):
    """A touched entry is not the next one evicted."""
    store = MemoryStore(max_entries=2, clock=clock)
    store.set("aa", b"1", 60)
    store.set("bb", b"2", 60)
    store.touch("aa", 60)

    store.set("cc", b"3", 60)

    assert store.get("aa") == b"1"
    assert store.get("bb") is None


def test_expiry_index_stays_bounded(clock):
    """Many rewrites and touches of a few keys do not grow internal state."""
    store = MemoryStore(max_entries=10, clock=clock)

    for n in range(20_000):
        store.set(f"{n % 5:02x}", b"v", 60)
        store.touch(f"{n % 5:02x}", 30)

    assert store.count() == 5
    assert len(store._expiries) <= 2 * 5 + 64


def test_expired_entries_are_dropped_on_write(clock):
    """Expired entries do not linger until the bound is reached."""
    store = MemoryStore(clock=clock)
    for n in range(100):
        store.set(f"{n:04x}", b"v", 1)
    clock.now += 5

    store.set("ffff", b"v", 60)

    assert len(store._data) == 1


def test_default_clock_is_monotonic():
    """Without an injected clock, real monotonic time drives expiry."""
    store = MemoryStore()
    store.set("aa", b"v", 60)

    assert store.get("aa") == b"v"


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "10"])
def test_max_entries_must_be_positive_int(bad):
    """A nonsensical bound is refused at construction."""
    with pytest.raises(ConfigurationError, match="max_entries"):
        MemoryStore(max_entries=bad)


def test_repr():
    """The repr shows the bound."""
    assert repr(MemoryStore(max_entries=7)) == "MemoryStore(max_entries=7)"


def test_threaded_async_store_wraps_memory(clock):
    """ThreadedAsyncStore runs a sync store from asyncio code, off the loop."""
    store = MemoryStore(clock=clock)
    wrapped = ThreadedAsyncStore(store)

    async def main() -> tuple[bytes | None, bool, bytes | None]:
        await wrapped.set("aa", b"v", 60)
        got = await wrapped.get("aa")
        touched = await wrapped.touch("aa", 60)
        await wrapped.delete("aa")
        return got, touched, await wrapped.get("aa")

    assert asyncio.run(main()) == (b"v", True, None)
    assert wrapped.store is store
    assert repr(wrapped) == f"ThreadedAsyncStore({store!r})"
