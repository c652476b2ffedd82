"""Round-trip properties over generated session values."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import struct
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cookiesess import InvalidToken, SessionEngine, SessionTooLarge, codec
from tests.helpers import NOW, SECRET_A, Browser, ring_of

keys = st.text(max_size=12)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**1024) + 1, max_value=2**1024 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.binary(max_size=40),
    st.datetimes(timezones=st.just(dt.UTC)),
    st.dates(),
    st.uuids(),
    st.decimals(
        allow_nan=False, allow_infinity=False, places=4, max_value=10**20, min_value=-(10**20)
    ),
    st.sets(st.text(max_size=8), max_size=4),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=5)
    ),
    max_leaves=25,
)
session_data = st.dictionaries(keys, values, max_size=8)


def same_types(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return all(same_types(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return all(same_types(x, y) for x, y in zip(a, b, strict=True))
    return True


@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow])
@given(session_data)
def test_codec_roundtrip_preserves_values_and_types(data: dict[str, Any]) -> None:
    """decode(encode(v)) == v, with every type preserved."""
    back = codec.decode(codec.encode(data))
    assert back == data
    assert same_types(back, data)


@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow])
@given(session_data)
def test_the_walk_decode_skips_for_checked_data_passes_it(data: dict[str, Any]) -> None:
    """Data `encode` checked whole is not walked again on decode (SECURITY.md): the
    walk passes anything it writes."""
    encoded = codec.encode(data)
    assert hash(encoded) in codec._WRITABLE_SEEN
    assert codec._writable(codec.decode(encoded))


ENGINE = SessionEngine(ring_of(("a", SECRET_A, "primary")), clock=lambda: NOW)
CHUNKING = SessionEngine(
    ring_of(("a", SECRET_A, "primary")), clock=lambda: NOW, max_total_bytes=40_000
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(session_data, st.integers(min_value=0, max_value=25_000))
def test_engine_roundtrip_across_sizes(data: dict[str, Any], padding: int) -> None:
    """load(commit(s)) == s from empty to past the budget; within limits or SessionTooLarge."""
    for engine in (ENGINE, CHUNKING):
        session = engine.load({})
        session.update(data)
        session["pad"] = "p" * padding
        try:
            lines = engine.commit(session, {})
        except SessionTooLarge:
            assert engine is ENGINE
            continue
        assert all(len(line) <= 4096 for line in lines)
        browser = Browser()
        browser.apply(lines)
        loaded = engine.load(browser.cookies)
        assert loaded == {**data, "pad": "p" * padding}
        assert loaded.id == session.id


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_decimals_either_roundtrip_or_refuse(value: decimal.Decimal) -> None:
    """A Decimal is written only if it reads back equal."""
    try:
        encoded = codec.encode({"d": value})
    except Exception:
        return
    assert codec.decode(encoded)["d"] == value


def test_uuid_and_datetime_identity() -> None:
    """Spot check of exact equality for tagged values."""
    u = uuid.uuid4()
    t = dt.datetime.now(dt.UTC)
    assert codec.decode(codec.encode({"u": u, "t": t})) == {"u": u, "t": t}


# -- the decoder accepts exactly what the encoder writes ----------------------
#
# Arbitrary CBOR, built byte by byte so it can hold what cbor2.dumps never
# writes: undefined, simple values, bytes keys, any tag over any payload,
# bignums and Decimals past the bounds, datetimes with odd offsets.


def _head(major: int, arg: int) -> bytes:
    if arg < 24:
        return bytes([major << 5 | arg])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if arg < 1 << (8 * size):
            return bytes([major << 5 | info]) + arg.to_bytes(size, "big")
    raise AssertionError(arg)


def _text_item(s: str) -> bytes:
    raw = s.encode("utf-8", "surrogatepass")  # lone surrogates become invalid UTF-8
    return _head(3, len(raw)) + raw


def _array(items: list[bytes]) -> bytes:
    return _head(4, len(items)) + b"".join(items)


def _map(pairs: list[tuple[bytes, bytes]]) -> bytes:
    return _head(5, len(pairs)) + b"".join(k + v for k, v in pairs)


def _tag(number: int, item: bytes) -> bytes:
    return _head(6, number) + item


def _int_item(n: int) -> bytes:
    return _head(0, n) if n >= 0 else _head(1, -1 - n)


def _bignum(tag: int, magnitude: bytes) -> bytes:
    return _tag(tag, _head(2, len(magnitude)) + magnitude)


def _short(name: str, strategy: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """The same strategy under a short repr (Hypothesis warns about long ones)."""

    def draw(draw: st.DrawFn) -> bytes:
        return draw(strategy)

    draw.__name__ = draw.__qualname__ = name
    return st.composite(draw)()


offsets = st.one_of(
    st.sampled_from(["Z", "+00:00", "-23:59", "+05:30", "+00:00:30", "+01:00:00.5", ""]),
    st.builds(
        lambda sign, h, m, s: f"{sign}{h:02}:{m:02}" + (f":{s:02}" if s else ""),
        st.sampled_from("+-"),
        st.integers(0, 24),
        st.integers(0, 59),
        st.integers(0, 59),
    ),
)
datetime_texts = st.builds(
    lambda d, frac, off: d.isoformat() + frac + off,
    st.datetimes(),
    st.sampled_from(["", ".5", ".123456", ".1234567"]),
    offsets,
)
plain_items = _short(
    "plain_items",
    st.one_of(
        st.integers(-(2**64), 2**64 - 1).map(_int_item),
        st.binary(max_size=20).map(lambda b: _head(2, len(b)) + b),
        st.text(max_size=12).map(_text_item),
        st.sampled_from([b"\xf4", b"\xf5", b"\xf6"]),  # false true null
        st.floats(width=16).map(lambda f: b"\xf9" + struct.pack(">e", f)),
        st.floats(width=32).map(lambda f: b"\xfa" + struct.pack(">f", f)),
        st.floats().map(lambda f: b"\xfb" + struct.pack(">d", f)),
    ),
)

hostile_items = _short(
    "hostile_items",
    st.one_of(
        st.just(b"\xf7"),  # undefined
        st.integers(0, 19).map(lambda n: bytes([0xE0 | n])),  # simple values
        st.integers(32, 255).map(lambda n: b"\xf8" + bytes([n])),
        st.binary(max_size=4).map(lambda b: _head(3, len(b)) + b),  # text, maybe not UTF-8
        st.text(st.characters(exclude_categories=()), max_size=4).map(_text_item),  # surrogates
        st.tuples(  # any tag over any payload
            st.sampled_from([0, 1, 2, 3, 4, 5, 21, 24, 25, 28, 29, 30, 35, 36, 37, 100, 256, 258])
            | st.integers(0, 2**64 - 1),
            plain_items,
        ).map(lambda t: _tag(*t)),
    ),
)

edge_tags = _short(
    "edge_tags",
    st.one_of(  # the allowed tags, over payloads within and past the bounds
        datetime_texts.map(lambda s: _tag(0, _text_item(s))),
        st.dates().map(lambda d: _tag(1004, _text_item(d.isoformat()))),
        st.tuples(st.sampled_from([2, 3]), st.binary(max_size=130)).map(lambda t: _bignum(*t)),
        st.tuples(st.integers(-1100, 1100), st.integers(-(2**64) + 1, 2**64 - 1)).map(
            lambda t: _tag(4, _array([_int_item(t[0]), _int_item(t[1])]))
        ),
        st.tuples(st.sampled_from([2, 3]), st.binary(min_size=8, max_size=140)).map(
            lambda t: _tag(4, _array([b"\x00", _bignum(*t)]))  # up to 337 digits
        ),
        st.uuids().map(lambda u: _tag(37, _head(2, 16) + u.bytes)),
        st.lists(st.one_of(plain_items, hostile_items), max_size=4).map(
            lambda items: _tag(258, _array(items))
        ),
    ),
)

text_keys = st.text(max_size=6).map(_text_item)


def _maps(keys: st.SearchStrategy[bytes], values: st.SearchStrategy[bytes]) -> Any:
    pairs = st.lists(st.tuples(keys, values), max_size=4, unique_by=lambda kv: kv[0])
    return pairs.map(_map)


def _sessions(
    keys: st.SearchStrategy[bytes], leaves: st.SearchStrategy[bytes]
) -> st.SearchStrategy[bytes]:
    items = st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4).map(_array),
            _maps(keys, children),
            st.lists(children, max_size=3).map(lambda items: _tag(258, _array(items))),
        ),
        max_leaves=10,
    )
    return _maps(keys, items)


# Two thirds of the sessions hold only text keys and plain or bounded items
# (many decode); the rest anything at all (most are refused).
_clean_sessions = _sessions(text_keys, st.one_of(plain_items, plain_items, plain_items, edge_tags))
_any_sessions = st.one_of(
    _clean_sessions,
    _clean_sessions,
    _sessions(
        st.one_of(text_keys, text_keys, plain_items),
        st.one_of(plain_items, edge_tags, hostile_items),
    ),
)


@st.composite
def cbor_sessions(draw: st.DrawFn) -> bytes:
    """A CBOR map of anything (a composite keeps the repr in reports short)."""
    return draw(_any_sessions)


def same(a: Any, b: Any) -> bool:
    """Deep equality as the codec reads values back (NaN equal to NaN, types kept)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, set):  # members are scalars: their reprs say value and type (and NaN)
        return sorted(map(repr, a)) == sorted(map(repr, b))
    return bool(a == b)


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(cbor_sessions())
def test_whatever_decodes_re_encodes(raw: bytes) -> None:
    """decode(x) succeeds => encode(decode(x)) succeeds and reads back the same."""
    try:
        value = codec.decode(raw)
    except InvalidToken as exc:
        assert exc.reason == "malformed"
        return
    again = codec.decode(codec.encode(value))
    assert same(again, value)


hashable_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**1024) + 1, max_value=2**1024 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=10),
    st.binary(max_size=10),
    st.uuids(),
    st.dates(),
    st.datetimes(
        timezones=st.one_of(
            st.just(dt.UTC),
            st.integers(-(24 * 60) + 1, 24 * 60 - 1).map(
                lambda m: dt.timezone(dt.timedelta(minutes=m))
            ),
        )
    ),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sets(hashable_scalars, max_size=8), st.booleans())
def test_sets_of_hashable_scalars_roundtrip(members: set[Any], frozen: bool) -> None:
    """A set or frozenset of any supported scalars reads back as an equal set, types kept."""
    value = frozenset(members) if frozen else members
    back = codec.decode(codec.encode({"s": value}))["s"]
    assert type(back) is set
    assert back == members
    for item in members:
        assert any(type(x) is type(item) and x == item for x in back)
