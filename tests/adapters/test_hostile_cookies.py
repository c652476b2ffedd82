"""The core tamper corpus sent through the WSGI and ASGI middlewares.

Every hostile cookie must give HTTP 200 from the app with an empty session,
and responses must be identical (status, headers, body) whatever the reason
the engine rejected the cookie — and identical to a request with no cookie.
The corpus is the one of ``tests/unit/test_tamper.py``, sampled where it is
exhaustive (bit flips and character swaps), complete everywhere else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from cookiesess import SessionEngine
from cookiesess.asgi import SessionMiddleware as ASGISessionMiddleware
from cookiesess.wsgi import ENVIRON_KEY
from cookiesess.wsgi import SessionMiddleware as WSGISessionMiddleware
from tests.adapters._session_apps import Response, asgi_request, call_wsgi, environ_for
from tests.helpers import NOW
from tests.unit.test_tamper import SINGLE, engine, single_token_mutations, whole_cookie_cases

# Exhaustive kinds are sampled with these strides; every other kind is complete.
STRIDES = {"bit flip": 4, "char swap": 32}


def corpus() -> Iterator[tuple[str, str, SessionEngine]]:
    """Yield (kind, Cookie header, engine) for every hostile case of the sample."""
    base = engine()
    seen: dict[str, int] = {}
    for kind, token in single_token_mutations():
        n = seen[kind] = seen.get(kind, -1) + 1
        if n % STRIDES.get(kind, 1) == 0:
            yield kind, f"session={token}", base
    for kind, cookies, case_engine in whole_cookie_cases():
        yield kind, "; ".join(f"{k}={v}" for k, v in cookies.items()), case_engine
    # Header-level hostility the adapters see before the engine does.
    # (A valid token among several values of the name opens: tests/adapters/test_rules_adapters.py.)
    yield "duplicate name, all bad", f"session=junk; session={SINGLE[:-4]}; session=x", base
    yield "token split by a comma", f"session={SINGLE[:50]},{SINGLE[50:]}", base
    yield "many cookies", "; ".join(f"c{i}=v" for i in range(400)) + "; session=x", base
    yield "oversized header", "session=" + "A" * 70_000, base


CASES = list(corpus())


def counting(case_engine: SessionEngine, reasons: list[str], *, lazy: bool) -> SessionEngine:
    return SessionEngine(
        case_engine.keyring, case_engine.config, on_reject=reasons.append, lazy=lazy
    )


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    session = environ[ENVIRON_KEY]
    body = b'{"empty": %s, "new": %s}' % (
        b"true" if len(session) == 0 else b"false",
        b"true" if session.new else b"false",
    )
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    session = scope["session"]
    body = b'{"empty": %s, "new": %s}' % (
        b"true" if len(session) == 0 else b"false",
        b"true" if session.new else b"false",
    )
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def summary(response: Response) -> tuple[int, list[tuple[str, str]], bytes]:
    return response.status, response.headers, response.body


def check(kind: str, response: Response, baseline: Response, reasons: list[str]) -> None:
    assert summary(response) == summary(baseline), kind
    if kind not in ("many cookies",):
        # The engine saw the cookie and refused it (exactly once).
        assert len(reasons) == 1, (kind, reasons)


def test_corpus_is_substantial() -> None:
    """The sample keeps every kind of the core corpus and over a thousand cases."""
    kinds = {kind for kind, _, _ in CASES}

    assert len(CASES) > 1000
    assert {"bit flip", "char swap", "version", "kind/count", "truncation", "append"} <= kinds
    assert {"chunks reordered", "chunk missing", "chunk duplicated", "absolute expiry"} <= kinds
    assert {"moved to another cookie name", "another app namespace"} <= kinds


@pytest.mark.parametrize("lazy", [False, True])
def test_wsgi_hostile_cookies_look_like_no_cookie(lazy: bool) -> None:
    """Every hostile cookie through the WSGI middleware: 200, empty, identical headers."""
    baseline = call_wsgi(WSGISessionMiddleware(wsgi_app, engine=engine()), environ_for())
    assert baseline.status == 200
    assert baseline.body == b'{"empty": true, "new": true}'
    assert baseline.get("Vary") == "Cookie"
    assert baseline.set_cookies == []

    all_reasons: set[str] = set()
    for kind, header, case_engine in CASES:
        reasons: list[str] = []
        app = WSGISessionMiddleware(wsgi_app, engine=counting(case_engine, reasons, lazy=lazy))

        response = call_wsgi(app, environ_for(cookie=header))

        check(kind, response, baseline, reasons)
        all_reasons.update(reasons)

    assert {"malformed", "auth_failed", "unknown_key", "expired", "chunk_missing"} <= all_reasons


@pytest.mark.parametrize("lazy", [False, True])
def test_asgi_hostile_cookies_look_like_no_cookie(lazy: bool) -> None:
    """Every hostile cookie through the ASGI middleware: 200, empty, identical headers."""

    async def main() -> set[str]:
        baseline = await asgi_request(ASGISessionMiddleware(asgi_app, engine=engine()))
        assert baseline.status == 200
        assert baseline.body == b'{"empty": true, "new": true}'
        assert baseline.get("vary") == "Cookie"
        all_reasons: set[str] = set()
        for kind, header, case_engine in CASES:
            reasons: list[str] = []
            app = ASGISessionMiddleware(asgi_app, engine=counting(case_engine, reasons, lazy=lazy))
            # The header also arrives split into two lines, as HTTP/2 sends cookies.
            lines = header.split("; ", 1) if kind in ("chunks reordered",) else [header]

            response = await asgi_request(app, cookies=lines)

            check(kind, response, baseline, reasons)
            all_reasons.update(reasons)
        return all_reasons

    all_reasons = asyncio.run(main())

    assert {"malformed", "auth_failed", "unknown_key", "expired", "chunk_missing"} <= all_reasons


@pytest.mark.parametrize("lazy", [False, True])
def test_starlette_hostile_cookies_look_like_no_cookie(lazy: bool) -> None:
    """Through a Starlette app and its test client (one case of each kind)."""

    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse({"session": dict(request.session)})

    def client(case_engine: SessionEngine) -> TestClient:
        app = Starlette(
            routes=[Route("/", endpoint)],
            middleware=[
                Middleware(
                    ASGISessionMiddleware,
                    engine=SessionEngine(case_engine.keyring, case_engine.config, lazy=lazy),
                )
            ],
        )
        return TestClient(app)

    baseline = client(engine()).get("/")
    one_per_kind = {kind: (header, e) for kind, header, e in CASES}

    for kind, (header, case_engine) in one_per_kind.items():
        response = client(case_engine).get("/", headers={"cookie": header})

        assert response.status_code == 200, kind
        assert response.json() == {"session": {}}, kind
        assert response.headers.multi_items() == baseline.headers.multi_items(), kind


def warm_cases() -> list[tuple[str, str]]:
    """The single-token mutations of SINGLE, for an engine that already opened SINGLE.

    Plus one with a non-ASCII (latin-1) character that keeps the rest of SINGLE, its
    GCM tag included.
    """
    base = CASES[0][2]
    cases = [(kind, header) for kind, header, e in CASES if e is base and "=" in header]
    return [*cases, ("non-ASCII, same tail", f"session={SINGLE[:20]}\u00e9{SINGLE[21:]}")]


@pytest.mark.parametrize("adapter", ["wsgi", "asgi"])
def test_hostile_cookies_after_the_valid_one_was_remembered(adapter: str) -> None:
    """One app, one engine: once SINGLE opened (and is remembered), every mutation of it
    still looks like no cookie, and SINGLE itself still expires on the idle timeout."""
    clock = {"now": float(NOW)}
    reasons: list[str] = []
    warm = SessionEngine(
        CASES[0][2].keyring,
        CASES[0][2].config,
        on_reject=reasons.append,
        clock=lambda: clock["now"],
    )
    if adapter == "wsgi":
        app = WSGISessionMiddleware(wsgi_app, engine=warm)

        def request(header: str | None) -> Response:
            return call_wsgi(app, environ_for(cookie=header))
    else:
        app = ASGISessionMiddleware(asgi_app, engine=warm)

        def request(header: str | None) -> Response:
            return asyncio.run(asgi_request(app, cookies=[] if header is None else [header]))

    baseline = request(None)
    for _ in range(2):  # opened, then opened again as a remembered token
        assert request(f"session={SINGLE}").body == b'{"empty": false, "new": false}'

    for kind, header in warm_cases():
        reasons.clear()
        check(kind, request(header), baseline, reasons)

    reasons.clear()
    clock["now"] = NOW + 3600  # the engine's idle_timeout
    check("idle expiry, remembered", request(f"session={SINGLE}"), baseline, reasons)
    assert reasons == ["expired"]
