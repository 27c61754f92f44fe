"""The worked answers of the classic chapters' exercises, recomputed.

Every figure an answer gives (foundations, simple-cnn, lenet, alexnet, vgg,
nin) is computed here with the package, by its formulas or by building the
model and counting, and the exact figure is looked up in that exercise's
text, so a chapter cannot drift from what the code computes. The figures of
the simple-cnn chapter's corrected comparison of its first layer are checked
the same way.
"""

from __future__ import annotations

import math
import re
from functools import cache
from pathlib import Path

import keras
import numpy as np
import pytest
from exercise_text import CHAPTERS, assert_four_to_six_with_answers, numbered_exercises

from cnn_guide import models
from cnn_guide.analysis import (
    conv_macs,
    conv_params,
    layer_table,
    output_size,
    stack_receptive_field,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CLASSIC = ["foundations", "simple-cnn", "lenet", "alexnet", "vgg", "nin"]


@cache
def chapter(name: str) -> str:
    return (CHAPTERS / f"{name}.md").read_text(encoding="utf-8")


def forms(value: int | float | str) -> list[str]:
    """The ways a figure may be written: 1,234 in prose, 1{,}234 in LaTeX."""
    text = f"{value:,}" if isinstance(value, int) else str(value)
    return [text, text.replace(",", "{,}")]


def assert_in(name: str, number: int, *values: int | float | str) -> None:
    """Each value appears in exercise ``number`` of chapter ``name`` (line breaks as spaces)."""
    text = " ".join(numbered_exercises(name)[number].split())
    for value in values:
        assert any(" ".join(form.split()) in text for form in forms(value)), (
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
    assert_four_to_six_with_answers(name)
    # Each answer indented under its own exercise, and nothing after the exercises.
    for number, text in numbered_exercises(name).items():
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
        numbered_exercises("simple-cnn")[2],
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


# --------------------------------------------------------------------------------------
# Foundations
# --------------------------------------------------------------------------------------


def conv_output(image: np.ndarray, k: int, **kwargs) -> np.ndarray:
    """A one-filter Conv2D with an all-ones k x k kernel, applied to ``image``."""
    layer = keras.layers.Conv2D(1, k, use_bias=False, kernel_initializer="ones", **kwargs)
    return keras.ops.convert_to_numpy(layer(image[np.newaxis, ..., np.newaxis]))[0, ..., 0]


def test_foundations_exercise_1_output_sizes_and_padding():
    ones = np.ones((28, 28), dtype="float32")
    valid = conv_output(ones, 5, strides=2, padding="valid")
    same = conv_output(ones, 5, strides=2, padding="same")
    assert valid.shape[0] == output_size(28, 5, s=2, p="valid") == 12
    assert same.shape[0] == output_size(28, 5, s=2, p="same") == 14
    total = (14 - 1) * 2 + 5 - 28
    # One zero row and column before the image: the first window holds 4 x 4 pixels;
    # two after it: the last window holds 3 x 3.
    assert (total, same[0, 0], same[-1, -1]) == (3, 16, 9)
    # 'valid' never reads the last row: changing it changes no output.
    changed = ones.copy()
    changed[27] = 5.0
    assert np.array_equal(conv_output(changed, 5, strides=2), valid)
    assert_in("foundations", 1, "= 12", "= 14", "= 3", "1 before", "2 after")


def test_foundations_exercise_2_parameters_and_macs():
    layer = keras.layers.Conv2D(128, 3)
    layer.build((None, 9, 9, 64))  # a 7x7 output
    assert layer.count_params() == conv_params(3, 64, 128) == 73_856
    assert conv_macs(7, 7, 3, 64, 128) == conv_macs(14, 14, 3, 32, 64) == 3_612_672
    assert conv_params(3, 64, 128, bias=False) == 4 * conv_params(3, 32, 64, bias=False)
    assert_in("foundations", 2, 73_856, 3_612_672, conv_params(3, 32, 64))
    assert_in("foundations", 2, conv_params(3, 32, 64, bias=False))


def test_foundations_exercise_3_layers_to_cover_the_image():
    fields = [stack_receptive_field([(3, 1)] * n)[0] for n in range(1, 16)]
    first = next(n for n, r in enumerate(fields, start=1) if r >= 28)
    assert (first, fields[first - 1], fields[first - 2]) == (14, 29, 27)
    path, reached = [], []
    for n in range(1, 7):
        path.append((3, 1))
        reached.append(stack_receptive_field(path)[0])
        if n % 2 == 0:
            path.append((2, 2))
    assert reached == [3, 5, 10, 14, 24, 32]
    assert stack_receptive_field([(3, 1), (3, 1), (2, 2)])[0] == 6
    assert stack_receptive_field([(3, 1), (3, 1), (2, 2)] * 2)[0] == 16
    assert_in("foundations", 3, "$n = 14$", "$r = 29$", "reach 27", "$24, 32$", "reach 32")


def gradient_window(model: keras.Model, row: int, col: int, batch: int = 64):
    """Input pixels with a nonzero gradient for output position (row, col), over a batch."""
    import tensorflow as tf

    images = tf.random.stateless_uniform((batch, *model.input_shape[1:]), seed=(1, 2))
    with tf.GradientTape() as tape:
        tape.watch(images)
        response = tf.reduce_sum(model(images)[:, row, col, :])
    return np.any(tape.gradient(response, images).numpy()[..., 0] != 0, axis=0)


def test_foundations_exercise_4_dilation():
    layer = keras.layers.Conv2D(64, 3, dilation_rate=2)
    layer.build((None, 16, 16, 64))
    assert layer.count_params() == conv_params(3, 64, 64) == 36_928
    assert output_size(16, 3, d=2) == 12  # the 3 taps span d(k - 1) + 1 = 5 pixels
    field = stack_receptive_field([(5, 1), (5, 1)])[0]
    assert field == stack_receptive_field([(3, 1)] * 4)[0] == stack_receptive_field([(5, 1)] * 2)[0]
    keras.utils.set_random_seed(0)
    stack = keras.Sequential(
        [
            keras.Input((9, 9, 1)),
            keras.layers.Conv2D(4, 3, dilation_rate=2, activation="relu"),
            keras.layers.Conv2D(4, 3, dilation_rate=2),
        ]
    )
    reached = gradient_window(stack, 0, 0)
    assert reached.sum() == 25 and reached[::2, ::2].all()
    assert_in("foundations", 4, 36_928, "= 9", "25 of its 81", "other 56")


def test_foundations_exercise_5_dilated_conv_c():
    keras.utils.set_random_seed(0)
    stack = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv_a"),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv_b"),
            keras.layers.MaxPooling2D(2, name="pool"),
            keras.layers.Conv2D(8, 3, dilation_rate=2, activation="relu", name="conv_c"),
            keras.layers.Conv2D(8, 3, name="conv_d"),
        ]
    )
    t = layer_table(stack)
    sides = [row.output_shape[0] for row in t if row.type != "InputLayer"]
    assert sides == [26, 24, 12, 8, 6]
    assert (t["conv_c"].receptive_field, t["conv_d"].receptive_field, t["conv_d"].jump) == (
        14,
        18,
        2,
    )
    assert stack_receptive_field([(3, 1), (3, 1), (2, 2), (5, 1), (3, 1)]) == (18, 2)
    reached = gradient_window(stack, 4, 4)
    rows, cols = np.flatnonzero(reached.any(axis=1)), np.flatnonzero(reached.any(axis=0))
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (8, 25, 8, 25)
    assert reached.sum() == 18 * 18  # no holes
    assert_in("foundations", 5, "= 14", "= 18", "18x18", "26, 24, 12, then 8 and 6", "8 to 25")


