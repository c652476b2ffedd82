"""Section (b): per-request overhead of session middlewares, in process.

Raw ASGI: a hello coroutine called directly on one event loop, bare
(``baseline``) and wrapped in each session middleware. WSGI: a hello app
bare and wrapped in the cookiesess WSGI middleware, and a minimal Flask app
without sessions (``flask baseline``: no secret key) and with Flask's default
signed-cookie session. Every request carries the cookie that stack itself
wrote for the payload of its column, so each middleware opens a real session.

Handlers: ``ignore`` never touches the session, ``read`` reads one key
(``uid``, an int), ``modify`` sets ``n``; ``follow`` modifies too, but each
request sends the cookie the previous response set, as a browser does (the
others resend the seeded cookie). Overhead is the paired difference to the
bare app of the same family in the same round (for ``follow`` it includes
reading the Set-Cookie back, the same for every stack).
"""

from __future__ import annotations

import io
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from _harness import Bench, Loop, async_bench, sync_bench
from codec_bench import LARGE_BUDGET, LIFETIME, SECRET, configure_django, litestar_backend
from payloads import PAYLOADS

VARIANTS = ("ignore", "read", "modify")
WRITING = (*VARIANTS, "follow")


# -- ASGI --------------------------------------------------------------------


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _discard(message: dict[str, Any]) -> None:
    pass


def asgi_hello(variant: str, payload: dict[str, Any] | None = None) -> Callable[..., Any]:
    """A hello app whose handler ignores, reads or modifies ``scope["session"]``."""

    async def respond(send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")],
            }
        )
        await send({"type": "http.response.body", "body": b"hello"})

    if variant == "ignore":

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await respond(send)
    elif variant == "read":

        async def app(scope: Any, receive: Any, send: Any) -> None:
            scope["state"]["seen"] = scope["session"]["uid"]
            await respond(send)
    elif variant == "modify":

        async def app(scope: Any, receive: Any, send: Any) -> None:
            session = scope["session"]
            session["n"] = session.get("n", 0) + 1
            await respond(send)
    elif variant == "seed":
        assert payload is not None

        async def app(scope: Any, receive: Any, send: Any) -> None:
            scope["session"].update(payload)
            await respond(send)
    else:  # pragma: no cover
        raise ValueError(variant)
    return app


def _asgi_scope(cookie: bytes | None) -> dict[str, Any]:
    headers = [(b"host", b"localhost"), (b"user-agent", b"bench"), (b"accept", b"*/*")]
    if cookie:
        headers.append((b"cookie", cookie))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


class PassThrough:
    """The least an ASGI session middleware does: copy the scope, wrap `send`.

    No cookie read, no session: its overhead is the floor under every
    middleware's ``ignore`` row (the ``lazy=True`` and default targets).
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        inner = {**scope, "session": None}  # the ASGI spec: copy the scope to change it

        def send_wrapper(message: Any) -> Any:
            if message["type"] == "http.response.start":
                inner.get("session")  # where a session middleware decides its cookies
            return send(message)

        await self.app(inner, receive, send_wrapper)


class _LitestarShim:
    """Stands in for the app and route handler Litestar's middleware reads."""

    opt: dict[str, Any] = {}  # noqa: RUF012
    state: dict[str, Any] = {}  # noqa: RUF012
    type_encoders = None
    response_class = None


@dataclass
class AsgiStack:
    name: str
    wrap: Callable[[Any], Any]
    """Returns the stack around an ASGI app."""
    extra_scope: dict[str, Any] = field(default_factory=dict)
    variants: tuple[str, ...] = VARIANTS


def asgi_stacks(keyring: Any) -> list[AsgiStack]:
    from litestar.middleware.session.base import SessionMiddleware as LitestarMW
    from starlette.middleware.sessions import SessionMiddleware as StarletteMW
    from starsessions import CookieStore, SessionAutoloadMiddleware
    from starsessions import SessionMiddleware as StarsessionsMW

    from cookiesess.asgi import SessionMiddleware as Ours

    backend = litestar_backend()
    shim = _LitestarShim()
    return [
        AsgiStack("asgi baseline", lambda app: app, variants=("ignore",)),
        AsgiStack("asgi pass-through", PassThrough, variants=("ignore",)),
        AsgiStack(
            "cookiesess ASGI",
            lambda app: Ours(app, keyring, max_total_bytes=LARGE_BUDGET),
            variants=WRITING,
        ),
        AsgiStack(
            "cookiesess ASGI lazy",
            lambda app: Ours(app, keyring, max_total_bytes=LARGE_BUDGET, lazy=True),
        ),
        AsgiStack(
            "starlette SessionMiddleware",
            lambda app: StarletteMW(app, secret_key=SECRET, max_age=LIFETIME),
            variants=WRITING,
        ),
        AsgiStack(
            "starsessions CookieStore",
            lambda app: StarsessionsMW(
                SessionAutoloadMiddleware(app), store=CookieStore(SECRET), lifetime=LIFETIME
            ),
        ),
        AsgiStack(
            "litestar ClientSide",
            lambda app: LitestarMW(app, backend=backend),
            extra_scope={"litestar_app": shim, "route_handler": shim},
            variants=WRITING,
        ),
    ]


