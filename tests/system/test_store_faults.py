"""Store faults through the real middlewares under real servers (DESIGN §4, issue 3).

A Starlette app (our ASGI middleware, `AsyncRedisStore`) under uvicorn and a
WSGI app (our WSGI middleware, `RedisStore`) under gunicorn gthread share a
private redis-server this module kills, restarts and pauses; a gunicorn with 4
sync workers shares one `SQLiteStore` file whose write lock the test holds from
outside. Clients speak HTTP with httpx and keep cookies like a browser.

Pass criteria: no request takes 2 s (the store timeout is 0.25 s); a store
failure answers 503 with no Set-Cookie at all, so the client's session cookie
is neither replaced nor deleted; cookie-mode sessions are unaffected; service
recovers without restarting the app; an authenticated reference whose record
is gone gives a fresh session with a new id, never the old one.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import SECRET_A, Browser, require, ring_of
from tests.redis_fixtures import RedisServer, require_redis
from tests.system._apps import STORE_MODE_PAD

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
APPS = "tests.system._apps"
LIMIT = 2.0
"""Seconds any request may take, store faults included."""
START_TIMEOUT = 30.0
KINDS = ["asgi-uvicorn", "wsgi-gunicorn-gthread"]


# ------------------------------------------------------------------ processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_servers(*modules: str) -> None:
    for module in modules:
        require("servers", importlib.util.find_spec(module) is not None, f"{module} is missing")


def server_env(store: str) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "COOKIESESS_KEYS": f"a:{ring_of(('a', SECRET_A, 'primary')).primary.secret_b64()}",
        "SYSTEM_STORE": store,
    }
    env.pop("COOKIESESS_KEYS_FILE", None)
    return env


def uvicorn_argv(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        f"{APPS}:asgi_from_env",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]


def gunicorn_argv(port: int, *worker: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        *worker,
        "--bind",
        f"127.0.0.1:{port}",
        "--timeout",
        "30",
        "--no-control-socket",
        f"{APPS}:wsgi_from_env()",
    ]


@dataclass
class Served:
    """A server subprocess on 127.0.0.1 and where its output goes."""

    name: str
    base: str
    log: Path
    process: subprocess.Popen[bytes]

    def logs(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@contextlib.contextmanager
def serving(
    specs: dict[str, tuple[list[str], int]], env: dict[str, str], logdir: Path
) -> Iterator[dict[str, Served]]:
    """Start every server at once (they boot in parallel); always kill them at the end."""
    served: dict[str, Served] = {}
    try:
        for name, (argv, port) in specs.items():
            log = logdir / f"{name}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
                )
            served[name] = Served(name, f"http://127.0.0.1:{port}", log, process)
        deadline = time.monotonic() + START_TIMEOUT
        for live in served.values():
            while True:
                if live.process.poll() is not None:
                    pytest.fail(
                        f"{live.name} exited with {live.process.returncode}:\n{live.logs()}"
                    )
                try:
                    if httpx.get(live.base + "/read", timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"{live.name} did not start in {START_TIMEOUT} s:\n{live.logs()}")
                time.sleep(0.05)
        yield served
    finally:
        for live in served.values():
            # SIGINT: gunicorn's quick shutdown (SIGTERM waits for idle workers); uvicorn's too.
            live.process.send_signal(signal.SIGINT)
        for live in served.values():
            try:
                live.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                live.process.kill()
                live.process.wait(timeout=10)


# ------------------------------------------------------------------- clients


@dataclass
class Client:
    """A browser-like HTTP client: its own cookie jar, every request timed and checked."""

    base: str
    http: httpx.Client
    browser: Browser = field(default_factory=Browser)
    latencies: list[float] = field(default_factory=list)

    def get(self, path: str) -> httpx.Response:
        """GET with the jar's cookies; check the fault invariants; apply Set-Cookie."""
        headers = {"cookie": self.browser.header()} if self.browser.jar else {}
        started = time.monotonic()
        self.http.cookies.clear()  # `browser` is the jar: httpx's own one is shared
        response = self.http.get(self.base + path, headers=headers)
        elapsed = time.monotonic() - started
        self.latencies.append(elapsed)
        set_cookies = response.headers.get_list("set-cookie")
        assert elapsed < LIMIT, f"{path} took {elapsed:.2f} s"
        assert response.status_code in (200, 503), response.text
        if response.status_code == 503:
            # SECURITY: a store failure never replaces nor deletes the client's cookie.
            assert set_cookies == []
            assert response.headers["cache-control"] == "no-store"
        self.browser.apply(set_cookies)
        return response

    @property
    def jar(self) -> dict[str, str]:
        return dict(self.browser.jar)


