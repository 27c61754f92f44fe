"""GoogLeNet: Table 1's modules, the stem's LRN, the auxiliary classifiers, the variant."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnn_guide import models
from cnn_guide.layers import InceptionModule, LocalResponseNormalization


@pytest.fixture(scope="module")
def googlenet():
    model = models.googlenet()
    yield model
    keras.backend.clear_session()


def test_modules_follow_table_1(googlenet):
    modules = [layer for layer in googlenet.layers if isinstance(layer, InceptionModule)]
    assert [m.name for m in modules] == [
        f"inception_{x}" for x in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")
    ]
    assert [m.output.shape[1:] for m in modules] == [
        (28, 28, 256),
        (28, 28, 480),
        (14, 14, 512),
        (14, 14, 512),
        (14, 14, 512),
        (14, 14, 528),
        (14, 14, 832),
        (7, 7, 832),
        (7, 7, 1024),
    ]
    assert modules[0].count_params() == 163_696


def test_stem_and_lrn(googlenet):
    names = [layer.name for layer in googlenet.layers[1:8]]
    assert names == ["conv1", "pool1", "lrn1", "conv2_reduce", "conv2", "lrn2", "pool2"]
    assert googlenet.get_layer("pool2").output.shape[1:] == (28, 28, 192)
    lrns = [layer for layer in googlenet.layers if isinstance(layer, LocalResponseNormalization)]
    assert len(lrns) == 2
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in googlenet.layers)


def test_head(googlenet):
    assert [type(layer).__name__ for layer in googlenet.layers[-3:]] == [
        "GlobalAveragePooling2D",
        "Dropout",
        "Dense",
    ]
    assert googlenet.layers[-2].rate == 0.4


def test_auxiliary_classifiers():
    model = models.googlenet(aux_classifiers=True)
    assert model.count_params() == 13_378_280
    assert model.output_names == ["predictions", "aux1_predictions", "aux2_predictions"]
    assert model.get_layer("aux1_avg_pool").output.shape[1:] == (4, 4, 512)
    assert model.get_layer("aux2_avg_pool").output.shape[1:] == (4, 4, 528)
    assert model.get_layer("aux1_fc").units == 1024
    assert model.get_layer("aux2_dropout").rate == 0.7
    aux_weights = sum(
        layer.count_params() for layer in model.layers if layer.name.startswith("aux")
    )
    assert aux_weights == 13_378_280 - 6_998_552
    keras.backend.clear_session()


def test_auxiliary_classifiers_give_three_softmax_outputs():
    model = models.googlenet(aux_classifiers=True, input_shape=(65, 65, 3), num_classes=5)
    outputs = model(np.random.default_rng(0).random((2, 65, 65, 3), dtype=np.float32))
    assert len(outputs) == 3
    for out in outputs:
        assert out.shape == (2, 5)
        np.testing.assert_allclose(np.sum(out, axis=1), 1.0, rtol=1e-5)
    keras.backend.clear_session()


def test_auxiliary_classifiers_need_65_pixels_and_the_head():
    with pytest.raises(ValueError, match="too small"):
        models.googlenet(aux_classifiers=True, input_shape=(64, 64, 3))
    with pytest.raises(ValueError, match="include_top"):
        models.googlenet(aux_classifiers=True, include_top=False)


def test_fashion_variant():
    model = models.googlenet_fashion()
    modules = [layer for layer in model.layers if isinstance(layer, InceptionModule)]
    assert [m.output.shape[1:] for m in modules] == [(14, 14, 128), (7, 7, 240), (7, 7, 256)]
    assert model.count_params() == 232_442
    assert model.layers[-2].rate == 0.4


def test_fashion_variant_with_naive_modules():
    model = models.googlenet_fashion(reductions=False)
    modules = [layer for layer in model.layers if isinstance(layer, InceptionModule)]
    # Figure 2a: the pooling branch passes its input on, so each module adds
    # 1x1 + 3x3 + 5x5 filters to the channels it reads: 64 -> 176 -> 384 -> 608.
    assert [m.output.shape[1:] for m in modules] == [(14, 14, 176), (7, 7, 384), (7, 7, 608)]

    def naive(c_in: int, f1: int, f3: int, f5: int) -> int:
        return (c_in + 1) * f1 + (9 * c_in + 1) * f3 + (25 * c_in + 1) * f5

    # The stem (3*3*1 + 1)*64, the three modules (Table 1's halved 1x1, 3x3 and
    # 5x5 counts, on the widened inputs), then the classifier (608 + 1)*10.
    expected = (
        (9 + 1) * 64
        + naive(64, 32, 64, 16)
        + naive(176, 64, 96, 48)
        + naive(384, 96, 104, 24)
        + (608 + 1) * 10
    )
    assert model.count_params() == expected
    assert not any("reduce" in w.path or "proj" in w.path for w in model.weights)


@pytest.mark.parametrize("value", ["false", 1, None])
def test_fashion_variant_refuses_a_non_boolean_reductions(value):
    with pytest.raises(ValueError, match="googlenet_fashion: reductions must be True or False"):
        models.googlenet_fashion(reductions=value)


def test_rejects_a_bad_dropout():
    with pytest.raises(ValueError, match="dropout"):
        models.googlenet_fashion(dropout=1.0)
