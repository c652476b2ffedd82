"""The engine: request cookies -> `Session` -> Set-Cookie header values.

Every decision lives here, once: opening and reassembling chunks, expiry,
revocation, legacy migration, re-sealing under the primary key, whether to
write, the size budget, chunking, moving data to the store and back, and
expiring stale cookies. Adapters only move headers. Store calls are written as
steps yielded by one generator per operation and run by a sync or an async
driver, so `load`/`aload` and `commit`/`acommit` share every line of logic.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import hmac
import inspect
import logging
import struct
import time
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from types import GeneratorType
from typing import Any, Final, Literal, NamedTuple, Protocol, cast

from . import codec
from .cookies import (
    EXPIRED,
    MAX_AGE_CAP,
    Priority,
    SameSite,
    SetCookie,
    chunk_name,
    cookie_attribute_problems,
)
from .envelope import (
    MAX_CHUNKS,
    Header,
    Opened,
    aad_context,
    peek_header,
    read_header,
    seal,
    seal_bytes,
    sealed_chars,
    unseal,
    unseal_bytes,
)
from .exceptions import (
    CodecError,
    ConfigurationError,
    InvalidToken,
    RejectReason,
    SessionTooLarge,
)
from .keys import Key, Keyring
from .session import LazySession, Session

__all__ = ["META_BYTES", "SKEW", "Inspection", "LegacyReader", "SessionConfig", "SessionEngine"]

logger = logging.getLogger("cookiesess")

SKEW: Final = 60
"""Seconds an issued-at time may lie in the future (clock skew between hosts)."""
DEFAULT_ABSOLUTE_TIMEOUT: Final = 14 * 24 * 3600
_MIN_REFRESH: Final = 60

# The plaintext is one canonical-layout CBOR map with fixed-width fields, so
# the metadata is read with one struct call after authentication and only
# the user data goes through cbor2:
#   {"v": 1, "i": issued, "e": deadline, "a": last activity, "g": generation,
#    "c": cookie max-age code, "s": session id (32 bytes), "d": {data}}
_META: Final = struct.Struct(">5s3sI3sI3sI3sQ3sI4s32s2s")
_META_CONST: Final = (
    b"\xa8\x61v\x18\x01",
    b"\x61i\x1a",
    b"\x61e\x1a",
    b"\x61a\x1a",
    b"\x61g\x1b",
    b"\x61c\x1a",
    b"\x61s\x58\x20",
    b"\x61d",
)
META_BYTES: Final = _META.size
_EMPTY_MAP: Final = b"\xa0"
_MAX_U32: Final = 2**32 - 1
# Session.max_age codes in the "c" field.
_C_DEFAULT: Final = 0
_C_BROWSER: Final = 1
_DEFAULT_MAX_AGE: Final = -1
_BROWSER_SESSION: Final = -2


class LegacyReader(Protocol):
    """Reads the cookie of the session library an app is leaving (see `cookiesess.legacy`).

    The attributes are those the legacy cookie was set with, to expire it exactly.
    """

    @property
    def cookie_name(self) -> str:
        """Name of the legacy cookie."""

    @property
    def path(self) -> str:
        """Its Path attribute."""

    @property
    def domain(self) -> str | None:
        """Its Domain attribute, if any."""

    @property
    def secure(self) -> bool:
        """Whether it was set with Secure."""

    @property
    def httponly(self) -> bool:
        """Whether it was set with HttpOnly."""

    @property
    def samesite(self) -> str | None:
        """Its SameSite attribute, if any."""

    @property
    def partitioned(self) -> bool:
        """Whether it was set with Partitioned."""

    def read(self, value: str, *, now: float) -> dict[str, Any]:
        """Return the verified data, or raise `InvalidToken`."""
        ...  # pragma: no cover


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
    domain: str | None = None
    secure: bool | Literal["auto"] = True
    """True, False, or "auto" to follow the request scheme."""
    httponly: bool = True
    samesite: SameSite | None = "Lax"
    partitioned: bool = False
    priority: Priority | None = None
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
    """Called with the reason code of every rejected cookie (for metrics)."""
    generation_check: Callable[[Session], int | None] | None = None
    """Returns the current generation for a session's user; older sessions are revoked."""
    denylist: Any = None
    """A `Store` or `AsyncStore` of revoked session ids (see `SessionEngine.revoke`)."""
    migrate_from: Sequence[LegacyReader] | LegacyReader = ()
    """Legacy readers (or one) whose cookies are read once and re-sealed (see
    `cookiesess.legacy`); tried in order. Stored as a tuple."""
    migrate_until: _dt.datetime | None = None
    """After this instant legacy cookies are no longer read."""
    clock: Callable[[], float] = time.time
    """Wall-clock seconds; cookies cross hosts, so not a monotonic clock."""

    def __post_init__(self) -> None:
        problems: list[str] = []
        samesite = self.samesite
        if isinstance(samesite, str) and samesite.capitalize() in (
            "Strict",
            "Lax",
            "None",
        ):
            object.__setattr__(self, "samesite", samesite.capitalize())
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
        for name in ("store", "denylist"):
            store = getattr(self, name)
            if store is not None and not all(
                callable(getattr(store, m, None)) for m in ("get", "set", "delete", "touch")
            ):
                problems.append(
                    f"{name} must provide get/set/delete/touch (a cookiesess.stores.Store "
                    "or AsyncStore)"
                )
        if len(self.app_namespace.encode("utf-8")) > 255:
            problems.append("app_namespace must be at most 255 bytes")
        for name in ("on_reject", "generation_check", "clock"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                problems.append(f"{name} must be callable")
        readers = _legacy_readers(self.migrate_from, problems)
        object.__setattr__(self, "migrate_from", readers)
        until = self.migrate_until
        if until is not None and (
            not isinstance(cast("object", until), _dt.datetime) or until.utcoffset() is None
        ):
            problems.append("migrate_until must be an aware datetime (e.g. with datetime.UTC)")
        if problems:
            raise ConfigurationError(problems)


def _legacy_readers(value: object, problems: list[str]) -> tuple[LegacyReader, ...]:
    """Return ``migrate_from`` as a tuple of readers; append a message per bad entry."""
    if callable(getattr(value, "read", None)):
        return (cast("LegacyReader", value),)
    if isinstance(value, str) or not isinstance(value, Iterable):
        problems.append(
            f"migrate_from={value!r}: pass reader objects from cookiesess.legacy, e.g. "
            "[StarletteSessionReader(secret_key)] (only the Flask and Django adapters "
            "take the names 'flask' and 'django')"
        )
        return ()
    readers: list[LegacyReader] = []
    for reader in value:
        if not callable(getattr(reader, "read", None)):
            problems.append(
                f"migrate_from entry {reader!r} is not a legacy reader (no read() method)"
            )
            continue
        try:
            _expire_legacy(reader)
        except ConfigurationError as exc:
            problems.extend(f"migrate_from entry {reader!r}: {p}" for p in exc.problems)
            continue
        except AttributeError as exc:  # a reader missing a cookie attribute
            problems.append(f"migrate_from entry {reader!r}: {exc}")
            continue
        readers.append(reader)
    return tuple(readers)


class _Found(NamedTuple):
    """What `SessionEngine._open_steps` found in the session cookie."""

    header: Header
    opened: Opened
    session: Session
    store_key: str | None
    has_data: bool
    """False for a store reference whose record was not read."""


def _int_in(value: object, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


@dataclasses.dataclass(frozen=True, kw_only=True)
class Inspection:
    """What `SessionEngine.inspect` finds in a request's session cookies (for debugging)."""

    cookie_name: str
    mode: Literal["cookie", "store"]
    """Where the data lives: sealed in the cookie, or in the store behind a reference."""
    key_id: str
    key_state: str
    """The opening key's state; ``decrypt`` means the next write re-seals under the primary."""
    chunks: int
    cookie_bytes: tuple[tuple[str, int], ...]
    """``(name, len(name=value))`` for each chunk, as the browser sends it."""
    total_bytes: int
    """The chunks together in the Cookie header, separators included."""
    max_cookie_bytes: int
    max_total_bytes: int
    stale_chunks: tuple[str, ...]
    """Chunk cookies past the count the header records (ignored; the next write expires them)."""
    issued: int
    deadline: int | None
    """Absolute deadline (Unix seconds), or None without an absolute timeout."""
    last_activity: int
    idle_deadline: int | None
    generation: int
    session_id: str
    store_key: str | None
    """The store key of a reference (an HMAC of the session id), else None."""
    data: dict[str, Any] | None
    """The user data; None for a reference whose record was not fetched."""


# Store steps, yielded by the logic generators and run by a driver.
_Step = tuple[Any, str, tuple[Any, ...]]
_Steps = Generator[_Step, Any, Any]


def _with_steps(ops: list[_Step], result: list[str]) -> list[str] | _Steps:
    """Return `result`, or steps that run the store calls `ops` in order, then return it."""
    if not ops:
        return result

    def steps() -> _Steps:
        # Not `yield from ops`: the driver sends each call's result, which a
        # list iterator cannot take.
        for op in ops:  # noqa: UP028
            yield op
        return result

    return steps()


def _run_sync(steps: _Steps | Any) -> Any:
    if type(steps) is not GeneratorType:
        return steps  # decided without the store
    try:
        step = next(steps)
        while True:
            store, method, args = step
            result = getattr(store, method)(*args)
            if inspect.isawaitable(result):
                close = getattr(result, "close", None)
                if close is not None:
                    close()
                raise TypeError(
                    "this store is asynchronous: use aload/acommit (the ASGI middleware does)"
                )
            step = steps.send(result)
    except StopIteration as stop:
        return stop.value


async def _run_async(steps: _Steps | Any) -> Any:
    if type(steps) is not GeneratorType:
        return steps  # decided without the store
    try:
        step = next(steps)
        while True:
            store, method, args = step
            result = getattr(store, method)(*args)
            if inspect.isawaitable(result):
                result = await result
            step = steps.send(result)
    except StopIteration as stop:
        return stop.value


class SessionEngine:
    """Turns request cookies into a `Session` and a session into Set-Cookie values.

    Args:
        keyring: the keys to seal and open with.
        config: a `SessionConfig`; or pass its options as keywords.
    """

    session_class: type[Session] = Session
    """The class of the sessions `load` returns; framework adapters set a subclass."""

    def __init__(
        self, keyring: Keyring, config: SessionConfig | None = None, **options: Any
    ) -> None:
        if not isinstance(keyring, Keyring):
            raise ConfigurationError("keyring must be a cookiesess.Keyring")
        if config is None:
            config = SessionConfig(**options)
        elif options:
            config = dataclasses.replace(config, **options)
        self.keyring = keyring
        self.config = config
        name = config.cookie_name
        self._name = name
        self._chunk_names = tuple(chunk_name(name, i) for i in range(MAX_CHUNKS))
        ns = config.app_namespace
        self._ctx_session = aad_context(app_namespace=ns, purpose="session", name=name)
        self._ctx_ref = aad_context(app_namespace=ns, purpose="ref", name=name)
        self._ctx_record = aad_context(app_namespace=ns, purpose="record", name=name)
        self._deny_prefix = b"cookiesess/deny\x00" + ns.encode() + b"\x00"
        self._attrs = {
            secure: SetCookie(
                name=name,
                secure=secure,
                path=config.path,
                domain=config.domain,
                httponly=config.httponly,
                samesite=config.samesite,
                partitioned=config.partitioned,
                priority=config.priority,
            ).attributes()
            for secure in ((True, False) if config.secure == "auto" else (config.secure,))
        }
        # Worst-case Max-Age attribute: "; Max-Age=34560000".
        reserve = len(f"; Max-Age={MAX_AGE_CAP}") + max(map(len, self._attrs.values()))
        self._capacity = tuple(
            config.max_cookie_bytes - len(cname) - 1 - reserve for cname in self._chunk_names
        )
        # Per chunk count: the value room of that many cookies, and the bytes their
        # names, "=" and the "; " joining them add to the Cookie header.
        self._fits = tuple(
            (
                sum(self._capacity[:count]),
                sum(len(n) + 1 for n in self._chunk_names[:count]) + 2 * (count - 1),
            )
            for count in range(1, MAX_CHUNKS + 1)
        )
        if self._capacity[-1] < 256:
            raise ConfigurationError(
                "max_cookie_bytes leaves under 256 bytes for the value once the name and "
                "attributes are counted; raise it or shorten the cookie name/attributes"
            )
        # Activity is refreshed only when something depends on it (an idle
        # timeout, or a rolling cookie expiry), and then at a bounded granularity.
        basis = config.idle_timeout or (config.max_age if config.rolling else None)
        self._refresh_every: int | None = None
        if basis:
            self._refresh_every = config.refresh_interval or max(_MIN_REFRESH, basis // 10)
        self._legacy_until = (
            config.migrate_until.timestamp() if config.migrate_until is not None else None
        )
        self._readers = cast("tuple[LegacyReader, ...]", config.migrate_from)
        self._delete_if = callable(getattr(config.store, "delete_if", None))

    def __repr__(self) -> str:
        return f"SessionEngine({self.keyring!r}, cookie_name={self._name!r})"

    # -- public API --------------------------------------------------------

    def load(self, cookies: Mapping[str, str], *, now: float | None = None) -> Session:
        """Open the session the request's cookies carry; a fresh one if none is usable.

        Raises:
            StoreError: when the store fails (never a fresh session: the caller
                must not answer with cookies that would replace the client's).
        """
        return _run_sync(self._load_steps(cookies, self._now(now)))  # type: ignore[no-any-return]

    async def aload(self, cookies: Mapping[str, str], *, now: float | None = None) -> Session:
        """Async `load`: store calls are awaited."""
        return await _run_async(self._load_steps(cookies, self._now(now)))  # type: ignore[no-any-return]

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
        steps = self._commit_steps(session, request_cookies, secure, self._now(now))
        return _run_sync(steps)  # type: ignore[no-any-return]

    async def acommit(
        self,
        session: Session | LazySession,
        request_cookies: Mapping[str, str],
        *,
        secure: bool | None = None,
        now: float | None = None,
    ) -> list[str]:
        """Async `commit`: store calls are awaited."""
        steps = self._commit_steps(session, request_cookies, secure, self._now(now))
        return await _run_async(steps)  # type: ignore[no-any-return]

    def revoke(self, session: Session, *, now: float | None = None) -> None:
        """Deny this session id until its deadline, on every host (needs `denylist`)."""
        _run_sync(self._revoke_steps(session, self._now(now)))

    async def arevoke(self, session: Session, *, now: float | None = None) -> None:
        """Async `revoke`."""
        await _run_async(self._revoke_steps(session, self._now(now)))

    def lazy(self, cookies: Callable[[], Mapping[str, str]]) -> LazySession:
        """Return a `LazySession` that loads (synchronously) on first access."""
        return LazySession(lambda: self.load(cookies()))

    def needs_store(self, cookies: Mapping[str, str]) -> bool:
        """Return whether loading these cookies would call the store (cheap, no crypto)."""
        first = cookies.get(self._name)
        if first is None:
            return False
        peeked = peek_header(first)
        if peeked is not None and peeked.purpose != "ref":
            return False  # read_header would say the same, or fail: False either way
        try:
            return read_header(first).purpose == "ref"
        except InvalidToken:
            return False

    def new_session(self, *, now: float | None = None) -> Session:
        """Return a fresh, empty session."""
        return self._fresh(self._now(now))

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
        return _run_sync(self._inspect_steps(cookies, self._now(now), fetch=fetch))  # type: ignore[no-any-return]

    def _inspect_steps(self, cookies: Mapping[str, str], now: int, *, fetch: bool) -> _Steps:
        first = cookies.get(self._name)
        if first is None:
            return None
        found = yield from self._open_steps(cookies, first, now, fetch=fetch)
        session, opened, store_key = found.session, found.opened, found.store_key
        data = dict(dict.items(session)) if found.has_data else None
        header = found.header
        names = self._chunk_names[: header.chunks]
        sizes = tuple((name, len(name) + 1 + len(cookies[name])) for name in names)
        idle = self.config.idle_timeout
        return Inspection(
            cookie_name=self._name,
            mode="store" if store_key is not None else "cookie",
            key_id=opened.key.id,
            key_state=opened.key.state,
            chunks=header.chunks,
            cookie_bytes=sizes,
            total_bytes=sum(size for _, size in sizes) + 2 * (len(sizes) - 1),
            max_cookie_bytes=self.config.max_cookie_bytes,
            max_total_bytes=self.config.max_total_bytes,
            stale_chunks=tuple(n for n in self._chunk_names[header.chunks :] if n in cookies),
            issued=session._issued,
            deadline=session._deadline or None,
            last_activity=session._last,
            idle_deadline=None if idle is None else session._last + idle,
            generation=session._generation,
            session_id=session.id,
            store_key=store_key,
            data=data,
        )

    # -- load ----------------------------------------------------------------

    def _now(self, now: float | None) -> int:
        return int(self.config.clock() if now is None else now)

    def _fresh(self, now: int) -> Session:
        session = self.session_class()
        session._default_max_age = self.config.max_age
        self._stamp_new(session, now)
        return session

    def _stamp_new(self, session: Session, now: int) -> None:
        self._stamp_new_lifetime(session, now)
        session._last = now
        session._cookie_max_age = _DEFAULT_MAX_AGE

    def _reject(self, reason: RejectReason, now: int) -> Session:
        logger.debug("cookiesess: session cookie rejected (%s)", reason)
        hook = self.config.on_reject
        if hook is not None:
            try:
                hook(reason)
            except Exception:  # a metrics hook must not fail the request
                logger.exception("cookiesess: on_reject hook failed")
        return self._fresh(now)

    def _load_steps(self, cookies: Mapping[str, str], now: int) -> Session | _Steps:
        """Open the session; a generator (`_load_store_steps`) only when a store is asked.

        The common request, a single-chunk session cookie and no denylist,
        goes straight through with no generator; everything else takes the
        general path.
        """
        first = cookies.get(self._name)
        if first is None:
            return self._migrate(cookies, now) if self._readers else self._fresh(now)
        header = peek_header(first)
        if (
            header is None
            or header.purpose != "session"
            or header.chunks != 1
            or self.config.denylist is not None
        ):
            return self._load_store_steps(cookies, first, now)
        try:
            opened = unseal(self.keyring, first, purpose="session", context=self._ctx_session)
            session = self._parse(opened.plaintext, now)
            self._check_generation(session)
        except InvalidToken as exc:
            return self._load_rejected(cookies, exc.reason, now)
        return self._load_done(session, opened, now)

    def _load_store_steps(self, cookies: Mapping[str, str], first: str, now: int) -> _Steps:
        try:
            found = yield from self._open_steps(cookies, first, now, fetch=True)
            session, opened = found.session, found.opened
            self._check_generation(session)
            if self.config.denylist is not None:
                denied = yield (
                    self.config.denylist,
                    "get",
                    (self._deny_key(session._sid),),
                )
                if denied is not None:
                    raise InvalidToken("revoked")
        except InvalidToken as exc:
            return self._load_rejected(cookies, exc.reason, now)
        return self._load_done(session, opened, now)

    def _open_steps(
        self, cookies: Mapping[str, str], first: str, now: int, *, fetch: bool
    ) -> Generator[_Step, Any, _Found]:
        """Reassemble, authenticate and parse the session cookie, and its record if any.

        The one place that opens a cookie, for `load` and `inspect`. With
        `fetch` false a store reference is parsed but its record is not read.

        Raises:
            InvalidToken: with the rejection reason.
        """
        # A single-chunk token is decoded once, by unseal, which refuses
        # whatever read_header would (same reason code).
        header = peek_header(first)
        if header is None or header.chunks != 1:
            header = read_header(first)
        token = first if header.chunks == 1 else self._join(cookies, first, header.chunks)
        if header.purpose == "session":
            opened = unseal(self.keyring, token, purpose="session", context=self._ctx_session)
            return _Found(header, opened, self._parse(opened.plaintext, now), None, True)
        if header.purpose != "ref":
            raise InvalidToken("malformed")
        opened = unseal(self.keyring, token, purpose="ref", context=self._ctx_ref)
        ref = self._parse(opened.plaintext, now)
        store_key = self._store_key(opened.key, ref._sid)
        if not fetch:
            return _Found(header, opened, ref, store_key, False)
        record = yield (self._require_store(), "get", (store_key,))
        if record is None:
            raise InvalidToken("store_missing")
        # The record's AAD binds it to this session id: a record copied under
        # another session's key does not open.
        stored = unseal_bytes(
            self.keyring, record, purpose="record", context=self._ctx_record + ref._sid
        )
        session = self._parse(stored.plaintext, now)
        session._source = (store_key, record)
        return _Found(header, opened, session, store_key, True)

    def _check_generation(self, session: Session) -> None:
        if self.config.generation_check is not None:
            current = self.config.generation_check(session)
            if current is not None and session._generation < current:
                raise InvalidToken("revoked")

    def _load_rejected(self, cookies: Mapping[str, str], reason: RejectReason, now: int) -> Session:
        if reason == "malformed" and self._readers:
            return self._migrate(cookies, now)
        return self._reject(reason, now)

    def _load_done(self, session: Session, opened: Opened, now: int) -> Session:
        session._reseal = opened.key.state != "primary"
        if self._refresh_every is not None and now - session._last >= self._refresh_every:
            session._refresh = True
        return session

    def _join(self, cookies: Mapping[str, str], first: str, count: int) -> str:
        parts = [first]
        for i in range(1, count):
            part = cookies.get(self._chunk_names[i])
            if not part:
                raise InvalidToken("chunk_missing")
            parts.append(part)
        return "".join(parts)

    def _parse(self, plaintext: bytes, now: int) -> Session:
        if len(plaintext) < META_BYTES:
            raise InvalidToken("malformed")
        (
            c0,
            c1,
            issued,
            c2,
            deadline,
            c3,
            last,
            c4,
            generation,
            c5,
            cookie_code,
            c6,
            sid,
            c7,
        ) = _META.unpack_from(plaintext)
        if (c0, c1, c2, c3, c4, c5, c6, c7) != _META_CONST:
            raise InvalidToken("malformed")
        if issued > now + SKEW or last > now + SKEW:
            raise InvalidToken("expired")
        if deadline and now >= deadline:
            raise InvalidToken("expired")
        idle = self.config.idle_timeout
        if idle is not None and now - last >= idle:
            raise InvalidToken("expired")
        encoded = plaintext[META_BYTES:]
        session = self.session_class._loaded(codec.decode(encoded), encoded, sid)
        session._issued = issued
        session._deadline = deadline
        session._last = last
        session._generation = generation
        session._cookie_max_age = (
            _DEFAULT_MAX_AGE
            if cookie_code == _C_DEFAULT
            else _BROWSER_SESSION
            if cookie_code == _C_BROWSER
            else cookie_code - 2
        )
        session._default_max_age = self.config.max_age
        return session

    def _migrate(self, cookies: Mapping[str, str], now: int) -> Session:
        if self._legacy_until is not None and now >= self._legacy_until:
            return self._fresh(now)
        rejected = False
        for reader in self._readers:
            value = cookies.get(reader.cookie_name)
            if value is None:
                continue
            try:
                data = reader.read(value, now=now)
                # Check now that the data can be re-sealed: a CodecError (or
                # SessionTooLarge) at commit would fail every request of this user.
                encoded = codec.encode(data)
            except (InvalidToken, CodecError):
                # Another reader of the same cookie may hold the old secret.
                rejected = True
                continue
            if self.config.store is None and not self._fit(sealed_chars(META_BYTES + len(encoded))):
                # A compressed legacy cookie can inflate past our cookie budget.
                return self._reject("too_large", now)
            session = self._fresh(now)
            dict.update(session, data)
            session._out.update(data)
            session._legacy = reader
            return session
        return self._reject("legacy_rejected", now) if rejected else self._fresh(now)

    def _require_store(self) -> Any:
        store = self.config.store
        if store is None:
            # A valid reference but no store: the app removed its store.
            raise InvalidToken("store_missing")
        return store

    @staticmethod
    def _store_key(key: Key, sid: bytes) -> str:
        # SECURITY: the store sees HMAC(sid), never a usable id (CVE-2019-16782).
        return hmac.new(key.mac_key("store-key"), sid, hashlib.sha256).hexdigest()

    def _deny_key(self, sid: bytes) -> str:
        # Independent of the keys, so entries survive key rotation.
        return "deny:" + hashlib.sha256(self._deny_prefix + sid).hexdigest()

    # -- commit --------------------------------------------------------------

    def _commit_steps(
        self,
        session: Session | LazySession,
        cookies: Mapping[str, str],
        secure: bool | None,
        now: int,
    ) -> list[str] | _Steps:
        """Decide the response's Set-Cookie values; a generator only when the store is called.

        The store calls are collected and run, in order, after every decision
        is made: the usual request (no store involved) pays no generator.
        """
        # Not isinstance(session, LazySession): that goes through ABCMeta.
        if not isinstance(session, Session):
            opened = session.loaded
            if opened is None:
                return []
            session = opened
        if not (
            session.new
            or session._dirty
            or session._forced
            or session._reseal
            or session._refresh
            or session._destroyed
            or self._readers
        ):
            return []  # loaded and unchanged (the usual read): nothing to write
        config = self.config
        if config.secure == "auto":
            secure = True if secure is None else secure
        else:
            secure = config.secure is True
        legacy = session._legacy
        # A legacy cookie our cookies do not replace in the browser (another
        # name, path, domain or partition) is expired whenever it comes along.
        ops: list[_Step] = []
        headers: list[str] = []
        if self._readers:
            headers = list(
                dict.fromkeys(
                    _expire_legacy(reader)
                    for reader in self._readers
                    if (reader is legacy or reader.cookie_name not in self._chunk_names)
                    and reader.cookie_name in cookies
                    and not self._replaces(reader)
                )
            )

        empty = not dict.__len__(session)
        if session._destroyed or (empty and not session.new and session.modified):
            if not empty:
                # destroy() then new data: a brand-new session under the new id.
                self._stamp_new(session, now)
                session._destroyed = False
            else:
                if session._source is not None:
                    ops.append((config.store, "delete", (session._source[0],)))
                return _with_steps(ops, headers + self._expire_all(cookies, secure))
        write = (
            session._forced
            or session._reseal
            or session._refresh
            or session.modified
            or (session.new and config.save_uninitialized)
        )
        if not write:
            if legacy is not None and self._replaces(legacy):
                # Migrated but empty, so not written: nothing overwrites it.
                headers.append(_expire_legacy(legacy))
            return headers
        if session._retire_ids and session.new is False:
            # regenerate(): a fresh lifetime under a new id.
            self._stamp_new_lifetime(session, now)
        session._last = now
        plaintext = self._meta(session) + session._data_bytes()
        length = sealed_chars(len(plaintext))
        count = self._fit(length)
        store = config.store
        if count:
            token = seal(
                self.keyring,
                plaintext,
                purpose="session",
                context=self._ctx_session,
                chunks=count,
            )
            if session._source is not None:
                ops.append(self._release(session))
        elif store is not None:
            store_key = self._store_key(self.keyring.primary, session._sid)
            record = seal_bytes(
                self.keyring,
                plaintext,
                purpose="record",
                context=self._ctx_record + session._sid,
            )
            ops.append((store, "set", (store_key, record, self._ttl(session, now))))
            if session._source is not None and session._source[0] != store_key:
                ops.append(self._release(session))
            count = 1
            token = seal(
                self.keyring,
                self._meta(session) + _EMPTY_MAP,
                purpose="ref",
                context=self._ctx_ref,
            )
        else:
            raise SessionTooLarge(
                f"the sealed session needs {length} bytes of cookie value, over the budget "
                f"(max_total_bytes={config.max_total_bytes}, max_cookie_bytes="
                f"{config.max_cookie_bytes}, at most {MAX_CHUNKS} chunks); store less in the "
                "session or configure a store (SessionConfig(store=...))"
            )
        max_age = self._cookie_max_age(session, now)
        suffix = ("" if max_age is None else f"; Max-Age={max_age}") + self._attrs[secure]
        start = 0
        for i in range(count):
            end = start + self._capacity[i]
            headers.append(f"{self._chunk_names[i]}={token[start:end]}{suffix}")
            start = end
        if len(cookies) > (self._name in cookies):  # other cookies: maybe stale chunks
            for i in range(count, MAX_CHUNKS):
                if self._chunk_names[i] in cookies:
                    headers.append(self._expire(self._chunk_names[i], secure))
        return _with_steps(ops, headers)

    def _release(self, session: Session) -> _Step:
        """The store call that drops the record `session` was read from, on a move.

        A session moving into its cookie (or to another record key after a
        key rotation) deletes its record only while the record still holds
        what this request read: when a concurrent request rewrote it since,
        that request's reference keeps opening. After `regenerate()` or
        `destroy()` the old record goes whatever it holds.
        """
        store = self.config.store
        key, record = cast("tuple[str, bytes]", session._source)
        if session._retire_ids or not self._delete_if:
            return (store, "delete", (key,))
        return (store, "delete_if", (key, record))

    def _replaces(self, reader: LegacyReader) -> bool:
        """Whether our first cookie overwrites the legacy one in the browser's jar."""
        config = self.config
        return (
            reader.cookie_name == self._name
            and reader.path == config.path
            and _domain_key(reader.domain) == _domain_key(config.domain)
            and reader.partitioned == config.partitioned
        )

    def _stamp_new_lifetime(self, session: Session, now: int) -> None:
        """Start the absolute lifetime now (new sessions and `regenerate`)."""
        absolute = self.config.absolute_timeout
        session._issued = now
        session._deadline = now + absolute if absolute else 0

    def _meta(self, session: Session) -> bytes:
        code = session._cookie_max_age
        cookie_code = (
            _C_DEFAULT
            if code == _DEFAULT_MAX_AGE
            else _C_BROWSER
            if code == _BROWSER_SESSION
            else min(code, MAX_AGE_CAP) + 2
        )
        c = _META_CONST
        return _META.pack(
            c[0],
            c[1],
            min(session._issued, _MAX_U32),
            c[2],
            min(session._deadline, _MAX_U32),
            c[3],
            min(session._last, _MAX_U32),
            c[4],
            session._generation,
            c[5],
            cookie_code,
            c[6],
            session._sid,
            c[7],
        )

    def _fit(self, length: int) -> int:
        """Return the chunk count that fits `length` characters, or 0 if none does."""
        spare = self.config.max_total_bytes - length
        for count, (room, overhead) in enumerate(self._fits, 1):
            if overhead > spare:
                return 0
            if room >= length:
                return count
        return 0

    def _cookie_max_age(self, session: Session, now: int) -> int | None:
        code = session._cookie_max_age
        if code == _BROWSER_SESSION:
            return None
        max_age = self.config.max_age if code == _DEFAULT_MAX_AGE else code
        if max_age is None:
            return None
        if session._deadline:
            max_age = min(max_age, session._deadline - now)
        return max(0, min(max_age, MAX_AGE_CAP))

    def _ttl(self, session: Session, now: int) -> int:
        config = self.config
        remaining = session._deadline - now if session._deadline else MAX_AGE_CAP
        if config.idle_timeout is not None:
            remaining = min(remaining, config.idle_timeout + (self._refresh_every or 0))
        return max(1, remaining)

    def _expire(self, name: str, secure: bool) -> str:
        return f"{name}={EXPIRED}{self._attrs[secure]}"

    def _expire_all(self, cookies: Mapping[str, str], secure: bool) -> list[str]:
        return [self._expire(name, secure) for name in self._chunk_names if name in cookies]

    def _revoke_steps(self, session: Session, now: int) -> _Steps:
        denylist = self.config.denylist
        if denylist is None:
            raise ConfigurationError("revoke() needs SessionConfig(denylist=<a store>)")
        ttl = self._ttl(session, now)
        yield (denylist, "set", (self._deny_key(session._sid), b"1", ttl))


def _domain_key(domain: str | None) -> str | None:
    # RFC 6265 section 5.2.3: a leading dot is ignored; domains compare case-insensitively.
    return None if domain is None else domain.lstrip(".").lower()


def _expire_legacy(reader: LegacyReader) -> str:
    samesite = reader.samesite.capitalize() if reader.samesite else None
    return SetCookie(
        name=reader.cookie_name,
        path=reader.path,
        domain=reader.domain,
        secure=reader.secure,
        httponly=reader.httponly,
        samesite=samesite,  # type: ignore[arg-type]
        partitioned=reader.partitioned,
        max_age=0,
    ).render()
