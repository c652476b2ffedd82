"""Django adapter: `SessionMiddleware` (a drop-in for Django's own) and `SessionStore`.

Settings::

    MIDDLEWARE = ["cookiesess.django.SessionMiddleware", ...]  # instead of Django's
    SESSION_ENGINE = "cookiesess.django"  # for Django's test client, auth.login & co.
    COOKIESESS = {...}  # SessionConfig keywords plus "keys" / "keys_file"

Django's ``SESSION_COOKIE_*``, ``SESSION_EXPIRE_AT_BROWSER_CLOSE`` and
``SESSION_SAVE_EVERY_REQUEST`` are honoured. ``request.session`` offers the
whole of Django's ``SessionBase`` API, so `django.contrib.auth`,
`django.contrib.messages` and ``CSRF_USE_SESSIONS`` work unchanged.

`SessionStore` serves code that builds sessions itself through
``SESSION_ENGINE``: Django's test ``Client.login()``, ``force_login()`` and
``client.session``, ``django.contrib.auth.login`` on a bare request, the
``clearsessions`` command. Its session key is the session cookie's value
(one cookie: a sealed session, or a sealed store reference), which the
middleware opens. Chunking stays the middleware's job.

``COOKIESESS = {"migrate_from": "django"}`` reads the cookies of Django's
``signed_cookies`` backend once (verified with ``SECRET_KEY``,
``SECRET_KEY_FALLBACKS``, ``SESSION_COOKIE_AGE`` and ``SESSION_COOKIE_*``) and
re-seals them, so users stay logged in; see `cookiesess.legacy`.

.. versionadded:: 0.1
"""

from __future__ import annotations

from ._middleware import SessionMiddleware
from ._session import DjangoSession, LazyDjangoSession
from ._store import SessionStore

__all__ = ["DjangoSession", "LazyDjangoSession", "SessionMiddleware", "SessionStore"]
