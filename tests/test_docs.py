"""The README and docs stand alone: no link outside the repository, every link resolves."""

from __future__ import annotations

import re

from tests.conftest import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)")


def test_docs_never_point_outside_the_repository():
    """A person who clones the repository has no ../shared/: the contract is docs/contracts.md."""
    for doc in DOCS:
        text = doc.read_text()
        assert "../shared" not in text and "shared/design" not in text, doc.name
        for target in LINK.findall(text):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (doc.parent / target).resolve().is_file(), f"{doc.name}: {target}"
    assert "## Command line: `todoku`" in (REPO / "docs" / "contracts.md").read_text()
