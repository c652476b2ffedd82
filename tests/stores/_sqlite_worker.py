"""Worker for the multi-process SQLite contention test (run under spawn).

Kept in its own module, importable as `tests.stores._sqlite_worker` in the
child, because spawned processes re-import their target instead of inheriting
the parent's memory.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from cookiesess.exceptions import StoreError
from cookiesess.stores import SQLiteStore


def tagged(key: str, n: int) -> bytes:
    """A value that names its key, so a value read under another key shows."""
    return f"{key}|{n}|".encode() + bytes(range(256)) * 4


def main(path: str, worker: int, seconds: float, start: Any, results: Any) -> None:
    """Process entry point: wait for the others at `start`, hammer, report to `results`."""
    start.wait(timeout=60)
    results.put(hammer(path, worker, seconds))


def hammer(path: str, worker: int, seconds: float) -> dict[str, object]:
    """Mix sets, gets, touches and deletes on private and shared keys for `seconds`."""
    store = SQLiteStore(path)
    outcome: Counter[str] = Counter()
    errors: list[str] = []
    wrong: list[str] = []
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
        wrote_own = False
        own = f"{worker:02x}{n % 50:04x}"
        shared = f"ff{n % 10:04x}"
        for op, key in (
            ("set", own),
            ("get", own),
            ("set", shared),
            ("get", shared),
            ("touch", own),
            ("delete", f"{worker:02x}{(n + 25) % 50:04x}"),
        ):
            try:
                if op == "set":
                    store.set(key, tagged(key, n), 60)
                    wrote_own = wrote_own or key == own
                elif op == "get":
                    value = store.get(key)
                    if value is not None and not value.startswith(f"{key}|".encode()):
                        wrong.append(f"{key}: {value[:20]!r}")
                    if key == own and wrote_own and value != tagged(key, n):
                        wrong.append(f"{key}: lost own write {n}")
                elif op == "touch":
                    store.touch(key, 60)
                else:
                    store.delete(key)
            except StoreError as exc:
                outcome["store_error"] += 1
                if len(errors) < 5:
                    errors.append(f"{op}: {exc}")
            except Exception as exc:
                outcome["other_error"] += 1
                errors.append(f"{op}: {type(exc).__name__}: {exc}")
            else:
                outcome["ok"] += 1
    store.close()
    return {"outcome": dict(outcome), "errors": errors, "wrong": wrong}
