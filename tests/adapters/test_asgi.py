"""cookiesess.asgi.SessionMiddleware with Starlette, FastAPI and raw ASGI calls: the round trip.

The Starlette tests re-express the behaviours of Starlette's own
``tests/middleware/test_session.py`` against our middleware. Lazy sessions are
in test_asgi_lazy.py, stores and their failures in test_asgi_stores.py,
WebSockets in test_asgi_websocket.py, an app replacing ``scope["session"]`` in
test_asgi_replaced_session.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import pytest
from fastapi import FastAPI
from fastapi import Request as FastAPIRequest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Mount, Route

from cookiesess import ConfigurationError, Session, SessionEngine
from cookiesess.asgi import SessionMiddleware
from tests.adapters._asgi_support import ROUTES, client_for, run, starlette_app, update_session
from tests.adapters._session_apps import OTHER_RING, RING, asgi_request, raw_asgi_app
from tests.helpers import SECRET_A, SECRET_B, Browser, ring_of


class TestStarletteBehaviours:
    def test_session(self) -> None:
        """Set, read back and clear, as Starlette's test_session."""
        client = client_for(starlette_app())

        empty = client.get("/view_session").json()
        updated = client.post("/update_session", json={"some": "data"})
        read = client.get("/view_session").json()
        cleared = client.post("/clear_session").json()
        after = client.get("/view_session").json()

        assert empty == {"session": {}}
        assert updated.json() == {"session": {"some": "data"}}
        assert "Max-Age" not in updated.headers["set-cookie"]
        assert read == {"session": {"some": "data"}}
        assert cleared == {"session": {}}
        assert after == {"session": {}}

    def test_max_age(self) -> None:
        """max_age sets the cookie's Max-Age, as Starlette's default 14 days."""
        client = client_for(starlette_app(max_age=14 * 24 * 3600))

        response = client.post("/update_session", json={"some": "data"})

        match = re.search(r"; Max-Age=([0-9]+);", response.headers["set-cookie"])
        assert match is not None
        assert int(match[1]) == 14 * 24 * 3600

    def test_session_expires(self) -> None:
        """A cookie past its absolute deadline opens as an empty session."""
        now = [1_700_000_000.0]
        app = starlette_app(absolute_timeout=60, clock=lambda: now[0])
        client = client_for(app)
        client.post("/update_session", json={"some": "data"})

        now[0] += 61
        response = client.get("/view_session")

        assert response.json() == {"session": {}}

    @pytest.mark.parametrize("partitioned", [False, True])
    def test_partitioned_session(self, partitioned: bool) -> None:
        """Partitioned is on the cookie when set and when cleared."""
        app = starlette_app(secure=True, samesite="None", partitioned=partitioned)
        client = client_for(app, base_url="https://testserver")

        written = client.post("/update_session", json={"some": "data"})
        cleared = client.post("/clear_session")

        for response in (written, cleared):
            attributes = response.headers["set-cookie"].split("; ")
            assert ("Partitioned" in attributes) is partitioned
            assert "SameSite=None" in attributes

    def test_secure_session(self) -> None:
        """A Secure cookie (our default) is not sent back over plain http, only over https."""
        app = starlette_app(secure=True)
        secure_client = client_for(app, base_url="https://testserver")
        plain_client = client_for(app, base_url="http://testserver")

        assert plain_client.post("/update_session", json={"some": "data"}).json() == {
            "session": {"some": "data"}
        }
        assert plain_client.get("/view_session").json() == {"session": {}}
        assert secure_client.post("/update_session", json={"some": "data"}).json() == {
            "session": {"some": "data"}
        }
        assert secure_client.get("/view_session").json() == {"session": {"some": "data"}}
        assert secure_client.post("/clear_session").json() == {"session": {}}
        assert secure_client.get("/view_session").json() == {"session": {}}

    def test_session_cookie_subpath(self) -> None:
        """path= is the cookie's Path, for an app mounted under a prefix."""
        second_app = Starlette(
            routes=[Route("/update_session", endpoint=update_session, methods=["POST"])],
            middleware=[Middleware(SessionMiddleware, RING, secure=False, path="/second_app")],
        )
        app = Starlette(routes=[Mount("/second_app", app=second_app)])
        client = client_for(app, base_url="http://testserver/second_app")

        response = client.post("/update_session", json={"some": "data"})

        assert response.status_code == 200
        assert "; Path=/second_app;" in response.headers["set-cookie"]

    def test_invalid_session_cookie(self) -> None:
        """A bogus cookie does not raise: the session is empty."""
        client = client_for(starlette_app(), cookies={"session": "invalid"})

        assert client.get("/view_session").json() == {"session": {}}

    def test_cookie_of_another_secret(self) -> None:
        """A cookie sealed under another secret opens as an empty session."""
        other = Starlette(
            routes=ROUTES, middleware=[Middleware(SessionMiddleware, OTHER_RING, secure=False)]
        )
        token = client_for(other).post("/update_session", json={"a": 1}).cookies["session"]

        client = client_for(starlette_app(), cookies={"session": token})

        assert client.get("/view_session").json() == {"session": {}}

    def test_session_cookie_without_max_age(self) -> None:
        """Without max_age the cookie is a browser-session cookie (no Max-Age)."""
        client = client_for(starlette_app())

        response = client.post("/update_session", json={"some": "data"})
        client.cookies.delete("session")

        assert "Max-Age" not in response.headers["set-cookie"]
        assert client.get("/view_session").json() == {"session": {}}

    def test_domain_cookie(self) -> None:
        """domain= is the cookie's Domain."""
        client = client_for(starlette_app(domain=".example.com"))

        response = client.post("/update_session", json={"some": "data"})

        assert "; Domain=.example.com" in response.headers["set-cookie"]

    @pytest.mark.parametrize(("samesite", "rendered"), [("strict", "Strict"), ("lax", "Lax")])
    def test_samesite(self, samesite: str, rendered: str) -> None:
        """samesite= is the cookie's SameSite, in Starlette's lower-case spelling too."""
        client = client_for(starlette_app(samesite=samesite))

        response = client.post("/update_session", json={"some": "data"})

        assert f"; SameSite={rendered}" in response.headers["set-cookie"]

    def test_set_cookie_only_on_modification(self) -> None:
        """A read-only request sends no Set-Cookie."""
        client = client_for(starlette_app())

        written = client.post("/update_session", json={"some": "data"})
        read = client.get("/view_session")

        assert "set-cookie" in written.headers
        assert read.json() == {"session": {"some": "data"}}
        assert "set-cookie" not in read.headers

    def test_vary_cookie_on_access(self) -> None:
        """Writing or reading a non-empty session varies on Cookie; ignoring it does not."""
        client = client_for(starlette_app())

        written = client.post("/update_session", json={"some": "data"})
        read = client.get("/view_session")
        ignored = client.get("/no_session")

        assert "cookie" in written.headers.get("vary", "").lower()
        assert "cookie" in read.headers.get("vary", "").lower()
        assert "cookie" not in ignored.headers.get("vary", "").lower()

    @pytest.mark.parametrize("data", [{"a": "1"}, {"a": "1", "b": "2"}])
    def test_vary_cookie_on_session_pop(self, data: dict[str, str]) -> None:
        """pop() writes the cookie and varies on Cookie."""
        client = client_for(starlette_app())
        client.post("/update_session", json=data)

        response = client.post("/pop_session")

        assert response.json() == {"value": "1"}
        assert "set-cookie" in response.headers
        assert "cookie" in response.headers.get("vary", "").lower()

    @pytest.mark.parametrize(
        ("path", "data", "expected"),
        [
            ("/inplace_update_session", {"c": "3"}, {"a": "1", "b": "2", "c": "3"}),
            ("/popitem_session", None, {"a": "1"}),
        ],
    )
    def test_session_persists_mutations(
        self, path: str, data: dict[str, str] | None, expected: dict[str, str]
    ) -> None:
        """|= and popitem() persist."""
        client = client_for(starlette_app())
        client.post("/update_session", json={"a": "1", "b": "2"})

        assert client.post(path, json=data).json() == {"session": expected}
        assert client.get("/view_session").json() == {"session": expected}

    def test_request_session_is_a_dict(self) -> None:
        """request.session is a Session, which is a dict."""
        seen: list[Any] = []

        def endpoint(request: Request) -> PlainTextResponse:
            seen.append(request.session)
            return PlainTextResponse("ok")

        app = Starlette(
            routes=[Route("/", endpoint)],
            middleware=[Middleware(SessionMiddleware, RING)],
        )
        client_for(app).get("/")

        assert isinstance(seen[0], Session)
        assert isinstance(seen[0], dict)

    def test_an_old_cookie_sent_again_reads_as_it_was_sealed(self) -> None:
        """Nested values changed in place by one request never reach another request
        sending the same cookie (a second tab), however often the worker saw it."""

        async def append(request: Request) -> JSONResponse:
            request.session["cart"].append({"sku": "b"})
            request.session["prefs"]["seen"]["n"] += 1
            return JSONResponse({"session": request.session})

        async def seed(request: Request) -> JSONResponse:
            request.session.update(cart=[{"sku": "a"}], prefs={"seen": {"n": 0}})
            return JSONResponse({})

        app = Starlette(
            routes=[*ROUTES, Route("/append", append), Route("/seed", seed)],
            middleware=[Middleware(SessionMiddleware, RING, secure=False)],
        )
        client = client_for(app)
        client.get("/seed")
        old = client.cookies["session"]
        sealed = {"cart": [{"sku": "a"}], "prefs": {"seen": {"n": 0}}}

        for _ in range(4):
            tab = client_for(app, cookies={"session": old})
            assert tab.get("/view_session").json() == {"session": sealed}
            changed = tab.get("/append")
            assert changed.json()["session"]["cart"] == [{"sku": "a"}, {"sku": "b"}]
            assert "set-cookie" in changed.headers

    def test_a_change_after_the_response_started_is_not_what_the_next_request_reads(
        self,
    ) -> None:
        """The cookie is sealed when the response starts; a streaming body changing the
        session afterwards changes neither the cookie nor what this worker reads next."""

        async def stream(request: Request) -> StreamingResponse:
            request.session["user"] = "alice"

            async def body() -> AsyncIterator[bytes]:
                yield b"started"
                request.session["user"] = "mallory"
                request.session["admin"] = True
                yield b"done"

            return StreamingResponse(body())

        app = Starlette(
            routes=[*ROUTES, Route("/stream", stream)],
            middleware=[Middleware(SessionMiddleware, RING, secure=False)],
        )
        client = client_for(app)
        assert client.get("/stream").text == "starteddone"
        for _ in range(3):
            assert client.get("/view_session").json() == {"session": {"user": "alice"}}
        elsewhere = client_for(starlette_app(), cookies=dict(client.cookies))  # another worker
        assert elsewhere.get("/view_session").json() == {"session": {"user": "alice"}}


