"""RedisStore / AsyncRedisStore specifics: keys, prefixes, faults, secrets, concurrency.

The shared contract (get/set/delete/touch, TTL, 50 threads) is in
test_contract.py. Fault tests use `own_redis`, a private server they may kill
or pause; everything else shares `redis_url` under a per-test key prefix.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import subprocess
import sys
import threading
import time

import pytest

from cookiesess.exceptions import ConfigurationError, StoreError
from cookiesess.stores import AsyncRedisStore, RedisStore

STORE_CLASSES = [RedisStore, AsyncRedisStore]


def value_for(key: str, n: int) -> bytes:
    """A value naming its key, so a value read under the wrong key shows."""
    return f"{key}|{n}|".encode() + hashlib.sha256(f"{key}{n}".encode()).digest()


def names_its_key(key: str, value: bytes | None) -> bool:
    if value is None:
        return True
    if not value.startswith(f"{key}|".encode()):
        return False
    _, n, _ = value.split(b"|", 2)
    return value == value_for(key, int(n))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_importing_stores_does_not_import_redis():
    """`import cookiesess.stores` loads no redis module (it is optional)."""
    code = (
        "import sys, cookiesess.stores\n"
        "print([m for m in sys.modules if m.split('.')[0] == 'redis'])"
    )

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "[]"


# ----------------------------------------------------------------- keys, prefixes


@pytest.mark.redis
def test_keys_are_prefixed_with_millisecond_ttl(redis_url, redis_prefix):
    """set is SET prefix+key PX ttl*1000; touch is PEXPIRE."""
    import redis

    store = RedisStore(redis_url, prefix=redis_prefix)
    client = redis.Redis.from_url(redis_url)
    try:
        store.set("aa", b"v", 30)

        assert client.get(redis_prefix + "aa") == b"v"
        assert 29_000 < client.pttl(redis_prefix + "aa") <= 30_000
        assert store.touch("aa", 100) is True
        assert 99_000 < client.pttl(redis_prefix + "aa") <= 100_000
    finally:
        store.clear()
        store.close()
        client.close()


@pytest.mark.redis
def test_clear_and_count_stay_inside_a_glob_like_prefix(redis_url, redis_prefix):
    """SCAN patterns escape the prefix: 'p*:' never matches keys under 'px:'."""
    starry = RedisStore(redis_url, prefix=redis_prefix + "[a]*?\\:")
    plain = RedisStore(redis_url, prefix=redis_prefix + "[a]xx\\:")
    try:
        for n in range(700):  # more than one SCAN/DEL batch
            starry.set(f"{n:04x}", b"x", 60)
        plain.set("aa", b"keep", 60)
        plain.set("bb", b"keep", 60)

        assert starry.count() == 700
        starry.clear()

        assert starry.count() == 0
        assert plain.count() == 2
        assert plain.get("aa") == b"keep"
    finally:
        starry.close()
        plain.clear()
        plain.close()


@pytest.mark.redis
def test_async_clear_and_count_stay_inside_prefix(redis_url, redis_prefix):
    """The asyncio store scans and deletes only its own prefix too."""

    async def main() -> tuple[int, int, int]:
        async with (
            AsyncRedisStore(redis_url, prefix=redis_prefix + "a*") as starry,
            AsyncRedisStore(redis_url, prefix=redis_prefix + "ab") as plain,
        ):
            for n in range(600):
                await starry.set(f"{n:04x}", b"x", 60)
            await plain.set("aa", b"keep", 60)
            before = await starry.count()
            await starry.clear()
            after = await starry.count()
            kept = await plain.count()
            await plain.clear()
            return before, after, kept

    assert asyncio.run(main()) == (600, 0, 1)


@pytest.mark.redis
def test_existing_sync_client_is_used_and_left_open(redis_url, redis_prefix):
    """A client passed in is used as is, and close() does not close it."""
    import redis

    client = redis.Redis.from_url(redis_url)
    store = RedisStore(client=client, prefix=redis_prefix)
    try:
        store.set("aa", b"v", 60)
        assert store.get("aa") == b"v"

        store.close()

        assert client.get(redis_prefix + "aa") == b"v"
        assert repr(store) == f"RedisStore(client=<Redis>, prefix={redis_prefix!r})"
    finally:
        client.delete(redis_prefix + "aa")
        client.close()


@pytest.mark.redis
def test_existing_async_client_is_used_and_left_open(redis_url, redis_prefix):
    """An asyncio client passed in is used as is, and aclose() does not close it."""
    import redis.asyncio

    async def main() -> bytes | None:
        client = redis.asyncio.Redis.from_url(redis_url)
        try:
            store = AsyncRedisStore(client=client, prefix=redis_prefix)
            await store.set("aa", b"v", 60)
            assert await store.get("aa") == b"v"
            await store.aclose()
            return await client.getdel(redis_prefix + "aa")
        finally:
            await client.aclose()

    assert asyncio.run(main()) == b"v"


@pytest.mark.redis
def test_decoding_clients_are_refused(redis_url):
    """A client with decode_responses=True would return str: refused up front."""
    import redis
    import redis.asyncio

    sync_client = redis.Redis.from_url(redis_url, decode_responses=True)
    async_client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)

    with pytest.raises(ConfigurationError, match="decode_responses"):
        RedisStore(client=sync_client)
    with pytest.raises(ConfigurationError, match="decode_responses"):
        AsyncRedisStore(client=async_client)
    sync_client.close()
    asyncio.run(async_client.aclose())


@pytest.mark.redis
@pytest.mark.parametrize("cls", STORE_CLASSES)
@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        pytest.param({}, "exactly one", id="neither"),
        pytest.param({"url": "redis://localhost", "client": object()}, "exactly one", id="both"),
        pytest.param({"url": "redis://localhost", "prefix": ""}, "prefix", id="prefix"),
        pytest.param({"url": "redis://localhost", "timeout": 0}, "timeout", id="t0"),
        pytest.param({"url": "redis://localhost", "timeout": float("inf")}, "timeout", id="tinf"),
        pytest.param({"url": "http://localhost"}, "url is invalid", id="scheme"),
        pytest.param({"url": b"redis://localhost"}, "url must be a str", id="bytes"),
    ],
)
def test_bad_configuration(cls, kwargs, fragment):
    """Bad options fail at construction with ConfigurationError."""
    with pytest.raises(ConfigurationError, match=fragment):
        cls(**kwargs)


def test_cluster_nodes_get_ports_that_leave_room_for_their_bus():
    """A cluster node's bus listens on its port + 10000: the fixture never picks above
    55535 (with bind-to-0 ports up to 60999 here, the cluster test failed now and then)."""
    from tests.redis_fixtures import CLUSTER_HIGHEST_PORT, _free_port

    assert CLUSTER_HIGHEST_PORT + 10000 <= 65535
    ports = [_free_port(highest=CLUSTER_HIGHEST_PORT) for _ in range(300)]
    assert max(ports) <= CLUSTER_HIGHEST_PORT
    assert len(set(ports)) > 1


@pytest.mark.redis
@pytest.mark.slow
def test_redis_cluster_sync_and_async(redis_cluster):
    """Against a real 3-node Redis Cluster: no CROSSSLOT, clear/count span all nodes."""
    from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
    from redis.cluster import RedisCluster

    client = RedisCluster(host="127.0.0.1", port=redis_cluster[0])
    store = RedisStore(client=client, prefix="cs:")
    try:
        for n in range(300):  # spread over every slot range
            store.set(f"{n:04x}", value_for(f"{n:04x}", n), 60)
        slots = {client.keyslot(f"cs:{n:04x}") // 5461 for n in range(300)}

        assert slots == {0, 1, 2}
        assert store.get("0001") == value_for("0001", 1)
        assert store.touch("0002", 30) is True
        assert store.delete_if("0004", b"stale") is False  # EVAL routed by its one key
        assert store.delete_if("0005", value_for("0005", 5)) is True
        assert store.count() == 299
        store.set("0005", b"v", 60)
        assert store.count() == 300
        store.clear()
        assert store.count() == 0
    finally:
        client.close()

    async def main() -> tuple[bytes | None, int, int]:
        aclient = AsyncRedisCluster(host="127.0.0.1", port=redis_cluster[0])
        try:
            # 2 s: the first call also discovers the cluster topology.
            astore = AsyncRedisStore(client=aclient, prefix="cs:", timeout=2)
            for n in range(300):
                await astore.set(f"{n:04x}", b"v", 60)
            got = await astore.get("0003")
            assert await astore.delete_if("0004", b"stale") is False
            before = await astore.count()
            await astore.clear()
            return got, before, await astore.count()
        finally:
            await aclient.aclose()

    assert asyncio.run(main()) == (b"v", 300, 0)


# ------------------------------------------------------------------------ secrets

SECRET_URLS = [
    "redis://:s3cret@127.0.0.1:6379/0",
    "redis://user:s3cret@redis.internal:6380/2",
    "redis://s3cret@127.0.0.1/0",
    "redis://127.0.0.1/0?password=s3cret",
    "rediss://user:s3cret@host:6380/1?ssl_cert_reqs=none&PASSWORD=s3cret",
    "unix:///run/redis.sock?db=2&password=s3cret",
]


@pytest.mark.redis
@pytest.mark.parametrize("cls", STORE_CLASSES)
@pytest.mark.parametrize("url", SECRET_URLS)
def test_repr_never_shows_the_password(cls, url):
    """repr() masks the URL's user info and password= query values."""
    store = cls(url)

    assert "s3cret" not in repr(store)
    assert "***" in repr(store)
    assert "s3cret" not in str(vars(store).get("_target"))