# --------------------------------------------------------------------------------------
# LeNet-5
# --------------------------------------------------------------------------------------


def test_lenet_exercise_1_wider_input():
    t = layer_table(models.build("lenet5", input_shape=(36, 36, 1)))
    sides = [t[name].output_shape[0] for name in ("c1", "s2", "c3", "s4", "c5")]
    assert sides == [32, 16, 12, 6, 2]
    c5 = t["c5"]
    assert (c5.params, c5.macs, c5.receptive_field, c5.jump) == (48_120, 192_000, 32, 4)
    assert table("lenet5")["c5"].macs == 48_000
    assert (t["f6"].params, table("lenet5")["f6"].params) == (40_404, 10_164)
    assert (t.total_params, table("lenet5").total_params) == (91_946, 61_706)
    assert_in("lenet", 1, 48_120, 192_000, 48_000, 40_404, 10_164, 91_946, 61_706, "32x32")


def test_lenet_exercise_2_one_paper_option_at_a_time():
    default = models.build("lenet5_fashion").count_params()
    paper_c3 = models.build("lenet5_fashion", c3_connections="paper").count_params()
    trainable = models.build("lenet5_fashion", subsampling="trainable").count_params()
    both = table("lenet5_fashion", c3_connections="paper", subsampling="trainable").total_params
    assert (default - paper_c3, trainable - default) == (900, 44)
    assert_in("lenet", 2, default, paper_c3, trainable, both, "= 900", "= 44")


