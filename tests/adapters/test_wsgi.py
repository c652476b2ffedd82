"""cookiesess.wsgi.SessionMiddleware against raw PEP 3333 calls and werkzeug's test client."""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from werkzeug.test import Client

import cookiesess.wsgi
from cookiesess import (
    CodecError,
    ConfigurationError,
    KeyringError,
    LazySession,
    Session,
    SessionEngine,
    SessionTooLarge,
)
from cookiesess.legacy import FlaskSessionReader
from cookiesess.stores import SQLiteStore
from cookiesess.wsgi import ENVIRON_KEY, SessionMiddleware
from tests.adapters._session_apps import (
    OTHER_RING,
    RING,
    SwitchStore,
    call_wsgi,
    environ_for,
    wsgi_app,
)
from tests.helpers import SECRET_A, SECRET_B, Browser, ring_of
from tests.migration._support import SwitchableWSGI, flip_last, jar, sent_cookies


def middleware(app: Callable[..., Any] = wsgi_app, **options: Any) -> SessionMiddleware:
    return SessionMiddleware(app, RING, **options)


def cookie_header(response: Any, jar: Browser | None = None) -> str:
    jar = jar or Browser()
    jar.apply(response.set_cookies)
    return jar.header()


class TestRoundTrip:
    def test_set_view_clear(self) -> None:
        """Data set in one request is read back in the next and cleared by a third."""
        app = middleware()
        jar = Browser()

        first = call_wsgi(app, environ_for("/set?user=alice"))
        jar.apply(first.set_cookies)
        second = call_wsgi(app, environ_for("/view", cookie=jar.header()))
        third = call_wsgi(app, environ_for("/clear", cookie=jar.header()))
        jar.apply(third.set_cookies)
        fourth = call_wsgi(app, environ_for("/view", cookie=jar.header()))

        assert first.json() == {"user": "alice"}
        assert second.json() == {"user": "alice"}
        assert second.set_cookies == []
        assert "Max-Age=0" in third.set_cookies[0]
        assert fourth.json() == {}

    def test_set_cookie_attributes_and_cache_headers(self) -> None:
        """A write emits a Secure, HttpOnly, SameSite=Lax cookie, Cache-Control private, Vary."""
        response = call_wsgi(middleware(), environ_for("/set?a=1"))

        (line,) = response.set_cookies
        assert line.startswith("session=")
        assert "; Path=/; Secure; HttpOnly; SameSite=Lax" in line
        assert "Max-Age" not in line
        assert response.get("Cache-Control") == "private"
        assert response.get("Vary") == "Cookie"

    def test_read_only_request_varies_but_sets_nothing(self) -> None:
        """Reading a session adds Vary: Cookie and no Set-Cookie nor Cache-Control."""
        app = middleware()
        header = cookie_header(call_wsgi(app, environ_for("/set?a=1")))

        response = call_wsgi(app, environ_for("/view", cookie=header))

        assert response.set_cookies == []
        assert response.get("Vary") == "Cookie"
        assert response.get("Cache-Control") is None

    def test_untouched_session_adds_no_header(self) -> None:
        """A handler that ignores the session gets no Set-Cookie, Vary or Cache-Control."""
        app = middleware()
        header = cookie_header(call_wsgi(app, environ_for("/set?a=1")))

        response = call_wsgi(app, environ_for("/ignore", cookie=header))

        assert response.headers == [("Content-Type", "application/json")]

    def test_destroy_expires_the_cookie(self) -> None:
        """destroy() (log out) expires the cookie."""
        app = middleware()
        header = cookie_header(call_wsgi(app, environ_for("/set?a=1")))

        response = call_wsgi(app, environ_for("/destroy", cookie=header))

        assert response.json() == {}
        assert response.set_cookies[0].startswith("session=; Max-Age=0")

    def test_session_is_in_environ(self) -> None:
        """The session is a Session (a dict) at environ["cookiesess.session"]."""
        seen: list[Any] = []

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
            seen.append(environ[ENVIRON_KEY])
            start_response("204 No Content", [])
            return []

        call_wsgi(middleware(app), environ_for())

        assert ENVIRON_KEY == "cookiesess.session"
        assert isinstance(seen[0], Session)
        assert isinstance(seen[0], dict)


