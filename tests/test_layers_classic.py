"""The classic blocks: local response normalization and the inception module."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnn_guide.layers import InceptionModule, LocalResponseNormalization

RNG = np.random.default_rng(0)


def lrn_reference(x: np.ndarray, radius: int, bias: float, alpha: float, beta: float):
    """The paper's formula, written out with loops over channels."""
    channels = x.shape[-1]
    out = np.empty_like(x)
    for c in range(channels):
        lo, hi = max(0, c - radius), min(channels, c + radius + 1)
        out[..., c] = x[..., c] / (bias + alpha * np.sum(x[..., lo:hi] ** 2, axis=-1)) ** beta
    return out


# --- LocalResponseNormalization ---------------------------------------------------


def test_lrn_defaults_are_the_papers():
    layer = LocalResponseNormalization()
    assert (layer.depth_radius, layer.bias, layer.alpha, layer.beta) == (2, 2.0, 1e-4, 0.75)


@pytest.mark.parametrize(
    ("radius", "bias", "alpha", "beta"), [(2, 2.0, 1e-4, 0.75), (1, 1.0, 0.5, 0.5)]
)
def test_lrn_matches_the_formula(radius, bias, alpha, beta):
    # Large activations so that the normalization is far from the identity.
    x = RNG.normal(scale=30.0, size=(2, 3, 4, 7)).astype("float32")
    layer = LocalResponseNormalization(radius, bias, alpha, beta)
    expected = lrn_reference(x.astype("float64"), radius, bias, alpha, beta)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-5)
    assert not np.allclose(expected, x / bias**beta, rtol=1e-3)


def test_lrn_config_round_trip():
    layer = LocalResponseNormalization(3, bias=1.0, alpha=2e-5, beta=0.5, name="lrn")
    clone = LocalResponseNormalization.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    x = RNG.normal(scale=10.0, size=(1, 5, 5, 9)).astype("float32")
    np.testing.assert_allclose(clone(x), layer(x))


def test_lrn_shape_and_receptive_field():
    layer = LocalResponseNormalization()
    assert layer.compute_output_shape((None, 13, 13, 96)) == (None, 13, 13, 96)
    assert layer.receptive_field_path() == [(1, 1)]


def test_lrn_runs_in_bfloat16():
    # TensorFlow has no bfloat16 CPU kernel for LRN: the layer computes in float32.
    layer = LocalResponseNormalization(dtype="mixed_bfloat16")
    x = RNG.normal(scale=10.0, size=(1, 4, 4, 8)).astype("float32")
    y = layer(x)
    assert keras.backend.standardize_dtype(y.dtype) == "bfloat16"
    np.testing.assert_allclose(
        np.asarray(y, dtype="float32"), lrn_reference(x, 2, 2.0, 1e-4, 0.75), rtol=2e-2
    )


@pytest.mark.parametrize(
    "kwargs", [{"depth_radius": -1}, {"depth_radius": 1.5}, {"bias": 0}, {"alpha": -1e-4}]
)
def test_lrn_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="LocalResponseNormalization"):
        LocalResponseNormalization(**kwargs)


# --- InceptionModule --------------------------------------------------------------

TABLE_3A = (64, 96, 128, 16, 32, 32)


def inception_params(c_in, f1, r3, f3, r5, f5, pp):
    """Weights and biases of the six convolutions of a module, from Table 1's columns."""
    return (
        (c_in * f1 + f1)
        + (c_in * r3 + r3)
        + (9 * r3 * f3 + f3)
        + (c_in * r5 + r5)
        + (25 * r5 * f5 + f5)
        + (c_in * pp + pp)
    )


def test_inception_3a_shape_and_parameters():
    module = InceptionModule(*TABLE_3A)
    out = module(np.zeros((1, 28, 28, 192), "float32"))
    assert tuple(out.shape) == (1, 28, 28, 256)
    assert module.compute_output_shape((None, 28, 28, 192)) == (None, 28, 28, 256)
    assert module.output_channels == 256
    assert module.count_params() == inception_params(192, *TABLE_3A) == 163_696


