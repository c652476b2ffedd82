"""Keys and the keyring: loading, validation, states and per-purpose subkeys.

A key is 32 random bytes with a human id (``k2``) and a state: ``primary``
(seals and opens; exactly one), ``decrypt`` (opens only; tokens it opens are
re-sealed under the primary) or ``retired`` (kept in files for the record, never
loaded). Each key has a derived 4-byte wire id for O(1) lookup, and HKDF-SHA256
subkeys per purpose: XAES-256-GCM keys (`cookiesess.xaes`) and HMAC keys.
Never logs, prints or reprs key bytes. No I/O except the explicit
`Keyring.from_file` (through `cookiesess.keyfile`) and `from_env` loaders.
"""

from __future__ import annotations

import hmac
import math
import os
import secrets
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from . import _b64, keyfile
from .exceptions import KeyringError
from .xaes import XAESKey

__all__ = [
    "FORMAT_VERSION",
    "KEY_STATES",
    "Key",
    "KeyState",
    "Keyring",
    "MacPurpose",
    "Purpose",
]

KeyState = Literal["primary", "decrypt", "retired"]
KEY_STATES: Final = ("primary", "decrypt", "retired")
FORMAT_VERSION: Final = 1
KEY_BYTES: Final = 32
ENV_VAR: Final = "COOKIESESS_KEYS"
FILE_ENV_VAR: Final = "COOKIESESS_KEYS_FILE"
_FIX: Final = "generate a key with `cookiesess keygen`"
_ID_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
_MAX_ID_LEN: Final = 64

# Values seen in tutorials, docs and framework templates: refused even when long.
_KNOWN_WEAK: Final = frozenset(
    {
        "keyboard cat",
        "secret",
        "changeme",
        "change-me",
        "development",
        "dev",
        "test",
        "password",
        "your-secret-key",
        "super-secret-key",
        "supersecretkey",
        "please-change-this-secret-key-in-production",
        "you-will-never-guess",
    }
)
_WEAK_PREFIXES: Final = ("django-insecure-",)
MIN_SECRET_CHARS: Final = 32
MIN_PASSPHRASE_CHARS: Final = 16

Purpose = Literal["session", "ref", "record"]
"""What a sealed value is for; each purpose has its own XAES-256-GCM subkey."""
MacPurpose = Literal["store-key"]
"""What an HMAC subkey is for."""


class Key:
    """One master key: an id, a state, and derived subkeys. Its repr hides the bytes."""

    __slots__ = ("_aead", "_mac", "_master", "id", "state", "wire_id")

    def __init__(self, key_id: str, secret: bytes, state: KeyState = "primary") -> None:
        if type(secret) is not bytes or len(secret) != KEY_BYTES:
            raise KeyringError(f"key {key_id!r}: a key is exactly 32 bytes; {_FIX}")
        if state not in KEY_STATES:
            raise KeyringError(
                f"key {key_id!r}: unknown state {state!r}; use one of {', '.join(KEY_STATES)}"
            )
        self.id = key_id
        self.state: KeyState = state
        self._master = secret
        self.wire_id: bytes = self._hkdf(b"kid", 4)
        self._aead: dict[str, XAESKey] = {}
        self._mac: dict[str, bytes] = {}

    def _hkdf(self, label: bytes, length: int) -> bytes:
        info = b"cookiesess/v%d/" % FORMAT_VERSION + label
        return HKDF(hashes.SHA256(), length, b"cookiesess", info).derive(self._master)

    def aead(self, purpose: Purpose) -> XAESKey:
        """Return the XAES-256-GCM subkey for `purpose` (cached)."""
        sub = self._aead.get(purpose)
        if sub is None:
            sub = self._aead[purpose] = XAESKey(self._hkdf(purpose.encode(), 32))
        return sub

    def mac_key(self, purpose: MacPurpose) -> bytes:
        """Return the HMAC-SHA256 subkey for `purpose` (cached)."""
        sub = self._mac.get(purpose)
        if sub is None:
            sub = self._mac[purpose] = self._hkdf(purpose.encode(), 32)
        return sub

    def same_secret(self, other: Key) -> bool:
        """Return whether two keys hold the same bytes (constant time)."""
        return hmac.compare_digest(self._master, other._master)

    def secret_b64(self) -> str:
        """Return the secret as base64url; only for key files and `keygen`."""
        return _b64.encode(self._master)

    def __repr__(self) -> str:
        return f"Key(id={self.id!r}, state={self.state!r})"


