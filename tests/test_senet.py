"""SENet builders: squeeze-and-excitation on every residual unit."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnn_guide import models
from cnn_guide.layers import (
    BasicResidualUnit,
    BottleneckResidualUnit,
    SqueezeExcitation,
    se_channel_weights,
)


def units(model: keras.Model) -> list:
    return [
        layer
        for layer in model.layers
        if isinstance(layer, (BasicResidualUnit, BottleneckResidualUnit))
    ]


def trainable(model: keras.Model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def se_params(channels: int, ratio: int) -> int:
    hidden = max(1, channels // ratio)
    return 2 * channels * hidden + hidden + channels


def test_se_resnet50_is_resnet50_plus_one_se_block_per_unit():
    se = models.se_resnet50()
    plain = models.resnet50()
    found = units(se)
    assert len(found) == 16
    assert all(isinstance(u.se, SqueezeExcitation) and u.se.ratio == 16 for u in found)
    added = sum(se_params(u.output_channels, 16) for u in found)
    assert added == 2_530_992
    assert trainable(se) - trainable(plain) == added
    keras.backend.clear_session()


def test_se_resnet_fashion_is_resnet_fashion_plus_se():
    se = models.se_resnet_fashion()
    plain = models.resnet_fashion()
    assert [layer.name for layer in se.layers] == [layer.name for layer in plain.layers]
    assert all(u.se_ratio == 4 and u.se.hidden_units == u.filters // 4 for u in units(se))
    added = sum(se_params(u.output_channels, 4) for u in units(se))
    assert trainable(se) - trainable(plain) == added
    other = models.se_resnet_fashion(se_ratio=8)
    assert all(u.se.hidden_units == u.filters // 8 for u in units(other))
    keras.backend.clear_session()


@pytest.mark.parametrize(("widths", "blocks"), [((16, 32, 64), 2), ((8, 24), 3)])
def test_se_resnet_fashion_without_its_se_blocks_is_resnet_fashion(widths, blocks):
    """So the SE ablation needs no switch: it is resnet_fashion with the same options."""
    se = models.se_resnet_fashion(widths=widths, blocks_per_stage=blocks)
    plain = models.resnet_fashion(widths=widths, blocks_per_stage=blocks)
    # One SE block per unit, on the unit's C output channels: 2*C*(C//4) + C//4 + C.
    added = sum(se_params(c, 4) for c in widths for _ in range(blocks))
    assert se.count_params() - added == plain.count_params()
    # The same units with the same settings, and the same weights in the same order.
    for se_unit, unit in zip(units(se), units(plain), strict=True):
        assert {**se_unit.get_config(), "se_ratio": None} == unit.get_config()
    rest = [w for w in se.weights if "/se/" not in w.path]
    assert [w.shape for w in rest] == [w.shape for w in plain.weights]
    # With every gate fixed at sigmoid(50) = 1.0 (in float32) both compute the same.
    for w in se.weights:
        if "/se/expand/" in w.path:
            w.assign(np.full(w.shape, 50.0 if w.name == "bias" else 0.0, "float32"))
    for w, value in zip(rest, plain.get_weights(), strict=True):
        w.assign(value)
    x = np.random.default_rng(0).normal(size=(2, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(se(x, training=False), plain(x, training=False), atol=1e-6)
    keras.backend.clear_session()


def test_se_channel_weights_on_real_images(fashion):
    model = models.se_resnet_fashion()
    x = fashion.x_test[:12]
    weights = se_channel_weights(model, x, batch_size=5)
    assert list(weights) == [u.name for u in units(model)]
    for unit in units(model):
        values = weights[unit.name]
        assert values.shape == (12, unit.output_channels)
        assert np.all((values > 0) & (values < 1))
    # Different images get different weights: the gating depends on the input.
    assert np.ptp(weights["conv4_block2"], axis=0).max() > 0
    keras.backend.clear_session()


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: models.se_resnet50(se_ratio=0), "se_ratio"),
        (lambda: models.se_resnet_fashion(se_ratio=-1), "se_ratio"),
        (lambda: models.se_resnet_fashion(widths=(8, "16")), "widths"),
        (lambda: models.senet154(dropout=1.0), "dropout"),
    ],
)
def test_senet_builders_reject_bad_options(build, message):
    with pytest.raises(ValueError, match=message):
        build()
