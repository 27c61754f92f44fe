"""The blocks of the efficient architectures, and what the Fashion-MNIST variants cost.

Blocks: SeparableConvBlock and XceptionBlock (Xception), DenseLayer, DenseBlock
and TransitionLayer (DenseNet-BC), InvertedResidual (MobileNetV2).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnn_guide import models
from cnn_guide._compat import flatten_layers
from cnn_guide.layers import (
    DenseBlock,
    DenseLayer,
    InvertedResidual,
    SeparableConvBlock,
    TransitionLayer,
    XceptionBlock,
)

RNG = np.random.default_rng(0)

# (block, input shape without batch, expected output shape without batch)
BLOCKS = [
    (lambda: SeparableConvBlock(16), (9, 11, 8), (9, 11, 16)),
    (
        lambda: SeparableConvBlock(6, 5, strides=2, activation_first=False),
        (9, 11, 4),
        (5, 6, 6),
    ),
    (lambda: SeparableConvBlock(8, activation=None), (6, 6, 3), (6, 6, 8)),
    (lambda: SeparableConvBlock(6, strides=2, separable=False), (9, 11, 4), (5, 6, 6)),
    (
        lambda: XceptionBlock((16, 16), strides=2, first_activation=False),
        (9, 11, 8),
        (5, 6, 16),
    ),
    (lambda: XceptionBlock((8, 8, 8)), (7, 7, 8), (7, 7, 8)),
    (lambda: XceptionBlock((8, 12)), (7, 7, 8), (7, 7, 12)),
    (lambda: XceptionBlock(12, strides=2, residual=False), (8, 8, 4), (4, 4, 12)),
    (lambda: XceptionBlock((8, 12), strides=2, separable=False), (7, 7, 8), (4, 4, 12)),
    (lambda: DenseLayer(4, bn_size=2), (7, 9, 6), (7, 9, 10)),
    (lambda: DenseBlock(3, growth_rate=4), (7, 9, 6), (7, 9, 18)),
    (lambda: TransitionLayer(), (7, 9, 18), (3, 4, 9)),
    (lambda: TransitionLayer(compression=0.75), (8, 8, 10), (4, 4, 7)),
    (lambda: InvertedResidual(8), (9, 9, 8), (9, 9, 8)),
    (lambda: InvertedResidual(8, expansion=1), (9, 9, 16), (9, 9, 8)),
    (lambda: InvertedResidual(16, strides=2), (9, 10, 8), (5, 5, 16)),
    (
        lambda: InvertedResidual(8, expansion=4, linear_bottleneck=False),
        (6, 6, 8),
        (6, 6, 8),
    ),
    (lambda: InvertedResidual(16, strides=2, separable=False), (9, 10, 8), (5, 5, 16)),
]
IDS = [
    "sepconv",
    "sepconv-post-act-stride2",
    "sepconv-no-act",
    "regular-conv-stride2",
    "xception-entry",
    "xception-middle",
    "xception-projection-stride1",
    "xception-no-residual",
    "xception-regular-convs",
    "dense-layer",
    "dense-block",
    "transition",
    "transition-0.75",
    "inverted-residual",
    "inverted-residual-t1",
    "inverted-residual-stride2",
    "inverted-residual-relu-bottleneck",
    "inverted-residual-regular-3x3",
]


def randomize(layer: keras.layers.Layer) -> None:
    """Random weights (positive moving variances), so that no block is trivially zero."""
    for weight in layer.weights:
        if "moving_variance" in weight.path:
            weight.assign(RNG.uniform(0.5, 1.5, weight.shape).astype("float32"))
        else:
            weight.assign(RNG.normal(0.0, 0.5, weight.shape).astype("float32"))


def images(shape: tuple[int, ...], batch: int = 2) -> np.ndarray:
    return RNG.normal(size=(batch, *shape)).astype("float32")


@pytest.mark.parametrize(("make", "in_shape", "out_shape"), BLOCKS, ids=IDS)
def test_output_shape_matches_compute_output_shape(make, in_shape, out_shape):
    block = make()
    out = block(images(in_shape))
    assert tuple(out.shape) == (2, *out_shape)
    assert tuple(block.compute_output_shape((None, *in_shape))) == (None, *out_shape)


@pytest.mark.parametrize(("make", "in_shape", "out_shape"), BLOCKS, ids=IDS)
def test_config_round_trip_gives_same_config_and_outputs(make, in_shape, out_shape):
    block = make()
    x = images(in_shape)
    block(x)
    randomize(block)
    clone = type(block).from_config(block.get_config())
    assert clone.get_config() == block.get_config()
    clone(x)
    clone.set_weights(block.get_weights())
    np.testing.assert_allclose(clone(x, training=False), block(x, training=False), atol=1e-5)


@pytest.mark.parametrize(("make", "in_shape", "out_shape"), BLOCKS, ids=IDS)
def test_block_in_a_model_saves_and_loads(make, in_shape, out_shape, tmp_path):
    inputs = keras.Input(shape=in_shape)
    block = make()
    model = keras.Model(inputs, block(inputs))
    randomize(block)
    x = images(in_shape)
    path = tmp_path / "block.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded(x, training=False), model(x, training=False), atol=1e-5)


@pytest.mark.parametrize(
    ("block", "path"),
    [
        (SeparableConvBlock(8), [(3, 1)]),
        (SeparableConvBlock(8, 5, strides=2), [(5, 2)]),
        (XceptionBlock((8, 8), strides=2), [(3, 1), (3, 1), (3, 2)]),
        (XceptionBlock((8, 8, 8)), [(3, 1), (3, 1), (3, 1)]),
        (DenseLayer(), [(1, 1), (3, 1)]),
        (DenseBlock(3), [(1, 1), (3, 1)] * 3),
        (TransitionLayer(), [(1, 1), (2, 2)]),
        (InvertedResidual(8, strides=2), [(1, 1), (3, 2), (1, 1)]),
        (InvertedResidual(8, expansion=1), [(3, 1), (1, 1)]),
    ],
)
def test_receptive_field_path(block, path):
    assert block.receptive_field_path() == path


@pytest.mark.parametrize(
    "make",
    [
        lambda: SeparableConvBlock(0),
        lambda: SeparableConvBlock(8, strides=0),
        lambda: XceptionBlock((8, 8), strides=3),
        lambda: XceptionBlock([]),
        lambda: DenseLayer(growth_rate=0),
        lambda: DenseBlock(0),
        lambda: TransitionLayer(compression=0.0),
        lambda: TransitionLayer(compression=1.5),
        lambda: InvertedResidual(8, strides=3),
        lambda: InvertedResidual(8, expansion=0),
        lambda: SeparableConvBlock(8, separable="false"),
        lambda: XceptionBlock((8, 8), separable=0),
        lambda: InvertedResidual(8, separable=None),
    ],
)
def test_bad_block_arguments_raise_value_error(make):
    with pytest.raises(ValueError, match="must be"):
        make()


# --- Depthwise separable convolution: the cost comparison --------------------


@pytest.mark.parametrize(("c_in", "c_out", "k"), [(728, 728, 3), (32, 64, 3), (16, 8, 5)])
def test_separable_conv_weights_are_kkcin_plus_cin_cout(c_in, c_out, k):
    block = SeparableConvBlock(c_out, k, activation_first=True)
    block.build((None, 8, 8, c_in))
    conv = sum(int(np.prod(w.shape)) for w in block.sepconv.weights)
    assert conv == k * k * c_in + c_in * c_out
    regular = keras.layers.Conv2D(c_out, k, use_bias=False)
    regular.build((None, 8, 8, c_in))
    assert regular.count_params() == k * k * c_in * c_out
    assert conv / regular.count_params() == pytest.approx(1 / c_out + 1 / k**2)
    # BatchNorm: gamma, beta, moving mean and variance.
    assert block.count_params() == conv + 4 * c_out


@pytest.mark.parametrize(("c_in", "c_out", "k"), [(32, 64, 3), (16, 8, 5)])
def test_separable_false_is_the_regular_convolution(c_in, c_out, k):
    block = SeparableConvBlock(c_out, k, separable=False)
    block.build((None, 8, 8, c_in))
    assert isinstance(block.sepconv, keras.layers.Conv2D)
    assert not isinstance(block.sepconv, keras.layers.SeparableConv2D)
    # k*k*C_in*C_out kernel weights, and the same BatchNorm as before.
    assert block.count_params() == k * k * c_in * c_out + 4 * c_out


def test_inverted_residual_separable_false_has_a_regular_3x3_at_the_hidden_width():
    block = InvertedResidual(24, expansion=6, separable=False)
    block.build((None, 8, 8, 16))
    assert tuple(block.depthwise.kernel.shape) == (3, 3, 96, 96)
    depthwise = InvertedResidual(24, expansion=6)
    depthwise.build((None, 8, 8, 16))
    # 9*h*h instead of 9*h weights, h = 6*16 = 96; nothing else changes.
    assert block.count_params() - depthwise.count_params() == 9 * 96 * 96 - 9 * 96


def test_separable_block_activation_order():
    x = images((6, 6, 4))
    before = SeparableConvBlock(8, activation_first=True)
    after = SeparableConvBlock(8, activation_first=False)
    before(x)
    after(x)
    randomize(before)
    after.set_weights(before.get_weights())
    # ReLU last: nothing negative; BN last: negative values survive.
    assert np.min(after(x, training=False)) >= 0.0
    assert np.min(before(x, training=False)) < 0.0
    # ReLU first acts on the input: a negative input is the same as zero.
    np.testing.assert_allclose(
        before(x, training=False), before(np.maximum(x, 0.0), training=False), atol=1e-6
    )


def test_xception_block_first_activation_sees_negative_inputs():
    x = images((6, 6, 4))
    block = XceptionBlock((8, 8), first_activation=False, residual=False)
    block(x)
    randomize(block)
    assert not np.allclose(
        block(x, training=False), block(np.maximum(x, 0.0), training=False), atol=1e-4
    )


def test_xception_identity_shortcut_adds_the_input():
    x = images((7, 7, 8))
    with_shortcut = XceptionBlock((8, 8, 8))
    without = XceptionBlock((8, 8, 8), residual=False)
    with_shortcut(x)
    without(x)
    randomize(with_shortcut)
    without.set_weights(with_shortcut.get_weights())
    assert with_shortcut.shortcut_conv is None
    np.testing.assert_allclose(
        with_shortcut(x, training=False) - without(x, training=False), x, atol=1e-5
    )


def test_xception_projection_shortcut_is_a_strided_1x1_conv_with_bn():
    block = XceptionBlock((16, 32), strides=2)
    block.build((None, 9, 9, 8))
    assert block.shortcut_conv.strides == (2, 2)
    assert tuple(block.shortcut_conv.kernel.shape) == (1, 1, 8, 32)
    assert isinstance(block.shortcut_bn, keras.layers.BatchNormalization)
    assert block.pool.pool_size == (3, 3) and block.pool.strides == (2, 2)
    no_residual = XceptionBlock((16, 32), strides=2, residual=False)
    no_residual.build((None, 9, 9, 8))
    assert no_residual.shortcut_conv is None
    assert block.count_params() - no_residual.count_params() == 8 * 32 + 4 * 32


# --- Dense connectivity -------------------------------------------------------


def test_dense_layer_concatenates_its_input_unchanged():
    x = images((5, 5, 6))
    layer = DenseLayer(growth_rate=4)
    out = np.asarray(layer(x, training=False))
    np.testing.assert_array_equal(out[..., :6], x)
    assert tuple(layer.conv1.kernel.shape) == (1, 1, 6, 16)  # bottleneck 4k
    assert tuple(layer.conv2.kernel.shape) == (3, 3, 16, 4)


def test_dense_block_layers_see_all_earlier_maps():
    block = DenseBlock(4, growth_rate=3, bn_size=2)
    block.build((None, 5, 5, 7))
    inputs = [layer.conv1.kernel.shape[2] for layer in block.dense_layers]
    assert inputs == [7, 10, 13, 16]
    x = images((5, 5, 7))
    np.testing.assert_array_equal(np.asarray(block(x))[..., :7], x)


def test_transition_compresses_and_average_pools():
    x = np.ones((1, 4, 4, 10), "float32")
    layer = TransitionLayer(compression=0.5)
    out = layer(x, training=False)
    assert tuple(out.shape) == (1, 2, 2, 5)
    assert isinstance(layer.pool, keras.layers.AveragePooling2D)
    # A constant input stays constant through BN, ReLU, 1x1 conv and averaging.
    values = np.asarray(out)
    np.testing.assert_allclose(values, np.broadcast_to(values[:, :1, :1], values.shape))


# --- Inverted residual --------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "in_channels", "residual"),
    [
        ({"filters": 8}, 8, True),
        ({"filters": 8}, 16, False),
        ({"filters": 8, "strides": 2}, 8, False),
        ({"filters": 8, "expansion": 1}, 8, True),
    ],
)
def test_inverted_residual_shortcut_only_at_stride_1_and_same_width(kwargs, in_channels, residual):
    x = images((6, 6, in_channels))
    block = InvertedResidual(**kwargs)
    block(x)
    randomize(block)
    # Zeroing the last BN's scale and shift leaves only the shortcut.
    block.project_bn.gamma.assign(np.zeros(block.filters, "float32"))
    block.project_bn.beta.assign(np.zeros(block.filters, "float32"))
    out = np.asarray(block(x, training=False))
    assert block.use_residual == residual
    np.testing.assert_allclose(out, x if residual else np.zeros_like(out), atol=1e-6)


def test_inverted_residual_expands_t_times_and_projects_linearly():
    block = InvertedResidual(24, expansion=6)
    block.build((None, 8, 8, 16))
    assert tuple(block.expand.kernel.shape) == (1, 1, 16, 96)
    assert tuple(block.depthwise.kernel.shape) == (3, 3, 96, 1)
    assert tuple(block.project.kernel.shape) == (1, 1, 96, 24)
    assert block.expand_relu.max_value == 6.0
    no_expansion = InvertedResidual(16, expansion=1)
    no_expansion.build((None, 8, 8, 32))
    assert no_expansion.expand is None
    x = images((6, 6, 8))
    linear = InvertedResidual(16)
    relu6 = InvertedResidual(16, linear_bottleneck=False)
    linear(x)
    relu6(x)
    randomize(linear)
    relu6.set_weights(linear.get_weights())
    assert np.min(linear(x, training=False)) < 0.0
    out = np.asarray(relu6(x, training=False))
    assert np.min(out) >= 0.0 and np.max(out) <= 6.0


def test_blocks_follow_the_mixed_precision_policy():
    x = images((8, 8, 8))
    for block in (
        XceptionBlock((8, 8), strides=2, dtype="mixed_bfloat16"),
        DenseBlock(2, growth_rate=4, dtype="mixed_bfloat16"),
        TransitionLayer(dtype="mixed_bfloat16"),
        InvertedResidual(8, dtype="mixed_bfloat16"),
    ):
        out = block(x)
        assert keras.backend.standardize_dtype(out.dtype) == "bfloat16", block.name
        assert all(w.dtype == "float32" for w in block.weights), block.name


# --- What the Fashion-MNIST variants cost -------------------------------------

CONV_LAYERS = (
    keras.layers.Conv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
    keras.layers.Dense,
)


def macs(model: keras.Model) -> tuple[int, int]:
    """Multiply-accumulates per image, and the same with regular convolutions.

    The second figure replaces every separable convolution by a regular one of
    the same kernel and widths and every depthwise convolution by a regular
    one from and to the same width. Output sizes are recorded by wrapping each
    convolution's ``call`` on a forward pass.
    """
    records = []
    layers = [
        layer
        for layer in flatten_layers(model, include_self=False)
        if isinstance(layer, CONV_LAYERS)
    ]
    for layer in layers:

        def recorded(*args, _layer=layer, _call=layer.call, **kwargs):
            out = _call(*args, **kwargs)
            records.append((_layer, tuple(out.shape)))
            return out

        object.__setattr__(layer, "call", recorded)
    try:
        model(np.zeros((1, *model.input_shape[1:]), "float32"), training=False)
    finally:
        for layer in layers:
            object.__delattr__(layer, "call")
    actual = regular = 0
    for layer, shape in records:
        pixels = int(np.prod(shape[1:-1]))
        if isinstance(layer, keras.layers.SeparableConv2D):
            kh, kw, c_in, _ = layer.depthwise_kernel.shape
            actual += pixels * (kh * kw * c_in + c_in * layer.filters)
            regular += pixels * kh * kw * c_in * layer.filters
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            kh, kw, c_in, mult = layer.kernel.shape
            actual += pixels * kh * kw * c_in * mult
            regular += pixels * kh * kw * c_in * c_in * mult
        else:
            actual += pixels * int(np.prod(layer.kernel.shape))
            regular += pixels * int(np.prod(layer.kernel.shape))
    return actual, regular


def test_mac_counter_on_a_known_model():
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(8, 3, padding="same")(inputs)  # 28*28*9*8 = 56,448
    x = keras.layers.SeparableConv2D(16, 3, strides=2, padding="same")(x)  # 14*14*(72+128)
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)  # 14*14*144
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(10)(x)  # 3136 * 10
    actual, regular = macs(keras.Model(inputs, x))
    assert actual == 56_448 + 196 * 200 + 196 * 144 + 31_360
    assert regular == 56_448 + 196 * 9 * 8 * 16 + 196 * 9 * 16 * 16 + 31_360


@pytest.mark.parametrize(
    ("name", "expected_millions", "min_saving"),
    [
        ("xception_fashion", 15.7, 7.0),
        ("densenet_fashion", 21.1, None),
        ("mobilenet_v2_fashion", 17.5, 15.0),
    ],
)
def test_fashion_variants_are_cheap(name, expected_millions, min_saving):
    """The figures the docstrings quote, and the 40M budget of the book."""
    model = models.build(name)
    actual, regular = macs(model)
    assert actual <= 40_000_000
    assert actual / 1e6 == pytest.approx(expected_millions, abs=0.05)
    assert f"{expected_millions} million" in models.get_info(name).builder.__doc__
    if min_saving is not None:
        assert regular / actual >= min_saving
    keras.backend.clear_session()
