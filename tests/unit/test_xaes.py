"""XAES-256-GCM: the C2SP vectors, the derived-key memo and the per-process sealing nonces."""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFCMAC, CounterLocation, Mode
from hypothesis import given, settings
from hypothesis import strategies as st

from cookiesess import InvalidToken, Keyring, _b64, xaes
from cookiesess.envelope import HEADER_BYTES, aad_context, seal, seal_bytes, unseal
from cookiesess.keys import Key
from cookiesess.xaes import MAX_SEALS_PER_PREFIX, MEMO_SIZE, RANDOM_BLOCK_BYTES, XAESKey

_SHARED = Path(__file__).parents[3] / "shared" / "vectors" / "xaes-256-gcm.json"
VECTORS = json.loads(
    _SHARED.read_text()
    if _SHARED.exists()
    else (Path(__file__).parent / "xaes-256-gcm.json").read_text()
)
CTX = aad_context(app_namespace="app", purpose="session", name="session")

# Fork tests run a real os.fork(); Python 3.12+ warns when other threads exist.
fork_ok = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")


def nonce_of(token: str) -> bytes:
    return _b64.decode(token)[6:HEADER_BYTES]


def seal_nonces(ring: Keyring, n: int) -> list[bytes]:
    return [nonce_of(seal(ring, b"x", purpose="session", context=CTX)) for _ in range(n)]


# -- the spec -------------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS["vectors"])
def test_c2sp_vectors(vector: dict[str, Any]) -> None:
    """Both C2SP vectors encrypt and decrypt exactly, memoized or derived afresh."""
    key = XAESKey(bytes.fromhex(vector["key_hex"]))
    nonce = vector["nonce_ascii"].encode()
    plaintext = vector["plaintext_ascii"].encode()
    aad = vector["aad_ascii"].encode()

    sealed = key.encrypt(nonce, plaintext, aad)

    assert sealed.hex() == vector["ciphertext_and_tag_hex"]
    assert key.decrypt(nonce, sealed, aad) == plaintext  # derived key memoized
    cold = XAESKey(bytes.fromhex(vector["key_hex"]))
    assert cold.decrypt(nonce, sealed, aad) == plaintext  # derived afresh
    assert cold.encrypt(nonce, plaintext, aad) == sealed  # memoized by the decrypt


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
        out.update(XAESKey(key).encrypt(nonce, plaintext, aad))
    assert out.hexdigest(32) == spec["expected_hex"]


def reference_xaes(key: bytes, nonce: bytes) -> AESGCM:
    """XAES's derived key through cryptography's SP 800-108 KBKDF-CMAC (an independent path)."""
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
    return AESGCM(kdf.derive(key))


@settings(max_examples=200)
@given(key=st.binary(min_size=32, max_size=32), nonce=st.binary(min_size=24, max_size=24))
def test_manual_kdf_equals_kbkdf_cmac(key: bytes, nonce: bytes) -> None:
    """The hand-rolled subkey derivation equals cryptography's SP 800-108 KBKDF-CMAC."""
    expected = reference_xaes(key, nonce).encrypt(nonce[12:], b"msg", b"aad")

    assert XAESKey(key).encrypt(nonce, b"msg", b"aad") == expected


def test_a_key_is_32_bytes_and_its_repr_is_opaque() -> None:
    """Other key and nonce sizes and str are refused; the repr shows no key material."""
    for bad in (bytes(16), bytes(33), "k" * 32):
        with pytest.raises(ValueError, match="32 bytes"):
            XAESKey(bad)  # type: ignore[arg-type]
    key = XAESKey(bytes(range(32)))
    assert repr(key) == "<XAESKey>"
    for nonce in (bytes(12), bytes(23), bytes(25)):
        with pytest.raises(ValueError, match="24 bytes"):
            key.encrypt(nonce, b"p", b"a")


# -- the derived-key memo ---------------------------------------------------------


