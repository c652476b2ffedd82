"""Opening: one value of the session cookie -> a `Session`, not yet admitted.

A value is a sealed token (its chunks joined by index) or a sealed reference
whose record is read from the store. Nothing is parsed before it is
authenticated; the admission (timeouts, generation, denylist) comes after,
in the engine.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from . import codec
from ._plaintext import EMPTY_DATA, unpack
from .envelope import Header, peek_header, read_header, unseal
from .exceptions import InvalidToken
from .session import Session

if TYPE_CHECKING:
    from ._drive import Step
    from ._fallback import Fallback
    from ._jar import Jar
    from ._lifetime import Lifetime
    from .keys import Key, Keyring

__all__ = ["Opened", "Opener"]


class Opened(NamedTuple):
    """A session cookie, opened but not yet admitted."""

    header: Header
    key: Key
    session: Session
    store_key: str | None
    has_data: bool
    """False for a store reference whose record was not read."""


class Opener:
    """Opens the values of one configuration's session cookie into sessions."""

    __slots__ = ("_ctx", "_fallback", "_jar", "_lifetime", "_max_age", "_store", "session_class")

    def __init__(
        self,
        *,
        session_class: type[Session],
        jar: Jar,
        lifetime: Lifetime,
        fallback: Fallback,
        context: bytes,
        store: Any,
        max_age: int | None,
    ) -> None:
        self.session_class = session_class
        self._jar = jar
        self._lifetime = lifetime
        self._fallback = fallback
        self._ctx = context
        self._store = store
        self._max_age = max_age

    def open(
        self, keyring: Keyring, cookies: Mapping[str, str], value: str, now: int, *, fetch: bool
    ) -> Generator[Step, Any, Opened]:
        """Reassemble, authenticate and parse one session cookie, and its record if any.

        The one place that opens a cookie, for `load` and `inspect`. With
        `fetch` false a store reference is parsed but its record is not read.

        Raises:
            InvalidToken: with the rejection reason.
        """
        # A single-chunk token is decoded once, by unseal, which refuses
        # whatever read_header would (same reason code).
        header = peek_header(value)
        if header is None or header.chunks != 1:
            header = read_header(value)
        token = value if header.chunks == 1 else self._jar.join(cookies, value, header.chunks)
        if header.purpose == "session":
            opened = unseal(keyring, token, purpose="session", context=self._ctx)
            session = self.loaded(opened.plaintext, opened.key)
            return Opened(header, opened.key, session, None, True)
        if header.purpose != "ref":
            raise InvalidToken("malformed")
        plaintext, key = self._fallback.open_ref(keyring, token)
        ref, _ = unpack(plaintext)
        self._lifetime.admit(ref, now)  # no store call for a reference already expired
        store_key = self._fallback.store_key(key, ref.sid)
        if not fetch:
            reference = self.session_class._loaded({}, EMPTY_DATA, ref)
            return Opened(header, key, reference, store_key, False)
        if self._store is None:
            raise InvalidToken("store_missing")  # a valid reference, but the app removed its store
        record = yield (self._store, "get", (store_key,))
        if record is None:
            raise InvalidToken("store_missing")
        session = self.loaded(self._fallback.open_record(keyring, record, ref.sid), key)
        session._state.source = (store_key, record)
        return Opened(header, key, session, store_key, True)

    def token(self, keyring: Keyring, token: str) -> Session:
        """Open a single-chunk session token (the usual request's fast path)."""
        opened = unseal(keyring, token, purpose="session", context=self._ctx)
        return self.loaded(opened.plaintext, opened.key)

    def loaded(self, plaintext: bytes, key: Key) -> Session:
        """The session an authenticated plaintext holds."""
        state, encoded = unpack(plaintext)
        state.default_max_age = self._max_age
        state.reseal = key.state != "primary"
        return self.session_class._loaded(codec.decode(encoded), encoded, state)

    def fresh(self, now: int, data: Mapping[str, Any] | None = None) -> Session:
        """A new session (holding `data`, e.g. a migrated legacy session's)."""
        session = self.session_class(data)
        state = session._state
        state.default_max_age = self._max_age
        self._lifetime.start(state, now)
        state.last = now
        return session