class TestHostileInput:
    @pytest.mark.parametrize(
        "cookie",
        ["session=invalid", "session=", "session", "session=\x00\xff", "=; ;;, ,session=%%"],
    )
    def test_invalid_cookie_gives_an_empty_session(self, cookie: str) -> None:
        """A bogus session cookie is a fresh empty session, never an error."""
        response = call_wsgi(middleware(), environ_for("/view", cookie=cookie))

        assert response.status == 200
        assert response.json() == {}

    def test_cookie_of_another_secret_gives_an_empty_session(self) -> None:
        """A cookie sealed under another secret (same key id) opens as an empty session."""
        other = SessionMiddleware(wsgi_app, OTHER_RING)
        header = cookie_header(call_wsgi(other, environ_for("/set?a=1")))

        response = call_wsgi(middleware(), environ_for("/view", cookie=header))

        assert response.json() == {}

    def test_key_rotation_reseals_on_a_read(self) -> None:
        """A cookie under a decrypt-only key is read and re-sealed under the new primary."""
        old = call_wsgi(middleware(), environ_for("/set?a=1"))
        rotated = ring_of(("b", SECRET_B, "primary"), ("a", SECRET_A, "decrypt"))
        app = SessionMiddleware(wsgi_app, rotated)

        response = call_wsgi(app, environ_for("/view", cookie=cookie_header(old)))
        fresh = call_wsgi(middleware(), environ_for("/view", cookie=cookie_header(response)))

        assert response.json() == {"a": "1"}
        assert len(response.set_cookies) == 1
        assert fresh.json() == {}  # the old ring alone no longer opens it


