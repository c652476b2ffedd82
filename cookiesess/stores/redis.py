"""Redis stores, sync and asyncio, safe for Redis Cluster.

`redis` is imported only when a store is built, never by importing this
module. Only single-key commands are sent (SET PX, GET, PEXPIRE, DEL, SCAN,
and EVAL of a compare-and-delete script on one key), so keys may live in any
cluster slot. Every call the engine makes ends within the store's timeout,
retry included (see the classes for what that covers), and every driver error
surfaces as `StoreError`; retries are limited to one immediate reconnect after
a dropped connection (e.g. a Redis restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cookiesess.exceptions import ConfigurationError, StoreError
from cookiesess.stores._adapt import (
    check_key,
    check_ttl,
    check_value,
    is_positive_number,
)
from cookiesess.stores.base import DEFAULT_TIMEOUT

if TYPE_CHECKING:
    import socket
    from collections.abc import Awaitable, Callable, Iterator

    import redis
    import redis.asyncio

__all__ = ["AsyncRedisStore", "RedisStore"]

logger = logging.getLogger("cookiesess.stores")

_SCAN_COUNT: Final = 500
"""Keys asked for per SCAN round trip by `clear()` and `count()`."""
_GLOB_SPECIAL: Final = re.compile(r"([*?\[\]\\])")
_DELETE_IF: Final = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)
"""Lua: delete the key only while it holds the given value (atomic on the server)."""

_deadline: ContextVar[float | None] = ContextVar("cookiesess_redis_deadline", default=None)
"""`time.monotonic()` by which the current sync store call must end, if any."""


@contextlib.contextmanager
def _call_deadline(timeout: float) -> Iterator[None]:
    """Give the enclosed sync Redis call `timeout` seconds in all, retry included.

    A call nested in another (the DEL after a refused EVAL) shares its deadline.
    """
    if _deadline.get() is not None:
        yield
        return
    token = _deadline.set(time.monotonic() + timeout)
    try:
        yield
    finally:
        _deadline.reset(token)


def _time_left() -> float | None:
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def _capped(timeout: float | None, left: float) -> float:
    return left if timeout is None else min(timeout, left)


class _DeadlineSocket:
    """A connected socket whose blocking calls end by the current call's deadline.

    redis-py sets socket timeouts per operation (connect, each read), so one
    call spanning a handshake, a reply and the retry could wait several
    timeouts. Here every `recv`, `recv_into` and `sendall` waits at most what
    redis-py asked for and at most what is left of the store call's budget;
    with none left it fails at once, as a timeout (and redis-py drops the
    connection, so no late reply is ever read by another call).
    """

    __slots__ = ("_sock", "_timeout")

    def __init__(self, sock: socket.socket, timeout: float | None) -> None:
        self._sock = sock
        self._timeout = timeout  # what redis-py asked for

    def settimeout(self, timeout: float | None) -> None:
        self._timeout = timeout
        self._sock.settimeout(timeout)

    def gettimeout(self) -> float | None:
        return self._timeout

    def recv(self, *args: Any) -> bytes:
        self._arm()
        return self._sock.recv(*args)

    def recv_into(self, *args: Any) -> int:
        self._arm()
        return self._sock.recv_into(*args)

    def sendall(self, data: Any, *args: Any) -> None:
        self._arm()
        self._sock.sendall(data, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def _arm(self) -> None:
        left = _time_left()
        if left is None or self._timeout == 0:  # no store call, or a non-blocking poll
            self._sock.settimeout(self._timeout)
            return
        if left <= 0:
            msg = "the store call's timeout ran out"
            raise TimeoutError(msg)
        self._sock.settimeout(_capped(self._timeout, left))


class _DeadlineConnection:
    """Mixed into a redis-py connection class: connect and I/O within the call's deadline."""

    socket_connect_timeout: float | None
    socket_timeout: float | None

    def _connect(self) -> _DeadlineSocket:
        base: Any = super()
        left = _time_left()
        if left is None:
            return _DeadlineSocket(base._connect(), self.socket_timeout)
        if left <= 0:
            msg = "the store call's timeout ran out before connecting"
            raise TimeoutError(msg)
        # The TCP connect, and a TLS handshake, wait at most what is left. Name
        # resolution (getaddrinfo) has no timeout in a synchronous client.
        saved = self.socket_connect_timeout, self.socket_timeout
        self.socket_connect_timeout = _capped(saved[0], left)
        self.socket_timeout = _capped(saved[1], left)
        try:
            sock = base._connect()
        finally:
            self.socket_connect_timeout, self.socket_timeout = saved
        return _DeadlineSocket(sock, self.socket_timeout)


