"""The engine's decisions: when to write, cookie attributes, configuration, hooks.

Expiry is in test_lifetime.py, size and chunking in test_chunking.py, key
rotation in test_rotation.py.
"""

from __future__ import annotations

import logging

import pytest

from cookiesess import CodecError, ConfigurationError, Keyring, SessionConfig, SessionEngine
from tests.engine._support import EngineFactory, nothing, set_, visit
from tests.helpers import Browser


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
