"""The engine's size rules: every line fits, chunks join and expire, overflow is loud."""

from __future__ import annotations

import pytest

from cookiesess import SessionEngine, SessionTooLarge
from tests.engine._support import EngineFactory, set_, visit
from tests.helpers import Browser


class TestSize:
    """Every emitted line fits; the set fits the total budget; overflow is loud."""

    def test_growth_to_100_kb_never_exceeds_limits(self, engine: SessionEngine) -> None:
        browser = Browser()
        too_large_seen = False
        for size in range(0, 100_001, 1500):
            cookies = browser.cookies
            session = engine.load(cookies)
            session["blob"] = "x" * size
            try:
                lines = engine.commit(session, cookies)
            except SessionTooLarge as exc:
                too_large_seen = True
                assert "6000" in str(exc)
                continue
            browser.apply(lines)
            assert all(len(line) <= 4096 for line in lines)
            sent = "; ".join(f"{k}={v}" for k, v in browser.jar.items())
            assert len(sent) <= 6000
            assert engine.load(browser.cookies)["blob"] == "x" * size
        assert too_large_seen

    def test_chunks_and_stale_chunk_expiry(self, make_engine: EngineFactory) -> None:
        engine = make_engine(max_total_bytes=30_000, secure=True, domain="example.com")
        browser = Browser()
        visit(engine, browser, set_(blob="y" * 20_000))
        count = len(browser.jar)
        assert count >= 5
        assert set(browser.jar) == {"session", *(f"session.{i}" for i in range(1, count))}
        lines = visit(engine, browser, set_(blob="small"))
        deletions = [line for line in lines if "Max-Age=0" in line]
        assert len(deletions) == count - 1
        assert all("Domain=example.com; Secure" in line for line in deletions)
        assert list(browser.jar) == ["session"]
        assert engine.load(browser.cookies)["blob"] == "small"

    def test_chunk_order_in_the_header_does_not_matter(self, make_engine: EngineFactory) -> None:
        engine = make_engine(max_total_bytes=20_000)
        browser = Browser()
        visit(engine, browser, set_(blob="z" * 10_000))
        reordered = dict(reversed(list(browser.cookies.items())))
        assert engine.load(reordered)["blob"] == "z" * 10_000

    def test_too_large_names_sizes(self, engine: SessionEngine) -> None:
        session = engine.load({})
        session["blob"] = "q" * 20_000
        with pytest.raises(SessionTooLarge, match=r"needs \d+ bytes.*max_total_bytes=6000"):
            engine.commit(session, {})


def test_destroy_expires_every_cookie(make_engine: EngineFactory) -> None:
    """destroy() expires the base cookie and every chunk the request carried."""
    engine = make_engine(max_total_bytes=12_000)
    browser = Browser()
    visit(engine, browser, set_(blob="d" * 5000))
    assert len(browser.jar) == 2
    lines = visit(engine, browser, lambda s: s.destroy())
    assert len(lines) == 2
    assert all("Max-Age=0" in line for line in lines)
    assert browser.jar == {}