@functools.cache
def _deadline_connection_class(scheme: str) -> type[Any]:
    """The redis-py connection class `from_url` would pick for `scheme`, with deadlines."""
    from redis.connection import Connection, SSLConnection, UnixDomainSocketConnection

    base = {"unix": UnixDomainSocketConnection, "rediss": SSLConnection}.get(scheme, Connection)
    return type(f"Deadline{base.__name__}", (_DeadlineConnection, base), {})


class _RedisCommon:
    """What the sync and async Redis stores share: construction, naming, errors."""

    _client: Any
    _prefix: str
    _pattern: str
    _timeout: float
    _errors: tuple[type[BaseException], ...]
    _owns_client: bool
    _target: str
    _refused: type[BaseException]
    _scripting = True

    def _connect(
        self,
        url: str | None,
        client: Any,
        prefix: str,
        timeout: float,
        from_url: Callable[..., Any],
        retry: Any,
        **options: Any,
    ) -> None:
        import redis

        name = type(self).__name__
        self._prefix = prefix
        self._pattern = _scan_pattern(prefix)
        self._timeout = float(timeout)
        self._errors = (redis.RedisError, OSError)
        self._refused = redis.ResponseError
        if client is None and url is not None:
            try:
                self._client = from_url(
                    url,
                    socket_timeout=self._timeout,
                    socket_connect_timeout=self._timeout,
                    retry=retry,
                    **options,
                )
            except ValueError as exc:
                msg = f"{name} url is invalid: {_redact_url(url)}: {exc}"
                raise ConfigurationError(msg) from exc
            self._owns_client = True
            self._target = f"url={_redact_url(url)!r}"
        elif client is not None:
            _check_client(name, client)
            self._client = client
            self._owns_client = False
            self._target = f"client=<{type(client).__name__}>"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._target}, prefix={self._prefix!r})"

    @property
    def prefix(self) -> str:
        """The prefix of every key this store writes."""
        return self._prefix

    def _no_scripting(self, exc: BaseException) -> None:
        # A server that refuses EVAL (renamed, or denied by an ACL) still gets
        # the plain DEL: a concurrent rewrite can then be lost, as before.
        self._scripting = False
        logger.warning(
            "%r: Redis refused EVAL (%s); records moving back into the cookie are "
            "deleted with a plain DEL from now on",
            self,
            exc,
        )


