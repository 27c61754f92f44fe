"""The exercises of the GoogLeNet to distributed-training chapters: every figure checked.

Each chapter ends with ``## Exercises``, whose worked answers quote counts,
receptive fields and rules. These tests recompute every figure with the
package (``cnn_guide.analysis``, the layers, the builders, the rules of
``cnn_guide.distribute``) and require the exact text of the answer to appear
in the chapter, so that an answer cannot drift from the code. They also
check a few figures that the chapters' corrections rest on.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import keras
import numpy as np
import pytest
from exercise_text import (
    CHAPTERS,
    assert_four_to_six_with_answers,
    exercises,
    folded_exercises,
)

from cnn_guide import models
from cnn_guide.analysis import conv_macs, conv_params, layer_table, stack_receptive_field
from cnn_guide.distribute import linear_scaling, per_replica_batch_size, read_tf_config
from cnn_guide.layers import BasicResidualUnit, InceptionModule, XceptionBlock


def chapter(name: str) -> str:
    """A chapter's Markdown, with line breaks and indentation folded to single spaces."""
    return " ".join((CHAPTERS / f"{name}.md").read_text(encoding="utf-8").split())


def n(value: int) -> str:
    """An integer as the chapters write it: 388,736 (with $...$ for LaTeX: 388{,}736)."""
    return f"{value:,}"


def tex(value: int) -> str:
    return f"{value:,}".replace(",", "{,}")


def built(layer: keras.layers.Layer, input_shape: tuple) -> keras.layers.Layer:
    layer.build((None, *input_shape))
    return layer


@pytest.mark.parametrize("name", ["googlenet", "batch-norm", "resnet", "xception", "distributed"])
def test_every_chapter_has_four_to_six_exercises_each_with_a_collapsible_answer(name):
    assert_four_to_six_with_answers(name)
    section = exercises(name)
    indented = section.count('\n    ??? success "Answer"\n')
    assert indented == section.count('??? success "Answer"'), (
        "each answer must be indented under its exercise"
    )


# --- GoogLeNet ---------------------------------------------------------------


def test_googlenet_parameter_ratio_to_alexnet():
    text = chapter("googlenet")
    googlenet = models.get_info("googlenet").reference_params
    alexnet = models.get_info("alexnet_grouped").reference_params
    assert f"{n(googlenet)} for GoogLeNet and {n(alexnet)} for AlexNet" in text
    assert f"a ratio of {alexnet / googlenet:.1f}." in text
    assert f"about 7 million parameters ({alexnet / googlenet:.1f} times fewer" in text
    assert "twelve times fewer" not in text


def test_googlenet_exercise_1_inception_3b_parameters():
    text = folded_exercises("googlenet")
    module = built(InceptionModule(128, 128, 192, 32, 96, 64), (28, 28, 256))
    convs = [(1, 256, 128), (1, 256, 128), (3, 128, 192), (1, 256, 32), (5, 32, 96), (1, 256, 64)]
    counts = [conv_params(k, c_in, c_out) for k, c_in, c_out in convs]
    assert sum(counts) == module.count_params()
    table = layer_table(models.build("googlenet"))
    assert table["inception_3b"].params == module.count_params()
    for count in counts:
        assert n(count) in text
    assert f"**{n(module.count_params())}**" in text
    share = module.branch_3x3.count_params() / module.count_params()
    assert f"holds {share:.0%} of them" in text


def test_googlenet_exercise_2_receptive_fields():
    text = folded_exercises("googlenet")
    table = layer_table(models.build("googlenet_fashion"))
    assert (table["pool2"].receptive_field, table["pool2"].jump) == (17, 4)
    assert f"a {table['pool2'].receptive_field}x{table['pool2'].receptive_field} window" in text
    for name in ("inception_3b", "inception_4a"):
        side = table[name].receptive_field
        assert f"**{side}x{side}** after `{name}`" in text
    path = [(3, 1), (3, 2), (1, 1), (5, 1), (3, 2), (1, 1), (5, 1)]
    assert stack_receptive_field(path) == (33, 4)
    assert (
        f"`stack_receptive_field({path})` (stem, `pool1`, 3a, `pool2`, 3b) returns `(33, 4)`"
        in (text)
    )


