"""cookiesess.flask: Flask's own session tests (tests/test_basic.py), re-expressed: the round trip.

Each test names the Flask test it mirrors where there is one. Differences from
Flask's signed-cookie sessions are deliberate and asserted: values come back
as the codec reads them (tuples as lists). Cookie settings and keys are in
test_flask_config.py, permanence and expiry in test_flask_lifetime.py, Vary and
Cache-Control in test_flask_headers.py, store outages in test_flask_outage.py.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

flask = pytest.importorskip("flask")

from markupsafe import Markup  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from cookiesess import CodecError, Session  # noqa: E402
from cookiesess.flask import FlaskSession  # noqa: E402
from tests.adapters import _flask_support  # noqa: E402
from tests.adapters._flask_support import MONTH, install, make_app, set_cookie_lines  # noqa: E402

# The shared fixtures, bound here for pytest to find them in this module.
no_ambient_keys = _flask_support.no_ambient_keys
app = _flask_support.app


# -- basics (test_session) ----------------------------------------------------------


def test_session(app: flask.Flask) -> None:
    """test_session: a value set in one request is read in the next."""
    install(app)
    client = app.test_client()

    assert client.post("/set", data={"value": "42"}).text == "value set"
    assert client.get("/get").text == "42"


def test_session_object_is_a_cookiesess_session(app: flask.Flask) -> None:
    """flask.session is a dict, a cookiesess Session and a Flask SessionMixin."""
    install(app)
    seen: list[Any] = []

    @app.get("/kind")
    def kind() -> str:
        session = flask.session._get_current_object()  # type: ignore[attr-defined]
        seen.append(session)
        session["a"] = [1]
        return json.dumps(session)

    assert json.loads(app.test_client().get("/kind").text) == {"a": [1]}

    (session,) = seen
    assert isinstance(session, FlaskSession)
    assert isinstance(session, Session)
    assert isinstance(session, dict)
    assert isinstance(session, flask.sessions.SessionMixin)


# -- stored values (test_session_stored_last, test_session_special_types) -----------------


def test_session_stored_last() -> None:
    """test_session_stored_last: changes made in after_request are saved."""
    app = make_app()

    @app.after_request
    def modify_session(response: flask.Response) -> flask.Response:
        flask.session["foo"] = 42
        return response

    @app.get("/")
    def dump() -> str:
        return repr(flask.session.get("foo"))

    install(app)
    client = app.test_client()

    assert client.get("/").text == "None"
    assert client.get("/").text == "42"


def test_session_special_types() -> None:
    """test_session_special_types, with the codec's types: they round-trip exactly."""
    app = make_app()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    the_uuid = uuid.uuid4()
    values = {
        "u": the_uuid,
        "dt": now,
        "d": now.date(),
        "b": b"\xff",
        "t": (1, 2, 3),
        "dec": decimal.Decimal("1.25"),
        "s": {"a", "b"},
        "nested": {"x": [1, {"y": None}]},
    }
    seen: list[dict[str, Any]] = []

    @app.after_request
    def modify_session(response: flask.Response) -> flask.Response:
        flask.session.update(values)
        return response

    @app.get("/")
    def dump() -> str:
        seen.append(dict(flask.session))
        return ""

    install(app)
    client = app.test_client()
    client.get("/")
    client.get("/")

    assert seen[1] == {**values, "t": [1, 2, 3]}
    assert type(seen[1]["b"]) is bytes


@pytest.mark.parametrize(
    "value",
    [Markup("Hello!"), dt.datetime(2020, 1, 1), object()],
    ids=["markup", "naive", "object"],
)
def test_unsupported_values_raise_codec_error(value: object) -> None:
    """Values the codec cannot represent fail loudly at commit, naming the key."""
    app = make_app()

    @app.get("/")
    def index() -> str:
        flask.session["bad"] = value
        return ""

    install(app)

    with pytest.raises(CodecError, match="bad"):
        app.test_client().get("/")


def test_nested_mutation_is_saved_without_marking_modified() -> None:
    """Unlike Flask's default session, mutating a nested value is detected."""
    app = make_app()

    @app.get("/add/<int:n>")
    def add(n: int) -> str:
        flask.session.setdefault("cart", []).append(n)
        return ""

    @app.get("/cart")
    def cart() -> str:
        return json.dumps(flask.session.get("cart"))

    install(app)
    client = app.test_client()
    client.get("/add/1")
    client.get("/add/2")

    assert json.loads(client.get("/cart").text) == [1, 2]


def test_modified_can_be_set(app: flask.Flask) -> None:
    """session.modified = True (the Flask idiom) writes an unchanged session."""
    install(app)

    @app.get("/mark")
    def mark() -> str:
        flask.session.modified = True
        return ""

    client = app.test_client()
    client.post("/set", data={"value": "1"})

    assert set_cookie_lines(client.get("/get")) == []
    assert len(set_cookie_lines(client.get("/mark"))) == 1


def test_new_modified_accessed(app: flask.Flask) -> None:
    """session.new / modified / accessed report the cookiesess state."""
    install(app)
    seen: list[tuple[bool, bool, bool]] = []

    @app.get("/state")
    def state() -> str:
        session = flask.session._get_current_object()  # type: ignore[attr-defined]
        seen.append((session.new, session.modified, session.accessed))
        session["n"] = session.get("n", 0) + 1
        seen.append((session.new, session.modified, session.accessed))
        return ""

    client = app.test_client()
    client.get("/state")
    client.get("/state")

    assert seen == [
        (True, False, True),
        (True, True, True),
        (False, False, True),
        (False, True, True),
    ]


