"""Rebuild the seed corpora under fuzz/corpus/<target>/ deterministically.

Usage: ``python fuzz/make_corpus.py`` in the dev environment (Hypothesis,
itsdangerous and Django make some of the seeds). Python puts ``fuzz/`` on the
import path for the script, so the harnesses import as modules.

Seeds are small and curated: real tokens and Cookie headers sealed with the
harnesses' fixed keys, nonces and ids; chunk sets kept, dropped, reordered and
spliced; valid encodings of Hypothesis-generated session values; the RFC 8949
Appendix A examples; legacy Flask, Starlette and Django cookies; and every
input that once crashed a harness (``crash-*``). File names are content
hashes, so a rebuild with unchanged inputs is byte-identical.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sys
import types
from base64 import b64encode
from pathlib import Path
from typing import Any

import cbor2
import fuzz_chunks
import fuzz_codec
import fuzz_engine_load
import fuzz_unseal
from _fuzzlib import (
    LEGACY_DATA,
    LEGACY_SECRET,
    NOW,
    header_of,
)

from cookiesess import (
    _b64,
    codec,
)
from cookiesess.exceptions import CodecError

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
TARGETS = ("cookie_header", "chunks", "unseal", "codec", "engine_load")

# RFC 8949 Appendix A, one example per distinct shape (integers at each
# width, bignums, floats of each size and their specials, simple values,
# tags, strings, arrays, maps, and the indefinite-length forms).
RFC8949_APPENDIX_A = (
    "00", "17", "1818", "1903e8", "1a000f4240", "1b000000e8d4a51000",
    "1bffffffffffffffff", "c249010000000000000000", "3bffffffffffffffff",
    "c349010000000000000000", "20", "3903e7", "f90000", "f98000", "f93c00",
    "fb3ff199999999999a", "fa47c35000", "fb7e37e43c8800759c", "f90001",
    "f97c00", "f97e00", "fa7fc00000", "fbfff0000000000000", "f4", "f5",
    "f6", "f7", "f0", "f8ff", "c074323031332d30332d32315432303a30343a30305a",
    "c11a514b67b0", "d74401020304", "d818456449455446",
    "d82076687474703a2f2f7777772e6578616d706c652e636f6d", "4401020304",
    "60", "62225c", "64f0908591", "83010203", "8301820203820405",
    "98190102030405060708090a0b0c0d0e0f101112131415161718181819", "a0",
    "a201020304", "a26161016162820203", "826161a161626163",
    "5f42010243030405ff", "7f657374726561646d696e67ff", "9f018202039f0405ffff",
    "bf61610161629f0203ffff",
)  # fmt: skip


def _write(target: str, data: bytes, prefix: str = "") -> None:
    name = prefix + hashlib.sha256(data).hexdigest()[:16]
    (CORPUS / target / name).write_bytes(data)


def cookie_header() -> None:
    """Real headers in each input shape, plus the parser's edge cases."""
    headers = [header_of(jar).encode() for _, jar in fuzz_engine_load.SEALED[:5]]
    for shape, header in enumerate(headers[:4]):
        _write("cookie_header", bytes((shape,)) + header)
    edge_cases = [
        b"a=1; b=2, c=3;;  d = 4 ;e=;=f; g",
        b'q="quoted; value"; s=\\"x',
        b"a=1\nb=2\nsession=AAA\nsession.1=BBB",  # shape 2 splits lines
        b"\tname\t=\tvalue\t;name=second",
        b"\x00=\xff; \xe9t\xe9=\xe0; x=\r\n",
        b";" * 300 + b"a=1",
        b"k=v; " * 300,
        b"=" * 50,
        b"",
    ]
    for n, body in enumerate(edge_cases):
        _write("cookie_header", bytes((n % 4,)) + body)
    _write("cookie_header", b"\x03\xff" + b"x=" + b"y" * 300 + b"; ")  # repeated > 64 KiB


