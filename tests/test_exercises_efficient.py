"""The exercises of the SENet to ResNeXt chapters and of the closing chapters.

Every figure an exercise's answer states is recomputed here with the package
(by building the block or the model and counting, or with `cnn_guide.analysis`
and `cnn_guide.recipes`), and must appear, as printed here, in the chapter's
section "Exercises".
"""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
import pytest
from exercise_text import assert_four_to_six_with_answers, assert_stated

from cnn_guide import models
from cnn_guide.analysis import compare, conv_macs, conv_params, layer_table
from cnn_guide.layers import DenseBlock, DenseLayer, InvertedResidual, SqueezeExcitation
from cnn_guide.recipes import get_recipe, one_cycle

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ["senet", "densenet", "mobilenet", "resnext", "choosing", "results", "fast"]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_chapter_ends_with_four_to_six_exercises_each_with_an_answer(chapter):
    assert_four_to_six_with_answers(chapter)


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


# DenseNet


def block_widths(model):
    return [
        layer.output.shape[-1]
        for layer in model.layers
        if layer.name.startswith(("dense_block", "transition"))
    ]


def test_densenet_169_widths():
    model = models.build("densenet121", block_config=(6, 12, 32, 32), name="densenet169")
    assert block_widths(model) == [256, 128, 512, 256, 1280, 640, 1664]
    assert model.get_layer("predictions").input.shape[-1] == 1664
    assert model.count_params() == 14_307_880
    assert models.get_info("densenet121").reference_params == 8_062_504
    assert_stated("densenet", "**1,664**", "1{,}280", "14,307,880", "8,062,504")


def test_densenet_receptive_fields_of_the_first_block():
    table = layer_table(models.build("densenet_fashion"))
    assert table["stem_conv"].receptive_field == 3
    assert table["dense_block1"].receptive_field == 7
    assert table["transition1"].receptive_field == 8
    assert_stated("densenet", "receptive field of 7 pixels", "one of 8", "$3 + 2 + 2 = 7$", ": 8.")


