"""A model-based state machine over the whole session lifecycle.

Each rule is one request (load from the browser's cookies, act, commit, apply
the Set-Cookie lines to the browser), an operator action (key rotation through
add as decrypt -> promote -> retire; lowering or raising ``absolute_timeout``
and ``idle_timeout``; "log out everywhere"; an outage of the generation
lookup), or something arriving in the browser (a legacy cookie to migrate,
junk values of the cookie name from other paths). The clock moves on, and an
attacker may copy the session cookie at any point.

A small model says what the browser's cookie holds (data, sealing key,
issued, sealed deadline, last activity, generation, id, store record) and
whether the configuration running *now* admits it. After every step the
browser's cookies, and any copied cookie, must load exactly when the model
says, to exactly the model's data; the cookies must fit their limits; and the
store must never see plaintext or ids.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

import itsdangerous
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from cookiesess import Keyring, Session, SessionConfig, SessionEngine, SessionTooLarge
from cookiesess.cookies import parse_cookie_header
from cookiesess.keys import Key
from cookiesess.legacy import StarletteSessionReader
from cookiesess.stores import MemoryStore
from tests.helpers import NOW, SECRET_A, SECRET_B, SECRET_C

SECRETS = (
    SECRET_A,
    SECRET_B,
    SECRET_C,
    bytes(range(1, 33)),
    bytes(range(33, 65)),
    bytes(range(150, 182)),
)
MARKER = "PLAINTEXT-MARKER"
DAY = 24 * 3600
SKEW = 60  # seconds an issued time may lie ahead; denylist entries outlive sessions by it
IDLE = 3600
ABSOLUTE = 2 * DAY
IDLES = (600, IDLE, 4 * IDLE, None)
ABSOLUTES = (6 * 3600, DAY, ABSOLUTE, 4 * DAY)
MAX_COOKIE = 4096
MAX_TOTAL = 6000
# Not a __Host- name: the legacy cookie shares it under another path.
COOKIE = "sid"
LEGACY_PATH = "/legacy"
LEGACY_SECRET = "starlette-legacy-secret-5b1e9d3f7a2c4e6b8d0f"
LEGACY_MAX_AGE = 2 * DAY
MIGRATE_UNTIL = NOW + 3 * DAY
JUNK = ("junk-from-another-path", "deleted", "x", "AQID")
DATA_KEYS = st.sampled_from(["a", "b", "c"])
DATA_VALUES = st.one_of(st.integers(-5, 5), st.sampled_from(["x", MARKER, ""]), st.none())


class RecordingStore:
    """Delegates to a real store and keeps every key, value and TTL ever written."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.written: list[tuple[str, bytes, int]] = []

    def get(self, key: str) -> bytes | None:
        return self.inner.get(key)  # type: ignore[no-any-return]

    def set(self, key: str, value: bytes, ttl: int) -> None:
        assert ttl >= 1
        self.written.append((key, value, ttl))
        self.inner.set(key, value, ttl)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def touch(self, key: str, ttl: int) -> bool:
        return self.inner.touch(key, ttl)  # type: ignore[no-any-return]


class _ClockedSigner(itsdangerous.TimestampSigner):
    """itsdangerous' signer with the model's clock instead of time.time()."""

    def __init__(self, secret: str, now: int) -> None:
        super().__init__(secret)
        self._now = now

    def get_timestamp(self) -> int:
        return self._now


def starlette_cookie(data: dict[str, Any], now: int) -> str:
    """A cookie as Starlette's SessionMiddleware writes it at `now` (signed, not encrypted)."""
    payload = base64.b64encode(json.dumps(data).encode())
    return _ClockedSigner(LEGACY_SECRET, now).sign(payload).decode()


def path_of(line: str) -> str | None:
    found = re.search(r"; Path=([^;]*)", line)
    return None if found is None else found.group(1)


