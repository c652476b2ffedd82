"""`SessionMiddleware`: Django sessions sealed in cookies, a drop-in for Django's own.

Thin: every decision stays in the engine; this moves cookies between Django's
request/response and the engine, and writes every Set-Cookie line it returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container, Mapping
from http.cookies import Morsel  # noqa: TID251 - render only: Django sends response.cookies as Morsels; nothing is parsed with it
from typing import Any, Final

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings  # type: ignore[import-untyped]  # django ships no type hints
from django.contrib.sessions.middleware import (  # type: ignore[import-untyped]  # django ships no type hints
    SessionMiddleware as _DjangoSessionMiddleware,
)
from django.http import HttpResponse  # type: ignore[import-untyped]  # django ships no type hints
from django.utils.cache import patch_vary_headers  # type: ignore[import-untyped]  # django ships no type hints

from cookiesess._http import STORE_UNAVAILABLE
from cookiesess.cookies import parse_cookie_header, private_cache_control, request_is_secure
from cookiesess.exceptions import StoreError

from ._config import cookie_age, engine_from_settings
from ._session import DjangoSession, LazyDjangoSession, adopt_expiry, is_deletion, prepare

__all__ = ["SessionMiddleware"]

logger = logging.getLogger("cookiesess")

_MORSEL_FLAGS: Final = frozenset({"secure", "httponly"})
_MORSEL_VALUES: Final = frozenset({"max-age", "path", "domain", "samesite", "expires"})


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
        self.engine = engine_from_settings()
        self._cookie_age = cookie_age()
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
        committing._committed = lines
        return _apply(response, lines)

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
        session._committed = lines
        return _apply(response, lines)

    # -- shared steps ------------------------------------------------------

    def _lazy_session(self, cookies: Mapping[str, str]) -> LazyDjangoSession:
        session = LazyDjangoSession(lambda: self._prepare(self.engine.load(cookies), cookies))
        if self.engine.carries_legacy(cookies):
            session.open()  # migrated, or expired, whether or not a view touches it
        return session

    def _prepare(self, session: Any, cookies: Mapping[str, str]) -> DjangoSession:
        prepare(session, self.engine, cookies, cookie_age=self._cookie_age)
        adopt_expiry(session)
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


def _apply(response: Any, lines: list[str]) -> Any:
    """Put every Set-Cookie line on the response, with ``Vary: Cookie`` and ``private``."""
    if not lines:
        return response
    cookies = response.cookies
    ours: set[str] = set()
    extra = 0
    # Setting lines first: the one that sets our cookie takes its name's key in
    # response.cookies, where Django and its test client look for it.
    for line in sorted(lines, key=is_deletion):
        morsel = _SetCookieMorsel(line)
        name = morsel.key
        if name in ours:
            # Django keys response.cookies by name, but a legacy cookie of our
            # name on another Path/Domain is a second cookie: both lines must
            # reach the browser, so this one goes under a key of its own.
            extra += 1
            cookies[f"{name} ({extra})"] = morsel
        else:
            cookies[name] = morsel
        ours.add(name)
    patch_vary_headers(response, ("Cookie",))
    response.headers["Cache-Control"] = private_cache_control(response.headers.get("Cache-Control"))
    return response


def _request_cookies(request: Any) -> dict[str, str]:
    return parse_cookie_header(request.META.get("HTTP_COOKIE", ""))


def _unavailable(failed: Any = None) -> Any:
    """Return the shared outage 503 (no Set-Cookie, no-store), closing the response it replaces."""
    logger.warning("cookiesess: session store failed; answering 503", exc_info=True)
    if failed is not None:
        failed.close()
    outage = STORE_UNAVAILABLE
    response = HttpResponse(outage.body, status=outage.status, content_type=outage.content_type)
    response.headers["Cache-Control"] = outage.cache_control
    return response