def test_lenet_exercise_3_c3_work_and_unshared_weights():
    c3 = table("lenet5_fashion")["c3"]
    units = 10 * 10 * 16
    assert c3.macs == units * 5 * 5 * 6 == conv_macs(10, 10, 5, 6, 16) == 240_000
    assert c3.macs == max(row.macs for row in table("lenet5_fashion"))
    assert units * (5 * 5 * 6 + 1) == 100 * c3.params == 241_600
    assert_in("lenet", 3, units, 240_000, 241_600, c3.params)


def test_lenet_exercise_4_paper_layers_in_the_example():
    default = table("lenet5_fashion")
    paper = table("lenet5_fashion", c3_connections="paper", subsampling="trainable")
    assert (paper["c3"].type, paper["s2"].type) == ("PartialConv2D", "TrainableSubsampling")
    assert (paper["c3"].params, paper["c3"].macs) == (1_516, 150_000)
    assert (paper["s2"].params, paper["s4"].params) == (12, 32)
    values = (paper.total_params, paper.macs, default.total_params, default.macs)
    assert values == (60_850, 326_520, 61_706, 416_520)
    assert_in("lenet", 4, *values, 1_516, 150_000, 2_416, 240_000)
    line = 'model = models.build("lenet5_fashion")\n'
    assert line in (EXAMPLES / "lenet5.py").read_text(encoding="utf-8")


def test_lenet_exercise_5_modern_parts_have_no_weights():
    def lenet(activation, pool):
        inputs = keras.Input((28, 28, 1))
        x = keras.layers.Conv2D(6, 5, padding="same", activation=activation)(inputs)
        x = pool(2)(x)
        x = keras.layers.Conv2D(16, 5, activation=activation)(x)
        x = pool(2)(x)
        x = keras.layers.Conv2D(120, 5, activation=activation)(x)
        x = keras.layers.Dense(84, activation=activation)(keras.layers.Flatten()(x))
        return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))

    original = lenet("tanh", keras.layers.AveragePooling2D).count_params()
    modern = lenet("relu", keras.layers.MaxPooling2D).count_params()
    assert original == modern == models.build("lenet5_fashion").count_params() == 61_706
    assert_in("lenet", 5, 61_706)


def test_lenet_exercise_6_valid_c1_on_28x28():
    sides, side = [], 28
    for k, s in [(5, 1), (2, 2), (5, 1), (2, 2)]:
        side = output_size(side, k, s=s)
        sides.append(side)
    assert sides == [24, 12, 8, 4]
    with pytest.raises(ValueError, match="at least 32x32"):
        models.build("lenet5", input_shape=(28, 28, 1))
    assert_in("lenet", 6, "24 (C1), 12 (S2), 8 (C3) and 4 (S4)", "at least 32x32")


# --------------------------------------------------------------------------------------
# AlexNet
# --------------------------------------------------------------------------------------


def test_alexnet_corrected_comparison_with_earlier_results():
    text = " ".join(chapter("alexnet").split("\n[Run the example", 1)[0].split())
    contest = text.index("best entry of the ILSVRC-2010 contest")
    published = text.index("best result published after the contest")
    assert contest < text.index("47.1% and 28.2%") < published < text.index("45.7% and 25.7%")
    assert "[^nair]" in chapter("alexnet") and "\n[^nair]: V. Nair" in chapter("alexnet")
    assert "\n[^dropout]: N. Srivastava" in chapter("simple-cnn")


