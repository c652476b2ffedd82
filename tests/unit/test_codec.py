"""The strict CBOR codec: what it reads back, what it refuses, and its limits."""

from __future__ import annotations

import datetime as dt
import decimal
import fractions
import ipaddress
import re
import threading
import uuid
from typing import Any

import cbor2
import pytest

from cookiesess import CodecError, InvalidToken, codec

SUPPORTED: dict[str, Any] = {
    "none": None,
    "bool": True,
    "int": -(2**64),
    "bigint": 2**1023,
    "negbig": -(2**1023),
    "float": 1.5,
    "str": "héllo",
    "bytes": b"\x00\xff",
    "list": [1, "a", [2, [3]]],
    "dict": {"a": {"b": {"c": 1}}},
    "datetime": dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC),
    "offset_dt": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    "date": dt.date(2026, 11, 30),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "decimal": decimal.Decimal("-12.345"),
    "set": {"a", "b"},
    "bytes_set": {b"x"},
}


def test_supported_values_read_back_with_their_types() -> None:
    """Every supported type decodes to an equal value of the same type."""
    back = codec.decode(codec.encode(SUPPORTED))
    assert back == SUPPORTED
    for key, value in SUPPORTED.items():
        assert type(back[key]) is type(value), key


def test_tuples_and_frozensets_read_back_as_list_and_set() -> None:
    """Tuples become lists and frozensets sets, as documented."""
    back = codec.decode(codec.encode({"t": (1, 2), "f": frozenset({"x"})}))
    assert back == {"t": [1, 2], "f": {"x"}}


@pytest.mark.parametrize(
    ("value", "path", "fragment"),
    [
        ({"cart": [1, 2, 3, {"added": object()}]}, "cart[3].added", "unsupported type"),
        ({"a": 1.5j}, "a", "unsupported"),
        ({"a": fractions.Fraction(1, 3)}, "a", "unsupported"),
        ({"a": re.compile("x")}, "a", "unsupported"),
        ({"a": ipaddress.ip_address("127.0.0.1")}, "a", "unsupported"),
        ({"a": dt.datetime(2026, 1, 1)}, "a", "naive datetime"),
        ({"a": 2**1024}, "a", "1024 bits"),
        ({"a": {1: "x"}}, "a", "keys must be str"),
        ({"a": {(1,)}}, "a", "set items"),
        ({"a": decimal.Decimal("NaN")}, "a", "finite"),
        ({"a": decimal.Decimal("1E+5000")}, "a", "exponent"),
        ({"a": bytearray(b"x")}, "a", "unsupported"),
        ({"a": [{"b": [None, {"c": 1}, lambda: 1]}]}, "a[0].b[2]", "unsupported"),
    ],
)
def test_unsupported_values_name_their_path(value: Any, path: str, fragment: str) -> None:
    """A value that could not be read back raises CodecError naming where it is."""
    with pytest.raises(CodecError, match=fragment) as info:
        codec.encode(value)
    assert info.value.path == path
    assert str(info.value).startswith(path)


def test_non_str_top_level_key() -> None:
    """Top-level keys must be str too."""
    with pytest.raises(CodecError, match="keys must be str"):
        codec.encode({1: "x"})  # type: ignore[dict-item]


def _nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "leaf",
    [
        0,
        "s",
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        decimal.Decimal("1.5"),
        {"x"},
        uuid.uuid4(),
        set(),
        {uuid.UUID(int=1)},
        {2**70},
        {decimal.Decimal(2**70)},
    ],
    ids=[
        "int",
        "str",
        "datetime",
        "decimal",
        "set",
        "uuid",
        "empty set",
        "set of uuid",
        "set of bignum",
        "set of bignum Decimal",
    ],
)
def test_depth_limit_is_the_decoders(leaf: Any) -> None:
    """What the encoder accepts at the depth limit decodes; one level deeper is refused."""
    depth = 0
    while True:
        try:
            encoded = codec.encode({"k": _nested(depth + 1, leaf)})
        except CodecError:
            break
        depth += 1
        assert codec.decode(encoded)["k"] == _nested(depth, leaf)
    assert 8 <= depth <= codec.MAX_DEPTH
    raw = cbor2.dumps({"k": _nested(depth + 1, leaf)})
    with pytest.raises(InvalidToken):
        codec.decode(raw)


