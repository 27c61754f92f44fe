"""cnn_guide.transfer and the transfer task of a run: freezing, fine-tuning, keras.applications.

Nothing here downloads: the keras.applications path loads a weights file the
test writes itself, from the same network built with ``weights=None``.
"""

from __future__ import annotations

import argparse
import os

import keras
import numpy as np
import pytest

from cnn_guide import models
from cnn_guide._compat import flatten_layers
from cnn_guide.recipes import get_recipe
from cnn_guide.runs import RunSpec, trained_top_blocks
from cnn_guide.transfer import (
    APPLICATIONS,
    application_base,
    application_classifier,
    freeze_base,
    trainable_summary,
    unfreeze_top,
)


@pytest.fixture(autouse=True)
def _no_download(monkeypatch):
    """Any attempt to download (weights, data) fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"a test tried to download: {args} {kwargs}")

    monkeypatch.setattr(keras.utils, "get_file", refuse)
    monkeypatch.setattr("keras.src.utils.file_utils.get_file", refuse)


def _tiny_resnet() -> keras.Model:
    keras.utils.set_random_seed(1)
    return models.build(
        "resnet_fashion", widths=(4, 8), blocks_per_stage=1, num_classes=3, input_shape=(12, 12, 1)
    )


def _state(model: keras.Model) -> dict[int, np.ndarray]:
    """Every variable of the model (weights and batch-norm statistics), by identity."""
    return {id(variable): np.array(variable) for variable in model.weights}


def _train(model: keras.Model, steps: int = 4, side: int = 12) -> None:
    rng = np.random.default_rng(0)
    x = rng.random((32, side, side, model.input_shape[-1]), dtype=np.float32)
    y = keras.utils.to_categorical(rng.integers(0, model.output_shape[-1], 32))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="categorical_crossentropy")
    model.fit(x, y, batch_size=8, epochs=1, steps_per_epoch=steps, verbose=0)


def _changed(before, after, layer: keras.layers.Layer) -> bool:
    """Whether any variable of ``layer`` (its sublayers' included) changed."""
    return any(not np.array_equal(before[id(v)], after[id(v)]) for v in layer.weights)


def test_a_frozen_base_trains_only_the_classifier():
    model = _tiny_resnet()
    trained = freeze_base(model)
    assert [layer.name for layer in trained] == ["predictions"]
    before = _state(model)
    _train(model)
    after = _state(model)
    moved = {layer.name for layer in model.layers if _changed(before, after, layer)}
    assert moved == {"predictions"}  # batch norm's moving statistics too stayed put


def test_fine_tuning_trains_the_top_blocks_with_their_batch_norm_frozen():
    model = _tiny_resnet()
    blocks = [layer.name for layer in model.layers if layer.weights][:-1]
    assert blocks == ["conv1_conv", "conv1_bn", "conv2_block1", "conv3_block1"]
    trained = freeze_base(model, train_top=2)
    assert [layer.name for layer in trained] == ["conv2_block1", "conv3_block1", "predictions"]
    norms = [
        layer
        for block in trained[:2]
        for layer in flatten_layers(block)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert norms and not any(layer.trainable for layer in norms)
    before = _state(model)
    _train(model)
    after = _state(model)
    # The blocks below are untouched, weights and moving statistics alike.
    for frozen in ("conv1_conv", "conv1_bn"):
        assert not _changed(before, after, model.get_layer(frozen)), frozen
    # Inside the top blocks, the convolutions learned and batch norm stayed as pretrained.
    for norm in norms:
        assert not _changed(before, after, norm), norm.name
    convolutions = [
        layer
        for block in trained[:2]
        for layer in flatten_layers(block)
        if isinstance(layer, keras.layers.Conv2D)
    ]
    assert len(convolutions) == 5  # two per unit, and the projection shortcut
    assert all(_changed(before, after, layer) for layer in convolutions)
    assert _changed(before, after, model.get_layer("predictions"))


def test_freeze_base_says_what_it_expected():
    model = _tiny_resnet()
    with pytest.raises(ValueError, match=r"train_top must be from 0 to 4 .* got 5"):
        freeze_base(model, train_top=5)
    with pytest.raises(ValueError, match="train_top must be an integer, got '2'"):
        freeze_base(model, train_top="2")
    only_head = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="needs layers with weights below a classifier"):
        freeze_base(only_head)


@pytest.mark.parametrize(
    ("value", "blocks"), [("base", 0), ("except-top:1", 1), ("except-top:12", 12)]
)
def test_freeze_values(value, blocks):
    assert trained_top_blocks(value) == blocks
    spec = RunSpec.of("resnet_fashion", task={"start_from": "some run", "freeze": value})
    assert f"--freeze {value}" in spec.command


@pytest.mark.parametrize("value", ["top:2", "except-top:0", "except-top:-1", "except-top:", "all"])
def test_bad_freeze_values_are_refused_with_the_ones_that_work(value):
    with pytest.raises(ValueError, match=r"freeze must be 'base' .* or 'except-top:N'"):
        trained_top_blocks(value)
    with pytest.raises(ValueError, match=f"got {value!r}"):
        RunSpec.of("resnet_fashion", task={"start_from": "some run", "freeze": value})
    from cnn_guide.cli._args import freeze

    with pytest.raises(argparse.ArgumentTypeError, match="except-top:2"):
        freeze(value)


def test_steps_per_epoch_fixes_an_epoch_whatever_the_images():
    recipe = get_recipe("book", steps_per_epoch=40)
    assert recipe.epoch_steps(50, 128) == recipe.epoch_steps(5_000, 128) == 40
    assert recipe.max_steps(50, 128) == 400
    assert get_recipe("book").epoch_steps(50, 128) == 1  # one pass, by default
    assert "of 40 steps each" in recipe.describe()
    with pytest.raises(ValueError, match="steps_per_epoch must be a positive integer"):
        get_recipe("book", steps_per_epoch=0)
    spec = RunSpec.of("resnet_fashion", steps_per_epoch=40)
    assert "--steps-per-epoch 40" in spec.command


def test_a_run_of_few_labels_validates_once_per_fixed_epoch(tiny_data):
    from cnn_guide.training import fit

    few = tiny_data.restrict((1, 3, 5), 2, seed=0)  # 6 labelled images: one pass is 1 step
    recipe = get_recipe("protocol", epochs=3, steps_per_epoch=2, batch_size=4)
    result = fit(lambda: models.build("lenet5_fashion", num_classes=3), few, recipe, verbose=0)
    assert len(result.history["val_accuracy"]) == 3
    assert result.epochs == 3 and result.images == 3 * 2 * 4


@pytest.fixture(scope="module")
def tiny_data():
    from cnn_guide.data import load_fashion_mnist

    return load_fashion_mnist(download=False).subset(train=300, valid=60, test=60)


# --- keras.applications, against a weights file the test writes ------------------------


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    """MobileNetV2's weights without its top, as a file: built with weights=None and saved."""
    keras.utils.set_random_seed(3)
    base = application_base("MobileNetV2", weights=None, size=32)
    path = tmp_path_factory.mktemp("weights") / "mobilenet_v2_no_top.weights.h5"
    base.save_weights(path)
    return path, [np.array(w) for w in base.weights]


def test_an_application_loads_the_weights_file_it_is_given(stand_in):
    path, saved = stand_in
    model = application_classifier("MobileNetV2", num_classes=5, weights=path, size=32)
    base = model.get_layer("mobilenetv2_1.00_32")
    assert all(np.array_equal(np.array(w), s) for w, s in zip(base.weights, saved, strict=True))
    assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 5)
    assert model.get_layer("resize").output.shape[1:] == (32, 32, 1)
    assert model.get_layer("gray_to_rgb").output.shape[1:] == (32, 32, 3)
    # Frozen: only the new head trains.
    assert not base.trainable
    assert trainable_summary(model) == {"trainable": 1280 * 5 + 5, "frozen": base.count_params()}


