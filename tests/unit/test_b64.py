"""Strict base64url: one encoding per byte string."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cookiesess import _b64


@given(st.binary(max_size=3000))
def test_roundtrip_matches_stdlib(data: bytes) -> None:
    """Encoding equals the stdlib's unpadded urlsafe form and decodes back."""
    text = _b64.encode(data)
    assert text == base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    assert _b64.decode(text) == data


@pytest.mark.parametrize(
    "text",
    ["a", "AAAAA", "AA==", "AA=", "A+AA", "A/AA", "AA AA", "AA\nAA", "AB", "AAB", "AF", "é"],
)
def test_rejects_non_canonical(text: str) -> None:
    """Padding, foreign characters, impossible lengths and stray final bits are refused."""
    with pytest.raises(ValueError, match="canonical"):
        _b64.decode(text)


@given(st.binary(min_size=1, max_size=2000))
def test_every_other_final_character_is_refused(data: bytes) -> None:
    """Changing the last character to any other value never decodes to the same bytes."""
    text = _b64.encode(data)
    for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_":
        if c == text[-1]:
            continue
        try:
            assert _b64.decode(text[:-1] + c) != data
        except ValueError:
            pass


def test_large_inputs_use_the_same_rules() -> None:
    """Above the pybase64 threshold the strict checks still apply."""
    data = bytes(range(256)) * 20
    text = _b64.encode(data)
    assert _b64.decode(text) == data
    with pytest.raises(ValueError):
        _b64.decode(text + "=")
    with pytest.raises(ValueError):
        _b64.decode(text[:100] + "+" + text[101:])
