"""Flask adapter: `CookieSessionInterface`, a `flask.sessions.SessionInterface`.

Thin: each app's config is mapped once to a `SessionEngine`; every decision
(opening, expiry, refresh, re-sealing, chunking, deletion) stays in the engine.

Usage::

    from cookiesess.flask import CookieSessionInterface

    CookieSessionInterface().init_app(app)  # keys: COOKIESESS_KEYS_FILE, ...

.. versionadded:: 0.1
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import weakref
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final, cast

from flask.globals import request as current_request
from flask.sessions import SessionInterface, SessionMixin
from flask.signals import request_started
from werkzeug.datastructures import Headers
from werkzeug.exceptions import ServiceUnavailable

from ._frameworks import AdapterSession, check_options, legacy_readers, resolve_keyring
from ._http import STORE_UNAVAILABLE, joined
from .cookies import (
    MAX_AGE_CAP,
    parse_cookie_header,
    private_cache_control,
    request_is_secure,
    vary_cookie,
)
from .engine import DEFAULT_ABSOLUTE_TIMEOUT, SessionEngine
from .exceptions import ConfigurationError, StoreError
from .keys import Keyring
from .legacy import FlaskSessionReader

if TYPE_CHECKING:
    from flask import Flask
    from flask.wrappers import Request, Response

__all__ = ["CookieSessionInterface", "FlaskSession", "UnavailableSession"]

logger = logging.getLogger("cookiesess")

_OUTAGE_KEY: Final = "cookiesess.flask.unavailable"
"""The WSGI environ key holding the stand-in session of a request whose store failed."""


class FlaskSession(AdapterSession, SessionMixin):
    """The session Flask sees: a `cookiesess.Session` with Flask's ``permanent``.

    ``permanent`` is the cookie's lifetime, not a data key: True gives the
    cookie ``Max-Age = PERMANENT_SESSION_LIFETIME``, False makes it a
    browser-session cookie. As with Flask, making an empty new session
    permanent (a common ``before_request`` idiom) sets no cookie by itself.
    ``new``, ``modified`` and ``accessed`` are the `cookiesess.Session` ones
    (``modified`` may also be set to True).
    """

    _lifetime: int | None = None
    _secure: bool | None = None  # the request's scheme, for secure="auto"
    _permanent: bool | None = None  # set by the app this request, applied at save

    @property
    def permanent(self) -> bool:
        """Whether the cookie outlives the browser session."""
        if self._permanent is None:
            return self.max_age is not None
        return self._permanent

    @permanent.setter
    def permanent(self, value: bool) -> None:
        self._permanent = bool(value)

    def _settle_lifetime(self, *, save_uninitialized: bool) -> None:
        """Give the cookie the lifetime ``permanent`` asks for, if it is to be written.

        A new session that stays empty is not written (unless
        ``save_uninitialized``): changing its Max-Age would force a cookie out.
        """
        if self._permanent is None:
            return
        if self.new and not self.modified and not save_uninitialized:
            return
        wanted = self._lifetime if self._permanent else None
        if self.max_age != wanted:
            self.max_age = wanted


def _guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(self: UnavailableSession, *args: Any, **kwargs: Any) -> Any:
        if not self.answered:
            raise RuntimeError(
                "the session is unavailable because the session store failed; "
                "this request is answered with 503 Service Unavailable"
            )
        return method(self, *args, **kwargs)

    return guarded


class UnavailableSession(dict[str, Any], SessionMixin):
    """Stands in for the session when the store failed on opening; the request gets a 503.

    Flask answers that request 503 before any ``before_request`` handler or
    view runs. Error handlers and ``after_request`` functions then run on the
    503 and see an empty session whose changes are discarded. Changing it
    before the 503 is decided (e.g. under ``test_request_context``) raises
    RuntimeError.
    """

    new = False
    modified = False
    answered = False
    """Whether the request is being answered 503 (changes are then discarded)."""

    __setitem__ = _guarded(dict.__setitem__)
    __delitem__ = _guarded(dict.__delitem__)
    __ior__ = _guarded(dict.__ior__)
    clear = _guarded(dict.clear)
    pop = _guarded(dict.pop)
    popitem = _guarded(dict.popitem)
    setdefault = _guarded(dict.setdefault)
    update = _guarded(dict.update)


@dataclasses.dataclass(frozen=True, slots=True)
class _AppState:
    engine: SessionEngine
    lifetime: int


class CookieSessionInterface(SessionInterface):
    """Flask sessions sealed in cookies by cookiesess.

    Keys, in order: `keyring`; app config ``COOKIESESS_KEYS_FILE`` or
    ``COOKIESESS_KEYS`` (env format, or a `Keyring`); the environment
    (``COOKIESESS_KEYS_FILE`` / ``COOKIESESS_KEYS``); else ``SECRET_KEY`` and
    ``SECRET_KEY_FALLBACKS`` through `Keyring.from_secrets` (weak ones refused).

    Flask's ``SESSION_COOKIE_NAME/DOMAIN/PATH/HTTPONLY/SECURE/SAMESITE/
    PARTITIONED``, ``PERMANENT_SESSION_LIFETIME`` and
    ``SESSION_REFRESH_EACH_REQUEST`` are honoured, with two safer readings of
    Flask's defaults: ``SESSION_COOKIE_SECURE=False`` means ``secure="auto"``
    (Secure over HTTPS) and ``SESSION_COOKIE_SAMESITE=None`` keeps "Lax".
    Keyword options (`SessionConfig` fields) override the app config, which is
    read once per app (on `init_app` or the first request).
    ``migrate_from="flask"`` reads the app's Flask session cookies once (verified
    with its ``SECRET_KEY``/``SECRET_KEY_FALLBACKS``, ``PERMANENT_SESSION_LIFETIME``
    and ``SESSION_COOKIE_*``) and re-seals them; see `cookiesess.legacy`.

    When the store fails, the request is answered with `STORE_UNAVAILABLE`, the
    503 every cookiesess adapter sends (``Cache-Control: no-store``, no
    Set-Cookie). On opening, that happens before any ``before_request``
    handler or view runs (they never see a stand-in session); on saving, the
    app's response is replaced.

    Args:
        keyring: the keys; resolved from the app config when None.
        **options: `SessionConfig` keywords, e.g. ``secure=False`` or ``store=``.

    Raises:
        ConfigurationError: an unknown option name.
    """

    def __init__(self, keyring: Keyring | None = None, **options: Any) -> None:
        check_options(options, where="CookieSessionInterface")
        if options.get("lazy"):
            raise ConfigurationError(
                "CookieSessionInterface: lazy=True is not supported: Flask opens the session "
                "when it pushes the request context; remove the option"
            )
        self.keyring = keyring
        self.options = options
        self._apps: weakref.WeakKeyDictionary[Flask, _AppState] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def init_app(self, app: Flask) -> None:
        """Install this interface on `app` and validate its configuration now.

        Raises:
            ConfigurationError: invalid options (`KeyringError` for keys).
        """
        app.session_interface = self
        self.engine_for(app)

    def engine_for(self, app: Flask) -> SessionEngine:
        """Return the engine for `app`, built from its config on first use."""
        return self._state(app).engine

    # -- SessionInterface ------------------------------------------------

    def open_session(self, app: Flask, request: Request) -> FlaskSession | UnavailableSession:
        """Open the request's session (a fresh one when its cookie is unusable)."""
        state = self._state(app)
        engine = state.engine
        environ = request.environ
        cookies = parse_cookie_header(environ.get("HTTP_COOKIE", ""))
        try:
            session = cast("FlaskSession", engine.load(cookies))
        except StoreError:
            logger.warning("cookiesess: session store failed; answering 503", exc_info=True)
            # An exception raised here would become a 500: Flask opens the
            # session before dispatching. `_answer_outage_first` raises the
            # 503 at request_started, before any before_request handler.
            stand_in = environ[_OUTAGE_KEY] = UnavailableSession()
            return stand_in
        session._lifetime = state.lifetime
        if session.migrated:
            # Flask keeps ``permanent`` as a data key; here it is the cookie lifetime.
            session.permanent = bool(dict.pop(session, "_permanent", False))
        session._request_cookies = cookies
        session._secure = request_is_secure(
            environ.get("wsgi.url_scheme", "http"),
            environ.get("HTTP_X_FORWARDED_PROTO"),
            trust_proxy=engine.config.trust_proxy,
        )
        return session

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Add the Set-Cookie headers the engine asks for, and ``Vary: Cookie``.

        Called for every response, also when the session is empty and
        untouched: the engine may still expire a legacy cookie.
        """
        if isinstance(session, UnavailableSession):
            _answer_unavailable(response)
            return
        if not isinstance(session, FlaskSession):
            return
        engine = self._state(app).engine
        session._settle_lifetime(save_uninitialized=engine.config.save_uninitialized)
        try:
            lines = engine.commit(session, session._request_cookies, secure=session._secure)
        except StoreError:
            logger.warning("cookiesess: session store failed; answering 503", exc_info=True)
            _answer_unavailable(response)
            return
        # Not response.vary.add: werkzeug re-parses and re-renders the header.
        # Every line of a header is merged: `headers[...] =` replaces them all.
        headers = response.headers
        if session.accessed or lines:
            headers["Vary"] = vary_cookie(joined(headers.getlist("Vary")))
        if lines:
            cache_control = joined(headers.getlist("Cache-Control"))
            headers["Cache-Control"] = private_cache_control(cache_control)
            for line in lines:
                headers.add("Set-Cookie", line)

    # -- per-app engines ----------------------------------------------------

    def _state(self, app: Flask) -> _AppState:
        state = self._apps.get(app)
        if state is None:
            with self._lock:
                state = self._apps.get(app)
                if state is None:
                    state = self._apps[app] = self._build(app)
        return state

    def _build(self, app: Flask) -> _AppState:
        config = app.config
        lifetime = _seconds(app.permanent_session_lifetime)
        options: dict[str, Any] = {
            "cookie_name": self.get_cookie_name(app),
            "domain": self.get_cookie_domain(app),
            "path": self.get_cookie_path(app),
            "httponly": self.get_cookie_httponly(app),
            "secure": True if self.get_cookie_secure(app) else "auto",
            "partitioned": bool(config.get("SESSION_COOKIE_PARTITIONED", False)),
            # Flask checks a cookie's age against the lifetime; refreshing each
            # request becomes an idle timeout refreshed at a bounded granularity.
            "idle_timeout": lifetime if config.get("SESSION_REFRESH_EACH_REQUEST", True) else None,
            "absolute_timeout": max(DEFAULT_ABSOLUTE_TIMEOUT, lifetime),
        }
        samesite = self.get_cookie_samesite(app)
        if samesite:
            options["samesite"] = samesite
        options.update(self.options)
        if options.get("migrate_from"):
            options["migrate_from"] = legacy_readers(
                options["migrate_from"], own="flask", build=lambda: self._legacy_reader(app)
            )
        keyring = self.keyring or resolve_keyring(
            keys=config.get("COOKIESESS_KEYS"),
            keys_file=config.get("COOKIESESS_KEYS_FILE"),
            secret=config.get("SECRET_KEY"),
            fallbacks=_as_list(config.get("SECRET_KEY_FALLBACKS")),
            setting_names=("SECRET_KEY", "SECRET_KEY_FALLBACKS"),
        )
        engine = SessionEngine(keyring, session_class=FlaskSession, **options)
        request_started.connect(_answer_outage_first, app)
        return _AppState(engine, lifetime)

    def _legacy_reader(self, app: Flask) -> FlaskSessionReader:
        """Reader of the app's own Flask session cookie, for ``migrate_from="flask"``."""
        config = app.config
        return FlaskSessionReader(
            config.get("SECRET_KEY") or "",
            fallbacks=_as_list(config.get("SECRET_KEY_FALLBACKS")),
            max_age=app.permanent_session_lifetime,
            cookie_name=self.get_cookie_name(app),
            path=self.get_cookie_path(app),
            domain=self.get_cookie_domain(app),
            secure=self.get_cookie_secure(app),
            httponly=self.get_cookie_httponly(app),
            samesite=self.get_cookie_samesite(app),
            partitioned=bool(config.get("SESSION_COOKIE_PARTITIONED", False)),
        )


def _seconds(value: timedelta | int) -> int:
    seconds = int(value.total_seconds()) if isinstance(value, timedelta) else int(value)
    return max(1, min(seconds, MAX_AGE_CAP))


def _as_list(value: Iterable[str | bytes] | None) -> list[str | bytes]:
    return list(value or ())


def _answer_outage_first(sender: Flask, **extra: Any) -> None:
    """At ``request_started``: answer 503 before any before_request handler if the store failed.

    Raised here, the HTTP exception goes through Flask's usual handling; the
    response is then made `STORE_UNAVAILABLE` by `save_session`.
    """
    stand_in = current_request.environ.get(_OUTAGE_KEY)
    if isinstance(stand_in, UnavailableSession):
        stand_in.answered = True
        raise ServiceUnavailable


def _answer_unavailable(response: Response) -> None:
    """Turn `response` into `STORE_UNAVAILABLE` in place: save_session cannot replace it."""
    close = getattr(response.response, "close", None)
    if callable(close):
        close()
    response.status = STORE_UNAVAILABLE.status_line
    response.headers = Headers(STORE_UNAVAILABLE.headers)
    response.direct_passthrough = False
    response.response = [STORE_UNAVAILABLE.body]
