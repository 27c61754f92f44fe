"""Xception: the same network as keras.applications.Xception, and its options."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnn_guide import models
from cnn_guide._compat import flatten_layers
from cnn_guide.layers import SeparableConvBlock, XceptionBlock

# One middle-flow module: three separable 3x3 convolutions at 728 channels
# (depthwise + pointwise weights) and their batch normalizations.
MIDDLE_MODULE = 3 * (9 * 728 + 728 * 728 + 4 * 728)


def trainable(model: keras.Model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def random_weights(model: keras.Model, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        rng.uniform(0.5, 1.5, w.shape).astype("float32")
        if "moving_variance" in w.path
        else rng.normal(0.0, 0.05, w.shape).astype("float32")
        for w in model.weights
    ]


def test_identical_to_keras_applications_xception():
    """Same weights in the same order, same outputs: the smallest input Keras allows."""
    ours = models.xception(input_shape=(71, 71, 3))
    theirs = keras.applications.Xception(weights=None, input_shape=(71, 71, 3))
    assert ours.count_params() == theirs.count_params() == 22_910_480
    assert trainable(ours) == trainable(theirs) == 22_855_952
    assert [w.shape for w in ours.weights] == [w.shape for w in theirs.weights]
    weights = random_weights(theirs)
    theirs.set_weights(weights)
    ours.set_weights(weights)
    x = np.random.default_rng(1).uniform(-1, 1, (2, 71, 71, 3)).astype("float32")
    np.testing.assert_allclose(ours(x, training=False), theirs(x, training=False), atol=1e-5)
    keras.backend.clear_session()


def test_flows_and_final_map():
    model = models.xception(include_top=False)
    assert model.output_shape == (None, 10, 10, 2048)
    blocks = [layer for layer in model.layers if isinstance(layer, XceptionBlock)]
    assert [b.strides for b in blocks] == [2, 2, 2] + [1] * 8 + [2]
    assert [b.first_activation for b in blocks[:2]] == [False, True]
    assert [b.filters for b in blocks[3:5]] == [[728, 728, 728]] * 2
    assert blocks[-1].filters == [728, 1024]
    separable = [
        layer
        for layer in flatten_layers(model, include_self=False)
        if isinstance(layer, keras.layers.SeparableConv2D)
    ]
    assert len(separable) == 34  # with the two regular stem convolutions: 36
    keras.backend.clear_session()


@pytest.mark.parametrize("middle_blocks", [0, 2])
def test_middle_blocks_option(middle_blocks):
    model = models.xception(input_shape=(71, 71, 3), middle_blocks=middle_blocks)
    assert model.count_params() == 22_910_480 - (8 - middle_blocks) * MIDDLE_MODULE
    keras.backend.clear_session()


def test_without_residual_connections():
    model = models.xception(input_shape=(71, 71, 3), residual=False, include_top=False)
    shortcuts = [
        layer
        for layer in flatten_layers(model, include_self=False)
        if layer.name == "shortcut_conv"
    ]
    assert shortcuts == []
    # The four projections: 1x1 convolutions and their batch normalizations.
    projections = sum(
        (c_in + 4) * c_out for c_in, c_out in [(64, 128), (128, 256), (256, 728), (728, 1024)]
    )
    assert model.count_params() == 22_910_480 - 2049 * 1000 - projections
    keras.backend.clear_session()


def test_smallest_input_has_every_pooling_reduce_a_2x2_map():
    model = models.xception(input_shape=(23, 23, 3), include_top=False)
    assert model.output_shape == (None, 1, 1, 2048)
    with pytest.raises(ValueError, match="too small.*23x23"):
        models.xception(input_shape=(22, 40, 3))
    keras.backend.clear_session()


def test_bad_middle_blocks_is_rejected():
    with pytest.raises(ValueError, match="middle_blocks"):
        models.xception(middle_blocks=-1)
    with pytest.raises(ValueError, match="dropout"):
        models.xception_fashion(dropout=1.0)


def test_fashion_variant_keeps_the_three_flows():
    model = models.xception_fashion(include_top=False)
    assert model.output_shape == (None, 4, 4, 288)
    blocks = [layer for layer in model.layers if isinstance(layer, XceptionBlock)]
    assert [(b.strides, b.filters) for b in blocks] == [
        (2, [48, 48]),
        (2, [96, 96]),
        *[(1, [96, 96, 96])] * 4,
        (2, [96, 144]),
    ]
    tail = [layer for layer in model.layers if isinstance(layer, SeparableConvBlock)]
    assert [(t.filters, t.activation_first) for t in tail] == [
        (216, False),
        (288, False),
    ]
    stem = model.get_layer("stem_conv")
    assert stem.strides == (1, 1) and stem.padding == "same"
    assert models.xception_fashion().count_params() == 294_178
    keras.backend.clear_session()


# (C_in, C_out) of the fashion variant's 20 separable convolutions, in order: entry
# modules (48, 48) and (96, 96) from the 24-channel stem, 4 middle modules of three
# 96 -> 96, the exit module (96, 144), then 144 -> 216 -> 288.
FASHION_SEPARABLE = [(24, 48), (48, 48), (48, 96), (96, 96)]
FASHION_SEPARABLE += [(96, 96)] * 12 + [(96, 96), (96, 144), (144, 216), (216, 288)]


def test_fashion_variant_with_regular_convolutions():
    model = models.xception_fashion(separable=False)
    layers = flatten_layers(model, include_self=False)
    assert not any(isinstance(layer, keras.layers.SeparableConv2D) for layer in layers)
    # A regular 3x3 convolution has 9*C_in*C_out weights where the separable one has
    # 9*C_in + C_in*C_out: C_in*(8*C_out - 9) more; biases and BatchNorms are unchanged.
    added = sum(c_in * (8 * c_out - 9) for c_in, c_out in FASHION_SEPARABLE)
    assert added == 1_936_512
    assert model.count_params() == 294_178 + added
    assert model.output_shape == models.xception_fashion().output_shape
    keras.backend.clear_session()


@pytest.mark.parametrize("value", ["false", 0, None])
def test_fashion_variant_refuses_a_non_boolean_separable(value):
    with pytest.raises(ValueError, match="xception_fashion: separable must be True or False"):
        models.xception_fashion(separable=value)
