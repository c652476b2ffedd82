"""Section (a), (c) and (e): codecs, keyring size, cookie bytes.

Every scheme turns a payload dict into what goes in the browser and back:
``encode(data) -> artifact``, ``decode(artifact) -> dict``. cookiesess and the
straight-line envelope go from a dict to rendered Set-Cookie lines and back
from a request's cookie jar (the API users pay for: `SessionEngine.commit` and
`SessionEngine.load`); the others from a dict to their cookie value(s), as
their own session backends call them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from _harness import Bench, sync_bench
from payloads import NAMES, PAYLOADS

SECRET = hashlib.sha256(b"cookiesess-bench secret").hexdigest()  # 64 hex chars
LIFETIME = 14 * 24 * 3600
LARGE_BUDGET = 40960


@dataclass
class Scheme:
    """A cookie-session encoding, and how its cookies look in a browser."""

    name: str
    encode: Callable[[dict[str, Any]], Any]
    decode: Callable[[Any], dict[str, Any]]
    cookies: Callable[[Any], list[tuple[str, str]]]
    """The ``(name, value)`` pairs the browser keeps for one artifact."""
    jar: Callable[[Any], Any] | None = None
    """Turns an encode artifact into decode input, inside the round trip."""
    note: str = ""
    only: tuple[str, ...] = NAMES
    """Payloads this scheme applies to."""
    sealed_elsewhere: Callable[[dict[str, Any]], list[Any]] | None = None
    """Decode input sealed by another process: its decode bench opens a different
    one per call and it has no encode or round-trip bench."""


def _jar(lines: list[str]) -> dict[str, str]:
    """What the browser sends back for these Set-Cookie lines: ``{name: value}``."""
    jar = {}
    for line in lines:
        pair = line.split(";", 1)[0]
        name, _, value = pair.partition("=")
        jar[name] = value
    return jar


def _jar_pairs(lines: list[str]) -> list[tuple[str, str]]:
    return list(_jar(lines).items())


# -- cookiesess ------------------------------------------------------------


def cookiesess_scheme(name: str, engine: Any, note: str = "", *, cold: bool = False) -> Scheme:
    """The engine's API; `cold` forgets the derived XAES keys and tokens before each load.

    A process memoizes the key derived for each nonce prefix it sealed under or
    opened, and every cookie a worker seals shares that worker's prefix; the
    engine remembers the tokens it authenticated. Cold is the first cookie of a
    worker (or prefix) this process never saw.
    """
    new_session = engine.new_session
    commit = engine.commit
    load = engine.load
    empty: dict[str, str] = {}
    subkey = engine.keyring.primary.aead("session")

    def encode(data: dict[str, Any]) -> list[str]:
        session = new_session()
        session.update(data)
        return commit(session, empty)

    def decode(jar: dict[str, str]) -> dict[str, Any]:
        if cold:
            subkey.forget()
            engine._opener.forget()
        return load(jar)

    return Scheme(name, encode, decode, _jar_pairs, jar=_jar, note=note)


OTHER_WORKER_COOKIES = 4500
"""Cookies per payload sealed by the other worker: more than the derived-key memo
holds (4,096 per subkey), so a memo keyed by per-seal nonces could not hold them all."""


def other_worker_scheme(name: str, engine: Any, note: str = "") -> Scheme:
    """Cookies sealed by another worker process, each load a different one.

    A forked child seals `OTHER_WORKER_COOKIES` sessions of the payload with the
    same keyring; the decode bench opens them in turn, after a first pass, as a
    worker serving the cookies another worker wrote does.
    """
    scheme = cookiesess_scheme(name, engine, note)
    scheme.sealed_elsewhere = lambda data: _seal_in_child(scheme.encode, data)
    return scheme


def _seal_in_child(
    encode: Callable[[dict[str, Any]], list[str]], data: dict[str, Any]
) -> list[Any]:
    """Return the cookie jars of `OTHER_WORKER_COOKIES` sessions sealed in a forked child."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the other worker
        code = 1
        try:
            os.close(read_fd)
            jars = [_jar(encode(data)) for _ in range(OTHER_WORKER_COOKIES)]
            with os.fdopen(write_fd, "w") as fp:
                json.dump(jars, fp)
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd) as fp:
        jars = json.load(fp)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise RuntimeError("the other worker failed to seal its cookies")
    return jars  # type: ignore[no-any-return]