@pytest.mark.redis
def test_errors_never_show_the_password(own_redis):
    """Neither a refused connection nor a failed AUTH puts the password in the error."""
    import redis

    admin = redis.Redis.from_url(own_redis.url)
    admin.config_set("requirepass", "right-password")
    admin.close()
    wrong = own_redis.url.replace("redis://", "redis://:s3cret@")
    refused = f"redis://:s3cret@127.0.0.1:{closed_port()}/0"

    for url in (wrong, refused):
        with RedisStore(url) as store, pytest.raises(StoreError) as info:
            store.get("aa")

        assert "s3cret" not in str(info.value)
        assert "s3cret" not in repr(info.value)

    async def main() -> None:
        for url in (wrong, refused):
            async with AsyncRedisStore(url) as store:
                with pytest.raises(StoreError) as info:
                    await store.get("aa")
            assert "s3cret" not in str(info.value)

    asyncio.run(main())


# ------------------------------------------------------------------------- faults


def assert_all_fail_fast(store, limit=1.0):
    """Each store call raises StoreError, chained, within `limit` seconds."""
    for call in (
        lambda: store.get("aa"),
        lambda: store.set("bb", b"v", 60),
        lambda: store.touch("aa", 60),
        lambda: store.delete("aa"),
    ):
        started = time.monotonic()
        with pytest.raises(StoreError) as info:
            call()
        assert time.monotonic() - started < limit
        assert info.value.__cause__ is not None