def test_clear_deletes_the_cookie(app: flask.Flask) -> None:
    """Emptying the session expires its cookie; the next request has no session."""
    install(app)

    @app.get("/logout")
    def logout() -> str:
        flask.session.clear()
        return ""

    client = app.test_client()
    client.post("/set", data={"value": "42"})
    response = client.get("/logout")

    (line,) = set_cookie_lines(response)
    assert line.startswith("session=; Max-Age=0;")
    assert client.get("/get").text == "missing"


def test_regenerate_on_login(app: flask.Flask) -> None:
    """session.regenerate() issues a new id and keeps the data."""
    install(app)
    ids: list[str] = []

    @app.get("/login")
    def login() -> str:
        ids.append(flask.session.id)
        flask.session.regenerate()
        flask.session["user"] = "alice"
        ids.append(flask.session.id)
        return ""

    @app.get("/id")
    def session_id() -> str:
        return str(flask.session.id)

    client = app.test_client()
    client.post("/set", data={"value": "42"})
    client.get("/login")

    assert ids[0] != ids[1]
    assert client.get("/id").text == ids[1]
    assert client.get("/get").text == "42"


def test_tampered_cookie_gives_a_fresh_session(app: flask.Flask) -> None:
    """A forged cookie is answered like no cookie: 200, empty session, nothing set."""
    install(app)
    client = app.test_client()
    client.post("/set", data={"value": "42"})
    cookie = client.get_cookie("session")
    assert cookie is not None

    for value in (cookie.value[:-2] + "AA", "garbage", ""):
        client.set_cookie("session", value)
        response = client.get("/get")
        assert response.status_code == 200
        assert response.text == "missing"
        assert set_cookie_lines(response) == []


# -- flashing (test_flashes, test_extended_flashing) ------------------------------------


def test_flashes() -> None:
    """test_flashes: flash() changes the session; messages come back in order."""
    app = make_app()
    install(app)

    with app.test_request_context():
        assert not flask.session.modified
        flask.flash("Zap")
        flask.session.modified = False
        flask.flash("Zip")
        assert flask.session.modified
        assert list(flask.get_flashed_messages()) == ["Zap", "Zip"]


def test_extended_flashing() -> None:
    """test_extended_flashing: categories and filters across a redirect.

    Categories come back as lists, the codec's reading of tuples; Markup is a
    str subclass the codec refuses, so a plain str is flashed here.
    """
    app = make_app()
    install(app)

    @app.get("/")
    def index() -> str:
        flask.flash("Hello World")
        flask.flash("Hello World", "error")
        flask.flash("<em>Testing</em>", "warning")
        return ""

    @app.get("/test/")
    def test() -> Any:
        return flask.get_flashed_messages()

    @app.get("/test_with_categories/")
    def test_with_categories() -> Any:
        return flask.get_flashed_messages(with_categories=True)

    @app.get("/test_filter/")
    def test_filter() -> Any:
        return flask.get_flashed_messages(category_filter=["message"], with_categories=True)

    @app.get("/test_filters/")
    def test_filters() -> Any:
        return flask.get_flashed_messages(
            category_filter=["message", "warning"], with_categories=True
        )

    @app.get("/test_filters_without_returning_categories/")
    def test_filters2() -> Any:
        return flask.get_flashed_messages(category_filter=["message", "warning"])

    expected = {
        "/test/": ["Hello World", "Hello World", "<em>Testing</em>"],
        "/test_with_categories/": [
            ["message", "Hello World"],
            ["error", "Hello World"],
            ["warning", "<em>Testing</em>"],
        ],
        "/test_filter/": [["message", "Hello World"]],
        "/test_filters/": [["message", "Hello World"], ["warning", "<em>Testing</em>"]],
        "/test_filters_without_returning_categories/": ["Hello World", "<em>Testing</em>"],
    }
    for path, messages in expected.items():
        client = app.test_client()
        client.get("/")
        assert client.get(path).json == messages
        assert client.get(path).json == []


# -- a real server -----------------------------------------------------------------------


@pytest.fixture
def served() -> Iterator[Callable[[flask.Flask], str]]:
    servers: list[Any] = []

    def start(app: flask.Flask) -> str:
        srv = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_port}"

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


@pytest.mark.integration
def test_real_server_round_trip_with_chunks(served: Callable[[flask.Flask], str]) -> None:
    """Under werkzeug's server over HTTP: a session split over chunks round-trips and logs out."""
    app = make_app()
    install(app)

    @app.get("/fill")
    def fill() -> str:
        flask.session["blob"] = os.urandom(1800).hex()
        flask.session.permanent = True
        return ""

    @app.get("/read")
    def read() -> Any:
        return {"size": len(flask.session.get("blob", "")), "permanent": flask.session.permanent}

    @app.get("/logout")
    def logout() -> str:
        flask.session.clear()
        return ""

    with httpx.Client(base_url=served(app), timeout=10) as client:
        filled = client.get("/fill")
        names = sorted(line.split("=", 1)[0] for line in filled.headers.get_list("set-cookie"))
        read = client.get("/read")
        logout = client.get("/logout")
        after = client.get("/read")

    assert names == ["session", "session.1"]
    assert all(f"Max-Age={MONTH}" in line for line in filled.headers.get_list("set-cookie"))
    assert read.json() == {"size": 3600, "permanent": True}
    assert read.headers.get("set-cookie") is None
    assert sorted(line.split("=", 1)[0] for line in logout.headers.get_list("set-cookie")) == [
        "session",
        "session.1",
    ]
    assert after.json() == {"size": 0, "permanent": False}