def straight_line_scheme(keyring: Any, *, guarded: bool = True) -> Scheme:
    """Header + XAES (cookiesess.envelope) + strict CBOR + base64; no session object.

    The same bytes as cookiesess (the engine's fixed-layout metadata, then the
    data), with the work a hand-written implementation of the format cannot
    skip: a new session id, the encode guard (`codec.encode`) unless
    `guarded` is False, the seal, chunking, Set-Cookie rendering; and on the
    way back the chunk count, the unseal, the metadata and expiry checks and
    the strict decode.
    """
    from cookiesess import _b64, codec, envelope
    from cookiesess._plaintext import (
        META as _META,
    )  # the engine's wire layout
    from cookiesess._plaintext import (
        META_CONST as _META_CONST,
    )

    c = _META_CONST
    ctx = envelope.aad_context(app_namespace="", purpose="session", name="session")
    suffix = "; Path=/; Secure; HttpOnly; SameSite=Lax"
    names = ["session"] + [f"session.{i}" for i in range(1, envelope.MAX_CHUNKS)]
    # The engine's per-chunk capacity for these names and attributes.
    capacity = 4096 - len("; Max-Age=34560000") - len(suffix) - 1
    caps = [capacity - len(n) for n in names]
    meta_size = _META.size
    seal = envelope.seal
    unseal = envelope.unseal
    encode_data = codec.encode if guarded else _plain_cbor_dumps()
    decode_data = codec.decode
    urandom = os.urandom
    clock = time.time

    def encode(data: dict[str, Any]) -> list[str]:
        now = int(clock())
        plaintext = _META.pack(
            c[0],
            c[1],
            now,
            c[2],
            now + LIFETIME,
            c[3],
            now,
            c[4],
            0,
            c[5],
            0,
            c[6],
            urandom(32),
            c[7],
        ) + encode_data(data)
        chars = envelope.sealed_chars(len(plaintext))
        count = 1
        room = caps[0]
        while room < chars:
            room += caps[count]
            count += 1
        token = seal(keyring, plaintext, purpose="session", context=ctx, chunks=count)
        if count == 1:
            return [f"session={token}{suffix}"]
        out = []
        start = 0
        for i in range(count):
            end = start + caps[i]
            out.append(f"{names[i]}={token[start:end]}{suffix}")
            start = end
        return out

    def decode(jar: dict[str, str]) -> dict[str, Any]:
        first = jar["session"]
        count = _b64.decode(first[:4])[1] & 0x0F
        token = first if count == 1 else first + "".join(jar[names[i]] for i in range(1, count))
        plaintext = unseal(keyring, token, purpose="session", context=ctx).plaintext
        meta = _META.unpack_from(plaintext)
        if (meta[0], meta[1], *meta[3::2]) != c:
            raise ValueError("malformed")
        now = int(clock())
        if meta[2] > now + 60 or (meta[4] and now >= meta[4]):
            raise ValueError("expired")
        return decode_data(plaintext[meta_size:])

    name = "straight-line envelope" if guarded else "straight-line, unguarded encode"
    note = (
        "header+XAES+strict CBOR+b64, no session object"
        if guarded
        else "the same with plain cbor2.dumps (no encode guard)"
    )
    return Scheme(name, encode, decode, _jar_pairs, jar=_jar, note=note)


def _plain_cbor_dumps() -> Callable[[Any], bytes]:
    import cbor2

    return cbor2.dumps


# -- the alternatives --------------------------------------------------------


def starlette_scheme() -> Scheme:
    import itsdangerous

    signer = itsdangerous.TimestampSigner(SECRET)
    dumps, loads = json.dumps, json.loads
    b64e, b64d = base64.b64encode, base64.b64decode

    def encode(data: dict[str, Any]) -> bytes:
        return signer.sign(b64e(dumps(data).encode("utf-8")))

    def decode(value: bytes) -> dict[str, Any]:
        return loads(b64d(signer.unsign(value, max_age=LIFETIME)))  # type: ignore[no-any-return]

    return Scheme(
        "starlette",
        encode,
        decode,
        lambda v: [("session", v.decode())],
        note="itsdangerous TimestampSigner over base64 JSON",
    )


def starsessions_scheme() -> Scheme:
    from starsessions.serializers import JsonSerializer
    from starsessions.stores.cookie import CookieStore

    store = CookieStore(SECRET)
    serializer = JsonSerializer()
    import asyncio

    loop = asyncio.new_event_loop()

    def encode(data: dict[str, Any]) -> str:
        coro = store.write("", serializer.serialize(data), LIFETIME, LIFETIME)
        return _run_now(coro, loop)  # type: ignore[no-any-return]

    def decode(value: str) -> dict[str, Any]:
        return serializer.deserialize(_run_now(store.read(value, LIFETIME), loop))  # type: ignore[no-any-return]

    return Scheme("starsessions CookieStore", encode, decode, lambda v: [("session", v)])


