"""Remembered tokens: a cookie seen before opens cheaper and exactly as it did.

The opener remembers the session tokens it authenticated. A remembered token
must still pass the admission on every request, hand out data no earlier
request could have changed, and never let a token it did not authenticate in.
"""

from __future__ import annotations

import datetime as dt
import gc
import tracemalloc
from collections.abc import Callable
from typing import ClassVar
from zoneinfo import ZoneInfo

import pytest

from cookiesess import Keyring, SessionEngine, _b64, codec
from cookiesess import _opening as opening
from cookiesess.stores import MemoryStore
from tests.helpers import NOW, SECRET_A, SECRET_B, Browser, ring_of

RING = ring_of(("a", SECRET_A, "primary"))
TOKEN_MEMORY_BOUND = 15_000
"""Bytes a remembered token may hold in memory (SECURITY.md states 2,048 of them)."""


def sealed(engine: SessionEngine, data: dict[str, object], *, now: int = NOW) -> dict[str, str]:
    session = engine.load({}, now=now)
    session.update(data)
    browser = Browser()
    browser.apply(engine.commit(session, {}, now=now))
    return browser.cookies


def remembered(engine: SessionEngine, token: str) -> opening._Known:
    """What `engine` remembers of `token`."""
    return engine._opener._known[token]


def rejecting(reasons: list[str], **options: object) -> SessionEngine:
    return SessionEngine(RING, on_reject=reasons.append, **options)  # type: ignore[arg-type]


def test_a_remembered_token_still_expires() -> None:
    """Timeouts are checked on every request, not when the token was first opened."""
    reasons: list[str] = []
    engine = rejecting(reasons, idle_timeout=600, absolute_timeout=3600)
    cookies = sealed(engine, {"user": "alice"})

    assert engine.load(cookies, now=NOW + 10) == {"user": "alice"}
    assert engine.load(cookies, now=NOW + 20) == {"user": "alice"}
    idle = engine.load(cookies, now=NOW + 600)

    assert idle.new
    assert idle == {}
    assert reasons == ["expired"]


def test_a_remembered_token_is_revoked_by_a_new_generation() -> None:
    """The generation check runs on a remembered token too."""
    current = {"generation": 0}
    reasons: list[str] = []
    engine = rejecting(reasons, generation_check=lambda s: current["generation"])
    cookies = sealed(engine, {"user": "alice"})
    assert engine.load(cookies, now=NOW) == {"user": "alice"}

    current["generation"] = 1
    session = engine.load(cookies, now=NOW)

    assert session.new
    assert reasons == ["revoked"]


