"""What ends a session, mechanism by mechanism, on every path a session arrives by.

SECURITY.md's table "What ends a session" cites these tests cell by cell. Each
mechanism is one test, parametrized over the paths it applies to:

- ``sealed``: the session sealed in its cookie;
- ``store``: a store reference, the data in the fallback store;
- ``legacy``: a Starlette cookie read once through ``migrate_from``;
- ``duplicated``: our token as the third of four values of the cookie name,
  between junk and a legacy cookie of the same name (which must never stand
  in for a token that was refused).

Everything goes through the real engine, a real `MemoryStore` and real
itsdangerous-signed legacy cookies, under one controlled clock.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import itsdangerous
import pytest

from cookiesess import Session, SessionConfig, SessionEngine
from cookiesess.cookies import parse_cookie_header
from cookiesess.legacy import StarletteSessionReader
from cookiesess.stores import MemoryStore
from tests.helpers import NOW, SECRET_A, SECRET_B, ring_of

DAY = 24 * 3600
LEGACY_SECRET = "starlette-legacy-secret-5b1e9d3f7a2c4e6b8d0f"
BLOB = "x" * 9000  # too large for the cookie: the data moves to the store
RING = ring_of(("a", SECRET_A, "primary"))
PATHS = ["sealed", "store", "legacy", "duplicated"]
TOKEN_PATHS = ["sealed", "store", "duplicated"]  # the paths that carry a cookiesess token


class _Signer(itsdangerous.TimestampSigner):
    """itsdangerous' signer at a fixed time (Starlette signs with time.time())."""

    signed_at = NOW

    def get_timestamp(self) -> int:
        return self.signed_at


def starlette_cookie(data: dict[str, Any], now: int = NOW) -> str:
    """A cookie as Starlette's SessionMiddleware writes it at `now` (signed, not encrypted)."""
    signer = _Signer(LEGACY_SECRET)
    signer.signed_at = now
    return signer.sign(base64.b64encode(json.dumps(data).encode())).decode()


class World:
    """One path: its engines, the cookies a session arrives with, one clock for all."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.now = NOW
        self.reasons: list[str] = []
        self.store = MemoryStore(clock=lambda: self.now) if path == "store" else None

    def engine(self, keyring: Any = RING, **options: Any) -> SessionEngine:
        options.setdefault("clock", lambda: self.now)
        options.setdefault("on_reject", self.reasons.append)
        options.setdefault("store", self.store)
        # Starlette's defaults: cookie "session" at Path=/, as ours.
        options.setdefault("migrate_from", StarletteSessionReader(LEGACY_SECRET))
        return SessionEngine(keyring, SessionConfig(**options))

    def cookies(self, engine: SessionEngine, data: dict[str, Any]) -> Mapping[str, str]:
        """The request cookies of a browser holding a session of `data`, set now."""
        if self.path == "legacy":
            return {"session": starlette_cookie(data, self.now)}
        if self.path == "store":
            data = {**data, "blob": BLOB}
        session = engine.load({})
        session.update(data)
        jar = dict(line.split(";")[0].split("=", 1) for line in engine.commit(session, {}))
        assert set(jar) == {"session"}
        if self.path == "store":
            assert engine.needs_store(jar)
        if self.path != "duplicated":
            return jar
        # Our token third of four: junk, a valid legacy cookie of our name, ours, junk.
        header = "; ".join(
            f"session={value}"
            for value in (
                "junk-from-another-path",
                starlette_cookie({"user": "mallory"}, self.now),
                jar["session"],
                "deleted",
            )
        )
        return parse_cookie_header(header)

    @staticmethod
    def data(session: Session) -> dict[str, Any]:
        """The session's data, without the store path's padding."""
        data = dict(dict.items(session))
        data.pop("blob", None)
        return data


def is_fresh(session: Session) -> bool:
    return session.new and not dict.__len__(session) and not session.migrated


def epoch_check(epochs: dict[str, int]) -> Any:
    def check(session: Session) -> int | None:
        user = dict.get(session, "user")
        return None if user is None else epochs.get(user, 0)

    return check


def expiry_lines(lines: list[str]) -> bool:
    """Whether every line expires a cookie, and one expires ours (Path=/)."""
    ours = [line for line in lines if line.startswith("session=") and "Path=/;" in line]
    return bool(ours) and all("Max-Age=0" in line for line in lines)


# -- timeouts ------------------------------------------------------------------


@pytest.mark.parametrize("path", TOKEN_PATHS)
def test_idle_timeout_ends_it(path: str) -> None:
    world = World(path)
    engine = world.engine(idle_timeout=600)
    cookies = world.cookies(engine, {"user": "alice"})
    world.now = NOW + 599
    assert world.data(engine.load(cookies)) == {"user": "alice"}
    world.now = NOW + 600
    assert is_fresh(engine.load(cookies))
    assert world.reasons == ["expired"]


@pytest.mark.parametrize("path", TOKEN_PATHS)
def test_lowering_idle_timeout_ends_idle_sessions(path: str) -> None:
    world = World(path)
    cookies = world.cookies(world.engine(idle_timeout=4 * 3600), {"user": "alice"})
    world.now = NOW + 1200
    assert world.data(world.engine(idle_timeout=4 * 3600).load(cookies)) == {"user": "alice"}
    assert is_fresh(world.engine(idle_timeout=600).load(cookies))
    assert world.reasons == ["expired"]


@pytest.mark.parametrize("path", TOKEN_PATHS)
def test_raising_idle_timeout_readmits_an_idle_cookie(path: str) -> None:
    """The limit: the idle bound is not sealed, so raising it re-admits an idle cookie.

    Not through the store: the record's TTL was set by the old bound.
    """
    world = World(path)
    cookies = world.cookies(world.engine(idle_timeout=600), {"user": "alice"})
    world.now = NOW + 1800
    assert is_fresh(world.engine(idle_timeout=600).load(cookies))
    session = world.engine(idle_timeout=3600).load(cookies)
    if path == "store":
        assert is_fresh(session)
        assert world.reasons == ["expired", "store_missing"]
    else:
        assert world.data(session) == {"user": "alice"}


@pytest.mark.parametrize("path", TOKEN_PATHS)
def test_absolute_timeout_ends_it(path: str) -> None:
    world = World(path)
    engine = world.engine(absolute_timeout=3600)
    cookies = world.cookies(engine, {"user": "alice"})
    world.now = NOW + 3599
    assert world.data(engine.load(cookies)) == {"user": "alice"}
    world.now = NOW + 3600
    assert is_fresh(engine.load(cookies))
    assert world.reasons == ["expired"]


@pytest.mark.parametrize("path", TOKEN_PATHS)
def test_lowering_absolute_timeout_ends_older_sessions_and_raising_revives_none(
    path: str,
) -> None:
    world = World(path)
    cookies = world.cookies(world.engine(absolute_timeout=DAY), {"user": "alice"})
    world.now = NOW + 2 * 3600
    assert is_fresh(world.engine(absolute_timeout=3600).load(cookies))
    world.now = NOW + DAY
    assert is_fresh(world.engine(absolute_timeout=14 * DAY).load(cookies))
    assert world.reasons == ["expired", "expired"]


# -- generation and denylist -------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_generation_ends_it(path: str) -> None:
    """A "log out everywhere" generation bump refuses the user's older sessions."""
    world = World(path)
    epochs = {"alice": 0}
    engine = world.engine(generation_check=epoch_check(epochs))
    cookies = world.cookies(engine, {"user": "alice"})
    assert world.data(engine.load(cookies)) == {"user": "alice"}
    epochs["alice"] = 1
    assert is_fresh(engine.load(cookies))
    assert world.reasons == ["revoked"]


