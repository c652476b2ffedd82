"""The token format: layout, binding, opening; the cipher is tested in test_xaes.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given
from hypothesis import strategies as st

from cookiesess import InvalidToken, Keyring, _b64
from cookiesess.envelope import (
    HEADER_BYTES,
    HEADER_CHARS,
    _seal_raw,
    aad_context,
    peek_header,
    read_header,
    seal,
    seal_bytes,
    sealed_chars,
    unseal,
    unseal_bytes,
)
from cookiesess.keys import FORMAT_VERSION, Key
from tests.unit.test_xaes import reference_xaes

CTX = aad_context(app_namespace="app", purpose="session", name="session")
FIXTURE = json.loads((Path(__file__).parent / "envelope-v1-tokens.json").read_text())


@given(st.binary(max_size=5000))
def test_seal_unseal_roundtrip(plaintext: bytes) -> None:
    """unseal(seal(p)) == p, and the token length is predicted exactly."""
    ring = Keyring.generate()
    token = seal(ring, plaintext, purpose="session", context=CTX)
    assert len(token) == sealed_chars(len(plaintext))
    opened = unseal(ring, token, purpose="session", context=CTX)
    assert opened.plaintext == plaintext
    assert opened.key is ring.primary


def test_header_layout() -> None:
    """The first 40 characters hold version, kind, chunk count, key id and nonce."""
    ring = Keyring.generate()
    token = seal(ring, b"x", purpose="ref", context=CTX, chunks=3)
    header = read_header(token[:HEADER_CHARS])
    assert header.purpose == "ref"
    assert header.chunks == 3


def test_fixed_nonce_is_deterministic() -> None:
    """The private from-parts entry exists so vectors can be checked byte for byte."""
    key = Key("k", bytes(range(32)))
    one = _b64.encode(_seal_raw(key, bytes(24), b"hi", "session", CTX, 1))
    two = _b64.encode(_seal_raw(key, bytes(24), b"hi", "session", CTX, 1))
    assert one == two
    assert seal(Keyring([key]), b"hi", purpose="session", context=CTX) != one


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"app_namespace": "other"}, "auth_failed"),
        ({"name": "other"}, "auth_failed"),
    ],
)
def test_context_binding(change: dict[str, str], reason: str) -> None:
    """A token moved to another app namespace or cookie name fails to open."""
    ring = Keyring.generate()
    token = seal(ring, b"data", purpose="session", context=CTX)
    ctx = aad_context(
        app_namespace=change.get("app_namespace", "app"),
        purpose="session",
        name=change.get("name", "session"),
    )
    with pytest.raises(InvalidToken) as info:
        unseal(ring, token, purpose="session", context=ctx)
    assert info.value.reason == reason


def test_purpose_binding() -> None:
    """A session token does not open as a reference, and vice versa."""
    ring = Keyring.generate()
    token = seal(ring, b"data", purpose="session", context=CTX)
    ref_ctx = aad_context(app_namespace="app", purpose="ref", name="session")
    with pytest.raises(InvalidToken):
        unseal(ring, token, purpose="ref", context=ref_ctx)


def test_unknown_key_costs_no_decryption() -> None:
    """A token under a key not in the ring is rejected as unknown_key."""
    token = seal(Keyring.generate(), b"data", purpose="session", context=CTX)
    with pytest.raises(InvalidToken) as info:
        unseal(Keyring.generate(), token, purpose="session", context=CTX)
    assert info.value.reason == "unknown_key"


def test_non_str_token() -> None:
    """Bytes where a str token is expected are rejected, not coerced."""
    with pytest.raises(InvalidToken):
        unseal(Keyring.generate(), b"AAAA", purpose="session", context=CTX)  # type: ignore[arg-type]


def test_invalid_token_is_opaque() -> None:
    """InvalidToken carries a reason code and nothing else."""
    token = seal(Keyring.generate(), b"secret plaintext", purpose="session", context=CTX)
    with pytest.raises(InvalidToken) as info:
        unseal(Keyring.generate(), token, purpose="session", context=CTX)
    assert str(info.value) == ""
    assert info.value.args == ()
    assert repr(info.value) == "InvalidToken(reason='unknown_key')"


# -- the wire format does not change with the nonce scheme ---------------------------


def fixture_context(case: dict[str, Any]) -> bytes:
    ctx = aad_context(
        app_namespace=case["app_namespace"], purpose=case["purpose"], name=case["name"]
    )
    return ctx + bytes.fromhex(case.get("extra_context_hex", ""))


def test_tokens_sealed_with_per_seal_nonces_still_open() -> None:
    """Tokens sealed before the per-process prefix (a fresh nonce per seal) open unchanged."""
    ring = Keyring([Key(FIXTURE["key_id"], bytes.fromhex(FIXTURE["key_hex"]))])

    for case in FIXTURE["tokens"]:
        opened = unseal(ring, case["token"], purpose=case["purpose"], context=fixture_context(case))
        assert opened.plaintext.hex() == case["plaintext_hex"]
        assert opened.chunks == case["chunks"]
    for case in FIXTURE["raw"]:
        raw = bytes.fromhex(case["sealed_hex"])
        opened = unseal_bytes(ring, raw, purpose=case["purpose"], context=fixture_context(case))
        assert opened.plaintext.hex() == case["plaintext_hex"]


def reference_unseal(master: bytes, raw: bytes, purpose: str, context: bytes) -> bytes:
    """Open a raw token from the format's description alone: HKDF subkey, KBKDF-CMAC, AES-GCM."""
    info = b"cookiesess/v%d/%s" % (FORMAT_VERSION, purpose.encode())
    subkey = HKDF(hashes.SHA256(), 32, b"cookiesess", info).derive(master)
    nonce = raw[6:HEADER_BYTES]
    aad = b"cookiesess\x00" + raw[:HEADER_BYTES] + context
    return reference_xaes(subkey, nonce).decrypt(nonce[12:], raw[HEADER_BYTES:], aad)


