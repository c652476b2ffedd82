"""cookiesess.flask: Flask's own session tests (tests/test_basic.py), re-expressed.

Each test names the Flask test it mirrors where there is one. Differences from
Flask's signed-cookie sessions are deliberate and asserted: values come back
as the codec reads them (tuples as lists), a refresh happens at a bounded
granularity instead of on every request, and Flask's unset SameSite keeps
cookiesess's "Lax".
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

flask = pytest.importorskip("flask")

from markupsafe import Markup  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from cookiesess import (  # noqa: E402
    CodecError,
    ConfigurationError,
    Keyring,
    KeyringError,
    Session,
)
from cookiesess.flask import CookieSessionInterface, FlaskSession  # noqa: E402
from cookiesess.stores import SQLiteStore  # noqa: E402
from tests.helpers import FlakyStore  # noqa: E402

SECRET = "flask-test-Jr7Qx2Lm9Wc4Tz8Kp1Vb6Nd3Hs5Gf0Ya-secret"
OTHER_SECRET = "flask-test-Ue3Rk8Xo1Mq6Zi4Cw9Bj2Tl7Pv5Sa0Hd-other"
MONTH = 31 * 24 * 3600


def make_app(**config: Any) -> flask.Flask:
    app = flask.Flask(__name__)
    app.config.update({"SECRET_KEY": SECRET, "TESTING": True, **config})
    return app


def install(app: flask.Flask, **options: Any) -> CookieSessionInterface:
    interface = CookieSessionInterface(**options)
    interface.init_app(app)
    return interface


def set_cookie_lines(response: Any) -> list[str]:
    return list(response.headers.getlist("Set-Cookie"))


@pytest.fixture(autouse=True)
def _no_ambient_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COOKIESESS_KEYS", raising=False)
    monkeypatch.delenv("COOKIESESS_KEYS_FILE", raising=False)


@pytest.fixture
def app() -> flask.Flask:
    app = make_app()

    @app.post("/set")
    def set_value() -> str:
        flask.session["value"] = flask.request.form["value"]
        return "value set"

    @app.get("/get")
    def get_value() -> str:
        return str(flask.session.get("value", "missing"))

    return app


# -- basics (test_session, test_session_path, settings) --------------------------


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


def test_session_using_application_root() -> None:
    """test_session_using_application_root: the cookie Path follows APPLICATION_ROOT."""
    app = make_app(APPLICATION_ROOT="/foo")

    @app.get("/")
    def index() -> str:
        flask.session["testing"] = 42
        return "Hello World"

    install(app)
    response = app.test_client().get("/", "http://example.com:8080/foo")

    assert "Path=/foo;" in set_cookie_lines(response)[0]


def test_session_using_session_settings() -> None:
    """test_session_using_session_settings: Domain, Path, Secure, HttpOnly, Partitioned."""
    app = make_app(
        SERVER_NAME="www.example.com:8080",
        APPLICATION_ROOT="/test",
        SESSION_COOKIE_DOMAIN=".example.com",
        SESSION_COOKIE_HTTPONLY=False,
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_PARTITIONED=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/",
    )

    @app.get("/")
    def index() -> str:
        flask.session["testing"] = 42
        return "Hello World"

    @app.get("/clear")
    def clear() -> str:
        flask.session.pop("testing", None)
        return "Goodbye World"

    install(app)
    client = app.test_client()
    response = client.get("/", "https://www.example.com:8080/test/")
    cookie = set_cookie_lines(response)[0].lower()
    # werkzeug's test client does not match a leading-dot Domain: set it for the host.
    value = set_cookie_lines(response)[0].split(";")[0].split("=", 1)[1]
    client.set_cookie("session", value, domain="www.example.com")
    cleared = client.get("/clear", "https://www.example.com:8080/test/")
    expired = set_cookie_lines(cleared)[0].lower()

    for line in (cookie, expired):
        assert "domain=.example.com" in line
        assert "path=/;" in line
        assert "secure" in line
        assert "httponly" not in line
        assert "samesite=lax" in line
        assert "partitioned" in line
    assert "max-age=0" in expired


def test_session_cookie_name() -> None:
    """SESSION_COOKIE_NAME names the cookie; an explicit option overrides it."""
    app = make_app(SESSION_COOKIE_NAME="flasksid")

    @app.get("/")
    def index() -> str:
        flask.session["a"] = 1
        return ""

    install(app)
    other = make_app(SESSION_COOKIE_NAME="flasksid")
    other.add_url_rule("/", view_func=index)
    install(other, cookie_name="override")

    assert set_cookie_lines(app.test_client().get("/"))[0].startswith("flasksid=")
    assert set_cookie_lines(other.test_client().get("/"))[0].startswith("override=")


@pytest.mark.parametrize(
    ("samesite", "expected"),
    [("Strict", "SameSite=Strict"), ("Lax", "SameSite=Lax"), (None, "SameSite=Lax")],
)
def test_session_using_samesite_attribute(samesite: str | None, expected: str) -> None:
    """test_session_using_samesite_attribute; Flask's unset SameSite keeps "Lax"."""
    app = make_app(SESSION_COOKIE_SAMESITE=samesite)

    @app.get("/")
    def index() -> str:
        flask.session["testing"] = 42
        return ""

    install(app)

    assert expected in set_cookie_lines(app.test_client().get("/"))[0]


