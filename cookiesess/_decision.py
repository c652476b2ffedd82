"""The commit's one decision: what a response does with the session's cookies."""

from __future__ import annotations

import enum
from typing import Final

from .session import Session

__all__ = ["DELETE", "NOTHING", "REFRESH", "RESEAL", "WRITE", "Action", "decide"]


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


def decide(session: Session, save_uninitialized: bool) -> Action:
    """Decide, once, what the response does with `session`'s cookies.

    Args:
        session: the session as the app left it (its state says whether an
            activity refresh is due: `Lifetime.admit` marks it).
        save_uninitialized: new sessions with no data get a cookie too.
    """
    state = session._state
    if state.destroyed:
        return DELETE if not dict.__len__(session) else WRITE
    if session.new:
        return WRITE if state.forced or dict.__len__(session) or save_uninitialized else NOTHING
    if session._dirty and session.modified:  # not dirty: unmodified, with no call
        return WRITE if dict.__len__(session) else DELETE
    if state.forced:
        return WRITE
    if state.reseal:
        return RESEAL
    if state.refresh:
        return REFRESH
    return NOTHING


# Plain names: an enum member looked up on its class costs more than a global.
NOTHING: Final = Action.NOTHING
DELETE: Final = Action.DELETE
WRITE: Final = Action.WRITE
RESEAL: Final = Action.RESEAL
REFRESH: Final = Action.REFRESH
