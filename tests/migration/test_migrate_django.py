"""Migrating a Django project from ``signed_cookies`` sessions, run in a subprocess.

Django's settings are process-wide and other test modules configure them, so
the checks in ``djangomig/checks.py`` run in one pytest subprocess and are
reported here one test per check (the pattern of tests/adapters/test_django.py).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("django")

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CHECKS = HERE / "djangomig" / "checks.py"
CHECK_NAMES = [
    node.name
    for node in ast.parse(CHECKS.read_text()).body
    if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
]


@pytest.fixture(scope="module")
def check_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | None]:
    """Run djangomig/checks.py once; map each check to None (passed) or its failure."""
    report = tmp_path_factory.mktemp("junit") / "checks.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOKIESESS_KEYS")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(REPO), str(HERE)]),
        PYTHONDONTWRITEBYTECODE="1",
        DJANGO_SETTINGS_MODULE="djangomig.settings",
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",  # slow, and not needed here
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "pytest_timeout",  # the repo's config sets `timeout`
            "--confcutdir",
            str(CHECKS.parent),
            "-W",
            "error",
            f"--junitxml={report}",
            str(CHECKS),
        ],
        check=False,
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if not report.exists() or "<testcase" not in report.read_text():
        pytest.fail(f"the Django migration checks did not run:\n{run.stdout}\n{run.stderr}")
    results: dict[str, str | None] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        problem = next((child for child in case if child.tag in ("failure", "error")), None)
        name = case.attrib["name"].partition("[")[0]  # parametrized cases report together
        if results.get(name) is None:
            results[name] = (
                None if problem is None else f"{problem.tag}: {problem.text or problem.attrib}"
            )
    return results


@pytest.mark.parametrize("name", CHECK_NAMES)
def test_django_migration(check_results: dict[str, str | None], name: str) -> None:
    """Each check of djangomig/checks.py passes against the real Django project."""
    assert name in check_results, f"{name} was not run"
    if check_results[name] is not None:
        pytest.fail(check_results[name])
