"""Shared store plumbing: argument checks and the sync-to-async adapter.

Private to `cookiesess.stores`; only `ThreadedAsyncStore` is public (re-exported
from the package). Imports nothing beyond the standard library and `base`.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final, TypeGuard

from cookiesess.stores.base import Store

__all__ = ["ThreadedAsyncStore"]

MAX_KEY_LENGTH: Final = 1024
"""Longest key accepted; engine keys are hex HMACs, far shorter than this."""


def check_key(key: object) -> None:
    """Reject a key that is not a non-empty `str` of at most `MAX_KEY_LENGTH` chars.

    Raises:
        TypeError: `key` is not a str.
        ValueError: `key` is empty or too long.
    """
    if not isinstance(key, str):
        msg = f"store key must be str, not {type(key).__name__}"
        raise TypeError(msg)
    if not key or len(key) > MAX_KEY_LENGTH:
        msg = f"store key must be 1..{MAX_KEY_LENGTH} characters, got {len(key)}"
        raise ValueError(msg)


def check_ttl(ttl: object) -> None:
    """Reject a TTL that is not an int of at least one second.

    Raises:
        TypeError: `ttl` is not an int (bool included).
        ValueError: `ttl` is below 1.
    """
    if not is_int(ttl):
        msg = f"store ttl must be int seconds, not {type(ttl).__name__}"
        raise TypeError(msg)
    if ttl < 1:
        msg = f"store ttl must be >= 1 second, got {ttl}"
        raise ValueError(msg)


def check_value(value: object) -> None:
    """Reject a value that is not `bytes` (sealed blobs only, never str).

    Raises:
        TypeError: `value` is not bytes.
    """
    if not isinstance(value, bytes):
        msg = f"store value must be bytes, not {type(value).__name__}"
        raise TypeError(msg)


def is_int(value: object) -> TypeGuard[int]:
    """Return whether `value` is an int and not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_positive_number(value: object) -> bool:
    """Return whether `value` is a finite int or float above zero (bools excluded)."""
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < float("inf")
    )


class ThreadedAsyncStore:
    """Expose a synchronous `Store` as an `AsyncStore` by running calls in threads.

    Each call goes through `asyncio.to_thread`, so a blocking store (e.g.
    `SQLiteStore`) never stalls the event loop. The wrapped store's own timeout
    bounds each call once it runs; a thread cannot be cancelled, so none is
    added here. Before it runs, a call may wait for a free thread of the
    loop's default executor (`min(32, CPUs + 4)` threads).

    Args:
        store: the synchronous store to wrap.

    .. versionadded:: 0.1
    """

    __slots__ = ("_store",)

    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def store(self) -> Store:
        """The wrapped synchronous store."""
        return self._store

    def __repr__(self) -> str:
        return f"ThreadedAsyncStore({self._store!r})"

    async def get(self, key: str) -> bytes | None:
        """Return the value under `key`, or None when absent or expired."""
        return await asyncio.to_thread(self._store.get, key)

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        """Store `value` under `key` for `ttl` seconds."""
        await asyncio.to_thread(self._store.set, key, value, ttl)

    async def delete(self, key: str) -> None:
        """Remove `key`; absent keys are not an error."""
        await asyncio.to_thread(self._store.delete, key)

    async def delete_if(self, key: str, value: bytes) -> bool:
        """Remove `key` only while it holds `value` (a plain delete when the store cannot)."""
        delete_if = getattr(self._store, "delete_if", None)
        if delete_if is None:
            await asyncio.to_thread(self._store.delete, key)
            return True
        return bool(await asyncio.to_thread(delete_if, key, value))

    async def touch(self, key: str, ttl: int) -> bool:
        """Reset the TTL of `key` (when the store can); return False when it is absent."""
        store: Any = self._store  # touch is not part of the Store protocol
        return bool(await asyncio.to_thread(store.touch, key, ttl))
