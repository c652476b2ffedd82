"""The store contract, run against every store: memory, SQLite, Redis, sync and async.

Each test sees the store through the sync `Store` interface (`harness.store`);
async stores are driven on an event loop by `SyncFacade`. Time passes through
`harness.advance`: a fake clock where the store takes one, real sleeps (kept
to 1-second TTLs, and few of them) for Redis.
"""

from __future__ import annotations

import hashlib
import threading

import pytest

from cookiesess.stores import AsyncStore, Store

VALUES = [
    pytest.param(b"", id="empty"),
    pytest.param(b"\x00", id="nul"),
    pytest.param(bytes(range(256)), id="all-bytes"),
    pytest.param(b"\xff\xfe\r\n\x00tail", id="crlf-and-invalid-utf8"),
    pytest.param(hashlib.sha256(b"seed").digest() * 4096, id="128KiB"),
]

KEYS = [
    pytest.param("0", id="one-digit"),
    pytest.param("00", id="leading-zeros"),
    pytest.param("ABCDEF0123456789", id="upper"),
    pytest.param("aBcDeF", id="mixed-case"),
    pytest.param("f" * 64, id="sha256-hex"),
    pytest.param("0" * 1024, id="max-length"),
    pytest.param("deny:9f86d081", id="namespaced"),
]


def test_conforms_to_protocol(harness):
    """Each store satisfies the runtime-checkable protocol it claims."""
    protocol = AsyncStore if harness.is_async else Store

    assert isinstance(harness.raw, protocol)


def test_get_missing_is_none(harness):
    """An absent key reads as None."""
    assert harness.store.get("0123abcd") is None


@pytest.mark.parametrize("value", VALUES)
def test_bytes_round_trip_exactly(harness, value):
    """Whatever bytes go in come back identical, and as `bytes`."""
    harness.store.set("0123abcd", value, 60)

    got = harness.store.get("0123abcd")

    assert type(got) is bytes
    assert got == value


@pytest.mark.parametrize("key", KEYS)
def test_unusual_keys(harness, key):
    """Short, long, upper- and mixed-case keys all work and stay distinct."""
    neighbour = key[:-1] + ("1" if key[-1] != "1" else "2")
    harness.store.set(key, b"v:" + key.encode(), 60)
    harness.store.set(neighbour, b"other", 60)

    assert harness.store.get(key) == b"v:" + key.encode()
    assert harness.store.touch(key, 60) is True
    harness.store.delete(key)
    assert harness.store.get(key) is None
    assert harness.store.get(neighbour) == b"other"


def test_keys_differing_in_case_are_distinct(harness):
    """Keys are compared exactly: 'ab' and 'AB' are two entries."""
    harness.store.set("ab", b"lower", 60)
    harness.store.set("AB", b"upper", 60)

    assert harness.store.get("ab") == b"lower"
    assert harness.store.get("AB") == b"upper"


def test_set_overwrites(harness):
    """A second set replaces the value."""
    harness.store.set("aa", b"first", 60)
    harness.store.set("aa", b"second", 60)

    assert harness.store.get("aa") == b"second"


def test_delete(harness):
    """Delete removes one key; deleting an absent key is not an error."""
    harness.store.set("aa", b"1", 60)
    harness.store.set("bb", b"2", 60)

    harness.store.delete("aa")
    harness.store.delete("aa")
    harness.store.delete("never-set")

    assert harness.store.get("aa") is None
    assert harness.store.get("bb") == b"2"


def test_delete_if_removes_only_the_value_read(harness):
    """delete_if removes a key only while it holds exactly the given value.

    This is what keeps a concurrent writer's record alive when another request
    moves the same session back into its cookie.
    """
    harness.store.set("aa", b"read", 60)
    harness.store.set("bb", b"read", 60)
    harness.store.set("bb", b"rewritten", 60)

    assert harness.store.delete_if("aa", b"read") is True
    assert harness.store.delete_if("bb", b"read") is False
    assert harness.store.delete_if("bb", b"rewritten\x00") is False
    assert harness.store.delete_if("never-set", b"read") is False

    assert harness.store.get("aa") is None
    assert harness.store.get("bb") == b"rewritten"