def _run_now(coro: Any, loop: Any) -> Any:
    # CookieStore's coroutines never suspend: drive them without a loop turn.
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()  # pragma: no cover
    return loop.run_until_complete(coro)  # pragma: no cover


def flask_schemes() -> list[Scheme]:
    import flask
    from flask.sessions import SecureCookieSessionInterface

    app = flask.Flask("bench")
    app.secret_key = SECRET
    iface = SecureCookieSessionInterface()
    cached = iface.get_signing_serializer(app)
    assert cached is not None

    def encode(data: dict[str, Any]) -> str:
        # Flask builds the serializer on every open_session and save_session.
        return iface.get_signing_serializer(app).dumps(data)  # type: ignore[union-attr,no-any-return]

    def decode(value: str) -> dict[str, Any]:
        return iface.get_signing_serializer(app).loads(value, max_age=LIFETIME)  # type: ignore[union-attr,no-any-return]

    return [
        Scheme(
            "flask",
            encode,
            decode,
            lambda v: [("session", v)],
            note="SecureCookieSessionInterface, serializer built per call as Flask does",
        ),
        Scheme(
            "flask (cached serializer)",
            cached.dumps,
            lambda v: cached.loads(v, max_age=LIFETIME),
            lambda v: [("session", v)],
        ),
    ]


def configure_django() -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            SECRET_KEY=SECRET,
            USE_TZ=True,
            SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
            SESSION_SERIALIZER="django.contrib.sessions.serializers.JSONSerializer",
            INSTALLED_APPS=[],
            # For the middleware section's Django apps (mw_bench.django_app).
            ROOT_URLCONF="bench_django_urls",
            ALLOWED_HOSTS=["*"],
            MIDDLEWARE=[],
        )
        django.setup()


def django_scheme() -> Scheme:
    configure_django()
    from django.contrib.sessions.backends.signed_cookies import SessionStore

    store = SessionStore()
    serializer = store.serializer
    from django.core import signing

    salt = "django.contrib.sessions.backends.signed_cookies"

    def encode(data: dict[str, Any]) -> str:
        # SessionStore._get_session_key
        return signing.dumps(data, compress=True, salt=salt, serializer=serializer)

    def decode(value: str) -> dict[str, Any]:
        # SessionStore.load
        return signing.loads(value, serializer=serializer, max_age=LIFETIME, salt=salt)  # type: ignore[no-any-return]

    return Scheme(
        "django signed_cookies",
        encode,
        decode,
        lambda v: [("sessionid", v)],
        note="django.core.signing as the signed_cookies backend calls it",
    )


def litestar_backend() -> Any:
    from litestar.middleware.session.client_side import (
        ClientSideSessionBackend,
        CookieBackendConfig,
    )

    config = CookieBackendConfig(secret=hashlib.sha256(SECRET.encode()).digest())
    return ClientSideSessionBackend(config)


def litestar_scheme() -> Scheme:
    backend = litestar_backend()

    def cookies(chunks: list[bytes]) -> list[tuple[str, str]]:
        if len(chunks) == 1:
            return [("session", chunks[0].decode())]
        return [(f"session-{i}", c.decode()) for i, c in enumerate(chunks)]

    return Scheme(
        "litestar ClientSide",
        backend.dump_data,
        backend.load_data,
        cookies,
        note="msgspec JSON + AES-GCM, chunked",
    )


def fernet_schemes() -> list[Scheme]:
    from cryptography.fernet import Fernet, MultiFernet

    keys = [base64.urlsafe_b64encode(hashlib.sha256(b"fernet %d" % i).digest()) for i in range(5)]
    single = Fernet(keys[0])
    multi1 = MultiFernet([Fernet(keys[0])])
    multi5 = MultiFernet([Fernet(k) for k in keys])
    oldest = Fernet(keys[-1])
    dumps, loads = json.dumps, json.loads

    def pair(v: bytes) -> list[tuple[str, str]]:
        return [("session", v.decode())]

    return [
        Scheme(
            "fernet (json)",
            lambda d: single.encrypt(dumps(d).encode()),
            lambda t: loads(single.decrypt(t, ttl=LIFETIME)),
            pair,
        ),
        Scheme(
            "multifernet 1 key",
            lambda d: multi1.encrypt(dumps(d).encode()),
            lambda t: loads(multi1.decrypt(t, ttl=LIFETIME)),
            pair,
        ),
        Scheme(
            "multifernet 5 keys (oldest)",
            lambda d: oldest.encrypt(dumps(d).encode()),
            lambda t: loads(multi5.decrypt(t, ttl=LIFETIME)),
            pair,
            note="token under the oldest key: try-all rotation",
        ),
    ]


