"""Fuzz target: the codec on authenticated data (`codec.decode`, the engine's plaintext steps).

AEAD makes random tokens useless for reaching the decoder, so this target
feeds plaintext straight to it: `codec.decode` (the strict CBOR decoder) and
the engine's steps after authentication (`_plaintext.unpack`, `Lifetime.admit`),
a test-only entry that reads the fixed metadata and enforces expiry.

Invariants:

* decoding and parsing let only `InvalidToken` escape (with a documented
  reason code); the engine's steps otherwise returns a `Session`;
* read only what you can write: whatever `codec.decode` accepts, `codec.encode`
  accepts too, and it reads back equal;
* write what you can read: a value `codec.encode` accepts decodes back to an
  equal value, including decoded values re-nested to any depth or given
  edge-case leaves (bignums, large Decimals, empty sets, odd datetimes), and
  a session holding it survives a full commit and reload through the engine;
* no hang (``-timeout=1``), no unbounded memory (``-rss_limit_mb=512``).

Structure: atheris cannot see inside cbor2's compiled core, so structure comes
from the seeds (valid encodings of Hypothesis-generated session values and
the RFC 8949 Appendix A examples) and from the structure-aware mutations
below. Byte 0 picks the mode: the payload raw, wrapped as a map value,
behind fuzzed session metadata for those steps, mutated structurally (array or
map wrapping, a changed length header, an inserted tag), or decoded and
re-encoded with an input-driven nesting and leaf.
"""

from __future__ import annotations

import datetime as dt
import decimal
import sys
import uuid
from typing import Any

from _fuzzlib import NOW, Bytes, make_engine, plain, reload, same

from cookiesess import Session, codec
from cookiesess._lifetime import Lifetime
from cookiesess._plaintext import META as _META
from cookiesess._plaintext import META_CONST as _META_CONST
from cookiesess._plaintext import unpack
from cookiesess.exceptions import REJECT_REASONS, CodecError, InvalidToken, SessionTooLarge

ENGINE = make_engine(idle_timeout=3600, max_total_bytes=40960)
ENGINE_NO_TIMEOUTS = make_engine(absolute_timeout=None)


WRAP_KEY = b"\xa1\x61v"  # {"v": <item>}

# Leaves that sit at the edges of the encoder's and decoder's limits.
LEAVES: tuple[Any, ...] = (
    0,
    2**64 - 1,
    2**64,
    -(2**64),
    -(2**64) - 1,
    2**1024 - 1,
    2**1024,
    decimal.Decimal("1.5"),
    decimal.Decimal(2**64) + decimal.Decimal("0.5"),
    decimal.Decimal("-1E+1000"),
    decimal.Decimal("1E+1001"),
    decimal.Decimal("NaN"),
    set(),
    {"a", b"b"},
    frozenset({"x"}),
    dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
    dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(seconds=30))),
    dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=-23, minutes=-59))),
    dt.datetime(2026, 1, 1),
    dt.date(9999, 12, 31),
    uuid.UUID(int=0),
    float("nan"),
    float("inf"),
    -0.0,
    "",
    "\ud800",
    b"",
    (),
    [],
    {},
    {"": None},
    {1: 2},
    # Appended, so the committed seeds' leaf indices keep their meaning.
    {0, -1, 2**64, 2**1024 - 1, 1.5, None, True},
    {uuid.UUID(int=3), dt.date(2026, 1, 1), decimal.Decimal("2.5")},
    {dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(minutes=-90)))},
    {2**1024},
    {(1, 2)},
    {"\udc00"},
    ["ok", {"\udfff": 1}],
)


def _rejected(exc: InvalidToken) -> None:
    """A rejection carries a documented reason code and no payload."""
    assert exc.reason in REJECT_REASONS
    assert not exc.args


def _decode(payload: bytes) -> dict[str, Any] | None:
    """Decode, and check that what decodes re-encodes (the decoder accepts only that)."""
    try:
        value = codec.decode(payload)
    except InvalidToken as exc:
        _rejected(exc)
        return None
    assert type(value) is dict
    try:
        encoded = codec.encode(value)
    except CodecError as exc:
        raise AssertionError(f"decoded, then refused by the encoder: {exc}") from None
    assert same(codec.decode(encoded), value)
    return value


