"""Lifetime rules: clock skew, deadlines, idle time, refreshes, Max-Age and store TTLs.

Every deadline is computed from the times sealed in the session *and* the
configuration running now: lowering a timeout ends older sessions on their
next request, raising one revives none (the sealed deadline still holds).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .cookies import MAX_AGE_CAP
from .exceptions import InvalidToken
from .session import UNSET

if TYPE_CHECKING:
    from .config import SessionConfig
    from .session import SessionState

__all__ = ["MIN_REFRESH", "SKEW", "Lifetime"]

SKEW: Final = 60
"""Seconds an issued-at time may lie in the future (clock skew between hosts)."""
MIN_REFRESH: Final = 60


class Lifetime:
    """The lifetime rules of one configuration."""

    __slots__ = ("absolute", "idle", "max_age", "refresh_every")

    def __init__(self, config: SessionConfig) -> None:
        self.absolute = config.absolute_timeout
        self.idle = config.idle_timeout
        self.max_age = config.max_age
        # Activity is refreshed only when something depends on it (an idle
        # timeout, or a rolling cookie expiry), and then at a bounded granularity.
        basis = config.idle_timeout or (config.max_age if config.rolling else None)
        self.refresh_every: int | None = None
        if basis:
            self.refresh_every = config.refresh_interval or max(MIN_REFRESH, basis // 10)

    def deadline(self, state: SessionState) -> int:
        """The deadline in force: the sealed one, or the configuration's if sooner (0: none).

        Computed each time and never sealed, so every copy of a session keeps
        the deadline it was issued with.
        """
        deadline = state.deadline
        if self.absolute is not None and state.issued:
            configured = state.issued + self.absolute
            if not deadline or configured < deadline:
                return configured
        return deadline

    def admit(self, state: SessionState, now: int) -> None:
        """Refuse a session past a deadline of the configuration running now.

        An admitted session whose activity time is old enough is marked for a
        refresh on this response (`decide` reads the mark, with no clock).

        Raises:
            InvalidToken: ``expired``.
        """
        if state.issued > now + SKEW or state.last > now + SKEW:
            raise InvalidToken("expired")
        deadline = self.deadline(state)
        if deadline and now >= deadline:
            raise InvalidToken("expired")
        if self.idle is not None and now - state.last >= self.idle:
            raise InvalidToken("expired")
        every = self.refresh_every
        if every is not None and now - state.last >= every:
            state.refresh = True

    def start(self, state: SessionState, now: int) -> None:
        """Start the absolute lifetime now (new sessions and `Session.regenerate`)."""
        state.issued = now
        state.deadline = now + self.absolute if self.absolute else 0

    def cookie_max_age(self, state: SessionState, now: int) -> int | None:
        """The Max-Age to send: per session or configured, never past the deadline."""
        max_age = self.max_age if state.cookie_max_age is UNSET else state.cookie_max_age
        if max_age is None:
            return None
        deadline = self.deadline(state)
        if deadline:
            max_age = min(max_age, deadline - now)
        return max(0, min(max_age, MAX_AGE_CAP))

    def store_ttl(self, state: SessionState, now: int) -> int:
        """Seconds a store record must live: until the session can no longer open."""
        deadline = self.deadline(state)
        remaining = deadline - now if deadline else MAX_AGE_CAP
        if self.idle is not None:
            remaining = min(remaining, self.idle + (self.refresh_every or 0))
        return max(1, remaining)

    def deny_ttl(self, state: SessionState, now: int) -> int:
        """Seconds a denylist entry must live: as long as any copy of the session could open.

        Every copy of an id carries the deadline it was issued with (raising
        `absolute_timeout` again reopens nothing past it); one issued without
        a deadline is bounded by the largest timeout allowed, 400 days. The
        current id, if `regenerate` gave a new one, lives ``absolute_timeout``
        from its commit. Plus the skew between hosts.
        """
        deadline = state.deadline or state.issued + MAX_AGE_CAP
        return max(deadline - now, self.absolute or 0, 1) + SKEW
