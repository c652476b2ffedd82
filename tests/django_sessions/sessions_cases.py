"""Django's own sessions tests, pointed at cookiesess.

Imported only by sessions_runner.py, in a subprocess, with ``sessions_tests``
(Django's ``tests/sessions_tests`` from the installed version's sdist) on the
path. ``SessionTestsMixin`` runs against `cookiesess.django.SessionStore`,
with a denylist and without; ``SessionMiddlewareTests`` against
`cookiesess.django.SessionMiddleware`. The cases listed in inapplicable.py are
skipped with their reason; every other case runs unchanged.
"""

from __future__ import annotations

import unittest
from typing import Any

from django.conf import settings
from django.test import SimpleTestCase, override_settings
from inapplicable import INAPPLICABLE
from sessions_tests import tests as django_tests

from cookiesess.django import SessionMiddleware, SessionStore

# SessionMiddlewareTests builds `SessionMiddleware(view)` from its module's
# name: that name now means cookiesess's middleware (this subprocess runs no
# other class of that module).
django_tests.SessionMiddleware = SessionMiddleware


def _skip_inapplicable(cls: type[Any]) -> type[Any]:
    """Replace each inapplicable case of `cls` by a skip carrying its reason."""
    for key, reason in INAPPLICABLE.items():
        owner, _, name = key.partition(".")
        if owner == cls.__name__:
            original = getattr(cls, name)  # AttributeError: a case Django renamed or dropped
            setattr(cls, name, unittest.skip(reason)(original))
    return cls


@_skip_inapplicable
class CookiesessSessionTests(django_tests.SessionTestsMixin, SimpleTestCase):
    """Django's SessionTestsMixin on SessionStore, with a denylist (deleted keys stop opening)."""

    backend = SessionStore


@_skip_inapplicable
@override_settings(COOKIESESS={**settings.COOKIESESS, "denylist": None})
class CookiesessSessionTestsWithoutDenylist(CookiesessSessionTests):
    """The same, with cookiesess's default configuration (no denylist)."""


@_skip_inapplicable
class CookiesessMiddlewareTests(django_tests.SessionMiddlewareTests):
    """Django's SessionMiddlewareTests on cookiesess's SessionMiddleware."""
