"""A model-based state machine over the whole session lifecycle.

Each rule is one request (load from the browser's cookies, act, commit, apply
the Set-Cookie lines to the browser) or an operator action (key rotation
through add as decrypt -> promote -> retire, the clock moving on). A small
model says what the session should hold; after every step the browser's
cookies must reload to exactly that, the cookies must fit their limits, and
the store must never see plaintext.
"""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from cookiesess import Keyring, Session, SessionConfig, SessionEngine, SessionTooLarge
from cookiesess.keys import Key
from cookiesess.stores import MemoryStore
from tests.helpers import NOW, SECRET_A, SECRET_B, SECRET_C, Browser

SECRETS = (
    SECRET_A,
    SECRET_B,
    SECRET_C,
    bytes(range(1, 33)),
    bytes(range(33, 65)),
    bytes(range(150, 182)),
)
MARKER = "PLAINTEXT-MARKER"
IDLE = 3600
ABSOLUTE = 2 * 24 * 3600
REFRESH = max(60, IDLE // 10)  # the engine's default refresh granularity
MAX_COOKIE = 4096
MAX_TOTAL = 6000
COOKIE = "__Host-sid"
DATA_KEYS = st.sampled_from(["a", "b", "c"])
DATA_VALUES = st.one_of(st.integers(-5, 5), st.sampled_from(["x", MARKER, ""]), st.none())


class RecordingStore:
    """Delegates to a real store and keeps every key and value ever written."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.written: list[tuple[str, bytes]] = []

    def get(self, key: str) -> bytes | None:
        return self.inner.get(key)  # type: ignore[no-any-return]

    def set(self, key: str, value: bytes, ttl: int) -> None:
        assert ttl >= 1
        self.written.append((key, value))
        self.inner.set(key, value, ttl)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def touch(self, key: str, ttl: int) -> bool:
        return self.inner.touch(key, ttl)  # type: ignore[no-any-return]


class Lifecycle(RuleBasedStateMachine):
    """The model: what the session holds, which key sealed it, and its clocks."""

    def __init__(self) -> None:
        super().__init__()
        self.now = NOW
        self.browser = Browser()
        self.keys: list[tuple[int, str]] = [(0, "primary")]  # (secret index, state)
        self.next_key = 1
        self.data: dict[str, Any] | None = None  # None: no usable session
        self.sealed_by = 0
        self.deadline = 0
        self.last = 0
        self.lines: list[str] = []
        self.ids: set[str] = set()
        self.store: RecordingStore | None = None
        self.engine = self._engine()

    # -- plumbing ------------------------------------------------------------

    def _engine(self) -> SessionEngine:
        ring = Keyring([Key(f"k{i}", SECRETS[i], state) for i, state in self.keys])  # type: ignore[arg-type]
        config = SessionConfig(
            cookie_name=COOKIE,
            idle_timeout=IDLE,
            absolute_timeout=ABSOLUTE,
            max_cookie_bytes=MAX_COOKIE,
            max_total_bytes=MAX_TOTAL,
            store=self.store,
            clock=lambda: self.now,
        )
        return SessionEngine(ring, config)

    @property
    def primary(self) -> int:
        return next(i for i, state in self.keys if state == "primary")

    def _valid(self) -> bool:
        """Whether the model's session survives this instant (keys, deadline, idle)."""
        return (
            self.data is not None
            and any(i == self.sealed_by for i, _ in self.keys)
            and self.now < self.deadline
            and self.now - self.last < IDLE
        )

    def _load(self) -> Session:
        if not self._valid():
            self.data = None
        session = self.engine.load(self.browser.cookies)
        self.ids.add(session.id)
        return session

    def _commit(self, session: Session, *, expect_write: bool | None = None) -> bool:
        """Commit and apply the lines; return False when the request failed."""
        try:
            lines = self.engine.commit(session, self.browser.cookies)
        except SessionTooLarge:
            assert self.store is None
            return False
        self.lines = lines
        wrote = any(line.startswith(f"{COOKIE}=") and "Max-Age=0" not in line for line in lines)
        if expect_write is not None:
            assert wrote == expect_write, (expect_write, lines)
        self.browser.apply(lines)
        if wrote:
            self.last = self.now
            self.sealed_by = self.primary
        return True

    def _refresh_due(self) -> bool:
        return self.sealed_by != self.primary or self.now - self.last >= REFRESH

    def _start_if_needed(self) -> None:
        if self.data is None:
            self.data = {}
            self.deadline = self.now + ABSOLUTE

    # -- requests --------------------------------------------------------------

    @initialize(with_store=st.booleans())
    def configure(self, with_store: bool) -> None:
        if with_store:
            inner = MemoryStore(clock=lambda: self.now)
            self.store = RecordingStore(inner)
            self.engine = self._engine()

    @rule(key=DATA_KEYS, value=DATA_VALUES)
    def set_value(self, key: str, value: Any) -> None:
        session = self._load()
        changed = self.data is None or self.data.get(key, object()) != value
        expect = changed or (self.data is not None and self._refresh_due())
        session[key] = value
        if self._commit(session, expect_write=expect):
            self._start_if_needed()
            assert self.data is not None
            self.data[key] = value

    @precondition(lambda self: self._valid() and bool(self.data))
    @rule(data=st.data())
    def delete_value(self, data: st.DataObject) -> None:
        session = self._load()
        assert self.data
        key = data.draw(st.sampled_from(sorted(self.data)))
        del session[key]
        self._commit(session)
        del self.data[key]
        if not self.data:
            self.data = None  # an emptied session expires its cookies

    @rule()
    def read_only(self) -> None:
        session = self._load()
        expect = self.data is not None and self._refresh_due()
        self._commit(session, expect_write=expect)

    @rule()
    def regenerate(self) -> None:
        session = self._load()
        old = session.id
        session.regenerate()
        assert session.id != old
        self._commit(session, expect_write=True)
        self._start_if_needed()
        self.deadline = self.now + ABSOLUTE

    @rule()
    def destroy(self) -> None:
        session = self._load()
        session.destroy()
        self._commit(session, expect_write=False)
        self.data = None
        assert not any(k.startswith(COOKIE) for k in self.browser.jar)

    @rule(size=st.sampled_from([2500, 4500, 9000, 30000]))
    def grow(self, size: int) -> None:
        session = self._load()
        value = (MARKER * (size // len(MARKER) + 1))[:size]
        session["big"] = value
        if self._commit(session):
            self._start_if_needed()
            assert self.data is not None
            self.data["big"] = value

    @precondition(lambda self: self._valid() and "big" in (self.data or {}))
    @rule()
    def shrink(self) -> None:
        session = self._load()
        del session["big"]
        self._commit(session)
        assert self.data is not None
        del self.data["big"]
        if not self.data:
            self.data = None

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

    @rule(seconds=st.sampled_from([1, 59, REFRESH, IDLE - 1, IDLE, 86_400, ABSOLUTE]))
    def advance_clock(self, seconds: int) -> None:
        self.now += seconds

    # -- invariants ------------------------------------------------------------

    @invariant()
    def browser_cookies_reload_to_the_model(self) -> None:
        session = self.engine.load(self.browser.cookies)
        if self._valid():
            assert not session.new
            assert dict(dict.items(session)) == self.data
        else:
            assert session.new
            assert not dict.__len__(session)

    @invariant()
    def every_line_fits_one_cookie(self) -> None:
        for line in self.lines:
            assert len(line.encode()) <= MAX_COOKIE, len(line)

    @invariant()
    def session_cookies_fit_the_total(self) -> None:
        pairs = [f"{k}={v}" for k, v in self.browser.jar.items() if k.startswith(COOKIE)]
        assert len("; ".join(pairs).encode()) <= MAX_TOTAL

    @invariant()
    def the_store_never_sees_plaintext_or_ids(self) -> None:
        if self.store is None:
            return
        for key, value in self.store.written:
            assert MARKER.encode() not in value
            assert not any(sid in key for sid in self.ids)


Lifecycle.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
test_lifecycle = Lifecycle.TestCase
