"""The automatic fallback: past the cookie budget the data moves to a real store, and back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cookiesess import Session, SessionEngine, StoreError
from cookiesess.stores import (
    AsyncRedisStore,
    MemoryStore,
    RedisStore,
    SQLiteStore,
    ThreadedAsyncStore,
)
from tests.helpers import NOW, SECRET_A, Browser, DictStore, ring_of

SECRET_B = bytes(range(100, 132))
MARKER = "PLAINTEXT-MARKER-7f3a"


class Spy:
    """Wraps a real store and records the calls the engine makes (no behaviour changed)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.values: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        self.calls.append(("get", (key,)))
        return self.store.get(key)  # type: ignore[no-any-return]

    def set(self, key: str, value: bytes, ttl: int) -> None:
        self.calls.append(("set", (key, ttl)))
        self.values[key] = value
        self.store.set(key, value, ttl)

    def delete(self, key: str) -> None:
        self.calls.append(("delete", (key,)))
        self.store.delete(key)

    def delete_if(self, key: str, value: bytes) -> bool:
        self.calls.append(("delete_if", (key,)))
        return self.store.delete_if(key, value)  # type: ignore[no-any-return]

    def touch(self, key: str, ttl: int) -> bool:
        self.calls.append(("touch", (key, ttl)))
        return self.store.touch(key, ttl)  # type: ignore[no-any-return]

    def count(self) -> int:
        return self.store.count()  # type: ignore[no-any-return]

    def ops(self) -> list[str]:
        names = [name for name, _ in self.calls]
        self.calls.clear()
        return names


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Spy]:
    if request.param == "memory":
        yield Spy(MemoryStore())
    elif request.param == "sqlite":
        sqlite = SQLiteStore(tmp_path / "sessions.db")
        yield Spy(sqlite)
        sqlite.close()
    else:
        url = request.getfixturevalue("redis_url")
        redis = RedisStore(url, prefix=request.getfixturevalue("redis_prefix"), timeout=2.0)
        yield Spy(redis)
        redis.clear()
        redis.close()


def engine_for(store: Any, **options: Any) -> SessionEngine:
    ring = options.pop("ring", ring_of(("a", SECRET_A, "primary")))
    options.setdefault("clock", lambda: NOW)
    return SessionEngine(ring, store=store, **options)


def visit(engine: SessionEngine, browser: Browser, handler: Any = None, **kw: Any) -> list[str]:
    cookies = browser.cookies
    session = engine.load(cookies, **kw)
    if handler is not None:
        handler(session)
    lines = engine.commit(session, cookies, **kw)
    browser.apply(lines)
    return lines


def test_moves_to_the_store_and_back_with_the_same_id(store: Spy) -> None:
    """Past the budget only a reference stays in the cookie; shrinking brings the data back."""
    engine = engine_for(store)
    browser = Browser()
    visit(engine, browser, lambda s: s.update(small=1))
    first_id = engine.load(browser.cookies).id
    assert store.count() == 0

    visit(engine, browser, lambda s: s.update(big=MARKER * 1000))
    assert list(browser.jar) == ["session"]
    assert len(browser.jar["session"]) < 300
    assert store.count() == 1
    loaded = engine.load(browser.cookies)
    assert loaded.id == first_id
    assert loaded == {"small": 1, "big": MARKER * 1000}

    visit(engine, browser, lambda s: s.pop("big"))
    assert store.count() == 0
    back = engine.load(browser.cookies)
    assert back == {"small": 1}
    assert back.id == first_id


def test_no_plaintext_at_rest(store: Spy) -> None:
    """The stored record holds neither the data nor the session id in clear."""
    engine = engine_for(store)
    browser = Browser()
    visit(engine, browser, lambda s: s.update(big=MARKER * 1000))
    session = engine.load(browser.cookies)
    (value,) = store.values.values()
    (key,) = store.values
    assert MARKER.encode() not in value
    assert session._state.sid not in value
    assert session.id not in key
    assert session._state.sid.hex() not in key


def test_read_and_write_cost_one_store_call_each(store: Spy) -> None:
    """A read is one get; a write is one set (plus a delete only when the key moves)."""
    engine = engine_for(store)
    browser = Browser()
    visit(engine, browser, lambda s: s.update(big="x" * 9000))
    assert store.ops() == ["set"]
    visit(engine, browser)
    assert store.ops() == ["get"]
    visit(engine, browser, lambda s: s.update(n=1))
    assert store.ops() == ["get", "set"]


def test_ttl_is_the_remaining_lifetime_and_refreshed(store: Spy) -> None:
    """The record expires with the session; activity refreshes extend it."""
    engine = engine_for(store, idle_timeout=1800, absolute_timeout=86400)
    browser = Browser()
    visit(engine, browser, lambda s: s.update(big="x" * 9000), now=NOW)
    ((_, (_, ttl)),) = [c for c in store.calls if c[0] == "set"]
    assert 1800 <= ttl <= 1800 + 180
    store.calls.clear()
    visit(engine, browser, now=NOW + 100)
    assert store.ops() == ["get"]
    visit(engine, browser, now=NOW + 400)
    assert store.ops() == ["get", "set"]


