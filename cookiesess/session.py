"""The Session object: a dict that knows whether it changed. No I/O.

`Session` is a real `dict` (so `json.dumps(session)` and framework JSON
responses work) that remembers the encoded bytes it was loaded from. Whether it
was modified is decided from the encoding at commit, so in-place mutation of a
nested value counts; but when no mutable value was handed out and nothing was
set or deleted, nothing is re-encoded at all. `LazySession` is the opt-in
mapping that opens the cookie on first access.
"""

from __future__ import annotations

import datetime as _dt
import enum
import os
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any, Final

from . import _b64, codec

__all__ = [
    "MUTABLE",
    "SID_BYTES",
    "UNSET",
    "LazySession",
    "Session",
    "SessionState",
    "WebSocketSession",
]

SID_BYTES: Final = 32
MUTABLE: Final = frozenset({list, dict, set})
"""The types of decoded values that can change in place."""


class _Unset(enum.Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET
"""`SessionState.cookie_max_age` when the configured ``max_age`` applies."""


class SessionState:
    """A session's lifecycle state: the seam between `Session` and the engine.

    The engine fills it when it opens a cookie and reads it at commit; the
    session's methods (`Session.regenerate`, `Session.destroy`, …) record the
    user's requests in it. Times are Unix seconds; ``deadline`` 0 means none.
    """

    __slots__ = (
        "cookie_max_age",
        "deadline",
        "default_max_age",
        "destroyed",
        "forced",
        "generation",
        "issued",
        "last",
        "migrated",
        "refresh",
        "reseal",
        "retired",
        "sid",
        "source",
    )

    def __init__(self, sid: bytes) -> None:
        self.sid = sid
        self.issued = 0
        self.deadline = 0
        self.last = 0
        self.generation = 0
        self.cookie_max_age: int | _Unset | None = UNSET
        """Per-session Max-Age: seconds, None for a browser-session cookie, or `UNSET`."""
        self.default_max_age: int | None = None
        self.forced = False
        """`Session.save` or a lifecycle change asks for a write."""
        self.refresh = False
        """An activity refresh is due: marked at admission, or asked by `Session.touch`."""
        self.reseal = False
        """Opened under a key that is no longer the primary."""
        self.destroyed = False
        self.retired: tuple[bytes, ...] = ()
        """Ids this session had before `regenerate`/`destroy` (the first: as loaded)."""
        self.source: tuple[str, bytes] | None = None
        """(store key, record) the data was read from, for moves and deletes."""
        self.migrated: object = None
        """The legacy reader whose cookie this session was read from, if any."""


class Session(dict[str, Any]):
    """A session: a `dict` of the user's data plus lifecycle controls.

    Attributes:
        new: True when no valid session came with the request.
        accessed: True once the data was read or written through the mapping API.
    """

    __slots__ = (
        "_all_out",
        "_dirty",
        "_encoded",
        "_orig",
        "_out",
        "_state",
        "accessed",
        "new",
    )

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        # No dict.__init__: the instance is already an empty dict.
        if data:
            dict.update(self, data)  # a new session's values are all checked at commit
        self._start(SessionState(os.urandom(SID_BYTES)), None)

    @classmethod
    def _loaded(cls, data: dict[str, Any], encoded: bytes, state: SessionState) -> Session:
        session = cls.__new__(cls)
        dict.update(session, data)
        session._start(state, encoded)
        return session

    def _start(self, state: SessionState, encoded: bytes | None) -> None:
        """Set the per-request state: new when `encoded` is None, else as decoded from it."""
        self._state = state
        self.new: bool = encoded is None
        self.accessed: bool = False
        self._orig: bytes | None = encoded
        self._out: set[str] = set()
        self._all_out = False
        self._dirty = False
        self._encoded: bytes | None = None

    # -- identity and lifecycle ------------------------------------------

    @property
    def id(self) -> str:
        """The session id: 256 random bits, stable until `regenerate` or `destroy`."""
        return _b64.encode(self._state.sid)

    @property
    def migrated(self) -> bool:
        """Whether this session was read from a legacy cookie on this request."""
        return self._state.migrated is not None

    @property
    def modified(self) -> bool:
        """Whether the data differs from what was loaded (decided from the encoding)."""
        if self._orig is None:
            return bool(dict.__len__(self)) or self._state.destroyed
        if not self._dirty:
            return False
        return self._encode() != self._orig

    @property
    def generation(self) -> int:
        """The revocation generation this session was issued under (see `SessionConfig`)."""
        return self._state.generation

    @generation.setter
    def generation(self, value: int) -> None:
        if type(value) is not int or not 0 <= value < 2**63:
            raise ValueError("generation must be an int in [0, 2**63)")
        self._state.generation = value
        self._state.forced = True

    @property
    def max_age(self) -> int | None:
        """This session's cookie Max-Age in seconds; None means a browser-session cookie.

        Unset, the configured `max_age` applies. The server still enforces the
        configured timeouts whatever the cookie says.
        """
        state = self._state
        return state.default_max_age if state.cookie_max_age is UNSET else state.cookie_max_age

    @max_age.setter
    def max_age(self, value: int | None) -> None:
        if value is not None and (type(value) is not int or value < 0):
            raise ValueError("max_age must be None or an int >= 0")
        self._state.cookie_max_age = value
        self._state.forced = True

    @property
    def expires(self) -> _dt.datetime | None:
        """The absolute deadline after which the server refuses this session, if any."""
        if not self._state.deadline:
            return None
        return _dt.datetime.fromtimestamp(self._state.deadline, _dt.UTC)

    @expires.setter
    def expires(self, value: _dt.datetime) -> None:
        if value.utcoffset() is None:
            raise ValueError("expires must be an aware datetime")
        state = self._state
        ts = max(1, int(value.timestamp()))
        state.deadline = min(ts, state.deadline) if state.deadline else ts
        state.forced = True

    def mark_accessed(self) -> None:
        """Record that the response depends on the session (adds ``Vary: Cookie``).

        Starlette's ``request.session`` calls this; serialising an empty
        session with `json` reads no method that would notice.
        """
        self.accessed = True

    def regenerate(self) -> None:
        """Issue a new id keeping the data (call on login and privilege changes)."""
        self.accessed = True
        self._retire_id()
        self._state.forced = True

    def destroy(self) -> None:
        """Empty the session and expire its cookies and store record (log out)."""
        self.accessed = True
        self._retire_id()
        dict.clear(self)
        self._state.destroyed = True
        self._state.forced = False
        self._state.cookie_max_age = UNSET
        self._out.clear()
        self._all_out = False
        self._dirty = True
        self._encoded = None

    def _retire_id(self) -> None:
        state = self._state
        state.retired = (*state.retired, state.sid)
        state.sid = os.urandom(SID_BYTES)

    def reload(self) -> None:
        """Discard changes made during this request, back to the state as loaded."""
        dict.clear(self)
        if self._orig is not None:
            dict.update(self, codec.decode(self._orig))
        self._out.clear()
        self._all_out = False
        self._dirty = False
        self._encoded = None

    def save(self) -> None:
        """Write the session on this response even if it did not change."""
        self._state.forced = True

    def touch(self) -> None:
        """Refresh the session's activity time and cookie expiry on this response."""
        self._state.refresh = True

    # -- change tracking ------------------------------------------------

    def _encode(self) -> bytes:
        if self._encoded is None:
            check = None if self._all_out or self._orig is None else self._out
            accessed = self.accessed  # cbor2 calls len(), which would count as a read
            self._encoded = codec.encode(self, check=check)
            self.accessed = accessed
        return self._encoded

    def _data_bytes(self) -> bytes:
        if not self._dirty and self._orig is not None:
            return self._orig
        return self._encode()

    def _changed(self) -> None:
        self._dirty = True
        self._encoded = None

    def _touch_all(self) -> None:
        self._all_out = True
        self._dirty = True
        self._encoded = None

    # -- mapping API (every path that reads or writes is tracked) ----------

    def __getitem__(self, key: str) -> Any:
        self.accessed = True
        value = dict.__getitem__(self, key)
        if type(value) in MUTABLE:
            self._out.add(key)
            self._dirty = True
            self._encoded = None
        return value

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value for key if present, else default."""
        self.accessed = True
        value = dict.get(self, key, default)
        if type(value) in MUTABLE:
            self._out.add(key)
            self._dirty = True
            self._encoded = None
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self.accessed = True
        dict.__setitem__(self, key, value)
        self._out.add(key)
        self._changed()

    def __delitem__(self, key: str) -> None:
        self.accessed = True
        dict.__delitem__(self, key)
        self._out.discard(key)
        self._changed()

    def __contains__(self, key: object) -> bool:
        self.accessed = True
        return dict.__contains__(self, key)

    def __iter__(self) -> Iterator[str]:
        self.accessed = True
        return dict.__iter__(self)

    def __len__(self) -> int:
        self.accessed = True
        return dict.__len__(self)

    def __eq__(self, other: object) -> bool:
        self.accessed = True
        return dict.__eq__(self, other)

    __hash__ = None

    def keys(self) -> Any:
        """Return a view of the keys."""
        self.accessed = True
        return dict.keys(self)

    def values(self) -> Any:
        """Return a view of the values (hands out every value)."""
        self.accessed = True
        self._touch_all()
        return dict.values(self)

    def items(self) -> Any:
        """Return a view of the items (hands out every value)."""
        self.accessed = True
        self._touch_all()
        return dict.items(self)

    def copy(self) -> dict[str, Any]:
        """Return a shallow copy as a plain dict (shares nested values)."""
        self.accessed = True
        self._touch_all()
        return dict(dict.items(self))

    def setdefault(self, key: str, default: Any = None) -> Any:
        """Insert key with default if absent; return the value."""
        self.accessed = True
        value = dict.setdefault(self, key, default)
        self._out.add(key)
        self._changed()
        return value

    def pop(self, key: str, *default: Any) -> Any:
        """Remove key and return its value (or default)."""
        self.accessed = True
        self._changed()
        self._out.discard(key)
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple[str, Any]:
        """Remove and return the last inserted item."""
        self.accessed = True
        self._changed()
        key, value = dict.popitem(self)
        self._out.discard(key)
        return key, value

    def clear(self) -> None:
        """Remove every key (the session stays, with its id)."""
        self.accessed = True
        dict.clear(self)
        self._out.clear()
        self._changed()

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Update from a mapping or iterable of pairs and keyword arguments."""
        self.accessed = True
        other = dict(*args, **kwargs)
        dict.update(self, other)
        if self._orig is not None:  # a new session's values are all checked anyway
            self._out.update(other)
        self._changed()

    def __ior__(self, other: Any) -> Session:  # type: ignore[override]
        self.update(other)
        return self

    def __or__(self, other: Any) -> dict[str, Any]:  # type: ignore[override]
        self.accessed = True
        self._touch_all()
        return dict(dict.items(self)) | dict(other)

    def __reversed__(self) -> Iterator[str]:
        self.accessed = True
        return dict.__reversed__(self)

    def __repr__(self) -> str:
        return f"<Session {self.id[:8]}… {len(self)} keys{' new' if self.new else ''}>"

    def __reduce__(self) -> Any:
        raise TypeError("sessions are not picklable; copy the data with dict(session)")


class LazySession(MutableMapping[str, Any]):
    """A session that opens the cookie on first access (``lazy=True``).

    Deliberately not a `dict`: `json.dumps` raises on it instead of silently
    writing ``{}`` (CPython's encoder reads a dict subclass's storage
    directly). Use ``dict(session)`` to serialise it.
    """

    __slots__ = ("_loader", "loaded")

    def __init__(self, loader: Callable[[], Session]) -> None:
        # No __setattr__ override: it would slow the construction every request pays.
        self._loader = loader
        self.loaded: Session | None = None
        """The underlying session if it was opened, else None."""

    def open(self) -> Session:
        """Open the cookie now and return the underlying `Session`."""
        session = self.loaded
        if session is None:
            session = self.loaded = self._loader()
        return session

    def __getattr__(self, name: str) -> Any:
        # Only reached for names LazySession lacks: id, new, modified, regenerate…
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.open(), name)

    @property
    def max_age(self) -> int | None:
        """See `Session.max_age`."""
        return self.open().max_age

    @max_age.setter
    def max_age(self, value: int | None) -> None:
        self.open().max_age = value

    @property
    def expires(self) -> _dt.datetime | None:
        """See `Session.expires`."""
        return self.open().expires

    @expires.setter
    def expires(self, value: _dt.datetime) -> None:
        self.open().expires = value

    @property
    def generation(self) -> int:
        """See `Session.generation`."""
        return self.open().generation

    @generation.setter
    def generation(self, value: int) -> None:
        self.open().generation = value

    def mark_accessed(self) -> None:
        """Open the session and mark it read (see `Session.mark_accessed`)."""
        self.open().accessed = True

    def __getitem__(self, key: str) -> Any:
        return self.open()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.open()[key] = value

    def __delitem__(self, key: str) -> None:
        del self.open()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.open())

    def __len__(self) -> int:
        return len(self.open())

    def __contains__(self, key: object) -> bool:
        return key in self.open()

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value for key if present, else default."""
        return self.open().get(key, default)

    def __repr__(self) -> str:
        return "<LazySession (not opened)>" if self.loaded is None else repr(self.loaded)


class WebSocketSession(Mapping[str, Any]):
    """A read-only view of the session for WebSocket connections.

    A WebSocket handshake response cannot set cookies after the connection is
    accepted, so writes raise `TypeError` instead of being silently lost.
    """

    __slots__ = ("_data", "id")

    def __init__(self, session: Mapping[str, Any], session_id: str) -> None:
        self._data = dict(session)
        self.id = session_id

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __setitem__(self, key: str, value: Any) -> None:
        raise TypeError(
            "the session is read-only in WebSocket connections: a WebSocket cannot set "
            "cookies; change the session in an HTTP request instead"
        )

    def __delitem__(self, key: str) -> None:
        self[key] = None

    def __repr__(self) -> str:
        return f"<WebSocketSession {self.id[:8]}… read-only>"
