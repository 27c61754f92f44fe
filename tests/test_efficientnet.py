"""EfficientNet: the MBConv block, B0-B3 against keras.applications, compound scaling
and the Fashion-MNIST variant's options."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnn_guide import models
from cnn_guide.layers import MBConv
from cnn_guide.models.efficientnet import compound_scaling, round_filters, round_repeats


def random_weights(model: keras.Model, seed: int = 0) -> list[np.ndarray]:
    """Random weights; variances (batch norm's and the input normalization's) positive."""
    rng = np.random.default_rng(seed)
    weights = []
    for w in model.weights:
        if "variance" in w.path:
            weights.append(rng.uniform(0.5, 1.5, w.shape).astype("float32"))
        elif w.path.endswith("count"):
            weights.append(np.asarray(1, dtype=keras.backend.standardize_dtype(w.dtype)))
        else:
            weights.append(rng.normal(0.0, 0.1, w.shape).astype("float32"))
    return weights


def outputs(model: keras.Model, x: np.ndarray, training: bool = False) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(x, training=training))


@pytest.mark.parametrize(
    ("variant", "count"),
    [("b0", 5_330_571), ("b1", 7_856_239), ("b2", 9_177_569), ("b3", 12_320_535)],
)
def test_parameter_counts_equal_keras_applications(variant, count):
    """At the paper's resolution, preprocessing layers included (7 of the weights)."""
    ours = models.build(f"efficientnet_{variant}")
    theirs = getattr(keras.applications, f"EfficientNet{variant.upper()}")(weights=None)
    assert ours.count_params() == theirs.count_params() == count
    assert models.get_info(f"efficientnet_{variant}").reference_params == count
    assert ours.input_shape == theirs.input_shape
    bare = models.build(f"efficientnet_{variant}", include_preprocessing=False)
    assert bare.count_params() == count - 7  # mean and variance of 3 channels, and a count
    keras.backend.clear_session()


def test_b0_computes_what_keras_applications_computes():
    """Same weights in the same order, same outputs (at 33x33, odd sides, to stay quick)."""
    ours = models.efficientnet_b0(input_shape=(33, 33, 3), num_classes=7)
    theirs = keras.applications.EfficientNetB0(weights=None, input_shape=(33, 33, 3), classes=7)
    assert [w.shape for w in ours.weights] == [w.shape for w in theirs.weights]
    weights = random_weights(theirs)
    theirs.set_weights(weights)
    ours.set_weights(weights)
    x = np.random.default_rng(1).uniform(0, 255, (2, 33, 33, 3)).astype("float32")
    expected = outputs(theirs, x)
    np.testing.assert_allclose(outputs(ours, x), expected, atol=1e-5)
    # Not a test that cannot fail: other weights give other outputs.
    ours.set_weights(random_weights(theirs, seed=1))
    assert np.abs(outputs(ours, x) - expected).max() > 1e-3
    keras.backend.clear_session()


def test_b0_is_table_1():
    model = models.efficientnet_b0(include_top=False)
    assert model.output_shape == (None, 7, 7, 1280)
    blocks = [layer for layer in model.layers if isinstance(layer, MBConv)]
    table = [(b.expansion, b.kernel_size, b.filters, b.strides) for b in blocks]
    assert table == (
        [(1, 3, 16, 1)]
        + [(6, 3, 24, 2), (6, 3, 24, 1)]
        + [(6, 5, 40, 2), (6, 5, 40, 1)]
        + [(6, 3, 80, 2)]
        + [(6, 3, 80, 1)] * 2
        + [(6, 5, 112, 1)] * 3
        + [(6, 5, 192, 2)]
        + [(6, 5, 192, 1)] * 3
        + [(6, 3, 320, 1)]
    )
    assert all(b.se_ratio == 0.25 for b in blocks)
    # Drop-connect grows linearly: 0 at the first block, 0.2 * 15/16 at the last.
    assert blocks[0].drop_rate == 0 and blocks[-1].drop_rate == pytest.approx(0.2 * 15 / 16)
    keras.backend.clear_session()


