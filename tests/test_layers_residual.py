"""The residual units and the squeeze-and-excitation block, on their own."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnn_guide.layers import (
    BasicResidualUnit,
    BottleneckResidualUnit,
    SqueezeExcitation,
    se_channel_weights,
)

RNG = np.random.default_rng(0)


def images(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype("float32")


def n_params(layer: keras.layers.Layer) -> int:
    return sum(int(np.prod(w.shape)) for w in layer.trainable_weights)


def se_params(channels: int, ratio: int) -> int:
    hidden = max(1, channels // ratio)
    return channels * hidden + hidden + hidden * channels + channels


def zero_last_bn(unit: keras.layers.Layer, last: str) -> None:
    """Make the residual branch output exactly zero (gamma = beta = 0)."""
    bn = getattr(unit, f"{last}_bn")
    bn.gamma.assign(np.zeros(bn.gamma.shape, "float32"))
    bn.beta.assign(np.zeros(bn.beta.shape, "float32"))


BLOCKS = [
    (BasicResidualUnit, {"filters": 8}, (2, 9, 9, 8)),
    (BasicResidualUnit, {"filters": 16, "stride": 2, "se_ratio": 4}, (2, 9, 9, 8)),
    (
        BasicResidualUnit,
        {"filters": 8, "groups": 2, "skip_connections": False},
        (2, 6, 6, 4),
    ),
    (
        BasicResidualUnit,
        {"filters": 8, "use_bias": True, "bn_epsilon": 1.001e-5, "bn_momentum": 0.99},
        (2, 6, 6, 8),
    ),
    (BottleneckResidualUnit, {"filters": 4}, (2, 7, 7, 16)),
    (
        BottleneckResidualUnit,
        {"filters": 8, "stride": 2, "width": 16, "groups": 4, "se_ratio": 8},
        (2, 9, 9, 12),
    ),
    (
        BottleneckResidualUnit,
        {
            "filters": 4,
            "stride": 2,
            "width": 16,
            "reduce_width": 8,
            "groups": 4,
            "shortcut_kernel_size": 3,
            "stride_in_1x1": True,
            "expansion": 2,
            "kernel_initializer": "glorot_uniform",
        },
        (2, 8, 8, 6),
    ),
    (SqueezeExcitation, {"ratio": 4}, (2, 5, 5, 12)),
    (SqueezeExcitation, {"ratio": 2, "return_weights": True}, (2, 5, 5, 12)),
]


@pytest.mark.parametrize(("cls", "kwargs", "shape"), BLOCKS)
def test_config_round_trip_gives_the_same_block(cls, kwargs, shape):
    x = images(*shape)
    block = cls(**kwargs)
    out = block(x, training=False)
    config = block.get_config()
    for key, value in kwargs.items():
        if key != "kernel_initializer":
            assert config[key] == value, key
    clone = cls.from_config(config)
    assert clone.get_config() == config
    clone(x, training=False)
    clone.set_weights(block.get_weights())
    again = clone(x, training=False)
    for a, b in zip(keras.tree.flatten(out), keras.tree.flatten(again), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)


def as_list(structure) -> list:
    return list(structure) if isinstance(structure, (tuple, list)) else [structure]


@pytest.mark.parametrize(("cls", "kwargs", "shape"), BLOCKS)
def test_output_shape_matches_compute_output_shape(cls, kwargs, shape):
    block = cls(**kwargs)
    outs = as_list(block(images(*shape), training=False))
    expected = block.compute_output_shape(shape)
    expected = list(expected) if isinstance(expected[0], tuple) else [expected]
    assert [tuple(o.shape) for o in outs] == [tuple(e) for e in expected]
    # Symbolic inputs (unknown batch) give the same shapes.
    symbolic = as_list(cls(**kwargs)(keras.Input(shape[1:])))
    assert [tuple(o.shape)[1:] for o in symbolic] == [tuple(e)[1:] for e in expected]


@pytest.mark.parametrize(
    ("side", "stride", "expected"), [(28, 2, 14), (7, 2, 4), (9, 3, 3), (5, 1, 5)]
)
@pytest.mark.parametrize("cls", [BasicResidualUnit, BottleneckResidualUnit])
def test_strided_units_round_the_side_up(cls, side, stride, expected):
    unit = cls(8, stride=stride)
    out = unit(images(1, side, side, 8))
    assert out.shape == (1, expected, expected, unit.output_channels)
    assert unit.compute_output_shape((None, side, side, 8)) == (
        None,
        expected,
        expected,
        unit.output_channels,
    )


def test_basic_unit_parameters_follow_the_formula():
    identity = BasicResidualUnit(16)
    identity.build((None, 8, 8, 16))
    assert identity.shortcut_conv is None
    assert n_params(identity) == 2 * (9 * 16 * 16 + 2 * 16)
    projected = BasicResidualUnit(32, stride=2)
    projected.build((None, 8, 8, 16))
    assert projected.shortcut_conv.kernel.shape == (1, 1, 16, 32)
    assert n_params(projected) == 9 * 16 * 32 + 9 * 32 * 32 + 4 * 32 + 16 * 32 + 2 * 32
    with_bias = BasicResidualUnit(16, use_bias=True)
    with_bias.build((None, 8, 8, 16))
    assert n_params(with_bias) == n_params(identity) + 2 * 16


def test_projection_only_where_the_shape_changes():
    for kwargs, in_channels, projected in [
        ({"filters": 16}, 64, False),
        ({"filters": 16}, 32, True),
        ({"filters": 16, "stride": 2}, 64, True),
    ]:
        unit = BottleneckResidualUnit(**kwargs)
        unit.build((None, 8, 8, in_channels))
        assert (unit.shortcut_conv is not None) == projected, (kwargs, in_channels)


def test_bottleneck_widths_groups_and_expansion():
    unit = BottleneckResidualUnit(64, width=128, groups=32)  # ResNeXt-50 32x4d, stage 2
    unit.build((None, 56, 56, 256))
    assert unit.branch1_conv.kernel.shape == (1, 1, 256, 128)
    # 32 groups of 4 channels in, 4 out: one 3x3x4x4 kernel per group.
    assert len(unit.branch2_conv.convs) == 32
    assert unit.branch2_conv.convs[0].kernel.shape == (3, 3, 4, 4)
    assert unit.branch3_conv.kernel.shape == (1, 1, 128, 256)
    assert unit.shortcut_conv is None
    senet = BottleneckResidualUnit(
        64, width=256, reduce_width=128, groups=64, shortcut_kernel_size=3, stride=2
    )  # SENet-154's reduce is half the 3x3 width
    senet.build((None, 56, 56, 128))
    assert senet.branch1_conv.kernel.shape == (1, 1, 128, 128)
    assert [c.kernel.shape for c in senet.branch2_conv.convs] == [(3, 3, 2, 4)] * 64
    assert senet.shortcut_conv.kernel.shape == (3, 3, 128, 256)
    assert senet.shortcut_pad is not None


def test_stride_is_on_the_3x3_unless_asked_for_the_1x1():
    v15 = BottleneckResidualUnit(8, stride=2)
    v15.build((None, 8, 8, 16))
    assert v15.branch1_conv.strides == (1, 1) and v15.branch2_conv.strides == (2, 2)
    assert v15.branch2_pad is not None  # symmetric padding before the strided 3x3
    assert v15.receptive_field_path() == [(1, 1), (3, 2), (1, 1)]
    v1 = BottleneckResidualUnit(8, stride=2, stride_in_1x1=True)
    v1.build((None, 8, 8, 16))
    assert v1.branch1_conv.strides == (2, 2) and v1.branch2_conv.strides == (1, 1)
    assert v1.receptive_field_path() == [(1, 2), (3, 1), (1, 1)]
    assert n_params(v1) == n_params(v15)
    assert BasicResidualUnit(8, stride=2).receptive_field_path() == [(3, 2), (3, 1)]
    assert SqueezeExcitation().receptive_field_path() == []


def test_strided_convolutions_pad_symmetrically():
    # A 3x3/2 convolution whose kernel is a centre tap reads pixels 0, 2, 4, ...
    # with symmetric padding; Keras' "same" would read 1, 3, 5, ...
    unit = BasicResidualUnit(1, stride=2, skip_connections=False)
    unit.build((None, 6, 6, 1))
    kernel = np.zeros((3, 3, 1, 1), "float32")
    kernel[1, 1] = 1.0
    unit.branch1_conv.kernel.assign(kernel)
    unit.branch2_conv.kernel.assign(kernel)
    x = np.arange(36, dtype="float32").reshape(1, 6, 6, 1)
    out = np.asarray(unit(x, training=False))[0, :, :, 0]
    scale = 1 / np.sqrt(1 + unit.bn_epsilon)  # two inference-mode BNs of unit variance
    np.testing.assert_allclose(out, x[0, ::2, ::2, 0] * scale**2, rtol=1e-5)


@pytest.mark.parametrize(
    ("cls", "last", "kwargs"),
    [
        (BasicResidualUnit, "branch2", {"filters": 8}),
        (BottleneckResidualUnit, "branch3", {"filters": 2}),
    ],
)
def test_skip_connection_adds_the_input_and_plain_units_drop_it(cls, last, kwargs):
    x = images(2, 5, 5, 8)
    for se_ratio in (None, 2):
        residual = cls(**kwargs, se_ratio=se_ratio)
        residual.build(x.shape)
        zero_last_bn(residual, last)
        # F(x) = 0, so the unit gives relu(x): SE acts on the branch, before the sum.
        np.testing.assert_allclose(residual(x, training=False), np.maximum(x, 0), atol=1e-6)
        plain = cls(**kwargs, se_ratio=se_ratio, skip_connections=False)
        plain.build(x.shape)
        zero_last_bn(plain, last)
        np.testing.assert_allclose(plain(x, training=False), 0.0, atol=1e-6)


def test_plain_units_have_no_projection():
    plain = BasicResidualUnit(16, stride=2, skip_connections=False)
    plain.build((None, 8, 8, 8))
    assert plain.shortcut_conv is None and plain.shortcut_bn is None
    residual = BasicResidualUnit(16, stride=2)
    residual.build((None, 8, 8, 8))
    assert n_params(residual) - n_params(plain) == 8 * 16 + 2 * 16


def test_se_ratio_adds_exactly_one_se_block():
    for cls, channels in ((BasicResidualUnit, 32), (BottleneckResidualUnit, 128)):
        plain = cls(32)
        plain.build((None, 8, 8, 64))
        se = cls(32, se_ratio=16)
        se.build((None, 8, 8, 64))
        assert isinstance(se.se, SqueezeExcitation) and plain.se is None
        assert n_params(se) - n_params(plain) == se_params(channels, 16)


def test_squeeze_excitation_computes_the_paper_formula():
    x = images(3, 4, 5, 8)
    block = SqueezeExcitation(ratio=4)
    out = np.asarray(block(x))
    assert block.hidden_units == 2 and n_params(block) == se_params(8, 4)
    w1, b1, w2, b2 = (np.asarray(v) for v in block.get_weights())
    squeezed = x.mean(axis=(1, 2))
    weights = 1 / (1 + np.exp(-(np.maximum(squeezed @ w1 + b1, 0) @ w2 + b2)))
    np.testing.assert_allclose(out, x * weights[:, None, None, :], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(block.channel_weights(x), weights, rtol=1e-5)
    assert SqueezeExcitation(ratio=64)(x).shape == x.shape  # C // r < 1: one hidden unit


def test_squeeze_excitation_can_return_its_weights():
    x = images(2, 4, 4, 6)
    block = SqueezeExcitation(ratio=2, return_weights=True)
    out, weights = block(x)
    assert out.shape == x.shape and weights.shape == (2, 6)
    assert np.all((np.asarray(weights) > 0) & (np.asarray(weights) < 1))
    np.testing.assert_allclose(out, x * np.asarray(weights)[:, None, None, :], rtol=1e-5)
    np.testing.assert_allclose(block.channel_weights(x), weights, rtol=1e-6)


def test_a_model_with_a_weights_returning_se_block_saves_and_loads(tmp_path):
    inputs = keras.Input((6, 6, 8))
    x = keras.layers.Conv2D(8, 3, padding="same")(inputs)
    x, weights = SqueezeExcitation(4, return_weights=True, name="se")(x)
    outputs = BottleneckResidualUnit(2, se_ratio=2, groups=2, width=4, name="unit")(x)
    model = keras.Model(inputs, [outputs, weights])
    data = images(2, 6, 6, 8)
    before = model(data)
    model.save(tmp_path / "se.keras")
    loaded = keras.saving.load_model(tmp_path / "se.keras")
    for a, b in zip(before, loaded(data), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_unit_channel_weights_and_se_channel_weights():
    inputs = keras.Input((8, 8, 4))
    x = BasicResidualUnit(8, se_ratio=2, name="a")(inputs)
    x = BasicResidualUnit(8, name="b")(x)
    x = SqueezeExcitation(2, name="c")(x)
    model = keras.Model(inputs, x)
    data = images(5, 8, 8, 4)
    weights = se_channel_weights(model, data, batch_size=2)
    assert list(weights) == ["a", "c"]
    assert weights["a"].shape == (5, 8) and weights["c"].shape == (5, 8)
    np.testing.assert_allclose(weights["a"], model.get_layer("a").channel_weights(data), rtol=1e-5)
    with pytest.raises(ValueError, match="no squeeze-and-excitation"):
        model.get_layer("b").channel_weights(data)
    plain = keras.Model(inputs, BasicResidualUnit(8)(inputs))
    with pytest.raises(ValueError, match="no squeeze-and-excitation"):
        se_channel_weights(plain, data)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: BasicResidualUnit(0), "filters"),
        (lambda: BasicResidualUnit(8, stride=0), "stride"),
        (lambda: BasicResidualUnit(8, se_ratio=0), "se_ratio"),
        (lambda: BasicResidualUnit(8, bn_momentum=1.0), "bn_momentum"),
        (lambda: BottleneckResidualUnit(8, width=10, groups=4), "divisible by groups"),
        (
            lambda: BottleneckResidualUnit(8, shortcut_kernel_size=2),
            "shortcut_kernel_size",
        ),
        (lambda: BottleneckResidualUnit(8, expansion=0), "expansion"),
        (lambda: SqueezeExcitation(ratio=0), "ratio"),
        (
            lambda: BasicResidualUnit(8, groups=4).build((None, 8, 8, 6)),
            "divisible by groups",
        ),
        (lambda: SqueezeExcitation().build((None, 8, 8)), "channels"),
    ],
)
def test_bad_arguments_raise_value_error(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_grouped_conv_equals_keras_grouped_conv():
    import numpy as np

    from cnn_guide.layers import GroupedConv2D

    x = np.random.default_rng(0).normal(size=(2, 9, 9, 12)).astype("float32")
    ours = GroupedConv2D(8, 3, strides=2, padding="same", groups=4, use_bias=True)
    keras_conv = keras.layers.Conv2D(8, 3, strides=2, padding="same", groups=4)
    ours.build(x.shape)
    keras_conv.build(x.shape)
    kernel, bias = keras_conv.get_weights()
    for index, conv in enumerate(ours.convs):
        conv.set_weights([kernel[..., 2 * index : 2 * index + 2], bias[2 * index : 2 * index + 2]])
    np.testing.assert_allclose(ours(x), keras_conv(x), rtol=1e-5, atol=1e-5)
    assert ours.count_params() == keras_conv.count_params()
    assert ours.compute_output_shape(x.shape) == (2, 5, 5, 8)
    clone = GroupedConv2D.from_config(ours.get_config())
    assert clone.get_config() == ours.get_config()
    with pytest.raises(ValueError, match="multiple of groups"):
        GroupedConv2D(6, 3, groups=4)