def chunks() -> None:
    """Chunk sets around real tokens: exact, reordered, dropped, duplicated, spliced."""
    tokens = fuzz_chunks.TOKENS
    real = 13 << 4  # op kind 13: chunk k of token t

    def exact(t: int, order: list[int]) -> bytes:
        token = tokens[t]
        return bytes((token.engine,)) + b"".join(bytes((real | i, t, i)) for i in order)

    multi = [t for t, token in enumerate(tokens) if len(token.chunks) > 1]
    singles = [t for t, token in enumerate(tokens) if len(token.chunks) == 1]
    for t in singles[::3]:
        _write("chunks", exact(t, [0]))
    for t in multi:
        count = len(tokens[t].chunks)
        _write("chunks", exact(t, list(range(count))))
        _write("chunks", exact(t, list(range(count))[::-1]))
        _write("chunks", exact(t, list(range(count - 1))))  # last chunk missing
    t = multi[-1]
    count = len(tokens[t].chunks)
    order = list(range(count))
    _write("chunks", exact(t, [*order, 1]))  # duplicate chunk 1
    swapped = exact(t, order)
    _write("chunks", swapped + bytes((real | 1, multi[0], 1)))  # spliced from another seal
    _write("chunks", swapped + bytes((0x01 | 12 << 4, 5)) + b"AAAAA")  # raw bytes chunk
    _write("chunks", swapped + bytes((0x01 | 8 << 4, 7, 0, 40)))  # truncated
    _write("chunks", swapped + bytes((0x0B | 0 << 4, 3, 0xE1, 0xF0)))  # NAME.01, drop, move


def unseal() -> None:
    """Real tokens as text, as bytes, and under each mutation kind."""
    pool = fuzz_unseal.POOL
    for i in range(0, len(pool), 9):
        ctx = fuzz_unseal.REAL.get(pool[i], (0, b""))[0]
        # One mutation, kind 6 (append) of 0 bytes: the real token unchanged.
        _write("unseal", bytes((2, ctx, i, 0, 6, 0, 0, 0)))
        _write("unseal", bytes((0, ctx)) + _b64.encode(pool[i]).encode())
    for kind in range(7):
        _write("unseal", bytes((2, 0, 0, 0, kind, 0, 45, 3, 1, 2, 3, 4)))
    _write("unseal", bytes((3, 0, 0, 0, 6, 0, 0, 0, 0, 10, 12)))  # text: '=' inside
    _write("unseal", bytes((1, 0)) + b"\x01\x01" + b"\x00" * 60)  # raw header, zero key id
    _write("unseal", b"\x00\x00" + b"A" * 41)  # bad length
    _write("unseal", b"\x00\x00")


