"""examples/django_app.py under Django's test client: force_login and client.session.

Django's settings are process-wide (the example configures them at import),
so the client runs in a subprocess and prints what it saw as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.adapters.fw_support import REPO, clean_env

pytest.importorskip("django")

CLIENT = """
import json, sys
sys.argv = ["django_app.py"]
sys.path.insert(0, "examples")
import django_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.test.utils import setup_test_environment

setup_test_environment()
django_app.prepare()
client = Client()
anonymous = client.get("/").status_code
client.force_login(get_user_model().objects.get(username=django_app.USER))
first = client.get("/").content.decode()
visits = client.session["visits"]
session = client.session
session["visits"] = 41
session.save()
client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
edited = client.get("/").content.decode()
client.logout()
print(json.dumps({
    "anonymous": anonymous,
    "first": first,
    "visits": visits,
    "edited": edited,
    "after_logout": client.get("/").status_code,
}))
"""


def test_example_under_djangos_test_client(tmp_path: pytest.TempPathFactory) -> None:
    """force_login reaches the protected page; client.session reads and edits the visits."""
    env = clean_env(
        DJANGO_APP_DB=str(tmp_path / "db.sqlite3"),  # type: ignore[operator]
        COOKIESESS_KEYS="ex:M08xMqzGRaRwNBrYCFAP0KzVLX3o3BR-F8KyVde4rTQ",
    )

    run = subprocess.run(
        [sys.executable, "-c", CLIENT],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["anonymous"] == 302
    assert "alice (1 visits)" in seen["first"]
    assert seen["visits"] == 1
    assert "alice (42 visits)" in seen["edited"]
    assert seen["after_logout"] == 302