async def assert_all_fail_fast_async(store, limit=1.0):
    """Async twin of assert_all_fail_fast."""
    for call in (
        lambda: store.get("aa"),
        lambda: store.set("bb", b"v", 60),
        lambda: store.touch("aa", 60),
        lambda: store.delete("aa"),
    ):
        started = time.monotonic()
        with pytest.raises(StoreError) as info:
            await call()
        assert time.monotonic() - started < limit
        assert info.value.__cause__ is not None


@pytest.mark.redis
def test_a_server_refusing_eval_gets_a_plain_delete(own_redis, caplog):
    """Where an ACL denies EVAL, delete_if falls back to DEL (logged), never a failure."""
    import redis

    admin = redis.Redis.from_url(own_redis.url)
    admin.execute_command("ACL", "SETUSER", "default", "-eval")
    admin.close()
    store = RedisStore(own_redis.url)

    async def via_async() -> bool:
        astore = AsyncRedisStore(own_redis.url)
        try:
            await astore.set("bb", b"newer", 60)
            deleted = await astore.delete_if("bb", b"read")
            return deleted and await astore.get("bb") is None
        finally:
            await astore.aclose()

    try:
        store.set("aa", b"newer", 60)
        with caplog.at_level("WARNING", logger="cookiesess.stores"):
            assert store.delete_if("aa", b"read") is True
        assert store.get("aa") is None
        assert "refused EVAL" in caplog.text
        assert asyncio.run(via_async())
    finally:
        store.close()


