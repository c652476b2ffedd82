"""MkDocs hook: site pages made of the repository's top-level documents.

A page holding a line ``<!-- include PATH -->`` gets the file at PATH (relative to the
repository root) in its place, so SECURITY.md, ARCHITECTURE.md, CHANGELOG.md and
fuzz/README.md stay where GitHub and the sdist show them and are not copied. Their
relative links are rewritten to the site page of the same document (a link into docs/ to
that page); a link to a document the site lacks is left alone, and the strict build then
fails on it. Include lines belong in pages at the top of docs/.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INCLUDE = re.compile(r"^<!-- include (\S+) -->$", re.MULTILINE)
LINK = re.compile(r"\]\((?!https?:|#)([^)#\s]+)(#[^)\s]*)?\)")
# Repository document -> the site page that holds it.
PAGES = {
    "README.md": "index.md",
    "SECURITY.md": "security.md",
    "ARCHITECTURE.md": "architecture.md",
    "CHANGELOG.md": "changelog.md",
    "fuzz/README.md": "fuzzing.md",
}


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Replace each include line with the document, its links pointing into the site."""
    return INCLUDE.sub(_include, markdown)


def _include(match: re.Match[str]) -> str:
    source = match[1]
    base = posixpath.dirname(source)

    def relink(link: re.Match[str]) -> str:
        target = posixpath.normpath(posixpath.join(base, link[1]))
        page = target.removeprefix("docs/") if target.startswith("docs/") else PAGES.get(target)
        return link[0] if page is None else f"]({page}{link[2] or ''})"

    return LINK.sub(relink, (ROOT / source).read_text(encoding="utf-8"))
