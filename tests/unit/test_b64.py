"""Strict base64url: one encoding per byte string."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cookiesess import _b64

# Every test runs on both implementations: pybase64 (the [speed] extra) and binascii.
IMPLEMENTATIONS = pytest.mark.parametrize("impl", ["pybase64", "binascii"])


@contextlib.contextmanager
def using(impl: str) -> Iterator[None]:
    if impl == "pybase64":
        pytest.importorskip("pybase64", reason="the [speed] extra is not installed")
        assert _b64._fast_encode is not None
        yield
        return
    saved = _b64._fast_encode, _b64._fast_decode
    _b64._fast_encode = _b64._fast_decode = None
    try:
        yield
    finally:
        _b64._fast_encode, _b64._fast_decode = saved


@IMPLEMENTATIONS
@given(st.binary(max_size=3000))
def test_roundtrip_matches_stdlib(impl: str, data: bytes) -> None:
    """Encoding equals the stdlib's unpadded urlsafe form and decodes back."""
    with using(impl):
        text = _b64.encode(data)
        assert text == base64.urlsafe_b64encode(data).rstrip(b"=").decode()
        assert _b64.decode(text) == data


@IMPLEMENTATIONS
@pytest.mark.parametrize(
    "text",
    ["a", "AAAAA", "AA==", "AA=", "A+AA", "A/AA", "AA AA", "AA\nAA", "AB", "AAB", "AF", "é"]
    + ["AAA" + c + "AAAA" for c in " \t\n.*=+/\x00"],
)
def test_rejects_non_canonical(impl: str, text: str) -> None:
    """Padding, foreign characters, impossible lengths and stray final bits are refused."""
    with using(impl), pytest.raises(ValueError):
        _b64.decode(text)


@IMPLEMENTATIONS
@given(st.binary(min_size=1, max_size=2000))
def test_every_other_final_character_is_refused(impl: str, data: bytes) -> None:
    """Changing the last character to any other value never decodes to the same bytes."""
    with using(impl):
        _every_other_final_character_is_refused(data)


def _every_other_final_character_is_refused(data: bytes) -> None:
    text = _b64.encode(data)
    for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_":
        if c == text[-1]:
            continue
        try:
            assert _b64.decode(text[:-1] + c) != data
        except ValueError:
            pass


@IMPLEMENTATIONS
def test_large_inputs_use_the_same_rules(impl: str) -> None:
    """A token of several chunks gets the same strict checks."""
    data = bytes(range(256)) * 20
    with using(impl):
        text = _b64.encode(data)
        assert _b64.decode(text) == data
        for bad in (text + "=", text[:100] + "+" + text[101:], text[:100] + " " + text[101:]):
            with pytest.raises(ValueError):
                _b64.decode(bad)
