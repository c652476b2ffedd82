"""``request.session``: a cookiesess `Session` with the whole of Django's session API.

`DjangoSession` is what the middleware hands views (`LazyDjangoSession` with
``lazy=True``). Besides the mapping, it offers every public method of Django's
``SessionBase`` with Django's documented semantics, read against the cookie:
``load()`` returns what the client holds, ``exists()`` whether a key still
opens, ``delete()`` ends a session. Imports no other part of the adapter.
"""

from __future__ import annotations

import datetime as _dt
import math
import time
from collections.abc import Mapping
from typing import Any, Final

from django.conf import settings  # type: ignore[import-untyped]  # django ships no type hints
from django.contrib.sessions.backends.base import (  # type: ignore[import-untyped]  # django ships no type hints
    SessionBase,
)
from django.utils import timezone  # type: ignore[import-untyped]  # django ships no type hints
from django.utils.module_loading import (  # type: ignore[import-untyped]  # django ships no type hints
    import_string,
)

from cookiesess._frameworks import AdapterSession
from cookiesess.cookies import EXPIRED
from cookiesess.engine import SessionEngine
from cookiesess.session import LazySession

__all__ = [
    "EXPIRY_KEY",
    "DjangoSession",
    "LazyDjangoSession",
    "adopt_expiry",
    "aforget",
    "client_cookies",
    "forget",
    "is_deletion",
    "prepare",
    "set_django_expiry",
]

_NOT_GIVEN: Final = object()
EXPIRY_KEY: Final = "_session_expiry"


class DjangoSession(AdapterSession):
    """``request.session``: a `cookiesess.Session` with Django's session API.

    ``set_expiry`` maps onto the cookie: seconds set its Max-Age, 0 makes it
    a browser-session cookie, a datetime or timedelta also shortens the
    server-side deadline (which is never extended), None restores the default.
    ``session_key`` is the session id (stable until ``cycle_key``/``flush``),
    not the cookie value, which changes at every write.
    """

    TEST_COOKIE_NAME: Final = "testcookie"
    TEST_COOKIE_VALUE: Final = "worked"

    # Set per request by the middleware (see `prepare`).
    _engine: SessionEngine | None = None
    _cookie_age: int = 1_209_600  # SESSION_COOKIE_AGE
    _config_max_age: int | None = 1_209_600  # the engine's default cookie Max-Age
    _committed: list[str] | None = None  # the Set-Cookie values this response carries
    _saved = False
    _flushed = False

    # Django's own signing helpers (used by its database models, not by cookiesess).
    key_salt = SessionBase.key_salt
    encode = SessionBase.encode
    decode = SessionBase.decode

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

    @property
    def serializer(self) -> Any:
        """Django's ``SESSION_SERIALIZER`` class (for `encode`/`decode`)."""
        return import_string(settings.SESSION_SERIALIZER)

    # -- the stored session: what the client holds -----------------------------

    def _held(self) -> tuple[SessionEngine, dict[str, str]] | None:
        if self._engine is None:
            return None
        return self._engine, client_cookies(self._request_cookies, self._committed or [])

    def load(self) -> dict[str, Any]:
        """Return the session data as stored: the client's cookie, as this response leaves it.

        Changes not yet sent are not included: after a 5xx response (which
        saves nothing) the data is what the request brought.
        """
        held = self._held()
        if held is None:
            return dict(dict.items(self))
        engine, cookies = held
        return dict(dict.items(engine.load(cookies)))

    async def aload(self) -> dict[str, Any]:
        """Async `load`."""
        held = self._held()
        if held is None:
            return dict(dict.items(self))
        engine, cookies = held
        return dict(dict.items(await engine.aload(cookies)))

    def exists(self, session_key: str | None) -> bool:
        """Return whether `session_key` is this live session's key, or a cookie value that opens."""
        if session_key is None:
            return False
        if session_key == self.session_key:
            return True
        engine = self._engine
        if engine is None:
            return False
        return not engine.load({engine.config.cookie_name: session_key}).new

    async def aexists(self, session_key: str | None) -> bool:
        """Async `exists`."""
        if session_key is None:
            return False
        if session_key == self.session_key:
            return True
        engine = self._engine
        if engine is None:
            return False
        return not (await engine.aload({engine.config.cookie_name: session_key})).new

    def delete(self, session_key: str | None = None) -> None:
        """End this session (as `flush`), or the session another cookie value `session_key` opens.

        Another value is revoked when a ``denylist`` is configured and its
        store record is deleted; without a denylist it stays valid until it
        expires (a client-side session cannot be recalled by deleting data).
        """
        if session_key is None or session_key == self.session_key:
            self.flush()
        elif self._engine is not None:
            forget(self._engine, session_key)

    async def adelete(self, session_key: str | None = None) -> None:
        """Async `delete`."""
        if session_key is None or session_key == self.session_key:
            self.flush()
        elif self._engine is not None:
            await aforget(self._engine, session_key)

    @classmethod
    def clear_expired(cls) -> None:
        """Do nothing: cookies expire in the browser and store records carry a TTL."""

    @classmethod
    async def aclear_expired(cls) -> None:
        """Async `clear_expired` (does nothing)."""

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

    def expiry_setting(self) -> int | None:
        """Return the ``set_expiry`` value in effect: None (the default), 0 or seconds."""
        max_age = self.max_age
        if max_age == self._config_max_age:
            return None
        return 0 if max_age is None else max_age

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