def start_store_session(http: httpx.Client, base: str, owner: str) -> tuple[Client, str]:
    """A client whose session is past the cookie budget: the cookie holds a reference."""
    client = Client(base, http)
    assert client.get(f"/write?owner={owner}&pad={STORE_MODE_PAD}").status_code == 200
    read = client.get("/read").json()
    assert list(client.jar) == ["session"]
    assert len(client.jar["session"]) < 400  # a reference, not the data
    assert read["new"] is False
    assert read["read"]["owner"] == owner
    assert read["read"]["pad"] == STORE_MODE_PAD
    return client, read["id"]


def start_cookie_session(http: httpx.Client, base: str, owner: str) -> Client:
    """A client whose whole session fits in its cookie (no store involved)."""
    client = Client(base, http)
    assert client.get(f"/write?owner={owner}").status_code == 200
    return client


def assert_store_session_fails_closed(client: Client) -> None:
    """Reads and writes of a store-mode session answer 503 and leave the cookie alone."""
    before = client.jar
    for path in ("/read", "/inc?w=during-outage", "/read"):
        response = client.get(path)
        assert response.status_code == 503
        assert client.jar == before


def assert_cookie_session_unaffected(client: Client, owner: str, tag: str) -> None:
    """A cookie-mode session reads and writes normally while the store is down."""
    writes = client.get("/read").json()["read"]["writes"]
    for i in range(3):
        response = client.get(f"/inc?w={tag}{i}")
        assert response.status_code == 200
        assert response.headers.get_list("set-cookie")
    read = client.get("/read").json()
    assert read["read"]["owner"] == owner
    assert read["read"]["writes"] == [*writes, f"{tag}0", f"{tag}1", f"{tag}2"]


# ------------------------------------------------------------------- fixtures


@dataclass
class RedisApps:
    redis: RedisServer
    servers: dict[str, Served]


@pytest.fixture(scope="module")
def redis_apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisApps]:
    """A private redis-server and both apps on it, started once for the module."""
    require_servers("uvicorn", "gunicorn")
    redis = RedisServer(require_redis(), tmp_path_factory.mktemp("faults-redis"))
    redis.start()
    try:
        specs = {
            "asgi-uvicorn": (uvicorn_argv(port := free_port()), port),
            "wsgi-gunicorn-gthread": (
                gunicorn_argv(port2 := free_port(), "-k", "gthread", "--threads", "4", "-w", "1"),
                port2,
            ),
        }
        logs = tmp_path_factory.mktemp("faults-logs")
        with serving(specs, server_env(redis.url), logs) as servers:
            yield RedisApps(redis, servers)
    finally:
        redis.close()


@pytest.fixture
def apps(redis_apps: RedisApps) -> Iterator[RedisApps]:
    """The module's apps with Redis up and answering, before and after the test."""
    redis = redis_apps.redis
    redis.resume()
    if redis.process is None:
        redis.start()
    try:
        yield redis_apps
    finally:
        redis.resume()
        if redis.process is None:
            redis.start()


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One connection pool for the module's requests (each Client keeps its own cookies)."""
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture(params=KINDS)
def base(request: pytest.FixtureRequest, apps: RedisApps) -> str:
    return apps.servers[request.param].base


def logs_of(apps: RedisApps) -> str:
    return "\n".join(live.logs() for live in apps.servers.values())


# ----------------------------------------------------------------- Redis faults


@pytest.mark.redis
def test_killed_then_restarted_empty(apps: RedisApps, base: str, http: httpx.Client) -> None:
    """Redis killed: store sessions 503 without Set-Cookie; restarted empty: a fresh id."""
    store_client, old_id = start_store_session(http, base, "store-A")
    cookie_client = start_cookie_session(http, base, "cookie-A")

    apps.redis.kill()
    assert_store_session_fails_closed(store_client)
    assert_cookie_session_unaffected(cookie_client, "cookie-A", "down")
    apps.redis.restart(keep_data=False)
    fresh = store_client.get("/read")
    rewritten = store_client.get("/write?owner=store-B&pad=9000")
    again = store_client.get("/read")

    assert fresh.status_code == 200, logs_of(apps)
    assert fresh.json()["new"] is True
    assert fresh.json()["id"] != old_id  # SECURITY: the reference is never adopted
    assert fresh.json()["read"]["owner"] is None
    assert fresh.headers.get_list("set-cookie") == []  # untouched fresh session: no write
    assert rewritten.status_code == 200
    assert again.json()["id"] not in (old_id, fresh.json()["id"])
    assert again.json()["new"] is False
    assert again.json()["read"]["owner"] == "store-B"
    assert again.json()["read"]["pad_ok"] is True


