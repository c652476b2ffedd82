"""Django adapter: `SessionMiddleware`, a drop-in for Django's own.

In ``MIDDLEWARE``, put ``"cookiesess.django.SessionMiddleware"`` where
``"django.contrib.sessions.middleware.SessionMiddleware"`` was. Options go in
``settings.COOKIESESS`` (`SessionConfig` keywords plus ``keys`` and
``keys_file``); Django's ``SESSION_COOKIE_*``, ``SESSION_EXPIRE_AT_BROWSER_CLOSE``
and ``SESSION_SAVE_EVERY_REQUEST`` are honoured. ``request.session`` offers
Django's session API (``cycle_key``, ``flush``, ``set_expiry``, the ``a*``
variants, …) so `django.contrib.auth`, `django.contrib.messages` and
``CSRF_USE_SESSIONS`` work unchanged. Thin: every decision stays in the engine.

``COOKIESESS = {"migrate_from": "django"}`` reads the cookies of Django's
``signed_cookies`` backend once (verified with ``SECRET_KEY``,
``SECRET_KEY_FALLBACKS``, ``SESSION_COOKIE_AGE`` and ``SESSION_COOKIE_*``) and
re-seals them, so users stay logged in; see `cookiesess.legacy`.

Django's test ``Client.login()``, ``force_login()`` and ``client.session`` build
sessions with ``SESSION_ENGINE``'s store, which this middleware does not read:
in tests, log in through the login view instead.

.. versionadded:: 0.1
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import time
from collections.abc import Callable, Container, Mapping
from http.cookies import Morsel  # noqa: TID251 - render only: Django sends response.cookies as Morsels; nothing is parsed with it
from typing import Any, Final

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings  # type: ignore[import-untyped]  # django ships no type hints
from django.contrib.sessions.middleware import (  # type: ignore[import-untyped]  # django ships no type hints
    SessionMiddleware as _DjangoSessionMiddleware,
)
from django.http import HttpResponse  # type: ignore[import-untyped]  # django ships no type hints
from django.utils import timezone  # type: ignore[import-untyped]  # django ships no type hints
from django.utils.cache import patch_vary_headers  # type: ignore[import-untyped]  # django ships no type hints

from ._frameworks import AdapterSession, check_options, legacy_readers, resolve_keyring
from .cookies import MAX_AGE_CAP, parse_cookie_header, private_cache_control, request_is_secure
from .engine import DEFAULT_ABSOLUTE_TIMEOUT, SessionEngine
from .exceptions import ConfigurationError, StoreError
from .legacy import DjangoSignedCookiesReader
from .session import LazySession

__all__ = ["DjangoSession", "LazyDjangoSession", "SessionMiddleware"]

logger = logging.getLogger("cookiesess")

_NOT_GIVEN: Final = object()
_MORSEL_FLAGS: Final = frozenset({"secure", "httponly"})
_MORSEL_VALUES: Final = frozenset({"max-age", "path", "domain", "samesite", "expires"})
_JSON_SERIALIZER: Final = "django.contrib.sessions.serializers.JSONSerializer"


class DjangoSession(AdapterSession):
    """``request.session``: a `cookiesess.Session` with Django's session API.

    ``set_expiry`` maps onto the cookie: seconds set its Max-Age, 0 makes it
    a browser-session cookie, a datetime or timedelta also shortens the
    server-side deadline (which is never extended), None restores the default.
    """

    TEST_COOKIE_NAME: Final = "testcookie"
    TEST_COOKIE_VALUE: Final = "worked"

    # Set per request by the middleware.
    _cookie_age: int = 1_209_600  # SESSION_COOKIE_AGE
    _config_max_age: int | None = 1_209_600  # the engine's default cookie Max-Age
    _saved = False
    _flushed = False

    # -- keys and lifecycle ----------------------------------------------

    @property
    def session_key(self) -> str | None:
        """The session id; None while the session is new (or flushed) and empty."""
        if dict.__len__(self) or self._saved or not (self.new or self._flushed):
            return self.id
        return None

    def save(self, must_create: bool = False) -> None:
        """Write the session on this response even if it did not change."""
        super().save()
        self._saved = True

    def create(self) -> None:
        """Start a new session id and write it on this response."""
        if not self.new:
            self.regenerate()
        self.save()

    def cycle_key(self) -> None:
        """Issue a new session id keeping the data (Django's login calls this)."""
        self.regenerate()

    def flush(self) -> None:
        """Empty the session and expire its cookies (Django's logout calls this)."""
        self.accessed = True
        self.destroy()
        self._flushed = True
        self._saved = False

    def pop(self, key: str, default: Any = _NOT_GIVEN) -> Any:
        """Remove `key` and return its value, or `default` (Django's keyword works)."""
        return super().pop(key) if default is _NOT_GIVEN else super().pop(key, default)

    def is_empty(self) -> bool:
        """Return whether the session holds no data."""
        return not dict.__len__(self)

    def has_key(self, key: str) -> bool:
        """Return whether `key` is in the session."""
        return key in self

    # -- expiry ------------------------------------------------------------

    def get_session_cookie_age(self) -> int:
        """Return the default cookie age in seconds (``SESSION_COOKIE_AGE``)."""
        return self._cookie_age

    def set_expiry(self, value: int | _dt.datetime | _dt.timedelta | None) -> None:
        """Set this session's expiry: seconds, 0 (browser close), a datetime/timedelta, or None."""
        if value is None:
            if self.max_age != self._config_max_age:
                self.max_age = self._config_max_age
            return
        if isinstance(value, _dt.timedelta):
            value = _now() + value
        if isinstance(value, _dt.datetime):
            deadline = value.astimezone(_dt.UTC)  # a naive value is local time, as in Django
            self.expires = deadline
            self.max_age = max(0, math.ceil(deadline.timestamp() - time.time()))
        else:
            self.max_age = value or None

    def get_expiry_age(self, **kwargs: Any) -> int:
        """Return the seconds until the session expires.

        Django's ``modification`` and ``expiry`` keywords are accepted.
        """
        if "expiry" in kwargs or "modification" in kwargs:
            return _django_expiry_age(self, **kwargs)
        age = self.max_age if self.max_age is not None else self._cookie_age
        deadline = self.expires
        if deadline is not None:
            age = min(age, math.ceil(deadline.timestamp() - time.time()))
        return max(0, age)

    def get_expiry_date(self, **kwargs: Any) -> _dt.datetime:
        """Return when the session expires."""
        modification: _dt.datetime = kwargs.get("modification") or _now()
        return modification + _dt.timedelta(seconds=self.get_expiry_age(**kwargs))

    def get_expire_at_browser_close(self) -> bool:
        """Return whether the session cookie ends with the browser session."""
        return self.max_age is None

    # -- test cookie ---------------------------------------------------------

    def set_test_cookie(self) -> None:
        """Store the test value (see `test_cookie_worked`)."""
        self[self.TEST_COOKIE_NAME] = self.TEST_COOKIE_VALUE

    def test_cookie_worked(self) -> bool:
        """Return whether the browser sent back the test value."""
        return bool(self.get(self.TEST_COOKIE_NAME) == self.TEST_COOKIE_VALUE)

    def delete_test_cookie(self) -> None:
        """Remove the test value."""
        del self[self.TEST_COOKIE_NAME]

    # -- async variants (the session is already open: no I/O to await) --------

    async def aget(self, key: str, default: Any = None) -> Any:
        """Async `get`."""
        return self.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        """Async ``session[key] = value``."""
        self[key] = value

    async def apop(self, key: str, default: Any = _NOT_GIVEN) -> Any:
        """Async `pop`."""
        return self.pop(key, default)

    async def asetdefault(self, key: str, value: Any) -> Any:
        """Async `setdefault`."""
        return self.setdefault(key, value)

    async def aupdate(self, dict_: Mapping[str, Any]) -> None:
        """Async `update`."""
        self.update(dict_)

    async def ahas_key(self, key: str) -> bool:
        """Async `has_key`."""
        return key in self

    async def akeys(self) -> Any:
        """Async `keys`."""
        return self.keys()

    async def avalues(self) -> Any:
        """Async `values`."""
        return self.values()

    async def aitems(self) -> Any:
        """Async `items`."""
        return self.items()

    async def aclear(self) -> None:
        """Async `clear`."""
        self.clear()

    async def aflush(self) -> None:
        """Async `flush`."""
        self.flush()

    async def acycle_key(self) -> None:
        """Async `cycle_key`."""
        self.cycle_key()

    async def acreate(self) -> None:
        """Async `create`."""
        self.create()

    async def asave(self, must_create: bool = False) -> None:
        """Async `save`."""
        self.save(must_create)

    async def aset_expiry(self, value: int | _dt.datetime | _dt.timedelta | None) -> None:
        """Async `set_expiry`."""
        self.set_expiry(value)

    async def aget_expiry_age(self, **kwargs: Any) -> int:
        """Async `get_expiry_age`."""
        return self.get_expiry_age(**kwargs)

    async def aget_expiry_date(self, **kwargs: Any) -> _dt.datetime:
        """Async `get_expiry_date`."""
        return self.get_expiry_date(**kwargs)

    async def aget_expire_at_browser_close(self) -> bool:
        """Async `get_expire_at_browser_close`."""
        return self.get_expire_at_browser_close()

    async def aset_test_cookie(self) -> None:
        """Async `set_test_cookie`."""
        self.set_test_cookie()

    async def atest_cookie_worked(self) -> bool:
        """Async `test_cookie_worked`."""
        return self.test_cookie_worked()

    async def adelete_test_cookie(self) -> None:
        """Async `delete_test_cookie`."""
        self.delete_test_cookie()


def _django_expiry_age(session: DjangoSession, **kwargs: Any) -> int:
    """Django's own arithmetic, for callers that pass ``modification``/``expiry``."""
    modification: _dt.datetime = kwargs.get("modification") or _now()
    expiry: int | str | _dt.datetime | None = kwargs.get("expiry", session.max_age)
    if not expiry:
        return session._cookie_age
    if isinstance(expiry, str):
        expiry = _dt.datetime.fromisoformat(expiry)
    if isinstance(expiry, _dt.datetime):
        delta = expiry - modification
        return delta.days * 86400 + delta.seconds
    return expiry


def _now() -> _dt.datetime:
    """Django's now: aware when ``USE_TZ`` is on, naive local time otherwise."""
    now: _dt.datetime = timezone.now()
    return now


class _SetCookieMorsel(Morsel[str]):
    """A Morsel that renders the engine's Set-Cookie line verbatim.

    Django emits ``response.cookies`` (Morsels) as the Set-Cookie headers; the
    standard attributes are filled in too, for code and tests that read them.
    """

    def __init__(self, line: str) -> None:
        super().__init__()
        pair, _, attributes = line.partition(";")
        name, _, value = pair.partition("=")
        self.set(name, value, value)
        for attribute in attributes.split(";"):
            key, _, attr_value = attribute.strip().partition("=")
            key = key.lower()
            if key in _MORSEL_FLAGS:
                self[key] = True
            elif key in _MORSEL_VALUES:
                self[key] = attr_value
        self._line = line

    def OutputString(self, attrs: Container[str] | None = None) -> str:
        """Return the Set-Cookie value as the engine rendered it."""
        return self._line


class LazyDjangoSession(LazySession):
    """``request.session`` with ``lazy=True``: the cookie is opened on first use.

    Like Django's own session store, nothing is decrypted for a request that
    never touches ``request.session``. Every `DjangoSession` attribute and
    method (``cycle_key``, ``flush``, ``modified = True``…) reaches the opened
    session.
    """

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY_SLOTS:
            object.__setattr__(self, name, value)
        else:
            setattr(self.open(), name, value)


_LAZY_SLOTS: Final = frozenset(LazySession.__slots__)


class SessionMiddleware(_DjangoSessionMiddleware):  # type: ignore[misc]  # subclassing keeps Django's admin check (admin.E410) satisfied
    """Django sessions sealed in cookies by cookiesess; sync and async capable.

    Keys, in order: ``COOKIESESS["keys"]`` (a `Keyring` or env-format text) or
    ``COOKIESESS["keys_file"]``; the environment (``COOKIESESS_KEYS_FILE`` /
    ``COOKIESESS_KEYS``); else ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS``
    through `Keyring.from_secrets` (weak ones, e.g. ``django-insecure-…``, refused).

    ``SESSION_COOKIE_SECURE=False`` (Django's default) means ``secure="auto"``:
    Secure whenever ``request.is_secure()``. ``SESSION_SAVE_EVERY_REQUEST``
    becomes a rolling refresh at the engine's bounded granularity. As with
    Django, nothing is written on 5xx responses. A store failure answers 503.
    ``COOKIESESS = {"lazy": True}`` opens the cookie only when a view touches
    ``request.session`` (a `LazyDjangoSession`), as Django's own sessions do;
    a cookie that points to the store is still loaded on arrival (so a store
    failure is a 503, not an error inside the view). It has no effect with
    ``SESSION_SAVE_EVERY_REQUEST`` or a ``denylist``, which read every session.

    Args:
        get_response: the next handler in the middleware chain.

    Raises:
        ConfigurationError: invalid settings (`KeyringError` for keys).
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        if get_response is None:
            raise ValueError("get_response must be provided.")
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
        self.engine = _engine_from_settings()
        self._cookie_age = max(1, min(int(settings.SESSION_COOKIE_AGE), MAX_AGE_CAP))
        config = self.engine.config
        self._lazy = (
            config.lazy and config.denylist is None and not settings.SESSION_SAVE_EVERY_REQUEST
        )

    def __repr__(self) -> str:
        return f"<cookiesess.django.SessionMiddleware {self.engine!r}>"

    def __call__(self, request: Any) -> Any:
        """Handle one request (returns a coroutine in async mode)."""
        if self.async_mode:
            return self.__acall__(request)
        failed = self.process_request(request)
        if failed is not None:
            return failed
        return self.process_response(request, self.get_response(request))

    async def __acall__(self, request: Any) -> Any:
        cookies = _request_cookies(request)
        if self._lazy and not self.engine.needs_store(cookies):
            request.session = self._lazy_session(cookies)
        else:
            try:
                session = await self.engine.aload(cookies)
            except StoreError:
                return _unavailable()
            request.session = self._prepare(session, cookies)
        response = await self.get_response(request)
        committing = self._to_commit(request, response)
        if committing is None:
            return response
        try:
            lines = await self.engine.acommit(
                committing, committing._request_cookies, secure=self._secure(request)
            )
        except StoreError:
            return _unavailable(response)
        return self._apply(response, lines)

    def process_request(self, request: Any) -> Any:
        """Open the session into ``request.session``; a 503 response if the store fails."""
        cookies = _request_cookies(request)
        if self._lazy and not self.engine.needs_store(cookies):
            request.session = self._lazy_session(cookies)
            return None
        try:
            session = self.engine.load(cookies)
        except StoreError:
            return _unavailable()
        request.session = self._prepare(session, cookies)
        return None

    def process_response(self, request: Any, response: Any) -> Any:
        """Add the Set-Cookie headers the engine asks for, and ``Vary: Cookie``."""
        session = self._to_commit(request, response)
        if session is None:
            return response
        try:
            lines = self.engine.commit(
                session, session._request_cookies, secure=self._secure(request)
            )
        except StoreError:
            return _unavailable(response)
        return self._apply(response, lines)

    # -- shared steps ------------------------------------------------------

    def _lazy_session(self, cookies: Mapping[str, str]) -> LazyDjangoSession:
        return LazyDjangoSession(lambda: self._prepare(self.engine.load(cookies), cookies))

    def _prepare(self, session: Any, cookies: Mapping[str, str]) -> DjangoSession:
        session._request_cookies = cookies
        session._cookie_age = self._cookie_age
        session._config_max_age = self.engine.config.max_age
        if session.migrated:
            _adopt_legacy_expiry(session)
        return session  # type: ignore[no-any-return]

    def _secure(self, request: Any) -> bool:
        return request.is_secure() or request_is_secure(
            "http",
            request.META.get("HTTP_X_FORWARDED_PROTO"),
            trust_proxy=self.engine.config.trust_proxy,
        )

    def _to_commit(self, request: Any, response: Any) -> DjangoSession | None:
        session = getattr(request, "session", None)
        if type(session) is LazyDjangoSession:
            session = session.loaded  # None when the view never touched it
        if not isinstance(session, DjangoSession):
            return None
        if session.accessed:
            patch_vary_headers(response, ("Cookie",))
        if response.status_code >= 500:
            return None  # as Django: a failed request does not save the session
        return session

    def _apply(self, response: Any, lines: list[str]) -> Any:
        if lines:
            for line in lines:
                morsel = _SetCookieMorsel(line)
                response.cookies[morsel.key] = morsel
            patch_vary_headers(response, ("Cookie",))
            response.headers["Cache-Control"] = private_cache_control(
                response.headers.get("Cache-Control")
            )
        return response


def _request_cookies(request: Any) -> dict[str, str]:
    return parse_cookie_header(request.META.get("HTTP_COOKIE", ""))


def _unavailable(failed: Any = None) -> Any:
    """Return a bare 503 (no Set-Cookie), closing the response it replaces."""
    logger.warning("cookiesess: session store failed; answering 503", exc_info=True)
    if failed is not None:
        failed.close()
    response = HttpResponse(
        "Service Unavailable", status=503, content_type="text/plain; charset=utf-8"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _engine_from_settings() -> SessionEngine:
    options = dict(getattr(settings, "COOKIESESS", None) or {})
    keys = options.pop("keys", None)
    keys_file = options.pop("keys_file", None)
    check_options(options, where="settings.COOKIESESS")
    age = max(1, min(int(settings.SESSION_COOKIE_AGE), MAX_AGE_CAP))
    every_request = bool(settings.SESSION_SAVE_EVERY_REQUEST)
    derived: dict[str, Any] = {
        "cookie_name": settings.SESSION_COOKIE_NAME,
        "max_age": None if settings.SESSION_EXPIRE_AT_BROWSER_CLOSE else age,
        "domain": settings.SESSION_COOKIE_DOMAIN,
        "path": settings.SESSION_COOKIE_PATH,
        "secure": True if settings.SESSION_COOKIE_SECURE else "auto",
        "httponly": bool(settings.SESSION_COOKIE_HTTPONLY),
        "samesite": settings.SESSION_COOKIE_SAMESITE or None,
        # Saving every request keeps a session alive while used: an idle
        # timeout refreshed at a bounded granularity, not on every request.
        "idle_timeout": age if every_request else None,
        "rolling": every_request,
        "absolute_timeout": max(DEFAULT_ABSOLUTE_TIMEOUT, age),
    }
    derived.update(options)
    if derived.get("migrate_from"):
        derived["migrate_from"] = legacy_readers(
            derived["migrate_from"], own="django", build=_legacy_reader
        )
    keyring = resolve_keyring(
        keys=keys,
        keys_file=keys_file,
        secret=settings.SECRET_KEY,
        fallbacks=list(getattr(settings, "SECRET_KEY_FALLBACKS", ()) or ()),
        setting_names=("SECRET_KEY", "SECRET_KEY_FALLBACKS"),
    )
    engine = SessionEngine(keyring, session_class=DjangoSession, **derived)
    return engine


def _legacy_reader() -> DjangoSignedCookiesReader:
    """Reader of the project's ``signed_cookies`` sessions, for ``migrate_from="django"``."""
    if settings.SESSION_SERIALIZER != _JSON_SERIALIZER:
        raise ConfigurationError(
            f"SESSION_SERIALIZER is {settings.SESSION_SERIALIZER!r}; only Django's "
            f"default {_JSON_SERIALIZER} sessions can be read"
        )
    return DjangoSignedCookiesReader(
        settings.SECRET_KEY,
        fallbacks=list(getattr(settings, "SECRET_KEY_FALLBACKS", ()) or ()),
        max_age=settings.SESSION_COOKIE_AGE,
        cookie_name=settings.SESSION_COOKIE_NAME,
        path=settings.SESSION_COOKIE_PATH,
        domain=settings.SESSION_COOKIE_DOMAIN,
        secure=bool(settings.SESSION_COOKIE_SECURE),
        httponly=bool(settings.SESSION_COOKIE_HTTPONLY),
        samesite=settings.SESSION_COOKIE_SAMESITE or None,
    )


def _adopt_legacy_expiry(session: DjangoSession) -> None:
    """Apply the ``set_expiry`` value Django kept in the migrated data, then drop the key."""
    expiry = dict.pop(session, "_session_expiry", None)
    try:
        if isinstance(expiry, str):
            session.set_expiry(_dt.datetime.fromisoformat(expiry))
        elif type(expiry) is int:
            session.set_expiry(expiry)
    except (ValueError, OverflowError):
        pass  # not a value Django writes: keep the default expiry