def test_invalid_samesite_and_partitioned_without_secure_are_refused() -> None:
    """Invalid attributes fail at init_app, every problem at once (Flask: ValueError)."""
    app = make_app(SESSION_COOKIE_SAMESITE="invalid", SESSION_COOKIE_PARTITIONED=True)

    with pytest.raises(ConfigurationError) as info:
        install(app)

    assert isinstance(info.value, ValueError)
    assert len(info.value.problems) == 2


def test_secure_auto_when_session_cookie_secure_is_false() -> None:
    """SESSION_COOKIE_SECURE=False (Flask's default) means Secure over HTTPS only."""
    app = make_app()

    @app.get("/")
    def index() -> str:
        flask.session["a"] = 1
        return ""

    install(app)

    assert "Secure" not in set_cookie_lines(app.test_client().get("/"))[0]
    assert "; Secure" in set_cookie_lines(app.test_client().get("/", "https://localhost/"))[0]


# -- keys ---------------------------------------------------------------------------


def test_missing_keys_fail_at_init_app() -> None:
    """test_missing_session: without any key, init_app says how to configure one."""
    app = make_app(SECRET_KEY=None)

    with pytest.raises(KeyringError, match="cookiesess keygen"):
        install(app)


@pytest.mark.parametrize("weak", ["dev key", "testkey", "development-key", "keyboard cat"])
def test_weak_secret_key_is_refused(weak: str) -> None:
    """Weak SECRET_KEYs from Flask's own tests are refused, naming the setting and the fix."""
    app = make_app(SECRET_KEY=weak)

    with pytest.raises(KeyringError) as info:
        install(app)

    assert str(info.value).startswith("SECRET_KEY: refused")
    assert "cookiesess keygen" in str(info.value)
    assert weak not in str(info.value)


def test_session_secret_key_fallbacks(app: flask.Flask) -> None:
    """test_session_secret_key_fallbacks: an old key opens through SECRET_KEY_FALLBACKS."""
    install(app)
    client = app.test_client()
    client.post("/set", data={"value": "42"})
    cookie = client.get_cookie("session")
    assert cookie is not None

    def restarted(**config: Any) -> str:
        new = make_app(**config)
        new.view_functions["get_value"] = app.view_functions["get_value"]
        new.add_url_rule("/get", "get_value")
        install(new)
        fresh = new.test_client()
        fresh.set_cookie("session", cookie.value)
        return str(fresh.get("/get").text)

    assert restarted(SECRET_KEY=OTHER_SECRET) == "missing"
    assert restarted(SECRET_KEY=OTHER_SECRET, SECRET_KEY_FALLBACKS=[SECRET]) == "42"