def test_derived_keys_are_memoized_only_once_authentic() -> None:
    """A sealed or authenticated prefix's key is kept; a forged token's never is."""
    ring = Keyring.generate()
    subkey = ring.primary.aead("session")
    token = seal(ring, b"data", purpose="session", context=CTX)
    assert subkey.memoized() == 1
    subkey.forget()

    assert unseal(ring, token, purpose="session", context=CTX).plaintext == b"data"
    assert subkey.memoized() == 1

    raw = bytearray(_b64.decode(token))
    raw[6] ^= 1  # another nonce prefix: a forgery the key does not open
    with pytest.raises(InvalidToken) as info:
        unseal(ring, _b64.encode(bytes(raw)), purpose="session", context=CTX)
    assert info.value.reason == "auth_failed"
    assert subkey.memoized() == 1


def test_derived_key_memo_is_bounded() -> None:
    """The memo never grows past MEMO_SIZE entries per subkey, and sealing survives a clear."""
    subkey = XAESKey(bytes(range(32)))
    for i in range(MEMO_SIZE + 10):
        subkey.encrypt(i.to_bytes(24, "big"), b"", b"")
    assert 0 < subkey.memoized() <= MEMO_SIZE

    subkey.forget()
    sealed = subkey.seal(b"h", b"p", b"l", b"c")
    nonce = sealed[1:25]

    aad = b"l" + b"h" + nonce + b"c"
    assert XAESKey(bytes(range(32))).decrypt(nonce, sealed[25:], aad) == b"p"


def test_other_workers_cookies_hit_the_memo_after_the_first() -> None:
    """Every cookie a worker sealed shares its prefix: opening the first derives, the rest hit."""
    secret = bytes(range(32))
    worker = Keyring([Key("a", secret)])
    tokens = [seal(worker, b"%d" % i, purpose="session", context=CTX) for i in range(50)]
    here = Keyring([Key("a", secret)])  # another process's view of the same key
    subkey = here.primary.aead("session")
    derived = 0
    real = XAESKey._derive

    def counting(self: XAESKey, prefix: bytes) -> AESGCM:
        nonlocal derived
        derived += 1
        return real(self, prefix)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(XAESKey, "_derive", counting)
        opened = [unseal(here, t, purpose="session", context=CTX).plaintext for t in tokens]

    assert opened == [b"%d" % i for i in range(50)]
    assert derived == 1
    assert subkey.memoized() == 1


# -- sealing nonces ---------------------------------------------------------------


def test_the_prefix_is_reused_across_seals_and_the_suffix_is_fresh() -> None:
    """One process seals under one random prefix per subkey; the last 12 bytes differ per seal."""
    ring = Keyring.generate()

    nonces = seal_nonces(ring, 3000)

    assert len({n[:12] for n in nonces}) == 1
    assert len({n[12:] for n in nonces}) == 3000
    assert all(len(n) == 24 for n in nonces)


def test_each_subkey_and_key_has_its_own_prefix() -> None:
    """The prefix belongs to one derived key: per master key and per purpose."""
    ring, other = Keyring.generate(), Keyring.generate()
    session = nonce_of(seal(ring, b"x", purpose="session", context=CTX))
    ref = _b64.decode(seal(ring, b"x", purpose="ref", context=CTX))[6:HEADER_BYTES]
    record = seal_bytes(ring, b"x", purpose="record", context=CTX)[6:HEADER_BYTES]
    elsewhere = nonce_of(seal(other, b"x", purpose="session", context=CTX))

    assert len({session[:12], ref[:12], record[:12], elsewhere[:12]}) == 4


def test_a_new_prefix_after_max_seals(monkeypatch: pytest.MonkeyPatch) -> None:
    """After MAX_SEALS_PER_PREFIX seals a fresh random prefix is drawn, never an old one."""
    assert MAX_SEALS_PER_PREFIX == 2**20
    assert math.log2(MAX_SEALS_PER_PREFIX**2 / 2**97) <= -57  # the birthday bound per prefix
    monkeypatch.setattr(xaes, "MAX_SEALS_PER_PREFIX", 3)
    ring = Keyring.generate()

    prefixes = [n[:12] for n in seal_nonces(ring, 10)]

    runs = [prefixes[i : i + 3] for i in range(0, 10, 3)]
    assert all(len(set(run)) == 1 for run in runs)
    assert len({run[0] for run in runs}) == 4


