"""Apps served by real servers in test_servers.py (imported by the server subprocess).

Keys come from ``COOKIESESS_KEYS``. Under ``/c/`` the session has a raised
budget (``max_total_bytes=12000``, cookie ``big``) so it chunks into three;
under ``/d/`` it has the default budget (cookie ``session``). Plain http, so
``secure=False``. ``python -m tests.adapters._server_apps PORT`` serves the
WSGI app with werkzeug's ``run_simple``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from cookiesess.asgi import SessionMiddleware as ASGISessionMiddleware
from cookiesess.wsgi import ENVIRON_KEY
from cookiesess.wsgi import SessionMiddleware as WSGISessionMiddleware
from tests.adapters._session_apps import act_on_session

CHUNKED: dict[str, Any] = {"cookie_name": "big", "max_total_bytes": 12000, "secure": False}
DEFAULT: dict[str, Any] = {"secure": False}


def _wsgi_inner(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/lines":
        body = json.dumps({"cookie": environ.get("HTTP_COOKIE", "")}).encode()
    else:
        session = environ[ENVIRON_KEY]
        body = act_on_session(session, path, environ.get("QUERY_STRING", "")) or b"{}"
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


_wsgi_chunked = WSGISessionMiddleware(_wsgi_inner, **CHUNKED)
_wsgi_default = WSGISessionMiddleware(_wsgi_inner, **DEFAULT)


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Dispatch /c/... and /d/... to the two session configurations."""
    prefix, _, rest = environ["PATH_INFO"].partition("/")[2].partition("/")
    environ["PATH_INFO"] = "/" + rest
    app = _wsgi_chunked if prefix == "c" else _wsgi_default
    return app(environ, start_response)


async def _endpoint(request: Request) -> Response:
    action = request.path_params["action"]
    if action == "lines":
        lines = [v.decode("latin-1") for k, v in request.scope["headers"] if k == b"cookie"]
        body = json.dumps({"lines": lines}).encode()
    else:
        body = act_on_session(request.session, "/" + action, request.url.query) or b"{}"
    return Response(body, media_type="application/json")


def _starlette(options: dict[str, Any]) -> Starlette:
    return Starlette(
        routes=[Route("/{action}", _endpoint)],
        middleware=[Middleware(ASGISessionMiddleware, **options)],
    )


asgi_app = Starlette(
    routes=[Mount("/c", app=_starlette(CHUNKED)), Mount("/d", app=_starlette(DEFAULT))]
)


if __name__ == "__main__":
    from werkzeug.serving import run_simple

    run_simple("127.0.0.1", int(sys.argv[1]), wsgi_app, threaded=True)