class TestConfiguration:
    def test_cookie_options(self) -> None:
        """Name, path, domain, SameSite, Max-Age and Secure come from the options."""
        app = middleware(
            cookie_name="sid",
            path="/app",
            domain=".example.com",
            samesite="strict",
            max_age=3600,
            secure=False,
            httponly=False,
        )

        (line,) = call_wsgi(app, environ_for("/set?a=1")).set_cookies

        assert line.startswith("sid=")
        assert line.endswith("; Max-Age=3600; Path=/app; Domain=.example.com; SameSite=Strict")

    @pytest.mark.parametrize(
        ("scheme", "forwarded", "trust_proxy", "secure"),
        [
            ("http", None, False, False),
            ("https", None, False, True),
            ("http", "https", False, False),
            ("http", "https", True, True),
            ("https", "http", True, False),
        ],
    )
    def test_secure_auto(
        self, scheme: str, forwarded: str | None, trust_proxy: bool, secure: bool
    ) -> None:
        """secure="auto" follows wsgi.url_scheme, or X-Forwarded-Proto with trust_proxy."""
        app = middleware(secure="auto", trust_proxy=trust_proxy)
        headers = {"X-Forwarded-Proto": forwarded} if forwarded else {}

        response = call_wsgi(app, environ_for("/set?a=1", scheme=scheme, headers=headers))

        assert ("; Secure" in response.set_cookies[0]) is secure

    def test_prebuilt_engine(self) -> None:
        """engine= takes a prebuilt SessionEngine; mixing it with options is refused."""
        engine = SessionEngine(RING, cookie_name="prebuilt")

        response = call_wsgi(SessionMiddleware(wsgi_app, engine=engine), environ_for("/set?a=1"))

        assert response.set_cookies[0].startswith("prebuilt=")
        with pytest.raises(ConfigurationError, match="either engine"):
            SessionMiddleware(wsgi_app, engine=engine, cookie_name="x")
        with pytest.raises(ConfigurationError, match="either engine"):
            SessionMiddleware(wsgi_app, RING, engine=engine)

    def test_keyring_from_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without a keyring the keys come from COOKIESESS_KEYS; none is a clear error."""
        monkeypatch.delenv("COOKIESESS_KEYS_FILE", raising=False)
        monkeypatch.delenv("COOKIESESS_KEYS", raising=False)
        with pytest.raises(KeyringError, match="COOKIESESS_KEYS"):
            SessionMiddleware(wsgi_app)

        monkeypatch.setenv("COOKIESESS_KEYS", f"a:{RING.primary.secret_b64()}")
        app = SessionMiddleware(wsgi_app)
        header = cookie_header(call_wsgi(app, environ_for("/set?a=1")))

        assert call_wsgi(middleware(), environ_for("/view", cookie=header)).json() == {"a": "1"}

    def test_invalid_options_are_reported(self) -> None:
        """Bad options fail at construction, every problem at once."""
        with pytest.raises(ConfigurationError) as info:
            middleware(samesite="None", secure=False, cookie_name="bad name")

        assert len(info.value.problems) == 2


class TestHeaders:
    def test_existing_vary_and_cache_control_are_merged(self) -> None:
        """Vary gains Cookie and Cache-Control becomes private, keeping the app's values."""

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
            environ[ENVIRON_KEY]["a"] = 1
            start_response(
                "200 OK",
                [
                    ("vary", "Accept-Encoding"),
                    ("Cache-Control", "public, max-age=60"),
                    ("Cache-Control", "must-revalidate"),
                ],
            )
            return [b""]

        response = call_wsgi(middleware(app), environ_for())

        assert response.get_all("Vary") == ["Accept-Encoding, Cookie"]
        assert response.get_all("Cache-Control") == ["private, max-age=60, must-revalidate"]

    def test_vary_star_and_no_store_are_kept(self) -> None:
        """Vary: * already covers Cookie; no-store is stronger than private."""

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
            environ[ENVIRON_KEY]["a"] = 1
            start_response("200 OK", [("Vary", "*"), ("Cache-Control", "no-store")])
            return [b""]

        response = call_wsgi(middleware(app), environ_for())

        assert response.get_all("Vary") == ["*"]
        assert response.get_all("Cache-Control") == ["no-store"]

    def test_comma_joined_cookie_lines_are_read(self) -> None:
        """gunicorn joins repeated Cookie lines with ', ': a chunked session still opens."""
        app = middleware(max_total_bytes=12000)
        first = call_wsgi(app, environ_for("/big?n=7000"))
        pairs = [line.partition(";")[0] for line in first.set_cookies]
        assert len(pairs) == 3

        header = f"{pairs[0]}; theme=dark, {pairs[1]}, lang=en; {pairs[2]}"
        response = call_wsgi(app, environ_for("/view", cookie=header))

        assert response.json() == {"blob": "b" * 7000}

    def test_write_callable_still_works(self) -> None:
        """An app using the legacy write() callable gets its session headers too."""

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
            environ[ENVIRON_KEY]["a"] = 1
            write = start_response("200 OK", [("Content-Type", "text/plain")])
            write(b"hello ")
            return [b"world"]

        response = call_wsgi(middleware(app), environ_for())

        assert response.body == b"hello world"
        assert len(response.set_cookies) == 1

    def test_generator_app_commits_during_iteration(self) -> None:
        """A generator app that starts its response lazily still gets the Set-Cookie."""

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
            environ[ENVIRON_KEY]["a"] = 1
            start_response("200 OK", [])
            yield b"streamed"

        response = call_wsgi(middleware(app), environ_for())

        assert response.body == b"streamed"
        assert len(response.set_cookies) == 1

    def test_error_response_with_exc_info_writes_no_session(self) -> None:
        """An error page started with exc_info drops the request's session changes."""

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
            environ[ENVIRON_KEY]["a"] = 1
            try:
                raise RuntimeError("boom")
            except RuntimeError:
                start_response("500 Internal Server Error", [], sys.exc_info())
            return [b"error"]

        response = call_wsgi(middleware(app), environ_for())

        assert response.status == 500
        assert response.set_cookies == []

    def test_codec_error_at_commit_propagates(self) -> None:
        """A value the codec cannot encode is a bug: it raises, never drops the cookie."""
        with pytest.raises(CodecError, match="bad"):
            call_wsgi(middleware(), environ_for("/bad"))

    def test_session_too_large_without_store_propagates(self) -> None:
        """Past the budget with no store, SessionTooLarge surfaces (a 500 by the server)."""
        with pytest.raises(SessionTooLarge):
            call_wsgi(middleware(), environ_for("/big?n=20000"))


