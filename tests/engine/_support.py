"""Shared by the engine tests: one request of a browser against an engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cookiesess import SessionEngine
from tests.helpers import Browser

EngineFactory = Callable[..., SessionEngine]


def visit(
    engine: SessionEngine, browser: Browser, handler: Callable[[Any], None], **kw: Any
) -> list[str]:
    """One request: load from the browser's cookies, run handler, commit, apply."""
    cookies = browser.cookies
    session = engine.load(cookies, now=kw.get("now"))
    handler(session)
    lines = engine.commit(session, cookies, **kw)
    browser.apply(lines)
    return lines


def set_(**values: Any) -> Callable[[Any], None]:
    return lambda s: s.update(values)


def nothing(_: Any) -> None:
    pass
