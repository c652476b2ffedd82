"""ASGI 3 middleware: the session at ``scope["session"]``.

Pure ASGI (no response buffering): it reads the ``cookie`` header lines, hands
the session to the app and, at ``http.response.start``, adds the Set-Cookie
values the engine decides on, plus ``Vary: Cookie`` and ``Cache-Control:
private`` where due. Starlette's, FastAPI's and Litestar's ``request.session``
work unchanged. Every session decision is the engine's; this module moves
headers, and reads back whatever ``scope["session"]`` holds at that point.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
import inspect
import logging
import sys
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from types import MappingProxyType
from typing import Any, Final

from ._frameworks import build_engine
from ._http import ASGI, STORE_UNAVAILABLE, with_session_headers
from .cookies import (
    parse_cookie_header,
    request_is_secure,
)
from .engine import SessionEngine
from .exceptions import CodecError, StoreError
from .keys import Keyring
from .session import LazySession, Session, WebSocketSession
from .stores import MemoryStore, ThreadedAsyncStore

__all__ = ["SessionMiddleware"]

logger = logging.getLogger("cookiesess")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
# The wrapped app is typed loosely, as Starlette's Middleware does: ASGI apps
# are typed with Starlette's aliases, asgiref's TypedDicts or plain dicts.
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

# RFC 6455 §7.4.1: 1011, the server hit an unexpected condition.
_WS_INTERNAL_ERROR: Final = 1011


class SessionMiddleware:
    """Give an ASGI app a cookie session at ``scope["session"]``.

    A drop-in replacement for `starlette.middleware.sessions.SessionMiddleware`:
    ``request.session`` is a `Session` (a dict). With ``lazy=True`` it is a
    `LazySession` that opens the cookie on first access; a cookie that points
    to the store is still loaded before the app runs (a lazy mapping cannot
    await). Async stores are awaited; a synchronous store runs in a worker
    thread (`ThreadedAsyncStore`), except the in-process `MemoryStore`.

    Whatever ``scope["session"]`` holds when the response starts is what is
    committed. An app or framework that replaces it (Litestar's
    ``request.set_session(...)``, ``scope["session"] = {...}``) sets the data,
    under the same session id (call ``regenerate()`` at login); one that
    removes or empties it (Litestar's ``request.clear_session()``,
    ``scope["session"] = {}`` or None, ``del scope["session"]``) clears the
    session as `Session.destroy` does. In Litestar, add it with
    ``DefineMiddleware(SessionMiddleware, keyring=..., **options)``.

    ``websocket`` connections get a read-only `WebSocketSession`: a WebSocket
    cannot set cookies, so writing to it raises `TypeError` rather than
    losing the change. ``lifespan`` and other scopes pass straight through.

    A failing store answers 503 Service Unavailable for that request, with no
    Set-Cookie (the client keeps its session), and the app's own response is
    dropped. `CodecError` and `SessionTooLarge` at commit are bugs in the app
    and propagate (a 500).

    Args:
        app: the ASGI 3 application to wrap.
        keyring: the keys; `Keyring.from_env()` when omitted.
        engine: a prebuilt `SessionEngine`, instead of `keyring` and options.
        **options: `SessionConfig` options (``cookie_name``, ``secure``, …).

    Raises:
        ConfigurationError: invalid options, or `engine` given with options.
        KeyringError: no usable keys in the environment.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        app: ASGIApp,
        keyring: Keyring | None = None,
        *,
        engine: SessionEngine | None = None,
        **options: Any,
    ) -> None:
        self.app = app
        self.engine = _awaitable_stores(build_engine(keyring, engine, options))
        config = self.engine.config
        # A denylist check awaits a store, which a lazy mapping cannot do.
        self._lazy = config.lazy and config.denylist is None
        self._inline = all(
            store is None or isinstance(store, MemoryStore)
            for store in (config.store, config.denylist)
        )
        self._lazy_inline = self._lazy and self._inline
        self._auto = config.secure == "auto"
        self._trust_proxy = config.trust_proxy
        self._migrating = bool(config.migrate_from)  # else no need to parse for legacy cookies

    def __repr__(self) -> str:
        return f"SessionMiddleware({self.app!r}, engine={self.engine!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app with the connection's session (the ASGI entry point)."""
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await self._websocket(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        # A request with no store to await runs here, with no coroutine of its
        # own: one layer less for every await of the app.
        session: Session | _HeaderLazySession
        if self._lazy_inline:
            # The Cookie header is read if the app opens the session.
            session, cookies = _HeaderLazySession(self.engine, scope["headers"]), None
            if self._migrating and self.engine.carries_legacy(session.parsed()):
                session.open()  # migrated, or expired, whether or not the app opens it
        elif self._inline:
            cookies = _parse(scope["headers"])
            try:
                session = self.engine.load(cookies)
            except StoreError:
                await _store_failed(send, "loading")
                return
        else:
            await self._http(scope, receive, send)
            return
        inner = {**scope, "session": session}
        await self.app(inner, receive, self._inline_send(scope, inner, send, session, cookies))

    def _inline_send(
        self,
        scope: Scope,
        inner: Scope,
        send: Send,
        session: Session | _HeaderLazySession,
        cookies: Mapping[str, str] | None,
    ) -> Send:
        """The app's send when the engine runs inline: it commits `session` at the start.

        Not a coroutine either: each message goes on as `send`'s own awaitable.
        `cookies` are the request's; None for a lazy session, which parses them.
        """
        failed = False

        def send_with_session(message: Message) -> Awaitable[None]:
            nonlocal failed
            if failed:
                return _dropped()  # the 503 went out instead; drop the app's response
            if message["type"] == "http.response.start":
                chosen = self._to_commit(scope, inner, session, cookies)
                if chosen is not None:
                    committed, jar, secure, accessed = chosen
                    try:
                        set_cookies = self.engine.commit(committed, jar, secure=secure)
                    except StoreError:
                        failed = True
                        return _store_failed(send, "saving")
                    if set_cookies or accessed:
                        message = _with_session(message, set_cookies, vary=accessed)
            return send(message)

        return send_with_session

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A request whose store is awaited (through a thread for a blocking one)."""
        engine = self.engine
        cookies = _parse(scope["headers"])
        session: Session | LazySession
        if self._lazy and not engine.needs_store(cookies):
            # A store reference must be loaded (awaited) now; anything else waits.
            session = LazySession(lambda: engine.load(cookies))
            if engine.carries_legacy(cookies):
                session.open()  # migrated, or expired, whether or not the app opens it
        else:
            try:
                loaded = await engine.aload(cookies)
            except StoreError:
                await _store_failed(send, "loading")
                return
            # In lazy mode the app always gets the lazy mapping, opened or not.
            session = LazySession(lambda: loaded) if self._lazy else loaded
        inner = {**scope, "session": session}
        failed = False

        async def send_with_session(message: Message) -> None:
            nonlocal failed
            if failed:
                return  # the 503 went out instead; drop the app's response
            if message["type"] == "http.response.start":
                chosen = self._to_commit(scope, inner, session, cookies)
                if chosen is not None:
                    committed, jar, secure, accessed = chosen
                    try:
                        set_cookies = await engine.acommit(committed, jar, secure=secure)
                    except StoreError:
                        failed = True
                        await _store_failed(send, "saving")
                        return
                    if set_cookies or accessed:
                        message = _with_session(message, set_cookies, vary=accessed)
            await send(message)

        await self.app(inner, receive, send_with_session)

    def _to_commit(
        self,
        scope: Scope,
        inner: Scope,
        session: Session | LazySession,
        cookies: Mapping[str, str] | None,
    ) -> tuple[Session | LazySession, Mapping[str, str], bool | None, bool] | None:
        """What the response start commits: the session, the request's cookies, `secure`.

        Then whether the response depends on the session. None when the app left
        a lazy session unopened (nothing to read or write). `inner` is the app's
        scope; `cookies` None means the lazy session parsed them itself.
        """
        current = inner.get("session")
        if current is not session:
            committed: Session | LazySession = _replaced(session, current)
            accessed = True
        elif not isinstance(session, Session):  # lazy
            if session.loaded is None:
                return None
            committed, accessed = session, True
        else:
            committed, accessed = session, session.accessed
        jar = session.cookies if cookies is None else cookies  # type: ignore[union-attr]
        return committed, jar, self._secure(scope) if self._auto else None, accessed

    def _secure(self, scope: Scope) -> bool | None:
        """Whether the request came over HTTPS, for ``secure="auto"``."""
        forwarded = None
        if self._trust_proxy:
            forwarded = next(
                (value for name, value in scope["headers"] if name == b"x-forwarded-proto"), None
            )
        return request_is_secure(
            scope.get("scheme", "http"),
            None if forwarded is None else forwarded.decode("latin-1"),
            trust_proxy=self._trust_proxy,
        )

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            session = await self.engine.aload(_parse(scope["headers"]))
        except StoreError:
            logger.exception("cookiesess: session store failed while loading")
            # Closing before accepting makes the server refuse the handshake.
            await receive()
            await send({"type": "websocket.close", "code": _WS_INTERNAL_ERROR})
            return
        view = WebSocketSession(session, session.id)
        await self.app({**scope, "session": view}, receive, send)


class _HeaderLazySession(LazySession):
    """A `LazySession` that parses the request's Cookie lines when first opened."""

    __slots__ = ("_engine", "_headers", "cookies")

    def __init__(self, engine: SessionEngine, headers: Any) -> None:
        # No closure for a loader: one object a request, with the cookies for the commit.
        self._engine = engine
        self._headers = headers
        self.cookies = _UNPARSED
        self.loaded = None

    def parsed(self) -> Mapping[str, str]:
        """The request's cookies, parsed on first call."""
        if self.cookies is _UNPARSED:
            self.cookies = _parse(self._headers)
        return self.cookies

    def open(self) -> Session:
        """Open the cookie now and return the underlying `Session`."""
        session = self.loaded
        if session is None:
            session = self.loaded = self._engine.load(self.parsed())
        return session


def _replaced(session: Session | LazySession, current: object) -> Session:
    """Return the session to commit once the app replaced ``scope["session"]`` by `current`.

    `current`'s data goes out under the session's id and lifetime: a new
    mapping is not a login, so the id stays (``regenerate()`` is the signal for
    that) and the values pass the codec as usual. No session (removed, None,
    Litestar's ``Empty``) or an empty one clears it as `Session.destroy` does:
    every cookie expired, the store record deleted.
    """
    # A lazy session is opened here: its store record, if any, must be known to
    # delete it. A lazy loader never awaits a store (references load up front).
    base = session if isinstance(session, Session) else session.open()
    if current is base:
        return base
    data = _as_data(current)
    if data:
        base.clear()
        base.update(data)
    else:
        base.destroy()
    return base


# Types msgspec.to_builtins leaves to the codec, which stores them as they are.
_NATIVE: Final = (bytes, bytearray, _dt.datetime, _dt.date, uuid.UUID, decimal.Decimal)


def _as_data(value: object) -> Mapping[str, Any] | None:
    """Return what `value`, from ``scope["session"]``, holds as session data; None if nothing.

    Litestar's ``set_session`` also takes a data container (a dataclass, msgspec
    Struct, attrs class or pydantic model); it becomes its fields, converted as
    Litestar's own session backends do (nested containers too), except that
    datetimes, UUIDs, Decimals and bytes keep their types.
    """
    if isinstance(value, Mapping):
        return value
    if value is None or value is getattr(sys.modules.get("litestar.types.empty"), "Empty", None):
        return None
    dump = getattr(value, "model_dump", None)  # pydantic 2
    if callable(dump) and not isinstance(value, type):
        value = dump()
        if isinstance(value, Mapping):
            return value
    try:
        import msgspec
    except ImportError:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return dataclasses.asdict(value)
    else:
        try:
            data = msgspec.to_builtins(value, builtin_types=_NATIVE)
        except TypeError:
            data = None
        if isinstance(data, dict):
            return data
    raise CodecError(
        f'scope["session"] holds a {type(value).__name__}: a session is a mapping (or a '
        "dataclass, msgspec Struct, attrs or pydantic instance); set it to {} or None to "
        "clear the session"
    )


async def _store_failed(send: Send, doing: str) -> None:
    """Log the store's failure and send the 503 that replaces the app's response."""
    logger.exception("cookiesess: session store failed while %s", doing)
    response = STORE_UNAVAILABLE
    await send(
        {"type": "http.response.start", "status": response.status, "headers": response.raw_headers}
    )
    await send({"type": "http.response.body", "body": response.body})


_NO_COOKIES: Mapping[str, str] = MappingProxyType({})
_UNPARSED: Mapping[str, str] = MappingProxyType({})
"""A lazy session's cookies until it parses them (no Cookie header reads as none)."""


async def _dropped() -> None:
    """A message not sent (the response it belonged to was replaced by a 503)."""


def _parse(headers: Any) -> Mapping[str, str]:
    """The cookies of the ASGI request `headers` (all ``cookie`` lines)."""
    line = None
    for name, value in headers:  # a loop: a comprehension is one more call
        if name == b"cookie":
            if line is not None:  # several lines (HTTP/2 may split the header)
                return parse_cookie_header([v for n, v in headers if n == b"cookie"])
            line = value
    return _NO_COOKIES if line is None else parse_cookie_header(line)


def _with_session(message: Message, set_cookies: list[str], *, vary: bool) -> Message:
    """Return the ``http.response.start`` `message` with the session's headers added."""
    headers = with_session_headers(message.get("headers", ()), set_cookies, vary=vary, names=ASGI)
    return {**message, "headers": headers}


def _awaitable_stores(engine: SessionEngine) -> SessionEngine:
    """Return `engine`, or a copy whose blocking stores run in worker threads."""
    changes: dict[str, Any] = {}
    for option in ("store", "denylist"):
        store = getattr(engine.config, option)
        if store is None or isinstance(store, MemoryStore):
            continue  # MemoryStore never blocks on I/O: calling it inline is cheaper
        if not inspect.iscoroutinefunction(store.get):
            changes[option] = ThreadedAsyncStore(store)
    if not changes:
        return engine
    return SessionEngine(
        engine.keyring, engine.config, session_class=engine.session_class, **changes
    )