class Keyring:
    """The keys an app seals and opens with: exactly one primary, any decrypt-only.

    Build one with `from_env`, `from_file`, `from_secrets` or `generate`.
    Lookup by wire id is a dict access: the cost of opening a token does not
    grow with the number of keys, and an unknown id costs no decryption.
    """

    __slots__ = ("_by_wire_id", "keys", "primary", "retired_ids")

    def __init__(self, keys: Iterable[Key], *, _problems: Sequence[str] = ()) -> None:
        all_keys = list(keys)
        problems = list(_problems)
        seen_ids: set[str] = set()
        for key in all_keys:
            if key.id in seen_ids:
                problems.append(f"key id {key.id!r} appears twice; ids must be unique")
            seen_ids.add(key.id)
        live = [k for k in all_keys if k.state != "retired"]
        primaries = [k for k in live if k.state == "primary"]
        if len(primaries) != 1 and not (problems and not primaries):
            names = ", ".join(repr(k.id) for k in primaries) or "none"
            problems.append(
                f"exactly one key must be primary, found {len(primaries)} ({names}); "
                "mark one entry ':primary' and the others ':decrypt'"
            )
        for i, a in enumerate(live):
            for b in live[i + 1 :]:
                if a.same_secret(b):
                    problems.append(
                        f"keys {a.id!r} and {b.id!r} hold the same secret; "
                        "a key may appear under one id only"
                    )
                elif a.wire_id == b.wire_id:  # pragma: no cover - 2^-32 per pair
                    problems.append(f"keys {a.id!r} and {b.id!r} collide on wire id; {_FIX}")
        if problems:
            raise KeyringError(problems)
        self.keys: tuple[Key, ...] = tuple(live)
        self.primary: Key = primaries[0]
        self.retired_ids: tuple[str, ...] = tuple(k.id for k in all_keys if k.state == "retired")
        self._by_wire_id = {k.wire_id: k for k in live}

    def get(self, wire_id: bytes) -> Key | None:
        """Return the live key with this 4-byte wire id, or None."""
        return self._by_wire_id.get(wire_id)

    def __len__(self) -> int:
        return len(self.keys)

    def __repr__(self) -> str:
        decrypt = [k.id for k in self.keys if k.state == "decrypt"]
        return (
            f"Keyring(primary={self.primary.id!r}, decrypt={decrypt!r}, "
            f"retired={list(self.retired_ids)!r})"
        )

    # -- constructors -----------------------------------------------------

    @classmethod
    def generate(cls, key_id: str = "k1") -> Keyring:
        """Return a keyring with one fresh random primary key (for dev and tests)."""
        return cls([Key(key_id, secrets.token_bytes(KEY_BYTES), "primary")])

    @classmethod
    def from_text(cls, text: str, *, source: str = ENV_VAR) -> Keyring:
        """Parse the env format: comma-separated ``ID[:STATE]:SECRET`` entries.

        Without states the first entry is primary and the others decrypt-only.
        """
        entries = [e.strip() for e in text.split(",") if e.strip()]
        if not entries:
            raise KeyringError(f"{source} is empty; {_FIX}")
        problems: list[str] = []
        parsed: list[tuple[int, str, str | None, str]] = []
        for n, entry in enumerate(entries, 1):
            parts = entry.split(":")
            if len(parts) == 2:
                parsed.append((n, parts[0], None, parts[1]))
            elif len(parts) == 3:
                parsed.append((n, parts[0], parts[1], parts[2]))
            else:
                problems.append(
                    f"{source} entry {n}: expected ID[:STATE]:SECRET with "
                    f"{len(parts) - 1} colon(s) found; {_FIX}"
                )
        any_state = any(state is not None for _, _, state, _ in parsed)
        keys: list[Key] = []
        for n, key_id, given_state, secret in parsed:
            state = given_state or ("decrypt" if any_state or n > 1 else "primary")
            key = _key_from_entry(f"{source} entry {n}", key_id, state, secret, problems)
            if key is not None:
                keys.append(key)
        return cls(keys, _problems=problems)

    @classmethod
    def from_env(cls, name: str = ENV_VAR) -> Keyring:
        """Load from the environment: ``$COOKIESESS_KEYS_FILE`` (preferred) or ``$name``."""
        path = os.environ.get(FILE_ENV_VAR)
        if path:
            return cls.from_file(path)
        text = os.environ.get(name)
        if text is None:
            raise KeyringError(
                f"no keys configured: set {FILE_ENV_VAR} to a key file (preferred) or "
                f"{name} to 'ID:SECRET'; {_FIX}"
            )
        return cls.from_text(text, source=name)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Keyring:
        """Load a JSON or TOML key file: ``{"keys": [{"id", "state", "secret"}, ...]}``."""
        return cls.from_mapping(keyfile.read(path), source=os.fspath(path))

    @classmethod
    def from_mapping(cls, data: Mapping[str, object], *, source: str = "keyring") -> Keyring:
        """Build from the decoded key-file structure."""
        entries = data.get("keys")
        if not isinstance(entries, list) or not entries:
            raise KeyringError(f"{source}: expected a non-empty 'keys' list; {_FIX}")
        problems: list[str] = []
        keys: list[Key] = []
        for n, entry in enumerate(entries, 1):
            where = f"{source} keys[{n - 1}]"
            if not isinstance(entry, dict):
                problems.append(f"{where}: expected a table with id, state and secret")
                continue
            key_id, state, secret = (
                entry.get("id"),
                entry.get("state"),
                entry.get("secret"),
            )
            if not isinstance(key_id, str) or not isinstance(secret, str):
                problems.append(f"{where}: 'id' and 'secret' must be strings")
                continue
            if not isinstance(state, str):
                problems.append(f"{where} (id {key_id!r}): 'state' must be one of {KEY_STATES}")
                continue
            key = _key_from_entry(where, key_id, state, secret, problems)
            if key is not None:
                keys.append(key)
        return cls(keys, _problems=problems)

    @classmethod
    def from_secrets(
        cls, secrets_: Sequence[str | bytes], *, allow_passphrase: bool = False
    ) -> Keyring:
        """Build from framework-style secret strings (Flask SECRET_KEY, express `secret`).

        The first secret is primary, the others decrypt-only. High-entropy
        secrets are expanded with HKDF. Low-entropy ones are refused unless
        `allow_passphrase` is set, in which case they are stretched once with
        scrypt (about 0.1 s each, at start-up); known example values and
        secrets under 16 characters are refused always.
        """
        if isinstance(secrets_, (str, bytes)):
            secrets_ = [secrets_]
        if not secrets_:
            raise KeyringError(f"no secrets given; {_FIX}")
        problems: list[str] = []
        keys: list[Key] = []
        for n, raw in enumerate(secrets_):
            where = "secret 0 (primary)" if n == 0 else f"secret {n} (fallback)"
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            data = raw if isinstance(raw, bytes) else raw.encode("utf-8")
            # Bytes secrets (Flask's classic `os.urandom(24)`) are judged as bytes.
            weakness = bytes_weakness(raw) if isinstance(raw, bytes) else secret_weakness(text)
            state: KeyState = "primary" if n == 0 else "decrypt"
            if weakness is None:
                master = HKDF(hashes.SHA256(), 32, b"cookiesess/secret", b"").derive(data)
            elif allow_passphrase and passphrase_weakness(text) is None:
                master = Scrypt(salt=b"cookiesess/passphrase", length=32, n=2**15, r=8, p=1).derive(
                    data
                )
            else:
                reason = passphrase_weakness(text) if allow_passphrase else weakness
                problems.append(f"{where}: refused, {reason}; {_FIX}")
                continue
            keys.append(Key(f"s{n}", master, state))
        return cls(keys, _problems=problems)


