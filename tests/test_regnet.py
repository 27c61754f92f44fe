"""RegNet: the width rule, the 400MF models' counts, the blocks and the Fashion-MNIST builder."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnn_guide import models
from cnn_guide.analysis import layer_table
from cnn_guide.anynet import (
    AnyNetConfig,
    WidthRule,
    block_widths,
    compatible_width,
    fit_width_rule,
    regnet_config,
    stage_widths,
)
from cnn_guide.layers import RegNetXBlock, RegNetYBlock, se_channel_weights
from cnn_guide.models.regnet import FASHION_RULE, PAPER_RULES


def trainable(model: keras.Model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def blocks(model: keras.Model) -> list[RegNetXBlock]:
    return [layer for layer in model.layers if isinstance(layer, RegNetXBlock)]


# --- the width rule -------------------------------------------------------------------


def test_block_widths_follow_the_quantized_line():
    # u_j = 24 + 24.48 j, snapped to 24 * 2.54^k, rounded to multiples of 8.
    widths = block_widths(WidthRule(22, 24, 24.48, 2.54))
    assert widths == [24] + [64] * 2 + [152] * 7 + [392] * 12
    assert all(w % 8 == 0 for w in widths)
    assert widths == sorted(widths)


def test_without_slope_every_block_has_the_first_width():
    assert block_widths(WidthRule(5, 40, 0, 2.0)) == [40] * 5


def test_stage_widths_groups_equal_widths():
    assert stage_widths([16, 32, 32, 64, 64, 64]) == ([1, 2, 3], [16, 32, 64])


@pytest.mark.parametrize(
    ("width", "ratio", "group", "expected"),
    [
        (24, 1.0, 16, (32, 16)),
        (392, 1.0, 16, (384, 16)),
        (152, 1.0, 16, (160, 16)),
        (40, 2.0, 32, (40, 20)),
        (52, 4.0, 8, (64, 8)),
        (48, 2.0, 8, (48, 8)),
    ],
)
def test_compatible_width_rounds_to_whole_groups(width, ratio, group, expected):
    assert compatible_width(width, ratio, group) == expected


@pytest.mark.parametrize(
    ("model", "depths", "widths", "group"),
    [
        ("regnetx_400mf", (1, 2, 7, 12), (32, 64, 160, 384), 16),
        ("regnety_400mf", (1, 3, 6, 6), (48, 104, 208, 440), 8),
    ],
)
def test_the_400mf_rules_give_keras_stages(model, depths, widths, group):
    """keras.applications' (Keras 2) MODEL_CONFIGS x004 and y004, generated from the rule."""
    config = regnet_config(**PAPER_RULES[model])
    assert config.depths == depths
    assert config.widths == widths
    assert set(config.group_widths) == {group}


def test_fashion_default_comes_from_its_rule():
    config = regnet_config(FASHION_RULE, group_width=8)
    assert (config.depths, config.widths) == ((1, 3, 4), (32, 72, 152))
    model = models.regnet_fashion()
    assert [(b.filters, b.strides) for b in blocks(model) if b.strides == 2] == [
        (32, 2),
        (72, 2),
        (152, 2),
    ]
    keras.backend.clear_session()


def test_fit_recovers_a_rule_that_reproduces_the_network():
    depths, widths = (2, 3, 5), (32, 64, 128)
    rule = fit_width_rule(depths, widths)
    assert rule.depth == 10 and rule.w_a > 0 and 1.5 <= rule.w_m <= 3
    fitted = block_widths(rule)
    per_block = np.repeat(widths, depths)
    # The fitted rule lands within one quantization step (log-ratio) of every block.
    assert np.max(np.abs(np.log(fitted) - np.log(per_block))) < np.log(2.0)


def test_bad_rules_are_rejected():
    with pytest.raises(ValueError, match="w_m > 1"):
        WidthRule(4, 24, 10, 1.0)
    with pytest.raises(ValueError, match="depth"):
        WidthRule(0, 24, 10, 2.0)
    with pytest.raises(ValueError, match="no depths"):
        fit_width_rule((), ())


# --- the paper's models ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reference", "total"),
    [("regnetx_400mf", 5_157_512, 5_194_184), ("regnety_400mf", 4_344_144, 4_371_296)],
)
def test_400mf_counts_equal_the_reference(name, reference, total):
    """Trainable count = Keras 2's RegNetX004/RegNetY004 (= timm's), at 32x32 to stay quick."""
    model = models.build(name, input_shape=(32, 32, 3))
    info = models.get_info(name)
    assert info.reference_kind == "trainable"
    assert trainable(model) == info.reference_params == reference
    assert model.count_params() == total
    config = regnet_config(**PAPER_RULES[name])
    assert config.parameters(input_channels=3, num_classes=1000) == total
    assert config.parameters(input_channels=3, num_classes=1000, trainable_only=True) == reference
    keras.backend.clear_session()


