"""``on_event``: what the sessions are doing, with no secret and no session data."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cookiesess import SessionEngine, SessionTooLarge, StoreError
from cookiesess.events import EVENT_KINDS, SessionEvent
from cookiesess.legacy import StarletteSessionReader
from cookiesess.stores import MemoryStore, SQLiteStore
from tests.engine.test_rules import LEGACY_SECRET, starlette_cookie
from tests.helpers import NOW, SECRET_A, SECRET_B, Browser, ring_of

EngineFactory = Callable[..., SessionEngine]
MARKER = "secret-user-data-7f3a"


@pytest.fixture
def events() -> list[SessionEvent]:
    return []


def visit(engine: SessionEngine, browser: Browser, change: Callable[[Any], None]) -> None:
    session = engine.load(browser.cookies)
    change(session)
    browser.apply(engine.commit(session, browser.cookies))


def kinds(events: list[SessionEvent]) -> list[str]:
    return [event.kind for event in events]


def test_a_rejected_cookie_reports_its_reason(
    make_engine: EngineFactory, events: list[SessionEvent]
) -> None:
    engine = make_engine(on_event=events.append)
    browser = Browser()
    visit(engine, browser, lambda s: s.update(user=MARKER))
    token = browser.jar["session"]
    engine.load({"session": token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]})
    assert events == [SessionEvent(kind="rejected", reason="auth_failed")]


def test_moves_between_cookie_and_store(
    make_engine: EngineFactory, events: list[SessionEvent]
) -> None:
    engine = make_engine(store=MemoryStore(), on_event=events.append)
    browser = Browser()
    visit(engine, browser, lambda s: s.update(blob="x" * 9000))
    visit(engine, browser, lambda s: s.update(small=1))  # stays in the store: no event
    visit(engine, browser, lambda s: s.pop("blob"))
    assert kinds(events) == ["moved_to_store", "moved_to_cookie"]
    assert events[0].size is not None
    assert events[0].size > 9000


def test_a_reseal_under_the_new_primary(
    make_engine: EngineFactory, events: list[SessionEvent]
) -> None:
    old = make_engine(ring_of(("k1", SECRET_A, "primary")))
    browser = Browser()
    visit(old, browser, lambda s: s.update(user=MARKER))
    rotated = ring_of(("k2", SECRET_B, "primary"), ("k1", SECRET_A, "decrypt"))
    engine = make_engine(rotated, on_event=events.append)
    visit(engine, browser, lambda s: None)
    assert events == [SessionEvent(kind="resealed", key_id="k2")]


def test_too_large_without_a_store(make_engine: EngineFactory, events: list[SessionEvent]) -> None:
    engine = make_engine(on_event=events.append)
    session = engine.load({})
    session["blob"] = "x" * 9000
    with pytest.raises(SessionTooLarge):
        engine.commit(session, {})
    assert kinds(events) == ["too_large"]
    assert events[0].size is not None
    assert events[0].size > 9000


def test_a_migration_names_the_reader(
    make_engine: EngineFactory, events: list[SessionEvent]
) -> None:
    engine = make_engine(
        migrate_from=StarletteSessionReader(LEGACY_SECRET), on_event=events.append, clock=time.time
    )
    session = engine.load({"session": starlette_cookie({"user": MARKER})})
    assert session == {"user": MARKER}
    assert events == [SessionEvent(kind="migrated", source="StarletteSessionReader")]


def test_a_store_failure_reports_operation_error_and_duration(
    make_engine: EngineFactory, events: list[SessionEvent], tmp_path: Path
) -> None:
    """A real failure: SQLite pointed at a directory."""
    good = make_engine(store=MemoryStore())
    browser = Browser()
    visit(good, browser, lambda s: s.update(blob="x" * 9000))
    engine = make_engine(store=SQLiteStore(tmp_path), on_event=events.append)
    with pytest.raises(StoreError):
        engine.load(browser.cookies)
    (event,) = events
    assert (event.kind, event.operation, event.error) == ("store_error", "get", "OperationalError")
    assert event.duration is not None
    assert 0 <= event.duration < 30


def test_events_carry_no_secret_id_or_data(
    make_engine: EngineFactory, events: list[SessionEvent]
) -> None:
    engine = make_engine(store=MemoryStore(), on_event=events.append)
    browser = Browser()
    visit(engine, browser, lambda s: s.update(user=MARKER, blob="x" * 9000))
    session = engine.load(browser.cookies)
    visit(engine, browser, lambda s: s.pop("blob"))
    engine.load({"session": "junk"})
    assert {event.kind for event in events} <= EVENT_KINDS
    text = repr(events)
    for secret in (MARKER, session.id, SECRET_A.hex(), *browser.jar.values()):
        assert secret not in text


def test_a_failing_hook_is_logged_and_ignored(
    make_engine: EngineFactory, caplog: pytest.LogCaptureFixture
) -> None:
    def hook(event: SessionEvent) -> None:
        raise RuntimeError("metrics backend down")

    engine = make_engine(on_event=hook)
    with caplog.at_level(logging.ERROR, logger="cookiesess"):
        session = engine.load({"session": "junk"}, now=NOW)
    assert session.new
    assert "on_event hook failed" in caplog.text