def _asgi_call(stack: Any, template: dict[str, Any], send: Any) -> Callable[[], Any]:
    def call() -> Any:
        # A fresh scope per request: Litestar caches parsed cookies in scope["state"].
        return stack({**template, "state": {}}, _receive, send)

    return call


def _asgi_follow(stack: Any, template: dict[str, Any]) -> Callable[[], Any]:
    """Requests that each send the cookies the previous response set, as a browser does."""
    others = [h for h in template["headers"] if h[0] != b"cookie"]
    jar: dict[str, str] = {}
    for name, value in template["headers"]:
        if name == b"cookie":
            for pair in value.decode("latin-1").split(";"):
                key, _, val = pair.strip().partition("=")
                jar[key] = val
    current = {"headers": template["headers"]}

    async def capture(message: dict[str, Any]) -> None:
        if message["type"] != "http.response.start":
            return
        lines = [bytes(v) for k, v in message.get("headers", ()) if k == b"set-cookie"]
        for line in lines:
            key, _, val = line.decode("latin-1").split(";", 1)[0].strip().partition("=")
            if b"max-age=0" in line.lower():
                jar.pop(key, None)
            else:
                jar[key] = val
        if lines:
            cookie = "; ".join(f"{k}={v}" for k, v in jar.items()).encode("latin-1")
            current["headers"] = [*others, (b"cookie", cookie)]

    def call() -> Any:
        return stack({**template, "headers": current["headers"], "state": {}}, _receive, capture)

    return call


def asgi_app(stack: AsgiStack, variant: str) -> Any:
    """`stack` around the handler of `variant` (``follow`` modifies)."""
    return stack.wrap(asgi_hello("modify" if variant == "follow" else variant))


def asgi_request(app: Any, variant: str, template: dict[str, Any]) -> Callable[[], Any]:
    """One request of `variant` to `app` (the stack around that variant's handler)."""
    if variant == "follow":
        return _asgi_follow(app, template)
    return _asgi_call(app, template, _discard)


def asgi_seeded_cookie(loop: Loop, stack: AsgiStack, payload: dict[str, Any]) -> bytes | None:
    """The Cookie header `stack` sets for a session holding `payload` (None: no sessions)."""
    if stack.name in ("asgi baseline", "asgi pass-through"):
        return None
    seed_scope = {**_asgi_scope(None), **stack.extra_scope}
    seeded = _asgi_once(loop, stack.wrap(asgi_hello("seed", payload)), seed_scope)
    lines = [v.decode("latin-1") for k, v in seeded if k.lower() == b"set-cookie"]
    return _cookie_header(lines)


