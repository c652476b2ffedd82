"""The docs stay in step with the code: every option, reason and event, every README link.

`make docs` (run by `make test`) builds the site with --strict, which checks the links
between pages and the references generated from the docstrings; these tests check what a
build cannot know.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import re
import textwrap
from pathlib import Path

from cookiesess import SessionConfig
from cookiesess.events import EVENT_KINDS
from cookiesess.exceptions import REJECT_REASONS

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
REPO_PATH = re.compile(r"`((?:tests|examples|fuzz|bench|cookiesess)/[\w./-]*)`")
LINK = re.compile(r"\]\((?!https?:|#)([^)#\s]+)(?:#[^)\s]*)?\)")


def table_cells(page: Path) -> set[str]:
    """The backticked names in the first column of the page's tables."""
    rows = (line for line in page.read_text().splitlines() if line.startswith("| `"))
    return {name for row in rows for name in re.findall(r"`(\w+)`", row.split("|")[1])}


def test_every_option_is_in_the_configuration_table() -> None:
    """Each SessionConfig field has a row in docs/configuration.md (the clock is for tests)."""
    options = {field.name for field in dataclasses.fields(SessionConfig)} - {"clock"}

    assert options - table_cells(DOCS / "configuration.md") == set()


def test_every_option_has_a_docstring() -> None:
    """Each SessionConfig field has the attribute docstring the configuration reference shows."""
    (cls,) = ast.parse(textwrap.dedent(inspect.getsource(SessionConfig))).body
    assert isinstance(cls, ast.ClassDef)
    documented = {
        statement.target.id
        for statement, following in itertools.pairwise(cls.body)
        if isinstance(statement, ast.AnnAssign)
        and isinstance(statement.target, ast.Name)
        and isinstance(following, ast.Expr)
        and isinstance(following.value, ast.Constant)
        and isinstance(following.value.value, str)
    }

    assert {field.name for field in dataclasses.fields(SessionConfig)} - documented == set()


def test_every_reject_reason_is_explained_for_operators() -> None:
    """Each reason `on_reject` can receive has a row in the metrics table of operations.md."""
    assert set(REJECT_REASONS) - table_cells(DOCS / "operations.md") == set()


def test_every_event_kind_is_explained_for_operators() -> None:
    """Each kind `on_event` can report has a row in the events table of operations.md."""
    assert set(EVENT_KINDS) - table_cells(DOCS / "operations.md") == set()


def test_every_repository_path_the_docs_name_exists() -> None:
    """Paths like `tests/system/` or `examples/litestar_app.py` in README and docs/ exist."""
    pages = [REPO / "README.md", *DOCS.rglob("*.md")]
    named = {path for page in pages for path in REPO_PATH.findall(page.read_text())}

    assert named
    assert sorted(path for path in named if not (REPO / path).exists()) == []


def test_readme_links_resolve() -> None:
    """Every relative link in README.md names a file in the repository."""
    targets = LINK.findall((REPO / "README.md").read_text())

    assert any(target.startswith("docs/") for target in targets)
    assert [target for target in targets if not (REPO / target).exists()] == []
