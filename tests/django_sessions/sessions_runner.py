"""Run Django's sessions tests against cookiesess; write each case's outcome as JSON.

Usage: ``python sessions_runner.py OUTPUT.json`` with Django's extracted
``sessions_tests`` package and this directory on PYTHONPATH (see
test_django_sessions.py). A subprocess, because Django's settings are
process-wide.
"""

from __future__ import annotations

import json
import sys
import traceback
import unittest
from typing import Any

import django
from django.conf import settings

from cookiesess import Keyring
from tests.helpers import DictStore


def configure() -> None:
    settings.configure(
        SECRET_KEY=Keyring.generate().primary.secret_b64(),
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sessions",
            "sessions_tests",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        USE_TZ=True,
        SESSION_ENGINE="cookiesess.django",
        # A non-evicting denylist: SessionStore.delete(key) revokes what `key` opens.
        COOKIESESS={"keys": Keyring.generate("t1"), "denylist": DictStore()},
    )


class Outcomes(unittest.TestResult):
    """Collect one outcome per case (a failing subtest fails its case)."""

    def __init__(self) -> None:
        super().__init__()
        self.cases: dict[str, dict[str, str]] = {}

    def _record(self, test: Any, outcome: str, detail: str = "") -> None:
        key = f"{type(test).__name__}.{test._testMethodName}"
        if self.cases.get(key, {}).get("outcome") in ("failed", "error"):
            return
        self.cases[key] = {"outcome": outcome, "detail": detail}

    def _error_text(self, err: Any) -> str:
        return "".join(traceback.format_exception(*err))[-4000:]

    def addSuccess(self, test: Any) -> None:
        self._record(test, "passed")

    def addFailure(self, test: Any, err: Any) -> None:
        self._record(test, "failed", self._error_text(err))

    def addError(self, test: Any, err: Any) -> None:
        self._record(test, "error", self._error_text(err))

    def addSkip(self, test: Any, reason: str) -> None:
        self._record(test, "skipped", reason)

    def addExpectedFailure(self, test: Any, err: Any) -> None:
        self._record(test, "xfail", self._error_text(err))

    def addUnexpectedSuccess(self, test: Any) -> None:
        self._record(test, "failed", "unexpected success")

    def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:
        if err is not None:
            self._record(test, "failed", self._error_text(err))


def main(output: str) -> None:
    configure()
    django.setup()
    import sessions_cases
    from django.test.runner import DiscoverRunner

    runner = DiscoverRunner(verbosity=0, interactive=False)
    suite = unittest.defaultTestLoader.loadTestsFromModule(sessions_cases)
    runner.setup_test_environment()
    databases = runner.setup_databases()
    result = Outcomes()
    try:
        suite.run(result)
    finally:
        runner.teardown_databases(databases)
        runner.teardown_test_environment()
    with open(output, "w", encoding="utf-8") as out:
        json.dump({"django": django.get_version(), "cases": result.cases}, out, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
