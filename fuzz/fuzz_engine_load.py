"""Fuzz target: the whole request path, Cookie header -> parse -> `SessionEngine.load`.

Engines cover every load branch: the defaults; a store, an idle timeout, a
generation check and a denylist; and legacy migration from Flask, Starlette
and Django cookies (`cookiesess.legacy` readers, one sharing the engine's
cookie name).

Invariant: for any Cookie header, `load` never raises and always returns a
`Session` (the engine turns every bad cookie into a fresh one), and
committing that session for the response never raises either, with every
Set-Cookie line within `max_cookie_bytes`. A session
holds data only if it came from a real token or a validly signed legacy
cookie, and then holds exactly that data; a new session is empty; `load`
never writes to a store. `needs_store` never raises. No hang
(``-timeout=1``), no unbounded memory (``-rss_limit_mb=512``).

Input layout: byte 0 picks the engine, the rest is the Cookie header (latin-1).
"""

from __future__ import annotations

import sys
from typing import Any

from _fuzzlib import (
    LEGACY_DATA,
    LEGACY_SECRET,
    SAMPLE_DATA,
    DictStore,
    make_engine,
    plain,
    seal_cookies,
)

from cookiesess import Session, SessionEngine
from cookiesess.cookies import parse_cookie_header
from cookiesess.exceptions import SessionTooLarge
from cookiesess.legacy import DjangoSignedCookiesReader, FlaskSessionReader, StarletteSessionReader

STORE = DictStore()
DENYLIST = DictStore()
READERS = (
    FlaskSessionReader(LEGACY_SECRET, cookie_name="session"),
    StarletteSessionReader(LEGACY_SECRET, cookie_name="starlette"),
    DjangoSignedCookiesReader(LEGACY_SECRET, cookie_name="sessionid"),
)


def _generation(session: Session) -> int | None:
    # Revokes every session issued under generation 0 whose data says so.
    return 1 if dict.get(session, "revoked") else None


ENGINES: tuple[SessionEngine, ...] = (
    make_engine(),
    make_engine(
        cookie_name="s",
        store=STORE,
        idle_timeout=3600,
        generation_check=_generation,
        denylist=DENYLIST,
    ),
    make_engine(migrate_from=READERS),
)
REVOKED_DATA: dict[str, Any] = {"revoked": True}


def _seal_all() -> list[tuple[int, dict[str, str]]]:
    """Seal the real sessions the seed corpus carries (records go to STORE)."""
    sealed = []
    for index, engine in enumerate(ENGINES):
        for n, data in enumerate((*SAMPLE_DATA, REVOKED_DATA)):
            seed = b"engine_load/%d/%d" % (index, n)
            try:
                sealed.append((index, seal_cookies(engine, data, seed=seed)))
            except SessionTooLarge:
                continue
    # One session of the store engine is on the denylist.
    denied = ENGINES[1].load(sealed_for(sealed, 1)[1])
    ENGINES[1].revoke(denied)
    STORE.writes = DENYLIST.writes = 0
    return sealed


def sealed_for(sealed: list[tuple[int, dict[str, str]]], index: int) -> list[dict[str, str]]:
    """Return the cookie jars sealed by engine `index`."""
    return [jar for i, jar in sealed if i == index]


SEALED = _seal_all()


def TestOneInput(data: bytes) -> None:
    """Load a session from an arbitrary Cookie header."""
    engine = ENGINES[data[0] % len(ENGINES)] if data else ENGINES[0]
    cookies = parse_cookie_header(data[1:])
    session = engine.load(cookies)
    assert isinstance(session, Session)
    values = plain(session)
    if not session.new:
        assert values in (*SAMPLE_DATA, REVOKED_DATA), "a session holds data no one sealed"
        if engine is ENGINES[1]:
            assert values != REVOKED_DATA, "the generation check let a revoked session in"
            assert values != SAMPLE_DATA[1], "a denylisted session id opened"
    elif session.migrated:
        assert values in LEGACY_DATA, "a migrated session holds data no one signed"
    else:
        assert not values
    engine.needs_store(cookies)
    assert STORE.writes == 0
    assert DENYLIST.writes == 0
    # The response side of the same request: committing what load returned
    # never raises and every line fits. Store state is restored afterwards so
    # every input runs against the same store.
    saved = dict(STORE.data)
    try:
        lines = engine.commit(session, cookies)
    finally:
        STORE.data = saved
        STORE.writes = 0
    limit = engine.config.max_cookie_bytes
    assert all(len(line.encode("latin-1")) <= limit for line in lines)


if __name__ == "__main__":
    import atheris

    atheris.instrument_all()
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
