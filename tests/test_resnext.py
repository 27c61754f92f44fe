"""ResNeXt builders: grouped 3x3 convolutions on ResNet's bottleneck units."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnn_guide import models
from cnn_guide.layers import BottleneckResidualUnit


def units(model: keras.Model) -> list[BottleneckResidualUnit]:
    return [layer for layer in model.layers if isinstance(layer, BottleneckResidualUnit)]


def test_resnext50_32x4d_groups_and_widths():
    model = models.resnext50_32x4d()
    found = units(model)
    assert len(found) == 16
    for unit in found:
        stage = int(unit.name[4])  # conv<stage>_block<i>
        width = 128 * 2 ** (stage - 2)
        assert unit.groups == 32 and unit.inner_width == width
        # 32 groups of 4, 8, 16 and 32 channels in stages 2-5.
        assert unit.branch2_conv.kernel.shape == (3, 3, width // 32, width)
        assert unit.output_channels == 256 * 2 ** (stage - 2)
        assert unit.branch2_conv.strides == (
            (2, 2) if unit.name.endswith("block1") and stage > 2 else (1, 1)
        )
    # Same layout as ResNet-50 with ordinary 3x3 convolutions 64-512 wide.
    resnet = models.resnet50()
    assert [u.name for u in units(resnet)] == [u.name for u in found]
    assert all(u.groups == 1 and u.inner_width == u.filters for u in units(resnet))
    keras.backend.clear_session()


def test_resnext_fashion_layout():
    model = models.resnext_fashion()
    found = units(model)
    assert [u.output.shape[1:] for u in found] == (
        [(28, 28, 48)] * 2 + [(14, 14, 96)] * 2 + [(7, 7, 192)] * 2
    )
    assert [u.branch2_conv.kernel.shape for u in found[::2]] == [
        (3, 3, 3, 24),
        (3, 3, 6, 48),
        (3, 3, 12, 96),
    ]
    assert all(u.groups == 8 and not u.use_bias for u in found)
    assert model.get_layer("conv1_conv").strides == (1, 1)
    keras.backend.clear_session()


def test_resnext_fashion_cardinality_option_keeps_the_widths():
    grouped = models.resnext_fashion(cardinality=4)
    dense = models.resnext_fashion(cardinality=1)
    assert all(u.groups == 4 for u in units(grouped))
    assert [u.output_channels for u in units(grouped)] == [u.output_channels for u in units(dense)]
    # Grouping divides the 3x3 weights by the cardinality, and nothing else.
    params = [int(np.prod(u.branch2_conv.kernel.shape)) for u in units(dense)]
    diff = dense.count_params() - grouped.count_params()
    assert diff == sum(params) - sum(p // 4 for p in params)
    keras.backend.clear_session()


# Xie et al. (2017), Table 3: cardinality against bottleneck width d at (nearly)
# fixed cost. The 3x3 of stage i is C*d*2**i wide; the default is 8x3d (24-48-96).
EQUAL_COST = [
    {"cardinality": 1, "group_width": 13},
    {"cardinality": 4, "group_width": 5},
    {"cardinality": 8, "group_width": 3},
]


def resnext_fashion_params(cardinality: int, group_width: int) -> int:
    """Weights (with BN statistics) of resnext_fashion, filters (12, 24, 48), 2 units."""
    total, c_in = 9 * 16 + 4 * 16, 16  # stem: 3x3 kernel and BatchNorm
    for i, out in enumerate((48, 96, 192)):
        w = cardinality * group_width * 2**i
        for j in range(2):
            # 1x1 reduce, grouped 3x3, 1x1 expand, each with a BatchNorm (4 per channel).
            total += c_in * w + 9 * w * w // cardinality + w * out + 4 * (2 * w + out)
            if j == 0:  # projection shortcut: the width or the stride changes
                total += c_in * out + 4 * out
            c_in = out
    return total + (c_in + 1) * 10  # classifier


def test_resnext_fashion_table_3_configurations_cost_the_same():
    built = [models.resnext_fashion(**options) for options in EQUAL_COST]
    counts = [model.count_params() for model in built]
    assert counts == [resnext_fashion_params(**options) for options in EQUAL_COST]
    assert counts == [141_076, 140_418, 144_362]
    assert max(counts) / min(counts) < 1.03
    # 8x3d is the default network: group_width only makes its widths explicit.
    assert counts[2] == models.resnext_fashion().count_params()
    assert [u.branch2_conv.kernel.shape for u in units(built[0])[::2]] == [
        (3, 3, 13, 13),
        (3, 3, 26, 26),
        (3, 3, 52, 52),
    ]
    # The output widths stay those of filters, as in the paper's template.
    assert [u.output_channels for u in units(built[1])] == [48, 48, 96, 96, 192, 192]
    keras.backend.clear_session()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"group_width": 0}, "group_width must be a positive integer, got 0"),
        ({"group_width": "4"}, "group_width .* Pass 4 as an int"),
        ({"cardinality": 5}, "cardinality"),
        ({"cardinality": 0}, "cardinality"),
        ({"filters": (12, 24, -1)}, "filters"),
        ({"blocks_per_stage": 0}, "blocks_per_stage"),
    ],
)
def test_resnext_fashion_rejects_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.resnext_fashion(**kwargs)


def test_depth_counts_a_grouped_convolution_once():
    from cnn_guide.analysis import compare

    row = compare("resnext_fashion").rows[0]
    # stem + 6 units x 3 convolutions + 3 projection shortcuts + the classifier
    assert row.depth == 1 + 6 * 3 + 3 + 1
