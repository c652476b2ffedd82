"""Round-trip properties over generated session values."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cookiesess import SessionEngine, SessionTooLarge, codec
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
