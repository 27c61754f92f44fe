"""The exercises of the ConvNeXt chapter, and the figures its experiment section states.

Every figure an exercise's answer states is recomputed here with the package
and must appear, as printed here, in the chapter's section "Exercises".
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from exercise_text import CHAPTERS, assert_four_to_six_with_answers, assert_stated

from cnn_guide import models
from cnn_guide.analysis import conv_macs, layer_table
from cnn_guide.layers import ConvNeXtBlock

CHAPTER = "convnext"


def test_four_to_six_exercises_each_with_an_answer():
    assert_four_to_six_with_answers(CHAPTER)


def test_block_weights_at_96_channels():
    block = ConvNeXtBlock()
    block(keras.Input((56, 56, 96)))
    parts = [
        sum(int(np.prod(w.shape)) for w in layer.weights)
        for layer in (block.depthwise, block.norm, block.expand, block.project, block.layer_scale)
    ]
    assert parts == [4_800, 192, 37_248, 36_960, 96]
    assert block.count_params() == 8 * 96**2 + 58 * 96 == 79_296
    assert 3 * 79_296 == 237_888
    assert models.get_info("convnext_tiny").reference_params == 28_589_128
    assert_stated(CHAPTER, "4{,}800", "= 192", "37{,}248", "36{,}960", "**79,296**", "237,888")


def test_largest_cheaper_depthwise_kernel():
    dense = conv_macs(1, 1, 3, 96, 96)
    cheaper = [k for k in range(1, 40, 2) if conv_macs(1, 1, k, 96, 96, groups=96) < dense]
    assert dense == 82_944 and max(cheaper) == 29
    assert conv_macs(1, 1, 29, 96, 96, groups=96) == 80_736
    assert conv_macs(1, 1, 31, 96, 96, groups=96) == 92_256
    assert_stated(CHAPTER, "$k = 29$", "80{,}736", "82{,}944", "92{,}256", "$k^2 < 864$")


def test_receptive_field_of_the_fashion_variant():
    table = layer_table(models.build("convnext_fashion"))
    names = ["stem_conv", "stage1_block1", "downsample2_conv", "stage2_block1"]
    names += ["downsample3_conv"] + [f"stage3_block{i}" for i in range(1, 5)]
    assert [table[name].receptive_field for name in names] == [
        2,
        14,
        16,
        40,
        44,
        92,
        140,
        188,
        236,
    ]
    assert [table[name].jump for name in ("stem_conv", "downsample2_conv", "stage3_block4")] == [
        2,
        4,
        8,
    ]
    assert_stated(
        CHAPTER, "receptive field of 236 pixels", "(14)", "(16)", "(40)", "(44)", "**236**"
    )
    keras.backend.clear_session()


def test_layer_scale_starts_the_block_near_the_identity():
    x = np.random.default_rng(0).normal(size=(4, 8, 8, 32)).astype("float32")
    scaled = keras.ops.convert_to_numpy(ConvNeXtBlock()(x))
    unscaled = keras.ops.convert_to_numpy(ConvNeXtBlock(layer_scale_init=None)(x))
    assert np.abs(scaled - x).max() < 1e-4
    assert np.abs(unscaled - x).max() > 0.1
    assert_stated(CHAPTER, "less than $10^{-4}$", "layer_scale_init=None")


def test_stochastic_depth_rates():
    model = models.convnext_fashion(drop_path_rate=0.2)
    rates = [layer.drop_path_rate for layer in model.layers if isinstance(layer, ConvNeXtBlock)]
    assert rates == pytest.approx([0.0, 0.04, 0.08, 0.12, 0.16, 0.2])
    assert sum(rates) == pytest.approx(0.6)
    assert_stated(CHAPTER, "**0, 0.04, 0.08, 0.12, 0.16 and 0.2**", "**0.6**")
    keras.backend.clear_session()


def test_experiment_section_states_each_steps_parameters():
    # The MACs are measured in tests/test_convnext.py; the counts are quick to check here.
    from cnn_guide.models.convnext import ROADMAP

    lines = (CHAPTERS / f"{CHAPTER}.md").read_text(encoding="utf-8").splitlines()
    for step in ROADMAP:
        count = models.convnext_fashion(roadmap=step).count_params()
        row = next(line for line in lines if line.startswith(f"| `{step}` |"))
        assert f"| {count:,} |" in row, step
        keras.backend.clear_session()
