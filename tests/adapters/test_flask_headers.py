"""cookiesess.flask: Vary and Cache-Control on responses that read or write the session."""

from __future__ import annotations

import pytest

flask = pytest.importorskip("flask")

from tests.adapters import _flask_support  # noqa: E402
from tests.adapters._flask_support import install, make_app  # noqa: E402

# The shared fixtures, bound here for pytest to find them in this module.
no_ambient_keys = _flask_support.no_ambient_keys
app = _flask_support.app


# -- Vary (test_session_vary_cookie, test_session_refresh_vary) ---------------------------


def test_session_vary_cookie() -> None:
    """test_session_vary_cookie: Vary: Cookie whenever the session is touched, only then."""
    app = make_app()
    install(app)

    @app.get("/set")
    def set_session() -> str:
        flask.session["test"] = "test"
        return ""

    @app.get("/get")
    def get() -> str:
        return str(flask.session.get("test"))

    @app.get("/getitem")
    def getitem() -> str:
        return str(flask.session["test"])

    @app.get("/setdefault")
    def setdefault() -> str:
        return str(flask.session.setdefault("test", "default"))

    @app.get("/clear")
    def clear() -> str:
        flask.session.clear()
        return ""

    @app.get("/vary-cookie-header-set")
    def vary_cookie_header_set() -> flask.Response:
        response = flask.Response()
        response.vary.add("Cookie")
        flask.session["test"] = "test"
        return response

    @app.get("/vary-header-set")
    def vary_header_set() -> flask.Response:
        response = flask.Response()
        response.vary.update(("Accept-Encoding", "Accept-Language"))
        flask.session["test"] = "test"
        return response

    @app.get("/no-vary-header")
    def no_vary_header() -> str:
        return ""

    client = app.test_client()

    def expect(path: str, header_value: str = "Cookie") -> None:
        assert client.get(path).headers["Vary"] == header_value

    expect("/set")
    expect("/get")
    expect("/getitem")
    expect("/setdefault")
    expect("/clear")
    expect("/vary-cookie-header-set")
    expect("/vary-header-set", "Accept-Encoding, Accept-Language, Cookie")
    assert "Vary" not in client.get("/no-vary-header").headers


def test_repeated_vary_and_cache_control_lines_are_merged_not_dropped() -> None:
    """Several Vary / Cache-Control lines keep every value when the session adds its own."""
    app = make_app()
    install(app)

    @app.get("/set")
    def set_session() -> flask.Response:
        flask.session["test"] = "test"
        response = flask.Response("ok")
        response.headers.add("Vary", "Accept")
        response.headers.add("Vary", "Origin")
        response.headers.add("Cache-Control", "no-cache")
        response.headers.add("Cache-Control", "max-age=0")
        return response

    response = app.test_client().get("/set")

    assert response.headers.getlist("Vary") == ["Accept, Origin, Cookie"]
    assert response.headers.getlist("Cache-Control") == ["private, no-cache, max-age=0"]


def test_cache_control_private_with_set_cookie(app: flask.Flask) -> None:
    """A response carrying Set-Cookie is marked Cache-Control: private."""
    install(app)
    client = app.test_client()

    written = client.post("/set", data={"value": "1"})
    read = client.get("/get")

    assert written.headers["Cache-Control"] == "private"
    assert "Cache-Control" not in read.headers