@pytest.mark.parametrize("path", TOKEN_PATHS)
def test_denylist_ends_it(path: str) -> None:
    world = World(path)
    engine = world.engine(denylist=MemoryStore(evict=False, clock=lambda: world.now))
    cookies = world.cookies(engine, {"user": "alice"})
    engine.revoke(engine.load(cookies))
    assert is_fresh(engine.load(cookies))
    world.now = NOW + 14 * DAY - 1
    assert is_fresh(engine.load(cookies))
    assert world.reasons == ["revoked", "revoked"]


def test_a_revoked_migration_does_not_stop_a_copied_legacy_cookie() -> None:
    """The limit: a legacy cookie carries no id of ours; each read is a new session id.

    Revoking the migrated session denies its new id; a copy of the legacy
    cookie migrates again (until ``migrate_until`` or the reader's max_age).
    """
    world = World("legacy")
    engine = world.engine(denylist=MemoryStore(evict=False, clock=lambda: world.now))
    legacy = world.cookies(engine, {"user": "alice"})
    session = engine.load(legacy)
    assert session.migrated
    ours = dict(line.split(";")[0].split("=", 1) for line in engine.commit(session, legacy))
    engine.revoke(session)
    assert is_fresh(engine.load(ours))
    again = engine.load(legacy)
    assert again.migrated
    assert world.data(again) == {"user": "alice"}


def test_denylist_entries_live_absolute_timeout_plus_skew() -> None:
    """An entry lives as long as a session issued now could open, plus 60 s of clock skew."""
    ttls: list[int] = []

    class Recording(MemoryStore):
        def set(self, key: str, value: bytes, ttl: int) -> None:
            ttls.append(ttl)
            super().set(key, value, ttl)

    world = World("sealed")
    engine = world.engine(denylist=Recording(evict=False), absolute_timeout=3 * DAY)
    engine.revoke(engine.load(world.cookies(engine, {"user": "alice"})))
    assert ttls == [3 * DAY + 60]


# -- keys, destroy, regenerate ---------------------------------------------------


