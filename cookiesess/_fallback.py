"""The server-side fallback: store keys, denylist keys, sealed records and references.

When a session outgrows its cookie, the data moves to the store sealed under
the primary key (bound to the session id) and the cookie keeps a sealed
reference. The store sees an HMAC of the id, never a usable id.
"""

from __future__ import annotations

import hashlib
import hmac

from .envelope import aad_context, seal, seal_bytes, unseal, unseal_bytes
from .keys import Key, Keyring

__all__ = ["Fallback"]


class Fallback:
    """Store and denylist keys and the sealing of records and references for one app."""

    __slots__ = ("_ctx_record", "_ctx_ref", "_deny_prefix")

    def __init__(self, *, app_namespace: str, name: str) -> None:
        self._ctx_ref = aad_context(app_namespace=app_namespace, purpose="ref", name=name)
        self._ctx_record = aad_context(app_namespace=app_namespace, purpose="record", name=name)
        self._deny_prefix = b"cookiesess/deny\x00" + app_namespace.encode() + b"\x00"

    @staticmethod
    def store_key(key: Key, sid: bytes) -> str:
        """The record's key: an HMAC of the session id under `key`."""
        # SECURITY: the store sees HMAC(sid), never a usable id (CVE-2019-16782).
        return hmac.new(key.mac_key("store-key"), sid, hashlib.sha256).hexdigest()

    def deny_key(self, sid: bytes) -> str:
        """The denylist key of a session id."""
        # Independent of the keys, so entries survive key rotation.
        return "deny:" + hashlib.sha256(self._deny_prefix + sid).hexdigest()

    def seal_ref(self, keyring: Keyring, meta: bytes) -> str:
        """Seal a reference cookie (the metadata and an empty data map)."""
        return seal(keyring, meta, purpose="ref", context=self._ctx_ref)

    def open_ref(self, keyring: Keyring, token: str) -> tuple[bytes, Key]:
        """Open a reference; raises `InvalidToken`."""
        opened = unseal(keyring, token, purpose="ref", context=self._ctx_ref)
        return opened.plaintext, opened.key

    def seal_record(self, keyring: Keyring, plaintext: bytes, sid: bytes) -> tuple[str, bytes]:
        """Return the store key and the sealed record of a session's plaintext."""
        key = self.store_key(keyring.primary, sid)
        # The record's AAD binds it to this session id: a record copied under
        # another session's key does not open.
        record = seal_bytes(keyring, plaintext, purpose="record", context=self._ctx_record + sid)
        return key, record

    def open_record(self, keyring: Keyring, record: bytes, sid: bytes) -> bytes:
        """Open a record read for session id `sid`; raises `InvalidToken`."""
        return unseal_bytes(
            keyring, record, purpose="record", context=self._ctx_record + sid
        ).plaintext
