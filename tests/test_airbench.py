"""airbench's ingredients in the network: the whitened stem, GELU, identity
initialization and faster-learning batch-norm biases."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from cnn_guide import models
from cnn_guide.layers import (
    IdentityInitializer,
    PatchWhitening,
    ScaledBias,
    adapt_patch_whitening,
)


def _outputs(layer: PatchWhitening, images: np.ndarray) -> np.ndarray:
    """The layer's outputs at every position, one row per patch."""
    out = keras.ops.convert_to_numpy(layer(images))
    return out.reshape(-1, out.shape[-1])


def test_adapted_filters_whiten_the_patches_of_real_images(fashion):
    images = fashion.x_train[:2000]
    layer = PatchWhitening(2)
    assert not layer.adapted
    eigenvalues = layer.adapt(images)
    assert layer.adapted and np.all(np.diff(eigenvalues) <= 0)  # largest first
    out = _outputs(layer, images)
    directions = 4  # a 2x2 patch of one channel
    assert out.shape[1] == 2 * directions
    # The second half is the first, negated: a ReLU after keeps both signs.
    assert np.allclose(out[:, directions:], -out[:, :directions], atol=1e-5)
    # Uncorrelated, each of variance s / (s + epsilon): nearly 1 where s >> epsilon.
    moments = out[:, :directions].T @ out[:, :directions] / len(out)
    expected = np.diag(eigenvalues / (eigenvalues + layer.epsilon))
    assert np.allclose(moments, expected, atol=2e-3)
    # Real pixels are far from white: neighbours are nearly equal, one direction dominates.
    assert eigenvalues[0] > 20 * eigenvalues[-1]


def test_the_whitened_stem_trains_around_frozen_filters_and_saves(small_fashion, tmp_path):
    from cnn_guide.recipes import get_recipe
    from cnn_guide.training import WHITENING_IMAGES, fit

    model = models.build("fast_resnet_fashion", whiten=True)
    stem = model.get_layer("stem_whitening")
    assert stem.trainable_weights == [] and len(stem.non_trainable_weights) == 1
    assert model.get_layer("stem_relu").output.shape[1:3] == (27, 27)

    result = fit(model, small_fashion, get_recipe("protocol", steps=3), verbose=0)
    # fit set the filters from the training images, and training left them as set.
    reference = PatchWhitening(2)
    reference.adapt(small_fashion.x_train[:WHITENING_IMAGES])
    assert np.allclose(stem.kernel.numpy(), reference.kernel.numpy(), atol=1e-6)

    path = tmp_path / "whitened.keras"
    result.model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    batch = small_fashion.x_test[:16]
    assert np.allclose(loaded.predict(batch, verbose=0), result.model.predict(batch, verbose=0))
    # Adapted already: fit leaves a loaded stem as it is.
    assert adapt_patch_whitening(loaded, small_fashion.x_train[:64] * 0.5) == 0


def test_gelu_is_an_option_of_the_fast_network():
    relu = models.build("fast_resnet_fashion")
    gelu = models.build("fast_resnet_fashion", activation="gelu")
    assert relu.count_params() == gelu.count_params() == 117_210
    assert [layer.name for layer in gelu.layers if layer.name.endswith("_gelu")][:2] == [
        "stem_gelu",
        "stage2_gelu",
    ]
    with pytest.raises(ValueError, match="activation must be one of relu, gelu, got 'tanh'"):
        models.build("fast_resnet_fashion", activation="tanh")


def test_bad_whitening_input_is_refused_clearly():
    with pytest.raises(ValueError, match="size must be a positive int, got 0"):
        PatchWhitening(0)
    with pytest.raises(ValueError, match="epsilon must be positive, got 0"):
        PatchWhitening(2, epsilon=0)
    with pytest.raises(ValueError, match=r"takes \(n, height, width, 1\) images .* got shape"):
        layer = PatchWhitening(2)
        layer.build((None, 28, 28, 1))
        layer.adapt(np.zeros((4, 28, 28, 3)))
    with pytest.raises(ValueError, match="needs at least 4 patches"):
        PatchWhitening(2).adapt(np.zeros((1, 2, 2, 1)) + 0.5)
    # A whitening layer deeper in the network sees activations, not images.
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(2, 3)(inputs)
    deep = keras.Model(inputs, PatchWhitening(2, name="deep_whitening")(x))
    with pytest.raises(ValueError, match="'deep_whitening' does not take the model's input"):
        adapt_patch_whitening(deep, np.zeros((8, 28, 28, 1)))


def test_identity_initialized_convolutions_pass_their_input_through():
    kernel = np.asarray(IdentityInitializer(seed=1)((3, 3, 4, 6)))
    # The first four filters copy input channel i from the centre tap, and nothing else.
    for i in range(4):
        expected = np.zeros((3, 3, 4))
        expected[1, 1, i] = 1.0
        np.testing.assert_array_equal(kernel[..., i], expected)
    assert np.abs(kernel[..., 4:]).sum() > 0  # the rest are He-normal
    model = models.build("fast_resnet_fashion", identity_init=True)
    pair = np.asarray(model.get_layer("res3a_conv").kernel)
    np.testing.assert_array_equal(pair[1, 1], np.eye(64))
    with pytest.raises(ValueError, match=r"2D convolution kernels .* got shape \(3, 4\)"):
        IdentityInitializer()((3, 4))


def test_a_scaled_bias_moves_scale_times_as_far_under_adam():
    inputs = np.ones((4, 3), dtype="float32")
    moved = []
    for scale in (1.0, 64.0):
        layer = ScaledBias(scale)
        layer.build((None, 3))
        optimizer = keras.optimizers.Adam(1e-3)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(inputs))
        optimizer.apply_gradients([(tape.gradient(loss, layer.bias), layer.bias)])
        moved.append(float(np.abs(layer(inputs) - inputs).max()))
    assert moved[1] == pytest.approx(64 * moved[0], rel=1e-3)
    with pytest.raises(ValueError, match="scale must be positive, got 0"):
        ScaledBias(0)


def test_airbench_options_keep_the_parameters_and_save_safely(tmp_path):
    plain = models.build("fast_resnet_fashion")
    both = models.build("fast_resnet_fashion", identity_init=True, bias_rate=64.0)
    assert plain.count_params() == both.count_params() == 117_210
    assert both.get_layer("stem_bias").scale == 64.0
    assert not both.get_layer("stem_bn").center
    path = tmp_path / "airbench.keras"
    both.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    images = np.random.default_rng(0).random((2, 28, 28, 1), dtype="float32")
    np.testing.assert_allclose(loaded(images), both(images), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="bias_rate must be positive, got -1"):
        models.build("fast_resnet_fashion", bias_rate=-1)
