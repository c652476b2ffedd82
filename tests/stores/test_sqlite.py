"""SQLiteStore specifics: schema, purge, locking, processes, configuration.

The shared contract (get/set/delete/touch, TTL, threads) is in test_contract.py.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
import time
import warnings

import pytest

from cookiesess.exceptions import ConfigurationError, StoreError
from cookiesess.stores import SQLiteStore
from cookiesess.stores.sqlite import SCHEMA_VERSION
from tests.stores import _sqlite_worker


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(tmp_path):
    return tmp_path / "sessions.db"


def raw(path, sql, params=()):
    """Run one statement on a separate connection, as another process would."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_schema_created_on_first_use_in_wal_mode(db):
    """The first call creates the table and index, records the version, sets WAL."""
    store = SQLiteStore(db)
    assert not db.exists()

    store.set("aa", b"v", 60)

    assert raw(db, "PRAGMA journal_mode") == [("wal",)]
    assert raw(db, "SELECT * FROM cookiesess_meta") == [("cookiesess_sessions", SCHEMA_VERSION)]
    columns = raw(db, "SELECT name, type, pk FROM pragma_table_info(?)", (store.table,))
    assert columns == [("key", "TEXT", 1), ("value", "BLOB", 0), ("expires_at", "REAL", 0)]
    assert raw(db, "SELECT name FROM sqlite_master WHERE type = 'index'")[-1] == (
        "cookiesess_sessions_expires_at",
    )
    store.close()


def test_future_schema_version_is_refused(db):
    """A table written by a newer, unknown schema raises StoreError naming both versions."""
    SQLiteStore(db).set("aa", b"v", 60)
    raw(db, "UPDATE cookiesess_meta SET schema_version = 99")
    store = SQLiteStore(db)

    with pytest.raises(StoreError, match=r"schema version 99.*version 1") as info:
        store.get("aa")

    assert "Upgrade cookiesess" in str(info.value)
    with pytest.raises(StoreError, match="99"):
        store.set("bb", b"v", 60)
    assert raw(db, "SELECT schema_version FROM cookiesess_meta") == [(99,)]
    assert raw(db, "SELECT key FROM cookiesess_sessions") == [("aa",)]


@pytest.mark.parametrize("version", [0, "one", 1.5])
def test_other_unknown_schema_versions_are_refused(db, version):
    """An older or malformed recorded version is refused too, never written over."""
    SQLiteStore(db).set("aa", b"v", 60)
    raw(db, "UPDATE cookiesess_meta SET schema_version = ?", (version,))

    with pytest.raises(StoreError, match="schema version"):
        SQLiteStore(db).get("aa")


def test_tables_in_one_file_are_independent(db):
    """Two stores on two tables of one file share nothing but the file."""
    first = SQLiteStore(db, table="first")
    second = SQLiteStore(db, table="second")

    first.set("aa", b"1", 60)
    second.set("aa", b"2", 60)
    first.clear()

    assert first.get("aa") is None
    assert second.get("aa") == b"2"
    assert sorted(raw(db, "SELECT * FROM cookiesess_meta")) == [
        ("first", SCHEMA_VERSION),
        ("second", SCHEMA_VERSION),
    ]


def test_expired_rows_are_invisible_then_purged(db):
    """Expired rows are never read or counted; purge() deletes and counts them."""
    clock = Clock()
    store = SQLiteStore(db, clock=clock)
    store.set("aa", b"1", 1)
    store.set("bb", b"2", 1)
    store.set("cc", b"3", 60)
    clock.now += 2

    assert store.get("aa") is None
    assert store.count() == 1
    assert raw(db, "SELECT count(*) FROM cookiesess_sessions") == [(3,)]
    assert store.purge() == 2
    assert store.purge() == 0
    assert raw(db, "SELECT key FROM cookiesess_sessions") == [("cc",)]