class RedisStore(_RedisCommon):
    """A `Store` on Redis (standalone or Cluster) with the `redis` client.

    Keys are stored as `prefix + key` with a millisecond TTL (`SET … PX`).
    Built from a URL, the client makes at most one immediate retry, after a
    dropped connection, and each call (`get`, `set`, `delete`, `delete_if`,
    `touch`) runs under one deadline of `timeout` seconds: the connect, the
    handshake of a new connection, every read and write, and the retry all
    share it, and a call that runs out fails with `StoreError`. Only name
    resolution escapes it, being uninterruptible in a synchronous client (as
    does, for a host name with several addresses, trying each in turn): use
    an IP address where that matters. `clear()` and `count()` give each
    round trip the timeout. A client passed in is used as configured, with
    its own timeouts and retries and no deadline per call, and is not closed
    by `close()`.

    Args:
        url: a `redis://`, `rediss://` or `unix://` URL.
        client: an existing `redis.Redis` or `redis.RedisCluster`, created
            with `decode_responses=False`; exclusive with `url`.
        prefix: prepended to every key; `clear()` and `count()` cover
            exactly the keys under it.
        timeout: seconds a single call may take, all included.

    Raises:
        ConfigurationError: not exactly one of `url` and `client`, a bad
            URL, prefix or timeout, or a client that decodes responses.
        ImportError: the `redis` package is missing (`cookiesess[redis]`).

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: redis.Redis | redis.RedisCluster | None = None,
        prefix: str = "cookiesess:",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        _check_options("RedisStore", url, client, prefix, timeout)
        _require_redis()
        # Lazy imports: redis is an optional dependency, loaded only when used.
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self._client: redis.Redis | redis.RedisCluster
        self._connect(
            url,
            client,
            prefix,
            timeout,
            redis.Redis.from_url,
            Retry(NoBackoff(), 1, (redis.ConnectionError,)),
            connection_class=_deadline_connection_class(_scheme(url)),
        )

    def __enter__(self) -> RedisStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(self, key: str) -> bytes | None:
        """Return the value under `key`, or None when absent or expired.

        Raises:
            StoreError: Redis failed or did not answer within the timeout.
        """
        check_key(key)
        try:
            with _call_deadline(self._timeout):
                value = self._client.get(self._prefix + key)
        except self._errors as exc:
            raise _error("GET", exc, self._timeout) from exc
        return _as_bytes(value)

    def set(self, key: str, value: bytes, ttl: int) -> None:
        """Store `value` under `key` for `ttl` seconds (`SET key value PX ms`).

        Raises:
            StoreError: Redis failed or did not answer within the timeout.
        """
        check_key(key)
        check_value(value)
        check_ttl(ttl)
        try:
            with _call_deadline(self._timeout):
                self._client.set(self._prefix + key, value, px=ttl * 1000)
        except self._errors as exc:
            raise _error("SET", exc, self._timeout) from exc

    def delete(self, key: str) -> None:
        """Remove `key`; absent keys are not an error.

        Raises:
            StoreError: Redis failed or did not answer within the timeout.
        """
        check_key(key)
        try:
            with _call_deadline(self._timeout):
                self._client.delete(self._prefix + key)
        except self._errors as exc:
            raise _error("DEL", exc, self._timeout) from exc

    def delete_if(self, key: str, value: bytes) -> bool:
        """Remove `key` only while it holds `value` (one atomic EVAL); return whether it did.

        A server that refuses EVAL gets a plain DEL instead (logged once).

        Raises:
            StoreError: Redis failed or did not answer within the timeout.
        """
        check_key(key)
        with _call_deadline(self._timeout):  # the fallback DEL shares the budget
            if self._scripting:
                try:
                    return bool(self._client.eval(_DELETE_IF, 1, self._prefix + key, value))
                except self._refused as exc:
                    self._no_scripting(exc)
                except self._errors as exc:
                    raise _error("EVAL", exc, self._timeout) from exc
            self.delete(key)
        return True

    def touch(self, key: str, ttl: int) -> bool:
        """Reset the TTL of `key` (`PEXPIRE`); return False when it is absent.

        Raises:
            StoreError: Redis failed or did not answer within the timeout.
        """
        check_key(key)
        check_ttl(ttl)
        try:
            with _call_deadline(self._timeout):
                return bool(self._client.pexpire(self._prefix + key, ttl * 1000))
        except self._errors as exc:
            raise _error("PEXPIRE", exc, self._timeout) from exc

    def clear(self) -> None:
        """Delete every key under the prefix (SCAN, then one DEL per key).

        Raises:
            StoreError: Redis failed; some keys may already be deleted.
        """
        try:
            for batch in self._scan_batches():
                pipe = self._client.pipeline(transaction=False)
                for name in batch:
                    pipe.delete(name)
                pipe.execute()
        except self._errors as exc:
            raise _error("clear", exc) from exc

    def count(self) -> int:
        """Return the number of keys under the prefix (by SCAN; O(keys)).

        Raises:
            StoreError: Redis failed.
        """
        seen: set[bytes] = set()
        try:
            for batch in self._scan_batches():
                seen.update(batch)
        except self._errors as exc:
            raise _error("count", exc) from exc
        return len(seen)

    def close(self) -> None:
        """Close the connections of a client this store created from a URL."""
        if self._owns_client:
            self._client.close()

    def _scan_batches(self) -> Iterator[list[bytes]]:
        batch: list[bytes] = []
        for name in self._client.scan_iter(match=self._pattern, count=_SCAN_COUNT):
            batch.append(_as_key(name))
            if len(batch) >= _SCAN_COUNT:
                yield batch
                batch = []
        if batch:
            yield batch


class AsyncRedisStore(_RedisCommon):
    """An `AsyncStore` on Redis (standalone or Cluster) with `redis.asyncio`.

    Same keys, commands and options as `RedisStore`. Each call (`get`,
    `set`, `delete`, `delete_if` with its fallback DEL, `touch`) runs under
    `asyncio.timeout(timeout)`, which cancels whatever step it is in: name
    resolution, connect, handshake, a read, or the retry. So no call outlives
    the timeout, even when Redis accepts the connection but never answers,
    and a client passed in gets the same bound. `clear()` and `count()` give
    each round trip the timeout. Like every `redis.asyncio` client, it
    belongs to the event loop that first uses it: build it in the app's
    lifespan/startup, and `await store.aclose()` at shutdown.

    Args:
        url: a `redis://`, `rediss://` or `unix://` URL.
        client: an existing `redis.asyncio.Redis` or `redis.asyncio.RedisCluster`,
            created with `decode_responses=False`; exclusive with `url`.
        prefix: prepended to every key; `clear()` and `count()` cover
            exactly the keys under it.
        timeout: seconds a single call may take.

    Raises:
        ConfigurationError: not exactly one of `url` and `client`, a bad
            URL, prefix or timeout, or a client that decodes responses.
        ImportError: the `redis` package is missing (`cookiesess[redis]`).

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: redis.asyncio.Redis | redis.asyncio.RedisCluster | None = None,
        prefix: str = "cookiesess:",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        _check_options("AsyncRedisStore", url, client, prefix, timeout)
        _require_redis()
        # Lazy imports: redis is an optional dependency, loaded only when used.
        import redis
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._client: redis.asyncio.Redis | redis.asyncio.RedisCluster
        self._connect(
            url,
            client,
            prefix,
            timeout,
            redis.asyncio.Redis.from_url,
            Retry(NoBackoff(), 1, (redis.ConnectionError,)),
        )

    async def __aenter__(self) -> AsyncRedisStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def get(self, key: str) -> bytes | None:
        """Return the value under `key`, or None when absent or expired.

        Raises:
            StoreError: Redis failed or did not answer within the timeout.
        """
        check_key(key)
        try:
            async with asyncio.timeout(self._timeout):
                value = await self._client.get(self._prefix + key)
        except self._errors as exc:
            raise _error("GET", exc, self._timeout) from exc
        return _as_bytes(value)

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        """Store `value` under `key` for `ttl` seconds (`SET key value PX ms`).

        Raises:
            StoreError: Redis failed or did not answer within the timeout.
        """
        check_key(key)
        check_value(value)
        check_ttl(ttl)
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.set(self._prefix + key, value, px=ttl * 1000)
        except self._errors as exc:
            raise _error("SET", exc, self._timeout) from exc

    async def delete(self, key: str) -> None:
        """Remove `key`; absent keys are not an error.

        Raises:
            StoreError: Redis failed or did not answer within the timeout.
        """
        check_key(key)
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.delete(self._prefix + key)
        except self._errors as exc:
            raise _error("DEL", exc, self._timeout) from exc

    async def delete_if(self, key: str, value: bytes) -> bool:
        """Remove `key` only while it holds `value` (one atomic EVAL); return whether it did.

        A server that refuses EVAL gets a plain DEL instead (logged once).

        Raises:
            StoreError: Redis failed or did not answer within the timeout.
        """
        check_key(key)
        started = time.monotonic()
        if self._scripting:
            try:
                async with asyncio.timeout(self._timeout):
                    deleted = await self._client.eval(_DELETE_IF, 1, self._prefix + key, value)
                return bool(deleted)
            except self._refused as exc:
                self._no_scripting(exc)
            except self._errors as exc:
                raise _error("EVAL", exc, self._timeout) from exc
        # The fallback DEL gets what the refused EVAL left of the budget.
        left = self._timeout - (time.monotonic() - started)
        try:
            async with asyncio.timeout(max(left, 0)):
                await self._client.delete(self._prefix + key)
        except self._errors as exc:
            raise _error("DEL", exc, self._timeout) from exc
        return True

    async def touch(self, key: str, ttl: int) -> bool:
        """Reset the TTL of `key` (`PEXPIRE`); return False when it is absent.

        Raises:
            StoreError: Redis failed or did not answer within the timeout.
        """
        check_key(key)
        check_ttl(ttl)
        try:
            async with asyncio.timeout(self._timeout):
                return bool(await self._client.pexpire(self._prefix + key, ttl * 1000))
        except self._errors as exc:
            raise _error("PEXPIRE", exc, self._timeout) from exc

    async def clear(self) -> None:
        """Delete every key under the prefix (SCAN, then one DEL per key).

        Each round trip gets the timeout, not the whole operation.

        Raises:
            StoreError: Redis failed; some keys may already be deleted.
        """

        async def delete_batch(batch: list[bytes]) -> None:
            pipe = self._client.pipeline(transaction=False)
            for name in batch:
                pipe.delete(name)
            async with asyncio.timeout(self._timeout):
                await pipe.execute()

        try:
            await self._scan(delete_batch)
        except self._errors as exc:
            raise _error("clear", exc, self._timeout) from exc

    async def count(self) -> int:
        """Return the number of keys under the prefix (by SCAN; O(keys)).

        Each round trip gets the timeout, not the whole operation.

        Raises:
            StoreError: Redis failed.
        """
        seen: set[bytes] = set()

        async def add_batch(batch: list[bytes]) -> None:
            seen.update(batch)

        try:
            await self._scan(add_batch)
        except self._errors as exc:
            raise _error("count", exc, self._timeout) from exc
        return len(seen)

    async def aclose(self) -> None:
        """Close the connections of a client this store created from a URL."""
        if self._owns_client:
            await self._client.aclose()

    close = aclose
    """Alias of `aclose()`, matching `RedisStore.close()`."""

    async def _scan(self, handle: Callable[[list[bytes]], Awaitable[None]]) -> None:
        """Pass the keys under the prefix to `handle`, a batch at a time."""
        names = self._client.scan_iter(match=self._pattern, count=_SCAN_COUNT)
        batch: list[bytes] = []
        try:
            while True:
                try:
                    async with asyncio.timeout(self._timeout):
                        name = await anext(names)
                except StopAsyncIteration:
                    break
                batch.append(_as_key(name))
                if len(batch) >= _SCAN_COUNT:
                    await handle(batch)
                    batch = []
        finally:
            aclose = getattr(names, "aclose", None)
            if aclose is not None:
                await aclose()
        if batch:
            await handle(batch)


