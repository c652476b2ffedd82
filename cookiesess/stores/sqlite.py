"""A SQLite file store, shared safely by threads and processes on one host.

WAL journal, one connection per thread, `busy_timeout` from the store's
timeout, wall-clock expiry (several processes share the file). Every
`sqlite3.Error` surfaces as `StoreError`.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import time
import weakref
from typing import TYPE_CHECKING, Final

from cookiesess.exceptions import ConfigurationError, StoreError
from cookiesess.stores._adapt import (
    check_key,
    check_ttl,
    check_value,
    is_positive_number,
)
from cookiesess.stores.base import DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]

logger = logging.getLogger("cookiesess.stores")

SCHEMA_VERSION: Final = 1
"""Version of the table layout this code writes, recorded per table in the file."""

_META_TABLE: Final = "cookiesess_meta"
_TABLE_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_PURGE_EVERY: Final = 1000
"""Writes (per process) between two opportunistic purges of expired rows."""
_PURGE_BATCH: Final = 500
"""Most expired rows one opportunistic purge deletes, to keep writes fast."""


class _Local(threading.local):
    """Per-thread connection, tagged with the store generation that opened it."""

    conn: sqlite3.Connection | None = None
    generation: int = -1
    busy_ms: int = 0  # busy timeout set on conn; 0 = the store's full timeout


class SQLiteStore:
    """A `Store` in one SQLite file, for one host's threads and processes.

    Rows hold the value and an absolute wall-clock deadline. Expired rows are
    never returned, are skipped by `touch`, and are deleted by `purge()` and,
    a batch at a time, every 1000 writes. The schema is created on first use
    and its version recorded; a file written by a newer, unknown schema is
    refused with `StoreError`. Connections are opened lazily per thread, and
    re-opened in a child after `fork()` (e.g. gunicorn's `--preload`).

    Args:
        path: the database file; created if missing. `:memory:` is refused
            (each thread would get its own database): use `MemoryStore`.
        timeout: seconds a call may wait for locks before failing with
            `StoreError`. A write's turn among this process's threads and
            SQLite's busy wait for other connections' locks share it, as
            does the purge every 1000 writes; reads never wait for a writer
            (WAL). Disk I/O is not bounded by it (a commit, and the WAL
            checkpoint SQLite runs now and then), nor is a thread's first
            call's wait to open the file, which may create the schema.
        table: table name, letters, digits and `_` only.
        clock: wall-clock seconds (Unix time); inject a fake one in tests.

    Raises:
        ConfigurationError: a bad `path`, `timeout` or `table`.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        table: str = "cookiesess_sessions",
        clock: Callable[[], float] = time.time,
    ) -> None:
        problems: list[str] = []
        path = os.fspath(path)
        if path in {"", ":memory:"}:
            problems.append(
                f"SQLiteStore path must name a file, got {path!r}"
                " (use MemoryStore for an in-process store)"
            )
        if not is_positive_number(timeout):
            problems.append(f"SQLiteStore timeout must be > 0 seconds, got {timeout!r}")
        if not _TABLE_NAME.fullmatch(str(table)):
            problems.append(
                f"SQLiteStore table must be 1-63 letters, digits or '_' (not first), got {table!r}"
            )
        elif table == _META_TABLE:
            problems.append(f"SQLiteStore table cannot be {_META_TABLE!r} (reserved)")
        if problems:
            raise ConfigurationError(problems)
        self._path = path
        self._timeout = float(timeout)
        self._table = table
        self._clock = clock
        self._local = _Local()
        self._lock = threading.Lock()  # guards the connection list and generation
        self._write_lock = threading.Lock()  # one writer at a time in this process
        self._generation = 0
        self._connections: list[sqlite3.Connection] = []
        self._writes = 0
        # SECURITY: the table name is checked against _TABLE_NAME above and
        # quoted; every value is a bound parameter. Hence the S608 waivers.
        q = f'"{table}"'
        self._sql_get = f"SELECT value FROM {q} WHERE key = ? AND expires_at > ?"  # noqa: S608
        self._sql_set = (
            f"INSERT INTO {q} (key, value, expires_at) VALUES (?, ?, ?)"  # noqa: S608
            " ON CONFLICT (key) DO UPDATE"
            " SET value = excluded.value, expires_at = excluded.expires_at"
        )
        self._sql_delete = f"DELETE FROM {q} WHERE key = ?"  # noqa: S608
        self._sql_delete_if = f"DELETE FROM {q} WHERE key = ? AND value = ? AND expires_at > ?"  # noqa: S608
        self._sql_touch = f"UPDATE {q} SET expires_at = ? WHERE key = ? AND expires_at > ?"  # noqa: S608
        self._sql_purge = f"DELETE FROM {q} WHERE expires_at <= ?"  # noqa: S608
        self._sql_purge_batch = (
            f"DELETE FROM {q} WHERE rowid IN (SELECT rowid FROM {q}"  # noqa: S608
            f" WHERE expires_at <= ? LIMIT {_PURGE_BATCH})"
        )
        self._sql_count = f"SELECT count(*) FROM {q} WHERE expires_at > ?"  # noqa: S608
        self._sql_clear = f"DELETE FROM {q}"  # noqa: S608
        _forget_after_fork.add(self)

    def __repr__(self) -> str:
        return f"SQLiteStore({self._path!r}, table={self._table!r})"

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def path(self) -> str:
        """The database file."""
        return self._path

    @property
    def table(self) -> str:
        """The table holding the sessions."""
        return self._table

    def get(self, key: str) -> bytes | None:
        """Return the value under `key`, or None when absent or expired.

        Raises:
            StoreError: SQLite failed, e.g. the database stayed locked.
        """
        check_key(key)
        try:
            row = self._conn().execute(self._sql_get, (key, self._clock())).fetchone()
        except sqlite3.Error as exc:
            raise _error("get", exc) from exc
        return None if row is None else bytes(row[0])

    def set(self, key: str, value: bytes, ttl: int) -> None:
        """Store `value` under `key` for `ttl` seconds.

        Raises:
            StoreError: SQLite failed, e.g. the database stayed locked.
        """
        check_key(key)
        check_value(value)
        check_ttl(ttl)
        now = self._clock()
        self._write("set", self._sql_set, (key, value, now + ttl), purge_at=now)

    def delete(self, key: str) -> None:
        """Remove `key`; absent keys are not an error.

        Raises:
            StoreError: SQLite failed, e.g. the database stayed locked.
        """
        check_key(key)
        self._write("delete", self._sql_delete, (key,))

    def delete_if(self, key: str, value: bytes) -> bool:
        """Remove `key` only while it holds `value`; return whether it did.

        Raises:
            StoreError: SQLite failed, e.g. the database stayed locked.
        """
        check_key(key)
        return self._write("delete_if", self._sql_delete_if, (key, value, self._clock())) == 1

    def touch(self, key: str, ttl: int) -> bool:
        """Reset the TTL of `key`; return False when it is absent or expired.

        Raises:
            StoreError: SQLite failed, e.g. the database stayed locked.
        """
        check_key(key)
        check_ttl(ttl)
        now = self._clock()
        return self._write("touch", self._sql_touch, (now + ttl, key, now)) == 1

    def purge(self) -> int:
        """Delete every expired row and return how many were deleted.

        Raises:
            StoreError: SQLite failed.
        """
        return self._write("purge", self._sql_purge, (self._clock(),))

    def clear(self) -> None:
        """Delete every row of the table.

        Raises:
            StoreError: SQLite failed.
        """
        self._write("clear", self._sql_clear, ())

    def count(self) -> int:
        """Return the number of unexpired rows.

        Raises:
            StoreError: SQLite failed.
        """
        try:
            row = self._conn().execute(self._sql_count, (self._clock(),)).fetchone()
        except sqlite3.Error as exc:
            raise _error("count", exc) from exc
        return int(row[0])

    def close(self) -> None:
        """Close every connection this process opened.

        Call it at shutdown, once no other thread is using the store. A later
        call on the store opens fresh connections.
        """
        with self._lock:
            connections, self._connections = self._connections, []
            self._generation += 1
        for conn in connections:
            conn.close()

    def _write(
        self,
        op: str,
        sql: str,
        params: tuple[object, ...],
        *,
        purge_at: float | None = None,
    ) -> int:
        """Run one writing statement within the timeout; return its rowcount.

        Threads of this process queue on a lock rather than in SQLite's busy
        handler, which polls with growing sleeps and lets a waiter starve
        under heavy in-process contention; SQLite's busy timeout then covers
        other processes, with whatever time the queue left.
        """
        started = time.monotonic()
        if not self._write_lock.acquire(timeout=self._timeout):
            msg = (
                f"SQLiteStore {op} failed: no turn to write within {self._timeout} s"
                " (other threads of this process were writing)"
            )
            raise StoreError(msg)
        try:
            conn = self._conn()
            self._set_busy_timeout(conn, self._timeout - (time.monotonic() - started))
            rowcount = conn.execute(sql, params).rowcount
            if purge_at is not None:
                self._writes += 1
                if self._writes % _PURGE_EVERY == 0:
                    left = self._timeout - (time.monotonic() - started)
                    self._purge_some(conn, purge_at, left)
        except sqlite3.Error as exc:
            raise _error(op, exc) from exc
        finally:
            self._write_lock.release()
        return rowcount

    def _purge_some(self, conn: sqlite3.Connection, now: float, left: float) -> None:
        """Delete a batch of expired rows, waiting for the lock only `left` seconds."""
        if left < 0.002:
            self._writes -= 1  # no time left in this call: the next write purges
            return
        try:
            self._set_busy_timeout(conn, left)
            conn.execute(self._sql_purge_batch, (now,))
        except sqlite3.Error as exc:
            # Best effort: the write succeeded, and the next purge retries.
            logger.debug("SQLiteStore opportunistic purge failed: %s", exc)

    def _set_busy_timeout(self, conn: sqlite3.Connection, seconds: float) -> None:
        # Only when the queue ate a noticeable part of the budget: a PRAGMA is
        # cheap, but not free.
        ms = max(1, int(seconds * 1000)) if seconds < self._timeout - 0.005 else 0
        if ms != self._local.busy_ms:
            busy = ms or int(self._timeout * 1000)
            conn.execute(f"PRAGMA busy_timeout = {busy}")
            self._local.busy_ms = ms

    def _conn(self) -> sqlite3.Connection:
        local = self._local
        conn = local.conn
        if conn is not None and local.generation == self._generation:
            return conn
        with self._lock:
            generation = self._generation
        conn = sqlite3.connect(
            self._path,
            timeout=self._timeout,  # SQLite's busy_timeout: wait for writers' locks
            isolation_level=None,  # autocommit: each statement is a transaction
            check_same_thread=False,  # only close() touches it from another thread
        )
        try:
            self._prepare(conn)
        except BaseException:
            conn.close()
            raise
        with self._lock:
            if generation == self._generation:
                self._connections.append(conn)
        local.conn = conn
        local.generation = generation
        local.busy_ms = 0
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        # WAL lets readers run beside the writer; the mode persists in the file.
        (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if str(mode).lower() != "wal":
            logger.warning("SQLiteStore %r: journal_mode is %s, not wal", self, mode)
        # NORMAL is durable against process crashes in WAL mode; a power loss
        # may drop the last commits, acceptable for sessions.
        conn.execute("PRAGMA synchronous = NORMAL")
        if self._schema_version(conn) == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{_META_TABLE}"'
                " (table_name TEXT PRIMARY KEY, schema_version INTEGER NOT NULL)"
            )
            version = self._schema_version(conn)
            if version is None:
                q = f'"{self._table}"'
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {q} (key TEXT PRIMARY KEY,"
                    " value BLOB NOT NULL, expires_at REAL NOT NULL)"
                )
                conn.execute(
                    f'CREATE INDEX IF NOT EXISTS "{self._table}_expires_at" ON {q} (expires_at)'
                )
                conn.execute(
                    f'INSERT INTO "{_META_TABLE}" VALUES (?, ?)',  # noqa: S608
                    (self._table, SCHEMA_VERSION),
                )
            elif version != SCHEMA_VERSION:
                msg = (
                    f"SQLiteStore table {self._table!r} in {self._path!r} has schema"
                    f" version {version}; this cookiesess supports version"
                    f" {SCHEMA_VERSION}. Upgrade cookiesess or use another file."
                )
                raise StoreError(msg)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _schema_version(self, conn: sqlite3.Connection) -> int | None:
        try:
            row = conn.execute(
                f'SELECT schema_version FROM "{_META_TABLE}" WHERE table_name = ?',  # noqa: S608
                (self._table,),
            ).fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None
            raise
        if row is None:
            return None
        version = row[0]
        if version == SCHEMA_VERSION:
            return SCHEMA_VERSION
        if not isinstance(version, int):
            msg = (
                f"SQLiteStore table {self._table!r} in {self._path!r} has an"
                f" unreadable schema version {version!r}"
            )
            raise StoreError(msg)
        if version > SCHEMA_VERSION:
            msg = (
                f"SQLiteStore table {self._table!r} in {self._path!r} has schema"
                f" version {version}, newer than the version {SCHEMA_VERSION} this"
                " cookiesess supports. Upgrade cookiesess or use another file."
            )
            raise StoreError(msg)
        return version

    def _forget_connections(self) -> None:
        # In a forked child: the parent's connections must be neither used nor
        # closed here (https://sqlite.org/howtocorrupt.html, 2.6); keep them
        # referenced so garbage collection never closes them, and start afresh.
        _abandoned.extend(self._connections)
        self._connections = []
        self._generation += 1
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()


def _error(op: str, exc: sqlite3.Error) -> StoreError:
    return StoreError(f"SQLiteStore {op} failed: {type(exc).__name__}: {exc}")


_forget_after_fork: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()
_abandoned: list[sqlite3.Connection] = []


def _after_fork_in_child() -> None:
    for store in list(_forget_after_fork):
        store._forget_connections()


os.register_at_fork(after_in_child=_after_fork_in_child)
