"""The EfficientNet chapter: every figure an exercise's answer states, recomputed.

Each figure is computed here with the package (building the block or the
model and counting, or with `cnn_guide.models.efficientnet`'s scaling
functions and `cnn_guide.analysis`) and must appear, as printed here, in the
chapter's section "Exercises"; the chapter's other figures are checked at
the end.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from exercise_text import (
    CHAPTERS,
    assert_figures_in,
    assert_four_to_six_with_answers,
    assert_stated,
)

from cnn_guide import models
from cnn_guide.analysis import conv_macs, layer_table
from cnn_guide.experiments import get_experiment
from cnn_guide.layers import MBConv
from cnn_guide.models.efficientnet import (
    B0_STAGES,
    compound_scaling,
    round_filters,
    round_repeats,
)

CHAPTER = "efficientnet"


def test_four_to_six_exercises_each_with_an_answer():
    assert_four_to_six_with_answers(CHAPTER)


def test_compound_cost_factor():
    factor = compound_scaling(1).flops_factor
    assert f"{factor:.3f}" == "1.920"
    assert f"{compound_scaling(2).flops_factor:.3f}" == "3.687"
    assert f"{224 * compound_scaling(2).resolution:.1f}" == "296.2"
    assert models.get_info("efficientnet_b3").input_shape[0] == 300
    assert_stated(
        CHAPTER, "1.2 \\cdot 1.21 \\cdot 1.3225 = 1.920", "**3.687**", "296.2", "uses 300"
    )


def test_block_parameters():
    block = MBConv(16, expansion=6)
    block(keras.Input((28, 28, 16)))
    kernels = [block.expand, block.depthwise, block.se_reduce, block.se_expand, block.project]
    sizes = [sum(int(np.prod(w.shape)) for w in layer.weights) for layer in kernels]
    assert sizes == [1_536, 864, 388, 480, 1_536]
    assert sum(sizes) == 4_804
    assert block.count_params() - sum(sizes) == 4 * 208 == 832
    trainable = sum(int(np.prod(w.shape)) for w in block.trainable_weights)
    assert (block.count_params(), trainable) == (5_636, 5_220)
    assert block.se_units == math.floor(16 * 0.25) == 4
    assert_stated(
        CHAPTER,
        "1{,}536",
        "9 \\cdot 96 = 864",
        "4 + 4 = 388",
        "4 \\cdot 96 + 96 = 480",
        "4,804",
        ": 832",
        "**5,636**",
        "**5,220**",
        "2 \\cdot 208 = 416",
    )


def test_b3_rounding():
    assert round_filters(112, 1.2) == 136
    assert round_repeats(4, 1.4) == 6
    repeats = [round_repeats(stage.repeats, 1.4) for stage in B0_STAGES]
    assert repeats == [2, 3, 3, 5, 5, 6, 2] and sum(repeats) == 26
    b3 = models.efficientnet_b3(input_shape=(64, 64, 3), include_top=False)
    assert sum(isinstance(layer, MBConv) for layer in b3.layers) == 26
    keras.backend.clear_session()
    assert_stated(CHAPTER, "**136**", "**6**", "2, 3, 3, 5, 5, 6, 2", "**26** blocks instead of 16")


def test_resolution_arm_map_sides():
    options = get_experiment("efficientnet-scaling").arms[3].options
    assert options["resolution"] == 37
    model = models.efficientnet_fashion(**options, include_top=False)
    blocks = [layer for layer in model.layers if isinstance(layer, MBConv)]
    sides = [b.output.shape[1] for b in blocks if b.strides == 2]
    assert sides == [19, 10, 5] and model.output_shape[1:3] == (5, 5)
    keras.backend.clear_session()
    ratios = [(19 / 14) ** 2, (10 / 7) ** 2, (5 / 4) ** 2, (37 / 28) ** 2]
    assert [f"{r:.2f}" for r in ratios] == ["1.84", "2.04", "1.56", "1.75"]
    assert_stated(
        CHAPTER, "**19**", "**10**", "**5**", "**5x5**", "= 1.84", "= 2.04", "= 1.56", "= 1.75"
    )


def test_width_coefficient_two():
    model = models.build("efficientnet_fashion", width_coefficient=2.0)
    blocks = [layer for layer in model.layers if isinstance(layer, MBConv)]
    assert model.get_layer("stem_conv").filters == 32
    assert sorted({b.filters for b in blocks}) == [16, 24, 40, 80, 112, 192, 320]
    assert model.get_layer("top_conv").filters == 1280
    assert model.count_params() == 4_061_798
    default = models.build("efficientnet_fashion").count_params()
    assert default == 1_099_068
    assert f"{4_061_798 / default:.1f}" == "3.7"
    keras.backend.clear_session()
    assert_stated(CHAPTER, "**4,061,798**", "1,099,068", "3.7 times", "width_coefficient=2.0)")


def test_se_step_macs_against_the_depthwise_convolution():
    assert 96 * 4 + 4 * 96 == 768
    assert conv_macs(28, 28, 3, 96, 96, groups=96) == 677_376
    assert_stated(
        CHAPTER,
        "= 768",
        "677{,}376",
        "cnn-guide bench --throughput --models efficientnet_fashion,mobilenet_v2_fashion",
    )


# The chapter's other figures


def chapter_text() -> str:
    return (CHAPTERS / f"{CHAPTER}.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("variant", ["b0", "b1", "b2", "b3"])
def test_chapter_table_holds_the_registry_counts(variant):
    info = models.get_info(f"efficientnet_{variant}")
    row = next(
        line
        for line in chapter_text().splitlines()
        if line.startswith(f"| EfficientNet-{variant.upper()} |")
    )
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[3] == str(info.input_shape[0])
    assert cells[4] == f"{info.reference_params:,}"


def test_chapter_states_the_fashion_variant_and_the_experiment():
    text = chapter_text()
    assert (
        f"| parameters | 5,330,571 | {models.build('efficientnet_fashion').count_params():,} |"
        in text
    )
    experiment = get_experiment("efficientnet-scaling")
    assert experiment.arms[1].options == {"depth_coefficient": 1.0}  # the book's variant
    assert experiment.arms[2].options["width_coefficient"] == 1.3
    assert experiment.arms[4].options == {
        "depth_coefficient": 0.5 * 1.2,
        "width_coefficient": 1.1,
        "resolution": round(28 * 1.15),
    }
    assert len(experiment.seeds) == 5 and experiment.epochs == 3
    assert_figures_in(
        text,
        "width alone $\\times 1.3$",
        "resolution alone 37x37",
        "32x32 inputs ($28 \\times 1.15 = 32.2$)",
        "3 epochs of the book recipe with five seeds",
        where=f"{CHAPTER}.md",
    )
    keras.backend.clear_session()


def test_experiment_arms_cost_about_the_compound_arm():
    experiment = get_experiment("efficientnet-scaling")
    macs = []
    for arm in experiment.arms:
        macs.append(layer_table(models.build(arm.model, **arm.options), strict=False).macs)
        keras.backend.clear_session()
    base, *single, compound = macs
    assert 1.5 < compound / base < 2.2  # phi = 1: about 2 in the paper, 1.7 after rounding
    for arm_macs in single:
        assert abs(arm_macs / compound - 1) < 0.1  # each within 10% of the compound arm