def test_keys_from_app_config_and_environment(
    app: flask.Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """COOKIESESS_KEYS_FILE / COOKIESESS_KEYS in app config, then the environment."""
    ring = Keyring.generate("k1")
    entry = f"k1:{ring.primary.secret_b64()}"
    key_file = tmp_path / "keys.toml"
    key_file.write_text(
        f'[[keys]]\nid = "k1"\nstate = "primary"\nsecret = "{ring.primary.secret_b64()}"\n'
    )

    by_text = make_app(SECRET_KEY=None, COOKIESESS_KEYS=entry)
    by_file = make_app(SECRET_KEY=None, COOKIESESS_KEYS_FILE=str(key_file))
    monkeypatch.setenv("COOKIESESS_KEYS", entry)
    by_env = make_app(SECRET_KEY="weak but unused")

    for configured in (by_text, by_file, by_env):
        engine = CookieSessionInterface().engine_for(configured)
        assert engine.keyring.primary.same_secret(ring.primary)


def test_explicit_keyring_wins(app: flask.Flask) -> None:
    """A keyring passed to the interface is used whatever the app config says."""
    ring = Keyring.generate("mine")
    app.config["SECRET_KEY"] = "weak"

    interface = install(app, keyring=ring)

    assert interface.engine_for(app).keyring is ring


def test_lazy_is_refused_rather_than_ignored() -> None:
    """Flask opens the session itself: lazy=True fails at start-up instead of doing nothing."""
    with pytest.raises(ConfigurationError, match="lazy=True is not supported"):
        CookieSessionInterface(lazy=True)


def test_unknown_option_is_refused() -> None:
    """A misspelt option fails at construction, naming it."""
    with pytest.raises(ConfigurationError, match="max_agee"):
        CookieSessionInterface(max_agee=5)


def test_engine_per_app() -> None:
    """One interface serves several apps, each with its own config."""
    one, two = make_app(SESSION_COOKIE_NAME="one"), make_app(SESSION_COOKIE_NAME="two")
    interface = CookieSessionInterface()

    assert interface.engine_for(one).config.cookie_name == "one"
    assert interface.engine_for(two).config.cookie_name == "two"
    assert interface.engine_for(one) is interface.engine_for(one)


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


# -- store failures -----------------------------------------------------------------------


OUTAGE_HEADERS = {
    "Content-Type": "text/plain; charset=utf-8",
    "Cache-Control": "no-store",
}


def outage_app(store: Any, seen: list[str]) -> flask.Flask:
    """An app whose hooks record what they saw: a login check, a view, a session writer."""
    app = make_app()

    @app.before_request
    def require_login() -> Any:
        seen.append(f"before_request: {type(flask.session).__name__} {dict(flask.session)}")
        if flask.request.path != "/big" and "blob" not in flask.session:
            return flask.redirect("/login")
        return None

    @app.get("/big")
    def big() -> str:
        seen.append("big")
        flask.session["blob"] = os.urandom(8000)
        return "stored"

    @app.get("/read")
    def read() -> str:
        seen.append("read")
        return str(len(flask.session.get("blob", b"")))

    @app.after_request
    def stamp(response: flask.Response) -> flask.Response:
        flask.session["last_status"] = response.status_code
        response.set_cookie("theme", "dark")
        return response

    install(app, store=store)
    return app


def client_with_session_of(app: flask.Flask, response: Any) -> Any:
    """A test client of `app` holding the session cookie `response` set (a store reference)."""
    (pair,) = [line.split(";", 1)[0] for line in set_cookie_lines(response) if "session=" in line]
    client = app.test_client()
    client.set_cookie(*pair.split("=", 1))
    return client


def assert_outage(response: Any) -> None:
    """The one 503 every adapter answers on a store failure: no-store, no Set-Cookie."""
    assert response.status_code == 503
    assert {name: response.headers.get(name) for name in OUTAGE_HEADERS} == OUTAGE_HEADERS
    assert response.data == b"Service Unavailable: the session store failed.\n"
    assert response.headers["Content-Length"] == str(len(response.data))
    assert set_cookie_lines(response) == []


def test_store_failure_on_open_answers_503_before_any_handler(tmp_path: Path) -> None:
    """Store down on open: 503 before before_request handlers run (no stand-in session seen)."""
    seen: list[str] = []
    working = outage_app(SQLiteStore(tmp_path / "sessions.db"), seen)
    stored = working.test_client().get("/big")
    assert stored.text == "stored"
    broken = outage_app(SQLiteStore(tmp_path), seen)  # a directory: SQLite cannot open it
    client = client_with_session_of(broken, stored)
    seen.clear()

    response = client.get("/read")

    assert_outage(response)
    assert seen == []


def test_store_failure_on_open_is_the_same_503_whatever_the_error_handlers(
    tmp_path: Path,
) -> None:
    """An app's 503 handler does not change the outage response (same shape everywhere)."""
    seen: list[str] = []
    working = outage_app(SQLiteStore(tmp_path / "sessions.db"), seen)
    stored = working.test_client().get("/big")
    broken = outage_app(SQLiteStore(tmp_path), seen)

    @broken.errorhandler(503)
    def unavailable(error: Exception) -> tuple[str, int, dict[str, str]]:
        return "try again later", 503, {"Cache-Control": "max-age=3600"}

    response = client_with_session_of(broken, stored).get("/read")

    assert_outage(response)


def test_store_failure_on_save_answers_503(tmp_path: Path) -> None:
    """Store down on save: the view's response becomes the same 503, no-store, no Set-Cookie."""
    seen: list[str] = []
    broken = outage_app(SQLiteStore(tmp_path), seen)

    response = broken.test_client().get("/big")

    assert_outage(response)
    assert seen[-1] == "big"


@pytest.fixture
def flaky_app() -> tuple[flask.Flask, FlakyStore, list[str]]:
    app = make_app()
    store = FlakyStore()
    ran: list[str] = []

    @app.get("/big")
    def big() -> str:
        ran.append("big")
        flask.session["blob"] = os.urandom(8000)
        return "stored"

    @app.get("/read")
    def read() -> str:
        ran.append("read")
        return str(len(flask.session.get("blob", b"")))

    install(app, store=store)
    return app, store, ran


def test_large_session_moves_to_the_store(
    flaky_app: tuple[flask.Flask, FlakyStore, list[str]],
) -> None:
    """Data over the cookie budget goes to the store; the cookie holds a reference."""
    app, _, _ = flaky_app
    client = app.test_client()

    response = client.get("/big")

    (line,) = set_cookie_lines(response)
    assert len(line) < 400
    assert client.get("/read").text == "8000"


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


def test_stand_in_session_refuses_writes_until_the_503_is_decided(tmp_path: Path) -> None:
    """Under test_request_context (no dispatch) the stand-in reads empty and refuses writes."""
    seen: list[str] = []
    working = outage_app(SQLiteStore(tmp_path / "sessions.db"), seen)
    stored = working.test_client().get("/big")
    (pair,) = [line.split(";", 1)[0] for line in set_cookie_lines(stored) if "session=" in line]
    broken = outage_app(SQLiteStore(tmp_path), seen)

    with broken.test_request_context("/read", headers={"Cookie": pair}):
        assert flask.session.get("blob") is None
        with pytest.raises(RuntimeError, match="session store failed"):
            flask.session["blob"] = b""
