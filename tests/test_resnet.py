"""ResNet builders: Keras' form against keras.applications, the Fashion-MNIST variant.

The registry-wide tests already check every paper configuration's parameter
count; here are what only the residual family has. The multiply-accumulate
budget of all three residual Fashion-MNIST variants is checked here too.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnn_guide import models
from cnn_guide.layers import BasicResidualUnit, BottleneckResidualUnit


def trainable(model: keras.Model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def units(model: keras.Model) -> list:
    return [
        layer
        for layer in model.layers
        if isinstance(layer, (BasicResidualUnit, BottleneckResidualUnit))
    ]


def macs(model: keras.Model) -> int:
    """Multiply-accumulates per image, by hand: H_out * W_out * prod(kernel shape)."""

    def conv(layer, out_hw) -> int:
        return int(np.prod(out_hw)) * int(np.prod(layer.kernel.shape))

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            total += conv(layer, layer.output.shape[1:3])
        elif isinstance(layer, keras.layers.Dense):
            total += int(np.prod(layer.kernel.shape))
        elif isinstance(layer, (BasicResidualUnit, BottleneckResidualUnit)):
            h_in, h_out = layer.input.shape[1:3], layer.output.shape[1:3]
            # A bottleneck's first 1x1 runs at the input resolution unless it strides.
            reduce_at = h_in
            if isinstance(layer, BasicResidualUnit) or layer.stride_in_1x1:
                reduce_at = h_out
            total += conv(layer.branch1_conv, reduce_at)
            for step in ("branch2", "branch3", "shortcut"):
                if getattr(layer, f"{step}_conv", None) is not None:
                    total += conv(getattr(layer, f"{step}_conv"), h_out)
            if layer.se is not None:
                for dense in (layer.se.reduce, layer.se.expand):
                    total += int(np.prod(dense.kernel.shape))
                total += int(np.prod(h_out)) * layer.output_channels  # the rescaling
    return total


def test_the_mac_counter_gives_resnet50_its_known_4_1_billion():
    # torchvision lists ResNet-50 at 4.09 GFLOPS (multiply-accumulates).
    model = models.resnet50()
    assert round(macs(model) / 1e9, 2) == 4.09
    keras.backend.clear_session()


@pytest.mark.parametrize(
    ("name", "expected_macs", "expected_trainable"),
    [
        ("resnet_fashion", 20_183_936, 174_970),
        ("resnext_fashion", 17_613_696, 140_970),
        ("se_resnet_fashion", 20_233_216, 180_626),
    ],
)
def test_fashion_variants_fit_the_cpu_budget_their_docstrings_state(
    name, expected_macs, expected_trainable
):
    model = models.build(name)
    count = macs(model)
    assert count == expected_macs
    assert count <= 40_000_000  # the book's budget for a 2-core CPU
    doc = " ".join(models.get_info(name).builder.__doc__.split())
    assert f"{count / 1e6:.1f} million multiply-accumulates" in doc
    assert trainable(model) == expected_trainable
    assert f"{expected_trainable:,} trainable" in doc
    keras.backend.clear_session()


def copy_keras_weights(ours: keras.Model, theirs: keras.Model) -> None:
    """Copy keras.applications' ResNet weights into ours, by Keras' layer names."""
    copied = 0
    for layer_name in ("conv1_conv", "conv1_bn", "predictions"):
        ours.get_layer(layer_name).set_weights(theirs.get_layer(layer_name).get_weights())
        copied += len(ours.get_layer(layer_name).weights)
    # Keras names a unit's layers <unit>_0_ (shortcut), _1_, _2_ and _3_ (branch).
    for unit in units(ours):
        for index, step in enumerate(("shortcut", "branch1", "branch2", "branch3")):
            for kind in ("conv", "bn"):
                mine = getattr(unit, f"{step}_{kind}")
                if mine is None:
                    with pytest.raises(ValueError):
                        theirs.get_layer(f"{unit.name}_{index}_{kind}")
                    continue
                mine.set_weights(theirs.get_layer(f"{unit.name}_{index}_{kind}").get_weights())
                copied += len(mine.weights)
    assert copied == len(ours.weights) == len(theirs.weights)


def test_keras_form_resnet50_is_keras_applications_resnet50_weight_for_weight():
    shape = (64, 64, 3)  # small: the weights do not depend on the input size
    ours = models.resnet50(input_shape=shape, keras_form=True, classifier_activation=None)
    theirs = keras.applications.ResNet50(
        weights=None, input_shape=shape, classifier_activation=None
    )
    assert ours.count_params() == theirs.count_params() == 25_636_712
    assert trainable(ours) == trainable(theirs)
    copy_keras_weights(ours, theirs)
    x = np.random.default_rng(0).standard_normal((2, *shape)).astype("float32")
    expected = np.asarray(theirs(x, training=False))
    got = np.asarray(ours(x, training=False))
    assert np.all(np.isfinite(expected)) and np.abs(expected).max() > 0
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    # The paper form differs: no bias, stride on the 3x3, PyTorch's epsilon.
    paper = models.resnet50(input_shape=shape)
    unit = paper.get_layer("conv3_block1")
    assert unit.branch1_conv.use_bias is False and unit.branch2_conv.strides == (2, 2)
    assert unit.bn_epsilon == 1e-5
    keras_unit = ours.get_layer("conv3_block1")
    assert keras_unit.branch1_conv.strides == (2, 2) and keras_unit.bn_epsilon == 1.001e-5
    assert ours.count_params() - paper.count_params() == 26_560  # the conv biases
    keras.backend.clear_session()


def test_keras_form_resnet152_has_keras_applications_parameter_count():
    shape = (32, 32, 3)
    ours = models.resnet152(input_shape=shape, keras_form=True)
    theirs = keras.applications.ResNet152(weights=None, input_shape=shape)
    assert ours.count_params() == theirs.count_params() == 60_419_944
    assert trainable(ours) == trainable(theirs)
    keras.backend.clear_session()


@pytest.mark.parametrize(
    ("name", "blocks", "unit", "channels"),
    [
        ("resnet18", (2, 2, 2, 2), BasicResidualUnit, 512),
        ("resnet50", (3, 4, 6, 3), BottleneckResidualUnit, 2048),
    ],
)
def test_paper_layouts(name, blocks, unit, channels):
    model = models.build(name, include_top=False)
    assert model.output_shape == (None, 7, 7, channels)
    found = units(model)
    assert all(isinstance(u, unit) for u in found)
    for stage, count in enumerate(blocks, start=2):
        stage_units = [u for u in found if u.name.startswith(f"conv{stage}_")]
        assert len(stage_units) == count
        assert [u.stride for u in stage_units] == [1 if stage == 2 else 2] + [1] * (count - 1)
        assert all(not u.use_bias and u.se_ratio is None for u in stage_units)
    keras.backend.clear_session()


def test_keras_form_must_be_a_bool():
    with pytest.raises(ValueError, match="keras_form"):
        models.resnet18(keras_form="yes")


def test_resnet_fashion_layout():
    model = models.resnet_fashion()
    assert model.get_layer("conv1_conv").strides == (1, 1)
    assert not any(isinstance(layer, keras.layers.MaxPooling2D) for layer in model.layers)
    shapes = [u.output.shape[1:] for u in units(model)]
    assert shapes == [(28, 28, 16)] * 2 + [(14, 14, 32)] * 2 + [(7, 7, 64)] * 2
    assert [u.shortcut_conv is not None for u in units(model)] == [
        False,
        False,
        True,
        False,
        True,
        False,
    ]
    keras.backend.clear_session()


def test_resnet_fashion_without_skip_connections_is_the_plain_network():
    residual = models.resnet_fashion()
    plain = models.resnet_fashion(skip_connections=False)
    assert [layer.name for layer in plain.layers] == [layer.name for layer in residual.layers]
    assert all(not u.skip_connections and u.shortcut_conv is None for u in units(plain))
    # Same layers minus the two projections (1x1 conv + BN: 16->32 and 32->64).
    assert trainable(residual) - trainable(plain) == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
    x = np.random.default_rng(1).random((2, 28, 28, 1), dtype=np.float32)
    assert plain(x).shape == (2, 10)
    keras.backend.clear_session()


def test_resnet_fashion_widths_and_depth_options():
    model = models.resnet_fashion(widths=(8, 16), blocks_per_stage=3, include_top=False)
    assert model.output_shape == (None, 14, 14, 16)
    assert len(units(model)) == 6
    assert model.get_layer("conv1_conv").filters == 8
    # Two stages: one stride-2 step, so 2x2 is the smallest input.
    models.resnet_fashion(widths=(8, 16), input_shape=(2, 2, 1))
    with pytest.raises(ValueError, match="too small"):
        models.resnet_fashion(widths=(8, 16), input_shape=(1, 1, 1))
    keras.backend.clear_session()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"widths": ()}, "widths"),
        ({"widths": 16}, "widths"),
        ({"widths": (16, 0, 64)}, "widths"),
        ({"blocks_per_stage": 0}, "blocks_per_stage"),
        ({"skip_connections": "no"}, "skip_connections"),
    ],
)
def test_resnet_fashion_rejects_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.resnet_fashion(**kwargs)
