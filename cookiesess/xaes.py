"""XAES-256-GCM (C2SP): key derivation, the derived-key memo and sealing nonces.

XAES-256-GCM is AES-256-GCM under a key derived from the 256-bit key and the
first 12 bytes of a 24-byte nonce (NIST SP 800-108r1 CMAC-KDF, two AES block
calls); the last 12 bytes are the GCM nonce. This module owns all of it, and
the only importer of AES-GCM is here. No I/O besides `os.urandom`, no clock.

Sealing nonces: each `XAESKey` holds, per process, a random 12-byte prefix and
its derived key, and draws only the last 12 bytes per seal, so a seal is plain
AES-256-GCM with a random 96-bit nonce under that derived key. The prefix is
replaced after `MAX_SEALS_PER_PREFIX` seals and in every forked child, and is
never persisted (SECURITY.md states the bound).
"""

from __future__ import annotations

import os
import threading
from typing import Final

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "MAX_SEALS_PER_PREFIX",
    "MEMO_SIZE",
    "NONCE_BYTES",
    "RANDOM_BLOCK_BYTES",
    "XAESKey",
]

NONCE_BYTES: Final = 24
PREFIX_BYTES: Final = 12
MAX_SEALS_PER_PREFIX: Final = 1 << 20
"""Seals under one derived key before a new prefix: 2^20 random 96-bit GCM nonces
collide with probability at most 2^40 / 2^97 = 2^-57."""
MEMO_SIZE: Final = 4096
"""Derived keys memoized per `XAESKey` (about 0.5 MB when full), then cleared."""
RANDOM_BLOCK_BYTES: Final = 256 * (NONCE_BYTES - PREFIX_BYTES)
"""Nonce randomness drawn per `os.urandom` call: the suffixes of 256 seals."""


class _Randomness:
    """One process's nonce randomness, drawn from the OS in blocks; used under `lock`.

    SECURITY: a child process must never reuse its parent's random bytes or
    sealing prefixes (the same derived key and GCM nonce twice would expose the
    GHASH key). `os.register_at_fork` gives every child a new `_Randomness`, and
    the pid recorded here catches a fork that skipped the hook (C code calling
    fork() without `PyOS_AfterFork_Child`); a prefix is used only with the
    `_Randomness` it was drawn from, so either way a child starts afresh.
    """

    __slots__ = ("block", "lock", "pid", "pos")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.block = b""
        self.pos = 0

    def take(self, n: int) -> bytes:
        """Return `n` fresh random bytes; call with `lock` held."""
        pos = self.pos
        if pos + n > len(self.block):
            self.block, pos = os.urandom(RANDOM_BLOCK_BYTES), 0
        self.pos = pos + n
        return self.block[pos : pos + n]


_RANDOM = _Randomness()


def _renew_randomness() -> _Randomness:
    global _RANDOM  # noqa: PLW0603 - replaced whole: the parent's lock may be held
    _RANDOM = _Randomness()
    return _RANDOM


os.register_at_fork(after_in_child=_renew_randomness)


class _Sealing:
    """A prefix this process seals under: its derived key, seals left, and its source."""

    __slots__ = ("aead", "left", "prefix", "source")

    def __init__(self, prefix: bytes, aead: AESGCM, source: _Randomness) -> None:
        self.prefix = prefix
        self.aead = aead
        self.source = source
        self.left: int = MAX_SEALS_PER_PREFIX


