"""Every relative link and anchor in README.md and docs/ resolves; the README stays short."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

README_LIMIT_BYTES = 12 * 1024
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def pages(root: Path) -> list[Path]:
    """The README and every page under docs/."""
    return [root / "README.md", *sorted((root / "docs").glob("**/*.md"))]


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the headings of `page` (duplicates numbered -1, -2, ...)."""
    seen: dict[str, int] = {}
    found = set()
    for heading in _HEADING.findall(_FENCE.sub("", page.read_text(encoding="utf-8"))):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def dead_links(root: Path) -> list[str]:
    """`page: target` for every relative link whose file or anchor does not exist."""
    dead = []
    for page in pages(root):
        text = _INLINE_CODE.sub("", _FENCE.sub("", page.read_text(encoding="utf-8")))
        for target in _LINK.findall(text):
            if re.match(r"^[a-z]+:", target):
                continue  # http(s), mailto: not checked offline
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                dead.append(f"{page.relative_to(root)}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                dead.append(f"{page.relative_to(root)}: {target} (no such heading)")
    return dead


def test_every_relative_link_and_anchor_resolves() -> None:
    assert dead_links(REPO_ROOT) == []


def test_the_readme_reads_in_two_minutes() -> None:
    assert (REPO_ROOT / "README.md").stat().st_size < README_LIMIT_BYTES


@pytest.mark.parametrize(
    ("link", "problem"),
    [("docs/missing.md", "no such file"), ("docs/page.md#nowhere", "no such heading")],
)
def test_a_dead_link_or_anchor_is_reported(tmp_path: Path, link: str, problem: str) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text("# Page\n\n## A `code` heading, too\n")
    (tmp_path / "README.md").write_text(
        f"[good](docs/page.md#a-code-heading-too) [bad]({link})\n```\n[skipped](nowhere.md)\n```\n"
    )
    assert dead_links(tmp_path) == [f"README.md: {link} ({problem})"]
