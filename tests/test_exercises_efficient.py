"""The exercises of the SENet to ResNeXt chapters and of the closing chapters.

Every figure an exercise's answer states is recomputed here with the package
(by building the block or the model and counting, or with `cnn_guide.analysis`
and `cnn_guide.recipes`), and must appear, as printed here, in the chapter's
section "Exercises".
"""

from __future__ import annotations

from pathlib import Path

import keras
import pytest

from cnn_guide import models
from cnn_guide.analysis import compare, layer_table
from cnn_guide.layers import SqueezeExcitation

ROOT = Path(__file__).resolve().parent.parent


def exercises(chapter: str) -> str:
    """The text of a chapter's section "Exercises", up to the footnotes or the next section."""
    text = (ROOT / "docs" / "chapters" / f"{chapter}.md").read_text(encoding="utf-8")
    start = text.index("\n## Exercises\n")
    ends = [i for i in (text.find("\n## ", start + 1), text.find("\n[^", start)) if i != -1]
    return text[start : min(ends, default=len(text))]


def assert_stated(chapter: str, *figures: str) -> None:
    """Each figure appears in the chapter's exercises (line breaks read as spaces)."""
    section = " ".join(exercises(chapter).split())
    missing = [figure for figure in figures if " ".join(figure.split()) not in section]
    assert not missing, f"{chapter}.md's exercises do not state {missing}"


CHAPTERS = ["senet"]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_chapter_ends_with_four_to_six_exercises_each_with_an_answer(chapter):
    section = exercises(chapter)
    numbered = [line for line in section.splitlines() if line[:1].isdigit() and ". " in line[:4]]
    answers = section.count('??? success "Answer"')
    assert 4 <= len(numbered) <= 6
    assert answers == len(numbered)


# SENet


def test_senet_block_parameters():
    counts = []
    for channels in (256, 2048):
        se = SqueezeExcitation(ratio=16)
        se(keras.Input((7, 7, channels)))
        assert se.count_params() == 2 * channels**2 // 16 + channels // 16 + channels
        counts.append(se.count_params())
    assert counts == [8_464, 526_464]
    assert round(counts[1] / counts[0]) == 62
    assert_stated(
        "senet", "**8,464**", "**526,464**", "62 times", "8{,}192 + 272", "524{,}288", "2{,}176"
    )


def test_senet_extra_macs_of_the_fashion_variant():
    plain, se_net = compare(["resnet_fashion", "se_resnet_fashion"]).rows
    per_block = {c: 2 * c * (c // 4) for c in (16, 32, 64)}
    assert list(per_block.values()) == [128, 512, 2_048]
    assert se_net.macs - plain.macs == 2 * sum(per_block.values()) == 5_376
    assert 28 * 28 * 16 == 12_544
    assert_stated("senet", "5,376", "**5,376**", "12{,}544", "2{,}048")


def test_senet_receptive_field_of_the_first_unit():
    row = layer_table(models.build("se_resnet_fashion"))["conv2_block1"]
    assert (row.receptive_field, row.field) == (7, "local")
    assert_stated("senet", "receptive field of 7 pixels", "7$)")


def test_senet_ratio_16_in_the_fashion_variant():
    def se_params(model):
        return [layer.se.count_params() for layer in model.layers if getattr(layer, "se", None)]

    at_16 = se_params(models.build("se_resnet_fashion", se_ratio=16))
    assert at_16 == [49, 49, 162, 162, 580, 580]
    assert sum(at_16) == 1_582
    assert sum(se_params(models.build("se_resnet_fashion"))) == 5_656
    assert_stated("senet", "49, 162 and 580", "**1,582**", "5,656")