def test_nonce_randomness_is_drawn_in_blocks(
    monkeypatch: pytest.MonkeyPatch, drawn: list[bytes]
) -> None:
    """os.urandom is called once per RANDOM_BLOCK_BYTES, and every nonce byte comes from it."""
    monkeypatch.setattr(xaes, "_RANDOM", xaes._Randomness())  # no block drawn before the spy
    ring = Keyring.generate()

    nonces = seal_nonces(ring, 1000)

    assert {len(block) for block in drawn} == {RANDOM_BLOCK_BYTES}
    assert len(drawn) <= math.ceil((12 + 1000 * 12) / RANDOM_BLOCK_BYTES)
    pool = b"|".join(drawn)
    assert all(n[:12] in pool and n[12:] in pool for n in nonces)
    assert len(set(nonces)) == 1000


def test_threads_never_share_a_nonce() -> None:
    """Concurrent seals from many threads get distinct nonces under the one prefix."""
    ring = Keyring.generate()
    results: list[list[bytes]] = []

    def work() -> None:
        results.append(seal_nonces(ring, 1500))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    nonces = [n for chunk in results for n in chunk]
    assert len(nonces) == 8 * 1500
    assert len(set(nonces)) == len(nonces)
    assert len({n[:12] for n in nonces}) == 1


# -- fork -------------------------------------------------------------------------


def in_child(work: Callable[[], list[bytes]]) -> list[bytes]:
    """Fork; run `work` in the child and return its nonces (a real os.fork, a pipe back)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_fd)
            with os.fdopen(write_fd, "w") as fp:
                json.dump([n.hex() for n in work()], fp)
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd) as fp:
        text = fp.read()
    _, status = os.waitpid(pid, 0)
    assert status == 0, "the child failed"
    return [bytes.fromhex(h) for h in json.loads(text)]


@fork_ok
def test_every_forked_child_seals_under_its_own_prefix_and_randomness() -> None:
    """A child draws a new prefix and new random bytes: no nonce of it equals the parent's."""
    ring = Keyring.generate()
    before = seal_nonces(ring, 5)  # the parent holds a prefix and a half-used random block

    first = in_child(lambda: seal_nonces(ring, 300))
    second = in_child(lambda: seal_nonces(ring, 300))
    after = seal_nonces(ring, 300)

    parent = before + after
    assert len({n[:12] for n in parent}) == 1
    prefixes = {parent[0][:12], first[0][:12], second[0][:12]}
    assert len(prefixes) == 3
    assert {len({n[:12] for n in child}) for child in (first, second)} == {1}
    suffixes = [{n[12:] for n in group} for group in (parent, first, second)]
    assert not suffixes[0] & suffixes[1]
    assert not suffixes[0] & suffixes[2]
    assert not suffixes[1] & suffixes[2]


@fork_ok
def test_a_fork_that_skips_the_hooks_still_gets_fresh_nonces() -> None:
    """Forked by C code without the at-fork hooks, a child still notices by its pid."""
    ring = Keyring.generate()
    seal_nonces(ring, 5)
    parent_randomness = xaes._RANDOM

    def as_if_no_hook() -> list[bytes]:
        xaes._RANDOM = parent_randomness  # what the child would hold without the hook
        return seal_nonces(ring, 300)

    child = in_child(as_if_no_hook)
    parent = seal_nonces(ring, 300)

    assert child[0][:12] != parent[0][:12]
    assert not {n[12:] for n in child} & {n[12:] for n in parent}


@fork_ok
def test_the_at_fork_hook_renews_the_randomness_in_the_child() -> None:
    """os.register_at_fork hands the child its own randomness (and lock) before any seal."""
    parent = xaes._RANDOM

    def probe() -> list[bytes]:
        renewed = xaes._RANDOM is not parent and xaes._RANDOM.pid == os.getpid()
        return [b"\x01" if renewed else b"\x00"]

    assert in_child(probe) == [b"\x01"]
    assert xaes._RANDOM is parent
