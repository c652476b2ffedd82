"""The whole error tree of cookiesess.

```
CookieSessionError            base, never raised directly
├── ConfigurationError        bad options at construction (also a ValueError)
│   └── KeyringError          bad key configuration
├── CodecError                a session value the codec cannot represent (also a TypeError)
├── SessionTooLarge           over the cookie budget with no store configured
├── InvalidToken              any unusable incoming cookie; opaque, like Fernet's
└── StoreError                a store backend failed; chained to the driver's error
```
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = [
    "REJECT_REASONS",
    "CodecError",
    "ConfigurationError",
    "CookieSessionError",
    "InvalidToken",
    "KeyringError",
    "RejectReason",
    "SessionTooLarge",
    "StoreError",
]

RejectReason = Literal[
    "malformed",
    "unknown_key",
    "auth_failed",
    "expired",
    "revoked",
    "chunk_missing",
    "too_large",
    "store_missing",
    "legacy_rejected",
    "hook_failed",
]
REJECT_REASONS: Final[frozenset[str]] = frozenset(RejectReason.__args__)  # type: ignore[attr-defined]


class CookieSessionError(Exception):
    """Base of every cookiesess error; never raised directly."""


class ConfigurationError(CookieSessionError, ValueError):
    """Raised at construction when options are invalid; lists every problem found."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems: tuple[str, ...] = (
            (problems,) if isinstance(problems, str) else tuple(problems)
        )
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            message = f"{len(self.problems)} configuration problems:\n" + "\n".join(
                f"  - {p}" for p in self.problems
            )
        super().__init__(message)


class KeyringError(ConfigurationError):
    """Raised when key configuration is invalid; names the entry, never the secret."""


class CodecError(CookieSessionError, TypeError):
    """Raised at commit when a session value cannot be encoded; names its path."""

    def __init__(self, message: str, *, path: str = "") -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class SessionTooLarge(CookieSessionError):
    """Raised at commit when the sealed session exceeds the budget and no store is set."""


class InvalidToken(CookieSessionError):
    """Raised for any unusable incoming token; carries only a reason code for metrics."""

    __slots__ = ("reason",)

    def __init__(self, reason: RejectReason = "malformed") -> None:
        self.reason: RejectReason = reason
        super().__init__()

    def __repr__(self) -> str:
        return f"InvalidToken(reason={self.reason!r})"


class StoreError(CookieSessionError):
    """Raised when a session store fails; chained to the driver's exception."""
