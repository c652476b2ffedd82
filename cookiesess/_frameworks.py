"""What the adapters share: engine and key resolution, and the session base.

Imports no web framework. Key resolution follows one order everywhere: an
explicit keyring, the framework's cookiesess settings, the environment, and
last the framework's own secret (refused when weak, like every secret).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, cast

from .engine import LegacyReader, SessionConfig, SessionEngine
from .exceptions import ConfigurationError, KeyringError
from .keys import ENV_VAR, FILE_ENV_VAR, Keyring
from .session import Session

__all__ = [
    "AdapterSession",
    "build_engine",
    "check_options",
    "legacy_readers",
    "resolve_keyring",
]

_SECRET_ENTRY: Final = re.compile(r"secret (\d+) \((?:primary|fallback)\)")


class AdapterSession(Session):
    """A `Session` whose ``modified`` flag frameworks may also set, as their own allow.

    Setting ``modified = True`` (the Flask and Django idiom after mutating a
    nested value) makes the session be written on this response; the flag is
    otherwise still decided from the encoded bytes.
    """

    # Per-request values the adapter keeps with the session (instance attributes).
    _request_cookies: Mapping[str, str] = {}
    _marked: bool = False

    @property
    def modified(self) -> bool:
        """Whether this response must write the session (data changed, or marked)."""
        return self._marked or super().modified

    @modified.setter
    def modified(self, value: bool) -> None:
        self._marked = bool(value)
        if value:
            self.save()


def resolve_keyring(
    *,
    keys: Keyring | str | None,
    keys_file: str | os.PathLike[str] | None,
    secret: str | bytes | None,
    fallbacks: Sequence[str | bytes],
    setting_names: tuple[str, str],
) -> Keyring:
    """Return the keyring from settings, the environment or the framework's secret.

    Args:
        keys: a `Keyring` or env-format text (``ID[:STATE]:SECRET,...``) from settings.
        keys_file: a key file named in settings.
        secret: the framework's secret (Flask/Django ``SECRET_KEY``), used last.
        fallbacks: the framework's old secrets (decrypt-only).
        setting_names: the setting names of `secret` and `fallbacks`, for messages.

    Raises:
        KeyringError: nothing usable is configured, or the secret is weak.
    """
    if isinstance(keys, Keyring):
        return keys
    if keys_file:
        return Keyring.from_file(keys_file)
    if keys:
        return Keyring.from_text(keys, source="COOKIESESS keys")
    if os.environ.get(FILE_ENV_VAR) or os.environ.get(ENV_VAR) is not None:
        return Keyring.from_env()
    secret_name, fallbacks_name = setting_names
    if not secret:
        raise KeyringError(
            f"no keys configured: set {FILE_ENV_VAR} to a key file (preferred), "
            f"{ENV_VAR}, or {secret_name}; generate a key with `cookiesess keygen`"
        )
    try:
        return Keyring.from_secrets([secret, *fallbacks])
    except KeyringError as exc:
        problems = [_rename(p, secret_name, fallbacks_name) for p in exc.problems]
        raise KeyringError(problems) from None


def _rename(problem: str, secret_name: str, fallbacks_name: str) -> str:
    def name(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return secret_name if index == 0 else f"{fallbacks_name}[{index - 1}]"

    return _SECRET_ENTRY.sub(name, problem, count=1)


def check_options(options: Mapping[str, Any], *, where: str) -> None:
    """Refuse option names `SessionConfig` does not have (typos fail at start-up).

    Raises:
        ConfigurationError: naming every unknown option.
    """
    known = {field.name for field in dataclasses.fields(SessionConfig)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigurationError(
            [f"{where}: unknown option {name!r}" for name in unknown]
            + [f"{where}: valid options are {', '.join(sorted(known))}"]
        )


def legacy_readers(
    value: object, *, own: str, build: Callable[[], LegacyReader]
) -> tuple[LegacyReader, ...]:
    """Resolve a ``migrate_from`` option; the framework's own name builds its reader.

    Args:
        value: None, the name `own`, a reader object, or a list mixing them.
        own: the framework's name (``"flask"`` or ``"django"``).
        build: builds the reader of the framework's own session cookie from the
            app's settings (the app being migrated is the same app).

    Raises:
        ConfigurationError: another framework's name, or settings that cannot
            verify the legacy cookies (e.g. no secret key).
    """
    if value is None or isinstance(value, str) or not isinstance(value, Iterable):
        items: list[object] = [] if value is None else [value]
    else:
        items = list(value)
    readers: list[LegacyReader] = []
    for item in items:
        if item == own:
            try:
                readers.append(build())
            except ConfigurationError as exc:
                raise ConfigurationError(
                    [f"migrate_from={own!r}: {p}" for p in exc.problems]
                ) from None
        elif isinstance(item, str):
            raise ConfigurationError(
                f"migrate_from={item!r}: this adapter reads only its own framework's cookie "
                f"({own!r}); for another library pass a reader from cookiesess.legacy"
            )
        else:
            readers.append(cast("LegacyReader", item))  # SessionConfig checks each reader
    return tuple(readers)


def build_engine(
    keyring: Keyring | None, engine: SessionEngine | None, options: dict[str, Any]
) -> SessionEngine:
    """Return the middleware's engine: the one given, or one built from keys and options."""
    if engine is not None:
        if keyring is not None or options:
            raise ConfigurationError("pass either engine= or a keyring and options, not both")
        return engine
    return SessionEngine(keyring if keyring is not None else Keyring.from_env(), **options)