class LazyDjangoSession(LazySession):
    """``request.session`` with ``lazy=True``: the cookie is opened on first use.

    Like Django's own session store, nothing is decrypted for a request that
    never touches ``request.session``. Every `DjangoSession` attribute and
    method (``cycle_key``, ``flush``, ``modified = True``…) reaches the opened
    session.
    """

    __slots__ = ()

    clear_expired = DjangoSession.clear_expired
    aclear_expired = DjangoSession.aclear_expired

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY_SLOTS:
            object.__setattr__(self, name, value)
        else:
            setattr(self.open(), name, value)


_LAZY_SLOTS: Final = frozenset(LazySession.__slots__)


def prepare(
    session: DjangoSession,
    engine: SessionEngine,
    cookies: Mapping[str, str],
    *,
    cookie_age: int,
) -> DjangoSession:
    """Bind a session the engine opened to its engine, the request's cookies and settings."""
    session._engine = engine
    session._request_cookies = cookies
    session._cookie_age = cookie_age
    session._config_max_age = engine.config.max_age
    return session


def adopt_expiry(session: DjangoSession) -> None:
    """Apply a ``set_expiry`` value kept in the data (by Django or `SessionStore`), drop the key.

    Django's own backends and `SessionStore` keep it as ``"_session_expiry"``;
    here it becomes the cookie's Max-Age (and deadline), and the next write
    seals the data without it.
    """
    if not dict.__contains__(session, EXPIRY_KEY):
        return  # the usual request: nothing to adopt, nothing marked changed
    accessed = session.accessed
    expiry = session.pop(EXPIRY_KEY, None)
    session.accessed = accessed
    set_django_expiry(session, expiry)


def set_django_expiry(session: DjangoSession, expiry: object) -> None:
    """Apply a value Django keeps as ``"_session_expiry"``: ISO text, seconds, or None."""
    try:
        if isinstance(expiry, str):
            session.set_expiry(_dt.datetime.fromisoformat(expiry))
        elif type(expiry) is int or expiry is None:
            session.set_expiry(expiry)
    except (ValueError, OverflowError):
        pass  # not a value Django writes: keep the default expiry


def is_deletion(line: str) -> bool:
    """Return whether a Set-Cookie value the engine rendered deletes its cookie."""
    return EXPIRED in line


def client_cookies(request_cookies: Mapping[str, str], lines: list[str]) -> dict[str, str]:
    """The cookies the client holds once it applied `lines` (Set-Cookie values) to its own.

    Path and Domain are not modelled: a deletion of a legacy cookie that
    shares our name is applied first, so our own new value stays.
    """
    held = dict(request_cookies)
    pairs = [(line.split(";", 1)[0].partition("="), is_deletion(line)) for line in lines]
    for (name, _, _), deleted in pairs:
        if deleted:
            held.pop(name, None)
    for (name, _, value), deleted in pairs:
        if not deleted:
            held[name] = value
    return held


def forget(engine: SessionEngine, key: str) -> None:
    """End the session cookie value `key` opens: revoke its id (with a denylist), drop its record.

    Without a denylist a sealed cookie stays valid until it expires: a
    client-side session cannot be recalled by deleting data.
    """
    cookies = {engine.config.cookie_name: key}
    session = engine.load(cookies)
    if session.new:
        return
    if engine.config.denylist is not None:
        engine.revoke(session)
    session.destroy()
    engine.commit(session, cookies)  # deletes its store record, if it has one


async def aforget(engine: SessionEngine, key: str) -> None:
    """Async `forget`."""
    cookies = {engine.config.cookie_name: key}
    session = await engine.aload(cookies)
    if session.new:
        return
    if engine.config.denylist is not None:
        await engine.arevoke(session)
    session.destroy()
    await engine.acommit(session, cookies)