def raw_floor_scheme() -> Scheme:
    import cbor2
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(hashlib.sha256(b"raw").digest())
    urandom = os.urandom
    b2a, a2b = binascii.b2a_base64, binascii.a2b_base64
    to_url = bytes.maketrans(b"+/", b"-_")
    to_std = bytes.maketrans(b"-_", b"+/")
    pads = (b"", b"", b"==", b"=")
    chunk = 4000

    def encode(data: dict[str, Any]) -> list[str]:
        nonce = urandom(12)
        raw = nonce + aead.encrypt(nonce, cbor2.dumps(data), None)
        text = b2a(raw, newline=False).rstrip(b"=").translate(to_url).decode("ascii")
        return [text[i : i + chunk] for i in range(0, len(text), chunk)]

    def decode(parts: list[str]) -> dict[str, Any]:
        text = "".join(parts).encode("ascii")
        raw = a2b(text.translate(to_std) + pads[len(text) & 3])
        return cbor2.loads(aead.decrypt(raw[:12], raw[12:], None))  # type: ignore[no-any-return]

    def cookies(parts: list[str]) -> list[tuple[str, str]]:
        return [("session" if i == 0 else f"session.{i}", p) for i, p in enumerate(parts)]

    return Scheme(
        "raw floor: cbor2+AESGCM+b64",
        encode,
        decode,
        cookies,
        note="no header, no key id, no checks: the physical floor",
    )


# -- assembly ----------------------------------------------------------------


def make_engines() -> dict[str, Any]:
    from cookiesess import Keyring, SessionEngine
    from cookiesess.stores import MemoryStore

    keyring = Keyring.generate()
    return {
        "keyring": keyring,
        # The budget raised so the 10 KB payload chunks instead of failing.
        "cookie": SessionEngine(keyring, max_total_bytes=LARGE_BUDGET),
        # Default budget: the 10 KB payload moves to the store.
        "store": SessionEngine(keyring, store=MemoryStore(max_entries=1_000_000)),
    }


def make_schemes(engines: dict[str, Any]) -> list[Scheme]:
    keyring = engines["keyring"]
    return [
        cookiesess_scheme(
            "cookiesess",
            engines["cookie"],
            note=f"SessionEngine commit/load; max_total_bytes={LARGE_BUDGET} so 10 KB chunks",
        ),
        cookiesess_scheme(
            "cookiesess + MemoryStore",
            engines["store"],
            note="default budget: 10 KB goes to the store, a reference in the cookie",
        ),
        cookiesess_scheme(
            "cookiesess, cold key",
            engines["cookie"],
            note=(
                "the same, the derived key and the remembered tokens forgotten before each "
                "load (the first cookie of a worker never seen)"
            ),
            cold=True,
        ),
        other_worker_scheme(
            "cookiesess, other worker",
            engines["cookie"],
            note=(
                f"cookies sealed by another worker process ({OTHER_WORKER_COOKIES:,} per "
                "payload), a different one per load, after a first pass"
            ),
        ),
        straight_line_scheme(keyring),
        straight_line_scheme(keyring, guarded=False),
        starlette_scheme(),
        starsessions_scheme(),
        *flask_schemes(),
        django_scheme(),
        litestar_scheme(),
        *fernet_schemes(),
        raw_floor_scheme(),
    ]


def check(scheme: Scheme) -> dict[str, dict[str, Any]]:
    """Round-trip every payload once (correctness), and size its cookies."""
    sizes: dict[str, dict[str, Any]] = {}
    for name in scheme.only:
        data = PAYLOADS[name]
        artifact = scheme.encode(data)
        back = scheme.decode(scheme.jar(artifact) if scheme.jar else artifact)
        if dict(back) != data:
            raise AssertionError(f"{scheme.name} did not round-trip {name}")
        pairs = scheme.cookies(artifact)
        lens = [len(n) + 1 + len(v) for n, v in pairs]
        sizes[name] = {
            "cookies": len(pairs),
            "bytes": sum(lens),
            "largest": max(lens),
            "over_4096": any(n > 4096 for n in lens),
        }
        first = artifact[0] if isinstance(artifact, list) and artifact else None
        if isinstance(first, str) and "Path=" in first:
            sizes[name]["set_cookie_line_max"] = max(len(line) for line in artifact)
    return sizes