def test_alexnet_exercise_1_conv1_at_224():
    assert output_size(224, 11, s=4) == 54
    assert output_size(224, 11, s=4, p=2) == output_size(227, 11, s=4) == 55
    sides, side = [], 54
    for _ in range(3):
        side = output_size(side, 3, s=2)  # the 'same' convolutions between keep the side
        sides.append(side)
    assert sides == [26, 12, 5]
    assert table("alexnet")["pool5"].output_shape == (6, 6, 256)
    assert_in("alexnet", 1, "= 54", "26, 12 and 5", "= 55")


def test_alexnet_exercise_2_grouped_conv3():
    whole, grouped = conv_params(3, 256, 384), conv_params(3, 256, 384, groups=2)
    assert whole == table("alexnet")["conv3"].params
    assert_in("alexnet", 2, grouped, whole, whole - grouped)


def test_alexnet_exercise_3_overlapping_pooling():
    assert output_size(55, 3, s=2) == output_size(55, 2, s=2) == 27
    assert stack_receptive_field([(11, 4), (3, 2)]) == (19, 8)
    assert stack_receptive_field([(11, 4), (2, 2)]) == (15, 8)
    assert table("alexnet")["pool1"].receptive_field == 19
    assert_in("alexnet", 3, "= 27", "= 8", "19 pixels", "= 4", "for 15", "jump of 8")


def test_alexnet_exercise_4_lrn_divisor():
    from cnn_guide.layers.normalization import LocalResponseNormalization

    lrn = LocalResponseNormalization()
    k, alpha, beta = lrn.bias, lrn.alpha, lrn.beta
    squared = k * (1.1 ** (1 / beta) - 1) / alpha
    a = math.sqrt(squared)
    assert (round(squared), round(a)) == (2_710, 52)
    x = np.zeros((1, 1, 1, 5), dtype="float32")
    x[..., 2] = 52.06
    divisor = 52.06 / float(keras.ops.convert_to_numpy(lrn(x))[0, 0, 0, 2])
    assert divisor == pytest.approx(1.1 * k**beta, rel=1e-4)
    assert f"{divisor:.2f}" == "1.85"
    assert_in("alexnet", 4, "2{,}710", "a \\approx 52", "52.06", "1.85")


def test_alexnet_exercise_5_grouped_paper_network():
    one, two = table("alexnet"), table("alexnet", groups=2)
    saved = sum(
        conv_params(k, c_in, c_out) - conv_params(k, c_in, c_out, groups=2)
        for k, c_in, c_out in [(5, 96, 256), (3, 384, 384), (3, 384, 256)]
    )
    assert saved == 1_413_120 and one.total_params - saved == two.total_params
    assert 2 * two["conv2"].macs == one["conv2"].macs
    dense = [row for row in two if row.type == "Dense"]
    params_share = sum(row.params for row in dense) / two.total_params
    macs_share = sum(row.macs for row in dense) / two.macs
    assert_in("alexnet", 5, two.total_params, two.macs, one.total_params, one.macs)
    assert_in("alexnet", 5, one["conv2"].macs, two["conv2"].macs)
    assert_in("alexnet", 5, percent(params_share), percent(macs_share), saved)
    assert_in("alexnet", 5, two.total_params - saved)
    line = 'paper_table = layer_table(models.build("alexnet"))\n'
    assert line in (EXAMPLES / "alexnet.py").read_text(encoding="utf-8")


def test_alexnet_exercise_6_fashion_parameters():
    assert models.build("alexnet_fashion").count_params() == 645_258
    assert_in("alexnet", 6, 645_258)


# --------------------------------------------------------------------------------------
# VGG
# --------------------------------------------------------------------------------------


VGG16_FC1 = 7 * 7 * 512 * 4096 + 4096
VGG16_DENSE_PARAMS = VGG16_FC1 + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
VGG16_DENSE_MACS = 7 * 7 * 512 * 4096 + 4096 * 4096 + 4096 * 1000


def vgg16_totals() -> tuple[int, int]:
    """VGG-16's parameters and MACs: its convolutions built (not its 124M-weight head)."""
    convs = table("vgg16", include_top=False)
    params = convs.total_params + VGG16_DENSE_PARAMS
    assert params == models.get_info("vgg16").reference_params == 138_357_544
    return params, convs.macs + VGG16_DENSE_MACS