def _asgi_once(loop: Loop, stack: Any, template: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    sent: list[dict[str, Any]] = []

    async def capture(message: dict[str, Any]) -> None:
        sent.append(message)

    loop.run(_asgi_call(stack, template, capture)())
    start = next(m for m in sent if m["type"] == "http.response.start")
    return [(bytes(k), bytes(v)) for k, v in start.get("headers", [])]


def _cookie_header(set_cookies: list[str]) -> bytes:
    """The Cookie header a browser sends back for these Set-Cookie values."""
    pairs = []
    for line in set_cookies:
        pair = line.split(";", 1)[0].strip()
        name, _, value = pair.partition("=")
        pairs.append(f"{name}={value}")
    return "; ".join(pairs).encode("latin-1")


# -- WSGI --------------------------------------------------------------------


def _wsgi_environ(cookie: str | None) -> dict[str, Any]:
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "localhost",
        "HTTP_USER_AGENT": "bench",
        "HTTP_ACCEPT": "*/*",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    return environ


def wsgi_hello(variant: str, payload: dict[str, Any] | None = None) -> Callable[..., Any]:
    headers = [("Content-Type", "text/plain; charset=utf-8")]

    def app(environ: Any, start_response: Any) -> list[bytes]:
        if variant != "ignore":
            session = environ["cookiesess.session"]
            if variant == "read":
                start_response("200 OK", list(headers))
                return [str(session["uid"]).encode()]
            if variant == "modify":
                session["n"] = session.get("n", 0) + 1
            elif variant == "seed":
                session.update(payload)
        start_response("200 OK", list(headers))
        return [b"hello"]

    return app


def flask_app(
    variant: str,
    *,
    sessions: bool,
    payload: dict[str, Any] | None = None,
    keyring: Any = None,
) -> Any:
    """A minimal Flask app; with `keyring`, its sessions are cookiesess's (the Flask adapter)."""
    import flask

    app = flask.Flask(f"bench_{variant}_{sessions}_{keyring is not None}")
    if sessions:
        app.secret_key = SECRET
    if keyring is not None:
        from cookiesess.flask import CookieSessionInterface

        CookieSessionInterface(keyring, secure=False, max_total_bytes=LARGE_BUDGET).init_app(app)
    session = flask.session

    if variant == "ignore":

        def view() -> str:
            return "hello"
    elif variant == "read":

        def view() -> str:
            return str(session["uid"])
    elif variant == "modify":

        def view() -> str:
            session["n"] = session.get("n", 0) + 1
            return "hello"
    elif variant == "seed":

        def view() -> str:
            session.update(payload)
            return "hello"

    app.add_url_rule("/", "hello", view)
    return app


def _django_urls() -> None:
    """The URLconf of the Django apps: one view per handler variant."""
    import types

    from django.http import HttpResponse
    from django.urls import path

    def ignore(request: Any) -> Any:
        return HttpResponse(b"hello")

    def read(request: Any) -> Any:
        return HttpResponse(str(request.session["uid"]).encode())

    def modify(request: Any) -> Any:
        request.session["n"] = request.session.get("n", 0) + 1
        return HttpResponse(b"hello")

    def seed(request: Any) -> Any:
        request.session.update(_DJANGO_SEED)
        return HttpResponse(b"hello")

    module = types.ModuleType("bench_django_urls")
    module.urlpatterns = [  # type: ignore[attr-defined]
        path(f"{view.__name__}", view) for view in (ignore, read, modify, seed)
    ]
    sys.modules["bench_django_urls"] = module


_DJANGO_SEED: dict[str, Any] = {}


def django_app(
    variant: str,
    *,
    middleware: str | None,
    payload: Any = None,
    keyring: Any = None,
    lazy: bool = False,
) -> Any:
    """A minimal Django WSGI app with `middleware` (a dotted path) or none."""
    configure_django()
    if "bench_django_urls" not in sys.modules:
        _django_urls()
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.utils import override_settings

    if payload is not None:
        _DJANGO_SEED.clear()
        _DJANGO_SEED.update(payload)
    options = {"keys": keyring, "secure": False, "max_total_bytes": LARGE_BUDGET, "lazy": lazy}
    # Middleware reads its settings when the handler is built.
    with override_settings(MIDDLEWARE=[middleware] if middleware else [], COOKIESESS=options):
        handler = WSGIHandler()
    path_info = f"/{variant}"

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        environ["PATH_INFO"] = path_info
        return handler(environ, start_response)

    return app


@dataclass
class WsgiStack:
    name: str
    build: Callable[[str, dict[str, Any] | None], Any]
    """Returns the WSGI app for a handler variant."""
    family: str
    variants: tuple[str, ...] = VARIANTS


def wsgi_stacks(keyring: Any) -> list[WsgiStack]:
    from cookiesess.wsgi import SessionMiddleware as Ours

    return [
        WsgiStack("wsgi baseline", wsgi_hello, "wsgi", ("ignore",)),
        WsgiStack(
            "cookiesess WSGI",
            lambda v, p: Ours(wsgi_hello(v, p), keyring, max_total_bytes=LARGE_BUDGET),
            "wsgi",
        ),
        WsgiStack(
            "cookiesess WSGI lazy",
            lambda v, p: Ours(wsgi_hello(v, p), keyring, max_total_bytes=LARGE_BUDGET, lazy=True),
            "wsgi",
        ),
        WsgiStack(
            "flask baseline", lambda v, p: flask_app(v, sessions=False), "flask", ("ignore",)
        ),
        WsgiStack("flask session", lambda v, p: flask_app(v, sessions=True, payload=p), "flask"),
        WsgiStack(
            "flask + cookiesess",
            lambda v, p: flask_app(v, sessions=True, payload=p, keyring=keyring),
            "flask",
        ),
        WsgiStack(
            "django baseline",
            lambda v, p: django_app(v, middleware=None),
            "django",
            ("ignore",),
        ),
        WsgiStack(
            "django signed_cookies",
            lambda v, p: django_app(
                v, middleware="django.contrib.sessions.middleware.SessionMiddleware", payload=p
            ),
            "django",
        ),
        WsgiStack(
            "django + cookiesess",
            lambda v, p: django_app(
                v, middleware="cookiesess.django.SessionMiddleware", payload=p, keyring=keyring
            ),
            "django",
        ),
        WsgiStack(
            "django + cookiesess lazy",
            lambda v, p: django_app(
                v,
                middleware="cookiesess.django.SessionMiddleware",
                payload=p,
                keyring=keyring,
                lazy=True,
            ),
            "django",
        ),
    ]


def _wsgi_call(app: Any, template: dict[str, Any]) -> tuple[Callable[[], Any], list[Any]]:
    captured: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured[:] = [status, headers]
        return None

    def call() -> None:
        body = app(dict(template), start_response)
        for _ in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()

    return call, captured


def _wsgi_probe(app: Any, template: dict[str, Any], captured: list[Any]) -> list[bytes]:
    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured[:] = [status, headers]

    body = app(dict(template), start_response)
    try:
        return list(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()


# -- assembly ----------------------------------------------------------------


@dataclass
class Case:
    stack: str
    family: str
    variant: str
    payload: str
    set_cookies: int = 0
    cookie_bytes: int = 0
    ok: bool = True
    warn: bool = False
    note: str = ""


def middleware_benches(
    loop: Loop, keyring: Any, payloads: tuple[str, ...]
) -> tuple[list[Bench], list[Case]]:
    benches: list[Bench] = []
    cases: list[Case] = []
    for name in payloads:
        payload = PAYLOADS[name]
        for stack in asgi_stacks(keyring):
            cookie = asgi_seeded_cookie(loop, stack, payload)
            template = {**_asgi_scope(cookie), **stack.extra_scope}
            if stack.name == "cookiesess ASGI":
                # The decode cost in the same rounds: what "default ignore" may spend.
                from cookiesess.cookies import parse_cookie_header

                engine = stack.wrap(asgi_hello("ignore")).engine
                jar = parse_cookie_header(cookie or b"")
                assert not engine.load(jar).new, "cookiesess cookie did not open"
                benches.append(
                    sync_bench(
                        f"mw|cookiesess engine.load|decode|{name}",
                        lambda engine=engine, jar=jar: engine.load(jar),
                        stack="cookiesess engine.load",
                        family="asgi",
                        variant="decode",
                        payload=name,
                        group=f"asgi/{name}",
                    )
                )
            for variant in stack.variants:
                app = asgi_app(stack, variant)
                case = Case(stack.name, "asgi", variant, name, cookie_bytes=len(cookie or b""))
                state_probe: dict[str, Any] = {}

                async def probe(
                    app: Any = app, template: Any = template, state: Any = state_probe
                ) -> Any:
                    sent: list[dict[str, Any]] = []

                    async def capture(message: dict[str, Any]) -> None:
                        sent.append(message)

                    scope = {**template, "state": state}
                    await app(scope, _receive, capture)
                    return sent

                sent = loop.run(probe())
                start = next(m for m in sent if m["type"] == "http.response.start")
                case.set_cookies = sum(
                    1 for k, _ in start.get("headers", []) if bytes(k).lower() == b"set-cookie"
                )
                if variant == "read" and state_probe.get("seen") != payload["uid"]:
                    case.ok = False
                    case.note = "read did not see the session"
                cases.append(case)
                call = asgi_request(app, variant, template)
                benches.append(
                    async_bench(
                        loop,
                        f"mw|{stack.name}|{variant}|{name}",
                        call,
                        stack=stack.name,
                        family="asgi",
                        variant=variant,
                        payload=name,
                        group=f"asgi/{name}",
                    )
                )
        for wstack in wsgi_stacks(keyring):
            cookie_str = None
            if "baseline" not in wstack.name:
                seed_app = wstack.build("seed", payload)
                call, captured = _wsgi_call(seed_app, _wsgi_environ(None))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    call()
                lines = [v for k, v in captured[1] if k.lower() == "set-cookie"]
                cookie_str = _cookie_header(lines).decode("latin-1")
            template = _wsgi_environ(cookie_str)
            for variant in wstack.variants:
                app = wstack.build(variant, payload)
                call, captured = _wsgi_call(app, template)
                case = Case(wstack.name, wstack.family, variant, name)
                case.cookie_bytes = len(cookie_str or "")
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    body = b"".join(_wsgi_probe(app, template, captured))
                case.warn = bool(caught)
                case.set_cookies = sum(1 for k, _ in captured[1] if k.lower() == "set-cookie")
                if variant == "read" and body != str(payload["uid"]).encode():
                    case.ok = False
                    case.note = "read did not see the session"
                cases.append(case)
                benches.append(
                    sync_bench(
                        f"mw|{wstack.name}|{variant}|{name}",
                        call,
                        stack=wstack.name,
                        family=wstack.family,
                        variant=variant,
                        payload=name,
                        group=f"{wstack.family}/{name}",
                    )
                )
    return benches, cases