def test_deep_python_value_raises_in_a_small_thread_stack() -> None:
    """A depth-10^5 value committed in a 256 KiB-stack thread is a CodecError, not a crash."""
    value: list[Any] = []
    for _ in range(100_000):
        value = [value]
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    errors: list[BaseException] = []

    def run() -> None:
        for v in (value, cyclic, {"a": {"b": value}}):
            try:
                codec.encode({"deep": v})
            except CodecError as exc:
                errors.append(exc)

    old = threading.stack_size(256 * 1024)
    try:
        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
    finally:
        threading.stack_size(old)
    assert len(errors) == 3
    assert all("deeper than 16" in str(e) for e in errors)


class TestDecodeRefuses:
    """Hostile encodings: each is InvalidToken, quickly, without big allocations."""

    def test_deep_arrays(self) -> None:
        with pytest.raises(InvalidToken):
            codec.decode(b"\xa1\x61k" + b"\x81" * 100_000 + b"\x00")

    @pytest.mark.parametrize(
        "header",
        [b"\x5b", b"\x7b", b"\x9b", b"\xbb"],
        ids=["bytes", "text", "array", "map"],
    )
    def test_declared_2_63_lengths(self, header: bytes) -> None:
        with pytest.raises(InvalidToken):
            codec.decode(b"\xa1\x61k" + header + (2**63).to_bytes(8, "big") + b"abc")

    def test_trailing_bytes(self) -> None:
        with pytest.raises(InvalidToken):
            codec.decode(codec.encode({"a": 1}) + b"\x00")

    def test_duplicate_keys(self) -> None:
        with pytest.raises(InvalidToken):
            codec.decode(bytes.fromhex("a2616101616102"))

    def test_indefinite_lengths(self) -> None:
        for raw in ("bf616101ff", "a1616b9f01ff", "a1616b7f6161ff", "a1616b5f4161ff"):
            with pytest.raises(InvalidToken):
                codec.decode(bytes.fromhex(raw))

    def test_non_map_top_level(self) -> None:
        for raw in ("01", "80", "6161", "f6"):
            with pytest.raises(InvalidToken):
                codec.decode(bytes.fromhex(raw))

    def test_non_string_map_keys(self) -> None:
        with pytest.raises(InvalidToken):
            codec.decode(bytes.fromhex("a1816101"))  # a list as key

    def test_shared_reference_cycle(self) -> None:
        with pytest.raises(InvalidToken):
            codec.decode(bytes.fromhex("a1616bd81c81d81d00"))

    def test_decimal_exponent_bomb(self) -> None:
        with pytest.raises(InvalidToken):
            codec.decode(bytes.fromhex("a1616bc4821b00038d7ea4c6800001"))

    def test_oversized_bignum(self) -> None:
        with pytest.raises(InvalidToken):
            codec.decode(b"\xa1\x61k\xc2\x59\x01\x00" + b"\x01" * 256)

    def test_empty_and_garbage(self) -> None:
        for raw in (b"", b"\xff", b"\x1f", b"\xa1"):
            with pytest.raises(InvalidToken):
                codec.decode(raw)


ALLOWED_TAGS = {0, 2, 3, 4, 37, 258, 1004}


def _tagged(tag: int, payload: bytes) -> bytes:
    if tag < 24:
        head = bytes([0xC0 | tag])
    elif tag < 256:
        head = bytes([0xD8, tag])
    elif tag < 65536:
        head = b"\xd9" + tag.to_bytes(2, "big")
    elif tag < 2**32:
        head = b"\xda" + tag.to_bytes(4, "big")
    else:
        head = b"\xdb" + tag.to_bytes(8, "big")
    return b"\xa1\x61k" + head + payload