class TestLazy:
    def test_untouched_lazy_session_parses_nothing(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """lazy=True: a handler that ignores the session costs no parsing and adds no header."""
        parsed: list[object] = []
        monkeypatch.setattr(cookiesess.wsgi, "parse_cookie_header", parsed.append)
        app = middleware(lazy=True)
        environ = environ_for("/ignore", cookie="session=abc; theme=dark")

        response = call_wsgi(app, environ)

        assert response.headers == [("Content-Type", "application/json")]
        assert parsed == []
        assert type(environ[ENVIRON_KEY]) is LazySession
        assert environ[ENVIRON_KEY].loaded is None

    @pytest.mark.parametrize("path", ["/ignore", "/view", "/set?a=1"])
    @pytest.mark.parametrize("lazy", [False, True])
    def test_requests_leave_no_reference_cycle(self, path: str, lazy: bool) -> None:
        """A request's objects are freed by reference counting, not left to the cyclic GC."""
        app = middleware(lazy=lazy)
        header = cookie_header(call_wsgi(app, environ_for("/set?a=1")))
        gc.collect()
        gc.disable()
        try:
            call_wsgi(app, environ_for(path, cookie=header))
            garbage = gc.collect()
        finally:
            gc.enable()

        assert garbage == 0

    def test_lazy_session_reads_and_writes(self) -> None:
        """A lazy session opens on first access; reads vary, writes set the cookie."""
        app = middleware(lazy=True)
        jar = Browser()

        write = call_wsgi(app, environ_for("/set?a=1"))
        jar.apply(write.set_cookies)
        read = call_wsgi(app, environ_for("/view", cookie=jar.header()))

        assert len(write.set_cookies) == 1
        assert write.get("Cache-Control") == "private"
        assert read.json() == {"a": "1"}
        assert read.get("Vary") == "Cookie"
        assert read.set_cookies == []

    def test_json_dumps_of_a_lazy_session_raises(self) -> None:
        """json.dumps refuses the lazy mapping instead of silently writing {}."""
        seen: list[Any] = []

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
            seen.append(environ[ENVIRON_KEY])
            start_response("200 OK", [])
            return [b""]

        call_wsgi(middleware(app, lazy=True), environ_for())

        with pytest.raises(TypeError):
            json.dumps(seen[0])


class TestStoreFailure:
    def stored_session(self, store: SwitchStore, **options: Any) -> str:
        """Return a Cookie header whose session lives in the store (a reference cookie)."""
        app = middleware(store=store, **options)
        response = call_wsgi(app, environ_for("/big?n=9000"))
        assert store.calls == ["set"]
        return cookie_header(response)

    def test_store_failure_on_load_is_a_503_without_calling_the_app(self) -> None:
        """A store down while loading answers 503, the app never runs, no Set-Cookie."""
        store = SwitchStore()
        header = self.stored_session(store)
        store.broken = True
        calls: list[str] = []

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
            calls.append("app")  # pragma: no cover
            return []  # pragma: no cover

        response = call_wsgi(middleware(app, store=store), environ_for(cookie=header))

        assert response.status == 503
        assert response.set_cookies == []
        assert response.get("Cache-Control") == "no-store"
        assert calls == []

    @pytest.mark.parametrize("generator", [False, True])
    def test_store_failure_on_commit_is_a_503_and_closes_the_body(self, generator: bool) -> None:
        """A store down while saving replaces the response by a 503; the app's body is closed."""
        store = SwitchStore()
        closed: list[bool] = []

        class Body:
            def __iter__(self) -> Iterator[bytes]:
                yield b"app body"

            def close(self) -> None:
                closed.append(True)

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            environ[ENVIRON_KEY]["blob"] = "x" * 9000
            if generator:
                return lazy_start(start_response)
            start_response("200 OK", [("Content-Type", "text/plain")])
            return Body()

        def lazy_start(start_response: Callable[..., Any]) -> Iterator[bytes]:
            try:
                start_response("200 OK", [("Content-Type", "text/plain")])
                yield b"app body"
            finally:
                closed.append(True)

        store.broken = True
        response = call_wsgi(middleware(app, store=store), environ_for())

        assert response.status == 503
        assert response.set_cookies == []
        assert b"app body" not in response.body
        assert closed == [True]

    def test_lazy_store_failure_in_the_app_is_a_503(self) -> None:
        """lazy=True: a store failing on first access inside the app still answers 503."""
        store = SwitchStore()
        header = self.stored_session(store)
        store.broken = True

        response = call_wsgi(middleware(store=store, lazy=True), environ_for(cookie=header))

        assert response.status == 503
        assert response.set_cookies == []

    def test_stored_session_round_trip(self) -> None:
        """A session over the budget moves to the store and comes back through the middleware."""
        store = SwitchStore()
        header = self.stored_session(store)

        response = call_wsgi(middleware(store=store), environ_for(cookie=header))

        assert response.json() == {"blob": "b" * 9000}
        assert store.calls == ["set", "get"]


class TestWerkzeugClient:
    def test_login_logout_flow(self) -> None:
        """werkzeug's test client keeps the cookie across set, view, destroy and view."""
        client = Client(middleware(secure=False))

        client.get("/set?user=alice")
        seen = client.get("/view").json
        client.get("/destroy")
        after = client.get("/view").json

        assert seen == {"user": "alice"}
        assert after == {}

    def test_chunked_session_grows_and_shrinks(self) -> None:
        """A 3-chunk session round trips; shrinking it expires the stale chunks."""
        client = Client(middleware(secure=False, max_total_bytes=12000))

        grown = client.get("/big?n=7000")
        big = client.get("/view").json
        shrunk = client.get("/big?n=10")
        small = client.get("/view").json

        assert len(grown.headers.getlist("Set-Cookie")) == 3
        assert big == {"blob": "b" * 7000}
        expired = [c for c in shrunk.headers.getlist("Set-Cookie") if "Max-Age=0" in c]
        assert [c.partition("=")[0] for c in expired] == ["session.1", "session.2"]
        assert small == {"blob": "b" * 10}
        assert client.get_cookie("session.1") is None


OUTAGE_BODY = b"Service Unavailable: the session store failed.\n"
OUTAGE_HEADERS = [
    ("Content-Type", "text/plain; charset=utf-8"),
    ("Content-Length", str(len(OUTAGE_BODY))),
    ("Cache-Control", "no-store"),
]


class TestRealStoreOutage:
    """A real store that fails (SQLite pointed at a directory): the one 503 on both paths."""

    def test_load_and_commit_answer_the_same_503(self, tmp_path: Path) -> None:
        """Store down on load and on commit: 503, no-store, plain text, no Set-Cookie."""
        working = Client(middleware(store=SQLiteStore(tmp_path / "sessions.db"), secure=False))
        working.get("/big?n=9000")
        cookie = working.get_cookie("session")
        assert cookie is not None
        broken = middleware(store=SQLiteStore(tmp_path), secure=False)

        on_load = call_wsgi(broken, environ_for(cookie=f"session={cookie.value}"))
        on_commit = call_wsgi(broken, environ_for("/big?n=9000"))

        for response in (on_load, on_commit):
            assert (response.status, response.headers, response.body) == (
                503,
                OUTAGE_HEADERS,
                OUTAGE_BODY,
            )


# -- legacy cookies (migrate_from) through a real cookie jar --------------------------------

LEGACY_SECRET = "wsgi-migration-secret-Jr7Qx2Lm9Wc4Tz8Kp1Vb6Nd3"


def flask_cookie(data: object) -> str:
    """A Flask session cookie signed now (itsdangerous configured as Flask does)."""
    itsdangerous = pytest.importorskip("itsdangerous")
    serializer = itsdangerous.URLSafeTimedSerializer(
        LEGACY_SECRET,
        salt="cookie-session",
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
    )
    return str(serializer.dumps(data))


def legacy_client(name: str, value: str, *, path: str = "/") -> tuple[httpx.Client, SwitchableWSGI]:
    """A client whose jar holds the legacy cookie, set by the old app, and the switch."""

    def old_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Set-Cookie", f"{name}={value}; Path={path}; HttpOnly")])
        return [b"old"]

    switch = SwitchableWSGI(old_app)
    client = httpx.Client(transport=httpx.WSGITransport(app=switch), base_url="http://testserver")
    client.get(path)
    assert [(n, p) for n, p, _ in jar(client)] == [(name, path)]
    return client, switch


def migrating(**options: Any) -> SessionMiddleware:
    reader = FlaskSessionReader(
        LEGACY_SECRET,
        cookie_name=options.pop("legacy_name", "session"),
        path=options.pop("legacy_path", "/"),
    )
    return middleware(secure=False, migrate_from=reader, **options)


PAST = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


class TestLegacyCookiesLeaveTheJar:
    """Through the WSGI middleware, the browser ends up without the legacy cookie."""

    def test_migrated_cookie_is_replaced(self) -> None:
        """Same name: the migrated data goes out in our cookie, which replaces the legacy one."""
        client, switch = legacy_client("session", flask_cookie({"user": "alice"}))
        switch.current = migrating()

        assert client.get("/ignore").status_code == 200

        ((name, path, value),) = jar(client)
        assert (name, path) == ("session", "/")
        assert client.get("/view").json() == {"user": "alice"}
        assert sent_cookies(client.get("/view")) == f"session={value}"

    @pytest.mark.parametrize("lazy", [False, True])
    @pytest.mark.parametrize("value", ["valid", "tampered", "empty"])
    def test_cookie_under_another_name_is_expired_on_an_untouched_request(
        self, value: str, lazy: bool
    ) -> None:
        """Another name, an app that never touches the session: the legacy cookie is expired."""
        cookie = flask_cookie({} if value == "empty" else {"user": "alice"})
        if value == "tampered":
            cookie = flip_last(cookie)
        client, switch = legacy_client("old", cookie)
        switch.current = migrating(legacy_name="old", lazy=lazy)

        response = client.get("/ignore")

        assert response.text == "ignored"
        assert "old" not in [name for name, _, _ in jar(client)]

    def test_cookie_under_another_name_is_expired_after_migrate_until(self) -> None:
        """Past migrate_until the legacy cookie is not read, but still expired."""
        client, switch = legacy_client("old", flask_cookie({"user": "alice"}))
        switch.current = migrating(legacy_name="old", migrate_until=PAST)

        response = client.get("/ignore")

        assert response.text == "ignored"
        assert jar(client) == []

    def test_empty_migrated_cookie_is_expired(self) -> None:
        """Same name, nothing to migrate: no session cookie is written, the legacy one expires."""
        client, switch = legacy_client("session", flask_cookie({}))
        switch.current = migrating()

        assert client.get("/view").json() == {}
        assert jar(client) == []

    def test_cookie_under_our_name_is_expired_after_migrate_until(self) -> None:
        """Past migrate_until, the legacy cookie under our own name is expired too."""
        client, switch = legacy_client("session", flask_cookie({"user": "alice"}))
        switch.current = migrating(migrate_until=PAST)

        assert client.get("/view").json() == {}
        assert jar(client) == []