@pytest.mark.redis
def test_killed_redis_fails_then_recovers_empty(own_redis):
    """Killed: StoreError at once. Restarted empty: same store object works again."""
    store = RedisStore(own_redis.url)
    store.set("aa", b"v", 60)

    own_redis.kill()
    assert_all_fail_fast(store, limit=0.5)
    own_redis.restart()

    assert store.get("aa") is None  # first call after restart: no error
    store.set("aa", b"again", 60)
    assert store.get("aa") == b"again"
    store.close()


@pytest.mark.redis
def test_restarted_redis_with_data_is_picked_up(own_redis):
    """After a restart that kept the data, the same store reads it at once."""
    store = RedisStore(own_redis.url)
    store.set("aa", b"v", 60)

    own_redis.restart(keep_data=True)

    assert store.get("aa") == b"v"
    store.close()


@pytest.mark.redis
def test_redis_down_at_start(own_redis):
    """A store built while Redis is down fails per call, then works once it is up."""
    own_redis.kill()
    store = RedisStore(own_redis.url)

    assert_all_fail_fast(store, limit=0.5)
    own_redis.restart()

    store.set("aa", b"v", 60)
    assert store.get("aa") == b"v"
    store.close()


@pytest.mark.redis
def test_paused_redis_fails_within_timeout(own_redis):
    """SIGSTOPped Redis: each call fails within ~0.25 s; afterwards no reply mix-up."""
    store = RedisStore(own_redis.url, timeout=0.25)
    store.set("aa", b"v", 60)

    own_redis.pause()
    assert_all_fail_fast(store)
    with RedisStore(own_redis.url, timeout=0.25) as fresh:  # needs a new connection
        started = time.monotonic()
        with pytest.raises(StoreError):
            fresh.get("aa")
        assert time.monotonic() - started < 1.0
    own_redis.resume()

    store.set("k1", b"one", 60)
    store.set("k2", b"two", 60)
    assert [store.get("k1"), store.get("k2"), store.get("aa")] == [b"one", b"two", b"v"]
    store.close()


def served_and_bounded(server, url):
    """A store on `url` reads back what it wrote; paused, every call fails within its
    deadline; resumed, it reads again. Closes `server`."""
    try:
        with RedisStore(url, timeout=0.25) as store:
            store.set("aa", b"v", 60)
            assert store.get("aa") == b"v"

            server.pause()
            assert_all_fail_fast(store, limit=0.25 + 0.35)
            server.resume()

            assert store.get("aa") == b"v"
    finally:
        server.close()


@pytest.mark.redis
def test_unix_socket_url_is_served_and_bounded(tmp_path_factory):
    """unix:// keeps its socket type under the per-call deadline; a paused server times out."""
    from tests.redis_fixtures import RedisServer, require_redis

    directory = tmp_path_factory.mktemp("redis-unix")
    path = directory / "redis.sock"
    server = RedisServer(require_redis(), directory, {"unixsocket": str(path)})
    server.start()
    served_and_bounded(server, f"unix://{path}")


def self_signed_cert(directory) -> tuple[str, str]:
    """Write a throwaway certificate and key for 127.0.0.1; return their paths."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


@pytest.mark.redis
def test_rediss_url_is_served_over_tls_and_bounded(tmp_path_factory):
    """rediss:// keeps TLS under the per-call deadline; a paused server times out."""
    from tests.redis_fixtures import RedisServer, require_redis

    directory = tmp_path_factory.mktemp("redis-tls")
    cert, key = self_signed_cert(directory)
    tls_port = closed_port()
    options = {
        "tls-port": str(tls_port),
        "tls-cert-file": cert,
        "tls-key-file": key,
        "tls-ca-cert-file": cert,
        "tls-auth-clients": "no",
    }
    server = RedisServer(require_redis(), directory, options)
    server.start()
    served_and_bounded(server, f"rediss://127.0.0.1:{tls_port}/0?ssl_ca_certs={cert}")


@pytest.mark.redis
def test_async_killed_redis_fails_then_recovers_empty(own_redis):
    """Async: killed gives StoreError at once; restarted empty, the store recovers."""

    async def main() -> None:
        async with AsyncRedisStore(own_redis.url) as store:
            await store.set("aa", b"v", 60)

            own_redis.kill()
            await assert_all_fail_fast_async(store, limit=0.5)
            own_redis.restart()

            assert await store.get("aa") is None
            await store.set("aa", b"again", 60)
            assert await store.get("aa") == b"again"

    asyncio.run(main())


