"""ResNeXt: residual units whose 3x3 convolution is split into parallel groups.

Xie, Girshick, Dollár, Tu and He (2017), "Aggregated Residual Transformations
for Deep Neural Networks", https://arxiv.org/abs/1611.05431, Table 1 and
Figure 3. Chapter: ``docs/chapters/resnext.md``.

A ResNeXt unit is ResNet's bottleneck unit with a grouped 3x3 convolution:
the paper's "cardinality" (the number of parallel paths) is the number of
groups. At equal parameters and computation, more groups of narrower paths
beat a wider ordinary convolution. Both builders reuse
`cnn_guide.layers.BottleneckResidualUnit` with ``groups`` and ``width``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import keras

from cnn_guide._validate import positive_int, positive_ints
from cnn_guide.data import FASHION_MNIST_SHAPE
from cnn_guide.layers.residual import BottleneckResidualUnit
from cnn_guide.models._common import (
    IMAGENET_MIN_SIZE,
    IMAGENET_SHAPE,
    HeadOptions,
    check_head,
    imagenet_resnet,
    small_image_resnet,
)
from cnn_guide.models._registry import Family, register_family

if TYPE_CHECKING:
    # Only for type checkers: typing.Unpack is new in Python 3.11.
    from typing_extensions import Unpack

__all__ = ["resnext50_32x4d", "resnext_fashion"]

_PAPER = (
    "Xie, Girshick, Dollár, Tu, He (2017), Aggregated Residual Transformations "
    "for Deep Neural Networks"
)
_URL = "https://arxiv.org/abs/1611.05431"
_CHAPTER = "chapters/resnext.md"


FAMILY = Family("resnext", _PAPER, 2017, _URL, _CHAPTER)
# What the registry knows of each builder: `ModelInfo` fields beyond the family's.
RESNEXT_MODELS: dict[str, dict] = {
    "resnext50_32x4d": {
        "input_shape": IMAGENET_SHAPE,
        "min_input_size": IMAGENET_MIN_SIZE,
        "summary": "ResNet-50 with 32-group 3x3 convolutions, 4 channels per group at stage 2",
        "reference_params": 25_028_904,
        "reference_kind": "trainable",
        "reference_source": "Xie et al. 2017, Table 1; torchvision.models.resnext50_32x4d",
    },
    "resnext_fashion": {
        "input_shape": FASHION_MNIST_SHAPE,
        "min_input_size": 4,
        "summary": "ResNeXt for 28x28: 3x3 stem, 3 stages of 2 bottleneck units, 8 groups",
        "variant_of": "resnext50_32x4d",
    },
}


def resnext50_32x4d(
    *,
    input_shape: Sequence[int] = IMAGENET_SHAPE,
    num_classes: int = 1000,
    name: str = "resnext50_32x4d",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """ResNeXt-50 (32x4d) (Xie et al. 2017, Table 1): 25,028,904 trainable parameters.

    ResNet-50's layout (7x7 stem, max pooling, 3-4-6-3 bottleneck units with
    256, 512, 1024 and 2048 output channels) with each unit's 3x3 convolution
    split into 32 groups. "32x4d" means cardinality 32 with 4 channels per
    group in the first stage: the grouped 3x3 is 128 channels wide there (vs
    64 in ResNet-50) and doubles with each stage (256, 512, 1024). The wider
    but grouped 3x3 keeps the parameters and FLOPs of ResNet-50 (4.2 vs 4.1
    GFLOPs in the paper) and lowers the top-1 error from 23.9% to 22.2%
    (paper, Table 3). As in torchvision, the stride is on the 3x3 convolution
    and no convolution has a bias.

    Reference: Xie, Girshick, Dollár, Tu and He (2017), "Aggregated Residual
    Transformations for Deep Neural Networks", https://arxiv.org/abs/1611.05431.
    Chapter: ``docs/chapters/resnext.md``.

    Args:
        input_shape: ``(height, width, channels)``; at least 32x32 (the total
            stride).
        num_classes: Number of classes of the classifier.
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 32x32, a wrong rank, non-positive
            classes or an unknown pooling.
    """
    return imagenet_resnet(
        name=name,
        unit=BottleneckResidualUnit,
        blocks=(3, 4, 6, 3),
        input_shape=input_shape,
        head=check_head(resnext50_32x4d, name, num_classes, head_options),
        groups=32,
        width_per_group=4,
    )


def resnext_fashion(
    *,
    input_shape: Sequence[int] = FASHION_MNIST_SHAPE,
    num_classes: int = 10,
    filters: Sequence[int] = (12, 24, 48),
    cardinality: int = 8,
    group_width: int | None = None,
    blocks_per_stage: int = 2,
    name: str = "resnext_fashion",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """ResNeXt-50's unit on `resnet_fashion`'s skeleton: 141k parameters.

    A 3x3 convolution with 16 filters (stride 1), then three stages of two
    ResNeXt bottleneck units (`BottleneckResidualUnit` with ``groups=8``), at
    28x28, 14x14 and 7x7. A unit of stage ``i`` reduces to ``2 * filters[i]``
    channels with a 1x1, applies a 3x3 split into 8 groups at that width,
    and expands to ``4 * filters[i]``: 48 -> 24 -> 24 (8 groups of 3) -> 48 in
    the first stage, then 96 -> 48 (8x6) -> 96 and 192 -> 96 (8x12) -> 192.
    Global average pooling and a 10-way softmax follow: 140,970 trainable
    parameters and about 17.6 million multiply-accumulates per 28x28 image.

    Changes from the paper's ResNeXt-50 (32x4d), and why:

    * **Stem and stages** as in `resnet_fashion` (and for the same reasons):
      a 3x3 stride-1 stem without max pooling, three stages with stride 2 at
      the second and third, two units per stage, so the two variants can be
      compared at similar depth and cost.
    * **Widths**: every width is ResNeXt-50's divided by about 5 (48-96-192
      outputs instead of 256-512-1024-2048, minus the last stage), keeping
      its proportions: 3x3 width = half the output, doubling per stage.
    * **Cardinality 8 instead of 32**: 32 groups of a 24-channel 3x3 would
      leave less than one channel per group; 8 groups keep 3 channels per
      group in the first stage, close to the paper's "4d" template.
    * Projections (option B), batch normalization, no convolution biases and
      the stride on the grouped 3x3 are unchanged.

    ``group_width`` sets the paper's bottleneck width ``d`` (channels per
    group in the first stage, doubling per stage) while ``filters`` keeps the
    output widths, as in the paper's Table 3, which trades cardinality
    against width at a fixed cost. Three such configurations, within 3% of
    the default's 144,362 weights (BN statistics included):

    * ``cardinality=1, group_width=13`` (1x13d): 141,076 weights, 16.2M MACs;
    * ``cardinality=4, group_width=5`` (4x5d): 140,418 weights, 16.8M MACs;
    * ``cardinality=8, group_width=3`` (8x3d, the default network): 144,362
      weights, 17.6M multiply-accumulates.

    Reference: Xie, Girshick, Dollár, Tu and He (2017), "Aggregated Residual
    Transformations for Deep Neural Networks", https://arxiv.org/abs/1611.05431.
    Chapter: ``docs/chapters/resnext.md``.

    Args:
        input_shape: ``(height, width, channels)``; at least ``2 ** (stages -
            1)`` (4 for three stages).
        num_classes: Number of classes of the classifier.
        filters: Bottleneck filters of each stage (one stage per entry); a
            stage's grouped 3x3 is ``2 * filters[i]`` wide and its output
            ``4 * filters[i]``.
        cardinality: Groups of every 3x3 convolution; must divide each
            ``2 * filters[i]`` (unless ``group_width`` is given).
        group_width: Channels per group ``d`` of the first stage's grouped
            3x3, doubling per stage: the 1x1 reduction and 3x3 of stage
            ``i`` are ``cardinality * group_width * 2**i`` wide instead of
            ``2 * filters[i]``. ``None`` (default) keeps ``2 * filters[i]``.
            For the Table 3 comparison of Xie et al. (2017) at fixed cost.
        blocks_per_stage: Units per stage.
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than the total stride, a wrong rank,
            non-positive classes, an unknown pooling, or invalid ``filters``,
            ``cardinality``, ``group_width`` or ``blocks_per_stage``.
    """
    filters = positive_ints(filters, "filters", name)
    cardinality = positive_int(cardinality, "cardinality", name)
    blocks_per_stage = positive_int(blocks_per_stage, "blocks_per_stage", name)
    if group_width is None:
        widths = [2 * f for f in filters]
    else:
        group_width = positive_int(group_width, "group_width", name)
        # The template's rule: the width doubles when the map halves.
        widths = [cardinality * group_width * 2**i for i in range(len(filters))]
    if any(w % cardinality for w in widths):
        raise ValueError(
            f"{name}: cardinality ({cardinality}) must divide every 3x3 width "
            f"2 * filters = {widths}; choose filters whose doubles are multiples of "
            f"{cardinality}, or another cardinality."
        )
    return small_image_resnet(
        name=name,
        unit=BottleneckResidualUnit,
        input_shape=input_shape,
        head=check_head(resnext_fashion, name, num_classes, head_options),
        stem_width=16,
        filters=filters,
        blocks_per_stage=blocks_per_stage,
        stage_kwargs=[{"width": w} for w in widths],
        groups=cardinality,
    )


register_family(FAMILY, RESNEXT_MODELS, [resnext50_32x4d, resnext_fashion])