@pytest.mark.redis
def test_killed_then_restarted_with_its_data(
    apps: RedisApps, base: str, http: httpx.Client
) -> None:
    """Redis crashes after a snapshot; once it is back the same session reads its data."""
    import redis

    store_client, old_id = start_store_session(http, base, "store-C")
    cookie_client = start_cookie_session(http, base, "cookie-C")
    with redis.Redis.from_url(apps.redis.url) as direct:
        direct.save()  # RDB snapshot on disk: what a persistent Redis would reload

    apps.redis.kill()
    assert_store_session_fails_closed(store_client)
    assert_cookie_session_unaffected(cookie_client, "cookie-C", "down")
    apps.redis.start()  # reloads dump.rdb; the apps were not restarted
    back = store_client.get("/read")
    written = store_client.get("/inc?w=after-restart")
    read = store_client.get("/read").json()

    assert back.status_code == 200, logs_of(apps)
    assert back.json()["id"] == old_id
    assert back.json()["new"] is False
    assert back.json()["read"]["owner"] == "store-C"
    assert back.json()["read"]["writes"] == []  # the write that 503'd was never applied
    assert back.json()["read"]["pad_ok"] is True
    assert written.status_code == 200
    assert read["read"]["writes"] == ["after-restart"]
    assert read["id"] == old_id


@pytest.mark.redis
def test_paused_redis_times_out_then_recovers(
    apps: RedisApps, base: str, http: httpx.Client
) -> None:
    """A SIGSTOPped Redis: 503 within the timeout, no Set-Cookie; SIGCONT: served again.

    One store-mode client times out on its reads; another is between its load
    and its write when Redis stops, so its write times out. Once Redis answers
    again (and reads whatever was sent meanwhile), each client reads its own
    data, with the timed-out write applied whole or not at all.
    """
    store_client, old_id = start_store_session(http, base, "store-D")
    cookie_client = start_cookie_session(http, base, "cookie-D")
    committed = store_client.get("/inc?w=before-pause")
    with httpx.Client(timeout=10) as other_http, ThreadPoolExecutor(1) as pool:
        other_client, other_id = start_store_session(other_http, base, "store-E")

        # The app sleeps 0.4 s between loading the record and writing it back.
        pending = pool.submit(other_client.get, "/inc?w=mid-pause&delay=0.4")
        time.sleep(0.15)
        apps.redis.pause()
        before = store_client.jar
        read = store_client.get("/read")
        write = store_client.get("/inc?w=while-paused")
        mid = pending.result(timeout=10)
        stalled = store_client.latencies[-2:]
        assert_cookie_session_unaffected(cookie_client, "cookie-D", "paused")
        apps.redis.resume()
        other_back = other_client.get("/read")
        back = store_client.get("/read")

    assert committed.status_code == 200
    assert read.status_code == 503
    assert write.status_code == 503
    assert store_client.jar == before
    assert mid.status_code == 503  # loaded before the pause, the write timed out
    # The store's 0.25 s timeout fired, once: the failed load is the request's
    # only store call, and it ends by the timeout (tests/stores/test_latency.py).
    assert all(0.2 <= s <= 0.25 + 0.5 for s in stalled), stalled
    assert back.status_code == 200, logs_of(apps)
    assert back.json()["id"] == old_id
    assert back.json()["read"]["owner"] == "store-D"
    assert back.json()["read"]["pad_ok"] is True
    assert back.json()["read"]["writes"] == ["before-pause"]  # its loads failed: no write sent
    assert other_back.status_code == 200
    assert other_back.json()["id"] == other_id
    assert other_back.json()["read"]["owner"] == "store-E"
    assert other_back.json()["read"]["pad_ok"] is True
    # A write that timed out after it was sent may still be applied once Redis
    # wakes: the session then shows it whole, or not at all.
    assert other_back.json()["read"]["writes"] in ([], ["mid-pause"])
    print(
        f"paused Redis ({base}): timeouts {[round(s, 2) for s in stalled]} s; the write "
        f"that timed out mid-request applied after SIGCONT: "
        f"{other_back.json()['read']['writes'] == ['mid-pause']}"
    )
    assert store_client.get("/inc?w=after-pause").status_code == 200