def _key_from_entry(
    where: str, key_id: str, state: str, secret: str, problems: list[str]
) -> Key | None:
    bad = False
    if not key_id or len(key_id) > _MAX_ID_LEN or not set(key_id) <= _ID_CHARS:
        problems.append(f"{where}: id must be 1-64 characters of [A-Za-z0-9_.-]")
        bad = True
    if state not in KEY_STATES:
        problems.append(
            f"{where} (id {key_id!r}): unknown state {state!r}; use one of {', '.join(KEY_STATES)}"
        )
        bad = True
    try:
        raw = _b64.decode(secret.strip())
    except ValueError:
        raw = b""
    if len(raw) != KEY_BYTES:
        problems.append(
            f"{where} (id {key_id!r}): the secret must be 32 random bytes in "
            f"unpadded base64url (43 characters); {_FIX}"
        )
        return None
    if len(set(raw)) <= 8:
        problems.append(f"{where} (id {key_id!r}): the secret is not random; {_FIX}")
        return None
    if bad:
        return None
    return Key(key_id, raw, state)  # type: ignore[arg-type]


def passphrase_weakness(text: str) -> str | None:
    """Return why `text` is refused even as an opted-in passphrase, or None."""
    if _is_known_weak(text):
        return "it is a well-known example value"
    if len(text) < MIN_PASSPHRASE_CHARS:
        return f"a passphrase needs at least {MIN_PASSPHRASE_CHARS} characters"
    if len(set(text)) < 6:
        return "it is repetitive"
    return None


