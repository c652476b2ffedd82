"""Helpers of the Flask/Django adapter tests: subprocess servers on 127.0.0.1."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ADAPTER_TESTS = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess: no ambient cookiesess keys, the repo importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOKIESESS_KEYS")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(ADAPTER_TESTS)])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    pytest.fail(f"server did not listen on {port} within {timeout} s:\n{log.read_text()}")


@dataclasses.dataclass(frozen=True)
class Served:
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def server(
    args: Sequence[str], *, port: int, env: Mapping[str, str], timeout: float = 20
) -> Iterator[Served]:
    """Run ``python *args`` (a server listening on `port`); yield its URL and log."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, *args], env=dict(env), stdout=out, stderr=subprocess.STDOUT
            )
            try:
                wait_for_port(port, proc, log, timeout)
                yield Served(f"http://127.0.0.1:{port}", log)
            finally:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
