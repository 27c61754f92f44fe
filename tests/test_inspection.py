"""What a trained network sees: the kept weights, filters, maps, saliency, Grad-CAM and CAM."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnn_guide import models
from cnn_guide.evidence import full_run
from cnn_guide.inspection import (
    class_activation_map,
    feature_maps,
    first_layer_filters,
    grad_cam,
    last_feature_layer,
    load_checked_weights,
    saliency,
    stage_outputs,
    trained_full_run,
)
from cnn_guide.results import RECORDS_PATH, load_predictions
from cnn_guide.training import evaluate

BOOK = RECORDS_PATH  # the tests' own store is empty (conftest): read the book's


@pytest.fixture(scope="module")
def resnet():
    return trained_full_run("resnet_fashion", BOOK)


@pytest.fixture(scope="module")
def nin():
    return trained_full_run("nin_fashion", BOOK)


@pytest.fixture(scope="module")
def images(fashion):
    return fashion.x_test[:6]


def _mlp() -> keras.Model:
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, outputs, name="mlp")


def test_kept_weights_reproduce_the_recorded_predictions(resnet, fashion):
    recorded = load_predictions(full_run("resnet_fashion"), BOOK)
    now = evaluate(resnet, fashion.x_test[:500], fashion.y_test[:500]).predictions
    assert np.array_equal(now, recorded[:500])


def test_a_trained_network_saves_and_loads_in_safe_mode(resnet, images, tmp_path):
    file = tmp_path / "resnet_fashion.keras"
    resnet.save(file)
    loaded = keras.saving.load_model(file, safe_mode=True)
    assert np.allclose(
        loaded.predict(images, verbose=0), resnet.predict(images, verbose=0), atol=1e-6
    )


def test_weights_that_do_not_fit_get_a_clear_error(tmp_path):
    file = tmp_path / "lenet.weights.h5"
    models.build("lenet5_fashion").save_weights(file)
    with pytest.raises(
        ValueError, match="do not fit the model 'nin_fashion'.*Build the same network"
    ):
        load_checked_weights(models.build("nin_fashion"), file)
    # Same number of arrays, other shapes: the shapes that differ are named.
    models.build("lenet5_fashion", num_classes=5).save_weights(tmp_path / "five.weights.h5")
    with pytest.raises(
        ValueError,
        match=r"predictions/kernel has shape \(84, 10\) in the model but \(84, 5\) in the file",
    ):
        load_checked_weights(models.build("lenet5_fashion"), tmp_path / "five.weights.h5")
    (tmp_path / "text.weights.h5").write_text("not a weights file")
    with pytest.raises(ValueError, match="not a weights file Keras wrote"):
        load_checked_weights(models.build("nin_fashion"), tmp_path / "text.weights.h5")
    with pytest.raises(ValueError, match="no weights file at"):
        load_checked_weights(models.build("nin_fashion"), tmp_path / "missing.weights.h5")


def test_a_full_run_without_weights_names_the_command_that_keeps_them(tmp_path):
    with pytest.raises(
        ValueError, match=r"kept no weights.*cnn-guide record --plan full --models vgg_fashion"
    ):
        trained_full_run("vgg_fashion", tmp_path)
    with pytest.raises(ValueError, match="full run"):
        trained_full_run("no_such_net", tmp_path)


def test_first_layer_filters(resnet):
    assert first_layer_filters(resnet).shape == (3, 3, 1, 16)
    assert first_layer_filters(models.build("lenet5_fashion")).shape == (5, 5, 1, 6)
    with pytest.raises(ValueError, match="no convolution"):
        first_layer_filters(_mlp())


def test_stages_halve_the_map_and_double_the_filters(resnet, images):
    # Exercise 1: 28x28x16, 14x14x32, 7x7x64, and a 4x4 block of pixels per last cell.
    maps = feature_maps(resnet, images[0], stage_outputs(resnet))
    shapes = [value.shape for value in maps.values()]
    assert shapes == [(28, 28, 16), (14, 14, 32), (7, 7, 64)]
    assert [int(np.prod(shape)) for shape in shapes] == [12_544, 6_272, 3_136]
    assert last_feature_layer(resnet).name == list(maps)[-1]
    with pytest.raises(ValueError, match=r"one image of shape \(height, width, channels\)"):
        feature_maps(resnet, images)


def test_saliency_is_the_gradient_of_the_score_not_of_the_probability(images):
    # For a linear classifier the score's gradient is the class's weights, whatever the image.
    model = _mlp()
    maps = saliency(model, images, class_index=3)
    weights = np.abs(model.layers[-1].get_weights()[0][:, 3]).reshape(28, 28)
    expected = weights / weights.max()
    for value in maps:
        assert np.allclose(value, expected, atol=1e-5)


def test_grad_cam_explains_the_predicted_class_by_default(resnet, images):
    predicted = resnet.predict(images, verbose=0).argmax(axis=-1)
    by_default = grad_cam(resnet, images)
    assert by_default.shape == (6, 28, 28)
    assert np.allclose(by_default, grad_cam(resnet, images, class_index=predicted), atol=1e-6)
    assert np.allclose(by_default.reshape(6, -1).max(axis=1), 1.0)
    assert by_default.min() >= 0.0
    other = grad_cam(resnet, images, class_index=(predicted + 1) % 10)
    assert not np.allclose(by_default, other, atol=1e-3)


@pytest.mark.parametrize("name", ["nin", "resnet"])
def test_grad_cam_equals_cam_after_global_average_pooling(name, request, images):
    # Exercises 2 and 3: a map that is only averaged (and, for ResNet, weighted by one dense
    # layer) has a constant gradient, so Grad-CAM is the class activation map.
    model = request.getfixturevalue(name)
    difference = np.abs(grad_cam(model, images) - class_activation_map(model, images)).max()
    assert difference < 1e-5


def test_cam_needs_global_average_pooling_at_the_end():
    with pytest.raises(ValueError, match="does not end in global average pooling"):
        class_activation_map(models.build("vgg_fashion"), np.zeros((1, 28, 28, 1)))


def test_bad_requests_get_clear_errors(resnet, images):
    with pytest.raises(ValueError, match="no layer with a 4-D"):
        grad_cam(_mlp(), images)
    with pytest.raises(ValueError, match=r"class_index must be an integer from 0 to 9.*got 10"):
        grad_cam(resnet, images, class_index=10)
    with pytest.raises(ValueError, match="class_index must be an integer"):
        saliency(resnet, images, class_index=-1)
    with pytest.raises(ValueError, match=r"images\[None\]"):
        grad_cam(resnet, images[0])
    with pytest.raises(ValueError, match="has no layer 'dense' with a 4-D output"):
        grad_cam(resnet, images, layer="dense")
    with pytest.raises(ValueError, match="must end in a softmax"):
        saliency(models.build("resnet_fashion", classifier_activation=None), images)