class TestFastAPI:
    def app(self, **options: Any) -> FastAPI:
        app = FastAPI()
        app.add_middleware(SessionMiddleware, keyring=RING, secure=False, **options)

        @app.post("/login/{user}")
        def login(user: str, request: FastAPIRequest) -> dict[str, Any]:
            session = cast(Session, request.session)
            session.regenerate()
            session["user"] = user
            return {"session": session}

        @app.get("/me")
        def me(request: FastAPIRequest) -> JSONResponse:
            return JSONResponse({"session": request.session})

        @app.post("/logout")
        def logout(request: FastAPIRequest) -> dict[str, Any]:
            cast(Session, request.session).destroy()
            return {"ok": True}

        return app

    def test_login_me_logout(self) -> None:
        """FastAPI's request.session works unchanged, in returned dicts and JSONResponse."""
        client = client_for(self.app())

        login = client.post("/login/alice")
        me = client.get("/me")
        logout = client.post("/logout")
        after = client.get("/me")

        assert login.json() == {"session": {"user": "alice"}}
        assert me.json() == {"session": {"user": "alice"}}
        assert "Max-Age=0" in logout.headers["set-cookie"]
        assert after.json() == {"session": {}}

    def test_regenerate_changes_the_token(self) -> None:
        """Logging in twice issues a new cookie each time (a new session id)."""
        client = client_for(self.app())

        first = client.post("/login/alice").cookies["session"]
        second = client.post("/login/alice").cookies["session"]

        assert first != second