def test_400mf_have_the_paper_shape():
    model = models.regnety_400mf(input_shape=(64, 64, 3), include_top=False)
    assert model.output_shape == (None, 2, 2, 440)
    found = blocks(model)
    assert len(found) == 16 and all(isinstance(b, RegNetYBlock) for b in found)
    assert sum(b.projection for b in found) == 4
    assert {b.groups for b in found if b.filters == 440} == {55}
    with pytest.raises(ValueError, match="too small.*17x17"):
        models.regnetx_400mf(input_shape=(16, 16, 3))
    keras.backend.clear_session()


# --- the counting formulas against Keras ----------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        AnyNetConfig((1, 3, 4), (32, 72, 152), (1.0,) * 3, (8,) * 3, 24, 0.25),
        AnyNetConfig((2, 1), (48, 96), (2.0, 0.5), (4, 16), 16, None),
    ],
    ids=["regnety", "anynetx"],
)
def test_config_counts_match_the_built_model(config):
    model = models.regnet_fashion(
        depths=config.depths,
        widths=config.widths,
        group_width=list(config.group_widths),
        bottleneck_ratio=list(config.bottleneck_ratios),
        se=config.se_ratio is not None,
        stem_width=config.stem_width,
    )
    assert model.count_params() == config.parameters()
    assert trainable(model) == config.parameters(trainable_only=True)
    assert layer_table(model).macs == config.macs()
    keras.backend.clear_session()


# --- the blocks -----------------------------------------------------------------------


def test_x_block_projects_only_where_the_shape_changes():
    x = keras.Input((8, 8, 16))
    same = RegNetXBlock(16, group_width=8)
    down = RegNetXBlock(32, group_width=8, strides=2)
    assert down(same(x)).shape == (None, 4, 4, 32)
    assert not same.projection and down.projection
    assert same.groups == 2 and down.groups == 4
    assert same.receptive_field_path() == [(1, 1), (3, 1), (1, 1)]


def test_y_block_squeezes_to_a_quarter_of_its_input_width():
    block = RegNetYBlock(48, group_width=8, strides=2)
    block.build((None, 8, 8, 32))
    assert block.se_reduce.units == 8  # int(0.25 * 32): the input width, not 48
    assert block.se_expand.units == 48


def test_y_block_channel_weights_are_read_by_se_channel_weights():
    model = models.regnet_fashion(depths=[1], widths=[16], stem_width=8)
    weights = se_channel_weights(model, np.zeros((3, 28, 28, 1), "float32"))
    assert weights["s1_b1"].shape == (3, 16)
    assert np.all((weights["s1_b1"] > 0) & (weights["s1_b1"] < 1))
    with pytest.raises(ValueError, match="no squeeze-and-excitation"):
        RegNetXBlock(16, 8).channel_weights(np.zeros((1, 4, 4, 16), "float32"))
    keras.backend.clear_session()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"filters": 24, "group_width": 16}, "multiple of group_width"),
        ({"filters": 16, "group_width": 8, "bottleneck_ratio": 0}, "bottleneck_ratio"),
        ({"filters": 16, "group_width": 8, "se_ratio": -1}, "se_ratio"),
        ({"filters": 0, "group_width": 8}, "filters"),
    ],
)
def test_bad_block_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RegNetXBlock(**kwargs)


def test_y_block_needs_its_se_ratio():
    with pytest.raises(ValueError, match="RegNetXBlock"):
        RegNetYBlock(16, 8, se_ratio=None)


@pytest.mark.parametrize("block", [RegNetXBlock, RegNetYBlock])
def test_blocks_save_and_load_with_safe_mode(block, tmp_path):
    inputs = keras.Input((8, 8, 8))
    outputs = block(32, group_width=8, strides=2, bottleneck_ratio=0.5)(inputs)
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 8)).astype("float32")
    path = tmp_path / "block.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded(x, training=False), model(x, training=False), atol=1e-6)
    assert loaded.layers[-1].get_config() == model.layers[-1].get_config()
    keras.backend.clear_session()


# --- the Fashion-MNIST builder --------------------------------------------------------


def test_fashion_variant_has_three_downsamplings_and_under_a_million_weights():
    model = models.regnet_fashion(include_top=False)
    assert model.output_shape == (None, 4, 4, 152)
    assert model.get_layer("stem_conv").strides == (1, 1)
    assert models.get_info("regnet_fashion").variant_of == "regnety_400mf"
    assert models.regnet_fashion().count_params() == 339_360 < 1_000_000
    keras.backend.clear_session()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"depths": [1, 1, 1, 1], "widths": [8, 8, 8, 8]}, "one to three stages"),
        ({"depths": [1, 2], "widths": [16]}, "one to three stages"),
        ({"group_width": [8, 8]}, "one value per stage"),
        ({"bottleneck_ratio": 0}, "bottleneck_ratio"),
        ({"group_width": 1.5}, "whole number"),
        ({"widths": [32, 72, 150]}, "not a multiple of its group width"),
        ({"se": "yes"}, "se"),
    ],
)
def test_fashion_options_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.regnet_fashion(**kwargs)
