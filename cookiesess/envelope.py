"""The wire format: sealing and unsealing tokens with XAES-256-GCM.

A token is unpadded base64url of::

    offset  0        1               2..5       6..29        30..
            version  kind | chunks   key wire   nonce (24)   ciphertext || tag (16)
            (0x01)   (4 + 4 bits)    id (4)

The kind nibble says the purpose (0 session, 1 store reference, 2 store
record) and the low nibble the chunk count (1..10). The 30-byte header encodes
to exactly 40 characters, so the first chunk alone tells the count and kind.
AAD = label || header || lp8(app namespace) || lp8(purpose) || lp8(cookie
name): a token moved to another app, purpose, cookie name or version fails to
open. Authenticate first, parse after. Every failure
raises `InvalidToken`, and nothing else escapes `unseal`. The cipher, its
nonces and derived keys live in `cookiesess.xaes`. No I/O, no clock.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from cryptography.exceptions import InvalidTag

from . import _b64
from .exceptions import InvalidToken
from .keys import Key, Keyring, Purpose
from .xaes import NONCE_BYTES

__all__ = [
    "HEADER_CHARS",
    "MAX_CHUNKS",
    "MAX_TOKEN_CHARS",
    "OVERHEAD_BYTES",
    "VERSION",
    "Header",
    "Opened",
    "aad_context",
    "peek_header",
    "read_header",
    "seal",
    "seal_bytes",
    "sealed_chars",
    "unseal",
    "unseal_bytes",
]

VERSION: Final = 1
HEADER_BYTES: Final = 6 + NONCE_BYTES  # version, kind|count, wire key id, nonce
HEADER_CHARS: Final = 40
TAG_BYTES: Final = 16
OVERHEAD_BYTES: Final = HEADER_BYTES + TAG_BYTES
MAX_CHUNKS: Final = 10
MAX_TOKEN_CHARS: Final = MAX_CHUNKS * 4096
_LABEL: Final = b"cookiesess\x00"
_KINDS: Final[dict[str, int]] = {"session": 0, "ref": 1, "record": 2}
_PURPOSES: Final[tuple[Purpose, ...]] = ("session", "ref", "record")


class Opened(NamedTuple):
    """What `unseal` returns: the plaintext, the key that opened it, the chunk count."""

    plaintext: bytes
    key: Key
    chunks: int


def _lp8(data: bytes) -> bytes:
    if len(data) > 255:
        raise ValueError("context field longer than 255 bytes")
    return bytes((len(data),)) + data


def aad_context(*, app_namespace: str, purpose: Purpose, name: str) -> bytes:
    """Return the AAD suffix binding a token to its app, purpose and cookie name."""
    return (
        _lp8(app_namespace.encode("utf-8"))
        + _lp8(purpose.encode("ascii"))
        + _lp8(name.encode("utf-8"))
    )


def sealed_chars(plaintext_len: int) -> int:
    """Return the length in characters of the token for a plaintext of this size."""
    n = HEADER_BYTES + plaintext_len + TAG_BYTES
    return (n * 4 + 2) // 3


# (purpose, chunk count) -> the version and kind|count bytes that open a header.
_HEADS: Final = {
    purpose: {count: bytes((VERSION, kind << 4 | count)) for count in range(1, MAX_CHUNKS + 1)}
    for purpose, kind in _KINDS.items()
}


def seal(
    keyring: Keyring,
    plaintext: bytes,
    *,
    purpose: Purpose,
    context: bytes,
    chunks: int = 1,
) -> str:
    """Seal `plaintext` under the primary key; `context` comes from `aad_context`."""
    return _b64.encode(_seal(keyring, plaintext, purpose, context, chunks))


def seal_bytes(keyring: Keyring, plaintext: bytes, *, purpose: Purpose, context: bytes) -> bytes:
    """Seal `plaintext` as raw bytes (for store records, which need no base64)."""
    return _seal(keyring, plaintext, purpose, context, 1)


def _seal(
    keyring: Keyring, plaintext: bytes, purpose: Purpose, context: bytes, chunks: int
) -> bytes:
    key = keyring.primary
    return key.aead(purpose).seal(_head(key, purpose, chunks), plaintext, _LABEL, context)


def _seal_raw(
    key: Key,
    nonce: bytes,
    plaintext: bytes,
    purpose: Purpose,
    context: bytes,
    chunks: int,
) -> bytes:
    """Seal with a given nonce (test vectors and fuzzing; `seal` draws a fresh one)."""
    header = _head(key, purpose, chunks) + nonce
    return header + key.aead(purpose).encrypt(nonce, plaintext, _LABEL + header + context)


def _head(key: Key, purpose: Purpose, chunks: int) -> bytes:
    """The header up to the nonce: version, kind and chunk count, key id."""
    if not 1 <= chunks <= MAX_CHUNKS:
        raise ValueError(f"chunk count must be 1..{MAX_CHUNKS}")
    return _HEADS[purpose][chunks] + key.wire_id


class Header(NamedTuple):
    """The unauthenticated facts a token's header claims."""

    purpose: Purpose
    chunks: int