def test_new_tokens_open_with_an_independent_xaes() -> None:
    """Tokens under the per-process prefix open by per-token derivation, as older versions do."""
    master = bytes.fromhex(FIXTURE["key_hex"])
    ring = Keyring([Key("a", master)])
    for purpose in ("session", "ref"):
        ctx = aad_context(app_namespace="app", purpose=purpose, name="__Host-s")
        for i in range(3):
            token = seal(ring, b"p%d" % i, purpose=purpose, context=ctx, chunks=i + 1)  # type: ignore[arg-type]
            assert reference_unseal(master, _b64.decode(token), purpose, ctx) == b"p%d" % i
    ctx = aad_context(app_namespace="", purpose="record", name="session") + b"sid"
    raw = seal_bytes(ring, b"record", purpose="record", context=ctx)
    assert reference_unseal(master, raw, "record", ctx) == b"record"


def test_peek_header_agrees_with_read_header() -> None:
    """For every 3-character start, peek_header says what read_header says (None: invalid)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    tail = "A" * (HEADER_CHARS - 3)
    known = 0
    for a in alphabet:
        for b in alphabet:
            for c in alphabet:
                text = a + b + c + tail
                peeked = peek_header(text)
                if peeked is None:
                    with pytest.raises(InvalidToken):
                        read_header(text)
                    continue
                known += 1
                assert peeked == read_header(text)
                assert peek_header(text[:-1]) is None
    assert known == 3 * 10 * 4


@pytest.mark.parametrize("purpose", ["session", "ref", "record"])
@pytest.mark.parametrize("chunks", range(1, 11))
def test_peek_header_knows_every_valid_header(purpose: str, chunks: int) -> None:
    """Every header the envelope writes is recognised by the 3-character fast path."""
    ring = Keyring.generate()
    for _ in range(8):  # several wire ids: the third character carries 2 of their bits
        token = seal(ring, b"x", purpose=purpose, context=CTX, chunks=chunks)  # type: ignore[arg-type]
        assert peek_header(token) == read_header(token) == (purpose, chunks)
        ring = Keyring.generate()
