"""The book's page of reference figures agrees with the model registry and the tests.

The registry tests build every paper configuration and compare its count with
``ModelInfo.reference_params``; these tests hold the page to the registry, so
that the figures readers see are the ones the builders are checked against.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cnn_guide import models

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "chapters" / "reference-figures.md"


def table_rows(heading: str) -> list[list[str]]:
    """The body rows of the first table under ``## heading``, as lists of cells."""
    section = PAGE.read_text(encoding="utf-8").split(f"\n## {heading}\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    assert len(lines) > 2, f"no table under '## {heading}'"
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def count(cell: str) -> int:
    assert re.fullmatch(r"\d{1,3}(,\d{3})*", cell), f"not a count with thousands commas: {cell}"
    return int(cell.replace(",", ""))


PAPER_ROWS = table_rows("Paper configurations")
OTHER_ROWS = table_rows("Other configurations the tests check")
REGISTERED = [n for n in models.list_models(variants=False) if models.get_info(n).reference_params]


def page_name(cell: str) -> tuple[str, str]:
    """``[`name`][target]`` -> (name, target)."""
    match = re.fullmatch(r"\[`(\w+)`\]\[([\w.]+)\]", cell)
    assert match, f"the model cell should link the builder's API entry, got {cell}"
    return match.group(1), match.group(2)


def test_the_page_lists_every_registered_figure_in_book_order():
    assert [page_name(row[0])[0] for row in PAPER_ROWS] == REGISTERED


@pytest.mark.parametrize("row", PAPER_ROWS, ids=lambda row: page_name(row[0])[0])
def test_each_row_agrees_with_the_registry(row):
    name, target = page_name(row[0])
    info = models.get_info(name)
    assert target == f"{info.builder.__module__}.{name}"
    assert row[1] == "x".join(map(str, info.input_shape))
    assert count(row[2]) == info.reference_params
    assert row[3] == info.reference_kind
    assert "](http" in row[4], "every source links to the paper or the implementation"


@pytest.mark.parametrize("row", OTHER_ROWS, ids=lambda row: row[0][:40])
def test_each_other_figure_is_asserted_by_a_test(row):
    figure = f"{count(row[1]):_}"
    assert row[2] in ("total", "trainable")
    sources = [
        path.read_text(encoding="utf-8")
        for path in (ROOT / "tests").glob("test_*.py")
        if path.name != Path(__file__).name
    ]
    assert any(re.search(rf"\b{figure}\b", text) for text in sources), (
        f"{row[0]}: no test asserts {figure}"
    )


def test_every_markdown_file_the_book_names_is_part_of_it():
    # A reader can open every .md file a page, docstring or example names:
    # none points outside the project.
    names = {path.name for path in ROOT.rglob("*.md") if ".venv" not in path.parts}
    names.add("SUMMARY.md")  # the API reference's navigation, generated at build time
    for folder in ("docs", "cnn_guide", "examples"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".md", ".py", ".yml") and path.is_file():
                text = path.read_text(encoding="utf-8")
                for name in re.findall(r"[\w.-]{2,}\.md\b", text):  # not "x.md"
                    assert name.rsplit("/", 1)[-1] in names, (path, name)
