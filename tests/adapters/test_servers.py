"""The middlewares under real servers on 127.0.0.1, driven over HTTP by httpx.

uvicorn (h11 and httptools) and hypercorn serve a Starlette app with the ASGI
middleware; gunicorn (sync and gthread workers) and werkzeug's ``run_simple``
serve a WSGI app with the WSGI middleware (apps in ``_server_apps.py``). One
server process per kind for the whole module, always killed at the end.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cookiesess import SessionEngine, SessionTooLarge
from tests.adapters._session_apps import RING
from tests.helpers import require

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.adapters._server_apps"
GUNICORN_FIELD_LIMIT = 8190
"""gunicorn's default limit_request_field_size: bytes of one header line."""
START_TIMEOUT = 30.0

SERVERS: dict[str, tuple[str, list[str]]] = {
    "uvicorn-h11": (
        "uvicorn",
        ["-m", "uvicorn", f"{APP}:asgi_app", "--http", "h11", "--log-level", "warning"],
    ),
    "uvicorn-httptools": (
        "uvicorn",
        ["-m", "uvicorn", f"{APP}:asgi_app", "--http", "httptools", "--log-level", "warning"],
    ),
    "hypercorn": ("hypercorn", ["-m", "hypercorn", f"{APP}:asgi_app"]),
    "gunicorn-sync": (
        "gunicorn",
        ["-m", "gunicorn", "-k", "sync", "-w", "1", f"{APP}:wsgi_app"],
    ),
    "gunicorn-gthread": (
        "gunicorn",
        ["-m", "gunicorn", "-k", "gthread", "--threads", "4", "-w", "1", f"{APP}:wsgi_app"],
    ),
    "werkzeug": ("werkzeug", ["-m", APP]),
}
ASGI_SERVERS = {"uvicorn-h11", "uvicorn-httptools", "hypercorn"}
GUNICORN = {"gunicorn-sync", "gunicorn-gthread"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command(name: str, port: int) -> list[str]:
    _, args = SERVERS[name]
    if name.startswith("uvicorn"):
        args = [*args, "--host", "127.0.0.1", "--port", str(port)]
    elif name == "hypercorn":
        args = [*args, "--bind", f"127.0.0.1:{port}"]
    elif name.startswith("gunicorn"):
        args = [*args, "--bind", f"127.0.0.1:{port}", "--timeout", "30", "--no-control-socket"]
    else:
        args = [*args, str(port)]
    return [sys.executable, *args]


class Server:
    def __init__(self, name: str, base: str, log: Path) -> None:
        self.name = name
        self.base = base
        self.log = log

    def get(self, path: str, cookies: list[str] | None = None) -> httpx.Response:
        """GET with exactly these Cookie header lines (no cookie jar)."""
        headers = [("cookie", line) for line in cookies or []]
        return httpx.get(self.base + path, headers=headers, timeout=10)

    def logs(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def wait_until_serving(live: Server, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{live.name} exited with {proc.returncode}:\n{live.logs()}")
        try:
            if live.get("/d/view").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{live.name} did not start in {START_TIMEOUT} s:\n{live.logs()}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, Server]]:
    """Start every available server at once (they boot in parallel), kill them at the end."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "COOKIESESS_KEYS": f"a:{RING.primary.secret_b64()}",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("COOKIESESS_KEYS_FILE", None)
    procs: dict[str, tuple[Server, subprocess.Popen[bytes]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for name, (module, _) in SERVERS.items():
                if importlib.util.find_spec(module) is None:
                    continue
                port = free_port()
                log = Path(tmp) / f"{name}.log"
                with log.open("wb") as out:
                    proc = subprocess.Popen(
                        command(name, port), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
                    )
                procs[name] = (Server(name, f"http://127.0.0.1:{port}", log), proc)
            deadline = time.monotonic() + START_TIMEOUT
            for live, proc in procs.values():
                wait_until_serving(live, proc, deadline)
            yield {name: live for name, (live, _) in procs.items()}
        finally:
            for _, proc in procs.values():
                proc.terminate()
            for _, proc in procs.values():
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)


@pytest.fixture(params=list(SERVERS))
def server(request: pytest.FixtureRequest, servers: dict[str, Server]) -> Server:
    name = request.param
    module = SERVERS[name][0]
    require("servers", name in servers, f"{module} is not installed")
    return servers[name]


def pairs(response: httpx.Response) -> list[str]:
    """The name=value pairs a browser would send back from this response's Set-Cookie."""
    return [line.partition(";")[0] for line in response.headers.get_list("set-cookie")]


def max_default_blob() -> int:
    """The longest blob whose session still fits the default budget, found by bisection."""
    engine = SessionEngine(RING, secure=False)
    low, high = 0, 8000
    while high - low > 1:
        mid = (low + high) // 2
        session = engine.load({})
        session["blob"] = "b" * mid
        try:
            engine.commit(session, {})
        except SessionTooLarge:
            high = mid
        else:
            low = mid
    return low


def test_chunked_session_round_trips(server: Server) -> None:
    """A session of three chunks (max_total_bytes=12000) is written and read back."""
    written = server.get("/c/big?n=7000")
    cookies = pairs(written)

    one_line_each = server.get("/c/view", cookies)

    assert written.status_code == 200, server.logs()
    assert [c.partition("=")[0] for c in cookies] == ["big", "big.1", "big.2"]
    assert one_line_each.status_code == 200, server.logs()
    assert one_line_each.json() == {"blob": "b" * 7000}
    assert one_line_each.headers.get_list("set-cookie") == []
    assert one_line_each.headers["vary"] == "Cookie"
    if server.name not in GUNICORN:
        # As HTTP/1.1 browsers send it: one line of about 9.5 KB (over gunicorn's limit).
        one_line = server.get("/c/view", ["; ".join(cookies)])
        assert one_line.json() == {"blob": "b" * 7000}


def test_two_cookie_header_lines(server: Server) -> None:
    """A chunked session split over two Cookie header lines opens."""
    cookies = pairs(server.get("/c/big?n=7000"))
    lines = [f"{cookies[0]}; theme=dark", f"{cookies[1]}; {cookies[2]}"]

    read = server.get("/c/view", lines)
    seen = server.get("/d/lines", ["a=1", "b=2"]).json()

    assert read.status_code == 200, server.logs()
    assert read.json() == {"blob": "b" * 7000}
    if server.name in ASGI_SERVERS:
        assert seen == {"lines": ["a=1", "b=2"]}  # two lines reach the ASGI app
    else:
        assert seen["cookie"].replace(" ", "") == "a=1,b=2"  # joined by the WSGI server


def test_default_budget_fits_under_the_header_limit(server: Server) -> None:
    """A maximal default-budget session plus 1.5 KB of other cookies is served (not 4xx)."""
    n = max_default_blob()
    written = server.get(f"/d/big?n={n}")
    others = "; ".join(f"pref{i:02d}={'v' * 90}" for i in range(16))
    header = "; ".join([*pairs(written), others])
    assert len(others) >= 1500
    assert len("Cookie: " + header) < GUNICORN_FIELD_LIMIT

    read = server.get("/d/view", [header])

    assert written.status_code == 200, server.logs()
    assert len(pairs(written)) == 2
    assert read.status_code == 200, server.logs()
    assert read.json() == {"blob": "b" * n}
    if server.name in GUNICORN:
        # The control: gunicorn does enforce its limit on a line the raised budget fills.
        too_long = server.get("/c/view", ["; ".join(pairs(server.get("/c/big?n=7000")))])
        assert too_long.status_code == 431