def test_regenerate_and_destroy_remove_records(store: Spy) -> None:
    """regenerate() re-keys the record and deletes the old one; destroy() deletes it."""
    engine = engine_for(store)
    browser = Browser()
    visit(engine, browser, lambda s: s.update(big="x" * 9000))
    (old_key,) = store.values
    visit(engine, browser, lambda s: s.regenerate())
    assert store.count() == 1
    assert ("delete", (old_key,)) in store.calls
    lines = visit(engine, browser, lambda s: s.destroy())
    assert store.count() == 0
    assert all("Max-Age=0" in line for line in lines)
    assert browser.jar == {}


def test_missing_record_gives_a_fresh_session_with_a_new_id(store: Spy) -> None:
    """An authenticated reference whose record is gone is never adopted."""
    reasons: list[str] = []
    engine = engine_for(store, on_reject=reasons.append)
    browser = Browser()
    visit(engine, browser, lambda s: s.update(big="x" * 9000))
    old_id = engine.load(browser.cookies).id
    store.store.clear()
    fresh = engine.load(browser.cookies)
    assert fresh.new
    assert fresh == {}
    assert fresh.id != old_id
    assert reasons[-1] == "store_missing"


def test_record_is_bound_to_its_id(store: Spy) -> None:
    """Copying one session's record under another session's key does not open."""
    engine = engine_for(store)
    alice, mallory = Browser(), Browser()
    visit(engine, alice, lambda s: s.update(user="alice", big="a" * 9000))
    alice_key, alice_value = next(iter(store.values.items()))
    visit(engine, mallory, lambda s: s.update(user="mallory", big="m" * 9000))
    mallory_key = next(k for k in store.values if k != alice_key)
    store.store.set(mallory_key, alice_value, 3600)
    assert engine.load(mallory.cookies).new


def test_rotation_moves_the_record(store: Spy) -> None:
    """A reference opened under a decrypt-only key is re-sealed, and its record re-keyed."""
    old = engine_for(store)
    browser = Browser()
    visit(old, browser, lambda s: s.update(big="r" * 9000))
    (old_key,) = store.values
    rotated = engine_for(
        store, ring=ring_of(("a", SECRET_A, "decrypt"), ("b", SECRET_B, "primary"))
    )
    assert visit(rotated, browser) != []
    assert store.count() == 1
    assert ("delete_if", (old_key,)) in store.calls
    only_b = engine_for(store, ring=ring_of(("b", SECRET_B, "primary")))
    assert only_b.load(browser.cookies)["big"] == "r" * 9000


def copy_of(browser: Browser) -> Browser:
    """A second tab or request holding the same cookies."""
    copy = Browser()
    copy.jar = dict(browser.jar)
    return copy


def test_a_move_into_the_cookie_spares_a_concurrent_write(store: Spy) -> None:
    """Two requests read the same store-mode session; one grows it, then the other
    shrinks it into its cookie. The shrink's delete must not take the record the
    grow just wrote: the grow's cookie still opens to the grow's data."""
    engine = engine_for(store)
    seed = Browser()
    visit(engine, seed, lambda s: s.update(user="alice", big="a" * 9000))
    grow, shrink = copy_of(seed), copy_of(seed)
    growing = engine.load(grow.cookies)
    shrinking = engine.load(shrink.cookies)
    growing["big"] += "b" * 1000
    grow.apply(engine.commit(growing, grow.cookies))
    shrinking.pop("big")
    shrink.apply(engine.commit(shrinking, shrink.cookies))

    assert store.ops()[-1] == "delete_if"
    assert engine.load(grow.cookies) == {"user": "alice", "big": "a" * 9000 + "b" * 1000}
    assert engine.load(grow.cookies).id == engine.load(shrink.cookies).id
    assert engine.load(shrink.cookies) == {"user": "alice"}


def test_a_move_into_the_cookie_deletes_the_record_it_read(store: Spy) -> None:
    """Without a concurrent write, shrinking deletes the record (nothing is left behind)."""
    engine = engine_for(store)
    browser = Browser()
    visit(engine, browser, lambda s: s.update(big="a" * 9000))
    visit(engine, browser, lambda s: s.pop("big"))
    assert store.count() == 0


def rewritten_meanwhile(
    engine: SessionEngine, act: Callable[[Session], None]
) -> tuple[Browser, Browser]:
    """Two browsers holding one store-mode session: `other` rewrites its record, then
    `mine`, loaded before that rewrite, does `act` and commits."""
    seed = Browser()
    visit(engine, seed, lambda s: s.update(big="a" * 9000))
    other, mine = copy_of(seed), copy_of(seed)
    rewriting = engine.load(other.cookies)
    acting = engine.load(mine.cookies)
    rewriting["n"] = 1
    other.apply(engine.commit(rewriting, other.cookies))
    act(acting)
    mine.apply(engine.commit(acting, mine.cookies))
    return other, mine