def test_googlenet_exercise_3_wider_reduction():
    text = folded_exercises("googlenet")
    wide = conv_macs(28, 28, 1, 192, 48) + conv_macs(28, 28, 5, 48, 32)
    paper = conv_macs(28, 28, 1, 192, 16) + conv_macs(28, 28, 5, 16, 32)
    naive = conv_macs(28, 28, 5, 192, 32)
    assert f"784 \\cdot 47{{,}}616 = {tex(wide)}" in text
    assert f"about {wide / 1e6:.1f}M" in text
    assert wide == 3 * paper and f"three times the {paper / 1e6:.1f}M" in text
    assert wide < naive / 3 and f"naive branch's {naive / 1e6:.1f}M" in text


def test_googlenet_exercise_4_naive_modules_grow():
    text = folded_exercises("googlenet")

    def naive(x):
        branches = [
            keras.layers.Conv2D(64, 1, padding="same")(x),
            keras.layers.Conv2D(128, 3, padding="same")(x),
            keras.layers.Conv2D(32, 5, padding="same")(x),
            keras.layers.MaxPooling2D(3, strides=1, padding="same")(x),
        ]
        return keras.layers.Concatenate()(branches)

    x = keras.Input((28, 28, 192))
    widths, inputs = [], []
    for _ in range(3):
        inputs.append(x.shape[-1])
        x = naive(x)
        widths.append(x.shape[-1])
    assert widths == [416, 640, 864]
    assert "**416**, **640** and **864**" in text
    third, first = conv_params(3, inputs[2], 128, bias=False), conv_params(3, 192, 128, bias=False)
    assert f"$9 \\cdot 640 \\cdot 128 = {tex(third)}$" in text
    assert f"$9 \\cdot 192 \\cdot 128 = {tex(first)}$" in text


def test_googlenet_exercise_5_counts_unchanged():
    text = folded_exercises("googlenet")
    paper_3a = built(InceptionModule(64, 96, 128, 16, 32, 32), (28, 28, 192))
    fashion_3a = models.build("googlenet_fashion").get_layer("inception_3a")
    assert f"({n(paper_3a.count_params())} for the paper's 3a, " in text
    assert f"{n(fashion_3a.count_params())} for the Fashion-MNIST one" in text


# --- Batch normalization -----------------------------------------------------


def test_batch_norm_exercise_1_conv_and_batch_norm_counts():
    text = folded_exercises("batch-norm")
    inputs = keras.Input((8, 8, 128))
    x = keras.layers.Conv2D(128, 3, padding="same", use_bias=False)(inputs)
    model = keras.Model(inputs, keras.layers.BatchNormalization()(x))
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert conv_params(3, 128, 128, bias=False) == 147_456
    assert f"$9 \\cdot 128 \\cdot 128 = {tex(147_456)}$" in text
    assert f"**{n(model.count_params())}** numbers, **{n(trainable)}** trainable" in text


def test_batch_norm_exercise_2_running_average_memory():
    text = folded_exercises("batch-norm")
    for momentum in (0.99, 0.9):
        bound = math.log(0.01) / math.log(momentum)
        steps = math.ceil(bound)
        assert momentum**steps < 0.01 <= momentum ** (steps - 1)
        assert f"${bound:.1f}$ for {momentum:g}, so **{steps} steps**" in text
    epoch = math.ceil(55_000 / 128)
    assert f"\\rceil = {epoch}$ steps" in text
    assert f"$0.99^{{{epoch}}} \\approx {0.99**epoch:.1%}".replace("%", "\\%") in text


