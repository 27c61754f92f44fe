"""A chapter's section "Exercises", for the tests that recompute its answers.

Each ``test_exercises_*`` module computes the figures an answer states with
the package and checks that the chapter states them as computed.
"""

from __future__ import annotations

import re
from pathlib import Path

CHAPTERS = Path(__file__).resolve().parent.parent / "docs" / "chapters"


def exercises(chapter: str) -> str:
    """The text of a chapter's section "Exercises".

    Args:
        chapter: The chapter's file name without ``.md``, e.g. ``"resnet"``.

    Returns:
        ``docs/chapters/<chapter>.md`` from its ``## Exercises`` heading up to
        the footnotes or the next section, as written.
    """
    text = (CHAPTERS / f"{chapter}.md").read_text(encoding="utf-8")
    start = text.index("\n## Exercises\n")
    ends = [i for i in (text.find("\n## ", start + 1), text.find("\n[^", start)) if i != -1]
    return text[start : min(ends, default=len(text))]


def folded_exercises(chapter: str) -> str:
    """The chapter's `exercises` with line breaks and indentation read as single spaces.

    Args:
        chapter: The chapter's file name without ``.md``.

    Returns:
        The section on one line, for finding a phrase wrapped across lines.
    """
    return _folded(exercises(chapter))


def numbered_exercises(chapter: str) -> dict[int, str]:
    """The chapter's exercises by number.

    Args:
        chapter: The chapter's file name without ``.md``.

    Returns:
        Each exercise's text after its ``N. `` (its question, then its answer),
        keyed by N, as written.
    """
    parts = re.split(r"^(\d+)\. ", exercises(chapter), flags=re.MULTILINE)
    # parts: the heading, then each number followed by the text up to the next one.
    return {int(number): text for number, text in zip(parts[1::2], parts[2::2], strict=True)}


def assert_figures_in(text: str, *figures: str, where: str) -> None:
    """Assert that each figure appears in a text, line breaks read as spaces.

    Args:
        text: The text to search, e.g. a whole chapter.
        *figures: The phrases it must contain, each as printed.
        where: What the text is, for the failure message (``"efficientnet.md"``).
    """
    text = _folded(text)
    missing = [figure for figure in figures if _folded(figure) not in text]
    assert not missing, f"not stated in {where}: {missing}"


def assert_stated(chapter: str, *figures: str) -> None:
    """Assert that each figure appears in the chapter's exercises, line breaks read as spaces.

    Args:
        chapter: The chapter's file name without ``.md``.
        *figures: The phrases its exercises must contain, each as printed.
    """
    assert_figures_in(exercises(chapter), *figures, where=f"{chapter}.md's exercises")


def assert_four_to_six_with_answers(chapter: str) -> None:
    """Assert that the chapter numbers 4 to 6 exercises, 1 to n, each with a collapsible answer.

    Args:
        chapter: The chapter's file name without ``.md``.
    """
    section = exercises(chapter)
    numbered = [line.split(". ")[0] for line in section.splitlines() if line[:1].isdigit()]
    assert 4 <= len(numbered) <= 6, f"{chapter}.md has {len(numbered)} exercises"
    assert numbered == [str(i) for i in range(1, len(numbered) + 1)], numbered
    assert section.count('??? success "Answer"') == len(numbered)


def _folded(text: str) -> str:
    """The text with each run of whitespace replaced by one space."""
    return " ".join(text.split())
