"""Keyring loading, validation, states and redaction."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from cookiesess import Keyring, KeyringError
from cookiesess._b64 import encode as b64

A = b64(bytes(range(32)))
B = b64(bytes(range(100, 132)))
C = b64(bytes(range(200, 232)))


def test_env_format_without_states() -> None:
    """Without states the first entry is primary and the rest decrypt-only."""
    ring = Keyring.from_text(f"new:{A}, old:{B}")
    assert ring.primary.id == "new"
    assert [(k.id, k.state) for k in ring.keys] == [("new", "primary"), ("old", "decrypt")]


def test_env_format_with_states_and_retired() -> None:
    """Explicit states are honoured; retired keys are not loaded."""
    ring = Keyring.from_text(f"k1:decrypt:{A},k2:primary:{B},k0:retired:{C}")
    assert ring.primary.id == "k2"
    assert [k.id for k in ring.keys] == ["k1", "k2"]
    assert ring.retired_ids == ("k0",)


def test_from_env_prefers_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """COOKIESESS_KEYS_FILE wins over COOKIESESS_KEYS."""
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [{"id": "f", "state": "primary", "secret": A}]}))
    monkeypatch.setenv("COOKIESESS_KEYS", f"e:{B}")
    monkeypatch.setenv("COOKIESESS_KEYS_FILE", str(path))
    assert Keyring.from_env().primary.id == "f"
    monkeypatch.delenv("COOKIESESS_KEYS_FILE")
    assert Keyring.from_env().primary.id == "e"


def test_from_env_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """No configuration at all says how to provide keys."""
    monkeypatch.delenv("COOKIESESS_KEYS", raising=False)
    monkeypatch.delenv("COOKIESESS_KEYS_FILE", raising=False)
    with pytest.raises(KeyringError, match="cookiesess keygen"):
        Keyring.from_env()


def test_toml_file(tmp_path: Path) -> None:
    """TOML key files load like JSON ones."""
    path = tmp_path / "keys.toml"
    path.write_text(
        f'[[keys]]\nid = "a"\nstate = "decrypt"\nsecret = "{A}"\n\n'
        f'[[keys]]\nid = "b"\nstate = "primary"\nsecret = "{B}"\n'
    )
    ring = Keyring.from_file(path)
    assert ring.primary.id == "b"
    assert len(ring) == 2


def test_every_problem_reported_at_once_without_secrets() -> None:
    """Bad entries are all listed, each named, and no secret text appears in the message."""
    text = f"k1:primary:{A},k2:primary:{B},k3:bogus:{C},k4:primary:{A},bad entry,k5:short"
    with pytest.raises(KeyringError) as info:
        Keyring.from_text(text)
    message = str(info.value)
    assert "entry 3" in message
    assert "bogus" in message
    assert "entry 5" in message
    assert "entry 6" in message
    assert "exactly one key must be primary, found 3" in message
    assert "same secret" in message
    assert "cookiesess keygen" in message
    for secret in (A, B, C):
        assert secret not in message
    assert len(info.value.problems) >= 5


def test_non_random_secret_refused() -> None:
    """32 bytes of a repeated value are refused."""
    with pytest.raises(KeyringError, match="not random"):
        Keyring.from_text(f"k:{b64(bytes(32))}")


def test_bad_file(tmp_path: Path) -> None:
    """An unreadable or malformed file fails with its path and without echoing content."""
    with pytest.raises(KeyringError, match="cannot read"):
        Keyring.from_file(tmp_path / "missing.json")
    path = tmp_path / "k.json"
    path.write_text('{"keys": [{"id": "a", "secret": "' + A + '"')
    with pytest.raises(KeyringError) as info:
        Keyring.from_file(path)
    assert A not in str(info.value)


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("keyboard cat", "well-known"),
        ("django-insecure-" + "x" * 50, "well-known"),
        ("short-secret", "shorter than 32"),
        ("a" * 64, "distinct"),
        ("abcdefghij" * 5, "repetitive"),
        ("1234567890123456789012345678901234", "entropy"),
    ],
)
def test_weak_secrets_refused(secret: str, reason: str) -> None:
    """Low-entropy secrets are refused with the reason and the fix, never echoed."""
    with pytest.raises(KeyringError, match=reason) as info:
        Keyring.from_secrets([secret])
    assert "cookiesess keygen" in str(info.value)
    if len(secret) > 12:
        assert secret not in str(info.value)


def test_strong_secrets_accepted_with_fallbacks() -> None:
    """Flask-style secrets work; the first is primary, fallbacks decrypt-only."""
    ring = Keyring.from_secrets([secrets.token_hex(32), secrets.token_urlsafe(32)])
    assert [k.state for k in ring.keys] == ["primary", "decrypt"]


def test_passphrase_needs_opt_in() -> None:
    """A memorable passphrase works only with allow_passphrase, and never a known value."""
    phrase = "correct horse battery staple"
    with pytest.raises(KeyringError):
        Keyring.from_secrets([phrase])
    ring = Keyring.from_secrets([phrase], allow_passphrase=True)
    again = Keyring.from_secrets([phrase], allow_passphrase=True)
    assert ring.primary.wire_id == again.primary.wire_id
    with pytest.raises(KeyringError, match="well-known"):
        Keyring.from_secrets(["keyboard cat"], allow_passphrase=True)


def test_repr_shows_ids_and_states_only() -> None:
    """repr() of keys and rings never includes key material."""
    ring = Keyring.from_text(f"k1:primary:{A},k0:decrypt:{B},kx:retired:{C}")
    text = repr(ring) + repr(ring.keys) + repr(ring.primary.aead("session"))
    assert text.startswith("Keyring(primary='k1', decrypt=['k0'], retired=['kx'])")
    for secret in (A, B, C):
        assert secret not in text
    assert bytes(range(32)).hex() not in text


def test_wire_ids_are_stable_and_distinct() -> None:
    """The 4-byte wire id depends only on the key, so every host agrees on it."""
    one = Keyring.from_text(f"x:{A}").primary.wire_id
    two = Keyring.from_text(f"y:{A}").primary.wire_id
    other = Keyring.from_text(f"x:{B}").primary.wire_id
    assert one == two
    assert one != other
    assert len(one) == 4


def test_generate() -> None:
    """generate() makes a random primary key."""
    assert Keyring.generate().primary.wire_id != Keyring.generate().primary.wire_id


def test_random_bytes_secrets_are_judged_as_bytes() -> None:
    """Flask's classic os.urandom(24) secret key is accepted; short or repetitive bytes are not."""
    assert Keyring.from_secrets([secrets.token_bytes(24)]).primary.state == "primary"
    with pytest.raises(KeyringError, match="shorter than 16 bytes"):
        Keyring.from_secrets([secrets.token_bytes(8)])
    with pytest.raises(KeyringError, match="not random"):
        Keyring.from_secrets([b"\x00" * 32])
    with pytest.raises(KeyringError, match="well-known"):
        Keyring.from_secrets([b"keyboard cat"])
