"""Every lifecycle rule on every path a session can arrive by (the engine's admission).

A session reaches `load` as a sealed cookie, a store reference, a legacy cookie
being migrated, or one of several values of one cookie name. Each test here
takes one rule (timeouts against the configuration running now, generation,
denylist, a failing hook, which value wins) down one of those paths.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import itsdangerous
import pytest

from cookiesess import ConfigurationError, SessionEngine, StoreError
from cookiesess.legacy import StarletteSessionReader
from cookiesess.stores import MemoryStore
from tests.helpers import NOW, Browser

EngineFactory = Callable[..., SessionEngine]
DAY = 24 * 3600
LEGACY_SECRET = "starlette-legacy-secret-5b1e9d3f7a2c4e6b8d0f"


def starlette_cookie(data: dict[str, Any], secret: str = LEGACY_SECRET) -> str:
    """A cookie as Starlette's SessionMiddleware writes it (signed, not encrypted)."""
    payload = base64.b64encode(json.dumps(data).encode())
    return itsdangerous.TimestampSigner(secret).sign(payload).decode()


def sealed(engine: SessionEngine, data: dict[str, Any], *, now: int = NOW) -> dict[str, str]:
    """The browser's cookies after one request that stored `data`."""
    browser = Browser()
    session = engine.load({}, now=now)
    session.update(data)
    browser.apply(engine.commit(session, {}, now=now))
    return browser.cookies


# -- 1. generation and denylist on every path --------------------------------


def epoch_of(epochs: dict[str, int]) -> Callable[[Any], int | None]:
    def check(session: Any) -> int | None:
        user = session.get("user")
        return None if user is None else epochs.get(user, 0)

    return check


def test_generation_check_applies_to_a_migrated_legacy_cookie(make_engine: EngineFactory) -> None:
    """After "log out everywhere", a copied legacy cookie opens nothing."""
    epochs = {"alice": 0}
    reasons: list[str] = []
    engine = make_engine(
        migrate_from=StarletteSessionReader(LEGACY_SECRET),
        generation_check=epoch_of(epochs),
        on_reject=reasons.append,
        clock=time.time,
    )
    cookies = {"session": starlette_cookie({"user": "alice"})}
    assert engine.load(cookies) == {"user": "alice"}
    epochs["alice"] = 1
    session = engine.load(cookies)
    assert session.new
    assert session == {}
    assert reasons == ["revoked"]


def test_generation_check_applies_to_a_store_reference(make_engine: EngineFactory) -> None:
    epochs = {"alice": 0}
    engine = make_engine(store=MemoryStore(), generation_check=epoch_of(epochs))
    cookies = sealed(engine, {"user": "alice", "blob": "x" * 9000})
    assert engine.needs_store(cookies)
    assert engine.load(cookies)["user"] == "alice"
    epochs["alice"] = 3
    assert engine.load(cookies) == {}


# -- 2. timeouts follow the configuration running now ------------------------


def test_lowering_absolute_timeout_ends_older_sessions(make_engine: EngineFactory) -> None:
    """14 days -> 1 hour after an incident: a 2-hour-old session ends on its next request."""
    before = make_engine(absolute_timeout=14 * DAY)
    cookies = sealed(before, {"user": "alice"})
    reasons: list[str] = []
    after = make_engine(absolute_timeout=3600, on_reject=reasons.append)
    assert after.load(cookies, now=NOW + 1800) == {"user": "alice"}
    assert after.load(cookies, now=NOW + 7200) == {}
    assert reasons == ["expired"]


def test_setting_an_absolute_timeout_where_there_was_none(make_engine: EngineFactory) -> None:
    cookies = sealed(make_engine(absolute_timeout=None), {"user": "alice"})
    after = make_engine(absolute_timeout=3600)
    assert after.load(cookies, now=NOW + 3599) == {"user": "alice"}
    assert after.load(cookies, now=NOW + 3600) == {}


