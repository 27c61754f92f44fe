"""SENet: residual networks whose units reweight their channels.

Hu, Shen and Sun (2018), "Squeeze-and-Excitation Networks",
https://arxiv.org/abs/1709.01507, Table 1 and Figure 3.
Chapter: ``docs/chapters/senet.md``.

A squeeze-and-excitation (SE) block (`cnn_guide.layers.SqueezeExcitation`)
pools each channel over the whole image, passes the channel descriptors
through a small bottleneck MLP and multiplies every channel by the resulting
sigmoid weight. SENet puts one on the residual branch of every unit, before
the addition: ``BasicResidualUnit``/``BottleneckResidualUnit`` with
``se_ratio``. `cnn_guide.layers.se_channel_weights` reads the weights back on
real images.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import keras

from cnn_guide._validate import positive_int, positive_ints
from cnn_guide.data import FASHION_MNIST_SHAPE
from cnn_guide.layers.residual import BasicResidualUnit, BottleneckResidualUnit
from cnn_guide.models._common import (
    IMAGENET_MIN_SIZE,
    IMAGENET_SHAPE,
    HeadOptions,
    check_dropout,
    check_head,
    check_input_shape,
    conv_bn_relu,
    imagenet_resnet,
    residual_stages,
    small_image_resnet,
)
from cnn_guide.models._registry import Family, register_family

if TYPE_CHECKING:
    # Only for type checkers: typing.Unpack is new in Python 3.11.
    from typing_extensions import Unpack

__all__ = ["se_resnet50", "se_resnet_fashion", "senet154"]

_PAPER = "Hu, Shen, Sun (2018), Squeeze-and-Excitation Networks"
_URL = "https://arxiv.org/abs/1709.01507"
_CHAPTER = "chapters/senet.md"


FAMILY = Family("senet", _PAPER, 2018, _URL, _CHAPTER)
# What the registry knows of each builder: `ModelInfo` fields beyond the family's.
SENET_MODELS: dict[str, dict] = {
    "se_resnet50": {
        "input_shape": IMAGENET_SHAPE,
        "min_input_size": IMAGENET_MIN_SIZE,
        "summary": "ResNet-50 with a squeeze-and-excitation block (r = 16) in every unit",
        "reference_params": 28_088_024,
        "reference_kind": "trainable",
        "reference_source": "Hu et al. 2018, Table 1 (SE-ResNet-50, r = 16)",
    },
    "senet154": {
        "input_shape": IMAGENET_SHAPE,
        "min_input_size": IMAGENET_MIN_SIZE,
        "summary": "ILSVRC-2017 winner: SE-ResNeXt-152 (64 groups) with a 3-conv stem",
        "reference_params": 115_088_984,
        "reference_kind": "trainable",
        "reference_source": "Hu et al. 2018, appendix (SENet-154)",
    },
    "se_resnet_fashion": {
        "input_shape": FASHION_MNIST_SHAPE,
        "min_input_size": 4,
        "summary": "resnet_fashion with an SE block (r = 4) in every basic unit",
        "variant_of": "se_resnet50",
    },
}


def se_resnet50(
    *,
    input_shape: Sequence[int] = IMAGENET_SHAPE,
    num_classes: int = 1000,
    se_ratio: int = 16,
    name: str = "se_resnet50",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """SE-ResNet-50 (Hu et al. 2018, Table 1): 28,088,024 trainable parameters.

    `resnet50` with a squeeze-and-excitation block on the residual branch of
    each of its 16 bottleneck units, after the last batch normalization and
    before the addition (the paper's Figure 3). With reduction ratio 16 the
    blocks add 2,530,992 parameters (about 10%) and about 0.26% computation,
    and lower ResNet-50's top-1 error from 24.80% to 23.29% in the paper's
    re-implementation (Table 2). The stride of a downsampling unit is on its
    3x3 convolution as in `resnet50` (the paper's Caffe model has it on the
    first 1x1); the parameter count is the same.

    Reference: Hu, Shen and Sun (2018), "Squeeze-and-Excitation Networks",
    https://arxiv.org/abs/1709.01507. Chapter: ``docs/chapters/senet.md``.

    Args:
        input_shape: ``(height, width, channels)``; at least 32x32 (the total
            stride).
        num_classes: Number of classes of the classifier.
        se_ratio: Reduction ratio ``r`` of the SE blocks (16 in the paper; its
            Table 10 compares 4, 8, 16 and 32).
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 32x32, a wrong rank, non-positive
            classes, an unknown pooling or a non-positive ``se_ratio``.
    """
    se_ratio = positive_int(se_ratio, "se_ratio", name)
    return imagenet_resnet(
        name=name,
        unit=BottleneckResidualUnit,
        blocks=(3, 4, 6, 3),
        input_shape=input_shape,
        head=check_head(se_resnet50, name, num_classes, head_options),
        se_ratio=se_ratio,
    )


def senet154(
    *,
    input_shape: Sequence[int] = IMAGENET_SHAPE,
    num_classes: int = 1000,
    dropout: float = 0.2,
    name: str = "senet154",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """SENet-154 (Hu et al. 2018, appendix): 115,088,984 trainable parameters.

    The network of the winning ILSVRC-2017 entry: SE-ResNeXt-152 (64 x 4d)
    with the appendix's changes:

    * three 3x3 convolutions (64, 64 and 128 filters, the first with stride 2)
      instead of the 7x7 stem, then a 3x3/2 max pooling (PyTorch's
      ``ceil_mode``: a bottom/right zero padding of 1, exact here because the
      pooled values are ReLU outputs);
    * 3, 8, 36 and 3 bottleneck units with 64 groups in the 3x3 convolution,
      whose first 1x1 is half as wide as the 3x3 (128 -> 256 channels in the
      first stage, doubling per stage) and whose output has as many
      channels as the 3x3 (256, 512, 1024, 2048);
    * a 3x3 stride-2 projection instead of the 1x1 where a unit downsamples;
    * dropout (rate 0.2) before the classifier;
    * an SE block with ratio 16 in every unit.

    The layer sizes follow the authors' released model (also in Cadene's
    ``pretrainedmodels``); as there, the stride is on the 3x3 convolution and
    no convolution has a bias.

    Reference: Hu, Shen and Sun (2018), "Squeeze-and-Excitation Networks",
    https://arxiv.org/abs/1709.01507. Chapter: ``docs/chapters/senet.md``.

    Args:
        input_shape: ``(height, width, channels)``; at least 32x32 (the total
            stride).
        num_classes: Number of classes of the classifier.
        dropout: Dropout rate before the classifier.
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 32x32, a wrong rank, non-positive
            classes, an unknown pooling or a dropout outside [0, 1).
    """
    shape = check_input_shape(input_shape, model=name, min_size=IMAGENET_MIN_SIZE)
    head = check_head(senet154, name, num_classes, head_options)
    check_dropout(name, dropout)

    filters = (64, 128, 256, 512)
    inputs = keras.Input(shape=shape, name="image")
    x = conv_bn_relu(inputs, 64, 3, stride=2, name="conv1_1")
    x = conv_bn_relu(x, 64, 3, name="conv1_2")
    x = conv_bn_relu(x, 128, 3, name="conv1_3")
    x = keras.layers.ZeroPadding2D(((0, 1), (0, 1)), name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = residual_stages(
        x,
        unit=BottleneckResidualUnit,
        blocks=(3, 8, 36, 3),
        filters=filters,
        strides=(1, 2, 2, 2),
        stage_kwargs=[
            {
                "width": 4 * f,
                "reduce_width": 2 * f,
                "shortcut_kernel_size": 1 if i == 0 else 3,
            }
            for i, f in enumerate(filters)
        ],
        groups=64,
        se_ratio=16,
    )
    return head.model(inputs, x, name, dropout=dropout)


def se_resnet_fashion(
    *,
    input_shape: Sequence[int] = FASHION_MNIST_SHAPE,
    num_classes: int = 10,
    widths: Sequence[int] = (16, 32, 64),
    blocks_per_stage: int = 2,
    se_ratio: int = 4,
    name: str = "se_resnet_fashion",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """`resnet_fashion` with squeeze-and-excitation: 177k parameters.

    Exactly `resnet_fashion` (3x3 stride-1 stem with 16 filters, three stages
    of two `BasicResidualUnit` with 16, 32 and 64 filters, global average
    pooling) with an SE block on the residual branch of each of the six
    units, before the addition: 180,626 trainable parameters (5,656 more than
    `resnet_fashion`) and about 20.2 million multiply-accumulates per 28x28
    image, the same as `resnet_fashion` to within 0.3%. Same layer names
    as `resnet_fashion`, so the chapter can compare the two directly and read
    the channel weights with `cnn_guide.layers.se_channel_weights`. The
    ablation without SE blocks therefore needs no switch: it is
    `resnet_fashion` with the same ``widths`` and ``blocks_per_stage``,
    weight for weight.

    Changes from the paper's SE-ResNet-50, and why:

    * **The skeleton is `resnet_fashion`'s** (3x3 stride-1 stem, no max
      pooling, three narrow stages of basic units), for the reasons given
      there: the ImageNet stem and four stages would shrink 28x28 to nothing.
    * **Reduction ratio 4 instead of 16**: with 16 to 64 channels, ratio 16
      would leave SE bottlenecks of 1 to 4 units. The paper's Table 10 finds
      the accuracy insensitive to the ratio (4 to 32); 16 was chosen there to
      keep the parameter cost low at 256-2048 channels, a cost that is
      negligible here.
    * The SE block itself (global average pooling, ReLU bottleneck, sigmoid
      gates, on the branch before the addition) is unchanged.

    Reference: Hu, Shen and Sun (2018), "Squeeze-and-Excitation Networks",
    https://arxiv.org/abs/1709.01507. Chapter: ``docs/chapters/senet.md``.

    Args:
        input_shape: ``(height, width, channels)``; at least ``2 ** (stages -
            1)`` (4 for three stages).
        num_classes: Number of classes of the classifier.
        widths: Filters of each stage (the stem has ``widths[0]``).
        blocks_per_stage: Residual units per stage.
        se_ratio: Reduction ratio of the SE blocks.
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than the total stride, a wrong rank,
            non-positive classes, an unknown pooling, or invalid ``widths``,
            ``blocks_per_stage`` or ``se_ratio``.
    """
    widths = positive_ints(widths, "widths", name)
    blocks_per_stage = positive_int(blocks_per_stage, "blocks_per_stage", name)
    se_ratio = positive_int(se_ratio, "se_ratio", name)
    return small_image_resnet(
        name=name,
        unit=BasicResidualUnit,
        input_shape=input_shape,
        head=check_head(se_resnet_fashion, name, num_classes, head_options),
        stem_width=widths[0],
        filters=widths,
        blocks_per_stage=blocks_per_stage,
        se_ratio=se_ratio,
    )


register_family(FAMILY, SENET_MODELS, [se_resnet50, senet154, se_resnet_fashion])