def test_vgg_exercise_1_block3():
    first, other = conv_params(3, 128, 256), conv_params(3, 256, 256)
    macs = [conv_macs(56, 56, 3, 128, 256), conv_macs(56, 56, 3, 256, 256)]
    block = first + 2 * other
    block_macs = macs[0] + 2 * macs[1]
    t = table("vgg16", include_top=False)
    assert sum(t[f"block3_conv{i}"].params for i in (1, 2, 3)) == block
    assert sum(t[f"block3_conv{i}"].macs for i in (1, 2, 3)) == block_macs
    params, total_macs = vgg16_totals()
    assert total_macs == 15_470_264_320
    assert_in("vgg", 1, first, other, block, *macs, block_macs, total_macs)
    assert_in("vgg", 1, percent(block_macs / total_macs), percent(block / params, 0))


def test_vgg_exercise_2_receptive_field():
    t = table("vgg16", include_top=False)
    assert (t["block4_conv3"].receptive_field, t["block4_conv3"].jump) == (92, 8)
    assert t["block5_conv3"].receptive_field == 196
    expected = {
        "block1_conv1": 3,
        "block1_conv2": 5,
        "block1_pool": 6,
        "block2_conv2": 14,
        "block2_pool": 16,
        "block3_conv3": 40,
        "block3_pool": 44,
        "block4_conv1": 60,
        "block4_conv2": 76,
    }
    assert {name: t[name].receptive_field for name in expected} == expected
    assert_in("vgg", 2, "3, 5, pooling 6", "10, 14, pooling 16", "24, 32, 40, pooling 44")
    assert_in("vgg", 2, "60, 76, 92", "92x92", "jump of 8", "196")


def test_vgg_exercise_3_pairs_against_5x5():
    pair = conv_params(3, 64, 128, bias=False) + conv_params(3, 128, 128, bias=False)
    single = conv_params(5, 64, 128, bias=False)
    assert (pair, single) == (221_184, 204_800)
    # Each block of configuration B is a pair of 3x3 layers (c_in -> c, c -> c),
    # which the paper's test replaced by one 5x5 layer (c_in -> c).
    pairs_total = singles_total = 0
    channels = 3
    for first, second in models.VGG_CONFIGS["B"]:
        pairs_total += conv_params(3, channels, first, bias=False)
        pairs_total += conv_params(3, first, second, bias=False)
        singles_total += conv_params(5, channels, second, bias=False)
        channels = second
    assert (pairs_total, singles_total) == (9_402_048, 10_859_200)
    assert_in("vgg", 3, pair, single, singles_total, pairs_total)


def test_vgg_exercise_4_vgg11_at_32():
    t = table("vgg11", input_shape=(32, 32, 3), num_classes=10)
    assert t["block5_pool"].output_shape == (1, 1, 512)
    assert_in("vgg", 4, "1x1x512", t["fc1"].params, t.total_params)
    assert_in("vgg", 4, VGG16_FC1, models.get_info("vgg11").reference_params)


def test_vgg_exercise_5_block5_comparison():
    weights = {n: n * conv_params(k, 512, 512, bias=False) for n, k in [(1, 7), (2, 3), (3, 3)]}
    macs = {n: n * conv_macs(14, 14, k, 512, 512) for n, k in [(1, 7), (2, 3), (3, 3)]}
    assert weights == {1: 12_845_056, 2: 4_718_592, 3: 7_077_888}
    gmacs = [f"{macs[n] / 1e9:.2f}" for n in (1, 2, 3)]
    assert_in("vgg", 5, *weights.values(), ", ".join(gmacs[:2]) + " and " + gmacs[2])
    assert "channels, side = 256, 56\n" in (EXAMPLES / "vgg.py").read_text(encoding="utf-8")


def test_vgg_exercise_6_chance_loss():
    assert f"{math.log(10):.3f}" == "2.303"
    assert_in("vgg", 6, "\\ln 10 \\approx 2.303")


# --------------------------------------------------------------------------------------
# Network in Network
# --------------------------------------------------------------------------------------

MLPCONV2 = ("mlpconv2_conv", "mlpconv2_mlp1", "mlpconv2_mlp2")