def read_header(first_chunk: str) -> Header:
    """Return the purpose and chunk count a token's header claims (unauthenticated).

    Both are authenticated later as part of the AAD.

    Raises:
        InvalidToken: when the first chunk does not start with a valid header.
    """
    try:
        header = _b64.decode(first_chunk[:HEADER_CHARS])
    except ValueError:
        raise InvalidToken("malformed") from None
    if len(header) != HEADER_BYTES or header[0] != VERSION:
        raise InvalidToken("malformed")
    kind, count = header[1] >> 4, header[1] & 0x0F
    if kind >= len(_PURPOSES) or not 1 <= count <= MAX_CHUNKS:
        raise InvalidToken("malformed")
    return Header(_PURPOSES[kind], count)


# The first 3 characters of every valid header -> what it claims: they encode the
# version, the kind and count byte, and the top 2 bits of the first key-id byte.
_PEEK: Final = {
    _b64.encode(bytes((VERSION, kind << 4 | count, top << 6)))[:3]: Header(purpose, count)
    for kind, purpose in enumerate(_PURPOSES)
    for count in range(1, MAX_CHUNKS + 1)
    for top in range(4)
}


def peek_header(first_chunk: str) -> Header | None:
    """Return what `read_header` would, from 3 characters, or None to ask `read_header`.

    A fast path for the request hot path: the version, kind and chunk count
    sit in the first 3 base64url characters. None whenever those do not start
    a valid header or the chunk is shorter than a header (`read_header` then
    raises); it does not check the other 37 header characters, which `unseal`
    checks with the rest of the token. Nothing here is authenticated.
    """
    if len(first_chunk) < HEADER_CHARS:
        return None
    return _PEEK.get(first_chunk[:3])


def unseal(keyring: Keyring, token: str, *, purpose: Purpose, context: bytes) -> Opened:
    """Authenticate and decrypt a token.

    Raises:
        InvalidToken: with reason ``malformed``, ``unknown_key`` or
            ``auth_failed``; nothing else escapes.
    """
    if type(token) is not str or len(token) > MAX_TOKEN_CHARS:
        raise InvalidToken("malformed")
    try:
        raw = _b64.decode(token)
    except ValueError:
        raise InvalidToken("malformed") from None
    return unseal_bytes(keyring, raw, purpose=purpose, context=context)


def unseal_bytes(keyring: Keyring, raw: bytes, *, purpose: Purpose, context: bytes) -> Opened:
    """Authenticate and decrypt a raw sealed value; same contract as `unseal`."""
    if (
        type(raw) is not bytes
        or len(raw) < OVERHEAD_BYTES
        or raw[0] != VERSION
        or raw[1] >> 4 != _KINDS[purpose]
        or not 1 <= raw[1] & 0x0F <= MAX_CHUNKS
    ):
        raise InvalidToken("malformed")
    key = keyring.get(raw[2:6])
    if key is None:
        raise InvalidToken("unknown_key")
    try:
        plaintext = key.aead(purpose).decrypt(
            raw[6:HEADER_BYTES], raw[HEADER_BYTES:], _LABEL + raw[:HEADER_BYTES] + context
        )
    except InvalidTag:
        raise InvalidToken("auth_failed") from None
    return Opened(plaintext, key, raw[1] & 0x0F)