@pytest.mark.slow
def test_every_16_bit_tag_is_refused_except_the_allow_list() -> None:
    """All 65,536 16-bit tags (plus large ones), each with several payload shapes, are refused."""
    payloads = [b"\x00", b"\x61a", b"\x41a", b"\x80", b"\xa0", b"\x82\x00\x00"]
    accepted = set()
    for tag in [*range(65536), 2**32 - 1, 2**32, 2**63, 2**64 - 1]:
        for payload in payloads:
            try:
                codec.decode(_tagged(tag, payload))
            except InvalidToken:
                continue
            accepted.add(tag)
    assert accepted <= ALLOWED_TAGS


def test_decoding_is_thread_safe_and_recovers_after_errors() -> None:
    """Threads decoding at once (with failures mixed in) each get their own message back."""
    from concurrent.futures import ThreadPoolExecutor

    messages = [codec.encode({"n": i, "pad": "x" * (i % 97)}) for i in range(400)]

    def work(i: int) -> bool:
        if i % 7 == 0:
            with pytest.raises(InvalidToken):
                codec.decode(b"\xa1\x61k" + b"\x81" * 40)
        return codec.decode(messages[i]) == {"n": i, "pad": "x" * (i % 97)}

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(work, range(400)))


# -- the decoder accepts exactly what the encoder writes (issue 11, item 7) --

KEY = b"\xa1\x61k"  # {"k": <item>}


def _text(s: str) -> bytes:
    return cbor2.dumps(s)


NOT_WRITTEN_BY_ENCODE = {
    "bytes key at the top": bytes.fromhex("a1416101"),
    "bytes key nested": KEY + bytes.fromhex("a1416101"),
    "bytes key in a list": KEY + bytes.fromhex("81a1416101"),
    "bytes key beside str keys": KEY + bytes.fromhex("a2616101416202"),
    "undefined": KEY + b"\xf7",
    "undefined in a list": KEY + b"\x82\x01\xf7",
    "simple value 0": KEY + b"\xe0",
    "simple value 19": KEY + b"\xf3",
    "simple value 99": KEY + b"\xf8\x63",
    "simple value in a map": KEY + b"\xa1\x61a\xf8\xff",
    "datetime with a seconds offset": KEY + b"\xc0" + _text("2026-01-01T00:00:00+00:00:30"),
    "datetime with a microseconds offset": KEY + b"\xc0" + _text("2026-01-01T00:00:00+01:00:00.5"),
    "datetime, naive": KEY + b"\xc0" + _text("2026-01-01T00:00:00"),
    "datetime from bytes": KEY + b"\xc0" + cbor2.dumps(b"2026-01-01T00:00:00Z"),
    "date from bytes": KEY + b"\xd9\x03\xec" + cbor2.dumps(b"2026-01-01"),
    "negative bignum past 1024 bits": KEY + b"\xc3\x58\x80" + b"\xff" * 128,
    "bignum past 1024 bits": KEY + b"\xc2\x58\x81" + b"\x01" * 129,
    "Decimal with 301 digits": KEY + b"\xc4\x82\x00" + cbor2.dumps(10**300),
    "Decimal with 309 digits": KEY + b"\xc4\x82\x00" + cbor2.dumps(10**308),
    "UUID from 15 bytes": KEY + b"\xd8\x25" + cbor2.dumps(b"\x00" * 15),
    "UUID from an array": KEY + b"\xd8\x25" + cbor2.dumps(list(range(16))),
    "set holding undefined": KEY + b"\xd9\x01\x02\x81\xf7",
    "set holding a simple value": KEY + b"\xd9\x01\x02\x81\xf0",
    "set holding a list": KEY + b"\xd9\x01\x02\x81\x80",
    "set holding a set": KEY + b"\xd9\x01\x02\x81\xd9\x01\x02\x80",
    "set holding a map": KEY + b"\xd9\x01\x02\x81\xa0",
    "set with a duplicate": KEY + b"\xd9\x01\x02\x82\x61a\x61a",
    "set with equal int and float": KEY + b"\xd9\x01\x02\x82\x01\xf9\x3c\x00",
    "set from a map": KEY + b"\xd9\x01\x02\xa1\x61a\x01",
    "text, invalid UTF-8": KEY + b"\x62\xc3\x28",
    "text, an encoded surrogate": KEY + b"\x63\xed\xa0\x80",
    "text, truncated UTF-8": KEY + b"\x62\xe2\x82",
}