def _parse(plaintext: bytes, engine: Any) -> None:
    """The engine's steps after authentication: unpack the metadata, admit the times, decode."""
    try:
        state, encoded = unpack(plaintext)
        Lifetime(engine.config).admit(state, NOW)
        session = Session._loaded(codec.decode(encoded), encoded, state)
    except InvalidToken as exc:
        _rejected(exc)
        return
    assert isinstance(session, Session)
    assert not session.new


def _meta(r: Bytes) -> bytes:
    c = _META_CONST
    times = [NOW + (r.u16() - 0x8000) * r.u8() for _ in range(3)]
    fields = [max(0, min(t, 2**32 - 1)) for t in times]
    if r.u8() & 1:
        fields[1] = 0  # no absolute deadline
    return _META.pack(
        c[0],
        c[1],
        fields[0],
        c[2],
        fields[1],
        c[3],
        fields[2],
        c[4],
        r.u16(),
        c[5],
        r.u16(),
        c[6],
        r.take(32).ljust(32, b"\0"),
        c[7],
    )


def _mutate(payload: bytes, r: Bytes) -> bytes:
    """Apply input-driven structural mutations to a (usually valid) encoding."""
    for _ in range(r.u8() % 4 + 1):
        kind = r.u8() % 6
        pos = r.u16() % (len(payload) + 1)
        if kind == 0:  # wrap in arrays
            payload = b"\x81" * (r.u8() % 20 + 1) + payload
        elif kind == 1:  # wrap in a map
            payload = b"\xa1\x61k" + payload
        elif kind == 2 and payload:  # change a length header's additional info
            i = pos % len(payload)
            byte = payload[i] & 0xE0 | r.u8() & 0x1F
            payload = payload[:i] + bytes((byte,)) + payload[i + 1 :]
        elif kind == 3:  # insert a tag
            tag = r.u8()
            head = bytes((0xC0 | tag,)) if tag < 24 else bytes((0xD8, tag))
            payload = payload[:pos] + head + payload[pos:]
        elif kind == 4:  # duplicate a slice
            end = pos + r.u8()
            payload = payload[:end] + payload[pos:end] + payload[end:]
        else:  # truncate
            payload = payload[:pos]
    return payload


def _nest(value: Any, r: Bytes) -> Any:
    for _ in range(r.u8() % 18):
        value = {"n": value} if r.u8() & 1 else [value]
    return value


def _roundtrip(value: dict[str, Any], r: Bytes) -> None:
    """Re-encode a decoded value with a nesting and leaf chosen by the input."""
    if r.u8() & 1:
        value = dict(value, leaf=LEAVES[r.u8() % len(LEAVES)])
    data = {"v": _nest(value, r)}
    try:
        encoded = codec.encode(data)
    except CodecError:
        return
    decoded = _decode(encoded)
    assert decoded is not None, "codec.encode wrote a value codec.decode refuses"
    assert same(data, decoded)
    engine = ENGINE if r.u8() & 1 else ENGINE_NO_TIMEOUTS
    session = engine.new_session(now=NOW)
    session.update(data)
    try:
        lines = engine.commit(session, {}, now=NOW)
    except SessionTooLarge:
        return
    loaded = reload(engine, lines, {})
    assert not loaded.new, "a committed session did not load back"
    assert same(data, plain(loaded))


def TestOneInput(data: bytes) -> None:
    """Decode or parse authenticated-looking plaintext and check the invariants."""
    r = Bytes(data)
    mode = r.u8() % 5
    if mode == 0:  # raw
        payload = r.rest()
        _decode(payload)
        _parse(payload, ENGINE)
    elif mode == 1:  # as the value of a one-key map
        _decode(WRAP_KEY + r.rest())
    elif mode == 2:  # behind fuzzed metadata, through the engine's parser
        meta = _meta(r)
        engine = ENGINE if r.u8() & 1 else ENGINE_NO_TIMEOUTS
        _parse(meta + r.rest(), engine)
    elif mode == 3:  # structure-aware mutation of a seed encoding
        params = Bytes(r.take(16))
        payload = _mutate(r.rest(), params)
        _decode(payload)
        _decode(WRAP_KEY + payload)
    else:  # decode, then re-encode re-nested: write what you can read
        params = Bytes(r.take(8))
        payload = r.rest()
        value = _decode(payload)
        if value is None:
            value = _decode(WRAP_KEY + payload)
        if value is not None:
            _roundtrip(value, params)


if __name__ == "__main__":
    import atheris

    atheris.instrument_all()
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
