"""WSGI (PEP 3333) middleware: the session at ``environ["cookiesess.session"]``.

A thin adapter: it reads the Cookie header, hands the session to the app and,
when the app starts its response, appends the Set-Cookie values the engine
decides on, plus ``Vary: Cookie`` and ``Cache-Control: private`` where due.
Every session decision is the engine's; this module only moves headers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Final

from ._frameworks import build_engine
from ._http import STORE_UNAVAILABLE, WSGI, with_session_headers
from .cookies import parse_cookie_header, request_is_secure
from .engine import SessionEngine
from .exceptions import StoreError
from .keys import Keyring
from .session import LazySession, Session

if TYPE_CHECKING:
    from types import TracebackType
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    _ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]

__all__ = ["ENVIRON_KEY", "SessionMiddleware"]

logger = logging.getLogger("cookiesess")

ENVIRON_KEY: Final = "cookiesess.session"
"""The WSGI environ key holding the request's session."""


class SessionMiddleware:
    """Give a WSGI app a cookie session at ``environ["cookiesess.session"]``.

    By default the cookie is opened when the request arrives and the app gets
    a `Session` (a dict). With ``lazy=True`` the Cookie header is not even
    parsed until the app first touches the session, which is then a
    `LazySession`; in that mode a `StoreError` raised on first access
    propagates through the app and, if it reaches this middleware before the
    response starts, becomes a 503. With ``migrate_from``, a request carrying
    a legacy cookie opens the session when the response starts even if the
    app did not, so that the legacy cookie is migrated or expired.

    A failing store answers 503 Service Unavailable for that request, with no
    Set-Cookie (the client keeps its session). A response started with
    ``exc_info`` (an error page) never writes the session. `CodecError` and
    `SessionTooLarge` at commit are bugs in the app and propagate (a 500).

    Args:
        app: the WSGI application to wrap.
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
        app: WSGIApplication,
        /,
        keyring: Keyring | None = None,
        *,
        engine: SessionEngine | None = None,
        **options: Any,
    ) -> None:
        self.app = app
        self.engine = build_engine(keyring, engine, options)
        config = self.engine.config
        self._lazy = config.lazy
        self._auto = config.secure == "auto"
        self._trust_proxy = config.trust_proxy
        self._migrating = bool(config.migrate_from)  # else no need to parse for legacy cookies

    def __repr__(self) -> str:
        return f"SessionMiddleware({self.app!r}, engine={self.engine!r})"

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Run the app with the request's session (the WSGI entry point)."""
        cookies = _RequestCookies(self.engine, environ.get("HTTP_COOKIE", ""))
        exchange = _Exchange(self, environ, start_response, cookies)
        if self._lazy:
            # Nothing is parsed or decrypted until the app touches the session.
            session: Session | LazySession = LazySession(cookies.load)
        else:
            try:
                session = cookies.load()
            except StoreError:
                logger.exception("cookiesess: session store failed while loading")
                start_response(STORE_UNAVAILABLE.status_line, STORE_UNAVAILABLE.headers)
                return [STORE_UNAVAILABLE.body]
        exchange.session = session
        environ[ENVIRON_KEY] = session
        try:
            body = self.app(environ, exchange.start_response)
        except StoreError:
            # A lazy session's first access hit a failing store in the app.
            if exchange.started:
                raise
            logger.exception("cookiesess: session store failed while loading")
            exchange.fail()
            return [STORE_UNAVAILABLE.body]
        if exchange.started and not exchange.failed:
            return body
        # start_response comes during iteration (a generator app), or the
        # commit failed: go through the body wrapper.
        return _Body(body, exchange)


class _RequestCookies:
    """The request's Cookie header, parsed at most once.

    The lazy session's loader: it holds no reference to the environ or the
    exchange, so a request makes no reference cycle (environ -> session ->
    loader -> environ) and is freed as soon as the server drops it.
    """

    __slots__ = ("_engine", "_header", "_parsed")

    def __init__(self, engine: SessionEngine, header: str) -> None:
        self._engine = engine
        self._header = header
        self._parsed: dict[str, str] | None = None

    def get(self) -> dict[str, str]:
        """Return the cookies (gunicorn joins repeated Cookie lines with a comma)."""
        parsed = self._parsed
        if parsed is None:
            parsed = self._parsed = parse_cookie_header(self._header)
        return parsed

    def load(self) -> Session:
        """Open the request's session (at arrival, or on first access when lazy)."""
        return self._engine.load(self.get())


