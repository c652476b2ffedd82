"""The demo app and a Starlette app, driven by a real Chromium through Playwright.

Both servers run under uvicorn in subprocesses on free 127.0.0.1 ports. Every
step checks the browser's own cookie jar (`context.cookies()`): each cookie
within 4096 bytes (name and value), the session's cookies within the total
budget, no stale chunk after a shrink, no cookie after log out. The demo test
saves a screenshot of the page to tests/artifacts/demo.png; with
COOKIESESS_UPDATE_SCREENSHOT=1 it refreshes the README's docs/demo.png instead.

Uses Debian's chromium (never a Playwright browser download). Missing
chromium skips locally and fails when COOKIESESS_REQUIRE_BROWSER is set.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import require

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = (
    ROOT / "docs" / "demo.png"
    if os.environ.get("COOKIESESS_UPDATE_SCREENSHOT")
    else ROOT / "tests" / "artifacts" / "demo.png"
)
PER_COOKIE = 4096
DEMO_BUDGET = 6000
STARLETTE_BUDGET = 16000


def _available(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A uvicorn subprocess on a free port; its output goes to a log file."""

    def __init__(self, argv: list[str], port: int, log: Path) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(argv, stdout=self._out, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            except OSError:
                time.sleep(0.05)
            else:
                return
        self.stop()
        pytest.fail(f"server {argv} did not start:\n{log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require(
        "browser", os.path.exists(CHROMIUM), "chromium not installed (apt-get install chromium)"
    )
    require(
        "browser",
        _available("playwright") and _available("uvicorn") and _available("starlette"),
        "playwright, uvicorn and starlette are needed (pip install -e '.[test]')",
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def demo(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = _free_port()
    log = tmp_path_factory.mktemp("demo") / "demo.log"
    server = Server([sys.executable, "-m", "cookiesess", "demo", "--port", str(port)], port, log)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def starlette(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = _free_port()
    log = tmp_path_factory.mktemp("starlette") / "starlette.log"
    script = str(Path(__file__).with_name("_starlette_app.py"))
    server = Server([sys.executable, script, str(port)], port, log)
    yield server
    server.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


def jar(page: Any, name: str = "session") -> dict[str, str]:
    """The session's cookies in the browser's jar, checked against the limits."""
    cookies = page.context.cookies()
    for cookie in cookies:
        assert len(cookie["name"]) + len(cookie["value"]) <= PER_COOKIE, cookie["name"]
    return {
        c["name"]: c["value"]
        for c in cookies
        if c["name"] == name or c["name"].startswith(name + ".")
    }


def total(cookies: dict[str, str]) -> int:
    """Bytes of these cookies in a Cookie header, separators included."""
    return sum(len(k) + 1 + len(v) for k, v in cookies.items()) + 2 * max(0, len(cookies) - 1)


def chunked(cookies: dict[str, str]) -> int:
    """Check the cookies are the chunks ``session``, ``session.1``, … and return their count."""
    names = ["session", *(f"session.{i}" for i in range(1, len(cookies)))]
    assert sorted(cookies, key=names.index) == names
    return len(cookies)


def text_of(size: int) -> str:
    return secrets.token_urlsafe(size)[:size]


# -- the demo --------------------------------------------------------------------


def facts(page: Any, demo: Server) -> dict[str, Any]:
    """The demo's /session.json, fetched by the browser with its cookies."""
    response = page.goto(demo.base + "/session.json")
    assert response.ok
    return json.loads(response.text())  # type: ignore[no-any-return]


def demo_click(page: Any, button: str) -> None:
    with page.expect_navigation():
        page.click(button)
    assert page.url.split("?")[0].endswith("/")


def demo_jar(page: Any) -> dict[str, str]:
    cookies = jar(page)
    assert total(cookies) <= DEMO_BUDGET
    return cookies


def login(page: Any, demo: Server, user: str) -> None:
    page.goto(demo.base + "/")
    page.fill("input[name=user]", user)
    demo_click(page, "#login")
    assert page.inner_text("#user") == user


def test_demo_stores_10kb_and_reads_it_back(page: Any, demo: Server) -> None:
    login(page, demo, "ada")
    text = text_of(10 * 1024)
    page.fill("#text", text)
    demo_click(page, "#save-text")
    # Over the default budget: the data went to the SQLite store.
    assert page.get_attribute("#mode", "data-mode") == "store"
    assert list(demo_jar(page)) == ["session"]
    page.reload()
    found = facts(page, demo)
    assert found["data"] == {"user": "ada", "text": text}
    assert found["cookie"]["mode"] == "store"
    assert found["cookie"]["total_bytes"] < 400


def test_demo_grows_into_the_store_and_shrinks_back(page: Any, demo: Server) -> None:
    login(page, demo, "ada")
    demo_click(page, "#add-4k")
    assert page.get_attribute("#mode", "data-mode") == "cookie"
    assert page.inner_text("#chunks") == "2"
    assert sorted(demo_jar(page)) == ["session", "session.1"]
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    demo_click(page, "#add-1k")  # past 6000 bytes: into the store
    assert page.get_attribute("#mode", "data-mode") == "store"
    assert list(demo_jar(page)) == ["session"]  # the stale chunk was expired
    notes = facts(page, demo)["data"]["notes"]
    assert [len(n) for n in notes] == [4096, 1024]

    page.goto(demo.base + "/")
    demo_click(page, "#remove")  # fits again: back into two chunks
    assert page.get_attribute("#mode", "data-mode") == "cookie"
    assert sorted(demo_jar(page)) == ["session", "session.1"]
    assert facts(page, demo)["data"] == {"user": "ada", "notes": notes[:1]}

    page.goto(demo.base + "/")
    demo_click(page, "#remove")
    assert page.inner_text("#chunks") == "1"
    assert list(demo_jar(page)) == ["session"]  # no stale session.1 left behind
    assert facts(page, demo)["data"] == {"user": "ada"}


def test_demo_log_out_leaves_no_session_cookie(page: Any, demo: Server) -> None:
    login(page, demo, "ada")
    demo_click(page, "#add-4k")
    assert len(demo_jar(page)) == 2
    demo_click(page, "#logout")
    assert demo_jar(page) == {}
    assert page.get_attribute("#mode", "data-mode") == "none"
    # Logged out from the store too.
    login(page, demo, "bob")
    demo_click(page, "#add-4k")
    demo_click(page, "#add-4k")
    assert page.get_attribute("#mode", "data-mode") == "store"
    demo_click(page, "#logout")
    assert demo_jar(page) == {}
    assert facts(page, demo)["data"] == {}


def test_demo_key_rotation_keeps_the_user_logged_in(page: Any, demo: Server) -> None:
    login(page, demo, "grace")
    demo_click(page, "#add-1k")
    before = facts(page, demo)
    old = before["cookie"]["key_id"]
    assert old == before["keyring"]["primary"]
    page.goto(demo.base + "/")
    demo_click(page, "#rotate")
    # This page's request still carried the cookie sealed under the old key.
    assert page.inner_text("#key-id") == old
    assert page.inner_text("#key-state") == "decrypt"
    page.reload()
    after = facts(page, demo)
    assert after["data"] == before["data"]
    assert after["cookie"]["key_id"] == after["keyring"]["primary"] != old
    assert old in after["keyring"]["decrypt"]
    # The same with the data in the store: the reference and record are re-sealed.
    page.goto(demo.base + "/")
    demo_click(page, "#add-4k")
    demo_click(page, "#add-4k")
    assert page.get_attribute("#mode", "data-mode") == "store"
    stored = facts(page, demo)
    page.goto(demo.base + "/")
    demo_click(page, "#rotate")
    page.reload()
    again = facts(page, demo)
    assert again["data"] == stored["data"]
    assert again["data"]["user"] == "grace"
    assert again["cookie"]["key_id"] == again["keyring"]["primary"]
    assert again["cookie"]["key_id"] != stored["cookie"]["key_id"]
    assert again["cookie"]["store_key"] != stored["cookie"]["store_key"]


# -- a Starlette app behind the ASGI middleware ------------------------------------------


def st_put(page: Any, data: dict[str, Any]) -> None:
    status = page.evaluate(
        """async (data) => (await fetch("/data", {method: "POST",
            headers: {"content-type": "application/json"}, body: JSON.stringify(data)})).status""",
        data,
    )
    assert status == 204


def st_post(page: Any, path: str) -> None:
    status = page.evaluate("async (p) => (await fetch(p, {method: 'POST'})).status", path)
    assert status in (200, 204)


def st_get(page: Any, starlette: Server) -> dict[str, Any]:
    response = page.goto(starlette.base + "/data")
    assert response.ok
    return json.loads(response.text())  # type: ignore[no-any-return]


def st_jar(page: Any) -> dict[str, str]:
    cookies = jar(page)
    assert total(cookies) <= STARLETTE_BUDGET
    return cookies


def test_starlette_chunks_10kb_and_shrinks_grows(page: Any, starlette: Server) -> None:
    page.goto(starlette.base + "/")
    ten = {"user": "ada", "text": text_of(10 * 1024)}
    st_put(page, ten)
    assert chunked(st_jar(page)) == 4  # about 13.8 KB sealed, in 4 KB chunks
    page.reload()
    found = st_get(page, starlette)
    assert found["data"] == ten
    assert found["cookie"]["mode"] == "cookie"

    small = {"user": "ada", "text": text_of(1024)}
    st_put(page, small)
    assert list(st_jar(page)) == ["session"]  # session.1 and .2 expired
    assert st_get(page, starlette)["data"] == small

    big = {"user": "ada", "text": text_of(20 * 1024)}
    st_put(page, big)
    assert list(st_jar(page)) == ["session"]
    found = st_get(page, starlette)
    assert found["data"] == big
    assert found["cookie"]["mode"] == "store"

    medium = {"user": "ada", "text": text_of(5 * 1024)}
    st_put(page, medium)
    assert sorted(st_jar(page)) == ["session", "session.1"]
    found = st_get(page, starlette)
    assert found["data"] == medium
    assert found["cookie"]["mode"] == "cookie"


def test_starlette_log_out_and_rotation(page: Any, starlette: Server) -> None:
    page.goto(starlette.base + "/")
    st_put(page, {"user": "grace", "text": text_of(6 * 1024)})
    old = st_get(page, starlette)["cookie"]["key_id"]
    st_post(page, "/rotate")
    page.goto(starlette.base + "/")  # re-sealed on this response
    assert page.inner_text("#user") == "grace"
    found = st_get(page, starlette)
    assert found["data"]["user"] == "grace"
    assert found["cookie"]["key_id"] != old
    assert chunked(st_jar(page)) == 3

    st_post(page, "/logout")
    assert st_jar(page) == {}
    assert st_get(page, starlette)["data"] == {}
