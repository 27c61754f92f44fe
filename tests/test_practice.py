"""Every chapter lets readers practise: a block built from scratch and exercises with answers."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

CHAPTERS = ROOT / "docs" / "chapters"
EXAMPLES = ROOT / "examples"
# The architecture examples, each with its chapter's block written from scratch.
ARCHITECTURES = (
    "lenet5",
    "alexnet",
    "vgg",
    "nin",
    "googlenet",
    "batch_norm",
    "resnet",
    "xception",
    "senet",
    "densenet",
    "mobilenet_v2",
    "resnext",
    "regnet",
)
APPENDICES = ("reference-figures",)  # a table of published figures, not a chapter to practise


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_each_architecture_example_builds_its_block_and_checks_it(name):
    source = (EXAMPLES / f"{name}.py").read_text(encoding="utf-8")
    assert "# ## Build it yourself" in source
    # The check prints its largest difference and fails the build when it grows.
    assert "largest difference" in source
    assert re.search(r"^\s*assert .*< 1e-5", source, re.MULTILINE), name
    assert "draw_model(" in source  # the block's figure, drawn from its code


@pytest.mark.parametrize(
    "chapter",
    sorted(p.stem for p in CHAPTERS.glob("*.md") if p.stem not in APPENDICES),
)
def test_every_chapter_ends_with_four_to_six_answered_exercises(chapter):
    text = (CHAPTERS / f"{chapter}.md").read_text(encoding="utf-8")
    assert "\n## Exercises\n" in text, chapter
    exercises = text.split("\n## Exercises\n", 1)[1].split("\n## ", 1)[0]
    numbered = re.findall(r"^\d+\. ", exercises, re.MULTILINE)
    answers = re.findall(r'^\s+\?\?\? success "Answer"', exercises, re.MULTILINE)
    assert 4 <= len(numbered) <= 6 and len(answers) == len(numbered), chapter


_COUNTS = {3: "three", 5: "five"}


def test_each_experiment_is_described_with_the_seeds_its_design_fixes():
    # The design fixes the seeds before any run (3 per arm, 5 where judged against
    # a paper); the prose says the design, the table how many are recorded so far.
    from cnn_guide.experiments import get_experiment

    found = set()
    for path in sorted(CHAPTERS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"^<!-- experiment: ([\w-]+) -->$", text, re.MULTILINE):
            name = match.group(1)
            section = text[: match.start()].rsplit("\n## ", 1)[1].split("\n### ")[-1]
            seeds = len(get_experiment(name).seeds)
            assert f"{_COUNTS[seeds]} seeds" in " ".join(section.split()), (path.name, name)
            found.add(name)
    assert len(found) >= 12
    for path in [*CHAPTERS.glob("*.md"), *EXAMPLES.glob("*.py")]:
        text = " ".join(path.read_text(encoding="utf-8").split())
        assert "two seeds each" not in text and "two seeds per" not in text, path.name