@pytest.mark.redis
def test_async_paused_redis_fails_within_timeout(own_redis):
    """Async, SIGSTOPped Redis: each call fails within ~0.25 s; no reply mix-up."""

    async def main() -> None:
        async with (
            AsyncRedisStore(own_redis.url, timeout=0.25) as store,
            AsyncRedisStore(own_redis.url, timeout=0.25) as fresh,
        ):
            await store.set("aa", b"v", 60)

            own_redis.pause()
            await assert_all_fail_fast_async(store)
            started = time.monotonic()
            with pytest.raises(StoreError):
                await fresh.get("aa")  # needs a new connection
            assert time.monotonic() - started < 1.0
            own_redis.resume()

            await store.set("k1", b"one", 60)
            await store.set("k2", b"two", 60)
            got = [await store.get(k) for k in ("k1", "k2", "aa")]
            assert got == [b"one", b"two", b"v"]

    asyncio.run(main())


# -------------------------------------------------------------------- concurrency


@pytest.mark.redis
def test_async_tasks_never_see_another_keys_value(redis_url, redis_prefix):
    """50 asyncio tasks on own and shared keys: every value read names its key."""
    problems: list[str] = []

    async def work(store: AsyncRedisStore, worker: int) -> None:
        for n in range(10):
            own = f"{worker:02x}{n % 4:02x}"
            shared = f"ee{n % 3:02x}"
            await store.set(own, value_for(own, n), 60)
            await store.set(shared, value_for(shared, n), 60)
            got_own, got_shared = await asyncio.gather(store.get(own), store.get(shared))
            if got_own != value_for(own, n):
                problems.append(f"{own}: {got_own!r}")
            if got_shared is None or not names_its_key(shared, got_shared):
                problems.append(f"{shared}: {got_shared!r}")

    async def main() -> None:
        # Generous timeout: 100 connections opened at once may take > 0.25 s.
        async with AsyncRedisStore(redis_url, prefix=redis_prefix, timeout=2) as store:
            await asyncio.gather(*(work(store, i) for i in range(50)))
            await store.clear()

    asyncio.run(main())

    assert problems == []


@pytest.mark.redis
def test_async_tasks_through_a_stall_never_mix_replies(own_redis):
    """50 tasks while Redis stalls mid-run: timeouts are StoreError, values never cross."""
    problems: list[str] = []
    failures = 0

    async def work(store: AsyncRedisStore, worker: int) -> None:
        nonlocal failures
        for n in range(30):
            key = f"{worker:02x}{n % 3:02x}"
            try:
                await store.set(key, value_for(key, n), 60)
                got = await store.get(key)
            except StoreError:
                failures += 1
                continue
            if not names_its_key(key, got):
                problems.append(f"{key}: {got!r}")
            await asyncio.sleep(0.005)

    async def stall() -> None:
        await asyncio.sleep(0.05)
        own_redis.pause()
        await asyncio.sleep(0.4)
        own_redis.resume()

    async def main() -> None:
        async with AsyncRedisStore(own_redis.url, timeout=0.25) as store:
            await asyncio.gather(stall(), *(work(store, i) for i in range(50)))

    asyncio.run(main())

    assert problems == []
    assert failures > 0  # the stall really hit in-flight calls


@pytest.mark.redis
def test_threads_through_a_stall_never_mix_replies(own_redis):
    """50 threads while Redis stalls mid-run: timeouts are StoreError, values never cross."""
    store = RedisStore(own_redis.url, timeout=0.25)
    barrier = threading.Barrier(51)
    problems: list[str] = []
    failures: list[int] = []

    def work(worker: int) -> None:
        barrier.wait()
        for n in range(30):
            key = f"{worker:02x}{n % 3:02x}"
            try:
                store.set(key, value_for(key, n), 60)
                got = store.get(key)
            except StoreError:
                failures.append(worker)
                continue
            except Exception as exc:
                problems.append(repr(exc))
                continue
            if not names_its_key(key, got):
                problems.append(f"{key}: {got!r}")
            time.sleep(0.005)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    barrier.wait()
    time.sleep(0.05)
    own_redis.pause()
    time.sleep(0.4)
    own_redis.resume()
    for thread in threads:
        thread.join()
    store.close()

    assert problems == []
    assert failures
