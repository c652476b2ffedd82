"""`SessionStore`: ``SESSION_ENGINE = "cookiesess.django"`` for code that builds sessions itself.

Django's test client (``login``, ``force_login``, ``client.session``),
``django.contrib.auth.login`` on a bare request and ``clearsessions`` go through
``import_module(settings.SESSION_ENGINE).SessionStore``. Here the session key
is the session cookie's value: a sealed session when it fits one cookie, else
a sealed store reference; `SessionMiddleware` opens it, and ``SessionStore(key)``
opens what the middleware set.
"""

from __future__ import annotations

from django.contrib.sessions.backends.base import (  # type: ignore[import-untyped]  # django ships no type hints
    SessionBase,
)

from cookiesess.exceptions import SessionTooLarge
from cookiesess.session import Session

from ._config import cookie_age, store_engine
from ._session import (
    EXPIRY_KEY,
    DjangoSession,
    aforget,
    forget,
    is_deletion,
    prepare,
    set_django_expiry,
)

__all__ = ["SessionStore"]


class SessionStore(SessionBase):  # type: ignore[misc]  # Django's base class is untyped
    """A Django session store whose session key is the cookiesess cookie value.

    Every ``save()`` seals the session anew, so the key changes at each save,
    as with Django's ``signed_cookies``: put ``session.session_key`` back in
    the client's cookie after changing ``client.session``. ``delete(key)``
    revokes that session when a ``denylist`` is configured and drops its store
    record; otherwise a sealed cookie stays valid until it expires.
    ``clear_expired()`` does nothing: there is nothing server-side to clear.

    Args:
        session_key: a session cookie value, or None for a new session.

    Raises:
        SessionTooLarge: at ``save()``, when the session outgrows one cookie
            and no store is configured.
    """

    # SessionBase's attributes, as this class uses them (annotations only).
    _session_cache: DjangoSession
    _session_key: str | None

    def __init__(self, session_key: str | None = None) -> None:
        super().__init__(session_key)
        self._engine = store_engine()

    # -- the cache: a cookiesess session, opened on first use as Django does ---

    def _get_session(self, no_load: bool = False) -> DjangoSession:
        self.accessed = True
        try:
            return self._session_cache
        except AttributeError:
            if self.session_key is None or no_load:
                self._session_cache = self._new()
            else:
                self._session_cache = self.load()
        return self._session_cache

    async def _aget_session(self, no_load: bool = False) -> DjangoSession:
        self.accessed = True
        try:
            return self._session_cache
        except AttributeError:
            if self.session_key is None or no_load:
                self._session_cache = self._new()
            else:
                self._session_cache = await self.aload()
        return self._session_cache

    _session = property(_get_session)

    def _cookies(self, key: str | None) -> dict[str, str]:
        return {} if key is None else {self._engine.config.cookie_name: key}

    def _new(self) -> DjangoSession:
        return self._bind(self._engine.new_session())

    def _bind(self, session: Session) -> DjangoSession:
        if not isinstance(session, DjangoSession):  # the engine's session_class is set
            raise TypeError("the cookiesess engine must produce DjangoSession objects")
        return prepare(session, self._engine, {}, cookie_age=cookie_age())

    def _opened(self, session: Session) -> DjangoSession:
        if session.new:
            self._session_key = None  # an unknown key is dropped, never reused
        bound = self._bind(session)
        expiry = bound.expiry_setting()
        if expiry is not None and not dict.__contains__(bound, EXPIRY_KEY):
            # Django keeps set_expiry in the data; the middleware keeps it on the
            # cookie. Shown the Django way here (untracked: not a change by itself).
            dict.__setitem__(bound, EXPIRY_KEY, expiry)
        return bound

    # -- SessionBase's storage methods ----------------------------------------

    def load(self) -> DjangoSession:
        """Open the session the key holds; empty (and the key dropped) if it does not open."""
        return self._opened(self._engine.load(self._cookies(self.session_key)))

    async def aload(self) -> DjangoSession:
        """Async `load`."""
        return self._opened(await self._engine.aload(self._cookies(self.session_key)))

    def exists(self, session_key: str | None) -> bool:
        """Return whether `session_key` opens as a live session."""
        if session_key is None:
            return False
        return not self._engine.load(self._cookies(session_key)).new

    async def aexists(self, session_key: str | None) -> bool:
        """Async `exists`."""
        if session_key is None:
            return False
        return not (await self._engine.aload(self._cookies(session_key))).new

    def create(self) -> None:
        """Give the session a new id (keeping its data) and save it."""
        session = self._get_session(no_load=True)
        if not session.new:
            session.regenerate()
        self.save(must_create=True)
        self.modified = True

    async def acreate(self) -> None:
        """Async `create`."""
        session = await self._aget_session(no_load=True)
        if not session.new:
            session.regenerate()
        await self.asave(must_create=True)
        self.modified = True

    def save(self, must_create: bool = False) -> None:
        """Seal the session now; `session_key` becomes the new cookie value."""
        session = self._writable(self._get_session(no_load=must_create))
        lines = self._engine.commit(session, self._cookies(self.session_key))
        self._session_key = self._key(lines)

    async def asave(self, must_create: bool = False) -> None:
        """Async `save`."""
        session = self._writable(await self._aget_session(no_load=must_create))
        lines = await self._engine.acommit(session, self._cookies(self.session_key))
        self._session_key = self._key(lines)

    def delete(self, session_key: str | None = None) -> None:
        """End the session `session_key` (default: this one) opens, and empty this one if it was."""
        key = self.session_key if session_key is None else session_key
        if key is not None:
            forget(self._engine, key)
        self._forgot(session_key)

    async def adelete(self, session_key: str | None = None) -> None:
        """Async `delete`."""
        key = self.session_key if session_key is None else session_key
        if key is not None:
            await aforget(self._engine, key)
        self._forgot(session_key)

    def clear(self) -> None:
        """Empty the session without loading it."""
        self._session_cache = self._new()
        self.accessed = True
        self.modified = True

    @classmethod
    def clear_expired(cls) -> None:
        """Do nothing: cookies expire in the browser and store records carry a TTL."""

    @classmethod
    async def aclear_expired(cls) -> None:
        """Async `clear_expired` (does nothing)."""

    # -- helpers ----------------------------------------------------------------

    def _writable(self, session: DjangoSession) -> DjangoSession:
        """The session to seal: forced out, its Django expiry on the cookie."""
        if not dict.__len__(session) and not session.new:
            # Emptied: the engine would delete the cookie; Django saves an empty session.
            session = self._session_cache = self._new()
        set_django_expiry(session, dict.get(session, EXPIRY_KEY))
        session.save()
        return session

    def _key(self, lines: list[str]) -> str | None:
        name = self._engine.config.cookie_name
        key = None
        for line in lines:
            pair = line.split(";", 1)[0]
            if is_deletion(line):
                continue
            cookie, _, value = pair.partition("=")
            if cookie == name:
                key = value
            elif cookie.startswith(name + "."):
                raise SessionTooLarge(
                    "the session does not fit one cookie, which a session key must: "
                    "configure a store (COOKIESESS['store']) or store less in the session"
                )
        return key

    def _forgot(self, session_key: str | None) -> None:
        if session_key is None or session_key == self.session_key:
            self._session_key = None
            self._session_cache = self._new()
            self.modified = True
