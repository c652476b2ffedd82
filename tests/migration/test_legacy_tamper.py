"""A tamper corpus of real legacy cookies, through the engine's load path and its fuzz harness.

The originals are made by the real libraries (Flask's signing serializer,
Starlette's SessionMiddleware, ``django.core.signing`` as the signed_cookies
backend calls it) at the harness clock, with the harness secret and data, so
each original migrates. Every variant (each character changed, truncations,
extensions, segments swapped or dropped, the compression flag toggled, other
secrets and salts, signed non-dict payloads) must give a fresh, empty session
with reason ``legacy_rejected``, and must hold ``fuzz/fuzz_engine_load.py``'s
invariant.
"""

from __future__ import annotations

import base64
import importlib
import json
import sys
import types
import warnings
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from unittest import mock

import pytest

itsdangerous = pytest.importorskip("itsdangerous")
flask = pytest.importorskip("flask")
signing = pytest.importorskip("django.core.signing")
pytest.importorskip("starlette")

from starlette.applications import Starlette  # noqa: E402
from starlette.exceptions import StarletteDeprecationWarning  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.middleware.sessions import SessionMiddleware  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import PlainTextResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from cookiesess import Session, SessionEngine  # noqa: E402
from cookiesess.cookies import parse_cookie_header  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

FUZZ = Path(__file__).resolve().parents[2] / "fuzz"
DJANGO_SALT = "django.contrib.sessions.backends.signed_cookies"
OTHER_SECRET = "another-long-secret-not-the-harness-one-9876543210"
# Replacement characters: from every alphabet the three formats use, plus separators.
SWAPS = "A0_-.:=+/"


@pytest.fixture(scope="module")
def harness() -> Iterator[ModuleType]:
    """fuzz/fuzz_engine_load.py, imported without atheris."""
    sys.path.insert(0, str(FUZZ))
    try:
        yield importlib.import_module("fuzz_engine_load")
    finally:
        sys.path.remove(str(FUZZ))


def at_harness_clock(now: int) -> mock._patch[object]:
    return mock.patch.object(itsdangerous.timed, "time", types.SimpleNamespace(time=lambda: now))


def flask_cookie(data: object, secret: str, now: int) -> str:
    """Flask's own signing serializer (tagged JSON, zlib when shorter)."""
    app = flask.Flask(__name__)
    app.secret_key = secret
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    with at_harness_clock(now):
        return str(serializer.dumps(data))


def starlette_cookie(data: dict[str, object], secret: str, now: int) -> str:
    """Starlette's SessionMiddleware, run for one request."""

    async def write(request: Request) -> PlainTextResponse:
        request.session.update(data)
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[Route("/", write)], middleware=[Middleware(SessionMiddleware, secret_key=secret)]
    )
    with at_harness_clock(now), TestClient(app) as client:
        return str(client.get("/").cookies["session"])


def django_cookie(data: object, secret: str, now: int, *, salt: str = DJANGO_SALT) -> str:
    """What the signed_cookies backend writes: ``signing.dumps(..., compress=True)``."""
    with mock.patch.object(signing, "time", types.SimpleNamespace(time=lambda: now)):
        signer = signing.TimestampSigner(key=secret, salt=salt, fallback_keys=[])
        return str(signer.sign_object(data, compress=True))


def variants(value: str, sep: str) -> Iterator[str]:
    """Every single-character change, truncations, extensions and segment edits of `value`."""
    for i, char in enumerate(value):
        for swap in SWAPS[i % 3 :: 3]:
            if swap != char:
                yield value[:i] + swap + value[i + 1 :]
    for end in range(0, len(value), 5):
        yield value[:end]
    yield value[:-1]
    yield from (value + extra for extra in ("A", sep, sep + "AAAA", "=", " "))
    parts = value.split(sep)
    yield sep.join(reversed(parts))
    yield sep.join(parts[:-1])
    yield sep.join([parts[0], *parts[2:]])
    yield value[1:] if value.startswith(".") else "." + value
    yield value.upper()


