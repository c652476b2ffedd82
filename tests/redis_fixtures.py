"""Real redis-server fixtures, shared by every suite (registered in tests/conftest.py).

- `redis_url` (session): `$REDIS_URL` when set, else a private redis-server
  started for the session. Tests share it, so each one uses its own key prefix.
- `own_redis` (function): always a private redis-server on a free port, with
  `.url`, `.kill()`, `.restart()`, `.stop()`, `.pause()`, `.resume()`. Fault
  tests use only this one: nothing here ever signals a server it did not start.
- `redis_cluster` (function): ports of a private 3-primary Redis Cluster.

Without a `redis-server` binary or the `redis` package these fixtures skip,
unless `COOKIESESS_REQUIRE_REDIS` is set, when they fail.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import uuid
from typing import TYPE_CHECKING

import pytest

from tests.helpers import require

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

# --------------------------------------------------------------------------- Redis


def require_redis() -> str:
    """Return the redis-server path; skip, or fail under COOKIESESS_REQUIRE_REDIS."""
    binary = shutil.which("redis-server")
    require("redis", binary is not None, "redis-server not found on PATH")
    require(
        "redis",
        importlib.util.find_spec("redis") is not None,
        "the redis package is not installed (pip install 'cookiesess[redis]')",
    )
    assert binary is not None
    return binary


CLUSTER_HIGHEST_PORT = 55535
"""A cluster node's bus listens on its port + 10000, which must exist."""


def _free_port(highest: int = 65535) -> int:
    """A port nothing listens on, at most `highest` (bind-to-0 picks from the whole range)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", 0 if highest >= 65535 else random.randint(20000, highest)))
            except OSError:  # taken
                continue
            port = int(sock.getsockname()[1])
        if port <= highest:
            return port
    raise RuntimeError(f"no free port at most {highest}")


def _command(port: int, line: bytes, timeout: float = 1.0) -> bytes:
    """Send one inline command to 127.0.0.1:port and return the raw reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(line + b"\r\n")
        return sock.recv(4096)


class RedisServer:
    """A private redis-server process on 127.0.0.1, controlled by one test."""

    def __init__(self, binary: str, directory: Path, options: dict[str, str] | None = None) -> None:
        self.binary = binary
        self.directory = directory
        self.options = options or {}
        self.highest_port = CLUSTER_HIGHEST_PORT if "cluster-enabled" in self.options else 65535
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __repr__(self) -> str:
        return f"RedisServer(port={self.port}, pid={self.pid})"

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def start(self) -> None:
        """Start on `self.port` (or, the first time, on a free port) and wait for PING."""
        assert self.process is None, "already running"
        attempts = 1 if self.port else 5
        for _ in range(attempts):
            port = self.port or _free_port(self.highest_port)
            options = {
                "port": str(port),
                "bind": "127.0.0.1",
                "save": "",  # no snapshots: a kill loses the data, as in production
                "appendonly": "no",
                "dir": str(self.directory),
                "logfile": str(self.directory / "redis.log"),
                "daemonize": "no",
                **self.options,
            }
            argv = [self.binary]
            for name, value in options.items():
                argv += [f"--{name}", value]
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if self._wait_ready(process, port):
                self.process, self.port = process, port
                return
            process.kill()
            process.wait()
        log = self.directory / "redis.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        pytest.fail(f"redis-server did not start on port {port}:\n{tail}")

    def _wait_ready(self, process: subprocess.Popen[bytes], port: int) -> bool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            with contextlib.suppress(OSError):
                if _command(port, b"PING").startswith(b"+PONG"):
                    return True
            time.sleep(0.02)
        return False

    def kill(self) -> None:
        """SIGKILL the server (a crash): in-memory data is lost."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
            self.paused = False

    def stop(self, *, save: bool = False) -> None:
        """Shut the server down cleanly, writing dump.rdb first when `save`."""
        if self.process is not None:
            self.resume()
            with contextlib.suppress(OSError):
                _command(self.port, b"SHUTDOWN SAVE" if save else b"SHUTDOWN NOSAVE")
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def restart(self, *, keep_data: bool = False) -> None:
        """Start again on the same port: empty, or with the data when `keep_data`."""
        if keep_data:
            self.stop(save=True)
        else:
            self.kill()
            (self.directory / "dump.rdb").unlink(missing_ok=True)
        self.start()

    def pause(self) -> None:
        """SIGSTOP the server: connections are accepted but never answered."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        """SIGCONT a paused server, and wait until it answers again.

        It first works through what queued up while it was stopped, which on a
        loaded machine can outlast a store's timeout.
        """
        if self.paused and self.process is not None:
            os.kill(self.process.pid, signal.SIGCONT)
            if not self._wait_ready(self.process, self.port):
                pytest.fail(f"redis-server on port {self.port} did not answer after SIGCONT")
        self.paused = False

    def close(self) -> None:
        """Stop the server for good (used by the fixtures' teardown)."""
        if self.process is not None:
            self.resume()
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a Redis shared by the session: $REDIS_URL, else a private server."""
    url = os.environ.get("REDIS_URL")
    if url:
        if importlib.util.find_spec("redis") is None:
            require_redis()
        yield url
        return
    server = RedisServer(require_redis(), tmp_path_factory.mktemp("redis-shared"))
    server.start()
    try:
        yield server.url
    finally:
        server.close()


@pytest.fixture
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A private redis-server this test may kill, restart or pause."""
    server = RedisServer(require_redis(), tmp_path_factory.mktemp("redis-own"))
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    """Ports of a private 3-primary Redis Cluster (no replicas), slots spread evenly."""
    binary = require_redis()
    nodes = [
        RedisServer(
            binary,
            tmp_path_factory.mktemp("redis-cluster"),
            {"cluster-enabled": "yes", "cluster-node-timeout": "2000"},
        )
        for _ in range(3)
    ]
    try:
        for node in nodes:
            node.start()
        # What `redis-cli --cluster create` does, minus its fixed 1 s sleeps.
        bounds = [0, 5461, 10923, 16384]
        for i, node in enumerate(nodes):
            line = f"CLUSTER ADDSLOTSRANGE {bounds[i]} {bounds[i + 1] - 1}"
            assert _command(node.port, line.encode()).startswith(b"+OK")
            if i:
                meet = f"CLUSTER MEET 127.0.0.1 {nodes[0].port}".encode()
                assert _command(node.port, meet).startswith(b"+OK")
        deadline = time.monotonic() + 20
        while not all(
            b"cluster_state:ok" in _command(node.port, b"CLUSTER INFO", timeout=1) for node in nodes
        ):
            assert time.monotonic() < deadline, "Redis Cluster did not converge"
            time.sleep(0.05)
        yield [node.port for node in nodes]
    finally:
        for node in nodes:
            node.close()


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix no other test uses, so tests can share one Redis."""
    return f"cookiesess-test:{uuid.uuid4().hex}:"
