"""Helpers of the migration tests: one client whose app is switched mid-test, and its jar."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import httpx

from cookiesess import SessionEngine

WSGIApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


class SwitchableWSGI:
    """A WSGI app delegating to ``current``: the deploy that swaps the session library."""

    def __init__(self, current: WSGIApp) -> None:
        self.current = current

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return self.current(environ, start_response)


class SwitchableASGI:
    """An ASGI app delegating to ``current``."""

    def __init__(self, current: Any) -> None:
        self.current = current

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.current(scope, receive, send)


def jar(client: httpx.Client) -> list[tuple[str, str, str]]:
    """``(name, path, value)`` of every cookie the client holds."""
    return sorted((c.name, c.path, c.value or "") for c in client.cookies.jar)


def set_value(client: httpx.Client, name: str, change: Callable[[str], str]) -> None:
    """Rewrite the value of the client's cookie `name` in place (keeping its attributes)."""
    found = [c for c in client.cookies.jar if c.name == name]
    assert len(found) == 1, found
    found[0].value = change(found[0].value or "")


def flip_last(value: str) -> str:
    """Change the last character: the legacy formats end with their MAC."""
    return value[:-1] + ("A" if value[-1] != "A" else "B")


def sent_cookies(response: httpx.Response) -> str:
    """The Cookie header the client sent with the request behind `response`."""
    return response.request.headers.get("cookie", "")


def set_cookies(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


def opens(engine: SessionEngine, name: str, value: str) -> dict[str, Any]:
    """Return the data of a cookiesess cookie, failing if it does not open."""
    inspected = engine.inspect({name: value})
    assert inspected is not None
    assert inspected.data is not None
    return inspected.data
