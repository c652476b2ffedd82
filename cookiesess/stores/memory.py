"""An in-process store: bounded, TTL-aware, thread-safe.

For tests, development and single-process deployments. Data lives in this
process only: it is lost on restart and not shared between workers.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from cookiesess.exceptions import ConfigurationError, StoreError
from cookiesess.stores._adapt import check_key, check_ttl, check_value, is_int

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["MemoryStore"]


class MemoryStore:
    """A dict-backed `Store` with per-entry TTL and a size bound.

    When full, a write first drops expired entries, then evicts the least
    recently used ones (reads, writes and touches count as use); with
    ``evict=False`` it raises `StoreError` instead, as a denylist needs (an
    evicted entry would un-revoke a session). Every operation takes one lock
    and costs O(log n) amortised.

    Args:
        max_entries: most entries kept at once (>= 1).
        evict: make room by evicting the least recently used entries.
        clock: monotonic seconds; inject a fake one in tests.

    Raises:
        ConfigurationError: `max_entries` is not a positive int.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        evict: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not is_int(max_entries) or max_entries < 1:
            msg = f"MemoryStore max_entries must be a positive int, got {max_entries!r}"
            raise ConfigurationError(msg)
        self._max_entries = max_entries
        self._evict = evict
        self._clock = clock
        self._lock = threading.Lock()
        # key -> (expires_at, value), least recently used first.
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        # Min-heap of (expires_at, key). Every entry of _data has a matching
        # heap item; items whose entry changed or vanished are stale and are
        # skipped when popped, and the heap is rebuilt when mostly stale.
        self._expiries: list[tuple[float, str]] = []

    def __repr__(self) -> str:
        evict = "" if self._evict else ", evict=False"
        return f"MemoryStore(max_entries={self._max_entries}{evict})"

    @property
    def evicts(self) -> bool:
        """Whether a write to a full store evicts other entries (else it fails)."""
        return self._evict

    @property
    def max_entries(self) -> int:
        """The most entries kept at once."""
        return self._max_entries

    def get(self, key: str) -> bytes | None:
        """Return the value under `key`, or None when absent or expired."""
        check_key(key)
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return entry[1]

    def set(self, key: str, value: bytes, ttl: int) -> None:
        """Store `value` under `key` for `ttl` seconds, evicting if full."""
        check_key(key)
        check_value(value)
        check_ttl(ttl)
        with self._lock:
            now = self._clock()
            self._drop_expired(now)
            if key in self._data:
                self._data.move_to_end(key)
            elif len(self._data) >= self._max_entries:
                if not self._evict:
                    raise StoreError(
                        f"MemoryStore is full (max_entries={self._max_entries}, evict=False)"
                    )
                while len(self._data) >= self._max_entries:
                    self._data.popitem(last=False)
            self._put(key, (now + ttl, value))

    def delete(self, key: str) -> None:
        """Remove `key`; absent keys are not an error."""
        check_key(key)
        with self._lock:
            self._data.pop(key, None)

    def delete_if(self, key: str, value: bytes) -> bool:
        """Remove `key` only while it holds `value`; return whether it did."""
        check_key(key)
        with self._lock:
            entry = self._data.get(key)
            if entry is None or entry[1] != value or entry[0] <= self._clock():
                return False
            del self._data[key]
            return True

    def touch(self, key: str, ttl: int) -> bool:
        """Reset the TTL of `key`; return False when it is absent or expired."""
        check_key(key)
        check_ttl(ttl)
        with self._lock:
            now = self._clock()
            entry = self._data.get(key)
            if entry is None:
                return False
            if entry[0] <= now:
                del self._data[key]
                return False
            self._data.move_to_end(key)
            self._put(key, (now + ttl, entry[1]))
            return True

    def clear(self) -> None:
        """Remove every entry."""
        with self._lock:
            self._data.clear()
            self._expiries.clear()

    def count(self) -> int:
        """Return the number of unexpired entries."""
        with self._lock:
            self._drop_expired(self._clock())
            return len(self._data)

    # Lock held by the caller for everything below.

    def _put(self, key: str, entry: tuple[float, bytes]) -> None:
        self._data[key] = entry
        heapq.heappush(self._expiries, (entry[0], key))
        if len(self._expiries) > 2 * len(self._data) + 64:
            self._expiries = [(exp, k) for k, (exp, _) in self._data.items()]
            heapq.heapify(self._expiries)

    def _drop_expired(self, now: float) -> None:
        heap = self._expiries
        while heap and heap[0][0] <= now:
            expires_at, key = heapq.heappop(heap)
            entry = self._data.get(key)
            if entry is not None and entry[0] == expires_at:
                del self._data[key]
