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
raises `InvalidToken`, and nothing else escapes `unseal`. No I/O, no clock.
"""

from __future__ import annotations

import os
from typing import Final, NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from . import _b64
from .exceptions import InvalidToken
from .keys import Key, Keyring, Purpose, _Subkey

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
    "xaes_decrypt",
    "xaes_encrypt",
]

VERSION: Final = 1
HEADER_BYTES: Final = 30
HEADER_CHARS: Final = 40
TAG_BYTES: Final = 16
NONCE_BYTES: Final = 24
OVERHEAD_BYTES: Final = HEADER_BYTES + TAG_BYTES
MAX_CHUNKS: Final = 10
MAX_TOKEN_CHARS: Final = MAX_CHUNKS * 4096
_LABEL: Final = b"cookiesess\x00"
DERIVED_CACHE_SIZE: Final = 4096
"""Derived XAES keys kept per subkey (about 0.5 MB when full); see `keys._Subkey`."""
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


def _derive(subkey: _Subkey, prefix: bytes) -> AESGCM:
    # C2SP XAES-256-GCM: Kx = AES_K(M1 ^ K1) || AES_K(M2 ^ K1), one ECB call.
    n12 = int.from_bytes(prefix, "big")
    blocks = (subkey.mask ^ (n12 << 128 | n12)).to_bytes(32, "big")
    return AESGCM(subkey.ecb().update(blocks))


def _remember(subkey: _Subkey, prefix: bytes, aead: AESGCM) -> None:
    derived = subkey.derived
    if len(derived) >= DERIVED_CACHE_SIZE:
        derived.clear()  # atomic, unlike evicting one entry while other threads insert
    derived[prefix] = aead


def xaes_encrypt(subkey: _Subkey, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """XAES-256-GCM encryption with a 24-byte nonce; returns ciphertext || tag."""
    prefix = nonce[:12]
    aead = _derive(subkey, prefix)
    sealed = aead.encrypt(nonce[12:], plaintext, aad)
    _remember(subkey, prefix, aead)  # the browser sends this token back next request
    return sealed


def xaes_decrypt(subkey: _Subkey, nonce: bytes, data: bytes, aad: bytes) -> bytes:
    """XAES-256-GCM decryption; raises `cryptography.exceptions.InvalidTag`."""
    prefix = nonce[:12]
    aead = subkey.derived.get(prefix)
    if aead is not None:
        return aead.decrypt(nonce[12:], data, aad)
    aead = _derive(subkey, prefix)
    plaintext = aead.decrypt(nonce[12:], data, aad)
    _remember(subkey, prefix, aead)  # only once authenticated
    return plaintext


def sealed_chars(plaintext_len: int) -> int:
    """Return the length in characters of the token for a plaintext of this size."""
    n = HEADER_BYTES + plaintext_len + TAG_BYTES
    return (n * 4 + 2) // 3


def seal(
    keyring: Keyring,
    plaintext: bytes,
    *,
    purpose: Purpose,
    context: bytes,
    chunks: int = 1,
) -> str:
    """Seal `plaintext` under the primary key; `context` comes from `aad_context`."""
    return _b64.encode(
        _seal_raw(keyring.primary, os.urandom(NONCE_BYTES), plaintext, purpose, context, chunks)
    )


def seal_bytes(keyring: Keyring, plaintext: bytes, *, purpose: Purpose, context: bytes) -> bytes:
    """Seal `plaintext` as raw bytes (for store records, which need no base64)."""
    return _seal_raw(keyring.primary, os.urandom(NONCE_BYTES), plaintext, purpose, context, 1)


def _seal_raw(
    key: Key,
    nonce: bytes,
    plaintext: bytes,
    purpose: Purpose,
    context: bytes,
    chunks: int,
) -> bytes:
    if not 1 <= chunks <= MAX_CHUNKS:
        raise ValueError(f"chunk count must be 1..{MAX_CHUNKS}")
    header = bytes((VERSION, _KINDS[purpose] << 4 | chunks)) + key.wire_id + nonce
    return header + xaes_encrypt(key.aead(purpose), nonce, plaintext, _LABEL + header + context)


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


# Every header `peek_header` can return, by (kind, count): no tuple per call.
_HEADERS: Final = {
    (kind, count): Header(purpose, count)
    for kind, purpose in enumerate(_PURPOSES)
    for count in range(1, MAX_CHUNKS + 1)
}


def peek_header(first_chunk: str) -> Header | None:
    """Return what `read_header` would, from 3 characters, or None to ask `read_header`.

    A fast path for the request hot path: the version, kind and chunk count
    sit in the first 3 base64url characters. None whenever those do not start
    a valid header or the chunk is shorter than a header; it does not check
    the other 37 header characters, so a caller whose outcome depends on
    them (a chunked token, a store reference) still calls `read_header`.
    Nothing here is authenticated.
    """
    if len(first_chunk) < HEADER_CHARS or first_chunk[0] != "A":
        return None
    index = _b64._INDEX
    c1 = index.get(first_chunk[1])
    c2 = index.get(first_chunk[2])
    if c1 is None or c2 is None or c1 >> 4 != VERSION:
        return None
    # byte 0 = A(0) << 2 | c1 >> 4 (the version); byte 1 = (c1 & 15) << 4 | c2 >> 2.
    return _HEADERS.get((c1 & 0x0F, c2 >> 2))


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
        plaintext = xaes_decrypt(
            key.aead(purpose),
            raw[6:HEADER_BYTES],
            raw[HEADER_BYTES:],
            _LABEL + raw[:HEADER_BYTES] + context,
        )
    except InvalidTag:
        raise InvalidToken("auth_failed") from None
    return Opened(plaintext, key, raw[1] & 0x0F)