def test_batch_norm_exercise_3_folding_by_hand():
    text = folded_exercises("batch-norm")
    gamma, beta, mean, variance, epsilon, bias = 3.0, 1.0, 0.5, 2.249, 0.001, 0.3
    inputs = keras.Input((4, 4, 1))
    conv = keras.layers.Conv2D(1, 1)
    bn = keras.layers.BatchNormalization(epsilon=epsilon)
    model = keras.Model(inputs, bn(conv(inputs)))
    kernel = np.full((1, 1, 1, 1), 0.7, dtype="float32")
    conv.set_weights([kernel, np.array([bias], dtype="float32")])
    bn.set_weights([np.array([v], dtype="float32") for v in (gamma, beta, mean, variance)])
    a = gamma / math.sqrt(variance + epsilon)
    folded_bias = a * (bias - mean) + beta
    assert (round(a, 6), round(folded_bias, 6)) == (2.0, 0.6)
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 1)).astype("float32")
    expected = x * (a * kernel[0, 0, 0, 0]) + folded_bias
    np.testing.assert_allclose(model(x, training=False), expected, atol=1e-5)
    assert "= 3 / \\sqrt{2.25} = 2$" in text
    assert "$a (b - \\bar\\mu) + \\beta = 2 \\cdot (0.3 - 0.5) + 1 = 0.6$" in text