def _require_redis() -> None:
    try:
        import redis  # noqa: F401
    except ImportError as exc:
        msg = "the Redis stores need the redis package: pip install 'cookiesess[redis]'"
        raise ImportError(msg, name="redis") from exc


def _check_options(cls: str, url: object, client: object, prefix: object, timeout: object) -> None:
    problems: list[str] = []
    if (url is None) == (client is None):
        problems.append(f"{cls} needs exactly one of url= and client=")
    elif url is not None and not isinstance(url, str):
        problems.append(f"{cls} url must be a str, not {type(url).__name__}")
    if not isinstance(prefix, str) or not prefix:
        # An empty prefix would let clear() delete the whole database.
        problems.append(f"{cls} prefix must be a non-empty str, got {prefix!r}")
    if not is_positive_number(timeout):
        problems.append(f"{cls} timeout must be > 0 seconds, got {timeout!r}")
    if problems:
        raise ConfigurationError(problems)


def _check_client(cls: str, client: object) -> None:
    get_encoder = getattr(client, "get_encoder", None)
    if get_encoder is not None and getattr(get_encoder(), "decode_responses", False):
        msg = f"{cls} needs a client created with decode_responses=False"
        raise ConfigurationError(msg)


def _scheme(url: str | None) -> str:
    try:
        return urlsplit(url or "").scheme.lower()
    except ValueError:
        return ""  # from_url reports the bad URL


