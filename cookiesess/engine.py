"""The engine: request cookies -> `Session` -> Set-Cookie values, as two pipelines.

Load:   gather the values of the cookie name (`_jar`) -> open a token, its
        store record (`_fallback`) or a legacy cookie (`_migration`) ->
        admit: timeouts against the configuration running now (`_lifetime`),
        generation, denylist -> `Session`.
Commit: decide (nothing, delete, write, refresh or re-seal) -> stamp the
        lifetime -> pack (`_plaintext`) -> seal -> place in cookie chunks or
        the store -> render the Set-Cookie, stale-chunk and legacy lines.

Every session passes the same admission, whatever it arrived as. Store calls
are yielded as steps and run by `_drive`, so `load`/`aload` and
`commit`/`acommit` share every line of logic.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Generator, Mapping
from typing import Any

from ._decision import DELETE, NOTHING, Action, decide
from ._drive import Step, Steps, run_async, run_sync, then
from ._fallback import Fallback
from ._inspect import Inspection, inspection
from ._jar import Jar
from ._lifetime import SKEW, Lifetime
from ._migration import LegacyReader, Migration
from ._opening import Opener
from ._placing import Placer
from ._plaintext import META_BYTES, meta_of, pack_meta
from .config import DEFAULT_ABSOLUTE_TIMEOUT, SessionConfig
from .cookies import RequestCookies
from .envelope import aad_context, peek_header, read_header, sealed_chars
from .events import SessionEvent, emit, report, store_error
from .exceptions import ConfigurationError, InvalidToken, RejectReason, StoreError
from .keys import Keyring
from .session import LazySession, Session

__all__ = [
    "DEFAULT_ABSOLUTE_TIMEOUT",
    "META_BYTES",
    "SKEW",
    "Action",
    "Inspection",
    "LegacyReader",
    "SessionConfig",
    "SessionEngine",
]

logger = logging.getLogger("cookiesess")


class SessionEngine:
    """Turns request cookies into a `Session` and a session into Set-Cookie values.

    Args:
        keyring: the keys to seal and open with.
        config: a `SessionConfig`; or pass its options as keywords.
        session_class: the `Session` subclass `load` returns (framework adapters
            pass their own).
    """

    def __init__(
        self,
        keyring: Keyring,
        config: SessionConfig | None = None,
        *,
        session_class: type[Session] = Session,
        **options: Any,
    ) -> None:
        if not isinstance(keyring, Keyring):
            raise ConfigurationError("keyring must be a cookiesess.Keyring")
        if config is None:
            config = SessionConfig(**options)
        elif options:
            config = dataclasses.replace(config, **options)
        self.keyring = keyring
        self.config = config
        self._jar = Jar(config)
        self._lifetime = Lifetime(config)
        self._fallback = Fallback(app_namespace=config.app_namespace, name=self._jar.name)
        self._ctx = aad_context(
            app_namespace=config.app_namespace, purpose="session", name=self._jar.name
        )
        self._opener = Opener(
            session_class=session_class,
            jar=self._jar,
            lifetime=self._lifetime,
            fallback=self._fallback,
            context=self._ctx,
            store=config.store,
            max_age=config.max_age,
        )
        self._migration = _migration_of(config, self._jar.names)
        self._save_new = config.save_uninitialized
        self._clock = config.clock
        # The Secure attribute, unless ``secure="auto"`` leaves it to each request.
        self._fixed_secure = None if config.secure == "auto" else config.secure is True
        self._placer = Placer(
            jar=self._jar,
            lifetime=self._lifetime,
            fallback=self._fallback,
            context=self._ctx,
            config=config,
            on_event=config.on_event,
        )
        self._denylist = config.denylist
        self._generation_check = config.generation_check
        self._on_event = config.on_event
        self._on_error = None if config.on_event is None else self._store_failed

    @property
    def session_class(self) -> type[Session]:
        """The class of the sessions `load` returns."""
        return self._opener.session_class

    @property
    def single_cookie_bytes(self) -> int:
        """The most ``name=value`` bytes a session fitting one cookie takes (attributes apart)."""
        return self._jar.single_cookie_bytes

    def __repr__(self) -> str:
        return f"SessionEngine({self.keyring!r}, cookie_name={self._jar.name!r})"

    # -- public API --------------------------------------------------------

    def load(self, cookies: Mapping[str, str], *, now: float | None = None) -> Session:
        """Open the session the request's cookies carry; a fresh one if none is usable.

        Raises:
            StoreError: when the store fails (never a fresh session: the caller
                must not answer with cookies that would replace the client's).
        """
        steps = self._load_steps(cookies, self._now(now))
        if isinstance(steps, Session):
            return steps  # no store call (the usual load)
        return run_sync(steps, self._on_error)  # type: ignore[no-any-return]

    async def aload(self, cookies: Mapping[str, str], *, now: float | None = None) -> Session:
        """Async `load`: store calls are awaited."""
        return await run_async(self._load_steps(cookies, self._now(now)), self._on_error)  # type: ignore[no-any-return]

    def commit(
        self,
        session: Session | LazySession,
        request_cookies: Mapping[str, str],
        *,
        secure: bool | None = None,
        now: float | None = None,
    ) -> list[str]:
        """Return the Set-Cookie header values this response needs (often none).

        Args:
            session: the session `load` returned (or the middleware's lazy one).
            request_cookies: the request's cookies, to expire stale chunks.
            secure: whether the request came over HTTPS (for ``secure="auto"``).
            now: the time, for tests; the configured clock otherwise.

        Raises:
            CodecError: a value in the session cannot be encoded.
            SessionTooLarge: over the budget and no store is configured.
            StoreError: the store failed.
        """
        steps = self._commit_steps(session, request_cookies, secure, now)
        if type(steps) is list:
            return steps  # no store call (the usual commit)
        return run_sync(steps, self._on_error)  # type: ignore[no-any-return]

    async def acommit(
        self,
        session: Session | LazySession,
        request_cookies: Mapping[str, str],
        *,
        secure: bool | None = None,
        now: float | None = None,
    ) -> list[str]:
        """Async `commit`: store calls are awaited."""
        steps = self._commit_steps(session, request_cookies, secure, now)
        return await run_async(steps, self._on_error)  # type: ignore[no-any-return]

    def revoke(self, session: Session, *, now: float | None = None) -> None:
        """Deny this session on every host until it could no longer open (needs `denylist`).

        Revokes the id the client's copy carries (the one the session was
        loaded with) as well as any id `regenerate`/`destroy` gave it since.

        Raises:
            StoreError: the denylist could not record it.
        """
        run_sync(self._revoke_steps(session, self._now(now)), self._on_error)

    async def arevoke(self, session: Session, *, now: float | None = None) -> None:
        """Async `revoke`."""
        await run_async(self._revoke_steps(session, self._now(now)), self._on_error)

    def lazy(self, cookies: Callable[[], Mapping[str, str]]) -> LazySession:
        """Return a `LazySession` that loads (synchronously) on first access."""
        return LazySession(lambda: self.load(cookies()))

    def needs_store(self, cookies: Mapping[str, str]) -> bool:
        """Return whether loading these cookies would call the store (cheap, no crypto)."""
        if self._denylist is not None and self._jar.name in cookies:
            return True
        for value in self._jar.candidates(cookies):
            peeked = peek_header(value)
            if peeked is not None and peeked.purpose != "ref":
                continue  # read_header would say the same, or fail
            try:
                if read_header(value).purpose == "ref":
                    return True
            except InvalidToken:
                continue
        return False

    def carries_legacy(self, cookies: Mapping[str, str]) -> bool:
        """Return whether the cookies hold one a ``migrate_from`` reader reads (cheap, no crypto).

        Adapters open a lazy session of such a request even if the app does not.
        """
        return self._migration is not None and self._migration.came(cookies)

    def new_session(self, *, now: float | None = None) -> Session:
        """Return a fresh, empty session."""
        return self._opener.fresh(self._now(now))

    def inspect(
        self, cookies: Mapping[str, str], *, now: float | None = None, fetch: bool = True
    ) -> Inspection | None:
        """Open the session cookies as `load` does and report what they hold (for tools).

        No hooks run (`on_reject`, `generation_check`, `denylist`) and nothing is
        written. Returns None when the request carries no session cookie.

        Args:
            cookies: the request's cookies.
            now: the time, for tests; the configured clock otherwise.
            fetch: read a reference's record from the configured store, which
                must then be synchronous; otherwise `Inspection.data` is None.

        Raises:
            InvalidToken: with the reason `load` would reject the cookies for.
            StoreError: the store failed.
        """
        return run_sync(self._inspect_steps(cookies, self._now(now), fetch=fetch))  # type: ignore[no-any-return]

    # -- load: gather -> open -> admit ----------------------------------------

    def _now(self, now: float | None) -> int:
        return int(self._clock() if now is None else now)

    def _load_steps(self, cookies: Mapping[str, str], now: int) -> Session | Steps:
        first = cookies.get(self._jar.name)
        if first is None and self._migration is None:
            return self._opener.fresh(now)
        # A RequestCookies means a name repeated: the general path weighs every value.
        if first is not None and self._denylist is None and type(cookies) is not RequestCookies:
            header = peek_header(first)
            if header is not None and header.purpose == "session":
                # The usual request: one session token, admitted with no store call.
                try:
                    session = self._opener.token(self.keyring, cookies, first, header.chunks)
                    self._admit(session, now)
                except InvalidToken as exc:
                    return self._reject(exc.reason, now)
                return session
        return self._load_any(cookies, self._jar.candidates(cookies), now)

    def _load_any(self, cookies: Mapping[str, str], values: tuple[str, ...], now: int) -> Steps:
        """Try each value of the cookie name; the first admitted token wins, then legacy."""
        reasons: list[RejectReason] = []
        for value in values:
            try:
                opened = yield from self._opener.open(self.keyring, cookies, value, now, fetch=True)
                return (yield from self._admitted(opened.session, now))
            except InvalidToken as exc:
                reasons.append(exc.reason)
        ours = [reason for reason in reasons if reason != "malformed"]
        if self._migration is not None and not ours:
            # No value is a cookiesess token: a legacy cookie may be read.
            try:
                session = yield from self._admitted(self._read_legacy(cookies, now), now)
            except InvalidToken as exc:
                return self._reject(exc.reason, now)
            if session.migrated:
                source = type(session._state.migrated).__name__
                emit(self._on_event, SessionEvent(kind="migrated", source=source))
            return session
        return self._reject((ours or reasons)[0], now) if reasons else self._opener.fresh(now)

    def _read_legacy(self, cookies: Mapping[str, str], now: int) -> Session:
        """A session of the legacy cookie's data; a fresh one when none came."""
        assert self._migration is not None  # noqa: S101 (checked by the caller)
        found = self._migration.read(cookies, now)
        if found is None:
            return self._opener.fresh(now)
        data, encoded, reader = found
        if self.config.store is None and not self._jar.fit(sealed_chars(META_BYTES + len(encoded))):
            # A compressed legacy cookie can inflate past our cookie budget.
            raise InvalidToken("too_large")
        session = self._opener.fresh(now, data)
        session._state.migrated = reader
        return session

    def _admitted(self, session: Session, now: int) -> Generator[Step, Any, Session]:
        lookup = self._admit(session, now)
        if lookup is not None and (yield lookup) is not None:
            raise InvalidToken("revoked")
        return session

    def _admit(self, session: Session, now: int) -> Step | None:
        """Admission, which every loaded session passes, whatever it arrived as.

        Checks the timeouts against the configuration running now, then the
        generation; returns the denylist lookup still to run, if there is a
        denylist (the caller refuses the session when it finds an entry).

        Raises:
            InvalidToken: ``expired``, ``revoked`` or ``hook_failed``.
        """
        self._lifetime.admit(session._state, now)
        check = self._generation_check
        if check is not None:
            try:
                current = check(session)
            except Exception:
                logger.warning(
                    "cookiesess: generation_check raised; session rejected", exc_info=True
                )
                raise InvalidToken("hook_failed") from None
            if current is not None and session._state.generation < current:
                raise InvalidToken("revoked")
        if self._denylist is None:
            return None
        return (self._denylist, "get", (self._fallback.deny_key(session._state.sid),))

    def _reject(self, reason: RejectReason, now: int) -> Session:
        logger.debug("cookiesess: session cookie rejected (%s)", reason)
        emit(self._on_event, SessionEvent(kind="rejected", reason=reason))
        hook = self.config.on_reject
        if hook is not None:
            try:
                hook(reason)
            except Exception:  # a metrics hook must not fail the request
                logger.exception("cookiesess: on_reject hook failed")
        return self._opener.fresh(now)

    # -- commit: decide -> stamp -> pack -> seal -> place -> render -----------

    def _commit_steps(
        self,
        session: Session | LazySession,
        cookies: Mapping[str, str],
        secure: bool | None,
        at: float | None,
    ) -> list[str] | Steps:
        """Decide the response's Set-Cookie values; a generator only when the store is called."""
        # Not isinstance(session, LazySession): that goes through ABCMeta.
        if not isinstance(session, Session):
            opened = session.loaded
            if opened is None:
                return []
            session = opened
        cached = session._encoded  # made before this commit: may predate a dict.__setitem__
        action = decide(session, self._save_new)
        if action is NOTHING and self._migration is None:
            return []  # the usual read: nothing to write, and no clock to read
        now = self._now(at)
        fixed = self._fixed_secure
        secure = secure is not False if fixed is None else fixed
        lines = [] if self._migration is None else self._legacy_lines(session, cookies, action, now)
        if action is NOTHING:
            return lines
        state = session._state
        if action is DELETE:
            ops = (
                [] if state.source is None else [(self.config.store, "delete", (state.source[0],))]
            )
            return then(ops, lines + self._jar.expire(cookies, secure))
        if state.retired and not session.new:
            self._lifetime.start(state, now)  # regenerate(): a fresh lifetime under a new id
        state.last = now
        meta, encoded = meta_of(state), session._data_bytes()
        keyring = self.keyring
        token, count, stored, ops, events = self._placer.place(
            keyring, state, pack_meta(meta) + encoded, now
        )
        if count == 1 and not stored:  # the browser sends this token back
            made_now = cached is None and encoded is session._encoded  # from the data as it is
            self._opener.remember(keyring, token, meta, encoded, session if made_now else None)
        lines += self._jar.lines(token, count, self._lifetime.cookie_max_age(state, now), secure)
        lines += self._jar.expire(cookies, secure, count)
        if not ops and not events:
            return lines  # the usual write: no store call, nothing to report
        return then(ops, lines, (lambda: report(self._on_event, events)) if events else None)

    def _store_failed(self, operation: str, error: StoreError, duration: float) -> None:
        emit(self._on_event, store_error(operation, error, duration))

    def _legacy_lines(
        self, session: Session, cookies: Mapping[str, str], action: Action, now: int
    ) -> list[str]:
        assert self._migration is not None  # noqa: S101 (checked by the caller)
        values = self._jar.candidates(cookies)
        # With one value, a loaded session opened it: nothing foreign came.
        foreign = values if session.new or len(values) > 1 else ()
        return self._migration.expiry_lines(
            cookies,
            session._state.migrated,
            foreign=foreign,
            ours=not session.new,
            writing=action is not NOTHING,
            now=now,
        )

    # -- revocation and inspection --------------------------------------------

    def _revoke_steps(self, session: Session, now: int) -> Steps:
        if self._denylist is None:
            raise ConfigurationError("revoke() needs SessionConfig(denylist=<a store>)")
        state = session._state
        ttl = self._lifetime.deny_ttl(state, now)
        for sid in dict.fromkeys((*state.retired, state.sid)):
            yield (self._denylist, "set", (self._fallback.deny_key(sid), b"1", ttl))

    def _inspect_steps(self, cookies: Mapping[str, str], now: int, *, fetch: bool) -> Steps:
        values = self._jar.candidates(cookies)
        if not values:
            return None
        opened = yield from self._opener.open(self.keyring, cookies, values[0], now, fetch=fetch)
        state = opened.session._state
        self._lifetime.admit(state, now)
        deadline = self._lifetime.deadline(state)
        return inspection(opened, cookies, self.config, self._jar.names, deadline)


def _migration_of(config: SessionConfig, names: tuple[str, ...]) -> Migration | None:
    """The migration `config` asks for (None without readers); `names`: our chunk names."""
    readers: tuple[LegacyReader, ...] = tuple(config.migrate_from)  # type: ignore[arg-type]
    if not readers:
        return None
    return Migration(
        readers,
        config.migrate_until,
        names=names,
        path=config.path,
        domain=config.domain,
        partitioned=config.partitioned,
    )
