"""Django's own ``tests/sessions_tests`` against cookiesess.django.

Django does not ship its test suite in the wheel, so the installed version's
sdist is fetched once from PyPI (``pip download``) into the virtualenv, and
``tests/sessions_tests`` is extracted from it as data. The cases run in a
subprocess (Django's settings are process-wide): SessionTestsMixin against
`cookiesess.django.SessionStore`, SessionMiddlewareTests against
`cookiesess.django.SessionMiddleware`. Cases that cannot apply by design are
skipped with the reason given in inapplicable.py; every other case must pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import require

django = pytest.importorskip("django")

from tests.django_sessions.inapplicable import INAPPLICABLE  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CACHE = Path(sys.prefix) / "django-sdist"  # inside the virtualenv: never committed


def fetch_sessions_tests(version: str) -> Path | None:
    """Return the directory holding Django's ``sessions_tests`` package, fetching it once."""
    extracted = CACHE / version
    if (extracted / "sessions_tests" / "tests.py").exists():
        return extracted
    sdist = CACHE / f"django-{version}.tar.gz"
    if not sdist.exists():
        download = subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"),
                *("--no-binary", ":all:", "--dest", str(CACHE), f"django=={version}"),
            ],
            check=False,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if download.returncode != 0 or not sdist.exists():
            return None
    prefix = f"django-{version}/tests/sessions_tests/"
    with tarfile.open(sdist) as archive:
        members = [m for m in archive.getmembers() if m.name.startswith(prefix) and m.isfile()]
        target = extracted / "sessions_tests"
        target.mkdir(parents=True, exist_ok=True)
        for member in members:
            source = archive.extractfile(member)
            assert source is not None
            (target / Path(member.name).name).write_bytes(source.read())
    return extracted


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """Run Django's sessions tests once; map ``Class.case`` to its outcome and detail."""
    version = django.get_version()
    tests_dir = fetch_sessions_tests(version)
    require(
        "django_sdist",
        tests_dir is not None,
        f"could not fetch the Django {version} sdist from PyPI (pip download)",
    )
    assert tests_dir is not None
    output = tmp_path_factory.mktemp("django-sessions") / "outcomes.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOKIESESS_KEYS")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(HERE), str(tests_dir)])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("DJANGO_SETTINGS_MODULE", None)
    run = subprocess.run(
        [sys.executable, "-W", "error", str(HERE / "sessions_runner.py"), str(output)],
        check=False,
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    if run.returncode != 0 or not output.exists():
        pytest.fail(f"Django's sessions tests did not run:\n{run.stdout}\n{run.stderr}")
    cases: dict[str, dict[str, str]] = json.loads(output.read_text())["cases"]
    return cases


def by_outcome(cases: dict[str, dict[str, str]], *outcomes: str) -> dict[str, Any]:
    return {name: case["detail"] for name, case in cases.items() if case["outcome"] in outcomes}


def test_every_applicable_case_passes(outcomes: dict[str, dict[str, str]]) -> None:
    """No case of Django's suite fails or errors against cookiesess."""
    problems = by_outcome(outcomes, "failed", "error")

    assert problems == {}, "\n\n".join(f"{name}:\n{detail}" for name, detail in problems.items())


def test_only_the_inapplicable_cases_are_skipped(outcomes: dict[str, dict[str, str]]) -> None:
    """Exactly the cases listed in inapplicable.py are skipped, each with its reason."""
    skipped = by_outcome(outcomes, "skipped")

    assert skipped == INAPPLICABLE


def test_the_suite_ran_in_full(outcomes: dict[str, dict[str, str]]) -> None:
    """Both test classes ran (Django 5.2 has 142 such cases)."""
    passed = by_outcome(outcomes, "passed")
    classes = {name.partition(".")[0] for name in passed}

    assert classes == {
        "CookiesessSessionTests",
        "CookiesessSessionTestsWithoutDenylist",
        "CookiesessMiddlewareTests",
    }
    assert len(outcomes) >= 140