class PathBrowser:
    """A cookie jar that knows paths: our cookies at ``/``, the legacy one at ``/legacy``.

    Junk values of the cookie name live under paths the app never names, so
    no Set-Cookie line reaches them; each is sent before or after ours.
    """

    def __init__(self) -> None:
        self.main: dict[str, str] = {}
        self.legacy: str | None = None
        self.legacy_first = True
        self.before: list[str] = []
        self.after: list[str] = []

    def apply(self, lines: list[str]) -> None:
        for line in lines:
            pair, _, attrs = line.partition(";")
            name, _, value = pair.partition("=")
            deleting = "Max-Age=0" in attrs
            if path_of(line) == LEGACY_PATH:
                assert name == COOKIE, line
                assert deleting, line  # the app only ever expires it
                self.legacy = None
                continue
            assert path_of(line) == "/", line
            if deleting:
                self.main.pop(name, None)
            else:
                self.main[name] = value

    def header(self) -> str:
        legacy = [] if self.legacy is None else [(COOKIE, self.legacy)]
        pairs = [(COOKIE, v) for v in self.before]
        pairs += legacy if self.legacy_first else []
        pairs += list(self.main.items())
        pairs += [] if self.legacy_first else legacy
        pairs += [(COOKIE, v) for v in self.after]
        return "; ".join(f"{k}={v}" for k, v in pairs)

    @property
    def cookies(self) -> dict[str, str]:
        return parse_cookie_header(self.header())


@dataclasses.dataclass(frozen=True)
class Sealed:
    """What one of our session cookies holds, as the model sees it."""

    data: dict[str, Any]
    key: int
    """Index of the secret that sealed it."""
    issued: int
    deadline: int
    """The sealed absolute deadline (the configuration may lower it, never raise it)."""
    last: int
    generation: int
    sid: str
    record_until: int | None
    """When its store record expires; None in cookie mode."""


