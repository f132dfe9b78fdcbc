"""The README and the documents under docs/ point only at files that exist: every relative
link and image (the pages' screenshots the browser tests take, the services' READMEs), so a
renamed page or a screenshot no test takes any more shows here, not as a broken image."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Markdown links and images, and HTML <img src> (the README's screenshot table).
LINK = re.compile(r"\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")


def relative_targets(document: Path) -> list[str]:
    found = []
    for match in LINK.finditer(document.read_text(encoding="utf-8")):
        target = (match.group(1) or match.group(2)).split("#", 1)[0]
        if target and not re.match(r"[a-z][a-z0-9+.-]*:", target):  # not http:, mailto:, …
            found.append(target)
    return found


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_relative_link_and_image_exists(document: Path) -> None:
    missing = [t for t in relative_targets(document) if not (document.parent / t).exists()]
    assert missing == [], f"{document.name} points at files that do not exist: {missing}"


def test_the_readme_shows_every_page_at_phone_and_desktop_width() -> None:
    shots = [t for t in relative_targets(ROOT / "README.md")
             if t.startswith("docs/screenshots/") and t.endswith(".png")]
    pages = {Path(t).stem.rsplit("-", 1)[0] for t in shots}
    for page in pages:
        assert {f"docs/screenshots/{page}-phone.png",
                f"docs/screenshots/{page}-desktop.png"} <= set(shots), page
