"""The engine's lifetime rules: deadlines, idle timeout and its rolling refresh, revocation."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cookiesess import SessionEngine
from tests.engine._support import EngineFactory, nothing, set_, visit
from tests.helpers import NOW, Browser


def test_max_age_is_capped_by_the_deadline(make_engine: EngineFactory, browser: Browser) -> None:
    """Cookie Max-Age never outlives the server-side absolute deadline."""
    engine = make_engine(max_age=3600, absolute_timeout=600)
    (line,) = visit(engine, browser, set_(a=1))
    assert "; Max-Age=600;" in line


def test_per_session_max_age(engine: SessionEngine, browser: Browser) -> None:
    """session.max_age overrides the configured cookie lifetime and persists."""

    def remember(s: Any) -> None:
        s["a"] = 1
        s.max_age = 300

    (line,) = visit(engine, browser, remember)
    assert "; Max-Age=300;" in line
    assert engine.load(browser.cookies).max_age == 300


class TestExpiry:
    """Expiry is enforced server-side after authentication."""

    def test_absolute_deadline_is_exact(self, make_engine: EngineFactory, browser: Browser) -> None:
        engine = make_engine(absolute_timeout=1000)
        visit(engine, browser, set_(a=1), now=NOW)
        assert engine.load(browser.cookies, now=NOW + 999) == {"a": 1}
        assert engine.load(browser.cookies, now=NOW + 1000).new

    def test_a_clock_past_2106_writes_and_reads_as_expired(
        self, engine: SessionEngine, browser: Browser
    ) -> None:
        """Times are sealed as 32-bit seconds: past them a commit clamps, never raises."""
        late = 2**32 + 10
        (line,) = visit(engine, browser, set_(a=1), now=late)
        assert line.startswith("session=")
        assert engine.load(browser.cookies, now=late).new

    def test_idle_timeout_and_refresh_granularity(
        self, make_engine: EngineFactory, browser: Browser
    ) -> None:
        engine = make_engine(idle_timeout=1800)
        visit(engine, browser, set_(a=1), now=NOW)
        # Within the refresh interval (max(60, 1800/10) = 180 s): no rewrite.
        assert visit(engine, browser, nothing, now=NOW + 100) == []
        # Past it: the activity time is refreshed without a data change.
        assert visit(engine, browser, nothing, now=NOW + 200) != []
        assert not engine.load(browser.cookies, now=NOW + 200 + 1799).new
        assert engine.load(browser.cookies, now=NOW + 200 + 1800).new

    def test_issued_in_the_future_beyond_skew(
        self, make_engine: EngineFactory, browser: Browser
    ) -> None:
        engine = make_engine()
        visit(engine, browser, set_(a=1), now=NOW + 60)
        assert engine.load(browser.cookies, now=NOW) == {"a": 1}
        later = Browser()
        visit(engine, later, set_(a=1), now=NOW + 61)
        assert engine.load(later.cookies, now=NOW).new

    def test_backward_clock_step_is_harmless(
        self, make_engine: EngineFactory, browser: Browser
    ) -> None:
        engine = make_engine(idle_timeout=600)
        visit(engine, browser, set_(a=1), now=NOW)
        assert engine.load(browser.cookies, now=NOW - 3600).new  # issued in the "future"
        assert engine.load(browser.cookies, now=NOW + 1) == {"a": 1}

    def test_expires_shortens_the_deadline(self, engine: SessionEngine, browser: Browser) -> None:
        def short(s: Any) -> None:
            s["a"] = 1
            s.expires = dt.datetime.fromtimestamp(NOW + 50, dt.UTC)

        visit(engine, browser, short, now=NOW)
        assert engine.load(browser.cookies, now=NOW + 49) == {"a": 1}
        assert engine.load(browser.cookies, now=NOW + 50).new


def test_generation_check_revokes(make_engine: EngineFactory, browser: Browser) -> None:
    """Sessions issued under an older user generation are refused (log out everywhere)."""
    epochs = {"alice": 3}
    engine = make_engine(generation_check=lambda s: epochs.get(dict.get(s, "user")))

    def login(s: Any) -> None:
        s["user"] = "alice"
        s.generation = epochs["alice"]

    reasons: list[str] = []
    engine = make_engine(
        generation_check=lambda s: epochs.get(dict.get(s, "user")), on_reject=reasons.append
    )
    visit(engine, browser, login)
    assert engine.load(browser.cookies) == {"user": "alice"}
    epochs["alice"] = 4
    assert engine.load(browser.cookies).new
    assert reasons == ["revoked"]
