"""cookiesess.flask: cookie settings from the app config, and keys.

Flask's unset SameSite keeps cookiesess's "Lax" (a deliberate difference).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

flask = pytest.importorskip("flask")

from cookiesess import ConfigurationError, Keyring, KeyringError  # noqa: E402
from cookiesess.flask import CookieSessionInterface  # noqa: E402
from tests.adapters import _flask_support  # noqa: E402
from tests.adapters._flask_support import (  # noqa: E402
    OTHER_SECRET,
    SECRET,
    install,
    make_app,
    set_cookie_lines,
)

# The shared fixtures, bound here for pytest to find them in this module.
no_ambient_keys = _flask_support.no_ambient_keys
app = _flask_support.app


# -- cookie settings (test_session_path, settings) ------------------------------------


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
