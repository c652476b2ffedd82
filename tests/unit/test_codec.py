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
    [0, "s", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), decimal.Decimal("1.5"), {"x"}, uuid.uuid4()],
    ids=["int", "str", "datetime", "decimal", "set", "uuid"],
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