class TestProtocol:
    def test_several_cookie_header_lines(self) -> None:
        """Every cookie header line of the scope is read: a chunked session split over two."""
        app = SessionMiddleware(raw_asgi_app(), RING, max_total_bytes=12000)
        written = run(asgi_request(app, "/big?n=7000"))
        pairs = [line.partition(";")[0] for line in written.set_cookies]
        assert len(pairs) == 3

        response = run(asgi_request(app, cookies=[f"{pairs[0]}; a=b", f"{pairs[1]}; {pairs[2]}"]))

        assert response.json() == {"blob": "b" * 7000}

    def test_key_rotation_reseals_on_a_read(self) -> None:
        """A cookie under a decrypt-only key is read and re-sealed under the new primary."""
        jar = Browser()
        jar.apply(
            run(asgi_request(SessionMiddleware(raw_asgi_app(), RING), "/set?a=1")).set_cookies
        )
        rotated = ring_of(("b", SECRET_B, "primary"), ("a", SECRET_A, "decrypt"))

        response = run(
            asgi_request(SessionMiddleware(raw_asgi_app(), rotated), cookies=[jar.header()])
        )

        assert response.json() == {"a": "1"}
        assert len(response.set_cookies) == 1
        assert response.get("cache-control") == "private"

    @pytest.mark.parametrize(
        ("scheme", "forwarded", "trust_proxy", "secure"),
        [
            ("http", None, False, False),
            ("https", None, False, True),
            ("http", b"https", False, False),
            ("http", b"https", True, True),
            ("https", b"http", True, False),
        ],
    )
    def test_secure_auto(
        self, scheme: str, forwarded: bytes | None, trust_proxy: bool, secure: bool
    ) -> None:
        """secure="auto" follows scope["scheme"], or x-forwarded-proto with trust_proxy."""
        app = SessionMiddleware(raw_asgi_app(), RING, secure="auto", trust_proxy=trust_proxy)
        headers = [(b"x-forwarded-proto", forwarded)] if forwarded else []

        response = run(asgi_request(app, "/set?a=1", scheme=scheme, headers=headers))

        assert ("; Secure" in response.set_cookies[0]) is secure

    def test_existing_vary_and_cache_control_are_merged(self) -> None:
        """The app's Vary and Cache-Control are kept and extended."""

        async def endpoint(request: Request) -> PlainTextResponse:
            request.session["a"] = 1
            return PlainTextResponse(
                "ok", headers={"vary": "Accept-Encoding", "cache-control": "public, max-age=9"}
            )

        app = Starlette(
            routes=[Route("/", endpoint)], middleware=[Middleware(SessionMiddleware, RING)]
        )

        response = client_for(app).get("/")

        assert response.headers.get_list("vary") == ["Accept-Encoding, Cookie"]
        assert response.headers.get_list("cache-control") == ["private, max-age=9"]

    def test_scope_is_copied_not_mutated(self) -> None:
        """The caller's scope is left as it was (ASGI: middleware copies the scope)."""
        scopes: list[dict[str, Any]] = []

        async def outer(scope: dict[str, Any], receive: Any, send: Any) -> None:
            scopes.append(scope)
            await SessionMiddleware(raw_asgi_app(), RING)(scope, receive, send)

        run(asgi_request(outer))

        assert "session" not in scopes[0]

    def test_lifespan_passes_through(self) -> None:
        """lifespan events reach the app, with no session in the scope."""
        events: list[str] = []

        @asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            events.append("startup")
            yield
            events.append("shutdown")

        app = Starlette(
            routes=ROUTES, lifespan=lifespan, middleware=[Middleware(SessionMiddleware, RING)]
        )
        with client_for(app) as client:
            client.get("/no_session")

        assert events == ["startup", "shutdown"]

    def test_other_scope_types_pass_through(self) -> None:
        """Unknown scope types reach the app untouched."""
        seen: list[Any] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            seen.append(scope)

        scope = {"type": "custom.protocol"}
        run(SessionMiddleware(app, RING)(scope, None, None))  # type: ignore[arg-type]

        assert seen == [scope]

    def test_prebuilt_engine(self) -> None:
        """engine= takes a prebuilt SessionEngine; mixing it with options is refused."""
        engine = SessionEngine(RING, cookie_name="prebuilt")

        response = run(asgi_request(SessionMiddleware(raw_asgi_app(), engine=engine), "/set?a=1"))

        assert response.set_cookies[0].startswith("prebuilt=")
        with pytest.raises(ConfigurationError, match="either engine"):
            SessionMiddleware(raw_asgi_app(), RING, engine=engine)