class XAESKey:
    """An XAES-256-GCM key: the AES-256 key, the KDF state and the memo.

    ``K1 = dbl(AES_K(0^128))`` is computed once; the ECB context for the two
    KDF block calls is kept per thread (cipher contexts are not thread-safe).
    Derived keys are memoized by nonce prefix, filled only with prefixes this
    process sealed under or authenticated (a forged token cannot churn it).
    Its repr shows no key material.
    """

    __slots__ = ("_cipher", "_local", "_mask", "_memo", "_sealing")

    def __init__(self, key: bytes) -> None:
        if type(key) is not bytes or len(key) != 32:
            raise ValueError("an XAES-256-GCM key is 32 bytes")
        self._cipher = Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305 - single-block KDF
        self._local = threading.local()
        l_block = int.from_bytes(self._ecb().update(bytes(16)), "big")
        k1 = (l_block << 1) & ((1 << 128) - 1)
        if l_block >> 127:
            k1 ^= 0x87
        # The KDF input blocks are M_i = 0x00 || i || "X" || 0x00 || N[:12], XORed with
        # K1; precomputed as one 256-bit int, so a nonce prefix is XORed in once.
        m1, m2 = 0x00015800 << 96, 0x00025800 << 96
        self._mask: int = ((m1 ^ k1) << 128) | (m2 ^ k1)
        self._memo: dict[bytes, AESGCM] = {}
        self._sealing: _Sealing | None = None

    def __repr__(self) -> str:
        return "<XAESKey>"

    def _ecb(self) -> CipherContext:
        local = self._local
        try:
            return local.ctx  # type: ignore[no-any-return]
        except AttributeError:
            ctx = local.ctx = self._cipher.encryptor()
            return ctx

    def _derive(self, prefix: bytes) -> AESGCM:
        # Kx = AES_K(M1 ^ K1) || AES_K(M2 ^ K1), both blocks in one ECB call.
        n12 = int.from_bytes(prefix, "big")
        blocks = (self._mask ^ (n12 << 128 | n12)).to_bytes(32, "big")
        return AESGCM(self._ecb().update(blocks))

    def _remember(self, prefix: bytes, aead: AESGCM) -> None:
        memo = self._memo
        if len(memo) >= MEMO_SIZE:
            memo.clear()  # atomic, unlike evicting one entry while other threads insert
        memo[prefix] = aead

    def seal(self, head: bytes, plaintext: bytes, label: bytes, context: bytes) -> bytes:
        """Seal under a fresh nonce; return ``head || nonce || ciphertext || tag``.

        The nonce is this process's prefix, then 12 fresh random bytes. The
        AAD is ``label || head || nonce || context``: the nonce is
        authenticated with the header it travels in.
        """
        randomness = _RANDOM
        if randomness.pid != os.getpid():  # forked without the at-fork hook
            randomness = _renew_randomness()
        with randomness.lock:
            sealing = self._sealing
            if sealing is None or sealing.source is not randomness or sealing.left <= 0:
                prefix = randomness.take(PREFIX_BYTES)
                sealing = self._sealing = _Sealing(prefix, self._derive(prefix), randomness)
                self._remember(prefix, sealing.aead)
            sealing.left -= 1
            suffix = randomness.take(NONCE_BYTES - PREFIX_BYTES)
        header = head + sealing.prefix + suffix
        return header + sealing.aead.encrypt(suffix, plaintext, label + header + context)

    def encrypt(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """Encrypt with a given 24-byte nonce (test vectors); return ciphertext || tag."""
        if len(nonce) != NONCE_BYTES:
            raise ValueError("an XAES-256-GCM nonce is 24 bytes")
        prefix = nonce[:PREFIX_BYTES]
        aead = self._memo.get(prefix)
        if aead is None:
            aead = self._derive(prefix)
            self._remember(prefix, aead)  # the browser sends this token back
        return aead.encrypt(nonce[PREFIX_BYTES:], plaintext, aad)

    def decrypt(self, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        """Authenticate and decrypt; raises `cryptography.exceptions.InvalidTag`."""
        prefix = nonce[:PREFIX_BYTES]
        aead = self._memo.get(prefix)
        if aead is not None:
            return aead.decrypt(nonce[PREFIX_BYTES:], data, aad)
        aead = self._derive(prefix)
        plaintext = aead.decrypt(nonce[PREFIX_BYTES:], data, aad)
        self._remember(prefix, aead)  # only once authenticated
        return plaintext

    def memoized(self) -> int:
        """Return how many derived keys the memo holds (for tests and benchmarks)."""
        return len(self._memo)

    def forget(self) -> None:
        """Empty the memo of derived keys (the sealing prefix stays)."""
        self._memo.clear()
