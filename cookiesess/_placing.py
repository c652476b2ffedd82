"""Placing: a sealed session goes into the cookie's chunks, or into the store.

Past the cookie budget the data moves to the store (sealed, bound to the
session id) and the cookie keeps a sealed reference; when it fits again it
moves back and the record is deleted. Without a store, `SessionTooLarge`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._plaintext import EMPTY_DATA, pack
from .envelope import MAX_CHUNKS, seal, sealed_chars
from .events import SessionEvent, emit, write_events
from .exceptions import SessionTooLarge

if TYPE_CHECKING:
    from ._drive import Step
    from ._fallback import Fallback
    from ._jar import Jar
    from ._lifetime import Lifetime
    from .config import SessionConfig
    from .keys import Keyring
    from .session import SessionState

__all__ = ["Placer"]


class Placer:
    """Places the sealed sessions of one configuration."""

    __slots__ = ("_config", "_ctx", "_delete_if", "_fallback", "_jar", "_lifetime", "_on_event")

    def __init__(
        self,
        *,
        jar: Jar,
        lifetime: Lifetime,
        fallback: Fallback,
        context: bytes,
        config: SessionConfig,
        on_event: Callable[[SessionEvent], None] | None,
    ) -> None:
        self._jar = jar
        self._lifetime = lifetime
        self._fallback = fallback
        self._ctx = context
        self._config = config
        self._on_event = on_event
        self._delete_if = callable(getattr(config.store, "delete_if", None))

    def place(
        self, keyring: Keyring, state: SessionState, plaintext: bytes, now: int
    ) -> tuple[str, int, bool, list[Step], list[SessionEvent]]:
        """Return the token, its chunk count, whether it refers to the store, and more.

        Then come the store calls and the events to report; the events (none
        without ``on_event``) are reported once the calls succeed.

        Raises:
            SessionTooLarge: over the budget and no store is configured.
        """
        ops: list[Step] = []
        length = sealed_chars(len(plaintext))
        count = self._jar.fit(length)
        store = self._config.store
        if count:
            token = seal(keyring, plaintext, purpose="session", context=self._ctx, chunks=count)
            if state.source is not None:
                ops.append(self._release(state))
        elif store is None:
            emit(self._on_event, SessionEvent(kind="too_large", size=length))
            config = self._config
            raise SessionTooLarge(
                f"the sealed session needs {length} bytes of cookie value, over the budget "
                f"(max_total_bytes={config.max_total_bytes}, max_cookie_bytes="
                f"{config.max_cookie_bytes}, at most {MAX_CHUNKS} chunks); store less in the "
                "session or configure a store (SessionConfig(store=...))"
            )
        else:
            key, record = self._fallback.seal_record(keyring, plaintext, state.sid)
            ops.append((store, "set", (key, record, self._lifetime.store_ttl(state, now))))
            if state.source is not None and state.source[0] != key:
                ops.append(self._release(state))
            token = self._fallback.seal_ref(keyring, pack(state) + EMPTY_DATA)
        stored = not count  # a reference to the store, in one cookie
        events = (
            []
            if self._on_event is None
            else write_events(state, in_store=stored, size=length, primary=keyring.primary.id)
        )
        return token, count or 1, stored, ops, events

    def _release(self, state: SessionState) -> Step:
        """The store call that drops the record the session was read from, on a move.

        A session moving into its cookie (or to another record key after a
        key rotation) deletes its record only while the record still holds
        what this request read: when a concurrent request rewrote it since,
        that request's reference keeps opening. After `regenerate()` or
        `destroy()` the old record goes whatever it holds.
        """
        store: Any = self._config.store
        key, record = state.source  # type: ignore[misc]
        if state.retired or not self._delete_if:
            return (store, "delete", (key,))
        return (store, "delete_if", (key, record))