def corpus(secret: str, data: tuple[dict[str, object], ...], now: int) -> dict[str, list[str]]:
    """Originals by cookie name (Flask "session", Starlette "starlette", Django "sessionid")."""
    return {
        "session": [flask_cookie(data[0], secret, now), flask_cookie(data[3], secret, now)],
        "starlette": [starlette_cookie(data[1], secret, now)],
        "sessionid": [django_cookie(data[2], secret, now)],
    }


def forged(secret: str, now: int) -> dict[str, list[str]]:
    """Validly signed by the libraries, but not cookies the readers may accept."""
    its = itsdangerous.URLSafeTimedSerializer(secret, salt="not-cookie-session")
    starlette_signer = itsdangerous.TimestampSigner(secret)
    with at_harness_clock(now):
        return {
            "session": [
                flask_cookie({"user": "x"}, OTHER_SECRET, now),  # wrong secret
                flask_cookie(["a", "list"], secret, now),  # not a dict
                flask_cookie({"old": 1}, secret, now - 32 * 24 * 3600),  # expired
                flask_cookie({"future": 1}, secret, now + 3600),  # from the future
                its.dumps({"user": "x"}),  # wrong salt
            ],
            "starlette": [
                starlette_cookie({"user": "x"}, OTHER_SECRET, now),
                starlette_signer.sign(base64.b64encode(b"[1, 2]")).decode(),
                starlette_signer.sign(base64.b64encode(b"{not json")).decode(),
                starlette_signer.sign(base64.urlsafe_b64encode(b'{"\xff": 1}')).decode(),
            ],
            "sessionid": [
                django_cookie({"user": "x"}, OTHER_SECRET, now),
                django_cookie({"user": "x"}, secret, now, salt="django.core.signing"),
                django_cookie([1, 2], secret, now),
                django_cookie({"old": 1}, secret, now - 15 * 24 * 3600),
                # A zlib bomb, validly signed: inflating past the cap is refused.
                signing.TimestampSigner(key=secret, salt=DJANGO_SALT, fallback_keys=[]).sign(
                    "."
                    + base64.urlsafe_b64encode(zlib.compress(b'{"a":"' + b"a" * (2 << 20)))
                    .decode()
                    .rstrip("=")
                ),
            ],
        }


@pytest.fixture(scope="module")
def tamper_corpus(harness: ModuleType) -> dict[str, list[str]]:
    """Every tampered or forged legacy cookie, by cookie name."""
    fuzzlib = sys.modules["_fuzzlib"]
    secret, now = fuzzlib.LEGACY_SECRET, fuzzlib.NOW
    originals = corpus(secret, fuzzlib.LEGACY_DATA, now)
    seps = {"session": ".", "starlette": ".", "sessionid": ":"}
    bad = {
        name: [v for o in values for v in variants(o, seps[name])]
        for name, values in originals.items()
    }
    for name, values in forged(secret, now).items():
        bad[name] += values
    for name, values in originals.items():
        bad[name] = sorted(set(bad[name]) - set(values))
    return bad


def engine_and_reasons(harness: ModuleType) -> tuple[SessionEngine, list[str]]:
    """The harness's migrating engine, with an on_reject hook recording reasons."""
    engine: SessionEngine = harness.ENGINES[2]
    reasons: list[str] = []
    fuzzlib = sys.modules["_fuzzlib"]
    hooked = fuzzlib.make_engine(migrate_from=engine.config.migrate_from, on_reject=reasons.append)
    return hooked, reasons


def test_originals_migrate(harness: ModuleType) -> None:
    """Sanity: each untampered original migrates to its data through the harness engine."""
    fuzzlib = sys.modules["_fuzzlib"]
    originals = corpus(fuzzlib.LEGACY_SECRET, fuzzlib.LEGACY_DATA, fuzzlib.NOW)
    engine, reasons = engine_and_reasons(harness)

    migrated = [
        dict(engine.load({name: value})) for name, values in originals.items() for value in values
    ]

    assert migrated == [fuzzlib.LEGACY_DATA[i] for i in (0, 3, 1, 2)]
    assert reasons == []


