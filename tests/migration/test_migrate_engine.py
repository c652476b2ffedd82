"""Engine rules of legacy migration: option forms, several readers, which cookies get expired."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable

import pytest

itsdangerous = pytest.importorskip("itsdangerous")

from cookiesess import ConfigurationError, SessionEngine  # noqa: E402
from cookiesess.legacy import FlaskSessionReader, StarletteSessionReader  # noqa: E402
from cookiesess.stores import MemoryStore  # noqa: E402
from tests.helpers import NOW  # noqa: E402

SECRET = "engine-migration-secret-3c9e1a7f5b2d8046"
OLD_SECRET = "engine-migration-old-secret-7a1f9c3e5d"
MakeEngine = Callable[..., SessionEngine]


class _Signer(itsdangerous.TimestampSigner):
    def get_timestamp(self) -> int:
        return NOW


def flask_cookie(data: object, secret: str = SECRET) -> str:
    """A Flask session cookie signed at NOW (itsdangerous as Flask configures it)."""
    serializer = itsdangerous.URLSafeTimedSerializer(
        secret,
        salt="cookie-session",
        signer=_Signer,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
    )
    return str(serializer.dumps(data))


class TestOptionForms:
    def test_one_reader_or_a_list_is_stored_as_a_tuple(self, make_engine: MakeEngine) -> None:
        """A single reader, a list or a generator all become a tuple."""
        reader = FlaskSessionReader(SECRET)

        assert make_engine(migrate_from=reader).config.migrate_from == (reader,)
        assert make_engine(migrate_from=[reader]).config.migrate_from == (reader,)
        assert make_engine(migrate_from=iter([reader])).config.migrate_from == (reader,)

    def test_bad_entries_are_all_reported(self, make_engine: MakeEngine) -> None:
        """Names, non-readers and unrenderable attributes are refused at construction, together."""
        unsafe = FlaskSessionReader(SECRET, samesite="None", secure=False)

        with pytest.raises(ConfigurationError) as caught:
            make_engine(migrate_from=[object(), unsafe], migrate_until=dt.datetime(2030, 1, 1))

        problems = "\n".join(caught.value.problems)
        assert "is not a legacy reader" in problems
        assert "samesite='None' requires secure=True" in problems
        assert "migrate_until must be an aware datetime" in problems
        with pytest.raises(ConfigurationError, match="pass reader objects"):
            make_engine(migrate_from="starlette")
        with pytest.raises(ConfigurationError, match="migrate_until"):
            make_engine(migrate_from=[], migrate_until="2030-01-01")


class TestReading:
    def test_a_second_reader_of_the_same_cookie_is_tried(self, make_engine: MakeEngine) -> None:
        """Readers are tried in order; the first that verifies wins, with no rejection."""
        reasons: list[str] = []
        readers = [FlaskSessionReader(SECRET), FlaskSessionReader(OLD_SECRET)]
        engine = make_engine(migrate_from=readers, on_reject=reasons.append)

        session = engine.load({"session": flask_cookie({"u": 1}, OLD_SECRET)})

        assert dict(session) == {"u": 1}
        assert session._state.migrated is readers[1]
        assert reasons == []

    def test_all_readers_refusing_is_one_rejection(self, make_engine: MakeEngine) -> None:
        """No reader verifies: one legacy_rejected, a fresh session."""
        reasons: list[str] = []
        readers = [FlaskSessionReader(SECRET), FlaskSessionReader(OLD_SECRET)]
        engine = make_engine(migrate_from=readers, on_reject=reasons.append)

        session = engine.load({"session": flask_cookie({"u": 1}, "a-third-secret-0000000000")})

        assert session.new
        assert not session
        assert reasons == ["legacy_rejected"]

    def test_too_large_to_reseal_without_a_store(self, make_engine: MakeEngine) -> None:
        """A compressed cookie inflating past the budget: no store, a fresh session (not a 500)."""
        reasons: list[str] = []
        cookies = {"session": flask_cookie({"pad": "a" * 20_000})}
        assert len(cookies["session"]) < 200
        engine = make_engine(migrate_from=FlaskSessionReader(SECRET), on_reject=reasons.append)

        session = engine.load(cookies)

        assert session.new
        assert not session
        assert reasons == ["too_large"]

    def test_too_large_for_the_cookie_moves_to_the_store(self, make_engine: MakeEngine) -> None:
        """With a store, the same cookie migrates into it."""
        store = MemoryStore()
        cookies = {"session": flask_cookie({"pad": "a" * 20_000})}
        engine = make_engine(migrate_from=FlaskSessionReader(SECRET), store=store)

        session = engine.load(cookies)
        lines = engine.commit(session, cookies)

        assert session == {"pad": "a" * 20_000}
        assert len(lines) == 1
        assert dict(engine.load({"session": lines[0].split(";")[0][8:]})) == dict(session)

    def test_deadline_is_exclusive(self, make_engine: MakeEngine) -> None:
        """At migrate_until exactly, legacy cookies are no longer read."""
        until = dt.datetime.fromtimestamp(NOW, dt.UTC)
        cookie = {"session": flask_cookie({"u": 1})}
        reader = FlaskSessionReader(SECRET)

        assert dict(make_engine(migrate_from=reader, migrate_until=until).load(cookie)) == {}
        later = until + dt.timedelta(seconds=1)
        assert dict(make_engine(migrate_from=reader, migrate_until=later).load(cookie)) == {"u": 1}


class TestExpiring:
    def test_same_name_and_attributes_is_overwritten_not_expired(
        self, make_engine: MakeEngine
    ) -> None:
        """Our cookie replaces the legacy one in the jar: one Set-Cookie, no expiry."""
        engine = make_engine(migrate_from=FlaskSessionReader(SECRET, samesite="Lax"))
        cookies = {"session": flask_cookie({"u": 1})}

        lines = engine.commit(engine.load(cookies), cookies)

        assert len(lines) == 1
        assert lines[0].startswith("session=AQ")

    def test_domain_compares_without_the_leading_dot(self, make_engine: MakeEngine) -> None:
        """Domain=.Example.com and example.com name the same cookie (RFC 6265 5.2.3)."""
        reader = FlaskSessionReader(SECRET, domain=".Example.com")
        engine = make_engine(migrate_from=reader, domain="example.com")
        cookies = {"session": flask_cookie({"u": 1})}

        assert len(engine.commit(engine.load(cookies), cookies)) == 1

    def test_another_domain_or_partition_is_expired_with_its_attributes(
        self, make_engine: MakeEngine
    ) -> None:
        """Same name, other Domain and Partitioned: expired as it was set, beside our cookie."""
        reader = FlaskSessionReader(
            SECRET, domain="example.com", secure=True, samesite="None", partitioned=True
        )
        engine = make_engine(migrate_from=reader)
        cookies = {"session": flask_cookie({"u": 1})}

        lines = engine.commit(engine.load(cookies), cookies)

        assert lines[0] == (
            "session=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; "
            "Domain=example.com; Secure; HttpOnly; SameSite=None; Partitioned"
        )
        assert lines[1].startswith("session=AQ")

    def test_migrated_but_empty_is_expired(self, make_engine: MakeEngine) -> None:
        """An empty legacy session writes no cookie of ours, so the legacy one is expired."""
        engine = make_engine(migrate_from=FlaskSessionReader(SECRET))
        cookies = {"session": flask_cookie({})}

        session = engine.load(cookies)
        lines = engine.commit(session, cookies)

        assert session.migrated
        assert [line.split(";")[:2] for line in lines] == [["session=", " Max-Age=0"]]

    def test_another_name_is_expired_whenever_it_comes_along(self, make_engine: MakeEngine) -> None:
        """Even with our cookie rejected or absent, a differently named legacy cookie is expired."""
        engine = make_engine(migrate_from=StarletteSessionReader(SECRET, cookie_name="old"))
        fresh = engine.load({})

        assert engine.commit(fresh, {"old": "garbage"})[0].startswith("old=; Max-Age=0;")
        assert engine.commit(fresh, {"session": "garbage", "old": "x"})[0].startswith("old=;")
        assert engine.commit(fresh, {}) == []

    def test_same_name_unmigrated_is_left_alone(self, make_engine: MakeEngine) -> None:
        """A cookie under our own name that was not migrated is ours: never expired as legacy."""
        reader = FlaskSessionReader(SECRET, path="/app")
        engine = make_engine(migrate_from=reader)
        session = engine.load({})
        session["u"] = 1
        cookies = {"session": "whatever"}

        lines = engine.commit(session, cookies)

        assert len(lines) == 1
        assert lines[0].startswith("session=AQ")


def test_carries_legacy_names_the_requests_a_lazy_session_must_open(
    make_engine: MakeEngine,
) -> None:
    """True when a reader's cookie name came (valid or not: opening decides), else False."""
    migrating = make_engine(
        cookie_name="__Host-s", migrate_from=[FlaskSessionReader(SECRET, cookie_name="old")]
    )

    assert migrating.carries_legacy({"old": flask_cookie({"user": "alice"})})
    assert migrating.carries_legacy({"__Host-s": "x", "old": "junk"})
    assert not migrating.carries_legacy({"__Host-s": "x", "other": "y"})
    assert not make_engine().carries_legacy({"old": "x", "session": "y"})