# --------------------------------------------------------------- SQLite locks


@pytest.fixture(scope="module")
def sqlite_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path]]:
    """gunicorn with 4 sync workers (4 processes) on one SQLiteStore file."""
    require_servers("gunicorn")
    directory = tmp_path_factory.mktemp("faults-sqlite")
    path = directory / "sessions.db"
    specs = {"gunicorn-sync-4": (gunicorn_argv(port := free_port(), "-k", "sync", "-w", "4"), port)}
    with serving(specs, server_env(f"sqlite:{path}"), directory) as servers:
        yield servers["gunicorn-sync-4"], path


def hold_write_lock(path: Path, stop: threading.Event, held: list[float]) -> None:
    """Another process's long write transaction: hold SQLite's write lock 0.4 s at a time."""
    conn = sqlite3.connect(path, timeout=5, isolation_level=None)
    try:
        while not stop.wait(0.3):
            conn.execute("BEGIN IMMEDIATE")
            started = time.monotonic()
            stop.wait(0.4)
            conn.execute("COMMIT")
            held.append(time.monotonic() - started)
    finally:
        conn.close()


def test_sqlite_database_locked_contention(
    sqlite_app: tuple[Served, Path], http: httpx.Client
) -> None:
    """4 clients on 4 workers sharing one file, its write lock held from outside at times.

    Each client owns two store-mode sessions and increments them in turn. A
    write that cannot get the lock within the timeout answers 503 without
    Set-Cookie; every session ends with exactly the writes that were answered 200.
    """
    served, path = sqlite_app
    seconds = 3.0
    statuses: Counter[int] = Counter()
    failures: list[BaseException] = []
    finals: dict[str, tuple[list[str], dict[str, Any]]] = {}
    lock = threading.Lock()

    # The sessions (and the database, in WAL mode) exist before the contention starts.
    sessions: dict[int, dict[str, tuple[Client, list[str]]]] = {}
    for worker in range(4):
        sessions[worker] = {}
        for j in range(2):
            owner = f"w{worker}s{j}"
            client = Client(served.base, http)
            assert client.get(f"/write?owner={owner}&pad={STORE_MODE_PAD}").status_code == 200
            assert list(client.jar) == ["session"]
            sessions[worker][owner] = (client, [])

    def hammer(worker: int) -> None:
        try:
            with httpx.Client(timeout=10) as own_http:
                own = {
                    owner: (Client(served.base, own_http, client.browser), applied)
                    for owner, (client, applied) in sessions[worker].items()
                }
                deadline = time.monotonic() + seconds
                k = 0
                while time.monotonic() < deadline:
                    owner = f"w{worker}s{k % 2}"
                    client, applied = own[owner]
                    response = client.get(f"/inc?w={owner}-{k}")
                    with lock:
                        statuses[response.status_code] += 1
                    if response.status_code == 200:
                        body = response.json()
                        assert body["read"]["owner"] == owner
                        assert body["read"]["pad_ok"] is True
                        assert body["read"]["writes"] == applied  # nothing lost, nothing foreign
                        applied.append(f"{owner}-{k}")
                    k += 1
                for owner, (client, applied) in own.items():
                    final = client.get("/read")
                    assert final.status_code == 200
                    with lock:
                        finals[owner] = (applied, final.json())
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    stop = threading.Event()
    held: list[float] = []
    holder = threading.Thread(target=hold_write_lock, args=(path, stop, held))
    holder.start()
    threads = [threading.Thread(target=hammer, args=(w,)) for w in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + 20)
    finally:
        stop.set()
        holder.join(timeout=10)

    assert not failures, failures[0]
    assert not any(thread.is_alive() for thread in threads)
    assert set(statuses) <= {200, 503}
    assert statuses[200] > 50
    assert held, "the lock holder never held the write lock"
    assert statuses[503] > 0, "the held write lock never made a write fail"
    assert len(finals) == 8
    for owner, (applied, final) in finals.items():
        assert final["new"] is False
        assert final["read"]["owner"] == owner
        assert final["read"]["pad"] == STORE_MODE_PAD
        assert final["read"]["pad_ok"] is True
        assert final["read"]["writes"] == applied
        assert final["read"]["n"] == len(applied)
    print(f"sqlite contention: {dict(statuses)}, lock held {len(held)}x")
