"""cookiesess.flask: permanence and expiry (Flask's test_session_expiration and friends).

A refresh happens at a bounded granularity instead of on every request (a
deliberate difference from Flask's signed-cookie sessions).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

flask = pytest.importorskip("flask")

from tests.adapters import _flask_support  # noqa: E402
from tests.adapters._flask_support import MONTH, install, make_app, set_cookie_lines  # noqa: E402

# The shared fixtures, bound here for pytest to find them in this module.
no_ambient_keys = _flask_support.no_ambient_keys


# -- permanence and expiry (test_session_expiration, test_session_cookie_setting) ---------


def permanent_app(permanent: list[bool], **options: Any) -> flask.Flask:
    app = make_app()

    @app.get("/")
    def index() -> str:
        flask.session["test"] = 42
        flask.session.permanent = permanent[0]
        return ""

    @app.get("/test")
    def test() -> str:
        return str(flask.session.permanent)

    install(app, **options)
    return app


def test_session_expiration() -> None:
    """test_session_expiration: permanent gives Max-Age = lifetime; otherwise none."""
    permanent = [True]
    app = permanent_app(permanent)
    client = app.test_client()

    response = client.get("/")
    assert f"Max-Age={MONTH};" in set_cookie_lines(response)[0]
    assert client.get("/test").text == "True"

    permanent[0] = False
    response = app.test_client().get("/")
    assert "Max-Age" not in set_cookie_lines(response)[0]
    assert "Expires" not in set_cookie_lines(response)[0]


def test_permanent_is_not_a_data_key() -> None:
    """session.permanent is the cookie's lifetime, not a '_permanent' key in the data."""
    app = permanent_app([True])
    seen: list[Any] = []

    @app.get("/data")
    def data() -> str:
        seen.append(dict(flask.session))
        return ""

    client = app.test_client()
    client.get("/")
    client.get("/data")

    assert seen == [{"test": 42}]


def test_permanent_session_lifetime_setting() -> None:
    """PERMANENT_SESSION_LIFETIME (timedelta or seconds) sets the permanent cookie's Max-Age."""
    for lifetime in (dt.timedelta(hours=2), 7200):
        app = make_app(PERMANENT_SESSION_LIFETIME=lifetime)

        @app.get("/")
        def index() -> str:
            flask.session["a"] = 1
            flask.session.permanent = True
            return ""

        install(app)
        assert "Max-Age=7200;" in set_cookie_lines(app.test_client().get("/"))[0]


def test_setting_permanent_again_writes_nothing() -> None:
    """Setting session.permanent to what it already is does not re-send the cookie."""
    app = make_app()

    @app.get("/login")
    def login() -> str:
        flask.session["user"] = "u"
        flask.session.permanent = True
        return ""

    @app.get("/page")
    def page() -> str:
        flask.session.permanent = True  # the common before_request idiom
        return ""

    install(app)
    client = app.test_client()
    client.get("/login")

    assert set_cookie_lines(client.get("/page")) == []


def test_empty_permanent_session_sets_no_cookie() -> None:
    """As Flask: an empty session sets no cookie even when made permanent."""
    app = make_app()

    @app.get("/")
    def index() -> str:
        flask.session.permanent = True
        return ""

    install(app)

    assert set_cookie_lines(app.test_client().get("/")) == []


def refresh_run(
    *, permanent: bool, refresh: bool, advance: int, **options: Any
) -> tuple[list[str], list[str], str]:
    """Bump a counter thrice, then read it `advance` seconds later; return the Set-Cookies."""
    now = [1_900_000_000.0]
    app = make_app(SESSION_REFRESH_EACH_REQUEST=refresh)

    @app.get("/bump")
    def bump() -> str:
        value = flask.session["foo"] = flask.session.get("foo", 0) + 1
        flask.session.permanent = permanent
        return str(value)

    @app.get("/read")
    def read() -> str:
        return str(flask.session.get("foo", 0))

    install(app, clock=lambda: now[0], **options)
    client = app.test_client()
    assert [client.get("/bump").text for _ in range(3)] == ["1", "2", "3"]
    soon = client.get("/read")
    now[0] += advance
    later = client.get("/read")
    assert soon.text == "3"
    return set_cookie_lines(soon), set_cookie_lines(later), later.text


def test_session_cookie_setting_refresh_each_request() -> None:
    """test_session_cookie_setting: a permanent session's cookie is refreshed on reads,
    at the engine's bounded granularity (a tenth of the lifetime), not on every request.

    The absolute deadline (the lifetime from login, by default) still caps the cookie;
    ``absolute_timeout=None`` gives Flask's endless sliding window.
    """
    step = MONTH // 10 + 1
    soon, later, value = refresh_run(permanent=True, refresh=True, advance=step)
    _, sliding, _ = refresh_run(permanent=True, refresh=True, advance=step, absolute_timeout=None)

    assert soon == []
    assert value == "3"
    assert len(later) == 1
    assert f"Max-Age={MONTH - step};" in later[0]
    assert f"Max-Age={MONTH};" in sliding[0]


def test_session_cookie_setting_no_refresh() -> None:
    """test_session_cookie_setting: without SESSION_REFRESH_EACH_REQUEST reads set nothing."""
    for permanent in (True, False):
        soon, later, value = refresh_run(
            permanent=permanent, refresh=False, advance=MONTH // 10 + 1
        )
        assert soon == later == []
        assert value == "3"


def test_idle_session_expires_after_the_lifetime() -> None:
    """As Flask's max_age check: a session unused for the lifetime is not accepted."""
    _, later, value = refresh_run(permanent=True, refresh=True, advance=MONTH + 1)

    assert value == "0"
    assert later == []


def test_non_permanent_session_refresh_is_a_browser_session_cookie() -> None:
    """A non-permanent session's activity refresh re-sends a cookie without Max-Age."""
    _, later, _ = refresh_run(permanent=False, refresh=True, advance=MONTH // 10 + 1)

    assert len(later) == 1
    assert "Max-Age" not in later[0]
