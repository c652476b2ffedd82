"""Django settings -> `SessionEngine`: the one place the settings are read.

The middleware builds its engine when Django constructs it; `SessionStore`
shares one engine per settings, rebuilt when a test changes a setting.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from django.conf import settings  # type: ignore[import-untyped]  # django ships no type hints
from django.core.signals import (  # type: ignore[import-untyped]  # django ships no type hints
    setting_changed,
)

from cookiesess._frameworks import check_options, legacy_readers, resolve_keyring
from cookiesess.cookies import MAX_AGE_CAP
from cookiesess.engine import DEFAULT_ABSOLUTE_TIMEOUT, SessionEngine
from cookiesess.exceptions import ConfigurationError
from cookiesess.legacy import DjangoSignedCookiesReader

from ._session import DjangoSession

__all__ = ["cookie_age", "engine_from_settings", "store_engine"]

_JSON_SERIALIZER: Final = "django.contrib.sessions.serializers.JSONSerializer"
_STORE_ENGINE: dict[str, SessionEngine] = {}


def cookie_age() -> int:
    """``SESSION_COOKIE_AGE`` as a cookie Max-Age (1 s .. 400 days)."""
    return max(1, min(int(settings.SESSION_COOKIE_AGE), MAX_AGE_CAP))


def engine_from_settings() -> SessionEngine:
    """Build the engine ``settings.COOKIESESS`` and Django's ``SESSION_*`` settings describe.

    Raises:
        ConfigurationError: invalid settings (`KeyringError` for keys).
    """
    options = dict(getattr(settings, "COOKIESESS", None) or {})
    keys = options.pop("keys", None)
    keys_file = options.pop("keys_file", None)
    check_options(options, where="settings.COOKIESESS")
    age = cookie_age()
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
    return SessionEngine(keyring, session_class=DjangoSession, **derived)


def store_engine() -> SessionEngine:
    """The engine of `SessionStore`: the middleware's, its session kept to one cookie.

    A session key is one cookie value (Django's test client sets just one), so
    past one cookie the data goes to the store, or `SessionTooLarge` is raised.
    """
    engine = _STORE_ENGINE.get("engine")
    if engine is None:
        full = engine_from_settings()
        config = full.config
        budget = max(512, min(full.single_cookie_bytes, config.max_total_bytes))
        engine = SessionEngine(
            full.keyring,
            dataclasses.replace(config, max_total_bytes=budget),
            session_class=DjangoSession,
        )
        _STORE_ENGINE["engine"] = engine
    return engine


def _settings_changed(**kwargs: Any) -> None:
    """Drop the shared engine when a test overrides a setting it was built from."""
    name: str = kwargs["setting"]
    if name.startswith(("SESSION_", "SECRET_KEY", "COOKIESESS")):
        _STORE_ENGINE.clear()


setting_changed.connect(_settings_changed, dispatch_uid="cookiesess.django.settings")


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
