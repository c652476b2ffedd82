"""Tests for the claims SECURITY.md makes that no other test proves directly.

The last two tests keep SECURITY.md honest: every ``file::test`` it cites exists
(down to a parametrized case's id), and every cell of its "What ends a session"
table cites a test or says why none applies.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import cookiesess._opening
from cookiesess import InvalidToken, Session, SessionEngine, SessionTooLarge, _b64, codec, xaes
from cookiesess.cookies import MAX_AGE_CAP, MAX_HEADER_CHARS, SetCookie, parse_cookie_header
from cookiesess.envelope import HEADER_BYTES, MAX_CHUNKS, aad_context, read_header, seal
from cookiesess.keys import FORMAT_VERSION, Key
from cookiesess.session import SID_BYTES
from cookiesess.xaes import NONCE_BYTES, RANDOM_BLOCK_BYTES, XAESKey
from tests.helpers import NOW, SECRET_A, SECRET_B, Browser, DictStore, ring_of

ROOT = Path(__file__).resolve().parents[2]
CTX = aad_context(app_namespace="", purpose="session", name="session")
RING = ring_of(("a", SECRET_A, "primary"))


def visit(engine: SessionEngine, browser: Browser, **data: Any) -> list[str]:
    session = engine.load(browser.cookies)
    session.update(data)
    lines = engine.commit(session, browser.cookies)
    browser.apply(lines)
    return lines


class TestConstruction:
    """XAES-256-GCM with 192-bit random nonces under per-purpose HKDF subkeys."""

    def test_nonces_are_fresh_192_bit_random_values(
        self, monkeypatch: pytest.MonkeyPatch, drawn: list[bytes]
    ) -> None:
        """Every seal writes a new 24-byte nonce made of bytes drawn from os.urandom."""
        monkeypatch.setattr(xaes, "_RANDOM", xaes._Randomness())  # nothing drawn before the spy

        raws = [
            _b64.decode(seal(RING, b"same", purpose="session", context=CTX)) for _ in range(2000)
        ]

        assert {len(block) for block in drawn} == {RANDOM_BLOCK_BYTES}
        assert NONCE_BYTES * 8 == 192
        nonces = [raw[6:HEADER_BYTES] for raw in raws]
        assert len(set(nonces)) == 2000
        pool = b"|".join(drawn)
        assert all(n[:12] in pool and n[12:] in pool for n in nonces)
        assert len({raw[HEADER_BYTES:] for raw in raws}) == 2000

    @pytest.mark.parametrize("purpose", ["session", "ref", "record"])
    def test_subkeys_are_hkdf_per_purpose_with_the_version_in_info(self, purpose: str) -> None:
        """The AEAD key for a purpose is HKDF-SHA256(master, info="cookiesess/v1/<purpose>")."""
        key = Key("k", SECRET_A)
        info = b"cookiesess/v%d/%s" % (FORMAT_VERSION, purpose.encode())
        expected = HKDF(hashes.SHA256(), 32, b"cookiesess", info).derive(SECRET_A)
        nonce = bytes(range(24))

        ours = key.aead(purpose).encrypt(nonce, b"p", b"aad")  # type: ignore[arg-type]

        assert ours == XAESKey(expected).encrypt(nonce, b"p", b"aad")
        others = {"session", "ref", "record"} - {purpose}
        for other in others:
            assert ours != key.aead(other).encrypt(nonce, b"p", b"aad")  # type: ignore[arg-type]

    def test_cookie_values_hold_no_plaintext(self) -> None:
        """Neither the data nor the session id appear in the cookie, raw or base64-decoded."""
        engine = SessionEngine(RING, clock=lambda: NOW, max_total_bytes=12000)
        browser = Browser()
        marker = "PLAINTEXT-MARKER-0123456789"
        visit(engine, browser, secret=marker, pad=marker * 150)
        sid = engine.load(browser.cookies)._state.sid
        token = "".join(browser.jar[k] for k in sorted(browser.jar))

        assert len(browser.jar) >= 2
        assert marker not in token
        raw = _b64.decode(token)
        assert marker.encode() not in raw
        assert sid not in raw

    def test_nothing_is_parsed_before_authentication(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A token that fails the AEAD never reaches the CBOR decoder or the metadata parser."""
        calls: list[str] = []
        monkeypatch.setattr(codec, "decode", lambda data: calls.append("decode"))
        monkeypatch.setattr(cookiesess._opening, "unpack", lambda *a: calls.append("parse"))
        engine = SessionEngine(RING, clock=lambda: NOW)
        token = seal(RING, b"\xa0", purpose="session", context=CTX)
        tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]

        session = engine.load({"session": tampered})

        assert session.new
        assert calls == []

    def test_one_aead_attempt_per_token_whatever_the_keyring(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Opening costs one decryption, never a trial over keys or chunk arrangements."""
        keys = [("p", SECRET_A, "primary")] + [
            (f"d{i}", bytes((i * 7 + j) % 256 for j in range(32)), "decrypt") for i in range(1, 30)
        ]
        engine = SessionEngine(ring_of(*keys), clock=lambda: NOW, max_total_bytes=12000)
        browser = Browser()
        visit(engine, browser, blob="z" * 6000)
        assert len(browser.jar) >= 2
        attempts: list[int] = []
        real = XAESKey.decrypt

        def counting(self: XAESKey, *args: Any) -> bytes:
            attempts.append(1)
            return real(self, *args)

        monkeypatch.setattr(XAESKey, "decrypt", counting)

        cookies = browser.cookies
        variants = [
            cookies,
            dict(reversed(list(cookies.items()))),
            {**cookies, "session.1": cookies["session"]},
            {**cookies, "session.1": cookies["session.1"][:-4] + "AAAA"},
        ]
        per_load = []
        for variant in variants:
            attempts.clear()
            engine.load(variant)
            per_load.append(len(attempts))

        assert per_load[:2] == [1, 1]
        assert max(per_load) == 1


class TestSizes:
    """Bounded input and output."""

    def test_cookie_header_is_read_up_to_64_kib_only(self) -> None:
        """Cookies past the first 64 KiB of header are ignored (fail closed)."""
        padding = "p=" + "x" * MAX_HEADER_CHARS

        assert parse_cookie_header(f"a=1; {padding}; session=late") == {
            "a": "1",
            "p": "x" * (MAX_HEADER_CHARS - 7),
        }

    def test_at_most_ten_chunks(self) -> None:
        """A header claiming 11 chunks is malformed; sessions needing more are too large."""
        token = seal(RING, b"x", purpose="session", context=CTX)
        raw = bytearray(_b64.decode(token))
        raw[1] = (raw[1] & 0xF0) | (MAX_CHUNKS + 1)

        with pytest.raises(InvalidToken):
            read_header(_b64.encode(bytes(raw)))
        engine = SessionEngine(RING, clock=lambda: NOW, max_total_bytes=40960)
        session = engine.load({})
        session["blob"] = "y" * 42000
        with pytest.raises(SessionTooLarge):
            engine.commit(session, {})

    def test_max_age_is_capped_at_400_days(self) -> None:
        """Browsers cap cookie lifetime at 400 days (RFC 6265bis); so do we."""
        line = SetCookie(name="s", value="v", max_age=10**9).render()

        assert f"Max-Age={MAX_AGE_CAP}" in line
        assert MAX_AGE_CAP == 400 * 24 * 3600


class TestClientSideLimits:
    """What a cookie session cannot do, and the revocation options."""

    def test_a_copied_cookie_replays_until_its_deadline(self) -> None:
        """Logging out in one browser does not disable a copy taken earlier; the deadline does."""
        reasons: list[str] = []
        engine = SessionEngine(
            RING, clock=lambda: NOW, absolute_timeout=3600, on_reject=reasons.append
        )
        victim = Browser()
        visit(engine, victim, user="alice")
        stolen = dict(victim.cookies)

        session = engine.load(victim.cookies)
        session.destroy()
        victim.apply(engine.commit(session, victim.cookies))

        assert victim.jar == {}
        assert engine.load(stolen, now=NOW + 3599) == {"user": "alice"}
        assert engine.load(stolen, now=NOW + 3600).new
        assert reasons == ["expired"]

    def test_retiring_a_key_revokes_every_session_under_it(self) -> None:
        """Emergency rotation: a keyring without the compromised key rejects its cookies."""
        reasons: list[str] = []
        browser = Browser()
        visit(SessionEngine(RING, clock=lambda: NOW), browser, user="alice")
        emergency = ring_of(("a", SECRET_A, "retired"), ("b", SECRET_B, "primary"))
        engine = SessionEngine(emergency, clock=lambda: NOW, on_reject=reasons.append)

        session = engine.load(browser.cookies)

        assert session.new
        assert session == {}
        assert reasons == ["unknown_key"]


class TestStoreFallback:
    """Only a 256-bit reference in the cookie; HMAC'd keys and sealed values in the store."""

    def test_session_ids_are_256_random_bits(self) -> None:
        """Ids come from the OS CSPRNG: 32 bytes, never repeated."""
        sids = {Session()._state.sid for _ in range(5000)}

        assert SID_BYTES == 32
        assert len(sids) == 5000
        assert all(len(s) == SID_BYTES for s in sids)

    def test_session_ids_are_drawn_from_os_urandom(self, drawn: list[bytes]) -> None:
        """A new session's id, and the one `regenerate` gives, are `os.urandom(32)` itself."""
        session = Session()
        session.regenerate()

        assert [len(d) for d in drawn] == [SID_BYTES, SID_BYTES]
        assert session._state.retired == (drawn[0],)
        assert session._state.sid == drawn[1]

    def test_store_key_is_an_hmac_of_the_id(self) -> None:
        """The store key is HMAC-SHA256 of the id under a derived key: the id never appears."""
        store = DictStore()
        engine = SessionEngine(RING, clock=lambda: NOW, store=store)
        browser = Browser()
        visit(engine, browser, big="m" * 9000)
        session = engine.load(browser.cookies)
        mac_key = RING.primary.mac_key("store-key")

        assert list(store.data) == [
            hmac.new(mac_key, session._state.sid, hashlib.sha256).hexdigest()
        ]
        assert len(browser.jar["session"]) < 300


SECURITY_MD = ROOT / "SECURITY.md"
CITED = re.compile(r"`(tests/[\w/]+\.py)::([\w:\[\]-]+)`")


def test_every_test_cited_in_security_md_exists() -> None:
    """Each ``file::test`` SECURITY.md cites names a file and a test defined in it."""
    text = SECURITY_MD.read_text()
    cited = CITED.findall(text)
    assert len(cited) >= 30

    missing = []
    for path, name in cited:
        file = ROOT / path
        if not file.exists():
            missing.append(f"{path} (no such file)")
            continue
        source = file.read_text()
        for part in name.split("[")[0].split("::"):
            if not re.search(rf"^\s*(?:async )?(?:def|class) {re.escape(part)}\b", source, re.M):
                missing.append(f"{path}::{name}")
        # A parametrized case: each part of its id must be a literal in the file.
        for param in name.partition("[")[2].rstrip("]").split("-") if "[" in name else ():
            if f'"{param}"' not in source and f"'{param}'" not in source:
                missing.append(f"{path}::{name} (no parameter {param!r})")
    assert not missing, missing


ENDS = ["Sealed cookie", "Store reference", "Legacy cookie", "Duplicated names"]
MECHANISMS = [
    "Idle timeout",
    "Absolute timeout",
    "Generation",
    "Denylist",
    "Key retirement",
    "`destroy()`",
    "`regenerate()`",
    "Migration deadline",
]


def test_what_ends_a_session_table_is_complete() -> None:
    """Every mechanism x path cell of "What ends a session" cites a test or says n/a, why."""
    text = SECURITY_MD.read_text()
    section = text.split("\n## What ends a session\n", 1)[1].split("\n## ", 1)[0]
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        for line in section.splitlines()
        if line.startswith("| ")
    ]
    assert rows[0] == ["Mechanism", *ENDS]
    body = rows[1:]
    assert [row[0].split(" (")[0] for row in body] == MECHANISMS
    for row in body:
        assert len(row) == 1 + len(ENDS), row[0]
        for path, cell in zip(ENDS, row[1:], strict=True):
            cites = CITED.search(cell) is not None
            excused = cell.startswith("n/a: ") or cell.startswith("n/a for ")
            assert cites or excused, f"{row[0]} x {path}: cite a test or say n/a and why"
            assert cites or len(cell) > len("n/a: ") + 20, f"{row[0]} x {path}: say why"