def test_regenerate_deletes_the_old_record_even_if_rewritten(store: Spy) -> None:
    """After regenerate() the old id's record goes, whatever another request wrote there."""
    engine = engine_for(store)
    other, mine = rewritten_meanwhile(engine, lambda s: s.regenerate())

    assert engine.load(other.cookies).new  # the old id is dead
    assert engine.load(mine.cookies)["big"] == "a" * 9000
    assert store.count() == 1


def test_destroy_deletes_the_record_even_if_rewritten(store: Spy) -> None:
    """destroy() (logout) removes the record, whatever another request wrote there since."""
    engine = engine_for(store)
    other, mine = rewritten_meanwhile(engine, lambda s: s.destroy())

    assert engine.load(other.cookies).new  # the logged-out session is gone everywhere
    assert mine.jar == {}
    assert store.count() == 0


def test_a_store_without_delete_if_gets_a_plain_delete() -> None:
    """A third-party store with only get/set/delete/touch still works (plain delete)."""

    minimal = DictStore()
    engine = engine_for(minimal)
    browser = Browser()
    visit(engine, browser, lambda s: s.update(user="alice", big="a" * 9000))
    assert len(minimal.data) == 1
    visit(engine, browser, lambda s: s.pop("big"))
    assert len(minimal.data) == 0
    assert engine.load(browser.cookies) == {"user": "alice"}


class Failing:
    """A real store whose backend is gone (its connection was closed)."""

    def get(self, key: str) -> bytes | None:
        raise StoreError("store unavailable")

    set = delete = touch = get  # type: ignore[assignment]


def test_store_failure_propagates_instead_of_a_fresh_session() -> None:
    """A read failure is StoreError, never an empty session that would overwrite the cookie."""
    working = MemoryStore()
    browser = Browser()
    visit(engine_for(working), browser, lambda s: s.update(big="x" * 9000))
    with pytest.raises(StoreError):
        engine_for(Failing()).load(browser.cookies)


def test_cookie_mode_sessions_never_touch_a_failing_store() -> None:
    """Small sessions keep working while the store is down."""
    engine = engine_for(Failing())
    browser = Browser()
    visit(engine, browser, lambda s: s.update(n=1))
    visit(engine, browser, lambda s: s.update(n=2))
    assert engine.load(browser.cookies) == {"n": 2}


def test_async_engine_with_a_threaded_sync_store(tmp_path: Path) -> None:
    """aload/acommit drive an AsyncStore; a sync store runs through ThreadedAsyncStore."""
    sqlite = SQLiteStore(tmp_path / "a.db")
    engine = engine_for(ThreadedAsyncStore(sqlite))
    browser = Browser()

    async def run() -> dict[str, Any]:
        cookies = browser.cookies
        session = await engine.aload(cookies)
        session["big"] = "y" * 9000
        browser.apply(await engine.acommit(session, cookies))
        return dict(await engine.aload(browser.cookies))

    assert asyncio.run(run()) == {"big": "y" * 9000}
    assert sqlite.count() == 1
    sqlite.close()


def test_sync_load_with_an_async_store_is_a_clear_error() -> None:
    """Using an AsyncStore from sync code says to use aload/acommit."""
    engine = engine_for(ThreadedAsyncStore(MemoryStore()))
    browser = Browser()
    session = engine.load({})
    session["big"] = "z" * 9000
    with pytest.raises(TypeError, match="aload"):
        engine.commit(session, {})
    assert browser.jar == {}


def test_denylist_revokes_until_the_deadline(tmp_path: Path) -> None:
    """A revoked id is refused on every host until its deadline, then the entry expires."""
    denylist = MemoryStore(evict=False)
    reasons: list[str] = []
    engine = engine_for(None, denylist=denylist, on_reject=reasons.append)
    browser = Browser()
    visit(engine, browser, lambda s: s.update(user="alice"))
    session = engine.load(browser.cookies)
    engine.revoke(session)
    assert engine.load(browser.cookies).new
    assert reasons == ["revoked"]
    assert denylist.count() == 1


@pytest.mark.redis
def test_async_engine_with_async_redis(redis_url: str, redis_prefix: str) -> None:
    """aload/acommit with AsyncRedisStore: across the threshold and back, one call per step."""

    async def run() -> None:
        store = AsyncRedisStore(redis_url, prefix=redis_prefix, timeout=2.0)
        engine = engine_for(store)
        browser = Browser()
        for data in ({"big": "x" * 9000}, {"big": "y"}):
            cookies = browser.cookies
            session = await engine.aload(cookies)
            session.update(data)
            browser.apply(await engine.acommit(session, cookies))
            assert dict(await engine.aload(browser.cookies)) == data
        assert await store.count() == 0
        await store.aclose()

    asyncio.run(run())
