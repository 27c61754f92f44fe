"""MobileNetV2: the same network as keras.applications.MobileNetV2, and alpha."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnn_guide import models
from cnn_guide.layers import InvertedResidual


def trainable(model: keras.Model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def random_weights(model: keras.Model, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        rng.uniform(0.5, 1.5, w.shape).astype("float32")
        if "moving_variance" in w.path
        else rng.normal(0.0, 0.1, w.shape).astype("float32")
        for w in model.weights
    ]


def assert_same_network(ours: keras.Model, theirs: keras.Model, side: int) -> None:
    assert [w.shape for w in ours.weights] == [w.shape for w in theirs.weights]
    weights = random_weights(theirs)
    theirs.set_weights(weights)
    ours.set_weights(weights)
    x = np.random.default_rng(1).uniform(-1, 1, (2, side, side, 3)).astype("float32")
    np.testing.assert_allclose(ours(x, training=False), theirs(x, training=False), atol=1e-5)


def test_identical_to_keras_applications_mobilenet_v2():
    """Same weights in the same order, same outputs (at 32x32 to stay quick)."""
    ours = models.mobilenet_v2(input_shape=(32, 32, 3))
    theirs = keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3))
    assert ours.count_params() == theirs.count_params() == 3_538_984
    assert trainable(ours) == trainable(theirs) == 3_504_872
    assert_same_network(ours, theirs, 32)
    keras.backend.clear_session()


@pytest.mark.parametrize(("alpha", "side"), [(0.35, 33), (1.3, 40)])
def test_alpha_matches_keras_applications(alpha, side):
    """Width rounding for any alpha, and Keras' explicit padding at odd sizes."""
    ours = models.mobilenet_v2(input_shape=(side, side, 3), alpha=alpha, num_classes=5)
    theirs = keras.applications.MobileNetV2(
        weights=None, input_shape=(side, side, 3), alpha=alpha, classes=5
    )
    assert ours.count_params() == theirs.count_params()
    assert_same_network(ours, theirs, side)
    keras.backend.clear_session()


def test_paper_table_2():
    model = models.mobilenet_v2(include_top=False)
    assert model.output_shape == (None, 7, 7, 1280)
    blocks = [layer for layer in model.layers if isinstance(layer, InvertedResidual)]
    assert len(blocks) == 17
    table = [(b.expansion, b.filters, b.strides) for b in blocks]
    assert table == (
        [(1, 16, 1)]
        + [(6, 24, 2), (6, 24, 1)]
        + [(6, 32, 2)]
        + [(6, 32, 1)] * 2
        + [(6, 64, 2)]
        + [(6, 64, 1)] * 3
        + [(6, 96, 1)] * 3
        + [(6, 160, 2)]
        + [(6, 160, 1)] * 2
        + [(6, 320, 1)]
    )
    assert sum(b.use_residual for b in blocks) == 10
    assert all(b.linear_bottleneck for b in blocks)
    keras.backend.clear_session()


def test_alpha_scales_widths_but_not_below_1280_at_the_end():
    narrow = models.mobilenet_v2(input_shape=(64, 64, 3), alpha=0.5, include_top=False)
    widths = [b.filters for b in narrow.layers if isinstance(b, InvertedResidual)]
    assert widths[0] == 8 and widths[-1] == 160
    assert narrow.output_shape[-1] == 1280
    wide = models.mobilenet_v2(input_shape=(64, 64, 3), alpha=1.4, include_top=False)
    assert wide.output_shape[-1] == 1792
    keras.backend.clear_session()


def test_smallest_input_has_every_stride_2_layer_halve_a_2x2_map():
    model = models.mobilenet_v2(input_shape=(17, 17, 3), include_top=False)
    assert model.output_shape == (None, 1, 1, 1280)
    with pytest.raises(ValueError, match="too small.*17x17"):
        models.mobilenet_v2(input_shape=(16, 16, 3))
    keras.backend.clear_session()


