"""Opening: one value of the session cookie -> a `Session`, not yet admitted.

A value is a sealed token (its chunks joined by index) or a sealed reference
whose record is read from the store. Nothing is parsed before it is
authenticated; the admission (timeouts, generation, denylist) comes after,
in the engine, on every request.

A browser sends the same cookie until the session changes, so the opener
remembers the single-cookie session tokens it authenticated, and those its
engine just sealed, which the browser sends back next (`KNOWN_TOKENS` of
them): the same string again is the same ciphertext, so it skips base64,
AES-GCM and, once its data was decoded twice, most of cbor2
(`_Known.fresh_data`). A token is remembered only once it authenticated
under this engine's keyring or was sealed under it, so a forged one cannot
enter.
"""

from __future__ import annotations

import marshal
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from . import codec
from ._plaintext import EMPTY_DATA, META_BYTES, Meta, read_meta, state_of, unpack
from .envelope import Header, peek_header, read_header, unseal
from .exceptions import InvalidToken
from .session import MUTABLE, Session

if TYPE_CHECKING:
    from ._drive import Step
    from ._fallback import Fallback
    from ._jar import Jar
    from ._lifetime import Lifetime
    from .keys import Key, Keyring

__all__ = ["KNOWN_TOKENS", "Opened", "Opener"]

KNOWN_TOKENS: Final = 2048
"""Session tokens remembered per engine (opened or sealed here), then all forgotten at once."""
_KNOWN_MAX_CHARS: Final = 4096
"""A longer token (a chunked session's; one cookie holds fewer characters) is neither
remembered nor looked up."""
_FLAT_KEYS: Final = 16
_FLAT_BYTES: Final = 512
"""Data of at most `_FLAT_KEYS` keys, none a container, encoded in at most this many
bytes, is kept decoded; the rest as bytes (decoded, a str takes up to 4 bytes a
character)."""


class Opened(NamedTuple):
    """A session cookie, opened but not yet admitted."""

    header: Header
    key: Key
    session: Session
    store_key: str | None
    has_data: bool
    """False for a store reference whose record was not read."""


class _Known:
    """A session token this engine authenticated or sealed, as every request opening it shares."""

    __slots__ = ("data", "decodes", "encoded", "frozen", "key", "meta", "reseal")

    def __init__(self, key: Key, meta: Meta, encoded: bytes, decodes: int) -> None:
        self.key = key
        self.meta = meta
        self.encoded = encoded
        self.reseal = key.state != "primary"
        self.decodes = decodes
        """How often `encoded` was decoded (the data is kept from the second time)."""
        self.data: dict[str, Any] | None = None
        """The decoded data, kept when it has few keys and no container."""
        self.frozen: bytes | None = None
        """The decoded data as `marshal` bytes, kept otherwise; empty when not kept."""

    def fresh_data(self) -> dict[str, Any]:
        """The token's data, as fresh as a new decode once `Session._loaded` copies it.

        Decoded a second time, a token's data is kept in the form cheapest to
        rebuild: when `small` and holding no container, as it is (a shallow
        copy is then a fresh one), otherwise as `marshal` bytes, which
        load to the same values, types and order at about 2.3x cbor2's speed.
        marshal takes only Python's built-in types, so data holding a
        datetime, date, UUID or Decimal is decoded every time, as is data whose
        marshal bytes would take over twice its CBOR. The bytes come from this
        process's own values, never from a request. (A token decoded once, as
        when an app writes on every request, never pays for keeping.)
        """
        if self.data is not None:
            return self.data
        frozen = self.frozen
        if frozen:
            return marshal.loads(frozen)  # type: ignore[no-any-return]  # noqa: S302 - our own bytes
        data = codec.decode(self.encoded)
        self.decodes += 1
        if frozen is None and self.decodes >= 2:
            if self.small(data) and MUTABLE.isdisjoint(map(type, data.values())):
                self.data = data
                return data
            try:
                frozen = marshal.dumps(data)
            except ValueError:  # not a built-in type
                frozen = b""
            # Bounded memory: marshal writes a small int in 5 bytes, CBOR in 1.
            self.frozen = frozen if len(frozen) <= 2 * len(self.encoded) else b""
        return data

    def small(self, data: dict[str, Any]) -> bool:
        """Whether `data`, this token's data, is small enough to keep decoded."""
        return len(self.encoded) <= _FLAT_BYTES and dict.__len__(data) <= _FLAT_KEYS


