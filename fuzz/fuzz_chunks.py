"""Fuzz target: chunk reassembly in `SessionEngine.load`.

Real tokens are sealed at import from a fixed keyring (1 to 10 chunks, store
references, tokens under a decrypt-only key and a foreign key). The input then
builds an arbitrary set of ``NAME``, ``NAME.k`` cookies around them: chunks
kept, dropped, duplicated, reordered, taken from another seal or another
cookie name, truncated, altered, or replaced with arbitrary bytes; the pairs
go through a Cookie header (first occurrence wins) and, separately, straight
into a dict (last occurrence wins).

Invariant: `SessionEngine.load` never raises and always returns a `Session`.
A session loads with data only when the chunks join to exactly one real token
sealed for that engine, and then holds that token's data; otherwise it is new
and empty. A load never writes to the store. No hang (``-timeout=1``), no
unbounded memory (``-rss_limit_mb=512``).

Input layout: byte 0 picks the engine; then each operation is one byte
(low nibble: which cookie name, high nibble: what to put there) followed by
its arguments.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from _fuzzlib import (
    RING_B,
    RING_FOREIGN,
    SAMPLE_DATA,
    Bytes,
    DictStore,
    make_engine,
    plain,
    seal_cookies,
)

from cookiesess import Session, SessionEngine
from cookiesess.cookies import chunk_name, parse_cookie_header, values_of
from cookiesess.envelope import MAX_CHUNKS, read_header
from cookiesess.exceptions import InvalidToken, SessionTooLarge

STORE = DictStore()
ENGINES: tuple[SessionEngine, ...] = (
    make_engine(),  # the default budget: 1 or 2 chunks
    make_engine(cookie_name="__Host-s", max_total_bytes=40960),  # up to 10 chunks
    make_engine(cookie_name="s", store=STORE),  # store references past the budget
)


class Token:
    """One real sealed session: its engine, chunk values and data."""

    def __init__(self, engine: int, chunks: list[str], data: dict[str, Any]) -> None:
        self.engine = engine
        self.chunks = chunks
        self.data = data


def _seal_all() -> tuple[list[Token], list[dict[str, str]]]:
    tokens: list[Token] = []
    foreign: list[dict[str, str]] = []
    n = 0
    for index, engine in enumerate(ENGINES):
        name = engine.config.cookie_name
        for data in SAMPLE_DATA:
            n += 1
            try:
                jar = seal_cookies(engine, data, seed=b"chunks/%d" % n)
            except SessionTooLarge:  # over this engine's budget
                continue
            chunks = [jar[chunk_name(name, i)] for i in range(len(jar))]
            tokens.append(Token(index, chunks, data))
        for ring in (RING_B, RING_FOREIGN):
            n += 1
            other = make_engine(
                ring,
                cookie_name=name,
                max_total_bytes=engine.config.max_total_bytes,
                store=STORE if engine.config.store is not None else None,
            )
            jar = seal_cookies(other, SAMPLE_DATA[4], seed=b"chunks/%d" % n)
            if ring is RING_B:  # opens: key b is decrypt-only in KEYRING
                chunks = [jar[chunk_name(name, i)] for i in range(len(jar))]
                tokens.append(Token(index, chunks, SAMPLE_DATA[4]))
            else:
                foreign.append(jar)
    return tokens, foreign


TOKENS, FOREIGN = _seal_all()
STORE.writes = 0
# engine index -> joined token -> data
KNOWN: list[dict[str, dict[str, Any]]] = [{} for _ in ENGINES]
for _token in TOKENS:
    KNOWN[_token.engine]["".join(_token.chunks)] = _token.data
VALUES: tuple[str, ...] = tuple(
    [c for t in TOKENS for c in t.chunks] + [v for jar in FOREIGN for v in jar.values()]
)
_CHARS = "ABCZaz09-_=+/.; \x00\x7f\xff"


def _name(base: str, slot: int) -> str:
    if slot < MAX_CHUNKS:
        return chunk_name(base, slot)
    return (f"{base}.10", f"{base}.01", f" {base}", f"{base}.-1", f"{base}.", "x")[
        slot - MAX_CHUNKS
    ]


def _value(kind: int, r: Bytes) -> str:
    if kind == 12:
        return r.take(r.u8()).decode("latin-1")
    if kind == 13:  # the k-th chunk of a real token (k from the input)
        token = TOKENS[r.u8() % len(TOKENS)]
        return token.chunks[r.u8() % len(token.chunks)]
    value = VALUES[r.u8() % len(VALUES)] if kind < 8 else VALUES[r.u16() % len(VALUES)]
    if kind in (8, 9):
        return value[: r.u16() % (len(value) + 1)]
    if kind in (10, 11) and value:
        i = r.u16() % len(value)
        return value[:i] + _CHARS[r.u8() % len(_CHARS)] + value[i + 1 :]
    return value


def _check(index: int, cookies: Mapping[str, str], session: object) -> None:
    assert isinstance(session, Session)
    if session.new:
        assert not plain(session)
        return
    name = ENGINES[index].config.cookie_name
    # One value of the name is a first chunk whose header names the count;
    # exactly those chunks (by index) must join to a real token of this
    # engine, and the data must be its data.
    for first in values_of(cookies, name):
        try:
            count = read_header(first).chunks
        except InvalidToken:
            continue
        parts = [first, *(cookies.get(chunk_name(name, i)) for i in range(1, count))]
        if None not in parts and KNOWN[index].get("".join(parts)) == plain(session):  # type: ignore[arg-type]
            return
    raise AssertionError("opened a token never sealed")


def TestOneInput(data: bytes) -> None:
    """Build a cookie set around real chunks and load it."""
    r = Bytes(data)
    index = r.u8() % len(ENGINES)
    engine = ENGINES[index]
    base = engine.config.cookie_name
    pairs: list[tuple[str, str]] = []
    while r.remaining() and len(pairs) < 32:
        op = r.u8()
        slot, kind = op & 0x0F, op >> 4
        name = _name(base, slot)
        if kind == 14:  # drop every pair of that name
            pairs = [p for p in pairs if p[0] != name]
        elif kind == 15:  # move the last pair to the front
            if pairs:
                pairs.insert(0, pairs.pop())
        else:
            pairs.append((name, _value(kind, r)))
    cookies = parse_cookie_header("; ".join(f"{k}={v}" for k, v in pairs))
    _check(index, cookies, engine.load(cookies))
    direct = dict(pairs)
    _check(index, direct, engine.load(direct))
    engine.needs_store(direct)
    assert STORE.writes == 0


if __name__ == "__main__":
    import atheris

    atheris.instrument_all()
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
