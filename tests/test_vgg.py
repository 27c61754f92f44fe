"""VGG: the four configurations of Table 1, checked against keras.applications."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnn_guide import models
from cnn_guide.models.vgg import VGG_CONFIGS

APPLICATIONS = {"vgg16": keras.applications.VGG16, "vgg19": keras.applications.VGG19}


@pytest.mark.parametrize("name", ["vgg16", "vgg19"])
def test_same_weights_as_keras_applications(name):
    ours = models.build(name)
    theirs = APPLICATIONS[name](weights=None)
    assert ours.count_params() == theirs.count_params() == models.get_info(name).reference_params
    ours_shapes = {
        layer.name: [w.shape for w in layer.weights] for layer in ours.layers if layer.weights
    }
    theirs_shapes = {
        layer.name: [w.shape for w in layer.weights] for layer in theirs.layers if layer.weights
    }
    assert ours_shapes == theirs_shapes
    keras.backend.clear_session()


@pytest.mark.parametrize("name", ["vgg16", "vgg19"])
def test_same_features_as_keras_applications_on_copied_weights(name):
    shape = (32, 32, 3)
    theirs = APPLICATIONS[name](weights=None, include_top=False, input_shape=shape)
    ours = models.build(name, include_top=False, input_shape=shape)
    for layer in theirs.layers:
        if layer.weights:
            ours.get_layer(layer.name).set_weights(layer.get_weights())
    x = np.random.default_rng(0).random((2, *shape), dtype=np.float32)
    assert ours.output_shape == theirs.output_shape == (None, 1, 1, 512)
    np.testing.assert_allclose(ours(x), theirs(x), rtol=1e-4, atol=1e-5)
    keras.backend.clear_session()


@pytest.mark.parametrize(
    ("name", "config", "convs"),
    [("vgg11", "A", 8), ("vgg13", "B", 10), ("vgg16", "D", 13), ("vgg19", "E", 16)],
)
def test_configurations_have_the_papers_depth(name, config, convs):
    # Built without the head at 32x32: the convolutions are what differ.
    model = models.build(name, include_top=False, input_shape=(32, 32, 3))
    conv_layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(conv_layers) == convs == sum(len(block) for block in VGG_CONFIGS[config])
    assert all(layer.kernel_size == (3, 3) and layer.padding == "same" for layer in conv_layers)
    assert [layer.filters for layer in conv_layers] == [f for b in VGG_CONFIGS[config] for f in b]
    pools = [layer for layer in model.layers if isinstance(layer, keras.layers.MaxPooling2D)]
    assert len(pools) == 5
    keras.backend.clear_session()


def test_head_has_dropout_after_both_hidden_dense_layers():
    model = models.vgg11(input_shape=(32, 32, 3), num_classes=10)
    names = [layer.name for layer in model.layers]
    assert names[-6:] == ["flatten", "fc1", "dropout1", "fc2", "dropout2", "predictions"]
    assert model.get_layer("fc1").units == 4096


def test_fashion_variant_blocks():
    model = models.vgg_fashion()
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [layer.name for layer in convs] == [
        "block1_conv1",
        "block2_conv1",
        "block2_conv2",
        "block3_conv1",
        "block3_conv2",
    ]
    assert [layer.filters for layer in convs] == [32, 64, 64, 128, 128]
    assert all(layer.kernel_size == (3, 3) for layer in convs)
    assert model.get_layer("block3_pool").output.shape[1:] == (3, 3, 128)
    assert model.get_layer("fc1").units == 256
    assert model.count_params() == 640_714


def test_fashion_variant_with_one_large_kernel_per_block():
    model = models.vgg_fashion(stacked_kernels=False)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    # n stacked 3x3 convolutions see 2n+1 pixels: blocks of 1, 2, 2 become 3x3, 5x5, 5x5.
    assert [(c.name, c.kernel_size, c.filters) for c in convs] == [
        ("block1_conv1", (3, 3), 32),
        ("block2_conv1", (5, 5), 64),
        ("block3_conv1", (5, 5), 128),
    ]
    assert model.get_layer("block3_pool").output.shape[1:] == (3, 3, 128)
    # (k*k*c_in + 1)*filters per convolution, then the unchanged dense head.
    convs = (9 * 1 + 1) * 32 + (25 * 32 + 1) * 64 + (25 * 64 + 1) * 128
    head = (3 * 3 * 128 + 1) * 256 + (256 + 1) * 256 + (256 + 1) * 10
    assert model.count_params() == convs + head


@pytest.mark.parametrize("value", ["false", 0, None])
def test_fashion_variant_refuses_a_non_boolean_stacked_kernels(value):
    with pytest.raises(ValueError, match=r"vgg_fashion: stacked_kernels must be True or False"):
        models.vgg_fashion(stacked_kernels=value)


def test_rejects_a_bad_dropout():
    with pytest.raises(ValueError, match="dropout"):
        models.vgg16(dropout=-0.1)


def test_fashion_variant_with_batch_norm():
    model = models.vgg_fashion(batch_norm=True)
    names = [layer.name for layer in model.layers][1:7]
    assert names == [
        "block1_conv1",
        "block1_bn1",
        "block1_relu1",
        "block1_pool",
        "block2_conv1",
        "block2_bn1",
    ]
    # Each of the five convolutions of F filters trades its F biases for 4F
    # normalization numbers (scale, shift, moving mean and variance).
    filters = 32 + 64 + 64 + 128 + 128
    assert model.count_params() == 640_714 + 3 * filters
    with pytest.raises(ValueError, match=r"vgg_fashion: batch_norm must be True or False"):
        models.vgg_fashion(batch_norm="yes")
