"""cookiesess.django against a real Django project, in subprocesses.

Django's settings are process-wide and other test modules configure them, so
the project under ``djangoproj/`` runs only in child processes: its behaviour
checks (``djangoproj/checks.py``) in one pytest subprocess, reported here one
test per check, and the project itself under uvicorn (ASGI) and gunicorn (WSGI).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import httpx
import pytest

from tests.adapters.fw_support import ADAPTER_TESTS, REPO, clean_env, free_port, server

pytest.importorskip("django")

CHECK_FILES = [ADAPTER_TESTS / "djangoproj" / f for f in ("checks.py", "checks_engine.py")]
CHECK_NAMES = [
    f"{path.stem}::{node.name}"
    for path in CHECK_FILES
    for node in ast.parse(path.read_text()).body
    if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
]
USERNAME = "alice"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def project_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment of a bootstrapped project: migrated SQLite database, user alice."""
    data = tmp_path_factory.mktemp("djangoproj")
    env = clean_env(DJANGO_SETTINGS_MODULE="djangoproj.settings", DJANGOPROJ_DIR=str(data))
    subprocess.run(
        [sys.executable, "-m", "djangoproj.bootstrap"],
        env=env,
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return env


@pytest.fixture(scope="module")
def check_results(
    project_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str | None]:
    """Run the djangoproj checks once; map ``file::check`` to None (passed) or its failure."""
    report = tmp_path_factory.mktemp("junit") / "checks.xml"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "pytest_timeout",  # plugin autoload is off: it is slow and not needed here
            "--continue-on-collection-errors",
            "--confcutdir",
            str(CHECK_FILES[0].parent),
            f"--junitxml={report}",
            *map(str, CHECK_FILES),
        ],
        check=False,
        env={**project_env, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if not report.exists():
        pytest.fail(f"the Django checks did not run:\n{run.stdout}\n{run.stderr}")
    results: dict[str, str | None] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        problem = next(iter(case), None)
        module = case.attrib["classname"].rpartition(".")[2]
        name = case.attrib["name"].partition("[")[0]  # parametrized cases report together
        failure = None if problem is None else f"{problem.tag}: {problem.text or problem.attrib}"
        if results.get(f"{module}::{name}") is None:
            results[f"{module}::{name}"] = failure
    return results


@pytest.mark.parametrize("name", CHECK_NAMES)
def test_django_behaviour(check_results: dict[str, str | None], name: str) -> None:
    """Each check of djangoproj/checks*.py passes under the real Django project."""
    assert name in check_results, f"{name} was not run"
    if check_results[name] is not None:
        pytest.fail(check_results[name])


def csrf_token(client: httpx.Client, path: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get(path).text)
    assert match
    return match.group(1)


SERVERS = {
    "uvicorn-asgi": [
        "-m",
        "uvicorn",
        "djangoproj.asgi:application",
        "--host",
        "127.0.0.1",
        "--no-access-log",
        "--log-level",
        "warning",
        "--port",
    ],
    "gunicorn-wsgi": [
        "-m",
        "gunicorn",
        "djangoproj.wsgi:application",
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--bind",
    ],
}


@pytest.fixture(scope="module", params=sorted(SERVERS))
def base_url(request: pytest.FixtureRequest, project_env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    args = SERVERS[request.param]
    address = str(port) if request.param.startswith("uvicorn") else f"127.0.0.1:{port}"
    with server([*args, address], port=port, env=project_env) as served:
        yield served.url


@pytest.mark.integration
def test_login_protected_view_logout_over_http(base_url: str) -> None:
    """Over a real server: login cycles the session id, logout empties and expires it."""
    with httpx.Client(base_url=base_url, timeout=10) as client:
        token = csrf_token(client, "/login/")
        anonymous = client.get("/whoami/").json()
        assert client.get("/private/").status_code == 302

        login = client.post(
            "/login/",
            data={"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": token},
        )
        private = client.get("/private/")
        logout = client.post("/logout/", data={"csrfmiddlewaretoken": csrf_token(client, "/form/")})
        after = client.get("/whoami/").json()

        assert login.status_code == 302
        assert login.headers["location"] == "/private/"
        assert "Cookie" in login.headers["vary"]
        assert "private" in login.headers["cache-control"]
        assert private.status_code == 200
        assert private.json()["user"] == USERNAME
        assert private.json()["session_id"] != anonymous["session_id"]
        assert logout.status_code == 302
        expired = logout.headers.get_list("set-cookie")
        assert expired
        assert all("Max-Age=0" in line for line in expired)
        assert "sessionid" not in client.cookies
        assert after["user"] == ""
        assert after["keys"] == []
        assert client.get("/private/").status_code == 302


@pytest.mark.integration
def test_messages_and_async_view_over_http(base_url: str) -> None:
    """Messages survive the redirect; an async view's session counts across requests."""
    with httpx.Client(base_url=base_url, timeout=10, follow_redirects=True) as client:
        shown = client.get("/flash/").json()
        again = client.get("/messages/").json()
        counts = [client.get("/async/").json()["count"] for _ in range(3)]

    assert shown == {"messages": ["saved", "careful"]}
    assert again == {"messages": []}
    assert counts == [1, 2, 3]
