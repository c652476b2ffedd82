"""XAES-256-GCM and the token format."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFCMAC, CounterLocation, Mode
from hypothesis import given, settings
from hypothesis import strategies as st

from cookiesess import InvalidToken, Keyring, _b64
from cookiesess.envelope import (
    DERIVED_CACHE_SIZE,
    HEADER_CHARS,
    _seal_raw,
    aad_context,
    read_header,
    seal,
    sealed_chars,
    unseal,
    xaes_decrypt,
    xaes_encrypt,
)
from cookiesess.keys import Key, _Subkey

VECTORS = json.loads(
    (Path(__file__).parents[3] / "shared" / "vectors" / "xaes-256-gcm.json").read_text()
    if (Path(__file__).parents[3] / "shared").exists()
    else (Path(__file__).parent / "xaes-256-gcm.json").read_text()
)
CTX = aad_context(app_namespace="app", purpose="session", name="session")


@pytest.mark.parametrize("vector", VECTORS["vectors"])
def test_c2sp_vectors(vector: dict[str, Any]) -> None:
    """Both C2SP vectors encrypt and decrypt exactly."""
    key = _Subkey(bytes.fromhex(vector["key_hex"]))
    nonce = vector["nonce_ascii"].encode()
    plaintext = vector["plaintext_ascii"].encode()
    aad = vector["aad_ascii"].encode()
    sealed = xaes_encrypt(key, nonce, plaintext, aad)
    assert sealed.hex() == vector["ciphertext_and_tag_hex"]
    assert xaes_decrypt(key, nonce, sealed, aad) == plaintext  # derived key memoized
    cold = _Subkey(bytes.fromhex(vector["key_hex"]))
    assert xaes_decrypt(cold, nonce, sealed, aad) == plaintext  # derived afresh
    assert xaes_encrypt(cold, nonce, plaintext, aad) == sealed  # memoized by the decrypt


def test_derived_keys_are_memoized_only_once_authentic() -> None:
    """A sealed or authenticated nonce's key is kept; a forged token's never is."""
    ring = Keyring.generate()
    subkey = ring.primary.aead("session")
    subkey.derived.clear()
    token = seal(ring, b"data", purpose="session", context=CTX)
    assert len(subkey.derived) == 1
    subkey.derived.clear()
    assert unseal(ring, token, purpose="session", context=CTX).plaintext == b"data"
    assert len(subkey.derived) == 1

    raw = bytearray(_b64.decode(token))
    raw[6] ^= 1  # another nonce prefix: a forgery the key does not open
    with pytest.raises(InvalidToken):
        unseal(ring, _b64.encode(bytes(raw)), purpose="session", context=CTX)
    assert bytes(raw[6:18]) not in subkey.derived
    assert len(subkey.derived) == 1


def test_derived_key_memo_is_bounded() -> None:
    """The memo never grows past DERIVED_CACHE_SIZE entries per subkey."""
    subkey = _Subkey(bytes(32))
    for i in range(DERIVED_CACHE_SIZE + 10):
        xaes_encrypt(subkey, i.to_bytes(24, "big"), b"", b"")
    assert 0 < len(subkey.derived) <= DERIVED_CACHE_SIZE


def test_c2sp_accumulated_10000() -> None:
    """The spec's 10,000-iteration accumulated check matches."""
    spec = VECTORS["accumulated"]
    stream = hashlib.shake_128().digest(4_000_000)
    assert stream[:16].hex() == spec["stream_first16_hex"]
    pos = 0

    def read(n: int) -> bytes:
        nonlocal pos
        pos += n
        return stream[pos - n : pos]

    out = hashlib.shake_128()
    for _ in range(spec["iterations"]):
        key, nonce = read(32), read(24)
        plaintext = read(read(1)[0])
        aad = read(read(1)[0])
        out.update(xaes_encrypt(_Subkey(key), nonce, plaintext, aad))
    assert out.hexdigest(32) == spec["expected_hex"]


@settings(max_examples=200)
@given(key=st.binary(min_size=32, max_size=32), nonce=st.binary(min_size=24, max_size=24))
def test_manual_kdf_equals_kbkdf_cmac(key: bytes, nonce: bytes) -> None:
    """The hand-rolled subkey derivation equals cryptography's SP 800-108 KBKDF-CMAC."""
    kdf = KBKDFCMAC(
        algorithms.AES,
        Mode.CounterMode,
        length=32,
        rlen=2,
        llen=None,
        location=CounterLocation.BeforeFixed,
        label=None,
        context=None,
        fixed=b"X\x00" + nonce[:12],
    )
    derived = kdf.derive(key)
    expected = AESGCM(derived).encrypt(nonce[12:], b"msg", b"aad")
    assert xaes_encrypt(_Subkey(key), nonce, b"msg", b"aad") == expected
    assert cmac  # imported for readers: KBKDFCMAC is CMAC-based


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