def test_writes_purge_expired_rows_now_and_then(db):
    """Every 1000th write also deletes expired rows, so the file does not grow forever."""
    clock = Clock()
    store = SQLiteStore(db, clock=clock)
    for n in range(10):
        store.set(f"e{n:03x}", b"x", 1)
    clock.now += 2

    for n in range(989):
        store.set(f"{n:04x}", b"x", 60)
    assert raw(db, "SELECT count(*) FROM cookiesess_sessions") == [(999,)]
    store.set("ffff", b"x", 60)

    assert raw(db, "SELECT count(*) FROM cookiesess_sessions") == [(990,)]


def test_expiry_uses_wall_clock_by_default(db):
    """Deadlines are Unix time, comparable across the processes sharing the file."""
    store = SQLiteStore(db)

    store.set("aa", b"v", 60)

    ((expires_at,),) = raw(db, "SELECT expires_at FROM cookiesess_sessions")
    assert abs(expires_at - (time.time() + 60)) < 5


def test_locked_database_fails_within_timeout_and_recovers(db):
    """A writer lock held elsewhere gives StoreError after ~timeout; reads go on."""
    store = SQLiteStore(db, timeout=0.25)
    store.set("aa", b"1", 60)
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    blocker.execute("DELETE FROM cookiesess_sessions WHERE key = 'zz'")

    started = time.monotonic()
    with pytest.raises(StoreError, match="database is locked") as info:
        store.set("bb", b"2", 60)
    elapsed = time.monotonic() - started

    assert 0.2 <= elapsed < 1.0
    assert isinstance(info.value.__cause__, sqlite3.OperationalError)
    assert store.get("aa") == b"1"  # WAL: readers are not blocked by the writer
    blocker.execute("ROLLBACK")
    blocker.close()
    store.set("bb", b"2", 60)
    assert store.get("bb") == b"2"


def test_the_purge_after_a_write_gets_only_what_the_write_left(db):
    """The purge every 1000th write waits for the lock only as long as the timeout allows.

    The write waits 0.45 s of its 0.5 s for another connection's lock; that
    connection takes the lock again as the purge starts. The purge is best
    effort: the write is done, and the call ends by its timeout, not 0.5 s later.
    """
    store = SQLiteStore(db, timeout=0.5)
    store.set("aa", b"1", 60)
    other = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")

    def on_statement(sql: str) -> None:
        if "LIMIT" in sql:  # the purge batch, as it starts: before it takes the lock
            other.execute("BEGIN IMMEDIATE")

    store._conn().set_trace_callback(on_statement)
    store._writes = 999  # the next write is the 1000th
    release = threading.Timer(0.45, other.execute, ("COMMIT",))
    release.start()

    started = time.monotonic()
    store.set("bb", b"2", 60)
    elapsed = time.monotonic() - started

    release.join()
    if other.in_transaction:  # the purge started (with what time was left), and waited
        other.execute("ROLLBACK")
    other.close()
    assert 0.4 <= elapsed <= 0.5 + 0.35
    assert store.get("bb") == b"2"


def test_threads_queue_for_writes_within_the_timeout(db):
    """A thread stuck behind this process's writers fails after ~timeout, not later."""
    store = SQLiteStore(db, timeout=0.25)
    store.set("aa", b"1", 60)
    outcome: list[object] = []

    def write() -> None:
        started = time.monotonic()
        try:
            store.set("bb", b"2", 60)
        except StoreError as exc:
            outcome.append(exc)
        outcome.append(time.monotonic() - started)

    with store._write_lock:  # another thread of this process is mid-write
        thread = threading.Thread(target=write)
        thread.start()
        thread.join()

    error, elapsed = outcome
    assert isinstance(error, StoreError)
    assert "no turn to write" in str(error)
    assert 0.2 <= elapsed < 1.0
    assert store.get("aa") == b"1"
    store.set("bb", b"2", 60)


def test_unopenable_file_raises_store_error(tmp_path):
    """Any sqlite3.Error, here from opening the file, surfaces as StoreError."""
    store = SQLiteStore(tmp_path / "no-such-dir" / "sessions.db")

    with pytest.raises(StoreError, match="unable to open") as info:
        store.get("aa")

    assert isinstance(info.value.__cause__, sqlite3.Error)


