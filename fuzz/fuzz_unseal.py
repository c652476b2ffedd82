"""Fuzz target: the envelope, `cookiesess.envelope.unseal` / `unseal_bytes` / `read_header`.

Invariant: on arbitrary tokens, and on mutations of real tokens (bit flips,
truncations, splices with other real tokens, inserted or replaced characters),
only `InvalidToken` escapes, carrying one of the documented reason codes and
no payload. A token opens only when its raw bytes are exactly those of a real
token sealed for the same purpose and AAD context, and then yields that
token's plaintext: no mutation is ever accepted. No hang (``-timeout=1``), no
unbounded memory (``-rss_limit_mb=512``).

Input layout: byte 0 picks the mode (raw text token, raw bytes, or a mutated
real token), byte 1 the purpose and context to open with; mutations read
their kind and positions from the bytes that follow.
"""

from __future__ import annotations

import sys

from _fuzzlib import KEYRING, RING_B, RING_FOREIGN, Bytes

from cookiesess import _b64
from cookiesess.envelope import (
    MAX_CHUNKS,
    _seal_raw,
    aad_context,
    read_header,
    unseal,
    unseal_bytes,
)
from cookiesess.exceptions import REJECT_REASONS, InvalidToken
from cookiesess.keys import Purpose

# The (purpose, context) pairs a token may be opened with.
CONTEXTS: tuple[tuple[Purpose, bytes], ...] = tuple(
    (purpose, aad_context(app_namespace=ns, purpose=purpose, name=name))
    for purpose in ("session", "ref", "record")
    for ns in ("", "app2")
    for name in ("session", "__Host-session")
)

_PLAINTEXTS = (b"", b"\xa0", b"x" * 100, bytes(range(256)) * 20)


def _real_tokens() -> dict[bytes, tuple[int, bytes]]:
    """Seal a fixed set of tokens: raw bytes -> (context index, plaintext)."""
    tokens: dict[bytes, tuple[int, bytes]] = {}
    counter = 0
    for ring in (KEYRING, RING_B, RING_FOREIGN):
        for ctx_index, (purpose, context) in enumerate(CONTEXTS):
            if ctx_index % 3 and ring is not KEYRING:
                continue
            for plaintext in _PLAINTEXTS:
                counter += 1
                chunks = counter % MAX_CHUNKS + 1
                nonce = counter.to_bytes(24, "big")
                raw = _seal_raw(ring.primary, nonce, plaintext, purpose, context, chunks)
                if ring is not RING_FOREIGN:
                    tokens[raw] = (ctx_index, plaintext)
                else:
                    FOREIGN.append(raw)
    return tokens


FOREIGN: list[bytes] = []
REAL = _real_tokens()
POOL: tuple[bytes, ...] = (*REAL, *FOREIGN)
_CHARS = b"ABCZaz09-_=+/.;, \x00\xff"


def _mutate(base: bytes, r: Bytes) -> bytes:
    """Apply one input-driven mutation to a raw token."""
    kind = r.u8() % 7
    size = len(base)
    pos = r.u16() % (size + 1)
    if kind == 0 and size:  # flip one bit
        bit = r.u8() % 8
        i = pos % size
        return base[:i] + bytes((base[i] ^ (1 << bit),)) + base[i + 1 :]
    if kind == 1:  # truncate
        return base[:pos]
    if kind == 2:  # splice with another real token
        other = POOL[r.u8() % len(POOL)]
        return base[:pos] + other[r.u16() % (len(other) + 1) :]
    if kind == 3:  # insert bytes
        return base[:pos] + r.take(r.u8() % 8 + 1) + base[pos:]
    if kind == 4:  # delete a range
        return base[:pos] + base[pos + r.u8() % 32 + 1 :]
    if kind == 5 and size:  # overwrite a header byte
        i = r.u8() % min(size, 30)
        return base[:i] + bytes((r.u8(),)) + base[i + 1 :]
    return base + r.take(r.u8() % 64)  # append


def _rejected(exc: InvalidToken) -> None:
    """A rejection carries a documented reason code and no payload."""
    assert exc.reason in REJECT_REASONS
    assert not exc.args


def _open(token: str, ctx_index: int) -> None:
    purpose, context = CONTEXTS[ctx_index]
    try:
        opened = unseal(KEYRING, token, purpose=purpose, context=context)
    except InvalidToken as exc:
        _rejected(exc)
        return
    raw = _b64.decode(token)
    assert REAL.get(raw) == (ctx_index, opened.plaintext)
    assert opened.chunks == raw[1] & 0x0F
    assert opened.key is KEYRING.get(raw[2:6])


def _open_bytes(raw: bytes, ctx_index: int) -> None:
    purpose, context = CONTEXTS[ctx_index]
    try:
        opened = unseal_bytes(KEYRING, raw, purpose=purpose, context=context)
    except InvalidToken as exc:
        _rejected(exc)
        return
    assert REAL.get(raw) == (ctx_index, opened.plaintext)


def _header(token: str) -> None:
    try:
        header = read_header(token)
    except InvalidToken as exc:
        _rejected(exc)
        return
    assert 1 <= header.chunks <= MAX_CHUNKS


def TestOneInput(data: bytes) -> None:
    """Open an arbitrary or mutated token and check that only real tokens open."""
    r = Bytes(data)
    mode = r.u8() % 4
    ctx_index = r.u8() % len(CONTEXTS)
    if mode == 0:  # arbitrary text
        token = r.rest().decode("latin-1")
        _header(token)
        _open(token, ctx_index)
        return
    if mode == 1:  # arbitrary raw bytes, and their base64url
        raw = r.rest()
        _open_bytes(raw, ctx_index)
        _open(_b64.encode(raw), ctx_index)
        return
    raw = POOL[r.u8() % len(POOL)]
    for _ in range(r.u8() % 4 + 1):
        raw = _mutate(raw, r)
    _open_bytes(raw, ctx_index)
    token = _b64.encode(raw)
    if mode == 3 and token:  # mutate the text too: a non-alphabet or padding char
        i = r.u16() % len(token)
        token = token[:i] + chr(_CHARS[r.u8() % len(_CHARS)]) + token[i + 1 :]
    _header(token)
    _open(token, ctx_index)


if __name__ == "__main__":
    import atheris

    atheris.instrument_all()
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