def _hypothesis_values() -> list[dict[str, Any]]:
    """Session values generated by Hypothesis, derandomized (same every run)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**130), max_value=2**130),
        st.floats(),
        st.text(max_size=20),
        st.binary(max_size=20),
        st.datetimes(timezones=st.just(dt.UTC)),
        st.dates(),
        st.uuids(),
        st.decimals(allow_nan=False, allow_infinity=False, places=3),
        st.frozensets(st.text(max_size=4), max_size=3),
    )
    values = st.recursive(
        scalars,
        lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(st.text(max_size=6), c)),
        max_leaves=12,
    )
    out: list[dict[str, Any]] = []

    @settings(
        derandomize=True,
        database=None,
        max_examples=30,
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(st.dictionaries(st.text(max_size=8), values, max_size=5))
    def collect(value: dict[str, Any]) -> None:
        out.append(value)

    collect()
    return out


def codec_corpus() -> None:
    """Valid encodings (Hypothesis values, RFC 8949 examples) in every mode, and crashes."""
    encodings: list[bytes] = []
    for value in _hypothesis_values():
        try:
            encoded = codec.encode(value)
        except CodecError:
            continue
        if encoded not in encodings and len(encoded) < 2000:
            encodings.append(encoded)
    for n, encoded in enumerate(encodings[:20]):
        mode = (0, 2, 3, 4)[n % 4]
        params = {
            0: b"",
            # times = now (u16 0x8000, u8 0) x3, no deadline, generation 0,
            # cookie code 0, a 32-byte id, engine without timeouts.
            2: b"\x80\x00\x00" * 3 + b"\x01" + bytes(4) + b"\x01" * 32 + b"\x00",
            3: b"\x00\x01" + bytes(14),  # one mutation: wrap in a map
            4: bytes(8),  # re-encode as is, then commit and reload
        }[mode]
        _write("codec", bytes((mode,)) + params + encoded)
    for example in RFC8949_APPENDIX_A:
        _write("codec", b"\x01" + bytes.fromhex(example))
    # Past crashes: values the encoder accepted and the decoder then refused.
    # Mode 4, params: leaf?, leaf index, nesting depth, then zeros (lists).
    leaves = fuzz_codec.LEAVES
    for leaf, depth in (
        (2**64, 14),  # a bignum at the depth limit
        (set(), 14),  # an empty set at the depth limit
        (leaves[8], 12),  # a Decimal with a bignum mantissa
        (leaves[17], 0),  # a datetime with a seconds offset
    ):
        index = next(i for i, x in enumerate(leaves) if x is leaf or x == leaf)
        params = bytes((1, index, depth, 0, 0, 0, 0, 0))
        _write("codec", b"\x04" + params + b"\xa0", prefix="crash-")
    # Items the encoder never writes, so the decoder must refuse them (each in
    # a one-key map, mode 1), and sets of every scalar at depth (mode 4).
    for item in (
        "a1416101",  # a bytes map key
        "f7",  # undefined
        "f0",  # a simple value
        "c0" + cbor2.dumps("2026-01-01T00:00:00+00:00:30").hex(),  # a seconds offset
        "c35880" + "ff" * 128,  # -2**1024
        "c48200" + cbor2.dumps(10**300).hex(),  # a Decimal of 301 digits
        "d90102820101",  # a set with a duplicate
        "d9010283f6f9410020",  # a set of None, 2.5 and -1
    ):
        _write("codec", b"\x01" + bytes.fromhex(item), prefix="readback-")
    for index in range(len(leaves) - 7, len(leaves)):
        _write("codec", b"\x04" + bytes((1, index, 12, 0, 0, 0, 0, 0)) + b"\xa0")


def _legacy_cookies() -> list[bytes]:
    import itsdangerous
    from django.core import signing

    class Signer(itsdangerous.TimestampSigner):
        def get_timestamp(self) -> int:
            return NOW

    flask = itsdangerous.URLSafeTimedSerializer(
        LEGACY_SECRET,
        salt="cookie-session",
        signer=Signer,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
    ).dumps(LEGACY_DATA[0])
    flask_big = itsdangerous.URLSafeTimedSerializer(
        LEGACY_SECRET,
        salt="cookie-session",
        signer=Signer,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
    ).dumps(LEGACY_DATA[3])  # compressed ('.' prefix)
    starlette = (
        Signer(LEGACY_SECRET).sign(b64encode(json.dumps(LEGACY_DATA[1]).encode())).decode("ascii")
    )
    real_time = signing.time
    signing.time = types.SimpleNamespace(time=lambda: NOW)  # type: ignore[assignment]
    try:
        django = signing.TimestampSigner(
            key=LEGACY_SECRET,
            salt="django.contrib.sessions.backends.signed_cookies",
            fallback_keys=[],
        ).sign_object(LEGACY_DATA[2], compress=True)
    finally:
        signing.time = real_time
    return [
        b"session=" + flask.encode(),
        b"session=" + flask_big.encode(),
        b"starlette=" + starlette.encode(),
        b"sessionid=" + django.encode(),
        b"sessionid=" + django.encode()[:-2] + b"xx",
    ]


def engine_load() -> None:
    """Real Cookie headers for each engine, legacy cookies, and foreign noise."""
    for index, jar in fuzz_engine_load.SEALED:
        _write("engine_load", bytes((index,)) + header_of(jar).encode())
    legacy = _legacy_cookies()
    for cookie in legacy:
        _write("engine_load", b"\x02" + cookie)
    _write("engine_load", b"\x02" + b"; ".join(legacy[2:4]))
    index, jar = fuzz_engine_load.SEALED[4]
    header = header_of(jar).encode()
    _write("engine_load", bytes((index,)) + b"_ga=GA1.2.3; " + header + b", theme=dark")
    _write("engine_load", b"\x00session=" + header.split(b"=", 1)[1][:39])
    _write("engine_load", b"\x01s=AQ" + b"A" * 60)


def main() -> None:
    """Rebuild every corpus directory from scratch."""
    if os.environ.get("PYTHONHASHSEED") != "0":
        # Sets encode in iteration order, which follows str hashing.
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, *sys.argv])  # noqa: S606
    for target in TARGETS:
        path = CORPUS / target
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
    cookie_header()
    chunks()
    unseal()
    codec_corpus()
    engine_load()
    files = list(CORPUS.rglob("*"))
    size = sum(f.stat().st_size for f in files if f.is_file())
    count = sum(1 for f in files if f.is_file())
    print(f"{count} files, {size} bytes")


if __name__ == "__main__":
    main()
