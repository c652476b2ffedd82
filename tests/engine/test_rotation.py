"""Key rotation through the engine: the staged runbook keeps everyone logged in."""

from __future__ import annotations

from cookiesess import SessionEngine
from tests.engine._support import nothing, set_, visit
from tests.helpers import NOW, SECRET_A, Browser, ring_of

SECRET_B = bytes(range(100, 132))


class TestRotation:
    """The staged rotation runbook: add as decrypt, promote, retire."""

    def test_reseal_under_new_primary_then_retire(self, browser: Browser) -> None:
        old = ring_of(("a", SECRET_A, "primary"))
        both = ring_of(("a", SECRET_A, "decrypt"), ("b", SECRET_B, "primary"))
        new_only = ring_of(("a", SECRET_A, "retired"), ("b", SECRET_B, "primary"))
        engine_old = SessionEngine(old, clock=lambda: NOW)
        engine_both = SessionEngine(both, clock=lambda: NOW)
        engine_new = SessionEngine(new_only, clock=lambda: NOW)
        visit(engine_old, browser, set_(user="alice"))
        sealed_under_a = dict(browser.jar)
        # Promoted: A still opens, and the response re-seals under B with no data change.
        lines = visit(engine_both, browser, nothing)
        assert len(lines) == 1
        assert engine_new.load(browser.cookies) == {"user": "alice"}
        # Once re-sealed, no further writes.
        assert visit(engine_both, browser, nothing) == []
        # After retirement a cookie still under A gives a fresh session.
        rejected = engine_new.load(sealed_under_a)
        assert rejected.new
        assert rejected == {}

    def test_staged_order_keeps_everyone_logged_in(self, browser: Browser) -> None:
        """During T0 (new key decrypt-only everywhere) old and new configs interoperate."""
        t0 = ring_of(("a", SECRET_A, "primary"), ("b", SECRET_B, "decrypt"))
        t1 = ring_of(("a", SECRET_A, "decrypt"), ("b", SECRET_B, "primary"))
        engine_t0 = SessionEngine(t0, clock=lambda: NOW)
        engine_t1 = SessionEngine(t1, clock=lambda: NOW)
        visit(engine_t1, browser, set_(n=1))
        assert engine_t0.load(browser.cookies) == {"n": 1}
        visit(engine_t0, browser, set_(n=2))
        assert engine_t1.load(browser.cookies) == {"n": 2}

    def test_many_keys_do_not_change_lookup(self, browser: Browser) -> None:
        keys = [("p", SECRET_A, "primary")] + [
            (f"d{i}", bytes((i + j) % 256 for j in range(32)), "decrypt") for i in range(1, 100)
        ]
        engine = SessionEngine(ring_of(*keys), clock=lambda: NOW)
        visit(engine, browser, set_(a=1))
        assert engine.load(browser.cookies) == {"a": 1}
