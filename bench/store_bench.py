"""Section (d): the fallback path, a 10 KB session in a store vs in chunked cookies.

A request is what the middlewares do around a handler: ``load`` the request's
cookies, read one key or modify one, ``commit``. Cookie mode uses the raised
budget (the session travels in 3 chunk cookies); the store modes keep the
default budget, so the data lives in the store behind a sealed reference.
Timed on the wall clock (the store round trips are the point). Store round
trips per request are counted twice: calls through the store API, and for
Redis the commands the server processed (``INFO stats``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from _harness import Bench, Loop, async_bench, sync_bench
from codec_bench import LARGE_BUDGET, _jar
from payloads import PAYLOADS

PAYLOAD = "large"


class Counting:
    """A store proxy counting calls per method (used for the count pass only)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.store, name)
        if name not in ("get", "set", "delete", "touch"):
            return attr

        def counted(*args: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return attr(*args)

        return counted


class AsyncCounting(Counting):
    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.store, name)
        if name not in ("get", "set", "delete", "touch"):
            return attr

        async def counted(*args: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return await attr(*args)

        return counted


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def redis_server() -> Iterator[str | None]:
    """Yield a Redis URL: ``$REDIS_URL``, else a private server started here."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    exe = shutil.which("redis-server")
    if exe is None:
        yield None
        return
    port = _free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/15"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait()


def _redis_commands(client: Any) -> int:
    return int(client.info("stats")["total_commands_processed"])


def _seed(engine: Any, payload: dict[str, Any]) -> dict[str, str]:
    session = engine.new_session()
    session.update(payload)
    return _jar(engine.commit(session, {}))


async def _aseed(engine: Any, payload: dict[str, Any]) -> dict[str, str]:
    session = engine.new_session()
    session.update(payload)
    return _jar(await engine.acommit(session, {}))


def _sync_request(engine: Any, jar: dict[str, str], variant: str) -> Any:
    load, commit = engine.load, engine.commit

    if variant == "read":

        def request() -> list[str]:
            session = load(jar)
            session["uid"]
            return commit(session, jar)
    else:

        def request() -> list[str]:
            session = load(jar)
            session["n"] = session.get("n", 0) + 1
            return commit(session, jar)

    return request


def _async_request(engine: Any, jar: dict[str, str], variant: str) -> Any:
    aload, acommit = engine.aload, engine.acommit

    if variant == "read":

        async def request() -> list[str]:
            session = await aload(jar)
            session["uid"]
            return await acommit(session, jar)
    else:

        async def request() -> list[str]:
            session = await aload(jar)
            session["n"] = session.get("n", 0) + 1
            return await acommit(session, jar)

    return request


class StoreSection:
    """Builds the engines and benches of section (d); `close` releases them."""

    def __init__(self, loop: Loop, keyring: Any, redis_url: str | None) -> None:
        from cookiesess import SessionEngine
        from cookiesess.stores import MemoryStore, SQLiteStore

        self.loop = loop
        self.keyring = keyring
        self.redis_url = redis_url
        self.tmp = tempfile.mkdtemp(prefix="cookiesess-bench-")
        self.closers: list[Any] = []
        sqlite = SQLiteStore(os.path.join(self.tmp, "sessions.sqlite3"))
        self.closers.append(sqlite.close)
        self.modes: dict[str, tuple[str, Any]] = {
            "cookie (3 chunks)": (
                "sync",
                lambda store: SessionEngine(keyring, max_total_bytes=LARGE_BUDGET),
            ),
            "MemoryStore": ("sync", lambda store: SessionEngine(keyring, store=store)),
            "SQLiteStore": ("sync", lambda store: SessionEngine(keyring, store=store)),
        }
        self.stores: dict[str, Any] = {"MemoryStore": MemoryStore(), "SQLiteStore": sqlite}
        self.skipped: list[str] = []
        if redis_url is not None:
            try:
                import redis  # noqa: F401

                from cookiesess.stores import AsyncRedisStore, RedisStore

                sync_store = RedisStore(redis_url, prefix="cookiesess-bench:")
                async_store = AsyncRedisStore(redis_url, prefix="cookiesess-bench:")
                self.closers.append(sync_store.close)
                self.closers.append(lambda: loop.run(async_store.aclose()))
                self.stores["RedisStore"] = sync_store
                self.stores["AsyncRedisStore"] = async_store
                self.modes["RedisStore"] = (
                    "sync",
                    lambda store: SessionEngine(keyring, store=store),
                )
                self.modes["AsyncRedisStore"] = (
                    "async",
                    lambda store: SessionEngine(keyring, store=store),
                )
            except Exception as exc:
                self.skipped.append(f"Redis: {exc}")
        else:
            self.skipped.append("Redis: no REDIS_URL and no redis-server on PATH")

    def close(self) -> None:
        for close in reversed(self.closers):
            with contextlib.suppress(Exception):
                close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def count_pass(self, requests: int = 20) -> dict[str, dict[str, Any]]:
        """Run `requests` requests per mode and variant through counting stores."""
        payload = PAYLOADS[PAYLOAD]
        out: dict[str, dict[str, Any]] = {}
        monitor = None
        if self.redis_url and "RedisStore" in self.modes:
            import redis

            # One connection, opened before counting: its handshake is not counted.
            monitor = redis.Redis.from_url(self.redis_url)
            self.closers.append(monitor.close)
        for mode, (kind, make) in self.modes.items():
            raw = self.stores.get(mode)
            for variant in ("read", "modify"):
                if raw is None:
                    engine = make(None)
                    counter = None
                else:
                    counter = (AsyncCounting if kind == "async" else Counting)(raw)
                    engine = make(counter)
                jar = (
                    self.loop.run(_aseed(engine, payload))
                    if kind == "async"
                    else _seed(engine, payload)
                )
                if counter is not None:
                    counter.calls.clear()
                redis_before = (
                    _redis_commands(monitor) if "Redis" in mode and monitor is not None else None
                )
                set_cookies = 0
                for _ in range(requests):
                    if kind == "async":
                        lines = self.loop.run(_async_request(engine, jar, variant)())
                    else:
                        lines = _sync_request(engine, jar, variant)()
                    set_cookies += len(lines)
                entry: dict[str, Any] = {
                    "cookies": len(jar),
                    "cookie_bytes": sum(len(k) + 1 + len(v) for k, v in jar.items()),
                    "set_cookie_per_request": set_cookies / requests,
                }
                if counter is not None:
                    entry["store_calls_per_request"] = {
                        k: v / requests for k, v in sorted(counter.calls.items())
                    }
                    entry["store_round_trips_per_request"] = sum(counter.calls.values()) / requests
                if redis_before is not None:
                    # minus the first INFO command (the second one is not counted yet)
                    done = _redis_commands(monitor) - redis_before - 1
                    entry["redis_commands_per_request"] = done / requests
                out[f"{mode}|{variant}"] = entry
        return out

    def benches(self) -> list[Bench]:
        payload = PAYLOADS[PAYLOAD]
        benches = []
        for mode, (kind, make) in self.modes.items():
            engine = make(self.stores.get(mode))
            for variant in ("read", "modify"):
                info = {"mode": mode, "variant": variant, "group": "store"}
                key = f"store|{mode}|{variant}"
                if kind == "async":
                    jar = self.loop.run(_aseed(engine, payload))
                    benches.append(
                        async_bench(
                            self.loop, key, _async_request(engine, jar, variant), wall=True, **info
                        )
                    )
                else:
                    jar = _seed(engine, payload)
                    benches.append(
                        sync_bench(key, _sync_request(engine, jar, variant), wall=True, **info)
                    )
        return benches