class Opener:
    """Opens the values of one configuration's session cookie into sessions."""

    __slots__ = (
        "_ctx",
        "_fallback",
        "_jar",
        "_keyring",
        "_known",
        "_lifetime",
        "_max_age",
        "_store",
        "session_class",
    )

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
        self._keyring: Keyring | None = None
        self._known: dict[str, _Known] = {}

    def open(
        self, keyring: Keyring, cookies: Mapping[str, str], value: str, now: int, *, fetch: bool
    ) -> Generator[Step, Any, Opened]:
        """Reassemble, authenticate and parse one session cookie, and its record if any.

        The one place that opens a cookie, for `load` and `inspect`. With
        `fetch` false a store reference is parsed but its record is not read.

        Raises:
            InvalidToken: with the rejection reason.
        """
        # The header is checked whole by unseal, which refuses whatever
        # read_header would (same reason code): peek_header's word is enough.
        header = peek_header(value) or read_header(value)
        token = value if header.chunks == 1 else self._jar.join(cookies, value, header.chunks)
        if header.purpose == "session":
            known, data = self._open_token(keyring, token)
            return Opened(header, known.key, self._session(known, data), None, True)
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

    def token(
        self, keyring: Keyring, cookies: Mapping[str, str], value: str, chunks: int
    ) -> Session:
        """Open a session token in `chunks` cookies, `value` the first (the usual request)."""
        token = value if chunks == 1 else self._jar.join(cookies, value, chunks)
        return self._session(*self._open_token(keyring, token))

    def loaded(self, plaintext: bytes, key: Key) -> Session:
        """The session an authenticated plaintext holds (a store record's)."""
        return self._session(*self._read(plaintext, key))

    @staticmethod
    def _read(plaintext: bytes, key: Key) -> tuple[_Known, dict[str, Any]]:
        """Parse an authenticated plaintext: its metadata, then its data."""
        meta = read_meta(plaintext)
        encoded = plaintext[META_BYTES:]
        return _Known(key, meta, encoded, 1), codec.decode(encoded)

    def _open_token(self, keyring: Keyring, token: str) -> tuple[_Known, dict[str, Any] | None]:
        """The token's known opening, and its decoded data if decoded just now."""
        if keyring is not self._keyring:  # a new keyring may lack a key: forget all
            self._known, self._keyring = {}, keyring
        # Keyed by the whole token: a guess is compared with a remembered token only
        # once their keyed hashes match, so no comparison tells how much of it was right.
        entry = self._known.get(token) if len(token) <= _KNOWN_MAX_CHARS else None
        if entry is not None:
            return entry, None
        opened = unseal(keyring, token, purpose="session", context=self._ctx)
        entry, data = self._read(opened.plaintext, opened.key)
        self._insert(keyring, token, entry)
        return entry, data

    def remember(
        self, keyring: Keyring, token: str, meta: Meta, encoded: bytes, data: dict[str, Any] | None
    ) -> None:
        """Remember a single-cookie session token just sealed under `keyring`'s primary key.

        The browser sends it back on its next request, which then opens it
        from memory. `data` is the dict `encoded` was made from just now (None
        when not known to be): when small, and a copy of it is what decoding
        would give (`codec.decoded_copy`), that copy is kept; otherwise the data
        is decoded when the token comes back.
        """
        entry = _Known(keyring.primary, meta, encoded, 0)
        if data is not None and entry.small(data):
            entry.data = codec.decoded_copy(data)
        self._insert(keyring, token, entry)

    def _insert(self, keyring: Keyring, token: str, entry: _Known) -> None:
        if len(token) > _KNOWN_MAX_CHARS:
            return
        known = self._known
        if len(known) >= KNOWN_TOKENS or keyring is not self._keyring:
            # Replaced whole (atomic under other threads); a new keyring may lack a key.
            known = self._known = {}
            self._keyring = keyring
        known[token] = entry

    def _session(self, known: _Known, data: dict[str, Any] | None) -> Session:
        """A new `Session` of a known token (its state is per request)."""
        state = state_of(known.meta)
        state.default_max_age = self._max_age
        state.reseal = known.reseal
        if data is None:
            data = known.fresh_data()
        return self.session_class._loaded(data, known.encoded, state)

    def forget(self) -> None:
        """Forget every remembered token (benchmarks of a cold process call it)."""
        self._known = {}

    def fresh(self, now: int, data: Mapping[str, Any] | None = None) -> Session:
        """A new session (holding `data`, e.g. a migrated legacy session's)."""
        session = self.session_class(data)
        state = session._state
        state.default_max_age = self._max_age
        self._lifetime.start(state, now)
        state.last = now
        return session