def test_inception_concatenates_the_four_branches_in_order():
    module = InceptionModule(2, 3, 4, 1, 5, 6)
    x = RNG.normal(size=(2, 6, 6, 3)).astype("float32")
    out = np.asarray(module(x))
    branches = [
        module.branch_1x1(x),
        module.branch_3x3(module.branch_3x3_reduce(x)),
        module.branch_5x5(module.branch_5x5_reduce(x)),
        module.branch_pool_proj(module.branch_pool(x)),
    ]
    np.testing.assert_allclose(out, np.concatenate(branches, axis=-1), rtol=1e-6)
    assert [b.shape[-1] for b in branches] == [2, 4, 5, 6]
    assert module.branch_3x3.kernel.shape == (3, 3, 3, 4)
    assert module.branch_5x5.kernel.shape == (5, 5, 1, 5)


def test_inception_config_round_trip_gives_the_same_outputs():
    module = InceptionModule(4, 3, 5, 2, 3, 2, kernel_initializer="he_normal", name="m")
    x = RNG.normal(size=(2, 7, 7, 6)).astype("float32")
    before = module(x)
    clone = InceptionModule.from_config(module.get_config())
    assert clone.get_config() == module.get_config()
    clone.build(x.shape)
    clone.set_weights(module.get_weights())
    np.testing.assert_allclose(clone(x), before, rtol=1e-6)


def test_inception_keeps_every_argument_in_its_config():
    config = InceptionModule(1, 2, 3, 4, 5, 6, activation="tanh").get_config()
    assert [config[k] for k in ("filters_1x1", "filters_3x3_reduce", "filters_3x3")] == [1, 2, 3]
    assert [config[k] for k in ("filters_5x5_reduce", "filters_5x5", "filters_pool_proj")] == [
        4,
        5,
        6,
    ]
    assert config["activation"] == "tanh"
    assert InceptionModule.from_config(config).activation == "tanh"


def test_naive_inception_module_has_no_reductions():
    module = InceptionModule(*TABLE_3A, reductions=False, name="naive")
    x = np.random.default_rng(3).normal(size=(2, 6, 6, 3)).astype("float32")
    out = np.asarray(module(x))
    # Figure 2a: 1x1, 3x3 and 5x5 on the input, and the max pooling passed on as is.
    branches = [
        module.branch_1x1(x),
        module.branch_3x3(x),
        module.branch_5x5(x),
        module.branch_pool(x),
    ]
    np.testing.assert_allclose(out, np.concatenate(branches, axis=-1), rtol=1e-6)
    assert module.output_channels == 64 + 128 + 32 + 3
    assert module.compute_output_shape((None, 6, 6, 3)) == (None, 6, 6, 227)
    assert module.count_params() == (3 + 1) * 64 + (9 * 3 + 1) * 128 + (25 * 3 + 1) * 32
    assert module.receptive_field_path() == [(5, 1)]
    clone = InceptionModule.from_config(module.get_config())
    assert clone.get_config() == module.get_config() and clone.reductions is False
    with pytest.raises(ValueError, match="reductions must be True or False"):
        InceptionModule(*TABLE_3A, reductions="false")
    unbuilt = InceptionModule(*TABLE_3A, reductions=False)
    with pytest.raises(ValueError, match="known only once it is built"):
        _ = unbuilt.output_channels


def test_inception_receptive_field_path():
    assert InceptionModule(*TABLE_3A).receptive_field_path() == [(1, 1), (5, 1)]


@pytest.mark.parametrize("bad", [0, -4, 2.5, None])
def test_inception_rejects_bad_filter_counts(bad):
    with pytest.raises(ValueError, match="filters_5x5 must be a positive integer"):
        InceptionModule(64, 96, 128, 16, bad, 32)


def test_inception_follows_the_mixed_precision_policy():
    module = InceptionModule(2, 2, 2, 2, 2, 2, dtype="mixed_bfloat16")
    out = module(np.ones((1, 5, 5, 3), "float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    assert module.branch_5x5.compute_dtype == "bfloat16"
    assert module.branch_5x5.kernel.dtype == "float32"
