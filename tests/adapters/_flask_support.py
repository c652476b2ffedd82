"""Shared by the Flask adapter tests: secrets, an app factory, its installer, fixtures.

A test module binds the fixtures it uses (``no_ambient_keys = _flask_support.no_ambient_keys``)
for pytest to find them there.
"""

from __future__ import annotations

from typing import Any

import pytest

flask = pytest.importorskip("flask")

from cookiesess.flask import CookieSessionInterface  # noqa: E402

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
def no_ambient_keys(monkeypatch: pytest.MonkeyPatch) -> None:
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