@pytest.mark.parametrize("raw", NOT_WRITTEN_BY_ENCODE.values(), ids=NOT_WRITTEN_BY_ENCODE.keys())
def test_decoder_refuses_what_the_encoder_never_writes(raw: bytes) -> None:
    """Anything `encode` would refuse is malformed on decode: it never loads, then fails commits."""
    with pytest.raises(InvalidToken) as info:
        codec.decode(raw)
    assert info.value.reason == "malformed"


WRITTEN_BY_ENCODE = {
    "every scalar": {"k": [None, True, 0, -1, 2**64 - 1, -(2**64), 1.5, "é", b"\x00"]},
    "bignums at 1024 bits": {"k": [2**1024 - 1, -(2**1024) + 1]},
    "Decimal with 300 digits": {"k": decimal.Decimal(10**299)},
    "Decimal at the exponent bounds": {
        "k": [decimal.Decimal("1E+1000"), decimal.Decimal("-1E-1000")]
    },
    "datetime offsets": {
        "k": [
            dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=-23, minutes=-59))),
            dt.datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=dt.timezone(dt.timedelta(minutes=1))),
        ]
    },
    "empty containers": {"k": [[], {}, set()]},
}


@pytest.mark.parametrize("data", WRITTEN_BY_ENCODE.values(), ids=WRITTEN_BY_ENCODE.keys())
def test_what_the_encoder_writes_at_the_edges_decodes(data: dict[str, Any]) -> None:
    """The decoder's bounds are the encoder's: its edge values read back equal."""
    assert codec.decode(codec.encode(data)) == data


def test_a_loaded_session_never_fails_every_commit() -> None:
    """A session whose data could not be re-encoded is refused at load, with a reason.

    The bytes key is smuggled in as an untouched value (which commit copies
    without checking), as data written by another codec would arrive.
    """
    from cookiesess import SessionEngine
    from tests.helpers import NOW, SECRET_A, Browser, ring_of

    reasons: list[str] = []
    engine = SessionEngine(
        ring_of(("a", SECRET_A, "primary")), clock=lambda: NOW, on_reject=reasons.append
    )
    browser = Browser()
    session = engine.load({})
    session["n"] = 1
    browser.apply(engine.commit(session, {}))
    session = engine.load(browser.cookies)
    dict.__setitem__(session, "odd", {b"bytes key": 1})
    session["n"] = 2
    browser.apply(engine.commit(session, browser.cookies))
    assert reasons == []
    session = engine.load(browser.cookies)
    assert session.new
    assert dict(session) == {}
    assert reasons == ["malformed"]


# -- sets of any hashable supported scalar (issue 11, item 8) -----------------

SET_MEMBERS: dict[str, Any] = {
    "int": {0, 1, -1, 2**64, -(2**64) - 1, 2**1023},
    "str": {"admin", "editor", ""},
    "bytes": {b"", b"\x00\xff"},
    "float": {0.5, -2.25, float("inf")},
    "bool": {True, False},
    "none": {None},
    "uuid": {uuid.UUID(int=1), uuid.UUID("12345678-1234-5678-1234-567812345678")},
    "date": {dt.date(2026, 1, 1), dt.date(1, 1, 1)},
    "datetime": {
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
    },
    "decimal": {decimal.Decimal("1.25"), decimal.Decimal("-1E+100")},
    "mixed": {1, "1", b"1", 2.5, None, uuid.UUID(int=7), dt.date(2026, 2, 3)},
}