def secret_weakness(text: str) -> str | None:
    """Return why `text` is too weak to be used as a secret as it is, or None."""
    if _is_known_weak(text):
        return "it is a well-known example value"
    if len(text) < MIN_SECRET_CHARS:
        return f"shorter than {MIN_SECRET_CHARS} characters"
    if len(set(text)) < 8:
        return "too few distinct characters"
    data = text.encode("utf-8")
    if len(zlib.compress(data, 9)) < len(data) // 2:
        return "it is repetitive"
    classes = (
        (26 if any(c.islower() for c in text) else 0)
        + (26 if any(c.isupper() for c in text) else 0)
        + (10 if any(c.isdigit() for c in text) else 0)
        + (32 if any(not c.isalnum() for c in text) else 0)
    )
    if len(text) * math.log2(max(classes, 2)) < 128:
        return "under 128 bits of estimated entropy"
    return None


def bytes_weakness(data: bytes) -> str | None:
    """Return why a bytes secret is too weak to be used as it is, or None."""
    if data.isascii() and _is_known_weak(data.decode("ascii")):
        return "it is a well-known example value"
    if len(data) < 16:
        return "shorter than 16 bytes"
    if len(set(data)) < min(12, len(data) // 2) or len(zlib.compress(data, 9)) < len(data) // 2:
        return "it is not random"
    try:
        return secret_weakness(data.decode("ascii")) if data.isascii() else None
    except UnicodeDecodeError:  # pragma: no cover - isascii() guards it
        return None


def _is_known_weak(text: str) -> bool:
    folded = text.strip().lower()
    return folded in _KNOWN_WEAK or folded.startswith(_WEAK_PREFIXES)
