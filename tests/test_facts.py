"""Citations of docs/facts.md: every one names a section that the page has, so none can dangle.

A citation is the text ``docs/facts.md, "Section"`` (the quoted part may wrap onto the next line); in the
Markdown documents it is the text of a link whose target is ``facts.md#anchor`` (a link to the whole page,
``(docs/facts.md)``, is allowed too). *Section* is a heading of
docs/facts.md or a heading preceded by its parents (``"Metrics / Common"``); an anchor is GitHub's slug of a
heading. Any other mention of the file (a bare name, the old upper-case name) is reported as well.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FACTS = REPO / "docs" / "facts.md"
SUFFIXES = (".py", ".md", ".toml", ".cu", ".cpp", ".h", ".sh")
SKIPPED_DIRS = {"build", "dist", "__pycache__"}

_HEADING = re.compile(r"^(#{2,6}) (.+?)\s*$", re.MULTILINE)
_LINK_TARGET = re.compile(r"\((?:docs/)?facts\.md(?:#([^)\s]*))?\)")
_CITATION = re.compile(r'docs/facts\.md,\s+"([^"]+)"')
_MENTION = re.compile(r"facts\.md", re.IGNORECASE)


def headings(markdown: str) -> list[list[str]]:
    """Every heading below the title as its path of titles (``["Metrics", "Common"]``)."""
    paths: list[list[str]] = []
    stack: list[str] = []
    for match in _HEADING.finditer(markdown):
        depth = len(match.group(1)) - 2
        stack = [*stack[:depth], match.group(2)]
        paths.append(stack)
    return paths


def section_names(markdown: str) -> set[str]:
    """What a citation may name: a heading's title, or the title preceded by some of its parents."""
    return {" / ".join(path[start:]) for path in headings(markdown) for start in range(len(path))}


def slug(title: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def dangling(text: str, names: set[str], anchors: set[str], markdown: bool) -> list[str]:
    """The citations (and stray mentions) in ``text`` that do not resolve to a section of the page; links to
    the page count only in Markdown."""
    problems: list[str] = []
    if markdown:
        problems += [f"#{a}" for a in _LINK_TARGET.findall(text) if a and a not in anchors]
        text = _LINK_TARGET.sub("()", text)
    cited = [(m.start(), " ".join(m.group(1).split())) for m in _CITATION.finditer(text)]
    problems += [f'"{name}"' for _, name in cited if name not in names]
    starts = {start + len("docs/") for start, _ in cited}
    problems += [
        f"bare mention: {text[m.start() - 20 : m.end() + 20]!r}"
        for m in _MENTION.finditer(text)
        if m.start() not in starts
    ]
    return problems


def project_files() -> Iterator[Path]:
    """The project's source and documentation files (not the page itself, not this test)."""
    for path in sorted(REPO.rglob("*")):
        parts = path.relative_to(REPO).parts
        hidden = any(p.startswith(".") or p in SKIPPED_DIRS or p.endswith(".egg-info") for p in parts)
        if hidden or path.suffix not in SUFFIXES or path in (FACTS, Path(__file__).resolve()):
            continue
        yield path


def test_every_citation_names_an_existing_section() -> None:
    page = FACTS.read_text(encoding="utf-8")
    names = section_names(page)
    anchors = {slug(path[-1]) for path in headings(page)}
    problems: dict[str, list[str]] = {}
    cited = 0
    for path in project_files():
        text = path.read_text(encoding="utf-8")
        cited += len(_CITATION.findall(text))
        if found := dangling(text, names, anchors, path.suffix == ".md"):
            problems[str(path.relative_to(REPO))] = found
    assert not problems
    assert cited > 0, "no citation found: the scan looks in the wrong place"


def test_section_titles_are_unique() -> None:
    titles = [path[-1] for path in headings(FACTS.read_text(encoding="utf-8"))]
    assert len(titles) == len(set(titles)), sorted(t for t in titles if titles.count(t) > 1)


def test_checker_reports_what_does_not_resolve() -> None:
    page = "# Title\n\n## Metrics\n\n### Common\n\ntext\n\n## Ops\n"
    names = section_names(page)
    anchors = {slug(path[-1]) for path in headings(page)}
    assert names == {"Metrics", "Common", "Metrics / Common", "Ops"}
    good = 'a (docs/facts.md, "Metrics /\n    Common") b [docs/facts.md, "Ops"](facts.md#ops) [p](facts.md)'
    assert dangling(good, names, anchors, markdown=True) == []
    bad = 'a (docs/facts.md, "PPL") b (facts.md#nope) c FACTS.md "Ops" d docs/facts.md'
    found = dangling(bad, names, anchors, markdown=True)
    assert found[:2] == ["#nope", '"PPL"'] and len(found) == 4
    assert len(dangling("see (docs/facts.md)", names, anchors, markdown=False)) == 1
    assert slug("Pickle persistence of stylegan2-ada") == "pickle-persistence-of-stylegan2-ada"
    assert slug("Precision/recall") == "precisionrecall"
