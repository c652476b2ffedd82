"""Every option of cookiesess in one `SessionConfig`, validated once at construction."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from ._migration import LegacyReader, readers_of
from .cookies import MAX_AGE_CAP, Priority, SameSite, cookie_attribute_problems
from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from .events import SessionEvent
    from .session import Session

__all__ = ["DEFAULT_ABSOLUTE_TIMEOUT", "SessionConfig"]

DEFAULT_ABSOLUTE_TIMEOUT: Final = 14 * 24 * 3600


@dataclasses.dataclass(frozen=True, kw_only=True)
class SessionConfig:
    """Every option of cookiesess, with safe defaults; validated at construction.

    Raises:
        ConfigurationError: listing every invalid option at once.
    """

    cookie_name: str = "session"
    """Base cookie name; chunks are ``NAME.1``, ``NAME.2``… Prefer ``__Host-session``."""
    max_age: int | None = None
    """Cookie Max-Age in seconds (capped at 400 days); None = browser-session cookie."""
    idle_timeout: int | None = None
    """Seconds of inactivity after which the server refuses the session."""
    absolute_timeout: int | None = DEFAULT_ABSOLUTE_TIMEOUT
    """Seconds after issue (or regenerate) after which the server refuses the session."""
    rolling: bool = False
    """Re-send the cookie (extending its Max-Age) at most once per refresh interval."""
    refresh_interval: int | None = None
    """Granularity of activity refreshes; default max(60 s, timeout / 10)."""
    save_uninitialized: bool = False
    """Write a cookie for new sessions that hold no data."""
    path: str = "/"
    """Cookie Path; the session is sent only under it."""
    domain: str | None = None
    """Cookie Domain; None (the default) keeps the cookie to the exact host."""
    secure: bool | Literal["auto"] = True
    """True, False, or "auto" to follow the request scheme."""
    httponly: bool = True
    """Hide the cookie from scripts on the page."""
    samesite: SameSite | None = "Lax"
    """SameSite attribute: "Strict", "Lax" or "None" (which requires Secure); None omits it."""
    partitioned: bool = False
    """Partitioned attribute (CHIPS, for third-party contexts); requires Secure."""
    priority: Priority | None = None
    """Chromium's Priority attribute ("Low", "Medium", "High"); None omits it."""
    max_cookie_bytes: int = 4096
    """Bound on every Set-Cookie header value (name, value and attributes)."""
    max_total_bytes: int = 6000
    """Bound on the session's ``name=value`` pairs together, as the browser sends them."""
    store: Any = None
    """A `Store` or `AsyncStore` the data moves to when it outgrows the cookie."""
    trust_proxy: bool = False
    """Trust X-Forwarded-Proto for ``secure="auto"``."""
    app_namespace: str = ""
    """Bound into every token: tokens of another app under the same keys do not open."""
    lazy: bool = False
    """Middlewares open the cookie on first access instead of on arrival."""
    on_reject: Callable[[str], None] | None = None
    """Called with the reason code of every rejected cookie (for metrics): one of
    `cookiesess.exceptions.REJECT_REASONS`, e.g. ``expired``, ``revoked`` or
    ``hook_failed`` (``generation_check`` raised)."""
    on_event: Callable[[SessionEvent], None] | None = None
    """Called with a `cookiesess.events.SessionEvent` for rejections, store failures,
    moves between cookie and store, re-seals, oversize sessions and migrations."""
    generation_check: Callable[[Session], int | None] | None = None
    """Returns the current generation for a session's user (None: nothing to check);
    older sessions are revoked. Runs on every path a session arrives by; if it
    raises, the session is rejected (``hook_failed``), never the request."""
    denylist: Any = None
    """A `Store` or `AsyncStore` of revoked session ids (see `SessionEngine.revoke`).

    Needs an ``absolute_timeout`` (entries live as long as a session could
    open) and a store that never evicts entries to make room."""
    migrate_from: Sequence[LegacyReader] | LegacyReader = ()
    """Legacy readers (or one) whose cookies are read once and re-sealed (see
    `cookiesess.legacy`); tried in order. Stored as a tuple."""
    migrate_until: _dt.datetime | None = None
    """After this instant legacy cookies are no longer read."""
    clock: Callable[[], float] = time.time
    """Wall-clock seconds; cookies cross hosts, so not a monotonic clock."""

    def __post_init__(self) -> None:
        samesite = self.samesite
        if isinstance(samesite, str) and samesite.capitalize() in ("Strict", "Lax", "None"):
            object.__setattr__(self, "samesite", samesite.capitalize())
        problems = self._cookie_problems() + self._number_problems() + self._hook_problems()
        problems += _denylist_problems(self.denylist, self.absolute_timeout)
        object.__setattr__(self, "migrate_from", readers_of(self.migrate_from, problems))
        until = self.migrate_until
        if until is not None and (
            not isinstance(cast("object", until), _dt.datetime) or until.utcoffset() is None
        ):
            problems.append("migrate_until must be an aware datetime (e.g. with datetime.UTC)")
        if problems:
            raise ConfigurationError(problems)

    def _cookie_problems(self) -> list[str]:
        problems = []
        if self.secure not in (True, False, "auto"):
            problems.append(f"secure must be True, False or 'auto', not {self.secure!r}")
        problems += cookie_attribute_problems(
            name=self.cookie_name,
            path=self.path,
            domain=self.domain,
            secure=self.secure is True,
            samesite=self.samesite,
            partitioned=self.partitioned,
            priority=self.priority,
        )
        if isinstance(cast("object", self.cookie_name), str) and len(self.cookie_name) > 200:
            problems.append("cookie_name is longer than 200 characters")
        if len(self.app_namespace.encode("utf-8")) > 255:
            problems.append("app_namespace must be at most 255 bytes")
        return problems

    def _number_problems(self) -> list[str]:
        problems = []
        for name in ("max_age", "idle_timeout", "absolute_timeout", "refresh_interval"):
            value = getattr(self, name)
            if value is not None and (type(value) is not int or not 0 < value <= MAX_AGE_CAP):
                problems.append(f"{name} must be None or an int in seconds, 1..{MAX_AGE_CAP}")
        if not _int_in(self.max_cookie_bytes, 512, 4096):
            problems.append("max_cookie_bytes must be an int in 512..4096 (browsers drop more)")
        if not _int_in(self.max_total_bytes, 512, 40960):
            problems.append(
                "max_total_bytes must be an int in 512..40960; the whole Cookie header of "
                "nginx, Apache and gunicorn is limited to about 8 KB"
            )
        return problems

    def _hook_problems(self) -> list[str]:
        problems = []
        for name in ("store", "denylist"):
            store = getattr(self, name)
            if store is not None and not all(
                callable(getattr(store, m, None)) for m in ("get", "set", "delete")
            ):
                problems.append(
                    f"{name} must provide get/set/delete (a cookiesess.stores.Store or AsyncStore)"
                )
        for name in ("on_reject", "on_event", "generation_check", "clock"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                problems.append(f"{name} must be callable")
        return problems


def _int_in(value: object, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def _denylist_problems(denylist: object, absolute_timeout: int | None) -> list[str]:
    if denylist is None:
        return []
    problems = []
    if absolute_timeout is None:
        problems.append(
            "denylist needs an absolute_timeout: without an absolute deadline a revoked "
            "session could open forever, so no entry could ever expire; set "
            "absolute_timeout (e.g. 14 * 24 * 3600)"
        )
    if getattr(denylist, "evicts", False):
        problems.append(
            f"denylist={denylist!r} evicts entries when full, which would un-revoke "
            "sessions: use MemoryStore(evict=False) (revoke() then raises when it is "
            "full), a SQLiteStore or a RedisStore"
        )
    return problems