def test_scaled_networks_round_widths_and_repeats_as_the_reference_code():
    assert [round_repeats(r, 1.4) for r in (1, 2, 2, 3, 3, 4, 1)] == [2, 3, 3, 5, 5, 6, 2]
    assert [round_filters(f, 1.2) for f in (32, 16, 24, 40, 80, 112, 192, 320, 1280)] == [
        40,
        24,
        32,
        48,
        96,
        136,
        232,
        384,
        1536,
    ]
    assert round_filters(32, 0.5) == 16 and round_filters(24, 0.5) == 16
    b3 = models.efficientnet_b3(include_top=False, input_shape=(64, 64, 3))
    assert len([layer for layer in b3.layers if isinstance(layer, MBConv)]) == 26
    assert b3.output_shape[-1] == 1536
    keras.backend.clear_session()


def test_compound_scaling():
    scaling = compound_scaling(1)
    assert scaling == pytest.approx((1.2, 1.1, 1.15))
    assert (
        scaling.flops_factor
        == pytest.approx(1.2 * 1.1**2 * 1.15**2)
        == pytest.approx(1.92, abs=5e-3)
    )
    assert compound_scaling(0) == (1.0, 1.0, 1.0)
    assert compound_scaling(2).flops_factor == pytest.approx(scaling.flops_factor**2)
    with pytest.raises(ValueError, match="phi must be a number"):
        compound_scaling("1")
    with pytest.raises(ValueError, match="beta must be a number of at least 1"):
        compound_scaling(1, beta=0.9)


def test_smallest_input():
    model = models.efficientnet_b0(input_shape=(17, 17, 3), include_top=False)
    assert model.output_shape == (None, 1, 1, 1280)
    with pytest.raises(ValueError, match="too small.*17x17"):
        models.efficientnet_b0(input_shape=(16, 16, 3))
    keras.backend.clear_session()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"include_preprocessing": "yes"}, "include_preprocessing must be True or False"),
        ({"drop_connect_rate": 1.0}, "drop_connect_rate must be a number in"),
        ({"drop_connect_rate": -0.1}, "drop_connect_rate must be a number in"),
        ({"alpha": 1.0}, "unknown argument"),
    ],
)
def test_paper_builders_check_their_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.efficientnet_b0(**kwargs)


def test_fashion_variant():
    model = models.efficientnet_fashion(include_top=False)
    assert model.output_shape == (None, 4, 4, 640)
    assert model.get_layer("stem_conv").strides == (1, 1)
    assert model.get_layer("stem_conv").filters == 16
    blocks = [layer for layer in model.layers if isinstance(layer, MBConv)]
    assert len(blocks) == 16
    assert [b.filters for b in blocks if b.strides == 2] == [16, 24, 96]
    assert sorted({b.filters for b in blocks}) == [8, 16, 24, 40, 56, 96, 160]
    assert not any(layer.name == "resize" for layer in model.layers)
    assert models.efficientnet_fashion().count_params() == 1_099_068
    assert models.get_info("efficientnet_fashion").variant_of == "efficientnet_b0"
    keras.backend.clear_session()


