"""The store protocols: what the engine needs from a server-side store.

Values are opaque sealed bytes and keys are hex HMACs of session ids, so a store
never sees plaintext or a usable session id. Every driver error surfaces as
`StoreError`, chained to the original; every call is bounded by a timeout
(each store says what its timeout covers: the whole call for the Redis
stores, the lock waits for `SQLiteStore`).

A store may also offer `delete_if(key, value)`: remove `key` only while it
still holds exactly `value`, atomically. The engine uses it, when present, to
drop a record whose session moved back into the cookie without deleting a
newer record a concurrent request wrote (whose cookie then still opens). All
of cookiesess's stores have it; a store without it gets a plain `delete`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["DEFAULT_TIMEOUT", "AsyncStore", "Store"]

DEFAULT_TIMEOUT = 0.25
"""Seconds a single store call may take (Redis), or wait for locks (SQLite), before `StoreError`."""


@runtime_checkable
class Store(Protocol):
    """A synchronous key-value store with per-entry TTL."""

    def get(self, key: str) -> bytes | None:
        """Return the value under `key`, or None when absent or expired."""

    def set(self, key: str, value: bytes, ttl: int) -> None:
        """Store `value` under `key` for `ttl` seconds (ttl >= 1)."""

    def delete(self, key: str) -> None:
        """Remove `key`; absent keys are not an error."""


@runtime_checkable
class AsyncStore(Protocol):
    """The asyncio twin of `Store`."""

    async def get(self, key: str) -> bytes | None:
        """Return the value under `key`, or None when absent or expired."""

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        """Store `value` under `key` for `ttl` seconds (ttl >= 1)."""

    async def delete(self, key: str) -> None:
        """Remove `key`; absent keys are not an error."""