class _Exchange:
    """Per-request state: the session, the cookies, the response status."""

    session: Session | LazySession
    """Set before the app runs."""

    __slots__ = (
        "cookies",
        "environ",
        "failed",
        "middleware",
        "next_start_response",
        "session",
        "started",
    )

    def __init__(
        self,
        middleware: SessionMiddleware,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        cookies: _RequestCookies,
    ) -> None:
        self.middleware = middleware
        self.environ = environ
        self.next_start_response = start_response
        self.cookies = cookies
        self.started = False
        self.failed = False

    def start_response(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: _ExcInfo | None = None,
    ) -> Callable[[bytes], object]:
        """Commit the session, then start the response with the session headers."""
        self.started = True
        session = self.session
        middleware = self.middleware
        if type(session) is LazySession:
            if session.loaded is None and not self._legacy_came():
                # Untouched lazy session: nothing to read, nothing to write.
                return self.next_start_response(status, headers, exc_info)
            accessed = True
        else:
            accessed = session.accessed
        if exc_info is not None and exc_info[0] is not None:
            # An error page: the request's session changes are dropped.
            return self.next_start_response(status, headers, exc_info)
        secure = None
        if middleware._auto:
            environ = self.environ
            secure = request_is_secure(
                environ.get("wsgi.url_scheme", "http"),
                environ.get("HTTP_X_FORWARDED_PROTO"),
                trust_proxy=middleware._trust_proxy,
            )
        try:
            if type(session) is LazySession:
                session.open()  # no-op unless untouched with a legacy cookie to expire
            lines = middleware.engine.commit(session, self.cookies.get(), secure=secure)
        except StoreError:
            logger.exception("cookiesess: session store failed while saving")
            return self.fail()
        if lines or accessed:
            headers = with_session_headers(headers, lines, vary=accessed, names=WSGI)
        return self.next_start_response(status, headers, exc_info)

    def _legacy_came(self) -> bool:
        """Whether the request carries a cookie of a ``migrate_from`` reader."""
        middleware = self.middleware
        return middleware._migrating and middleware.engine.carries_legacy(self.cookies.get())

    def fail(self) -> Callable[[bytes], object]:
        """Start a 503 instead of the app's response; the app's output is dropped."""
        self.started = True
        self.failed = True
        self.next_start_response(STORE_UNAVAILABLE.status_line, STORE_UNAVAILABLE.headers)
        return _discard


def _discard(data: bytes) -> None:
    """The ``write`` callable after a failed commit: the app's output is dropped."""


class _Body:
    """The app's body when the response had not started yet when the app returned.

    Iterates the app's body; once the commit has failed, closes it and yields
    the 503 body instead. `close` always reaches the app's iterable.
    """

    __slots__ = ("_body", "_closed", "_exchange", "_iterator", "_replaced")

    def __init__(self, body: Iterable[bytes], exchange: _Exchange) -> None:
        self._body = body
        self._exchange = exchange
        self._iterator: Iterator[bytes] | None = None
        self._closed = False
        self._replaced = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        exchange = self._exchange
        if not exchange.failed:
            if self._iterator is None:
                self._iterator = iter(self._body)
            try:
                chunk = next(self._iterator)
            except StopIteration:
                if not exchange.failed:
                    raise
            except StoreError:
                # A lazy session's first access failed inside a generator app.
                if exchange.started:
                    raise
                logger.exception("cookiesess: session store failed while loading")
                exchange.fail()
            else:
                if not exchange.failed:
                    return chunk
        if self._replaced:
            raise StopIteration
        self._replaced = True
        self.close()
        return STORE_UNAVAILABLE.body

    def close(self) -> None:
        """Close the app's iterable (once), as PEP 3333 requires."""
        if self._closed:
            return
        self._closed = True
        close = getattr(self._body, "close", None)
        if close is not None:
            close()