def test_an_application_preprocesses_as_its_own_preprocess_input(stand_in):
    # The model's output is the base's and the head's on the images resized, copied to
    # three channels, scaled to [0, 255] and passed through MobileNetV2's preprocess_input.
    path, _ = stand_in
    model = application_classifier("MobileNetV2", num_classes=5, weights=path, size=32)
    images = np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32)
    by_hand = keras.applications.mobilenet_v2.preprocess_input(
        np.repeat(keras.layers.Resizing(32, 32)(images).numpy() * 255.0, 3, axis=-1)
    )
    assert -1 <= float(np.min(by_hand)) and float(np.max(by_hand)) <= 1
    features = model.get_layer("mobilenetv2_1.00_32")(by_hand, training=False)
    expected = model.get_layer("predictions")(features)
    assert np.allclose(model(images), expected, atol=1e-5)


def test_unfreezing_the_top_of_an_application_keeps_its_batch_norm_frozen(stand_in):
    path, _ = stand_in
    model = application_classifier("MobileNetV2", num_classes=3, weights=path, size=32)
    base = model.get_layer("mobilenetv2_1.00_32")
    opened = unfreeze_top(model, 10)
    top = base.layers[-10:]
    assert opened and all(layer in top for layer in opened)
    assert all(not layer.trainable for layer in base.layers[:-10] if layer.weights)
    norms = [layer for layer in top if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and not any(layer.trainable for layer in norms)
    before = _state(model)
    _train(model, steps=3, side=28)
    after = _state(model)
    for layer in base.layers:
        assert _changed(before, after, layer) == (layer in opened), layer.name
    with pytest.raises(ValueError, match=r"count must be an integer from 1 to \d+ .* got 0"):
        unfreeze_top(model, 0)


def test_a_weights_file_of_another_network_is_refused_clearly(tmp_path, stand_in):
    other = application_base("EfficientNetB0", weights=None, size=32)
    wrong = tmp_path / "efficientnet.weights.h5"
    other.save_weights(wrong)
    with pytest.raises(ValueError) as error:
        application_classifier("MobileNetV2", num_classes=5, weights=wrong, size=32)
    message = str(error.value)
    assert f"the weights file {str(wrong)!r} does not fit MobileNetV2 without its top" in message
    assert "2,257,984 weights" in message  # what was expected
    assert "weights='imagenet' downloads it" in message  # and how to fix it
    assert "save_weights(PATH)" in message and "List of objects" not in message


def test_bad_application_arguments_are_refused(tmp_path, stand_in):
    with pytest.raises(ValueError, match="is no file"):
        application_base("MobileNetV2", weights=tmp_path / "missing.weights.h5", size=32)
    with pytest.raises(ValueError, match="at least 32x32; got size 28"):
        application_base("MobileNetV2", weights=None, size=28)
    with pytest.raises(ValueError, match="unknown application 'ResNet9'; choose one of"):
        application_base("ResNet9", weights=None)
    with pytest.raises(ValueError, match="num_classes must be an integer of at least 2"):
        application_classifier(num_classes=1, weights=None, size=32)
    with pytest.raises(ValueError, match=r"input_shape must be \(height, width, 1\)"):
        application_classifier(num_classes=3, weights=None, size=32, input_shape=(28, 28, 2))


def test_an_application_classifier_saves_and_loads_in_safe_mode(tmp_path, stand_in):
    path, _ = stand_in
    model = application_classifier("MobileNetV2", num_classes=4, weights=path, size=32)
    file = tmp_path / "transfer.keras"
    model.save(file)
    loaded = keras.saving.load_model(file)  # safe_mode: no Lambda layer
    images = np.random.default_rng(1).random((3, 28, 28, 1), dtype=np.float32)
    assert np.allclose(model(images), loaded(images), atol=1e-6)


@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_each_download_size_is_its_weights_at_4_bytes_each(name):
    # The stated size of the ImageNet weights file, against the network's own count:
    # 4 bytes per float32 weight and a few percent of HDF5 layout around them.
    app = APPLICATIONS[name]
    weights = application_base(name, weights=None, size=app.min_size).count_params()
    assert 1.0 < app.download_bytes / (4 * weights) < 1.06, (app.download_bytes, weights)
    assert app.weights_file.endswith(".h5") and "no" in app.weights_file.replace("_", "")
    assert os.fspath(app.source)


def test_settling_batch_norm_leaves_a_frozen_base_as_pretrained():
    from cnn_guide.training import PreciseBatchNorm

    model = _tiny_resnet()
    freeze_base(model, train_top=1)
    settler = PreciseBatchNorm(model, np.random.default_rng(2).random((16, 12, 12, 1)))
    assert settler.layers == []  # every batch norm is frozen, the top block's too
    before = _state(model)
    settler.recompute()
    assert all(np.array_equal(before[key], value) for key, value in _state(model).items())
    model.get_layer("conv1_bn").trainable = True
    assert [layer.name for layer in PreciseBatchNorm(model, np.zeros((2, 12, 12, 1))).layers] == [
        "conv1_bn"
    ]
