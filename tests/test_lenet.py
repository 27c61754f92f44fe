"""LeNet-5: the parameter counts of the paper's options, and its two special layers."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from cnn_guide import models
from cnn_guide.layers.lenet import LENET5_C3_TABLE, PartialConv2D, TrainableSubsampling

RNG = np.random.default_rng(0)


def layer_params(model: keras.Model) -> dict[str, int]:
    return {layer.name: layer.count_params() for layer in model.layers if layer.weights}


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, 61_706),
        ({"c3_connections": "paper"}, 60_806),
        ({"subsampling": "trainable"}, 61_750),
        ({"c3_connections": "paper", "subsampling": "trainable"}, 60_850),
    ],
)
def test_parameter_counts_of_the_options(kwargs, expected):
    assert models.lenet5(**kwargs).count_params() == expected


def test_the_papers_60000_layer_by_layer():
    model = models.lenet5(c3_connections="paper", subsampling="trainable")
    counts = layer_params(model)
    assert counts == {
        "c1": 156,
        "s2": 12,
        "c3": 1_516,
        "s4": 32,
        "c5": 48_120,
        "f6": 10_164,
        "predictions": 850,
    }
    # The paper's figure leaves out the output layer (fixed RBF prototypes).
    assert sum(counts.values()) - counts["predictions"] == 60_000


def test_default_layers_and_shapes():
    model = models.lenet5()
    shapes = {layer.name: layer.output.shape[1:] for layer in model.layers[1:]}
    assert shapes["c1"] == (28, 28, 6)
    assert shapes["s2"] == (14, 14, 6)
    assert shapes["c3"] == (10, 10, 16)
    assert shapes["s4"] == (5, 5, 16)
    assert shapes["c5"] == (1, 1, 120)
    assert shapes["f6"] == (84,)
    assert isinstance(model.get_layer("s2"), keras.layers.AveragePooling2D)
    assert model.get_layer("c1").activation is keras.activations.tanh
    assert layer_params(model)["c3"] == 2_416


def test_fashion_variant_pads_c1_and_keeps_the_rest():
    model = models.lenet5_fashion()
    assert model.get_layer("c1").output.shape[1:] == (28, 28, 6)
    assert model.get_layer("c5").output.shape[1:] == (1, 1, 120)
    assert model.count_params() == 61_706
    paper = models.lenet5_fashion(c3_connections="paper", subsampling="trainable")
    assert paper.count_params() == 60_850


def test_modern_choices_keep_the_parameter_count():
    model = models.lenet5_fashion(activation="relu", subsampling="max")
    # Neither ReLU nor max pooling has weights: C1 (5*5*1 + 1)*6, C3 (5*5*6 + 1)*16,
    # C5 (5*5*16 + 1)*120, F6 (120 + 1)*84, output (84 + 1)*10, as with tanh.
    expected = (25 + 1) * 6 + (25 * 6 + 1) * 16 + (25 * 16 + 1) * 120 + 121 * 84 + 85 * 10
    assert model.count_params() == expected == models.lenet5_fashion().count_params()
    assert isinstance(model.get_layer("s2"), keras.layers.MaxPooling2D)
    for name in ("c1", "c3", "c5", "f6"):
        layer = model.get_layer(name)
        assert layer.activation is keras.activations.relu, name
        assert isinstance(layer.kernel_initializer, keras.initializers.HeNormal), name
    # Trainable subsampling squashes with the chosen activation too.
    trainable = models.lenet5_fashion(activation="relu", subsampling="trainable")
    assert trainable.get_layer("s4").activation is keras.activations.relu
    assert trainable.count_params() == expected + 2 * 6 + 2 * 16  # a coefficient and bias per map


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"c3_connections": "partial"}, "c3_connections"),
        ({"subsampling": "maximum"}, r"subsampling must be one of \(.*'max'\), got 'maximum'"),
        ({"activation": "sigmoid"}, r"activation must be one of \('tanh', 'relu'\), got 'sigmoid'"),
        ({"activation": "ReLU"}, r"--option activation=relu"),
    ],
)
def test_rejects_unknown_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.lenet5(**kwargs)
    with pytest.raises(ValueError, match=message):
        models.lenet5_fashion(**kwargs)


def test_paper_options_save_load_and_train(tmp_path, fashion):
    model = models.lenet5_fashion(c3_connections="paper", subsampling="trainable")
    images = fashion.x_test[:4]
    before = model(images, training=False)
    model.save(tmp_path / "lenet.keras")
    loaded = keras.saving.load_model(tmp_path / "lenet.keras")
    np.testing.assert_allclose(loaded(images, training=False), before, rtol=1e-5, atol=1e-6)
    assert isinstance(loaded.get_layer("c3"), PartialConv2D)
    assert isinstance(loaded.get_layer("s4"), TrainableSubsampling)

    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy()(
            fashion.y_train[:16], model(fashion.x_train[:16], training=True)
        )
    grads = tape.gradient(loss, model.trainable_weights)
    for weight, grad in zip(model.trainable_weights, grads, strict=True):
        values = np.asarray(grad)
        assert np.all(np.isfinite(values)) and np.any(values != 0), weight.path


# --- PartialConv2D ----------------------------------------------------------------


def test_c3_table_is_the_papers():
    assert len(LENET5_C3_TABLE) == 16
    assert [len(inputs) for inputs in LENET5_C3_TABLE] == [3] * 6 + [4] * 9 + [6]
    # Each S2 map feeds 10 of the 16 C3 maps (Table I has ten X per row).
    assert [sum(i in inputs for inputs in LENET5_C3_TABLE) for i in range(6)] == [10] * 6


def test_partial_conv_stores_only_the_connected_weights():
    layer = PartialConv2D(LENET5_C3_TABLE, kernel_size=5)
    layer.build((None, 14, 14, 6))
    assert layer.kernel.shape == (5, 5, 60)
    assert layer.count_params() == 1_516
    dense = np.asarray(layer.dense_kernel())
    assert dense.shape == (5, 5, 6, 16)
    for out, inputs in enumerate(LENET5_C3_TABLE):
        for i in range(6):
            assert np.any(dense[:, :, i, out] != 0) == (i in inputs), (i, out)


def test_partial_conv_reads_only_its_connected_maps():
    layer = PartialConv2D(LENET5_C3_TABLE, kernel_size=5, activation="tanh")
    x = RNG.normal(size=(1, 14, 14, 6)).astype("float32")
    base = np.asarray(layer(x))
    x2 = x.copy()
    x2[..., 0] += 1.0  # S2 map 0 feeds C3 maps 0, 4, 5, 6, 9, 10, 11, 12, 14, 15
    changed = np.any(np.asarray(layer(x2)) != base, axis=(0, 1, 2))
    assert list(np.flatnonzero(changed)) == [0, 4, 5, 6, 9, 10, 11, 12, 14, 15]


def test_partial_conv_with_full_table_is_a_conv2d():
    layer = PartialConv2D([list(range(6))] * 16, kernel_size=5, bias_initializer="random_normal")
    x = RNG.normal(size=(2, 14, 14, 6)).astype("float32")
    out = layer(x)
    conv = keras.layers.Conv2D(16, 5)
    conv.build(x.shape)
    conv.set_weights([np.asarray(layer.dense_kernel()), np.asarray(layer.bias)])
    np.testing.assert_allclose(out, conv(x), rtol=1e-5, atol=1e-6)


def test_partial_conv_config_round_trip_gives_the_same_outputs():
    layer = PartialConv2D([[0, 2], [1]], kernel_size=3, activation="tanh", use_bias=False)
    x = RNG.normal(size=(1, 6, 6, 3)).astype("float32")
    before = layer(x)
    clone = PartialConv2D.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert clone.get_config()["connections"] == [[0, 2], [1]]
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(x), before, rtol=1e-6)
    assert layer.compute_output_shape((None, 6, 6, 3)) == (None, 4, 4, 2)
    assert tuple(before.shape) == (1, 4, 4, 2)
    assert layer.receptive_field_path() == [(3, 1)]


@pytest.mark.parametrize("table", [[], [[0, 0]], [[]], [[-1]], "abc", [[0, "x"]]])
def test_partial_conv_rejects_bad_tables(table):
    with pytest.raises(ValueError, match="PartialConv2D"):
        PartialConv2D(table)


def test_partial_conv_rejects_a_channel_beyond_the_input():
    with pytest.raises(ValueError, match="only 3 channels"):
        PartialConv2D([[0, 3]])(np.zeros((1, 8, 8, 3), "float32"))


# --- TrainableSubsampling -----------------------------------------------------------


def test_subsampling_is_average_times_coefficient_plus_bias_then_tanh():
    layer = TrainableSubsampling(2, activation="tanh")
    x = RNG.normal(size=(2, 6, 6, 4)).astype("float32")
    layer.build(x.shape)
    coefficient = RNG.normal(size=4).astype("float32")
    bias = RNG.normal(size=4).astype("float32")
    layer.set_weights([coefficient, bias])
    average = x.reshape(2, 3, 2, 3, 2, 4).mean(axis=(2, 4))
    np.testing.assert_allclose(layer(x), np.tanh(average * coefficient + bias), rtol=1e-5)
    assert layer.count_params() == 8


def test_subsampling_starts_as_average_pooling():
    layer = TrainableSubsampling(2, activation=None)
    x = RNG.normal(size=(1, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(layer(x), keras.layers.AveragePooling2D(2)(x), rtol=1e-6)


def test_subsampling_config_round_trip_gives_the_same_outputs():
    layer = TrainableSubsampling(3, activation="sigmoid", name="s")
    x = RNG.normal(size=(1, 9, 9, 2)).astype("float32")
    layer.build(x.shape)
    layer.set_weights([np.array([0.5, 2.0], "float32"), np.array([0.1, -0.3], "float32")])
    clone = TrainableSubsampling.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(x), layer(x), rtol=1e-6)
    assert clone.compute_output_shape((None, 9, 9, 2)) == (None, 3, 3, 2)
    assert clone.receptive_field_path() == [(3, 3)]


def test_subsampling_rejects_a_bad_pool_size():
    with pytest.raises(ValueError, match="pool_size"):
        TrainableSubsampling(0)


def test_layer_table_counts_the_partial_c3_at_its_connections():
    from cnn_guide.analysis import layer_table

    table = layer_table(models.build("lenet5", c3_connections="paper"))
    assert table["c3"].macs == 10 * 10 * 5 * 5 * 60  # Table I's 60 connections, not 96
    assert layer_table(models.build("lenet5"))["c3"].macs == 10 * 10 * 5 * 5 * 96