def test_batch_norm_exercise_4_a_batch_of_one():
    import tensorflow as tf

    bn = keras.layers.BatchNormalization()
    x = tf.constant(np.random.default_rng(0).normal(size=(1, 10)).astype("float32"))
    bn.build(x.shape)
    bn.beta.assign(np.arange(10, dtype="float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = bn(x, training=True)
    np.testing.assert_array_equal(y, bn.beta.numpy()[None])
    np.testing.assert_allclose(tape.gradient(y, x), 0.0, atol=1e-6)
    assert "the output is $\\beta$ for every input" in folded_exercises("batch-norm")


# --- ResNet ------------------------------------------------------------------


def trainable(layer_or_model) -> int:
    return sum(int(np.prod(w.shape)) for w in layer_or_model.trainable_weights)


def test_resnet_exercise_1_downsampling_basic_unit():
    text = folded_exercises("resnet")
    unit = built(BasicResidualUnit(128, stride=2), (56, 56, 64))
    assert unit.count_params() == models.build("resnet18").get_layer("conv3_block1").count_params()
    weights = [conv_params(3, 64, 128, bias=False), conv_params(3, 128, 128, bias=False)]
    projection = conv_params(1, 64, 128, bias=False)
    assert f"$9 \\cdot 64 \\cdot 128 = {tex(weights[0])}$" in text
    assert f"$9 \\cdot 128 \\cdot 128 = {tex(weights[1])}$" in text
    assert f"$64 \\cdot 128 = {tex(projection)}$" in text
    assert unit.count_params() == sum(weights) + projection + 3 * 4 * 128
    assert f"$3 \\cdot 4 \\cdot 128 = {tex(3 * 4 * 128)}$" in text
    assert f"**{n(unit.count_params())}** parameters, **{n(trainable(unit))}**" in text


def test_resnet_exercises_2_and_3_deeper_fashion_network():
    text = folded_exercises("resnet")
    shallow = layer_table(models.build("resnet_fashion"))
    deep_model = models.build("resnet_fashion", blocks_per_stage=9)
    deep = layer_table(deep_model)
    assert shallow["conv4_block2"].receptive_field == 53
    assert "$3 + 8 + 6 + 8 + 12 + 16 = 53$" in text
    field = deep["conv4_block9"].receptive_field
    assert 3 + 36 + 6 + 64 + 12 + 128 == field
    assert f"$3 + 36 + 6 + 64 + 12 + 128 =$ **{field}**" in text
    # Exercise 3: depth and trainable parameters, stage by stage.
    assert 6 * 9 + 2 == 56 and "**56** layers" in text
    stages = {
        "conv2": (9 * 4_672, "$9 \\cdot 4{,}672 = 42{,}048$"),
        "conv3": (14_528 + 8 * 18_560, "$14{,}528 + 8 \\cdot 18{,}560 = 163{,}008$"),
        "conv4": (57_728 + 8 * 73_984, "$57{,}728 + 8 \\cdot 73{,}984 = 649{,}600$"),
    }
    for stage, (count, written) in stages.items():
        units = [layer for layer in deep_model.layers if layer.name.startswith(f"{stage}_block")]
        assert sum(trainable(unit) for unit in units) == count
        assert written in text
    stem = sum(trainable(deep_model.get_layer(name)) for name in ("conv1_conv", "conv1_bn"))
    head = trainable(deep_model.get_layer("predictions"))
    assert (stem, head) == (176, 650)
    assert stem + sum(c for c, _ in stages.values()) + head == trainable(deep_model)
    assert f"**{n(trainable(deep_model))}** trainable parameters" in text
    assert f"the {n(trainable(models.build('resnet_fashion')))} of" in text
    # Exercise 5: the cost per image of the deeper pair.
    ratio = deep.macs / shallow.macs
    assert f"{ratio:.1f} times the multiply-accumulates ({deep.macs / 1e6:.1f}M against " in text
    assert f"against {shallow.macs / 1e6:.1f}M)" in text
    example = (Path(__file__).resolve().parent.parent / "examples" / "resnet.py").read_text()
    assert f"at {ratio:.1f} times the multiply-accumulates per image" in example


def test_resnet_exercise_4_zero_gamma_unit_is_the_identity():
    unit = built(BasicResidualUnit(16), (8, 8, 16))
    unit.branch2_bn.gamma.assign(np.zeros(16, dtype="float32"))
    x = np.random.default_rng(0).uniform(0, 2, size=(4, 8, 8, 16)).astype("float32")
    np.testing.assert_array_equal(unit(x, training=False), x)
    assert "$\\operatorname{ReLU}(0 + x) = x$" in folded_exercises("resnet")


# --- Xception ----------------------------------------------------------------


def separable(k: int, c_in: int, c_out: int) -> int:
    return conv_params(k, c_in, c_in, bias=False, groups=c_in) + conv_params(
        1, c_in, c_out, bias=False
    )


def test_xception_exercise_1_separable_at_256_channels():
    text = folded_exercises("xception")
    regular, sep = conv_params(3, 256, 256, bias=False), separable(3, 256, 256)
    keras_sep = built(keras.layers.SeparableConv2D(256, 3, use_bias=False), (8, 8, 256))
    assert keras_sep.count_params() == sep
    assert f"$9 \\cdot 256 \\cdot 256 = {tex(regular)}$" in text
    assert f"= 2{{,}}304 + 65{{,}}536 = {tex(sep)}$" in text
    assert f"$1/256 + 1/9 = {1 / 256 + 1 / 9:.3f}$" in text
    assert f"**{regular / sep:.1f} times fewer**" in text
    assert f"the {conv_params(3, 728, 728, bias=False) / separable(3, 728, 728):.1f} at 728" in text


@pytest.fixture(scope="module")
def paper_xception():
    return models.build("xception")


def test_xception_exercises_2_and_3_middle_flow(paper_xception):
    text = folded_exercises("xception")
    module = built(XceptionBlock((728, 728, 728)), (19, 19, 728))
    per_conv = separable(3, 728, 728) + 4 * 728
    assert module.count_params() == 3 * per_conv
    assert f"$3 \\cdot {tex(per_conv)} =$ **{n(module.count_params())}**" in text
    middle = [f"block{i}" for i in range(5, 13)]
    counts = [paper_xception.get_layer(name).count_params() for name in middle]
    assert counts == [module.count_params()] * 8
    total = paper_xception.count_params()
    assert f"$8 \\cdot {tex(module.count_params())} = {tex(sum(counts))}$ of the {n(total)}" in text
    assert f"**{sum(counts) / total:.0%}**" in text
    assert f"1/{round(299**2 / 19**2)} of the input's area" in text
    table = layer_table(paper_xception)
    fields = {name: table[name].receptive_field for name in ("block5", "block6", "block12")}
    assert {table[name].jump for name in middle} == {16}
    assert fields["block6"] - fields["block5"] == 3 * 2 * 16 == 96
    assert "**96 pixels** per module" in text
    assert f"from {fields['block5']} after `block5` to {fields['block6']} after `block6`" in text
    assert f"and {fields['block12']} after `block12`" in text


def test_xception_exercise_4_larger_depthwise_kernel():
    text = folded_exercises("xception")
    three, five = separable(3, 728, 728), separable(5, 728, 728)
    assert f"= 18{{,}}200 + 529{{,}}984 = {tex(five)}$ weights instead of ${tex(three)}$" in text
    assert f"**{five / three - 1:.1%}** more" in text
    regular3, regular5 = conv_params(3, 728, 728, bias=False), conv_params(5, 728, 728, bias=False)
    assert f"$25 \\cdot 728^2 = {tex(regular5)}$ instead of ${tex(regular3)}$" in text
    assert f"$25/9 = {regular5 / regular3:.1f}$ times" in text


def test_xception_exercise_5_command_options_exist():
    from cnn_guide.recipes import get_recipe

    assert not get_recipe("protocol").settle_batch_norm
    text = folded_exercises("xception")
    command = "cnn-guide train xception_fashion --recipe protocol --epochs 2 --settle-batch-norm"
    assert f"`{command}`" in text
    # Settling runs on the first 512 training images, as the answer says.
    source = (Path(__file__).resolve().parent.parent / "cnn_guide" / "training.py").read_text()
    assert "PreciseBatchNorm(net, data.x_train[:512])" in source
    assert "from 512 training images" in text


# --- Training on GPUs and clusters ---------------------------------------------


def test_distributed_exercise_1_batches_and_steps(fashion):
    from cnn_guide.data import make_dataset
    from cnn_guide.recipes import get_recipe
    from cnn_guide.training import StepHistory, fit

    text = folded_exercises("distributed")
    assert 4 * 64 == 256 and per_replica_batch_size(256, 4) == 64
    steps = math.ceil(55_000 / 256)
    assert f"\\lceil 55{{,}}000 / 256 \\rceil = {steps}$ steps" in text
    left = 55_000 - (steps - 1) * 256
    assert f"$55{{,}}000 - {steps - 1} \\cdot 256 = {left}$ images left" in text
    assert f"with {256 - left} of the next" in text
    # fit runs ceil(train / batch) steps per epoch, every batch full.
    data = fashion.subset(train=600, valid=64, test=64)
    history = StepHistory()
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    fit(
        model,
        data,
        get_recipe("protocol", batch_size=256, epochs=1),
        callbacks=[history],
        verbose=0,
    )
    assert len(history.loss) == math.ceil(600 / 256)
    stream = make_dataset(data.x_train, data.y_train, batch_size=256, shuffle=True, repeat=True)
    assert [int(x.shape[0]) for x, _ in stream.take(3)] == [256, 256, 256]
    with pytest.raises(ValueError, match="248 or 252"):
        per_replica_batch_size(250, 4)
    assert "248 or 252" in text


def test_distributed_exercise_2_scaling_rules():
    text = folded_exercises("distributed")
    assert linear_scaling(0.01, 8) == pytest.approx(0.08)
    assert "$8 \\cdot 0.01 = 0.08$" in text
    assert f"$\\sqrt{{8}} \\cdot 0.001 \\approx {math.sqrt(8) * 0.001:.5f}$" in text


def test_distributed_exercise_3_tf_config_of_the_third_machine(monkeypatch):
    section = exercises("distributed")
    value = re.search(r"export TF_CONFIG='(.*?)'", section, flags=re.DOTALL).group(1)
    config = read_tf_config(value)
    assert config["cluster"]["worker"] == [f"10.0.0.{i}:12345" for i in (1, 2, 3)]
    assert config["task"] == {"type": "worker", "index": 2}
    assert json.loads(value) == config
    assert per_replica_batch_size(384, 3) == 128
    assert "$384 / 3 = 128$" in folded_exercises("distributed")


def test_distributed_exercise_4_all_reduce_traffic():
    text = folded_exercises("distributed")
    params = models.get_info("resnet50").reference_params
    assert models.get_info("resnet50").reference_kind == "trainable"
    assert f"ResNet-50 has {n(params)} trainable parameters" in text
    numbers = 2 * 7 / 8 * params
    assert f"\\approx {numbers / 1e6:.1f}$ million numbers" in text
    assert f"4 bytes each: {n(round(numbers * 4))} bytes" in text
    assert f"about **{numbers * 4 / 1e6:.0f} MB**" in text


def test_distributed_exercise_5_loss_scaling():
    text = folded_exercises("distributed")
    assert float(np.float16(1e-9)) == 0.0
    scaled = np.float16(1e-9 * 2**15)
    assert scaled > 0 and abs(float(scaled) - 1e-9 * 2**15) / (1e-9 * 2**15) < 1e-3
    assert f"it is ${1e-9 * 2**15 * 1e5:.2f} \\times 10^{{-5}}$" in text
    assert float(np.finfo(np.float16).max) == 65_504
    assert f"65{{,}}504 / 32{{,}}768 \\approx {65_504 / 32_768:.3f}$" in text


def test_distributed_speed_bullet_uses_the_protocol_batch():
    from cnn_guide.recipes import get_recipe

    text = chapter("distributed")
    batch = get_recipe("protocol").batch_size
    model = models.build("simple_cnn")
    macs = layer_table(model).macs
    assert f"CNN's {n(model.count_params())} parameters" in text
    assert f"$3 \\times {round(macs / 1e6, -1):.0f}$ million multiply-accumulates" in text
    flops = 2 * 3 * macs * batch
    assert f"a batch of {batch} images" in text
    assert f"some {flops / 1e9:.0f} billion floating-point operations" in text
    assert "book's default" not in text and "Nadam" not in text


def test_resnet50_multiply_adds_in_both_layouts():
    # The builders stride a downsampling bottleneck on its 3x3 (v1.5, as torchvision);
    # `keras_form=True` strides on the first 1x1, as the paper's models (v1).
    v15 = layer_table(models.build("resnet50")).macs
    v1 = layer_table(models.build("resnet50", keras_form=True)).macs
    # The first 1x1 of the first unit of stages 3 to 5 runs at the input size:
    # 4 times the positions.
    stages = ((256, 56), (512, 28), (1024, 14))
    extra = sum(c * (c // 2) * (s * s - (s // 2) ** 2) for c, s in stages)
    assert v15 - v1 == extra
    text = chapter("resnet")
    assert f"ResNet-50 does **{v15 / 1e9:.2f} billion**" in text
    assert f"{extra / 1e9:.2f} billion more multiply-adds in all" in text
    assert f"the count is **{v1 / 1e9:.2f} billion**, the paper's 3.8 rounded" in text
    assert "| bottleneck, 256-512-1024-2048 out | 3, 4, 6, 3 | 25,557,032 | 3.8 billion |" in text
    assert f"against ResNet-50's {v15 / 1e9:.2f} billion" in chapter("senet")
    resnext = chapter("resnext")
    assert "| multiply-adds (Table 1 of the paper) | 4.1 billion | 4.2 billion |" in resnext


def test_batch_norm_steps_saved_at_each_learning_rate():
    # The paper's Figure 3, as the chapter quotes it: steps to Inception's 72.2%.
    text = chapter("batch-norm")
    inception, x5, x30 = 31.0, 2.1, 2.7
    for steps in (inception, x5, x30):
        assert f"${steps} \\cdot 10^6$" in text
    assert math.floor(inception / x5) == 14 and round(inception / x30, 1) == 11.5
    assert "in 14 times fewer training steps at a 5 times higher learning rate" in text
    assert "and in about 11 times fewer at a 30 times higher one" in text