def test_fashion_variant_scaling_options():
    base = models.efficientnet_fashion(include_top=False)
    deeper = models.efficientnet_fashion(depth_coefficient=2.0, include_top=False)
    wider = models.efficientnet_fashion(width_coefficient=2.0, include_top=False)
    larger = models.efficientnet_fashion(resolution=40, include_top=False)
    count = lambda m: len([layer for layer in m.layers if isinstance(layer, MBConv)])  # noqa: E731
    assert (count(base), count(deeper)) == (16, 32)
    assert wider.output_shape == (None, 4, 4, 1280)  # B0's own widths
    assert larger.get_layer("resize").output.shape[1:3] == (40, 40)
    assert larger.output_shape == (None, 5, 5, 640)
    assert larger.count_params() == base.count_params()  # resolution adds no weight
    same = models.efficientnet_fashion(resolution=28)
    assert not any(layer.name == "resize" for layer in same.layers)
    # A resized run records its MACs (once lost at the end of a 10-minute run:
    # the receptive-field walk cannot pass a Resizing layer, and MACs need none).
    from cnn_guide.training import _macs

    resized = models.efficientnet_fashion(resolution=37)
    assert _macs(resized) > 1.5 * _macs(same) > 0
    keras.backend.clear_session()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width_coefficient": 0}, "width_coefficient must be a positive number"),
        ({"depth_coefficient": "1.2"}, "depth_coefficient must be a positive number"),
        ({"resolution": 4}, "resolution"),
        ({"resolution": 32.0}, "resolution"),
        ({"dropout": 1.0}, "dropout"),
        ({"drop_connect_rate": True}, "drop_connect_rate"),
    ],
)
def test_fashion_variant_checks_its_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.efficientnet_fashion(**kwargs)


# The block


def test_mbconv_weights_and_shortcut():
    block = MBConv(16, expansion=6, kernel_size=5)
    block(keras.Input((8, 8, 16)))
    hidden, se = 96, 4  # 6 * 16, and int(16 * 0.25)
    convolutions = 16 * hidden + 25 * hidden + (hidden * se + se) + (se * hidden + hidden)
    convolutions += hidden * 16
    bn = 4 * (hidden + hidden + 16)
    assert block.count_params() == convolutions + bn
    assert block.use_residual and block.se_units == 4
    strided = MBConv(24, strides=2, se_ratio=0)
    assert strided.compute_output_shape((None, 9, 9, 16)) == (None, 5, 5, 24)
    strided(keras.Input((9, 9, 16)))
    assert strided.se_reduce is None and not strided.use_residual


def test_mbconv_drop_connect_drops_whole_branches_in_training_only():
    block = MBConv(8, expansion=1, drop_rate=0.5, se_ratio=0)
    x = np.random.default_rng(0).normal(size=(64, 4, 4, 8)).astype("float32")
    block(x)
    branch = keras.ops.convert_to_numpy(block(x, training=False)) - x
    keras.utils.set_random_seed(0)
    trained = keras.ops.convert_to_numpy(block(x, training=True))
    # In training the batch norm uses the batch's statistics: compare the branch
    # of each example to zero (dropped) or not, not to its inference value.
    dropped = np.all(np.isclose(trained, x, atol=1e-6), axis=(1, 2, 3))
    assert 10 < dropped.sum() < 54  # about half of 64 examples
    assert np.abs(branch).max() > 1e-3


def test_mbconv_saves_and_loads(tmp_path):
    inputs = keras.Input((9, 9, 8))
    block = MBConv(8, expansion=3, kernel_size=5, se_ratio=0.5, drop_rate=0.1, activation="relu")
    model = keras.Model(inputs, block(inputs))
    model.set_weights(random_weights(model))
    x = np.random.default_rng(2).normal(size=(2, 9, 9, 8)).astype("float32")
    path = tmp_path / "mbconv.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # safe_mode=True by default
    np.testing.assert_allclose(outputs(loaded, x), outputs(model, x), atol=1e-6)
    assert loaded.layers[1].get_config() == block.get_config()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"filters": 0}, "filters"),
        ({"filters": 8, "strides": 3}, "strides must be 1 or 2"),
        ({"filters": 8, "se_ratio": 1.5}, "se_ratio must be a number in"),
        ({"filters": 8, "drop_rate": 1}, "drop_rate must be a number in"),
        ({"filters": 8, "activation": None}, "activation must be the name"),
    ],
)
def test_mbconv_checks_its_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MBConv(**kwargs)
