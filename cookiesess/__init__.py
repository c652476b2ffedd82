"""cookiesess: sessions sealed in the cookie, with a server-side store when they outgrow it."""

from __future__ import annotations

from .engine import SessionConfig as SessionConfig
from .engine import SessionEngine as SessionEngine
from .exceptions import CodecError as CodecError
from .exceptions import ConfigurationError as ConfigurationError
from .exceptions import CookieSessionError as CookieSessionError
from .exceptions import InvalidToken as InvalidToken
from .exceptions import KeyringError as KeyringError
from .exceptions import SessionTooLarge as SessionTooLarge
from .exceptions import StoreError as StoreError
from .keys import Keyring as Keyring
from .session import LazySession as LazySession
from .session import Session as Session

__all__ = [
    "CodecError",
    "ConfigurationError",
    "CookieSessionError",
    "InvalidToken",
    "Keyring",
    "KeyringError",
    "LazySession",
    "Session",
    "SessionConfig",
    "SessionEngine",
    "SessionTooLarge",
    "StoreError",
]
__version__ = "0.2.0"
