"""DenseNet-121: the same network as keras.applications.DenseNet121, and its options."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnn_guide import models
from cnn_guide._compat import flatten_layers
from cnn_guide.layers import DenseBlock, TransitionLayer


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


def test_identical_to_keras_applications_densenet121():
    """Same weights in the same order, same outputs (at 32x32 to stay quick)."""
    ours = models.densenet121(input_shape=(32, 32, 3))
    theirs = keras.applications.DenseNet121(weights=None, input_shape=(32, 32, 3))
    assert ours.count_params() == theirs.count_params() == 8_062_504
    assert trainable(ours) == trainable(theirs) == 7_978_856
    assert [w.shape for w in ours.weights] == [w.shape for w in theirs.weights]
    weights = random_weights(theirs)
    theirs.set_weights(weights)
    ours.set_weights(weights)
    x = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(ours(x, training=False), theirs(x, training=False), atol=1e-5)
    keras.backend.clear_session()


def test_blocks_transitions_and_121_layers():
    model = models.densenet121(include_top=False)
    assert model.output_shape == (None, 7, 7, 1024)
    blocks = [layer for layer in model.layers if isinstance(layer, DenseBlock)]
    assert [b.num_layers for b in blocks] == [6, 12, 24, 16]
    assert [tuple(b.output.shape[1:]) for b in blocks] == [
        (56, 56, 256),
        (28, 28, 512),
        (14, 14, 1024),
        (7, 7, 1024),
    ]
    transitions = [layer for layer in model.layers if isinstance(layer, TransitionLayer)]
    assert [t.output.shape[-1] for t in transitions] == [128, 256, 512]
    convs = [
        layer
        for layer in flatten_layers(model, include_self=False)
        if isinstance(layer, keras.layers.Conv2D)
    ]
    assert len(convs) + 1 == 121  # + the classifier
    keras.backend.clear_session()


@pytest.mark.parametrize(("block_config", "smallest"), [((6, 12), 5), ((2, 2, 2), 13), ((3,), 1)])
def test_smallest_input_follows_the_number_of_transitions(block_config, smallest):
    model = models.densenet121(
        input_shape=(smallest, smallest, 3),
        block_config=block_config,
        include_top=False,
    )
    assert model.output_shape[1:3] == (1, 1)
    if smallest > 1:
        with pytest.raises(ValueError, match="too small"):
            models.densenet121(input_shape=(smallest - 1, 64, 3), block_config=block_config)
    keras.backend.clear_session()


def test_growth_rate_and_compression_options():
    model = models.densenet_fashion(
        growth_rate=8, block_config=(2, 3), compression=0.75, include_top=False
    )
    # 24 + 2*8 = 40 -> int(40 * 0.75) = 30 -> 30 + 3*8 = 54
    assert model.output_shape == (None, 14, 14, 54)
    keras.backend.clear_session()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"block_config": ()}, "block_config"),
        ({"block_config": (6, 0)}, "block_config"),
        ({"growth_rate": 0}, "growth_rate"),
        ({"bn_size": 2.5}, "bn_size"),
        ({"num_init_features": -1}, "num_init_features"),
        ({"compression": 0.0}, "compression"),
        ({"compression": 2}, "compression"),
    ],
)
def test_bad_options_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.densenet121(**kwargs)
    with pytest.raises(ValueError, match=message):
        models.densenet_fashion(**kwargs)


def test_fashion_variant_is_the_papers_cifar_layout():
    model = models.densenet_fashion(include_top=False)
    assert model.output_shape == (None, 7, 7, 132)
    stem = model.get_layer("stem_conv")
    assert stem.kernel_size == (3, 3) and stem.strides == (1, 1)
    assert stem.filters == 24  # 2k
    assert not any(isinstance(layer, keras.layers.MaxPooling2D) for layer in model.layers)
    blocks = [layer for layer in model.layers if isinstance(layer, DenseBlock)]
    assert [(b.num_layers, b.growth_rate, b.output.shape[1]) for b in blocks] == [
        (2, 12, 28),
        (4, 12, 14),
        (8, 12, 7),
    ]
    assert models.densenet_fashion().count_params() == 125_866
    keras.backend.clear_session()


def resnet_fashion_params(widths: tuple[int, ...], blocks: int) -> int:
    """Weights (with BN statistics) of resnet_fashion(widths=..., blocks_per_stage=...)."""
    total, c_in = 9 * widths[0] + 4 * widths[0], widths[0]  # stem: 3x3 kernel and BN
    for i, width in enumerate(widths):
        for j in range(blocks):
            total += 9 * c_in * width + 9 * width * width + 2 * 4 * width  # two 3x3 + BN
            if i > 0 and j == 0:  # stride 2 and a new width: 1x1 projection and BN
                total += c_in * width + 4 * width
            c_in = width
    return total + (c_in + 1) * 10  # classifier


def test_a_resnet_fashion_with_densenet_fashions_parameters_and_cost():
    """Dense against residual connectivity: ResNet-20's depth (6n + 2, n = 3), stem of 16."""
    from cnn_guide.analysis import compare

    assert resnet_fashion_params((16, 32, 64), 2) == 176_090  # the default, as a check
    dense = models.densenet_fashion()
    residual = models.resnet_fashion(widths=(16, 26, 38), blocks_per_stage=3)
    assert residual.count_params() == resnet_fashion_params((16, 26, 38), 3) == 126_038
    assert abs(residual.count_params() / dense.count_params() - 1) < 0.03  # 125,866
    # Multiply-accumulates per image match too: 21.4M against 21.1M.
    dense_row, residual_row = compare([dense, residual]).rows
    assert abs(residual_row.macs / dense_row.macs - 1) < 0.03
    keras.backend.clear_session()
