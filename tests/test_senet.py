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
