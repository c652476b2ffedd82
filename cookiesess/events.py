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
from typing import Final, Literal

__all__ = ["EVENT_KINDS", "EventKind", "SessionEvent", "emit"]

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
