"""Server-side stores for sessions that outgrow their cookies.

Importing this package loads no driver: `redis` is imported only when a Redis
store is built.
"""

from __future__ import annotations

from cookiesess.stores._adapt import ThreadedAsyncStore as ThreadedAsyncStore
from cookiesess.stores.base import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
from cookiesess.stores.base import AsyncStore as AsyncStore
from cookiesess.stores.base import Store as Store
from cookiesess.stores.memory import MemoryStore as MemoryStore
from cookiesess.stores.redis import AsyncRedisStore as AsyncRedisStore
from cookiesess.stores.redis import RedisStore as RedisStore
from cookiesess.stores.sqlite import SQLiteStore as SQLiteStore

__all__ = [
    "DEFAULT_TIMEOUT",
    "AsyncRedisStore",
    "AsyncStore",
    "MemoryStore",
    "RedisStore",
    "SQLiteStore",
    "Store",
    "ThreadedAsyncStore",
]