def test_raising_absolute_timeout_revives_nothing(make_engine: EngineFactory) -> None:
    cookies = sealed(make_engine(absolute_timeout=3600), {"user": "alice"})
    after = make_engine(absolute_timeout=14 * DAY)
    assert after.load(cookies, now=NOW + 3600) == {}


def test_lowered_timeout_holds_for_a_store_reference(make_engine: EngineFactory) -> None:
    store = MemoryStore()
    before = make_engine(absolute_timeout=14 * DAY, store=store)
    cookies = sealed(before, {"blob": "x" * 9000})
    assert before.needs_store(cookies)
    after = make_engine(absolute_timeout=3600, store=store)
    assert after.load(cookies, now=NOW + 7200) == {}


def test_lowering_idle_timeout_ends_idle_sessions(make_engine: EngineFactory) -> None:
    cookies = sealed(make_engine(idle_timeout=None), {"user": "alice"})
    after = make_engine(idle_timeout=600)
    assert after.load(cookies, now=NOW + 599) == {"user": "alice"}
    assert after.load(cookies, now=NOW + 600) == {}


def test_a_shorter_per_session_deadline_still_holds(make_engine: EngineFactory) -> None:
    """The sealed deadline may shorten a session, never lengthen it past the configuration."""
    import datetime as dt

    engine = make_engine(absolute_timeout=14 * DAY)
    browser = Browser()
    session = engine.load({}, now=NOW)
    session["user"] = "alice"
    session.expires = dt.datetime.fromtimestamp(NOW + 600, dt.UTC)
    browser.apply(engine.commit(session, {}, now=NOW))
    assert engine.load(browser.cookies, now=NOW + 599) == {"user": "alice"}
    assert engine.load(browser.cookies, now=NOW + 600) == {}


# -- 3. a revocation is never forgotten while the session could still open -------


def test_denylist_without_an_absolute_deadline_is_refused(make_engine: EngineFactory) -> None:
    with pytest.raises(ConfigurationError, match="absolute_timeout") as caught:
        make_engine(denylist=MemoryStore(evict=False), absolute_timeout=None)
    assert "denylist" in str(caught.value)


def test_an_evicting_memory_store_is_refused_as_denylist(make_engine: EngineFactory) -> None:
    with pytest.raises(ConfigurationError, match="evict=False"):
        make_engine(denylist=MemoryStore())
    make_engine(denylist=MemoryStore(evict=False))


def test_a_full_denylist_makes_revoke_raise(make_engine: EngineFactory) -> None:
    """Many revocations never flush an older one: the store refuses, revoke raises."""
    denylist = MemoryStore(max_entries=3, evict=False)
    engine = make_engine(denylist=denylist)
    victim = sealed(engine, {"user": "victim"})
    engine.revoke(engine.load(victim))
    for _ in range(2):
        engine.revoke(engine.load(sealed(engine, {"user": "attacker"})))
    with pytest.raises(StoreError, match="full"):
        engine.revoke(engine.load(sealed(engine, {"user": "attacker"})))
    assert engine.load(victim) == {}


def test_denylist_entry_outlives_the_session(make_engine: EngineFactory) -> None:
    clock = [float(NOW)]
    denylist = MemoryStore(evict=False, clock=lambda: clock[0])
    reasons: list[str] = []
    engine = make_engine(denylist=denylist, absolute_timeout=3 * DAY, on_reject=reasons.append)
    cookies = sealed(engine, {"user": "alice"})
    engine.revoke(engine.load(cookies), now=NOW)
    for offset in (0, DAY, 3 * DAY - 1):
        clock[0] = NOW + offset
        assert engine.load(cookies, now=NOW + offset) == {}
    assert reasons == ["revoked"] * 3


