"""Regression cases for every fuzzing finding (fuzz/README.md lists them).

Each finding also keeps its crashing input in the seed corpus
(``fuzz/corpus/<target>/crash-*``), replayed by tests/test_fuzz_corpus.py.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import cbor2
import pytest

from cookiesess import CodecError, InvalidToken, SessionEngine, codec
from tests.helpers import NOW, SECRET_A, Browser, ring_of

BIG_MANTISSA = decimal.Decimal(2**64) + decimal.Decimal("0.5")


def nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


# Finding 1 (fuzz_codec, write-what-you-read): values whose CBOR encoding is one
# level deeper than the value itself were accepted by the encoder at the depth
# limit, then refused by the decoder: the session was written, and silently
# lost on the next request.
DEEPER_THAN_THEY_LOOK = [
    pytest.param(2**64, id="bignum"),
    pytest.param(-(2**64) - 1, id="negative-bignum"),
    pytest.param(set(), id="empty-set"),
    pytest.param(frozenset(), id="empty-frozenset"),
    pytest.param(BIG_MANTISSA, id="decimal-with-bignum-mantissa"),
    pytest.param(-BIG_MANTISSA, id="negative-decimal-with-bignum-mantissa"),
]


@pytest.mark.parametrize("leaf", DEEPER_THAN_THEY_LOOK)
@pytest.mark.parametrize("depth", range(10, 18))
def test_encoder_refuses_what_the_decoder_would_refuse(leaf: Any, depth: int) -> None:
    """At every depth, a value the encoder writes decodes back equal."""
    data = {"k": nested(depth, leaf)}

    try:
        encoded = codec.encode(data)
    except CodecError as exc:
        assert "nested deeper" in str(exc)
        with pytest.raises(InvalidToken):
            codec.decode(cbor2.dumps(data))
        return

    assert codec.decode(encoded) == data


@pytest.mark.parametrize("leaf", DEEPER_THAN_THEY_LOOK)
def test_the_limit_is_exact(leaf: Any) -> None:
    """One level shallower than the refused depth still encodes and reads back."""
    depth = next(d for d in range(20) if _refused({"k": nested(d, leaf)}))

    assert codec.decode(codec.encode({"k": nested(depth - 1, leaf)})) == {
        "k": nested(depth - 1, leaf)
    }


def _refused(data: dict[str, Any]) -> bool:
    try:
        codec.encode(data)
    except CodecError:
        return True
    return False


def test_native_range_ints_still_reach_the_full_depth() -> None:
    """Ints CBOR writes without a tag keep the plain depth limit (no over-refusal)."""
    for leaf in (2**64 - 1, -(2**64)):
        data = {"k": nested(codec.MAX_DEPTH - 1, leaf)}

        assert codec.decode(codec.encode(data)) == data


# Finding 2 (fuzz_codec): a datetime whose UTC offset has seconds was written by
# cbor2 as a string it cannot read back ('...Z:30' for offsets under a minute;
# '+01:00:01', not RFC 3339, otherwise). Such offsets are now refused.
@pytest.mark.parametrize(
    "offset",
    [dt.timedelta(seconds=30), dt.timedelta(microseconds=1), dt.timedelta(hours=-1, seconds=-1)],
)
def test_datetime_offsets_with_seconds_are_refused(offset: dt.timedelta) -> None:
    """A sub-minute offset is a CodecError naming the path, not an unreadable session."""
    value = dt.datetime(2026, 1, 1, tzinfo=dt.timezone(offset))

    with pytest.raises(CodecError, match=r"^at\[0\]: timezone offset"):
        codec.encode({"at": [value]})
    if abs(offset) < dt.timedelta(minutes=1):  # what cbor2 would have written
        with pytest.raises(InvalidToken):
            codec.decode(cbor2.dumps({"at": [value]}))


@pytest.mark.parametrize("minutes", [0, 330, -59, 23 * 60 + 59, -(23 * 60 + 59)])
def test_whole_minute_offsets_round_trip(minutes: int) -> None:
    """Offsets RFC 3339 can express keep working."""
    value = dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(minutes=minutes)))

    assert codec.decode(codec.encode({"at": value})) == {"at": value}


@pytest.mark.parametrize(
    "value",
    [
        nested(14, {"n": 2**64}),
        nested(14, {"s": set()}),
        nested(12, {"d": BIG_MANTISSA}),
        dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(seconds=30))),
    ],
    ids=["bignum", "empty-set", "decimal", "datetime"],
)
def test_engine_never_writes_a_session_it_cannot_read(value: Any) -> None:
    """Commit raises CodecError, or the next request reads the same data back."""
    engine = SessionEngine(ring_of(("a", SECRET_A, "primary")), clock=lambda: NOW)
    session = engine.load({})
    session["v"] = value
    browser = Browser()

    try:
        browser.apply(engine.commit(session, {}))
    except CodecError:
        return

    reloaded = engine.load(browser.cookies)
    assert not reloaded.new
    assert reloaded == {"v": value}