def test_densenet_121_third_block_bottleneck_weights():
    block = DenseBlock(24, growth_rate=32)
    block(keras.Input((14, 14, 256)))
    one_by_one = sum(int(np.prod(layer.conv1.kernel.shape)) for layer in block.dense_layers)
    three_by_three = sum(int(np.prod(layer.conv2.kernel.shape)) for layer in block.dense_layers)
    assert one_by_one == 4 * 32 * (24 * 256 + 32 * 24 * 23 // 2) == 1_916_928
    assert three_by_three == 36 * 32**2 * 24 == 884_736
    assert round(100 * one_by_one / (one_by_one + three_by_three)) == 68
    assert_stated("densenet", "**1,916,928**", "**884,736**", "14{,}976", "68%")


def test_densenet_fashion_with_growth_rate_24():
    wide = models.build("densenet_fashion", growth_rate=24)
    assert block_widths(wide) == [72, 36, 132, 66, 258]
    last = wide.get_layer("dense_block3")
    assert last.input.shape[-1] + last.growth_rate == 90
    narrow = models.build("densenet_fashion").count_params()
    assert (wide.count_params(), narrow) == (467_638, 125_866)
    assert f"{wide.count_params() / narrow:.1f}" == "3.7"
    assert_stated("densenet", "**258**", "**467,638**", "125,866", "3.7 times", "66, 90")


def test_densenet_steps_per_epoch_and_momentum():
    assert math.ceil(55_000 / get_recipe("protocol").batch_size) == 430
    assert keras.layers.BatchNormalization().momentum == 0.99
    assert DenseLayer().bn_momentum == 0.99
    assert_stated("densenet", "= 430$ steps", "1/(1 - 0.99) = 100$ steps", "512 training images")


# MobileNetV2


def test_mobilenet_block_macs():
    parts = [
        conv_macs(28, 28, 1, 32, 192),
        conv_macs(28, 28, 3, 192, 192, groups=192),
        conv_macs(28, 28, 1, 192, 32),
    ]
    assert [part // 784 for part in parts] == [6_144, 1_728, 6_144]
    assert sum(parts) == 784 * 14_016 == 10_988_544
    assert conv_macs(28, 28, 3, 32, 32) == 7_225_344
    assert_stated("mobilenet", "**10,988,544**", "**7,225,344**", "14{,}016")


def test_mobilenet_block_parameters():
    block = InvertedResidual(24, expansion=6)
    block(keras.Input((56, 56, 24)))
    convolutions = sum(
        int(np.prod(layer.kernel.shape)) for layer in (block.expand, block.depthwise, block.project)
    )
    trainable = sum(int(np.prod(w.shape)) for w in block.trainable_weights)
    assert convolutions == 8_208
    assert block.count_params() - convolutions == 4 * 312 == 1_248
    assert (block.count_params(), trainable) == (9_456, 8_832)
    assert_stated("mobilenet", "8{,}208", "1,248", "**9,456**", "**8,832**", "624")


def test_mobilenet_receptive_field():
    table = layer_table(models.build("mobilenet_v2_fashion"))
    fields = {name: table[name].receptive_field for name in ("stem_conv", "block0", "block1")}
    assert fields == {"stem_conv": 3, "block0": 5, "block1": 7}
    assert [table[f"block{i}"].receptive_field for i in (2, 3, 12, 13, 16)] == [
        11,
        15,
        87,
        95,
        143,
    ]
    assert [table[f"block{i}"].jump for i in (1, 3, 13)] == [2, 4, 8]
    assert_stated("mobilenet", "receptive field of 143 pixels", "**143**", "(87)", "(95)")


def test_mobilenet_width_multiplier_035():
    model = models.build("mobilenet_v2_fashion", alpha=0.35)
    blocks = [layer for layer in model.layers if isinstance(layer, InvertedResidual)]
    stage_starts = [0, 1, 3, 6, 10, 13, 16]  # the paper's stages: 1, 2, 3, 4, 3, 3, 1 blocks
    assert [blocks[i].filters for i in stage_starts] == [8, 8, 16, 24, 32, 56, 112]
    assert model.get_layer("stem_conv").filters == 16
    assert model.get_layer("last_conv").filters == 1280
    assert model.count_params() == 422_730
    assert models.build("mobilenet_v2_fashion").count_params() == 718_746
    assert_stated("mobilenet", "**8, 8, 16, 24, 32, 56 and 112**", "**422,730**", "718,746")


def inverted_residual(x, filters, project_relu):
    """The example's scratch block, with the exercise's optional ReLU6 after the projection."""
    y = keras.layers.Conv2D(6 * x.shape[-1], 1, use_bias=False)(x)
    y = keras.layers.ReLU(6.0)(keras.layers.BatchNormalization()(y))
    y = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(y)
    y = keras.layers.ReLU(6.0)(keras.layers.BatchNormalization()(y))
    y = keras.layers.BatchNormalization()(keras.layers.Conv2D(filters, 1, use_bias=False)(y))
    if project_relu:
        y = keras.layers.ReLU(6.0)(y)
    return keras.layers.Add()([x, y])


def test_mobilenet_a_relu_after_the_projection_is_the_ablation():
    maps = np.random.default_rng(0).normal(size=(4, 8, 8, 16)).astype("float32")
    inputs = keras.Input((8, 8, 16))
    scratch = keras.Model(inputs, inverted_residual(inputs, 16, project_relu=True))
    linear, ablation = InvertedResidual(16), InvertedResidual(16, linear_bottleneck=False)
    for block in (linear, ablation):
        block(maps)
    assert scratch.count_params() == linear.count_params() == ablation.count_params()
    differences = []
    for block in (linear, ablation):
        scratch.set_weights(block.get_weights())
        expected = keras.ops.convert_to_numpy(block(maps, training=False))
        got = keras.ops.convert_to_numpy(scratch(maps, training=False))
        differences.append(np.abs(got - expected).max())
    assert differences[0] > 1e-3 and differences[1] < 1e-5
    assert_stated("mobilenet", "linear_bottleneck=False", 'name="project_relu6"')


def test_mobilenet_has_fewer_macs_than_resnet_fashion():
    mobile, resnet = compare(["mobilenet_v2_fashion", "resnet_fashion"]).rows
    assert mobile.macs < resnet.macs
    assert_stated("mobilenet", "cnn-guide bench --throughput --models mobilenet_v2_fashion")


# ResNeXt


def test_resnext_grouped_weights():
    counts = [conv_params(3, 128, 128, bias=False, groups=g) for g in (32, 1, 128)]
    assert counts == [4_608, 147_456, 1_152]
    assert_stated("resnext", "**4,608**", "**147,456**", "**1,152**")


def unit_weights(cardinality, d):
    """Form (c) of a first-stage unit: 1x1 256 -> Cd, grouped 3x3, 1x1 Cd -> 256."""
    width = cardinality * d
    return (
        conv_params(1, 256, width, bias=False)
        + conv_params(3, width, width, bias=False, groups=cardinality)
        + conv_params(1, width, 256, bias=False)
    )


def test_resnext_form_a_equals_form_c():
    path = (
        conv_params(1, 256, 4, bias=False)
        + conv_params(3, 4, 4, bias=False)
        + conv_params(1, 4, 256, bias=False)
    )
    assert path == 2_192
    assert 32 * path == unit_weights(32, 4) == 70_144
    assert conv_params(1, 256, 128, bias=False) == 32_768
    assert_stated("resnext", "2{,}192", "**70,144**", "32{,}768", "4{,}608")


def test_resnext_sixteen_paths():
    assert unit_weights(1, 64) == 69_632
    assert (unit_weights(16, 7), unit_weights(16, 8)) == (64_400, 74_752)
    assert (74_752 - 69_632, 69_632 - 64_400) == (5_120, 5_232)
    assert_stated("resnext", "**64,400**", "**74,752**", "5,120 above", "5,232 below", "69,632")


def trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_resnext_fashion_with_four_groups():
    four, eight = (models.build("resnext_fashion", cardinality=c) for c in (4, 8))
    assert (trainable(four), trainable(eight)) == (168_186, 140_970)
    grouped = 2 * 9 * (24**2 + 48**2 + 96**2)
    assert (grouped // 8, grouped // 4) == (27_216, 54_432)
    assert trainable(four) - trainable(eight) == grouped // 4 - grouped // 8
    assert_stated("resnext", "**168,186**", "140,970", "27,216", "54,432")


def test_resnext_and_resnet_fashion_macs():
    resnext, resnet = compare(["resnext_fashion", "resnet_fashion"]).rows
    assert (round(resnext.macs / 1e6, 1), round(resnet.macs / 1e6, 1)) == (17.6, 20.2)
    assert_stated("resnext", "17.6 million against 20.2 million")


# Choosing an architecture


def chapter_text(chapter: str) -> str:
    text = (ROOT / "docs" / "chapters" / f"{chapter}.md").read_text(encoding="utf-8")
    return " ".join(text.split())


def vgg16_macs() -> int:
    """VGG-16's multiply-accumulates at 224x224, layer by layer (configuration D)."""
    macs, side, channels = 0, 224, 3
    for stage in ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)):
        for filters in stage:
            macs += conv_macs(side, side, 3, channels, filters)
            channels = filters
        side //= 2
    return macs + 7 * 7 * 512 * 4096 + 4096 * 4096 + 4096 * 1000


def test_choosing_table_names_alexnets_paper_network():
    grouped = models.get_info("alexnet_grouped").reference_params
    assert grouped == 60_965_224
    assert f"{grouped / 1e6:.1f}M" == "61.0M"
    text = chapter_text("choosing")
    assert "| AlexNet (two GPUs, grouped) | 61.0M |" in text
    assert "60,965,224" in chapter_text("alexnet")


@pytest.mark.parametrize(
    ("builder", "row"),
    [
        ("efficientnet_b0", "| EfficientNet-B0 | 5.3M |"),
        ("regnety_400mf", "| RegNetY-400MF | 4.3M |"),
        ("convnext_tiny", "| ConvNeXt-T | 28.6M |"),
    ],
)
def test_choosing_table_counts_the_networks_since_2018_from_their_builders(builder, row):
    reference = models.get_info(builder).reference_params
    assert f"{reference / 1e6:.1f}M" in row
    assert row in chapter_text("choosing")


def test_choosing_compares_with_vgg16_as_the_vgg_chapter_reports_it():
    vgg = chapter_text("vgg")
    # VGG-16's best single-network figures, trained with scale jittering: one
    # test scale, then three (not the 27.0% of a fixed training scale).
    assert "| D (16 layers) | 27.0% / 8.8% | 25.6% / 8.1% | 24.8% / 7.5% |" in vgg
    assert "| MobileNetV2 | 72.0% |" in chapter_text("mobilenet")
    assert "| DenseNet-121, single crop | 25.02% |" in chapter_text("densenet")
    vgg_params = models.get_info("vgg16").reference_params
    assert vgg_params == 138_357_544
    assert vgg16_macs() == 15_470_264_320
    mobile = compare(["mobilenet_v2"]).rows[0]
    shares = [
        models.get_info("densenet121").reference_params / vgg_params,
        mobile.params / vgg_params,
        mobile.macs / vgg16_macs(),
    ]
    assert [f"{share:.1%}" for share in shares] == ["5.8%", "2.6%", "1.9%"]
    assert f"{100 - 25.6 - 72.0:.1f}" == "2.4"
    assert_in_text = " ".join(chapter_text("choosing").split())
    for phrase in (
        "top-1 errors, trained with scale jittering, are 25.6% at one test scale"
        " and 24.8% at three",
        "25.0%, lies between the two, with 5.8% of VGG-16's parameters",
        f"72.0% top-1 accuracy is 2.4 points below VGG-16's {100 - 25.6:.1f}% at one test scale,"
        " with 2.6% of its parameters and 1.9% of its multiply-accumulates",
    ):
        assert phrase in assert_in_text
    assert "27.0%" not in assert_in_text  # the weakest figure, at a fixed training scale


def test_choosing_separable_fraction():
    c_in = 64
    separable = conv_params(5, c_in, c_in, bias=False, groups=c_in) + conv_params(
        1, c_in, 128, bias=False
    )
    share = separable / conv_params(5, c_in, 128, bias=False)
    assert math.isclose(share, 1 / 128 + 1 / 25)
    assert f"{share:.1%}" == "4.8%"
    three = (conv_params(3, 256, 256, bias=False, groups=256) + 256 * 256) / conv_params(
        3, 256, 256, bias=False
    )
    assert f"{three:.1%}" == "11.5%"
    # Each step's share of the standard convolution: depthwise 1/C_out, pointwise 1/k^2.
    standard = conv_params(5, c_in, 128, bias=False)
    assert math.isclose(conv_params(5, c_in, c_in, bias=False, groups=c_in) / standard, 1 / 128)
    assert math.isclose(conv_params(1, c_in, 128, bias=False) / standard, 1 / 25)
    assert_stated(
        "choosing",
        "**4.8%**",
        "11.5%",
        "25/9 \\approx 2.8$",
        "dominates: it is the pointwise 1x1 step's share",
        "$1/C_\\text{out}$ term is the depthwise step's share",
    )


def test_choosing_dense_head_of_vgg16():
    assert conv_params(7, 512, 4096) == 7 * 7 * 512 * 4096 + 4096 == 102_764_544
    assert conv_params(1, 512, 4096) == 2_101_248
    assert round(102_764_544 / 2_101_248) == 49
    assert round(4 * 102_764_544 / models.get_info("vgg16").reference_params) == 3
    assert_stated("choosing", "**102,764,544**", "**2,101,248**", "138,357,544", "49 times")


def test_choosing_parameters_against_arithmetic():
    vgg = layer_table(models.build("vgg_fashion"))
    resnet = compare(["resnet_fashion"]).rows[0]
    assert (vgg.total_params, vgg.macs) == (640_714, 22_264_832)
    assert (resnet.params, resnet.macs) == (176_090, 20_183_936)
    head = ("fc1", "fc2", "predictions")
    head_params = sum(vgg[name].params for name in head)
    head_macs = sum(vgg[name].macs for name in head)
    assert (head_params, head_macs) == (363_530, 363_008)
    assert f"{head_params / vgg.total_params:.0%}" == "57%"
    assert f"{head_macs / vgg.macs:.1%}" == "1.6%"
    assert vgg["block3_conv2"].macs == 49 * 147_456
    assert (round(resnet.macs / resnet.params), round(vgg.macs / vgg.total_params)) == (115, 35)
    assert models.build("resnet_fashion").get_layer("predictions").count_params() == 650
    assert_stated(
        "choosing",
        "640,714",
        "22,264,832",
        "176,090",
        "20,183,936",
        "363,530",
        "57%",
        "363,008",
        "1.6%",
        "147,456",
        "about 115",
        "35 for",
    )


def test_choosing_mac_ranking():
    rows = compare(["fast_resnet_fashion", "mobilenet_v2_fashion", "resnet_fashion"]).rows
    assert [row.macs for row in rows] == sorted(row.macs for row in rows)


# Measured results


def test_results_epochs_and_steps_in_the_budget(fashion):
    recipe = get_recipe("benchmark")
    seconds = 60 * recipe.minutes
    assert (seconds, recipe.batch_size, recipe.eval_every) == (180, 128, 30)
    train = len(fashion.x_train)
    assert train == 55_000
    images = seconds * 1_500
    assert images == 270_000
    assert (f"{images / train:.1f}", images // recipe.batch_size) == ("4.9", 2_109)
    assert_stated("results", "270{,}000", "**4.9 epochs**", "**2,109**", "--eval-every 10")


def test_results_batch_norm_lag():
    momentum = keras.layers.BatchNormalization().momentum
    assert momentum == 0.99
    steps = math.ceil(math.log(0.05) / math.log(momentum))
    assert (f"{math.log(0.05) / math.log(momentum):.1f}", steps) == ("298.1", 299)
    assert steps * get_recipe("benchmark").batch_size == 38_272
    assert f"{38_272 / 55_000:.1f}" == "0.7"
    run_steps = 180 * 100 // get_recipe("benchmark").batch_size
    assert run_steps == 140
    assert f"{momentum**140:.0%}" == "24%"
    assert f"{momentum**70 - momentum**140:.0%}" == "25%"
    assert_stated("results", "= 298.1$", "**299 steps**", "38,272", "0.7 epoch", "**24%**", "25\\%")


def test_results_standard_error_of_the_test_accuracy(fashion):
    assert len(fashion.x_test) == 10_000
    assert f"{100 * math.sqrt(0.9 * 0.1 / len(fashion.x_test)):.1f}" == "0.3"
    assert_stated("results", "**0.3 points**", "--seed 1")


def test_results_chapter_lists_its_references():
    text = (ROOT / "docs" / "chapters" / "results.md").read_text(encoding="utf-8")
    for key, source in {
        "xiao": "arXiv:1708.07747",
        "kingma": "arXiv:1412.6980",
        "ioffe": "arXiv:1502.03167",
        "wu": "arXiv:2105.07576",
        "imagenet": "arXiv:1409.0575",
        "lecun": "doi:10.1109/5.726791",
    }.items():
        assert f"[^{key}]:" in text and source in text
        assert text.count(f"[^{key}]") >= 2  # cited in the text, and defined


# Training fast on a CPU


def test_fast_one_cycle_values():
    recipe = get_recipe("fast")
    assert (recipe.learning_rate, recipe.schedule, recipe.minutes) == (0.004, "one-cycle", 3)
    schedule = recipe.learning_rate_schedule
    seconds = [0, 22.5, 45, 90, 180]
    rates = [schedule(t / (60 * recipe.minutes)) for t in seconds]
    assert rates == [one_cycle(0.004)(t / 180) for t in seconds]
    assert [round(rate, 6) for rate in rates] == [0.0004, 0.0022, 0.004, 0.003, 0.0]
    assert_stated("fast", "**0.0004**", "**0.0022**", "**0.004**", "**0.003**", "**0**")


@pytest.mark.parametrize(
    ("smoothing", "targets", "loss"), [(0.1, (0.91, 0.01), "0.500"), (0.2, (0.82, 0.02), "0.867")]
)
def test_fast_label_smoothing_floor(smoothing, targets, loss):
    one_hot = np.eye(10, dtype="float32")[[3]]
    smoothed = one_hot * (1 - smoothing) + smoothing / 10
    assert (round(float(smoothed[0, 3]), 2), round(float(smoothed[0, 0]), 2)) == targets
    floor = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)(one_hot, smoothed)
    assert f"{float(floor):.3f}" == loss
    assert_stated("fast", f"**{loss}**")
    if smoothing == 0.2:
        assert_stated("fast", "**0.82**", "**0.02**")
    else:
        assert get_recipe("fast").label_smoothing == smoothing
        assert_stated("fast", "0.086 + 0.414")


def test_fast_receptive_field():
    table = layer_table(models.build("fast_resnet_fashion"))
    fields = [
        table[name].receptive_field
        for name in ("stem_conv", "pool1", "stage2_conv", "pool2", "res2_add", "stage3_conv")
    ]
    assert fields == [3, 4, 8, 10, 26, 34]
    assert (table["pool3"].receptive_field, table["res3_add"].receptive_field) == (38, 70)
    convolutions = [row for row in table if row.type == "Conv2D"]
    assert len(convolutions) == 7
    assert_stated(
        "fast", "receptive field of 70 pixels", "**70**", "(26)", "(38)", "seven convolutions"
    )


def test_fast_network_at_double_width():
    wide, default = compare(
        [models.build("fast_resnet_fashion", width=32), "fast_resnet_fashion"]
    ).rows
    assert (wide.params, wide.macs) == (464_810, 13_719_296)
    assert (default.params, default.macs) == (117_210, 3_486_592)
    assert round(wide.params / default.params) == round(wide.macs / default.macs) == 4
    assert get_recipe("throughput").steps == 23
    assert_stated("fast", "**464,810**", "**13,719,296**", "117,210", "3,486,592", "23 steps")


def test_fast_recipe_budgets_in_fractions_of_t():
    from fractions import Fraction

    from cnn_guide.comparison import budget_of

    seconds = 10 * 55_000 / 400
    budget = budget_of(Fraction(1, 10), seconds)
    assert seconds == 1375 and budget == {"minutes": 2.29, "eval_every": 11.5}
    assert_stated("fast", "**1,375 s**", "**2.29 min** (137.4 s)", "every **11.5 s**")