def test_corpus_is_substantial(tamper_corpus: dict[str, list[str]]) -> None:
    """Hundreds of variants per format, so each byte of each format is exercised."""
    assert {name: len(values) > 200 for name, values in tamper_corpus.items()} == {
        "session": True,
        "starlette": True,
        "sessionid": True,
    }


def test_every_variant_is_rejected_by_the_engine(
    harness: ModuleType, tamper_corpus: dict[str, list[str]]
) -> None:
    """Each variant loads as a fresh, empty session with reason legacy_rejected (never an error)."""
    engine, reasons = engine_and_reasons(harness)
    accepted: list[tuple[str, str]] = []

    for name, values in tamper_corpus.items():
        for value in values:
            reasons.clear()
            session = engine.load({name: value})
            if not (session.new and not session and not session.migrated):
                accepted.append((name, value))
            elif reasons != ["legacy_rejected"]:
                accepted.append((name, f"{value} -> {reasons}"))

    assert accepted == []


def test_every_variant_holds_the_fuzz_invariant(
    harness: ModuleType, tamper_corpus: dict[str, list[str]]
) -> None:
    """Through fuzz_engine_load.TestOneInput: Cookie header parser, then the migrating engine."""
    run: Callable[[bytes], None] = harness.TestOneInput
    ours = "; ".join(f"{k}={v}" for k, v in harness.sealed_for(harness.SEALED, 2)[1].items())

    for name, values in tamper_corpus.items():
        for value in values:
            header = f"{name}={value}"
            run(b"\x02" + header.encode("latin-1"))
            # Beside a real cookiesess session (sharing Flask's name "session").
            run(b"\x02" + f"{ours}; {header}".encode("latin-1"))


def test_ours_wins_and_the_legacy_cookie_is_expired(
    harness: ModuleType, tamper_corpus: dict[str, list[str]]
) -> None:
    """Beside a valid cookiesess cookie, a legacy one (bad or not) is not read, and is expired."""
    fuzzlib = sys.modules["_fuzzlib"]
    engine, reasons = engine_and_reasons(harness)
    ours = harness.sealed_for(harness.SEALED, 2)[1]
    originals = corpus(fuzzlib.LEGACY_SECRET, fuzzlib.LEGACY_DATA, fuzzlib.NOW)

    for name in ("starlette", "sessionid"):
        for value in [*originals[name], *tamper_corpus[name][::40]]:
            cookies = {**ours, name: value}
            session = engine.load(cookies)
            lines = engine.commit(session, cookies)

            assert dict(session) == fuzzlib.SAMPLE_DATA[1]
            assert [line.split(";")[:2] for line in lines] == [[f"{name}=", " Max-Age=0"]]
    assert reasons == []


def test_variants_beside_a_valid_legacy_cookie(
    harness: ModuleType, tamper_corpus: dict[str, list[str]]
) -> None:
    """A bad cookie of one format does not stop another format's valid cookie from migrating."""
    fuzzlib = sys.modules["_fuzzlib"]
    django_ok = corpus(fuzzlib.LEGACY_SECRET, fuzzlib.LEGACY_DATA, fuzzlib.NOW)["sessionid"][0]
    engine, _ = engine_and_reasons(harness)

    for value in tamper_corpus["starlette"][::25]:
        cookies = parse_cookie_header(f"starlette={value}; sessionid={django_ok}")
        session = engine.load(cookies)

        assert isinstance(session, Session)
        assert dict(session) == fuzzlib.LEGACY_DATA[2]


def test_signed_json_is_checked_for_a_sealable_value(harness: ModuleType) -> None:
    """Signed data the codec cannot keep (an int past 1024 bits) is rejected, not a 500 later."""
    fuzzlib = sys.modules["_fuzzlib"]
    value = django_cookie({"n": 2**1100}, fuzzlib.LEGACY_SECRET, fuzzlib.NOW)
    engine, reasons = engine_and_reasons(harness)

    session = engine.load({"sessionid": value})

    assert session.new
    assert not session
    assert reasons == ["legacy_rejected"]
    assert json.dumps(session) == "{}"