def test_nin_exercise_1_second_mlpconv():
    t = table("nin_fashion")
    conv, mlp1, mlp2 = (t[name] for name in MLPCONV2)
    assert (conv.params, conv.macs) == (conv_params(3, 32, 64), conv_macs(13, 13, 3, 32, 64))
    assert (mlp1.params, mlp1.macs) == (conv_params(1, 64, 64), conv_macs(13, 13, 1, 64, 64))
    assert (mlp2.params, mlp2.macs) == (mlp1.params, mlp1.macs)
    params = conv.params + 2 * mlp1.params
    macs = conv.macs + 2 * mlp1.macs
    assert_in("nin", 1, conv.params, conv.macs, mlp1.params, mlp1.macs, params, macs)
    assert_in("nin", 1, percent(2 * mlp1.params / params), percent(2 * mlp1.macs / macs))


def test_nin_exercise_2_pointwise_convolution_is_dense():
    conv, dense = keras.layers.Conv2D(64, 1), keras.layers.Dense(64)
    x = np.random.default_rng(0).random((2, 13, 13, 64)).astype("float32")
    conv(x), dense(x)
    kernel, bias = conv.get_weights()
    dense.set_weights([kernel[0, 0], bias])
    assert np.abs(keras.ops.convert_to_numpy(conv(x) - dense(x))).max() < 1e-5
    assert conv.count_params() == dense.count_params() == 4_160
    assert_in("nin", 2, 4_160, "dense.set_weights([kernel[0, 0], bias])")


def test_nin_exercise_3_class_map_receptive_field():
    t = table("nin_fashion")
    fields = {
        "mlpconv1_conv": 5,
        "mlpconv1_mlp2": 5,
        "pool1": 7,
        "mlpconv2_conv": 11,
        "pool2": 15,
        "mlpconv3_conv": 23,
        "mlpconv4_mlp2": 31,
    }
    assert {name: t[name].receptive_field for name in fields} == fields
    assert (t["pool1"].jump, t["pool2"].jump) == (2, 4)
    assert t["mlpconv4_mlp2"].output_shape == (6, 6, 10)
    assert_in("nin", 3, "= 11", "= 15", "gives 23", "31x31", "36 overlapping")


def test_nin_exercise_4_larger_input():
    t = table("nin_fashion", input_shape=(56, 56, 1))
    assert t.total_params == table("nin_fashion").total_params == 148_390
    assert (t["pool1"].output_shape[0], t["pool2"].output_shape[0]) == (27, 13)
    assert t["mlpconv4_mlp2"].output_shape == (13, 13, 10)
    flat_56 = 13 * 13 * 128
    flat_28 = math.prod(table("nin_fashion")["mlpconv3_mlp2"].output_shape)
    assert flat_28 == 6 * 6 * 128
    assert_in("nin", 4, 148_390, "13x13x10", "169", flat_56, flat_56 * 10 + 10, flat_28 * 10 + 10)


def test_nin_exercise_5_the_changed_line_exists():
    assert "rows = sorted(rows)[:5]\n" in (EXAMPLES / "nin.py").read_text(encoding="utf-8")


def test_alexnet_tells_torchvisions_network_from_the_papers():
    # torchvision's alexnet is the one-tower network of "One weird trick" (2014):
    # 64-192-384-256-256 convolutions; its documentation gives 61,100,840 parameters.
    widths = (3, 64, 192, 384, 256, 256)
    kernels = (11, 5, 3, 3, 3)
    layers = zip(kernels, widths, widths[1:], strict=False)
    convs = sum(conv_params(k, c_in, c_out) for k, c_in, c_out in layers)
    dense = sum(conv_params(1, c_in, c_out) for c_in, c_out in ((9216, 4096), (4096, 4096)))
    dense += conv_params(1, 4096, 1000)
    assert convs + dense == 61_100_840
    assert models.get_info("alexnet").reference_params == 62_378_344
    text = " ".join(chapter("alexnet").split())
    assert "the paper's layers as one tower without groups, has **62,378,344** parameters" in text
    assert "with 64, 192, 384, 256 and 256 kernels in its convolutions and no LRN" in text
    assert "and has 61,100,840 parameters by torchvision's own count" in text
    assert "one tower as torchvision" not in text
    from cnn_guide.models.alexnet import alexnet

    doc = " ".join(alexnet.__doc__.split())
    assert "64-192-384-256-256 convolutions and no LRN, 61,100,840 parameters" in doc
    assert "what torchvision and most books build" not in doc
