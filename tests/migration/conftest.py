"""Fixtures of the legacy reader tests."""

from __future__ import annotations

import types

import itsdangerous
import pytest
from django.core import signing

from tests.migration._legacy_support import Clock


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: int(c.now))
    monkeypatch.setattr(signing, "time", types.SimpleNamespace(time=lambda: c.now))
    return c
