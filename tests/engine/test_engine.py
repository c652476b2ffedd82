"""The engine's decisions: when to write, expiry, rotation, size and chunking."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import pytest

from cookiesess import (
    CodecError,
    ConfigurationError,
    Keyring,
    SessionConfig,
    SessionEngine,
    SessionTooLarge,
)
from tests.helpers import NOW, SECRET_A, Browser, ring_of

SECRET_B = bytes(range(100, 132))
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


def test_roundtrip_and_write_only_on_change(engine: SessionEngine, browser: Browser) -> None:
    """Data round trips; untouched and read-only requests emit no Set-Cookie."""
    assert visit(engine, browser, nothing) == []
    assert visit(engine, browser, set_(user=42, cart=[1, 2])) != []
    assert visit(engine, browser, nothing) == []
    assert visit(engine, browser, lambda s: s["cart"]) == []
    assert visit(engine, browser, lambda s: s["cart"].append(3)) != []
    assert engine.load(browser.cookies) == {"user": 42, "cart": [1, 2, 3]}


def test_session_id_is_stable(engine: SessionEngine, browser: Browser) -> None:
    """The id survives round trips until regenerate."""
    visit(engine, browser, set_(a=1))
    first = engine.load(browser.cookies).id
    visit(engine, browser, set_(a=2))
    assert engine.load(browser.cookies).id == first
    visit(engine, browser, lambda s: s.regenerate())
    again = engine.load(browser.cookies)
    assert again.id != first
    assert again == {"a": 2}


def test_save_uninitialized(make_engine: EngineFactory, browser: Browser) -> None:
    """With save_uninitialized a new empty session gets a cookie."""
    engine = make_engine(save_uninitialized=True)
    assert visit(engine, browser, nothing) != []
    assert not engine.load(browser.cookies).new


def test_default_attributes(engine: SessionEngine, browser: Browser) -> None:
    """Defaults: Path=/, Secure, HttpOnly, SameSite=Lax and a browser-session cookie."""
    (line,) = visit(engine, browser, set_(a=1))
    assert line.endswith("; Path=/; Secure; HttpOnly; SameSite=Lax")
    assert "Max-Age" not in line


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


def test_secure_auto(make_engine: EngineFactory, browser: Browser) -> None:
    """secure='auto' follows the request: no Secure attribute over plain HTTP."""
    engine = make_engine(secure="auto")
    (line,) = visit(engine, browser, set_(a=1), secure=False)
    assert "Secure" not in line
    (line,) = visit(engine, browser, set_(a=2), secure=True)
    assert "; Secure" in line


def test_config_reports_every_problem() -> None:
    """Bad options fail at construction, all listed."""
    with pytest.raises(ConfigurationError) as info:
        SessionConfig(
            cookie_name="__Host-s",
            secure=False,
            samesite="None",
            max_age=-1,
            max_cookie_bytes=10_000,
            store=object(),
        )
    assert len(info.value.problems) >= 5


def test_samesite_is_normalised() -> None:
    """Lower-case samesite values (as Flask/Django spell them) are accepted."""
    assert SessionConfig(samesite="strict").samesite == "Strict"  # type: ignore[arg-type]


class TestExpiry:
    """Expiry is enforced server-side after authentication."""

    def test_absolute_deadline_is_exact(self, make_engine: EngineFactory, browser: Browser) -> None:
        engine = make_engine(absolute_timeout=1000)
        visit(engine, browser, set_(a=1), now=NOW)
        assert engine.load(browser.cookies, now=NOW + 999) == {"a": 1}
        assert engine.load(browser.cookies, now=NOW + 1000).new

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


def test_emptied_session_deletes_the_cookie(engine: SessionEngine, browser: Browser) -> None:
    """Removing every key deletes the cookie instead of writing an empty session."""
    visit(engine, browser, set_(a=1))
    visit(engine, browser, lambda s: s.clear())
    assert browser.jar == {}


def test_codec_error_at_commit(engine: SessionEngine) -> None:
    """An unsupported value fails the commit loudly, naming its path."""
    session = engine.load({})
    session["cart"] = [{"added": object()}]
    with pytest.raises(CodecError, match=r"cart\[0\]\.added"):
        engine.commit(session, {})


def test_rejections_reach_the_hook_and_debug_log(
    make_engine: EngineFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """on_reject gets the reason code; the debug log names it without any token text."""
    reasons: list[str] = []
    engine = make_engine(on_reject=reasons.append)
    token = "AQE" + "A" * 80 + "!"
    with caplog.at_level(logging.DEBUG, logger="cookiesess"):
        assert engine.load({"session": token}).new
    assert reasons == ["malformed"]
    assert "malformed" in caplog.text
    assert token not in caplog.text


def test_failing_hook_does_not_fail_the_request(make_engine: EngineFactory) -> None:
    """A broken metrics hook is logged, and the request still gets a fresh session."""

    def broken(_: str) -> None:
        raise RuntimeError

    engine = make_engine(on_reject=broken)
    assert engine.load({"session": "garbage"}).new


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


def test_lazy_session_never_opened_emits_nothing(engine: SessionEngine) -> None:
    """A lazy session the handler never touched costs no commit work."""
    lazy = engine.lazy(lambda: {"session": "whatever"})
    assert engine.commit(lazy, {"session": "whatever"}) == []


def test_keyring_type_checked() -> None:
    """Passing something else than a Keyring fails at construction."""
    with pytest.raises(ConfigurationError):
        SessionEngine("secret")  # type: ignore[arg-type]


def test_repr_hides_keys() -> None:
    """The engine's repr shows key ids only."""
    ring = Keyring.generate("main")
    assert "main" in repr(SessionEngine(ring))
