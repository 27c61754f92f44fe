"""The worked answers of the classic chapters' exercises, recomputed.

Every figure an answer gives (foundations, simple-cnn, lenet, alexnet, vgg,
nin) is computed here with the package, by its formulas or by building the
model and counting, and the exact figure is looked up in that exercise's
text, so a chapter cannot drift from what the code computes. The figures of
the simple-cnn chapter's corrected comparison of its first layer are checked
the same way.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import keras
import pytest

from cnn_guide import models
from cnn_guide.analysis import (
    conv_macs,
    conv_params,
    layer_table,
    stack_receptive_field,
)

CHAPTERS = Path(__file__).resolve().parent.parent / "docs" / "chapters"
CLASSIC = ["simple-cnn"]


@cache
def chapter(name: str) -> str:
    return (CHAPTERS / f"{name}.md").read_text(encoding="utf-8")


@cache
def exercises(name: str) -> dict[int, str]:
    """The chapter's exercises by number, each with its answer."""
    text = chapter(name).split("\n## Exercises\n", 1)[1]
    text = re.split(r"\n\[\^|\n## ", text)[0]  # up to the footnotes or the next section
    parts = re.split(r"^(\d+)\. ", text, flags=re.M)
    return {int(number): body for number, body in zip(parts[1::2], parts[2::2], strict=True)}


def forms(value: int | float | str) -> list[str]:
    """The ways a figure may be written: 1,234 in prose, 1{,}234 in LaTeX."""
    text = f"{value:,}" if isinstance(value, int) else str(value)
    return [text, text.replace(",", "{,}")]


def assert_in(name: str, number: int, *values: int | float | str) -> None:
    """Each value appears in exercise ``number`` of chapter ``name``."""
    text = exercises(name)[number]
    for value in values:
        assert any(form in text for form in forms(value)), (
            f"{name}.md, exercise {number}: {value!r} is not in the answer"
        )


def percent(fraction: float, digits: int = 1) -> str:
    return f"{100 * fraction:.{digits}f}%"


@cache
def table(name: str, **kwargs):
    return layer_table(models.build(name, **kwargs))


# --------------------------------------------------------------------------------------
# Every chapter ends with 4 to 6 exercises, each with a collapsible answer.
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CLASSIC)
def test_each_chapter_ends_with_four_to_six_answered_exercises(name):
    found = exercises(name)
    assert 4 <= len(found) <= 6
    assert sorted(found) == list(range(1, len(found) + 1))
    for number, text in found.items():
        assert '\n    ??? success "Answer"\n' in text, f"{name}.md, exercise {number}"
    after = chapter(name).split("\n## Exercises\n", 1)[1]
    assert "\n## " not in after, f"{name}.md: the exercises must be the last section"


# --------------------------------------------------------------------------------------
# A simple CNN
# --------------------------------------------------------------------------------------


def test_simple_cnn_first_layer_comparison():
    t = table("simple_cnn")
    conv1, conv2a, conv2b, conv3a, conv3b = (
        t[n] for n in ("conv1", "conv2a", "conv2b", "conv3a", "conv3b")
    )
    assert conv1.params == conv_params(7, 1, 64) == 3_200
    assert min(r.params for r in t if r.type == "Conv2D" and r.name != "conv1") == conv2a.params
    assert conv2a.macs == conv3a.macs and conv2b.macs == conv3b.macs
    text = chapter("simple-cnn").split("## Idea 2", 1)[1].split("## Idea 3", 1)[0]
    figures = [
        "3{,}200",
        f"{conv2a.params:,}",
        percent(conv1.params / conv2a.params),
        f"{conv1.macs:,}",
        f"{conv2a.macs:,}",
        percent(conv1.macs / conv2a.macs, 0),
        f"{conv2b.macs:,}",
        percent(conv1.macs / conv2b.macs),
    ]
    for figure in figures:
        assert figure in text, figure


def test_simple_cnn_exercise_1_largest_layer():
    t = table("simple_cnn")
    largest = max(t, key=lambda row: row.params)
    assert largest.name == "conv3b"
    assert largest.params == conv_params(3, 256, 256) == 2 * t["fc1"].params
    assert_in("simple-cnn", 1, t.total_params, largest.params, t["fc1"].params)
    assert_in("simple-cnn", 1, percent(largest.params / t.total_params), t["conv2b"].params)


def test_simple_cnn_exercise_2_receptive_fields():
    t = table("simple_cnn")
    rows = re.findall(
        r"^ *\| (\w+) \| \d, \d \| (?:\$.*= )?(\d+)\$? \| (\d+) \|$",
        exercises("simple-cnn")[2],
        flags=re.M,
    )
    assert [name for name, _, _ in rows] == [
        row.name for row in t if row.type in ("Conv2D", "MaxPooling2D")
    ]
    for name, field, jump in rows:
        assert (t[name].receptive_field, t[name].jump) == (int(field), int(jump)), name
    assert_in("simple-cnn", 2, "34x34", "38x38")


def test_simple_cnn_exercise_3_smaller_stem():
    t = table("simple_cnn")
    params, macs = conv_params(3, 1, 64), conv_macs(28, 28, 3, 1, 64)
    total = t.total_params - t["conv1"].params + params
    path = [(3, 1), (2, 2), (3, 1), (3, 1), (2, 2), (3, 1), (3, 1), (2, 2)]
    assert stack_receptive_field(path)[0] == 34
    assert_in("simple-cnn", 3, params, macs, t["conv1"].macs, t["conv1"].params - params, total)


def test_simple_cnn_exercise_4_average_pooling_head():
    body = models.build("simple_cnn", include_top=False, pooling="avg")
    features = body.output.shape[-1]
    assert features == 256
    new_fc1 = keras.layers.Dense(128)
    new_fc1.build((None, features))
    fc1 = table("simple_cnn")["fc1"].params
    assert_in("simple-cnn", 4, new_fc1.count_params(), fc1, fc1 - new_fc1.count_params())


def test_simple_cnn_exercise_5_dropout_has_no_parameters():
    assert models.build("simple_cnn", dropout=0.0).count_params() == 1_413_834
    assert_in("simple-cnn", 5, 1_413_834)
