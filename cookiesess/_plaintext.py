"""The plaintext layout: session metadata <-> `SessionState` fields, then the data.

The plaintext is one canonical-layout CBOR map with fixed-width fields, so the
metadata is read with one struct call after authentication and only the user
data goes through cbor2::

    {"v": 1, "i": issued, "e": deadline, "a": last activity, "g": generation,
     "c": cookie max-age code, "s": session id (32 bytes), "d": {data}}

The max-age code is 0 for the configured ``max_age``, 1 for a browser-session
cookie, and ``seconds + 2`` for a per-session value.
"""

from __future__ import annotations

import struct
from typing import Final

from .cookies import MAX_AGE_CAP
from .exceptions import InvalidToken
from .session import UNSET, SessionState

__all__ = [
    "EMPTY_DATA",
    "META",
    "META_BYTES",
    "META_CONST",
    "Meta",
    "meta_of",
    "pack",
    "pack_meta",
    "read_meta",
    "state_of",
    "unpack",
]

META: Final = struct.Struct(">5s3sI3sI3sI3sQ3sI4s32s2s")
META_CONST: Final = (
    b"\xa8\x61v\x18\x01",
    b"\x61i\x1a",
    b"\x61e\x1a",
    b"\x61a\x1a",
    b"\x61g\x1b",
    b"\x61c\x1a",
    b"\x61s\x58\x20",
    b"\x61d",
)
META_BYTES: Final = META.size
EMPTY_DATA: Final = b"\xa0"
"""The data of a store reference: an empty map."""
_MAX_U32: Final = 2**32 - 1
_C_UNSET: Final = 0
_C_BROWSER: Final = 1


def pack(state: SessionState) -> bytes:
    """Return the metadata bytes for `state` (the data's CBOR follows them)."""
    return pack_meta(meta_of(state))


def meta_of(state: SessionState) -> Meta:
    """Return the metadata fields `state` seals to (what `read_meta` reads back)."""
    max_age = state.cookie_max_age
    code = (
        _C_UNSET
        if max_age is UNSET
        else _C_BROWSER
        if max_age is None
        else min(max_age, MAX_AGE_CAP) + 2
    )
    issued, deadline, last = state.issued, state.deadline, state.last
    if issued > _MAX_U32 or deadline > _MAX_U32 or last > _MAX_U32:  # past 2106: clamp
        issued, deadline, last = (min(t, _MAX_U32) for t in (issued, deadline, last))
    return (issued, deadline, last, state.generation, code, state.sid)


def pack_meta(meta: Meta) -> bytes:
    """Return the metadata bytes holding `meta`."""
    issued, deadline, last, generation, code, sid = meta
    c = META_CONST
    return META.pack(
        c[0], c[1], issued, c[2], deadline, c[3], last,
        c[4], generation, c[5], code, c[6], sid, c[7],
    )  # fmt: skip


def unpack(plaintext: bytes) -> tuple[SessionState, bytes]:
    """Return the state the metadata holds and the data's CBOR bytes.

    Raises:
        InvalidToken: ``malformed``, when the layout is not ours.
    """
    return state_of(read_meta(plaintext)), plaintext[META_BYTES:]


Meta = tuple[int, int, int, int, int, bytes]
"""What the metadata holds: issued, deadline, last, generation, max-age code, id."""


def read_meta(plaintext: bytes) -> Meta:
    """Return the metadata fields of `plaintext`, checking the layout.

    Raises:
        InvalidToken: ``malformed``, when the layout is not ours.
    """
    if len(plaintext) < META_BYTES:
        raise InvalidToken("malformed")
    c0, c1, issued, c2, deadline, c3, last, c4, generation, c5, code, c6, sid, c7 = (
        META.unpack_from(plaintext)
    )
    if (c0, c1, c2, c3, c4, c5, c6, c7) != META_CONST:
        raise InvalidToken("malformed")
    return issued, deadline, last, generation, code, sid


def state_of(meta: Meta) -> SessionState:
    """A fresh `SessionState` holding `meta` (one per request: the state is mutable)."""
    issued, deadline, last, generation, code, sid = meta
    state = SessionState(sid)
    state.issued = issued
    state.deadline = deadline
    state.last = last
    state.generation = generation
    if code != _C_UNSET:
        state.cookie_max_age = None if code == _C_BROWSER else code - 2
    return state
