"""Smoke tests of examples/flask_app.py and examples/django_app.py, run as documented."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.adapters.fw_support import REPO, clean_env, free_port, server

pytestmark = pytest.mark.integration
EXAMPLES = REPO / "examples"
WARNING = "using a throwaway development key"


def test_flask_example() -> None:
    """The Flask example counts visits, logs in with a flash message and logs out."""
    pytest.importorskip("flask")
    port = free_port()

    with (
        server(
            [str(EXAMPLES / "flask_app.py"), "--port", str(port)], port=port, env=clean_env()
        ) as served,
        httpx.Client(base_url=served.url, timeout=10, follow_redirects=True) as client,
    ):
        first = client.get("/").json()
        second = client.get("/").json()
        logged_in = client.post("/login", data={"user": "bob", "remember": "1"})
        remembered = logged_in.history[0].headers["set-cookie"]
        logged_out = client.post("/logout").json()
        output = served.output()

    assert first == {"user": None, "visits": 1, "messages": []}
    assert second["visits"] == 2
    assert logged_in.json() == {"user": "bob", "visits": 3, "messages": ["welcome, bob"]}
    assert "Max-Age=" in remembered
    assert logged_out == {"user": None, "visits": 1, "messages": []}
    assert WARNING in output


def test_django_example(tmp_path: pytest.TempPathFactory) -> None:
    """The Django example: login (new session id) → protected page → logout."""
    pytest.importorskip("django")
    port = free_port()
    env = clean_env(DJANGO_APP_DB=str(tmp_path / "db.sqlite3"))  # type: ignore[operator]
    args = [str(EXAMPLES / "django_app.py"), "runserver", f"127.0.0.1:{port}", "--noreload"]

    with (
        server(args, port=port, env=env, timeout=30) as served,
        httpx.Client(base_url=served.url, timeout=10) as client,
    ):
        assert client.get("/").headers["location"].startswith("/login/")
        form = client.get("/login/").text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
        assert token
        before = client.cookies.get("sessionid")
        login = client.post(
            "/login/",
            data={
                "username": "alice",
                "password": "alice-password",
                "csrfmiddlewaretoken": token.group(1),
            },
        )
        after = client.cookies.get("sessionid")
        home = client.get("/").text
        again = client.get("/").text
        logout_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', again)
        assert logout_token
        logout = client.post("/logout/", data={"csrfmiddlewaretoken": logout_token.group(1)})
        output = served.output()

    assert login.status_code == 302
    assert before != after
    assert "alice (1 visits)" in home
    assert "logged in" in home
    assert "alice (2 visits)" in again
    assert logout.status_code == 302
    assert all("Max-Age=0" in line for line in logout.headers.get_list("set-cookie"))
    assert "sessionid" not in client.cookies
    assert WARNING in output