@pytest.mark.parametrize(
    ("data", "change"),
    [
        ({"user": "alice", "n": 1}, lambda s: s.update(n=2, extra="x")),
        ({"user": "alice", "n": 1}, lambda s: s.pop("user")),
        ({"cart": [1, 2], "prefs": {"a": {"b": 1}}}, lambda s: s["cart"].append(3)),
        ({"cart": [1, 2], "prefs": {"a": {"b": 1}}}, lambda s: s["prefs"]["a"].update(b=9)),
        ({"tags": {"x", "y"}}, lambda s: s["tags"].add("z")),
        ({"at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "blob": b"\x00"}, lambda s: s.clear()),
    ],
)
def test_changes_in_one_request_never_reach_the_next(
    data: dict[str, object], change: object
) -> None:
    """Every load of a remembered token gets data as sealed, whatever earlier requests did."""
    engine = SessionEngine(RING)
    cookies = sealed(engine, data)
    for _ in range(3):
        session = engine.load(cookies, now=NOW)
        assert session == data
        assert not session.new
        change(session)  # type: ignore[operator]
        # The request's own view changed; nothing was committed.
        assert engine.load(cookies, now=NOW) == data


def test_a_remembered_session_state_is_per_request() -> None:
    """regenerate(), max_age and touch() on one request leave the next load as sealed."""
    engine = SessionEngine(RING)
    cookies = sealed(engine, {"user": "alice"})
    first = engine.load(cookies, now=NOW)
    sid = first.id
    first.regenerate()
    first.max_age = 5

    again = engine.load(cookies, now=NOW)

    assert again.id == sid
    assert again.max_age == engine.config.max_age
    assert engine.commit(again, cookies, now=NOW) == []


def test_a_tampered_token_is_refused_after_the_original_was_remembered() -> None:
    """Only the exact authenticated string is remembered: one changed byte anywhere fails."""
    reasons: list[str] = []
    engine = rejecting(reasons)
    token = sealed(engine, {"user": "alice"})["session"]
    assert engine.load({"session": token}, now=NOW) == {"user": "alice"}

    raw = _b64.decode(token)
    after_key_id = 6  # past the version, kind, chunk count and key id
    for i in range(after_key_id, len(raw)):  # every byte of the nonce, ciphertext, tag
        flipped = _b64.encode(raw[:i] + bytes([raw[i] ^ 1]) + raw[i + 1 :])
        assert engine.load({"session": flipped}, now=NOW).new

    assert reasons == ["auth_failed"] * (len(raw) - after_key_id)
    assert engine.load({"session": token}, now=NOW) == {"user": "alice"}


class _Guess(str):
    """A cookie value that records every comparison made with it whose sides differ."""

    compared: ClassVar[list[tuple[str, str]]] = []
    __hash__ = str.__hash__

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str) and str(self) != str(other):
            _Guess.compared.append((str(self), str(other)))
        return str.__eq__(self, other)


def test_a_wrong_guess_is_never_compared_with_a_remembered_token() -> None:
    """Comparing strings stops at the first difference, so its time tells how much of
    a guess was right: a guess must never be compared with a remembered token.

    The guesses keep all of the token but one character (the tail, where the GCM tag
    sits, among them); one holds a non-ASCII character, as a latin-1 Cookie header may.
    Each is refused; only the token itself opens from memory.
    """
    reasons: list[str] = []
    engine = rejecting(reasons)
    token = sealed(engine, {"user": "alice"})["session"]
    assert engine.load({"session": token}, now=NOW) == {"user": "alice"}
    positions = range(8, len(token))  # past the version, kind, chunk count and key id
    guesses = [token[:i] + ("B" if token[i] == "A" else "A") + token[i + 1 :] for i in positions]
    guesses.append(token[:20] + "\u00e9" + token[21:])
    _Guess.compared.clear()

    for guess in guesses:
        assert engine.load({"session": _Guess(guess)}, now=NOW).new
    assert engine.load({"session": _Guess(token)}, now=NOW) == {"user": "alice"}

    assert _Guess.compared == []
    assert len(reasons) == len(guesses)


@pytest.mark.parametrize("opened", [True, False], ids=["opened", "only sealed"])
def test_a_keyring_without_the_key_forgets_the_tokens_it_opened(opened: bool) -> None:
    """Replacing the engine's keyring drops what the old one authenticated or sealed."""
    reasons: list[str] = []
    engine = rejecting(reasons)
    cookies = sealed(engine, {"user": "alice"})
    if opened:
        assert engine.load(cookies, now=NOW) == {"user": "alice"}

    engine.keyring = Keyring([ring_of(("b", SECRET_B, "primary")).primary])

    assert engine.load(cookies, now=NOW).new
    assert reasons == ["unknown_key"]


def test_a_token_under_a_decrypt_key_is_resealed_every_time() -> None:
    """A remembered token opened under an old key still asks for a re-seal."""
    old = SessionEngine(ring_of(("a", SECRET_A, "primary")))
    cookies = sealed(old, {"user": "alice"})
    rotated = SessionEngine(ring_of(("b", SECRET_B, "primary"), ("a", SECRET_A, "decrypt")))

    for _ in range(2):
        session = rotated.load(cookies, now=NOW)
        assert session == {"user": "alice"}
        assert rotated.commit(session, cookies, now=NOW) != []


def test_the_memory_of_tokens_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the bound every remembered token is forgotten at once; all still open."""
    monkeypatch.setattr(opening, "KNOWN_TOKENS", 8)
    engine = SessionEngine(RING)
    jars = [sealed(engine, {"n": n}) for n in range(20)]

    for n, cookies in enumerate(jars):
        assert engine.load(cookies, now=NOW) == {"n": n}
        assert len(engine._opener._known) <= 8
    assert [engine.load(c, now=NOW)["n"] for c in jars] == list(range(20))


@pytest.mark.parametrize(
    "data",
    [
        {"pair": (1, 2), "frozen": frozenset({"a"})},
        {"at": dt.datetime(2026, 1, 1, 12, tzinfo=ZoneInfo("Europe/Paris"))},
        {"flat": "yes", "n": 2**70},
    ],
)
def test_a_remembered_token_reads_as_any_other_process_would(
    data: dict[str, object],
) -> None:
    """A remembered token opens to what a process that never saw it reads (tuples,
    zones and bignums included), however many times."""
    engine = SessionEngine(RING)
    cookies = sealed(engine, data)

    elsewhere = SessionEngine(RING).load(cookies, now=NOW)
    for _ in range(3):
        here = engine.load(cookies, now=NOW)
        assert here == elsewhere
        assert [type(v) for v in here.values()] == [type(v) for v in elsewhere.values()]
        assert [getattr(v, "tzinfo", None) for v in here.values()] == [
            getattr(v, "tzinfo", None) for v in elsewhere.values()
        ]
        assert here.id == elsewhere.id
        assert engine.commit(here, cookies, now=NOW) == []


NESTED = {
    "cart": [{"sku": "a", "qty": 1}, {"sku": "a", "qty": 1}],
    "flags": {"empty_list": [], "empty_map": {}, "deep": {"a": {"b": [1, [2, [3]]]}}},
    "tags": {"b", "a", 3},
    "numbers": [2**70, -(2**64), -0.0, 1.5e300, True, None],
    "blobs": [b"\x00\xff", ""],
}


def shape(value: object) -> object:
    """The value with every type spelled out (nested; -0.0 apart from 0.0)."""
    if isinstance(value, dict):
        return ("dict", [(k, shape(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        return (type(value).__name__, [shape(v) for v in value])
    if isinstance(value, set | frozenset):
        return (type(value).__name__, sorted(map(repr, value)))
    if isinstance(value, float):
        return ("float", value.hex())
    return (type(value).__name__, repr(value))


def test_nested_data_opens_as_fresh_as_a_new_decode_on_every_repeat() -> None:
    """Repeats of a token with containers read what a process that never saw it reads:
    the same values, types and order, and containers no other request holds."""
    engine = SessionEngine(RING)
    cookies = sealed(engine, NESTED)
    elsewhere = SessionEngine(RING).load(cookies, now=NOW)

    for _ in range(4):
        here = engine.load(cookies, now=NOW)
        assert shape(here) == shape(elsewhere)
        assert here["cart"][0] is not here["cart"][1]  # equal siblings stay two objects
        assert engine.commit(here, cookies, now=NOW) == []
        here["cart"][0]["qty"] = 99
        here["flags"]["deep"]["a"]["b"][1].append(4)
        here["tags"].add("c")
        assert engine.commit(here, cookies, now=NOW) != []  # changed, as in any process
    known = remembered(engine, cookies["session"])
    assert known.frozen  # the repeats above were served from the marshal copy


def test_nested_data_marshal_cannot_take_is_decoded_every_time() -> None:
    """A datetime, UUID or Decimal inside a container: every repeat decodes, exactly."""
    data = {"log": [dt.datetime(2026, 1, 1, tzinfo=dt.UTC)], "ids": {"a": [1]}}
    engine = SessionEngine(RING)
    cookies = sealed(engine, data)

    for _ in range(3):
        here = engine.load(cookies, now=NOW)
        assert shape(here) == shape(data)
        here["log"].append(None)
        here["ids"]["a"].clear()
    assert remembered(engine, cookies["session"]).frozen == b""


@pytest.mark.parametrize(
    "data",
    [{"ints": [n % 20 for n in range(400)]}, {f"k{n}": n for n in range(40)}],
    ids=["small ints", "many keys"],
)
def test_what_is_kept_of_a_token_stays_near_its_size(data: dict[str, object]) -> None:
    """Data is kept decoded only with a few keys, and as marshal bytes only within
    twice its CBOR; either way every repeat reads exactly."""
    engine = SessionEngine(RING)
    cookies = sealed(engine, data)

    for _ in range(3):
        assert shape(engine.load(cookies, now=NOW)) == shape(data)
    known = remembered(engine, cookies["session"])
    assert known.data is None
    assert known.frozen is not None
    assert len(known.frozen) <= 2 * len(known.encoded)


def test_a_token_this_engine_sealed_opens_from_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cookie a response sets opens, on the browser's next request to this worker,
    with no decryption, to what the session held when it was sealed."""
    engine = SessionEngine(RING)
    session = engine.load({}, now=NOW)
    session.update(user="alice", cart=[1])
    browser = Browser()
    browser.apply(engine.commit(session, {}, now=NOW))
    session["user"] = "mallory"  # the app's object after the commit changes nothing sealed
    session["cart"].append(2)

    def no_unseal(*args: object, **kwargs: object) -> None:
        raise AssertionError("unseal called for a token this engine sealed")

    monkeypatch.setattr(opening, "unseal", no_unseal)
    for _ in range(3):
        again = engine.load(browser.cookies, now=NOW + 1)
        assert again == {"user": "alice", "cart": [1]}
        assert again.id == session.id
        assert not again.new


def test_a_session_moved_to_the_store_is_not_remembered() -> None:
    """Only a token that holds its session is remembered: a reference to a store record
    keeps no copy of the (large) data in memory, and opens through the store."""
    store = MemoryStore()
    engine = SessionEngine(RING, store=store)
    cookies = sealed(engine, {"notes": "x" * 6000})
    assert engine._opener._known == {}
    assert engine.load(cookies, now=NOW)["notes"] == "x" * 6000
    assert engine._opener._known == {}


def _filling(make: Callable[[int, int], dict[str, object]], n: int) -> dict[str, object]:
    """`make(n, size)` at the largest size whose token still fits one cookie."""
    engine = SessionEngine(RING)
    size = 3000
    while len(sealed(engine, make(n, size))) > 1:  # chunked, so never remembered
        size -= 25
    return make(n, size)


WORST_SHAPES: dict[str, Callable[[int, int], dict[str, object]]] = {
    "one ASCII str": lambda n, size: {"s": f"{n:08}" + "x" * size},
    "one str with an emoji (4 bytes a char in memory)": lambda n, size: {
        "s": f"{n:08}\N{GRINNING FACE}" + "x" * size
    },
    "16 strs with an emoji": lambda n, size: {
        f"k{i}": f"{n:08}\N{GRINNING FACE}" + "x" * (size // 16) for i in range(16)
    },
    "16 short strs": lambda n, size: {f"k{i}": f"{n}-{i}" for i in range(16)},
    "small ints": lambda n, size: {"n": n, "ints": [i % 20 for i in range(size // 2)]},
    "many keys": lambda n, size: {f"k{i}": i for i in range(n % 2, size // 8)},
    "small dicts": lambda n, size: {"n": n, "d": [{"a": i % 9} for i in range(size // 5)]},
}


@pytest.mark.parametrize("make", WORST_SHAPES.values(), ids=WORST_SHAPES.keys())
@pytest.mark.parametrize("how", ["opened", "sealed"])
def test_the_memory_of_each_remembered_token_stays_within_the_stated_bound(
    make: Callable[[int, int], dict[str, object]], how: str
) -> None:
    """SECURITY.md: at most 2,048 tokens of about 15 KB each in memory (token, data
    and what is kept of it), whatever the data's shape."""
    count = 64
    data = [_filling(make, n) for n in range(count)]
    engine = SessionEngine(RING)
    codec._WRITABLE_SEEN.clear()  # process-wide and bounded apart; its growth is not a token's
    gc.collect()
    tracemalloc.start()
    try:
        jars = [sealed(engine, d) for d in data]
        if how == "opened":
            engine._opener.forget()
            for cookies in jars * 2:  # data is kept from its second decode
                engine.load(cookies, now=NOW)
        del jars
        gc.collect()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(engine._opener._known) == count
    assert held / count <= TOKEN_MEMORY_BOUND


FLAT = {
    "user": "alice",
    "csrf": b"\x00\xff",
    "n": 2**70,
    "neg": -(2**64) - 1,
    "zero": -0.0,
    "nan": float("nan"),
    "admin": True,
    "one": 1,
    "none": None,
}


def test_flat_data_this_engine_sealed_opens_with_no_decode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Few keys of types that read back as they are: the next request gets a copy of
    what was sealed, with the types, order and values a decode would give."""
    engine = SessionEngine(RING)
    session = engine.load({}, now=NOW)
    session.update(FLAT)
    browser = Browser()
    browser.apply(engine.commit(session, {}, now=NOW))
    session["user"] = "mallory"  # the app's object after the commit changes nothing sealed
    elsewhere = SessionEngine(RING).load(browser.cookies, now=NOW)

    def no_decode(data: bytes) -> dict[str, object]:
        raise AssertionError("decoded the data of a token this engine sealed")

    monkeypatch.setattr(opening.codec, "decode", no_decode)
    for _ in range(3):
        here = engine.load(browser.cookies, now=NOW)
        assert not here.accessed
        assert shape(here) == shape(elsewhere) == shape(FLAT)
        assert engine.commit(here, browser.cookies, now=NOW) == []
        here["one"] = 2
        assert engine.commit(here, browser.cookies, now=NOW) != []


@pytest.mark.parametrize(
    "data",
    [
        {"pair": (1, 2)},
        {"at": dt.datetime(2026, 1, 1, 12, tzinfo=ZoneInfo("Europe/Paris"))},
        {"cart": [1]},
        {f"k{n}": n for n in range(17)},
        {"s": "x" * 600},
    ],
    ids=["tuple", "datetime", "list", "17 keys", "600 bytes"],
)
def test_sealed_data_that_would_not_read_back_as_it_is_is_decoded(
    data: dict[str, object],
) -> None:
    """A tuple reads back as a list, a zone as a fixed offset: such data is decoded
    when the token comes back, and reads as in any other process."""
    engine = SessionEngine(RING)
    cookies = sealed(engine, data)
    assert remembered(engine, cookies["session"]).data is None

    elsewhere = SessionEngine(RING).load(cookies, now=NOW)
    for _ in range(3):
        assert shape(engine.load(cookies, now=NOW)) == shape(elsewhere)


@pytest.mark.parametrize("how", ["encoded before", "written unchanged"])
def test_data_changed_around_the_mapping_api_reads_as_sealed(how: str) -> None:
    """A value put in with dict.__setitem__ after the session's data was encoded is not
    in the cookie: the next request reads the cookie's data, as any other process."""
    engine = SessionEngine(RING)
    cookies = sealed(engine, {"user": "alice"})
    session = engine.load(cookies, now=NOW)
    if how == "encoded before":
        session["user"] = "bob"
        assert session.modified  # encodes the data as it is now
    else:
        session.save()  # written with the bytes it was loaded from
    dict.__setitem__(session, "smuggled", 1)
    browser = Browser()
    browser.apply(engine.commit(session, cookies, now=NOW))

    elsewhere = SessionEngine(RING).load(browser.cookies, now=NOW)
    assert "smuggled" not in elsewhere
    assert engine.load(browser.cookies, now=NOW) == elsewhere
