"""A chapter's section "Exercises", for the tests that recompute its answers.

Each ``test_exercises_*`` module computes the figures an answer states with
the package and checks that the chapter states them as computed.
"""

from __future__ import annotations

from pathlib import Path

CHAPTERS = Path(__file__).resolve().parent.parent / "docs" / "chapters"


def exercises(chapter: str) -> str:
    """The text of ``docs/chapters/<chapter>.md``'s "Exercises", up to the footnotes or the
    next section."""
    text = (CHAPTERS / f"{chapter}.md").read_text(encoding="utf-8")
    start = text.index("\n## Exercises\n")
    ends = [i for i in (text.find("\n## ", start + 1), text.find("\n[^", start)) if i != -1]
    return text[start : min(ends, default=len(text))]


def assert_stated(chapter: str, *figures: str) -> None:
    """Each figure appears in the chapter's exercises (line breaks read as spaces)."""
    section = " ".join(exercises(chapter).split())
    missing = [figure for figure in figures if " ".join(figure.split()) not in section]
    assert not missing, f"{chapter}.md's exercises do not state {missing}"


def assert_four_to_six_with_answers(chapter: str) -> None:
    """The chapter numbers 4 to 6 exercises, 1 to n, each with a collapsible answer."""
    section = exercises(chapter)
    numbered = [line.split(". ")[0] for line in section.splitlines() if line[:1].isdigit()]
    assert 4 <= len(numbered) <= 6, f"{chapter}.md has {len(numbered)} exercises"
    assert numbered == [str(i) for i in range(1, len(numbered) + 1)], numbered
    assert section.count('??? success "Answer"') == len(numbered)
