"""The commit's one decision: what a response does with the session's cookies."""

from __future__ import annotations

import enum

from .session import Session

__all__ = ["Action", "decide"]


class Action(enum.Enum):
    """What a response does with the session's cookies."""

    NOTHING = "nothing"
    DELETE = "delete"
    """Emptied or destroyed: expire every cookie, delete the store record."""
    WRITE = "write"
    """The data, the id or a lifecycle setting changed (or `Session.save`)."""
    RESEAL = "reseal"
    """Unchanged, but opened under a key that is no longer the primary."""
    REFRESH = "refresh"
    """Unchanged, but the activity time is due (or `Session.touch`)."""


def decide(session: Session, refresh_due: bool, save_uninitialized: bool) -> Action:
    """Decide, once, what the response does with `session`'s cookies.

    Args:
        session: the session as the app left it.
        refresh_due: its activity time is old enough to be refreshed.
        save_uninitialized: new sessions with no data get a cookie too.
    """
    state = session._state
    empty = not dict.__len__(session)
    if empty and (state.destroyed or (not session.new and session.modified)):
        return Action.DELETE
    if state.forced or state.destroyed:
        return Action.WRITE
    if session.new:
        return Action.WRITE if not empty or save_uninitialized else Action.NOTHING
    if session.modified:
        return Action.WRITE
    if state.reseal:
        return Action.RESEAL
    if state.refresh or refresh_due:
        return Action.REFRESH
    return Action.NOTHING