def _scan_pattern(prefix: str) -> str:
    """Return a SCAN MATCH pattern for keys under `prefix`, glob chars escaped."""
    return _GLOB_SPECIAL.sub(r"\\\1", prefix) + "*"


def _as_bytes(value: object) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    msg = (
        f"Redis returned {type(value).__name__}, not bytes: create the client"
        " with decode_responses=False"
    )
    raise StoreError(msg)


def _as_key(name: object) -> bytes:
    if isinstance(name, bytes):
        return name
    if isinstance(name, str):
        return name.encode()
    msg = f"Redis SCAN returned a {type(name).__name__} key"
    raise StoreError(msg)


def _error(op: str, exc: BaseException, timeout: float | None = None) -> StoreError:
    detail = str(exc) or (f"no answer within {timeout} s" if timeout is not None else "no detail")
    return StoreError(f"Redis {op} failed: {type(exc).__name__}: {detail}")


def _redact_url(url: str) -> str:
    """Return `url` with its user info and any `password` query value masked.

    SECURITY: reprs and messages show this form only, never the raw URL.
    """
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = "***@" + netloc.rpartition("@")[2]
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode(
                [(k, "***" if k.lower() == "password" else v) for k, v in pairs],
                safe="*",
            )
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return "<unparseable url>"
