"""Operational events: what the sessions are doing, for metrics and logs.

Set ``SessionConfig(on_event=hook)``; the hook receives a `SessionEvent` for
each rejection, store failure, move between cookie and store, re-seal under a
new primary key, session too large, and legacy migration. Events carry no
secret and no session data: a kind, and only the fields listed for it. A hook
that raises is logged and ignored; unset, events cost nothing.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from .session import SessionState

__all__ = [
    "EVENT_KINDS",
    "EventKind",
    "SessionEvent",
    "emit",
    "report",
    "store_error",
    "write_events",
]

logger = logging.getLogger("cookiesess")

EventKind = Literal[
    "rejected",
    "store_error",
    "moved_to_store",
    "moved_to_cookie",
    "resealed",
    "too_large",
    "migrated",
]
EVENT_KINDS: Final[frozenset[str]] = frozenset(EventKind.__args__)  # type: ignore[attr-defined]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SessionEvent:
    """One thing a session did. Only the fields of its kind are set.

    Attributes:
        kind: what happened.
        reason: ``rejected``: the reason code (as given to ``on_reject``).
        operation: ``store_error``: the store method (``get``, ``set``, ``delete``…).
        error: ``store_error``: the type name of the driver's exception.
        duration: ``store_error``: seconds the failed call took.
        size: ``too_large``: characters of sealed value the session needed;
            ``moved_to_store``: the same, which did not fit the cookies.
        key_id: ``resealed``: the primary key id the session is now sealed under.
        source: ``migrated``: the legacy reader's class name.
    """

    kind: EventKind
    reason: str | None = None
    operation: str | None = None
    error: str | None = None
    duration: float | None = None
    size: int | None = None
    key_id: str | None = None
    source: str | None = None


def emit(hook: Callable[[SessionEvent], None] | None, event: SessionEvent) -> None:
    """Give `event` to `hook`; a failing hook is logged, never raised."""
    if hook is None:
        return
    try:
        hook(event)
    except Exception:  # a metrics hook must not fail the request
        logger.exception("cookiesess: on_event hook failed")


def report(hook: Callable[[SessionEvent], None] | None, events: list[SessionEvent]) -> None:
    """Give each of `events` to `hook` (see `emit`)."""
    for event in events:
        emit(hook, event)


def store_error(operation: str, error: BaseException, duration: float) -> SessionEvent:
    """The event of a failed store call; `error` is named by the driver's exception type."""
    cause = type(error.__cause__ or error).__name__
    return SessionEvent(kind="store_error", operation=operation, error=cause, duration=duration)


def write_events(
    state: SessionState, *, in_store: bool, size: int, primary: str
) -> list[SessionEvent]:
    """The events of a write: a move between cookie and store, a re-seal."""
    events = []
    if in_store and state.source is None:
        events.append(SessionEvent(kind="moved_to_store", size=size))
    elif not in_store and state.source is not None:
        events.append(SessionEvent(kind="moved_to_cookie"))
    if state.reseal:
        events.append(SessionEvent(kind="resealed", key_id=primary))
    return events
