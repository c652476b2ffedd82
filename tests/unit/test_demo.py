"""The demo app in-process (httpx over ASGI): routes, modes, rotation, the key file."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from cookiesess import Keyring
from cookiesess.demo import DemoApp
from cookiesess.stores import MemoryStore

Scenario = Callable[[httpx.AsyncClient, DemoApp], Awaitable[None]]


def drive(tmp_path: Path, scenario: Scenario) -> DemoApp:
    app = DemoApp(MemoryStore(), keys_file=str(tmp_path / "keys.json"))

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            await scenario(client, app)

    asyncio.run(main())
    return app


async def facts(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/session.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


async def post(client: httpx.AsyncClient, path: str, **form: str) -> None:
    response = await client.post(path, data=form)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/?done=")


def test_demo_page_and_modes(tmp_path: Path) -> None:
    async def scenario(client: httpx.AsyncClient, app: DemoApp) -> None:
        page = await client.get("/")
        assert page.status_code == 200
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert 'data-mode="none"' in page.text
        assert "set-cookie" not in page.headers  # an empty new session sets no cookie

        await post(client, "/login", user="<ada>")
        page = await client.get("/?done=login")
        assert "&lt;ada&gt;" in page.text
        assert "<ada>" not in page.text
        assert "regenerated" in page.text

        await post(client, "/note", size="4096")
        found = await facts(client)
        assert (found["cookie"]["mode"], found["cookie"]["chunks"]) == ("cookie", 2)

        await post(client, "/note", size="1024")
        found = await facts(client)
        assert found["cookie"]["mode"] == "store"
        assert [len(n) for n in found["data"]["notes"]] == [4096, 1024]
        assert 'data-mode="store"' in (await client.get("/")).text

        await post(client, "/note/remove")
        await post(client, "/note/remove")
        await post(client, "/note/remove")
        found = await facts(client)
        assert found["data"] == {"user": "<ada>"}
        assert found["cookie"]["chunks"] == 1

        await post(client, "/text", text="hello")
        assert (await facts(client))["data"]["text"] == "hello"
        await post(client, "/text", text="")
        assert "text" not in (await facts(client))["data"]
        await post(client, "/note", size="bogus")
        await post(client, "/notes/clear")
        old_id = (await facts(client))["id"]
        await post(client, "/regenerate")
        assert (await facts(client))["id"] != old_id

        await post(client, "/logout")
        assert dict(client.cookies) == {}
        assert (await facts(client))["data"] == {}

    drive(tmp_path, scenario)


def test_demo_rotation_and_key_file(tmp_path: Path) -> None:
    async def scenario(client: httpx.AsyncClient, app: DemoApp) -> None:
        await post(client, "/login", user="grace")
        assert (await facts(client))["cookie"]["key_id"] == "k1"
        await post(client, "/rotate")
        page = await client.get("/?done=rotate")  # this response re-seals
        assert "id='key-state'>decrypt<" in page.text
        found = await facts(client)
        assert found["cookie"]["key_id"] == "k2"
        assert found["keyring"] == {"primary": "k2", "decrypt": ["k1"], "retired": []}
        assert found["data"] == {"user": "grace"}
        await post(client, "/rotate")
        await client.get("/")
        assert (await facts(client))["keyring"]["retired"] == ["k1"]

    app = drive(tmp_path, scenario)
    path = tmp_path / "keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ring = Keyring.from_file(path)
    assert ring.primary.id == "k3"
    assert ring.retired_ids == ("k1",)
    assert app.engine.keyring.primary.id == "k3"
    assert all("created" in entry for entry in json.loads(path.read_text())["keys"])


def test_demo_rejects_and_errors(tmp_path: Path) -> None:
    async def scenario(client: httpx.AsyncClient, app: DemoApp) -> None:
        client.cookies.set("session", "garbage", domain="127.0.0.1")
        page = await client.get("/")
        assert "rejected" in page.text
        assert "<code>malformed</code>" in page.text
        assert (await facts(client))["cookie"] == {"rejected": "malformed"}
        assert (await client.post("/nowhere")).status_code == 404
        assert (await client.get("/nowhere")).status_code == 404
        big = await client.post("/text", content=b"text=" + b"x" * 300_000)
        assert big.status_code == 413

    drive(tmp_path, scenario)


def test_demo_lifespan() -> None:
    app = DemoApp(MemoryStore())
    sent: list[dict[str, Any]] = []
    queue = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    async def send(msg: Any) -> None:
        sent.append(msg)

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