@pytest.mark.parametrize("alpha", [0, -1.0, "1.0", None, True])
def test_bad_alpha_is_rejected(alpha):
    with pytest.raises(ValueError, match="alpha"):
        models.mobilenet_v2(alpha=alpha)
    with pytest.raises(ValueError, match="alpha"):
        models.mobilenet_v2_fashion(alpha=alpha)


def test_fashion_variant_options_are_checked():
    with pytest.raises(ValueError, match="last_channels"):
        models.mobilenet_v2_fashion(last_channels=0)
    with pytest.raises(ValueError, match="dropout"):
        models.mobilenet_v2_fashion(dropout=-0.1)


def test_fashion_variant_keeps_17_blocks_with_three_downsamplings():
    model = models.mobilenet_v2_fashion(include_top=False)
    assert model.output_shape == (None, 4, 4, 1280)
    assert model.get_layer("stem_conv").strides == (1, 1)
    blocks = [layer for layer in model.layers if isinstance(layer, InvertedResidual)]
    assert len(blocks) == 17
    assert [b.filters for b in blocks if b.strides == 2] == [16, 16, 80]
    assert sorted({b.filters for b in blocks}) == [8, 16, 32, 48, 80, 160]
    assert sum(b.use_residual for b in blocks) == 10
    assert all(b.bn_momentum == 0.99 for b in blocks)
    assert models.mobilenet_v2_fashion().count_params() == 718_746
    full_width = models.mobilenet_v2_fashion(alpha=1.0, include_top=False)
    assert [b.filters for b in full_width.layers if isinstance(b, InvertedResidual)][-1] == 320
    keras.backend.clear_session()


# (t, C_out, repeats) of the fashion variant's stages: the widths of FASHION_STAGES
# times alpha = 0.5, rounded to multiples of 8.
FASHION_HALF_STAGES = [(1, 8, 1), (6, 16, 2), (6, 16, 3), (6, 32, 4), (6, 48, 3), (6, 80, 3)]
FASHION_HALF_STAGES += [(6, 160, 1)]


def fashion_hidden_widths() -> list[int]:
    """The expanded width t * C_in of each of the fashion variant's 17 blocks."""
    c_in, hidden = 16, []  # the stem's 32 * 0.5 channels
    for t, c_out, repeats in FASHION_HALF_STAGES:
        for _ in range(repeats):
            hidden.append(t * c_in)
            c_in = c_out
    return hidden


def test_fashion_variant_with_regular_3x3_convolutions():
    model = models.mobilenet_v2_fashion(separable=False)
    blocks = [layer for layer in model.layers if isinstance(layer, InvertedResidual)]
    hidden = fashion_hidden_widths()
    assert [tuple(b.depthwise.kernel.shape) for b in blocks] == [(3, 3, h, h) for h in hidden]
    # A regular 3x3 at hidden width h has 9*h*h weights, the depthwise one 9*h.
    added = sum(9 * h * h - 9 * h for h in hidden)
    assert added == 10_192_608
    assert model.count_params() == 718_746 + added
    keras.backend.clear_session()


def test_fashion_variant_without_linear_bottlenecks():
    model = models.mobilenet_v2_fashion(linear_bottleneck=False)
    blocks = [layer for layer in model.layers if isinstance(layer, InvertedResidual)]
    assert all(b.project_relu.max_value == 6.0 for b in blocks)
    # A ReLU6 has no weights: the count is the default's.
    assert model.count_params() == 718_746
    # block1 (stride 2, no shortcut) now ends on the ReLU6: outputs in [0, 6].
    upto = keras.Model(model.input, model.get_layer("block1").output)
    x = np.random.default_rng(0).normal(size=(2, 28, 28, 1)).astype("float32")
    out = np.asarray(upto(x, training=False))
    assert out.min() >= 0.0 and out.max() <= 6.0
    keras.backend.clear_session()


@pytest.mark.parametrize("option", ["separable", "linear_bottleneck"])
@pytest.mark.parametrize("value", ["false", 1, None])
def test_fashion_variant_refuses_non_boolean_switches(option, value):
    with pytest.raises(ValueError, match=f"{option} must be True or False, got {value!r}"):
        models.mobilenet_v2_fashion(**{option: value})