class Lifecycle(RuleBasedStateMachine):
    """The model: the browser's cookie, the configuration running now, revocations."""

    def __init__(self) -> None:
        super().__init__()
        self.now = NOW
        self.browser = PathBrowser()
        self.keys: list[tuple[int, str]] = [(0, "primary")]  # (secret index, state)
        self.next_key = 1
        self.absolute = ABSOLUTE
        self.idle: int | None = IDLE
        self.epoch = 0
        self.hook_down = False
        self.cookie: Sealed | None = None
        self.copy: tuple[dict[str, str], Sealed] | None = None
        self.denied: dict[str, int] = {}  # session id -> when its denylist entry expires
        self.legacy: tuple[int, dict[str, Any]] | None = None  # (signed at, data)
        self.lines: list[str] = []
        self.ids: set[str] = set()
        self.store: RecordingStore | None = None
        self.denylist: MemoryStore | None = None
        self.reader: StarletteSessionReader | None = None
        self.engine = self._engine()

    # -- plumbing ------------------------------------------------------------

    def _engine(self) -> SessionEngine:
        ring = Keyring([Key(f"k{i}", SECRETS[i], state) for i, state in self.keys])  # type: ignore[arg-type]
        config = SessionConfig(
            cookie_name=COOKIE,
            idle_timeout=self.idle,
            absolute_timeout=self.absolute,
            max_cookie_bytes=MAX_COOKIE,
            max_total_bytes=MAX_TOTAL,
            store=self.store,
            denylist=self.denylist,
            generation_check=self._generation,
            migrate_from=() if self.reader is None else (self.reader,),
            migrate_until=(
                None if self.reader is None else dt.datetime.fromtimestamp(MIGRATE_UNTIL, dt.UTC)
            ),
            clock=lambda: self.now,
        )
        return SessionEngine(ring, config)

    def _generation(self, session: Session) -> int | None:
        """The app's per-user epoch ("log out everywhere" bumps it)."""
        if self.hook_down:
            raise RuntimeError("the user database is unreachable")
        return self.epoch if dict.__contains__(session, "user") else None

    @property
    def primary(self) -> int:
        return next(i for i, state in self.keys if state == "primary")

    def _admits(self, data: dict[str, Any], generation: int, sid: str | None) -> bool:
        """Generation and denylist: the admission every session passes after its timeouts."""
        if self.hook_down:
            return False  # a raising generation_check rejects (hook_failed)
        if "user" in data and generation < self.epoch:
            return False
        # An entry lives as long as any copy of the id could open (see revoke below).
        return sid is None or self.now >= self.denied.get(sid, 0)

    def _valid(self, sealed: Sealed | None) -> bool:
        """Whether a cookie opens now: its key, the current timeouts, its record, admission."""
        if sealed is None or not any(i == sealed.key for i, _ in self.keys):
            return False
        if self.now >= min(sealed.deadline, sealed.issued + self.absolute):
            return False
        if self.idle is not None and self.now - sealed.last >= self.idle:
            return False
        if sealed.record_until is not None and self.now >= sealed.record_until:
            return False
        return self._admits(sealed.data, sealed.generation, sealed.sid)

    def _legacy_verifies(self) -> bool:
        if self.legacy is None or self.browser.legacy is None:
            return False
        return 0 <= self.now - self.legacy[0] <= LEGACY_MAX_AGE

    def _expect(self) -> tuple[str, dict[str, Any]]:
        """What a load of the browser's cookies gives: ("main"|"legacy"|"fresh", data)."""
        if self.cookie is not None:
            # Junk is malformed, so our token is the only value that can open; and
            # being a cookiesess token, it keeps any legacy cookie from being read.
            return ("main", self.cookie.data) if self._valid(self.cookie) else ("fresh", {})
        if self.reader is not None and self.now < MIGRATE_UNTIL and self._legacy_verifies():
            assert self.legacy is not None
            if self._admits(self.legacy[1], 0, None):
                return "legacy", self.legacy[1]
        return "fresh", {}

    def _load(self) -> tuple[str, Session]:
        kind, data = self._expect()
        session = self.engine.load(self.browser.cookies)
        self.ids.add(session.id)
        assert dict(dict.items(session)) == data, (kind, data, dict(dict.items(session)))
        assert session.new == (kind != "main"), kind
        assert session.migrated == (kind == "legacy"), kind
        return kind, session

    def _action(
        self, kind: str, before: dict[str, Any], after: dict[str, Any], *, forced: bool
    ) -> str:
        """The commit's decision, from the model: delete, write or nothing."""
        new = kind != "main"
        if not after and (not new and after != before):
            return "delete"
        if forced or (after != before and not new):
            return "write"
        if new:
            return "write" if after else "nothing"
        assert self.cookie is not None
        every = None if self.idle is None else max(60, self.idle // 10)
        due = every is not None and self.now - self.cookie.last >= every
        return "write" if self.cookie.key != self.primary or due else "nothing"

    def _request(
        self,
        act: Callable[[Session], None],
        *,
        forced: bool = False,
        destroy: bool = False,
        regenerate: bool = False,
        generation: int | None = None,
    ) -> bool:
        """One request: load, act, commit, apply; the model follows. False on SessionTooLarge."""
        kind, session = self._load()
        before = dict(dict.items(session))
        act(session)
        after = dict(dict.items(session))
        action = "delete" if destroy else self._action(kind, before, after, forced=forced)
        legacy_came = self._legacy_verifies()
        written = len(self.store.written) if self.store is not None else 0
        try:
            lines = self.engine.commit(session, self.browser.cookies)
        except SessionTooLarge:
            assert self.store is None
            assert action == "write"
            return False
        self.lines = lines
        ours = [line for line in lines if line.startswith(f"{COOKIE}=") and path_of(line) == "/"]
        wrote = any("Max-Age=0" not in line for line in ours)
        assert wrote == (action == "write"), (action, lines)
        self.browser.apply(lines)
        if legacy_came:
            assert self.browser.legacy is None, lines  # a verifying legacy cookie goes
        if action == "delete":
            assert not any(k.startswith(COOKIE) for k in self.browser.main)
            self.cookie = None
        elif action == "write":
            self.ids.add(session.id)
            self._sealed(kind, session, after, regenerate, generation, written)
        return True

    def _sealed(
        self,
        kind: str,
        session: Session,
        data: dict[str, Any],
        regenerate: bool,
        generation: int | None,
        written: int,
    ) -> None:
        """The model's cookie after a write: a fresh lifetime for new or regenerated sessions."""
        old = self.cookie if kind == "main" else None
        if old is None or regenerate:
            issued, deadline = self.now, self.now + self.absolute
        else:
            issued, deadline = old.issued, old.deadline  # every copy keeps its issued deadline
        if generation is None:
            generation = 0 if old is None else old.generation
        record_until = None
        if self.store is not None and len(self.store.written) > written:
            (_, _, ttl), *_ = self.store.written[written:]
            every = None if self.idle is None else max(60, self.idle // 10)
            expected = min(deadline, issued + self.absolute) - self.now
            if self.idle is not None and every is not None:
                expected = min(expected, self.idle + every)
            assert ttl == max(1, expected), (ttl, expected)
            record_until = self.now + ttl
        self.cookie = Sealed(
            data=data,
            key=self.primary,
            issued=issued,
            deadline=deadline,
            last=self.now,
            generation=generation,
            sid=session.id,
            record_until=record_until,
        )

    def _loaded_data(self) -> dict[str, Any]:
        return self._expect()[1]

    # -- requests --------------------------------------------------------------

    @initialize(
        with_store=st.booleans(),
        with_denylist=st.booleans(),
        with_legacy=st.booleans(),
        idle=st.sampled_from(IDLES),
        absolute=st.sampled_from(ABSOLUTES),
    )
    def configure(
        self,
        with_store: bool,
        with_denylist: bool,
        with_legacy: bool,
        idle: int | None,
        absolute: int,
    ) -> None:
        self.idle = idle
        self.absolute = absolute
        if with_store:
            self.store = RecordingStore(MemoryStore(clock=lambda: self.now))
        if with_denylist:
            self.denylist = MemoryStore(evict=False, clock=lambda: self.now)
        if with_legacy:
            self.reader = StarletteSessionReader(
                LEGACY_SECRET,
                max_age=LEGACY_MAX_AGE,
                cookie_name=COOKIE,
                path=LEGACY_PATH,
                secure=True,
            )
        self.engine = self._engine()

    @rule(key=DATA_KEYS, value=DATA_VALUES)
    def set_value(self, key: str, value: Any) -> None:
        self._request(lambda session: session.__setitem__(key, value))

    @precondition(lambda self: bool(self._loaded_data()))
    @rule(data=st.data())
    def delete_value(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self._loaded_data())))
        self._request(lambda session: session.__delitem__(key))

    @rule()
    def read_only(self) -> None:
        self._request(lambda session: None)

    @rule()
    def regenerate(self) -> None:
        def act(session: Session) -> None:
            old = session.id
            session.regenerate()
            assert session.id != old

        self._request(act, forced=True, regenerate=True)

    @rule()
    def destroy(self) -> None:
        self._request(lambda session: session.destroy(), destroy=True)

    @rule()
    def login(self) -> None:
        """Log in: the user and the user's current generation go into the session."""

        def act(session: Session) -> None:
            session["user"] = "alice"
            session.generation = self.epoch

        self._request(act, forced=True, generation=self.epoch)

    @rule(size=st.sampled_from([2500, 4500, 9000, 30000]))
    def grow(self, size: int) -> None:
        value = (MARKER * (size // len(MARKER) + 1))[:size]
        self._request(lambda session: session.__setitem__("big", value))

    @precondition(lambda self: "big" in self._loaded_data())
    @rule()
    def shrink(self) -> None:
        self._request(lambda session: session.__delitem__("big"))

    @precondition(lambda self: self.denylist is not None)
    @rule(then=st.sampled_from([None, "regenerate", "destroy"]))
    def revoke(self, then: str | None) -> None:
        """Revoke the session (after `regenerate`/`destroy` in the same request, or not)."""
        revoked: list[str] = []
        old = self.cookie if self._valid(self.cookie) else None
        sealed_deadline = self.now + self.absolute if old is None else old.deadline

        def act(session: Session) -> None:
            revoked.append(session.id)
            if then is not None:
                getattr(session, then)()
                revoked.append(session.id)
            self.engine.revoke(session)

        self._request(
            act,
            forced=then == "regenerate",
            regenerate=then == "regenerate",
            destroy=then == "destroy",
        )
        for sid in revoked:
            # Every copy of the id carries the deadline it was issued with.
            ttl = max(sealed_deadline - self.now, self.absolute, 1) + SKEW
            self.denied[sid] = self.now + ttl

    # -- what arrives in the browser -----------------------------------------------

    @precondition(lambda self: self.reader is not None)
    @rule(user=st.booleans(), n=st.integers(0, 3), first=st.booleans(), alone=st.booleans())
    def legacy_cookie_arrives(self, user: bool, n: int, first: bool, alone: bool) -> None:
        """The app this one replaced set its cookie (under our name, at its own path).

        `alone`: in a browser that holds none of our cookies (another device).
        """
        if alone:
            self.browser.main.clear()
            self.cookie = None
        data: dict[str, Any] = {"legacy": n}
        if user:
            data["user"] = "alice"
        self.legacy = (self.now, data)
        self.browser.legacy = starlette_cookie(data, self.now)
        self.browser.legacy_first = first

    @precondition(lambda self: len(self.browser.before) + len(self.browser.after) < 2)
    @rule(value=st.sampled_from(JUNK), first=st.booleans())
    def junk_of_our_name_arrives(self, value: str, first: bool) -> None:
        """A value of our cookie name from another path or domain: never ours, never opens."""
        (self.browser.before if first else self.browser.after).append(value)

    @precondition(lambda self: bool(self.browser.before or self.browser.after))
    @rule()
    def junk_expires(self) -> None:
        (self.browser.before or self.browser.after).pop()

    @precondition(lambda self: self.cookie is not None and self.cookie.record_until is None)
    @rule()
    def attacker_copies_the_cookie(self) -> None:
        assert self.cookie is not None
        self.copy = (dict(self.browser.main), self.cookie)

    # -- operator actions ----------------------------------------------------

    @precondition(lambda self: self.next_key < len(SECRETS) and len(self.keys) < 3)
    @rule()
    def add_decrypt_key(self) -> None:
        self.keys.append((self.next_key, "decrypt"))
        self.next_key += 1
        self.engine = self._engine()

    @precondition(lambda self: any(i > self.primary for i, s in self.keys if s == "decrypt"))
    @rule()
    def promote_newest(self) -> None:
        newest = max(i for i, _ in self.keys)
        self.keys = [(i, "primary" if i == newest else "decrypt") for i, _ in self.keys]
        self.engine = self._engine()

    @precondition(lambda self: any(s == "decrypt" for _, s in self.keys))
    @rule()
    def retire_oldest(self) -> None:
        oldest = min(i for i, s in self.keys if s == "decrypt")
        self.keys = [(i, s) for i, s in self.keys if i != oldest]
        self.engine = self._engine()

    @rule(seconds=st.sampled_from(ABSOLUTES))
    def set_absolute_timeout(self, seconds: int) -> None:
        """Lower or raise absolute_timeout: a new engine, the same cookies."""
        self.absolute = seconds
        self.engine = self._engine()

    @rule(seconds=st.sampled_from(IDLES))
    def set_idle_timeout(self, seconds: int | None) -> None:
        self.idle = seconds
        self.engine = self._engine()

    @rule()
    def log_out_everywhere(self) -> None:
        self.epoch += 1

    @rule(down=st.sampled_from([True, False, False, False]))
    def generation_lookup_fails_or_recovers(self, down: bool) -> None:
        """The app's user database goes down (generation_check raises) or comes back."""
        self.hook_down = down

    @rule(seconds=st.sampled_from([1, 59, 360, IDLE - 1, IDLE, 5 * IDLE, DAY, ABSOLUTE]))
    def advance_clock(self, seconds: int) -> None:
        self.now += seconds

    # -- invariants ------------------------------------------------------------

    @invariant()
    def the_browser_holds_our_cookie_exactly_when_the_model_does(self) -> None:
        assert (COOKIE in self.browser.main) == (self.cookie is not None)

    @invariant()
    def browser_cookies_reload_to_the_model(self) -> None:
        kind, data = self._expect()
        session = self.engine.load(self.browser.cookies)
        assert dict(dict.items(session)) == data, (kind, data)
        assert session.new == (kind != "main")

    @invariant()
    def a_copied_cookie_loads_exactly_while_the_model_admits_it(self) -> None:
        if self.copy is None:
            return
        cookies, sealed = self.copy
        session = self.engine.load(cookies)
        if self._valid(sealed):
            assert not session.new
            assert dict(dict.items(session)) == sealed.data
        else:
            assert session.new
            assert not dict.__len__(session)

    @invariant()
    def every_line_fits_one_cookie(self) -> None:
        for line in self.lines:
            assert len(line.encode()) <= MAX_COOKIE, len(line)

    @invariant()
    def session_cookies_fit_the_total(self) -> None:
        pairs = [f"{k}={v}" for k, v in self.browser.main.items()]
        assert len("; ".join(pairs).encode()) <= MAX_TOTAL

    @invariant()
    def the_store_never_sees_plaintext_or_ids(self) -> None:
        if self.store is None:
            return
        for key, value, _ in self.store.written:
            assert MARKER.encode() not in value
            assert not any(sid in key for sid in self.ids)


Lifecycle.TestCase.settings = settings(max_examples=200, stateful_step_count=50, deadline=None)
test_lifecycle = Lifecycle.TestCase
