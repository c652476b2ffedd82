"""docs/upgrading.md, checked: what 0.1.0 wrote still opens, and each documented change holds.

tests/release/v0_1/ was written by cookiesess 0.1.0 (make_v0_1_fixtures.py): a key file made
by its CLI, session cookies (one cookie, two chunks, a store reference) and the SQLite store
holding the large session. The wire format, the key file and the store schema are unchanged,
so a 0.2 deployment opens all of them with the same keys and options.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from cookiesess import ConfigurationError, Keyring, Session, SessionEngine, StoreError, cli
from cookiesess.stores import MemoryStore, SQLiteStore
from tests.release.upgrade_data import CASES, COOKIE_NAME, SEALED_AT

FIXTURES = Path(__file__).resolve().parent / "v0_1"
COOKIES: dict[str, dict[str, str]] = json.loads((FIXTURES / "cookies.json").read_text())
SOON = SEALED_AT + 120


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    """A copy of the 0.1 store file, on a clock shortly after the fixtures were sealed."""
    shutil.copy(FIXTURES / "store.sqlite3", tmp_path / "store.sqlite3")
    store = SQLiteStore(tmp_path / "store.sqlite3", clock=lambda: SOON)
    yield store
    store.close()


def engine(store: SQLiteStore | None = None, **options: object) -> tuple[SessionEngine, list[str]]:
    """An engine on the 0.1 key file, and the reasons it reports to `on_reject`."""
    rejected: list[str] = []
    built = SessionEngine(
        Keyring.from_file(FIXTURES / "keys.toml"),
        cookie_name=COOKIE_NAME,
        store=store,
        on_reject=rejected.append,
        **options,
    )
    return built, rejected


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_0_1_session_opens_unchanged(case: str, store: SQLiteStore) -> None:
    """Cookies (single, chunked, store reference) sealed by 0.1.0 open with their data."""
    eng, rejected = engine(store)

    session = eng.load(COOKIES[case], now=SOON)

    assert rejected == []
    assert not session.new
    assert dict(session) == CASES[case]


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_untouched_0_1_session_is_not_rewritten(case: str, store: SQLiteStore) -> None:
    """0.2 reads a 0.1 session as current: nothing to re-seal, so no Set-Cookie."""
    eng, _ = engine(store)

    session = eng.load(COOKIES[case], now=SOON)

    assert eng.commit(session, COOKIES[case], now=SOON) == []


def test_the_0_1_key_file_still_rotates(store: SQLiteStore, tmp_path: Path) -> None:
    """The CLI promotes the 0.1 file's second key; a 0.1 cookie then opens and is re-sealed."""
    keys = tmp_path / "keys.toml"
    shutil.copy(FIXTURES / "keys.toml", keys)
    old, new = (key.id for key in Keyring.from_file(keys).keys)

    assert cli.main(["keys", "promote", new, "--file", str(keys)]) == 0
    promoted = SessionEngine(Keyring.from_file(keys), cookie_name=COOKIE_NAME, store=store)
    session = promoted.load(COOKIES["small"], now=SOON)
    resealed = promoted.commit(session, COOKIES["small"], now=SOON)
    jar = dict(line.split(";", 1)[0].split("=", 1) for line in resealed)
    inspection = promoted.inspect(jar, now=SOON)

    assert dict(session) == CASES["small"]
    assert inspection is not None
    assert (inspection.key_id, inspection.key_state) == (new, "primary")
    assert new != old


def test_a_raising_generation_check_rejects_the_session() -> None:
    """Upgrade note 1: a `generation_check` that raises rejects the session (`hook_failed`)."""

    def check(session: Session) -> int:
        raise KeyError("user")

    eng, rejected = engine(generation_check=check)

    session = eng.load(COOKIES["small"], now=SOON)

    assert rejected == ["hook_failed"]
    assert session.new
    assert dict(session) == {}


def test_a_lowered_absolute_timeout_ends_older_sessions() -> None:
    """Upgrade note 2: lowering `absolute_timeout` ends sessions issued before the new limit."""
    two_hours_later = SEALED_AT + 2 * 3600
    lowered, rejected = engine(absolute_timeout=3600)
    unchanged, kept = engine()

    assert dict(unchanged.load(COOKIES["small"], now=two_hours_later)) == CASES["small"]
    assert kept == []
    assert dict(lowered.load(COOKIES["small"], now=two_hours_later)) == {}
    assert rejected == ["expired"]


def test_a_denylist_needs_an_absolute_deadline() -> None:
    """Upgrade note 3: `denylist` with `absolute_timeout=None` is refused at start-up."""
    with pytest.raises(ConfigurationError, match="absolute_timeout"):
        engine(denylist=MemoryStore(evict=False), absolute_timeout=None)


def test_a_denylist_never_evicts(tmp_path: Path) -> None:
    """Upgrade note 4: an evicting MemoryStore is refused; a full one makes revoke() raise."""
    with pytest.raises(ConfigurationError, match="evict=False"):
        engine(denylist=MemoryStore())
    eng, _ = engine(denylist=MemoryStore(max_entries=1, evict=False))
    eng.revoke(eng.load(COOKIES["small"], now=SOON), now=SOON)

    with pytest.raises(StoreError):
        eng.revoke(eng.load(COOKIES["chunked"], now=SOON), now=SOON)
    assert dict(eng.load(COOKIES["small"], now=SOON)) == {}