def test_not_a_database_raises_store_error(db):
    """A file that is not SQLite fails with StoreError, not a driver exception."""
    db.write_bytes(b"this is not a database" * 100)

    with pytest.raises(StoreError, match="not a database"):
        SQLiteStore(db).set("aa", b"v", 60)


def test_close_then_reuse(db):
    """close() releases the connections; a later call opens a fresh one."""
    store = SQLiteStore(db)
    store.set("aa", b"v", 60)

    store.close()
    store.close()

    assert store.get("aa") == b"v"
    store.close()


def test_context_manager_closes(db):
    """`with SQLiteStore(...)` closes the connections at exit."""
    with SQLiteStore(db) as store:
        store.set("aa", b"v", 60)

    assert store._connections == []


def test_forked_child_opens_its_own_connection(db):
    """After fork() the child never reuses the parent's connection (gunicorn --preload)."""
    store = SQLiteStore(db)
    store.set("aa", b"parent", 60)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            if store.get("aa") == b"parent":
                store.set("bb", b"child", 60)
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert store.get("bb") == b"child"
    store.set("cc", b"parent-again", 60)
    assert store.get("cc") == b"parent-again"


def test_processes_hammering_one_file(tmp_path):
    """4 spawned processes for 1.5 s: no corruption, only StoreError, nearly all succeed."""
    db = tmp_path / "shared.db"
    SQLiteStore(db).set("00", b"init", 60)  # create the schema before the race
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(5)  # released once every child has imported everything
    results = context.Queue()
    processes = [
        context.Process(target=_sqlite_worker.main, args=(str(db), n, 1.5, start, results))
        for n in range(4)
    ]
    for process in processes:
        process.start()
    start.wait(timeout=60)
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=10)

    ok = sum(r["outcome"].get("ok", 0) for r in outcomes)
    failed = sum(r["outcome"].get("store_error", 0) for r in outcomes)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    assert [r["wrong"] for r in outcomes] == [[], [], [], []]
    assert [r["outcome"].get("other_error", 0) for r in outcomes] == [0] * 4, outcomes
    assert ok > 1000
    assert failed <= ok // 100, outcomes
    assert raw(db, "PRAGMA integrity_check") == [("ok",)]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        pytest.param({"path": ":memory:"}, "MemoryStore", id="memory"),
        pytest.param({"path": ""}, "must name a file", id="empty-path"),
        pytest.param({"table": "bad name"}, "table", id="space"),
        pytest.param({"table": "x; DROP TABLE y"}, "table", id="injection"),
        pytest.param({"table": "1abc"}, "table", id="leading-digit"),
        pytest.param({"table": "cookiesess_meta"}, "reserved", id="reserved"),
        pytest.param({"timeout": 0}, "timeout", id="timeout-zero"),
        pytest.param({"timeout": -1}, "timeout", id="timeout-negative"),
        pytest.param({"timeout": float("nan")}, "timeout", id="timeout-nan"),
        pytest.param({"timeout": True}, "timeout", id="timeout-bool"),
    ],
)
def test_bad_configuration(tmp_path, kwargs, fragment):
    """Bad options fail at construction with ConfigurationError."""
    kwargs.setdefault("path", tmp_path / "s.db")

    with pytest.raises(ConfigurationError, match=fragment):
        SQLiteStore(**kwargs)


def test_every_configuration_problem_reported_at_once():
    """Several bad options produce one error listing all of them."""
    with pytest.raises(ConfigurationError) as info:
        SQLiteStore(":memory:", timeout=0, table="no good")

    assert len(info.value.problems) == 3


def test_repr_and_properties(db):
    """The repr names the file and table."""
    store = SQLiteStore(db, table="t1")

    assert repr(store) == f"SQLiteStore({str(db)!r}, table='t1')"
    assert store.path == str(db)
    assert store.table == "t1"