@pytest.mark.parametrize("path", TOKEN_PATHS)
def test_key_retirement_ends_it(path: str) -> None:
    world = World(path)
    cookies = world.cookies(world.engine(), {"user": "alice"})
    emergency = ring_of(("a", SECRET_A, "retired"), ("b", SECRET_B, "primary"))
    assert is_fresh(world.engine(emergency).load(cookies))
    assert world.reasons == ["unknown_key"]


@pytest.mark.parametrize("path", PATHS)
def test_destroy_ends_it(path: str) -> None:
    """destroy() expires the cookie; a copy taken before replays, except a store reference's.

    A copy of a sealed cookie (or of a legacy one) still carries its data:
    the client-side limit, which the denylist or a generation bump covers.
    """
    world = World(path)
    engine = world.engine()
    cookies = world.cookies(engine, {"user": "alice"})
    session = engine.load(cookies)
    assert world.data(session) == {"user": "alice"}
    session.destroy()
    assert expiry_lines(engine.commit(session, cookies))
    copy = engine.load(cookies)
    if path == "store":
        assert is_fresh(copy)
        assert world.reasons == ["store_missing"]
    else:
        assert world.data(copy) == {"user": "alice"}


@pytest.mark.parametrize("path", TOKEN_PATHS)
def test_regenerate_ends_the_old_id(path: str) -> None:
    """regenerate() moves the data under a new id; the old id's store record goes.

    A copy of the old sealed cookie still opens until its deadline (revoke()
    covers it: tests/engine/test_rules.py::test_revoke_after_destroy_revokes_the_loaded_id).
    """
    world = World(path)
    engine = world.engine()
    cookies = world.cookies(engine, {"user": "alice"})
    session = engine.load(cookies)
    old = session.id
    session.regenerate()
    lines = engine.commit(session, cookies)
    jar = dict(line.split(";")[0].split("=", 1) for line in lines if "Max-Age=0" not in line)
    renewed = engine.load(jar)
    assert renewed.id != old
    assert world.data(renewed) == {"user": "alice"}
    copy = engine.load(cookies)
    if path == "store":
        assert is_fresh(copy)
        assert world.reasons == ["store_missing"]
    else:
        assert copy.id == old


# -- the migration deadline ---------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_migrate_until_ends_only_legacy_cookies(path: str) -> None:
    """After migrate_until a legacy cookie is not read; sessions of ours live on."""
    world = World(path)
    until = dt.datetime.fromtimestamp(NOW + 3600, dt.UTC)
    engine = world.engine(migrate_until=until)
    cookies = world.cookies(engine, {"user": "alice"})
    assert world.data(engine.load(cookies)) == {"user": "alice"}
    world.now = NOW + 3600
    session = engine.load(cookies)
    if path == "legacy":
        assert is_fresh(session)
        # Not read, and expired on the response so that it stops coming.
        assert expiry_lines(engine.commit(session, cookies))
    else:
        assert world.data(session) == {"user": "alice"}
        assert not session.migrated


# -- bugs this file found (fixed) -----------------------------------------------------


def test_a_revocation_survives_lowering_then_raising_absolute_timeout() -> None:
    """Incident: absolute_timeout 14 d -> 1 d, revoke a session, then back to 14 d."""
    world = World("sealed")
    denylist = MemoryStore(evict=False, clock=lambda: world.now)
    cookies = world.cookies(
        world.engine(absolute_timeout=14 * DAY, denylist=denylist), {"user": "alice"}
    )
    during = world.engine(absolute_timeout=DAY, denylist=denylist)
    during.revoke(during.load(cookies))
    assert is_fresh(during.load(cookies))
    world.now = NOW + 2 * DAY  # the entry (1 d + 60 s) has expired; the sealed deadline has not
    after = world.engine(absolute_timeout=14 * DAY, denylist=denylist)
    assert is_fresh(after.load(cookies))


def test_a_legacy_value_beside_a_valid_token_does_not_log_the_user_out() -> None:
    """A second ``session`` value (another domain or path) that a reader verifies.

    Our token loads, but the response expires ``session`` at the reader's
    Path=/ (host-only): that is our own cookie in the browser, not the other
    one. The next request carries only the legacy value, which is migrated:
    the user is logged out, or (a cookie tossed from a sibling subdomain)
    logged in as whoever signed it.
    """
    world = World("sealed")
    engine = world.engine()
    ours = world.cookies(engine, {"user": "alice"})["session"]
    tossed = starlette_cookie({"user": "mallory"})  # Domain=example.com, say
    header = f"session={ours}; session={tossed}"
    session = engine.load(parse_cookie_header(header))
    assert world.data(session) == {"user": "alice"}
    lines = engine.commit(session, parse_cookie_header(header))
    host_only_root = [
        line
        for line in lines
        if line.startswith("session=") and "Path=/;" in line and "Domain=" not in line
    ]
    if any("Max-Age=0" in line for line in host_only_root):
        header = f"session={tossed}"  # our host-only cookie is gone from the jar
    assert world.data(engine.load(parse_cookie_header(header))) == {"user": "alice"}