def test_touch_missing_is_false(harness):
    """Touching an absent key reports False and creates nothing."""
    assert harness.store.touch("aa", 60) is False
    assert harness.store.get("aa") is None


def test_ttl_expiry_touch_and_revival(harness):
    """Entries expire after their TTL; touch restarts it; an expired key is absent
    until written again. (One test, so Redis sleeps through one real second once.)"""
    harness.store.set("short", b"s", 1)
    harness.store.set("touched", b"t", 1)
    harness.store.set("long", b"l", 60)

    harness.advance(0.5)
    assert harness.store.get("short") == b"s"
    assert harness.store.touch("touched", 2) is True
    harness.advance(0.7)

    assert harness.store.get("short") is None
    assert harness.store.touch("short", 60) is False
    assert harness.store.get("short") is None
    assert harness.store.get("touched") == b"t"
    assert harness.store.get("long") == b"l"
    harness.store.set("short", b"new", 60)
    assert harness.store.get("short") == b"new"


def test_count_and_clear(harness):
    """count() sees live entries only; clear() empties the store."""
    for i in range(5):
        harness.store.set(f"{i:02x}", b"x", 60)
    harness.store.delete("00")

    assert harness.count() == 4

    harness.clear()

    assert harness.count() == 0
    assert harness.store.get("01") is None


@pytest.mark.parametrize(
    ("call", "error"),
    [
        pytest.param(lambda s: s.set("aa", "text", 60), TypeError, id="str-value"),
        pytest.param(lambda s: s.set("aa", bytearray(b"x"), 60), TypeError, id="bytearray"),
        pytest.param(lambda s: s.set("aa", b"x", 0), ValueError, id="ttl-0"),
        pytest.param(lambda s: s.set("aa", b"x", -5), ValueError, id="ttl-negative"),
        pytest.param(lambda s: s.set("aa", b"x", 1.5), TypeError, id="ttl-float"),
        pytest.param(lambda s: s.set("aa", b"x", True), TypeError, id="ttl-bool"),
        pytest.param(lambda s: s.touch("aa", 0), ValueError, id="touch-ttl-0"),
        pytest.param(lambda s: s.get(b"aa"), TypeError, id="bytes-key"),
        pytest.param(lambda s: s.get(""), ValueError, id="empty-key"),
        pytest.param(lambda s: s.delete("a" * 1025), ValueError, id="long-key"),
    ],
)
def test_misuse_is_rejected(harness, call, error):
    """Wrong argument types or ranges raise TypeError/ValueError, and store nothing."""
    with pytest.raises(error):
        call(harness.store)

    assert harness.store.get("aa") is None


def test_threads_never_see_another_keys_value(sync_harness):
    """50 threads on own and shared keys: every value read names the key read."""
    store = sync_harness.store
    barrier = threading.Barrier(50)
    problems: list[str] = []

    def value_for(key: str, n: int) -> bytes:
        return f"{key}|{n}|".encode() + hashlib.sha256(f"{key}{n}".encode()).digest()

    def work(worker: int) -> None:
        barrier.wait()
        for n in range(10):
            own = f"{worker:02x}{n % 4:02x}"
            shared = f"ee{n % 3:02x}"
            try:
                store.set(own, value_for(own, n), 60)
                store.set(shared, value_for(shared, n), 60)
                got_own = store.get(own)
                got_shared = store.get(shared)
            except Exception as exc:
                problems.append(f"{type(exc).__name__}: {exc}")
                continue
            if got_own != value_for(own, n):
                problems.append(f"{own}: read {got_own!r}")
            if got_shared is None or not got_shared.startswith(f"{shared}|".encode()):
                problems.append(f"{shared}: read {got_shared!r}")
            else:
                _, m, _ = got_shared.split(b"|", 2)
                if got_shared != value_for(shared, int(m)):
                    problems.append(f"{shared}: torn value {got_shared!r}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert problems == []