@pytest.mark.parametrize("members", SET_MEMBERS.values(), ids=SET_MEMBERS.keys())
def test_sets_of_every_hashable_scalar_read_back_equal(members: set[Any]) -> None:
    """A set (or frozenset) of supported scalars reads back as an equal set, types kept."""
    for value in (members, frozenset(members)):
        back = codec.decode(codec.encode({"s": value, "nested": [{"s": value}]}))
        assert back == {"s": set(members), "nested": [{"s": set(members)}]}
        assert type(back["s"]) is set
        assert sorted(map(repr, back["s"])) == sorted(map(repr, members))


@pytest.mark.parametrize(
    ("value", "path", "fragment"),
    [
        ({"roles": {(1, 2)}}, "roles", "set items"),
        ({"roles": {frozenset({1})}}, "roles", "set items"),
        ({"a": [{"seen": {object()}}]}, "a[0].seen", "set items"),
        ({"seen": {2**1024}}, "seen", "1024 bits"),
        ({"when": {dt.datetime(2026, 1, 1)}}, "when", "naive datetime"),
        ({"d": {decimal.Decimal("NaN")}}, "d", "finite"),
        ({"d": {decimal.Decimal("1E+5000")}}, "d", "exponent"),
    ],
)
def test_unsupported_set_members_name_the_path(value: Any, path: str, fragment: str) -> None:
    """A set member that is unhashable-on-read or unsupported raises, naming the set's path."""
    with pytest.raises(CodecError, match=fragment) as info:
        codec.encode(value)
    assert info.value.path == path


# -- lone surrogates -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"cart": [{}, {}, {}, {"name": "\ud800"}]}, "cart[3].name"),
        ({"a": "x\udfff"}, "a"),
        ({"s": {"ok", "\udc80"}}, "s"),
        ({"a": {"b": ["ok", "\ud83d"]}}, "a.b[1]"),
        ({"a": {"\ud800": 1}}, "a.\\ud800"),
        ({"\ud800": 1}, "\\ud800"),
    ],
)
def test_lone_surrogates_raise_codec_error_naming_the_path(value: Any, path: str) -> None:
    """A str that cannot be UTF-8 encoded is a CodecError with a printable path."""
    with pytest.raises(CodecError, match="surrogate") as info:
        codec.encode(value)
    assert info.value.path == path
    str(info.value).encode("utf-8")  # the message itself is printable


def test_lone_surrogate_in_a_checked_key_of_a_loaded_session() -> None:
    """Only the changed keys are checked, and the path still names the bad one."""
    data = codec.decode(codec.encode({"a": 1, "b": ["x"]}))
    data["b"].append("\ud800")
    with pytest.raises(CodecError, match="surrogate") as info:
        codec.encode(data, check=["b"])
    assert info.value.path == "b[1]"


def test_refusals_hold_on_repeat_and_after_accepting_similar_data() -> None:
    """Data checked once is remembered only when accepted: refusals repeat."""
    good = codec.encode({"k": {"a": 1}})
    bad = KEY + bytes.fromhex("a1416101")  # {"k": {b"a": 1}}
    for _ in range(3):
        assert codec.decode(good) == {"k": {"a": 1}}
        with pytest.raises(InvalidToken):
            codec.decode(bad)


def test_data_encoded_with_values_unchecked_is_walked_on_decode() -> None:
    """Only data `encode` checked whole skips the walk: a value the session never handed
    out is not checked at commit, and one put in around the mapping API is refused."""
    smuggled = {"n": 2, "odd": {b"bytes key": 1}}
    with pytest.raises(InvalidToken):
        codec.decode(codec.encode(smuggled, check=["n"]))
    with pytest.raises(CodecError):
        codec.encode(smuggled)


def test_the_memo_of_checked_data_is_bounded() -> None:
    """However many distinct sessions a process reads, the memo stays bounded."""
    for i in range(codec._WRITABLE_SEEN_MAX + 100):
        codec.decode(b"\xa1\x61n" + cbor2.dumps(i))
    assert 0 < len(codec._WRITABLE_SEEN) <= codec._WRITABLE_SEEN_MAX
