"""The generated tamper corpus: zero acceptances, only InvalidToken, always a fresh session."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from cookiesess import InvalidToken, SessionEngine, _b64
from cookiesess.envelope import HEADER_CHARS, unseal
from tests.helpers import NOW, SECRET_A, Browser, ring_of

SECRET_B = bytes(range(100, 132))
RETIRED = bytes(range(50, 82))
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
RING = ring_of(("a", SECRET_A, "primary"), ("b", SECRET_B, "decrypt"), ("r", RETIRED, "retired"))


def engine(**options: object) -> SessionEngine:
    return SessionEngine(RING, clock=lambda: NOW, idle_timeout=3600, **options)  # type: ignore[arg-type]


def sealed(data: dict[str, object], *, now: int = NOW, **options: object) -> dict[str, str]:
    eng = engine(**options)
    session = eng.load({}, now=now)
    session.update(data)
    browser = Browser()
    browser.apply(eng.commit(session, {}, now=now))
    return browser.cookies


SINGLE = sealed({"user": "alice", "role": "admin"})["session"]
CHUNKED = sealed({"blob": "c" * 6000}, max_total_bytes=12_000)
OTHER_CHUNKED = sealed({"blob": "d" * 6000}, max_total_bytes=12_000)
# A token sealed under the retired key, built with a ring where it was primary.
UNDER_RETIRED = SessionEngine(ring_of(("r", RETIRED, "primary")), clock=lambda: NOW)


def single_token_mutations() -> Iterator[tuple[str, str]]:
    raw = _b64.decode(SINGLE)
    for i in range(len(raw) * 8):
        flipped = bytearray(raw)
        flipped[i // 8] ^= 1 << (i % 8)
        yield "bit flip", _b64.encode(bytes(flipped))
    for n in range(len(SINGLE)):
        yield "truncation", SINGLE[:n]
    for n in range(1, 65):
        yield "append", SINGLE + "A" * n
        yield "append", SINGLE + ALPHABET[n % 64] * n
    for pos, c in itertools.product(range(len(SINGLE)), ALPHABET):
        if SINGLE[pos] != c:
            yield "char swap", SINGLE[:pos] + c + SINGLE[pos + 1 :]
    for version in range(256):
        if version != raw[0]:
            yield "version", _b64.encode(bytes([version]) + raw[1:])
    for kind_count in range(256):
        if kind_count != raw[1]:
            yield "kind/count", _b64.encode(raw[:1] + bytes([kind_count]) + raw[2:])
    for key in RING.keys:
        if key.wire_id != raw[2:6]:
            yield "key id swapped", _b64.encode(raw[:2] + key.wire_id + raw[6:])
    yield "unknown key id", _b64.encode(raw[:2] + b"\xde\xad\xbe\xef" + raw[6:])


def whole_cookie_cases() -> Iterator[tuple[str, dict[str, str], SessionEngine]]:
    base = engine()
    yield "moved to another cookie name", {"other": SINGLE}, engine(cookie_name="other")
    yield "another app namespace", {"session": SINGLE}, engine(app_namespace="shop")
    chunked = engine(max_total_bytes=12_000)
    names = sorted(CHUNKED)
    yield "chunk missing", {k: v for k, v in CHUNKED.items() if k != names[-1]}, chunked
    swapped = dict(CHUNKED)
    swapped[names[0]], swapped[names[1]] = CHUNKED[names[1]], CHUNKED[names[0]]
    yield "chunks reordered", swapped, chunked
    yield "chunk duplicated", {**CHUNKED, names[1]: CHUNKED[names[0]]}, chunked
    yield (
        "chunk spliced from another session",
        {**CHUNKED, names[1]: OTHER_CHUNKED[names[1]]},
        chunked,
    )
    yield "first chunk alone", {"session": CHUNKED["session"]}, chunked
    raw = _b64.decode(CHUNKED["session"][:HEADER_CHARS])
    for delta in (-1, 1):
        header = raw[:1] + bytes([raw[1] + delta]) + raw[2:]
        yield (
            f"chunk count {delta:+d}",
            {**CHUNKED, "session": _b64.encode(header) + CHUNKED["session"][HEADER_CHARS:]},
            chunked,
        )
    yield "absolute expiry", sealed({"a": 1}, now=NOW - 15 * 24 * 3600), base
    yield "idle expiry", sealed({"a": 1}, now=NOW - 3600), base
    yield "issued beyond skew", sealed({"a": 1}, now=NOW + 61), base
    browser = Browser()
    session = UNDER_RETIRED.load({})
    session["a"] = 1
    browser.apply(UNDER_RETIRED.commit(session, {}))
    yield "retired key", browser.cookies, base
    yield "garbage", {"session": "%%%"}, base
    yield "empty", {"session": ""}, base


def test_tamper_corpus_has_zero_acceptances() -> None:
    """Every mutation of a real token is refused by the envelope and the engine."""
    from cookiesess.envelope import aad_context

    ctx = aad_context(app_namespace="", purpose="session", name="session")
    eng = engine()
    counts: dict[str, int] = {}
    for kind, token in single_token_mutations():
        counts[kind] = counts.get(kind, 0) + 1
        with pytest.raises(InvalidToken):
            unseal(RING, token, purpose="session", context=ctx)
        session = eng.load({"session": token})
        assert session.new, kind
        assert session == {}, kind
    for kind, cookies, case_engine in whole_cookie_cases():
        counts[kind] = counts.get(kind, 0) + 1
        session = case_engine.load(cookies)
        assert session.new, kind
        assert session == {}, kind
    total = sum(counts.values())
    assert total > 10_000
    print(f"tamper corpus: {total} cases", counts)


def test_untampered_controls_open() -> None:
    """The unmodified tokens of the corpus do open (so the corpus tests something)."""
    assert engine().load({"session": SINGLE}) == {"user": "alice", "role": "admin"}
    assert engine(max_total_bytes=12_000).load(CHUNKED)["blob"] == "c" * 6000


def test_reasons_are_reported() -> None:
    """Each class of rejection carries its own reason code for metrics."""
    reasons: list[str] = []
    eng = engine(on_reject=reasons.append)
    raw = _b64.decode(SINGLE)
    eng.load({"session": SINGLE[:-3] + ("AAA" if SINGLE[-3:] != "AAA" else "BBB")})
    eng.load({"session": _b64.encode(raw[:2] + b"\xde\xad\xbe\xef" + raw[6:])})
    eng.load({"session": "!"})
    eng.load(sealed({"a": 1}, now=NOW - 3600))
    chunked = engine(max_total_bytes=12_000, on_reject=reasons.append)
    chunked.load({"session": CHUNKED["session"]})
    assert reasons == ["auth_failed", "unknown_key", "malformed", "expired", "chunk_missing"]