def codec_benches(schemes: list[Scheme], payloads: tuple[str, ...]) -> list[Bench]:
    benches = []
    for scheme in schemes:
        for name in payloads:
            if name not in scheme.only:
                continue
            data = PAYLOADS[name]
            if scheme.sealed_elsewhere is not None:
                benches.append(_elsewhere_bench(scheme, name, data))
                continue
            artifact = scheme.encode(data)
            jar = scheme.jar
            dec_input = jar(artifact) if jar else artifact
            enc, dec = scheme.encode, scheme.decode
            if jar is None:

                def rt(enc=enc, dec=dec, data=data):
                    return dec(enc(data))
            else:

                def rt(enc=enc, dec=dec, data=data, jar=jar):
                    return dec(jar(enc(data)))

            info = {"scheme": scheme.name, "payload": name, "group": f"codec/{name}"}
            benches += [
                sync_bench(f"codec|{scheme.name}|{name}|roundtrip", rt, op="roundtrip", **info),
                sync_bench(
                    f"codec|{scheme.name}|{name}|encode",
                    lambda enc=enc, data=data: enc(data),
                    op="encode",
                    **info,
                ),
                sync_bench(
                    f"codec|{scheme.name}|{name}|decode",
                    lambda dec=dec, x=dec_input: dec(x),
                    op="decode",
                    **info,
                ),
            ]
    return benches


def _elsewhere_bench(scheme: Scheme, name: str, data: dict[str, Any]) -> Bench:
    assert scheme.sealed_elsewhere is not None
    jars = scheme.sealed_elsewhere(data)
    decode = scheme.decode
    for jar in jars:  # the first pass: every cookie opens
        if dict(decode(jar)) != data:
            raise AssertionError(f"{scheme.name}: a cookie of the other worker did not open")
    cycle = itertools.cycle(jars)
    return sync_bench(
        f"codec|{scheme.name}|{name}|decode",
        lambda: decode(next(cycle)),
        op="decode",
        scheme=scheme.name,
        payload=name,
        group=f"codec/{name}",
    )


# -- (c) keyring size ------------------------------------------------------------


def keyring_benches(
    payloads: tuple[str, ...], sizes: tuple[int, ...] = (1, 10, 100)
) -> list[Bench]:
    from cryptography.fernet import Fernet, MultiFernet

    from cookiesess import Keyring, SessionEngine
    from cookiesess.keys import Key

    secrets_ = [hashlib.sha256(b"ring key %d" % i).digest() for i in range(max(sizes))]
    benches = []
    for n in sizes:
        # k0 is the primary (newest); k{n-1} the oldest decrypt-only key.
        ring = Keyring(
            [Key("k0", secrets_[0], "primary")]
            + [Key(f"k{i}", secrets_[i], "decrypt") for i in range(1, n)]
        )
        engine = SessionEngine(ring)
        oldest = SessionEngine(Keyring([Key(f"k{n - 1}", secrets_[n - 1], "primary")]))
        for name in payloads:
            data = PAYLOADS[name]
            for which, sealer in (("primary", engine), ("oldest", oldest)):
                if n == 1 and which == "oldest":
                    continue
                s = sealer.new_session()
                s.update(data)
                jar = _jar(sealer.commit(s, {}))
                opened = engine.load(jar)
                assert not opened.new, "keyring bench cookie did not open"
                assert dict(opened) == data, "keyring bench cookie did not round-trip"
                benches.append(
                    sync_bench(
                        f"keys|cookiesess|{n}|{which}|{name}",
                        lambda engine=engine, jar=jar: engine.load(jar),
                        scheme="cookiesess",
                        keys=n,
                        which=which,
                        payload=name,
                    )
                )
        # Contrast: MultiFernet tries every key in turn.
        fkeys = [base64.urlsafe_b64encode(s) for s in secrets_[:n]]
        multi = MultiFernet([Fernet(k) for k in fkeys])
        for name in payloads:
            data = PAYLOADS[name]
            token = Fernet(fkeys[-1]).encrypt(json.dumps(data).encode())
            benches.append(
                sync_bench(
                    f"keys|multifernet|{n}|oldest|{name}",
                    lambda multi=multi, token=token: json.loads(multi.decrypt(token)),
                    scheme="multifernet",
                    keys=n,
                    which="oldest",
                    payload=name,
                )
            )
    return benches