@pytest.mark.parametrize("action", ["destroy", "regenerate"])
def test_revoke_after_destroy_revokes_the_loaded_id(
    make_engine: EngineFactory, action: str
) -> None:
    """The client's copy carries the id the session was loaded with: revoke that one too."""
    reasons: list[str] = []
    engine = make_engine(denylist=MemoryStore(evict=False), on_reject=reasons.append)
    copy = sealed(engine, {"user": "alice"})
    session = engine.load(copy)
    getattr(session, action)()
    engine.revoke(session)
    assert engine.load(copy) == {}
    assert reasons == ["revoked"]


# -- 4. a failing hook never becomes a 500 ---------------------------------------


def test_a_raising_generation_check_rejects_the_session(
    make_engine: EngineFactory, caplog: pytest.LogCaptureFixture
) -> None:
    reasons: list[str] = []

    def check(session: Any) -> int:
        return {"alice": 0}[session["user"]]  # KeyError for an anonymous session

    engine = make_engine(generation_check=check, on_reject=reasons.append)
    cookies = sealed(engine, {"cart": [1]})
    with caplog.at_level(logging.WARNING, logger="cookiesess"):
        session = engine.load(cookies)
    assert session.new
    assert session == {}
    assert reasons == ["hook_failed"]
    failures = [r for r in caplog.records if r.exc_info is not None]
    assert len(failures) == 1
    assert failures[0].exc_info[0] is KeyError  # type: ignore[index]


# -- 5. a valid cookiesess cookie always wins, whatever the header order ------------


def header_of(*pairs: tuple[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in pairs)


def load_header(engine: SessionEngine, header: str) -> Any:
    from cookiesess.cookies import parse_cookie_header

    return engine.load(parse_cookie_header(header))


@pytest.mark.parametrize("valid_first", [True, False])
def test_a_token_wins_over_junk_of_the_same_name(
    make_engine: EngineFactory, valid_first: bool
) -> None:
    engine = make_engine()
    token = sealed(engine, {"user": "alice"})["session"]
    pairs = [("session", token), ("session", "junk-from-another-path")]
    if not valid_first:
        pairs.reverse()
    assert load_header(engine, header_of(*pairs)) == {"user": "alice"}


@pytest.mark.parametrize("valid_first", [True, False])
def test_a_token_wins_over_a_legacy_cookie_of_the_same_name(
    make_engine: EngineFactory, valid_first: bool
) -> None:
    engine = make_engine(migrate_from=StarletteSessionReader(LEGACY_SECRET), clock=time.time)
    token = sealed(engine, {"user": "new"}, now=int(time.time()))["session"]
    pairs = [("session", token), ("session", starlette_cookie({"user": "old"}))]
    if not valid_first:
        pairs.reverse()
    assert load_header(engine, header_of(*pairs)) == {"user": "new"}


def test_the_fourth_value_of_a_name_is_still_considered(make_engine: EngineFactory) -> None:
    engine = make_engine()
    token = sealed(engine, {"user": "alice"})["session"]
    header = header_of(("session", "a"), ("session", "b"), ("session", "c"), ("session", token))
    assert load_header(engine, header) == {"user": "alice"}


def test_spliced_chunk_sets_never_open(make_engine: EngineFactory) -> None:
    """Two chunked sessions in one header: a first chunk never joins the other's second."""
    engine = make_engine()
    one = sealed(engine, {"who": "one", "blob": "1" * 3500})
    two = sealed(engine, {"who": "two", "blob": "2" * 3500})
    assert set(one) == set(two) == {"session", "session.1"}
    # The first chunk of one with the second chunk of two, and junk: nothing opens.
    header = header_of(("session", one["session"]), ("session.1", two["session.1"]))
    assert load_header(engine, header) == {}
    # Both first chunks, two's second chunk: two opens, one is never spliced with it.
    header = header_of(
        ("session", one["session"]), ("session", two["session"]), ("session.1", two["session.1"])
    )
    assert load_header(engine, header)["who"] == "two"
