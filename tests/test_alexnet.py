"""AlexNet: the paper's shapes, the two-GPU grouping, LRN placement, the variant."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnn_guide import models
from cnn_guide.layers import LocalResponseNormalization


@pytest.fixture(scope="module")
def alexnet_one_tower():
    model = models.alexnet()
    yield model
    keras.backend.clear_session()


def test_feature_map_sizes_at_227(alexnet_one_tower):
    shapes = {layer.name: layer.output.shape[1:] for layer in alexnet_one_tower.layers[1:]}
    assert shapes["conv1"] == (55, 55, 96)
    assert shapes["pool1"] == (27, 27, 96)
    assert shapes["conv2"] == (27, 27, 256)
    assert shapes["pool2"] == (13, 13, 256)
    assert shapes["conv5"] == (13, 13, 256)
    assert shapes["pool5"] == (6, 6, 256)
    assert shapes["flatten"] == (9216,)
    assert shapes["fc6"] == shapes["fc7"] == (4096,)


def test_lrn_follows_conv1_and_conv2_with_the_papers_constants(alexnet_one_tower):
    names = [layer.name for layer in alexnet_one_tower.layers]
    assert names[1:5] == ["conv1", "lrn1", "pool1", "conv2"]
    assert names[5:7] == ["lrn2", "pool2"]
    lrns = [
        layer for layer in alexnet_one_tower.layers if isinstance(layer, LocalResponseNormalization)
    ]
    assert [layer.name for layer in lrns] == ["lrn1", "lrn2"]
    for lrn in lrns:
        assert (lrn.depth_radius, lrn.bias, lrn.alpha, lrn.beta) == (2, 2.0, 1e-4, 0.75)


def test_overlapping_pooling_and_dropout(alexnet_one_tower):
    pools = [
        layer for layer in alexnet_one_tower.layers if isinstance(layer, keras.layers.MaxPooling2D)
    ]
    assert [(p.pool_size, p.strides) for p in pools] == [((3, 3), (2, 2))] * 3
    drops = [layer for layer in alexnet_one_tower.layers if isinstance(layer, keras.layers.Dropout)]
    assert [d.rate for d in drops] == [0.5, 0.5]


def test_dense_layers_hold_most_of_the_weights(alexnet_one_tower):
    dense = sum(
        layer.count_params()
        for layer in alexnet_one_tower.layers
        if isinstance(layer, keras.layers.Dense)
    )
    assert dense == 58_631_144
    assert dense / alexnet_one_tower.count_params() > 0.93


def test_grouped_form_groups_conv2_conv4_conv5_only():
    model = models.alexnet_grouped()
    groups = {
        layer.name: layer.groups for layer in model.layers if isinstance(layer, keras.layers.Conv2D)
    }
    assert groups == {"conv1": 1, "conv2": 2, "conv3": 1, "conv4": 2, "conv5": 2}
    assert model.get_layer("conv2").kernel.shape == (5, 5, 48, 256)
    assert model.count_params() == 60_965_224
    keras.backend.clear_session()


def test_groups_option_equals_the_registered_grouped_form():
    a = models.alexnet(groups=2, include_top=False)
    b = models.alexnet_grouped(include_top=False)
    assert a.count_params() == b.count_params() == 60_965_224 - 58_631_144
    keras.backend.clear_session()


def test_grouped_form_runs_on_this_machine():
    model = models.alexnet_grouped(input_shape=(67, 67, 3), num_classes=5)
    out = model(np.random.default_rng(0).random((2, 67, 67, 3), dtype=np.float32))
    assert out.shape == (2, 5)
    np.testing.assert_allclose(np.sum(out, axis=1), 1.0, rtol=1e-5)
    keras.backend.clear_session()


@pytest.mark.parametrize("groups", [0, 3, 64, 2.0, True])
def test_rejects_groups_that_do_not_divide_the_channels(groups):
    with pytest.raises(ValueError, match="groups"):
        models.alexnet(groups=groups)


@pytest.mark.parametrize("name", ["alexnet", "alexnet_fashion"])
def test_rejects_a_bad_dropout(name):
    with pytest.raises(ValueError, match="dropout"):
        models.build(name, dropout=1.0)


def test_fashion_variant_keeps_the_signature_ideas():
    model = models.alexnet_fashion()
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("LocalResponseNormalization") == 2
    assert kinds.count("Conv2D") == 5 and kinds.count("Dropout") == 2
    pools = [layer for layer in model.layers if isinstance(layer, keras.layers.MaxPooling2D)]
    assert all(p.pool_size == (3, 3) and p.strides == (2, 2) for p in pools)
    assert model.get_layer("pool5").output.shape[1:] == (2, 2, 64)
    assert model.count_params() == 645_258


def test_fashion_variant_with_tanh_as_in_figure_1():
    model = models.alexnet_fashion(activation="tanh")
    # Activations have no weights: conv1 (5*5*1 + 1)*32, conv2 (5*5*32 + 1)*64,
    # conv3 (3*3*64 + 1)*96, conv4 (3*3*96 + 1)*96, conv5 (3*3*96 + 1)*64, then
    # fc6 (2*2*64 + 1)*512, fc7 (512 + 1)*512, output (512 + 1)*10, as with ReLU.
    convs = 26 * 32 + (25 * 32 + 1) * 64 + (9 * 64 + 1) * 96 + (9 * 96 + 1) * (96 + 64)
    dense = (256 + 1) * 512 + (512 + 1) * 512 + (512 + 1) * 10
    assert model.count_params() == convs + dense == models.alexnet_fashion().count_params()
    hidden = [f"conv{i}" for i in range(1, 6)] + ["fc6", "fc7"]
    for name in hidden:
        layer = model.get_layer(name)
        assert layer.activation is keras.activations.tanh, name
        assert isinstance(layer.kernel_initializer, keras.initializers.GlorotUniform), name
    assert model.get_layer("predictions").activation is keras.activations.softmax


@pytest.mark.parametrize("activation", ["sigmoid", "Tanh", None])
def test_fashion_variant_rejects_an_unknown_activation(activation):
    message = r"activation must be one of \('relu', 'tanh'\), got .*--option activation=tanh"
    with pytest.raises(ValueError, match=message):
        models.alexnet_fashion(activation=activation)


def test_fashion_variant_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = models.alexnet_fashion()
        out = model(np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32))
        assert keras.backend.standardize_dtype(out.dtype) == "float32"
        np.testing.assert_allclose(np.sum(out, axis=1), 1.0, rtol=1e-5)
    finally:
        keras.mixed_precision.set_global_policy("float32")
        keras.backend.clear_session()
