"""Network in Network: mlpconv layers and a head with no dense layer."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnn_guide import models


def mlpconv_params(c_in: int, filters: int, kernel: int) -> int:
    return (kernel * kernel * c_in + 1) * filters + 2 * (filters * filters + filters)


def test_parameter_count_follows_the_layer_spec():
    # d2l's ImageNet NiN: (filters, kernel) of each mlpconv, the last with the classes.
    spec = [(3, 96, 11), (96, 256, 5), (256, 384, 3), (384, 1000, 3)]
    model = models.nin()
    assert model.count_params() == sum(mlpconv_params(*s) for s in spec) == 7_439_608
    assert model.get_layer("mlpconv4_mlp2").output.shape[1:] == (5, 5, 1000)
    keras.backend.clear_session()


@pytest.mark.parametrize("name", ["nin", "nin_fashion"])
def test_no_dense_layer_and_mlpconv_structure(name):
    model = models.build(name, num_classes=7, input_shape=(96, 96, 3 if name == "nin" else 1))
    assert not any(isinstance(layer, keras.layers.Dense) for layer in model.layers)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 12
    for first, mlp1, mlp2 in zip(convs[::3], convs[1::3], convs[2::3], strict=True):
        assert mlp1.kernel_size == mlp2.kernel_size == (1, 1)
        assert first.filters == mlp1.filters == mlp2.filters
        assert first.activation is mlp1.activation is mlp2.activation is keras.activations.relu
    assert convs[-1].filters == 7
    assert isinstance(model.layers[-2], keras.layers.GlobalAveragePooling2D)
    keras.backend.clear_session()


def test_fashion_head_sums_to_one_in_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = models.nin_fashion()
        assert model.get_layer("mlpconv4_mlp2").compute_dtype == "bfloat16"
        out = model(np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32))
        assert keras.backend.standardize_dtype(out.dtype) == "float32"
        np.testing.assert_allclose(np.sum(out, axis=1), 1.0, rtol=1e-6)
    finally:
        keras.mixed_precision.set_global_policy("float32")
        keras.backend.clear_session()


def test_classifier_activation_none_gives_the_averaged_class_maps():
    model = models.nin_fashion(classifier_activation=None)
    x = np.random.default_rng(1).random((2, 28, 28, 1), dtype=np.float32)
    maps = keras.Model(model.input, model.get_layer("mlpconv4_mlp2").output)(x)
    np.testing.assert_allclose(model(x), np.mean(maps, axis=(1, 2)), rtol=1e-5, atol=1e-7)


def test_fashion_variant_shapes_and_size():
    model = models.nin_fashion()
    assert model.get_layer("pool2").output.shape[1:] == (6, 6, 64)
    assert model.get_layer("mlpconv4_mlp2").output.shape[1:] == (6, 6, 10)
    assert model.count_params() == 148_390


def test_fashion_variant_with_a_fully_connected_head():
    model = models.nin_fashion(head="dense")
    names = [layer.name for layer in model.layers[-4:]]
    assert names == ["mlpconv4_mlp2", "flatten", "head_dropout", "predictions"]
    assert model.get_layer("head_dropout").rate == 0.5
    # The same mlpconvs, then a dense layer from the flattened 6x6x10 class maps
    # to 10 classes instead of a parameter-free average.
    spec = [(1, 32, 5), (32, 64, 3), (64, 128, 3), (128, 10, 3)]
    mlpconvs = sum(mlpconv_params(*s) for s in spec)
    assert model.count_params() == mlpconvs + (6 * 6 * 10) * 10 + 10
    out = model(np.random.default_rng(2).random((2, 28, 28, 1), dtype=np.float32))
    np.testing.assert_allclose(np.sum(out, axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("head", ["dense_layer", "gap", None])
def test_fashion_variant_rejects_an_unknown_head(head):
    message = r"head must be one of \('global_average', 'dense'\), got .*--option head=dense"
    with pytest.raises(ValueError, match=message):
        models.nin_fashion(head=head)


def test_feature_extractor_ends_before_the_class_maps():
    model = models.nin(include_top=False)
    assert model.output_shape == (None, 5, 5, 384)
    keras.backend.clear_session()


@pytest.mark.parametrize("name", ["nin", "nin_fashion"])
def test_rejects_a_bad_dropout(name):
    with pytest.raises(ValueError, match="dropout"):
        models.build(name, dropout=1.5)
