"""MobileNetV2: inverted residuals and linear bottlenecks.

Sandler, M., Howard, A., Zhu, M., Zhmoginov, A. and Chen, L.-C. (2018).
*MobileNetV2: Inverted Residuals and Linear Bottlenecks*. CVPR 2018.
https://arxiv.org/abs/1801.04381

MobileNetV1 replaced regular convolutions by depthwise separable ones.
MobileNetV2 keeps the depthwise 3x3 but wraps it in a block that expands a
thin tensor six times with a 1x1 convolution, filters it depthwise, and
projects it back with a *linear* 1x1 convolution, with the shortcut between
the thin ends. A width multiplier ``alpha`` scales every layer for a smooth
trade of accuracy against cost.

Chapter: ``docs/chapters/mobilenet.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import keras

from cnn_guide._validate import boolean, positive_int
from cnn_guide.data import FASHION_MNIST_SHAPE
from cnn_guide.layers.mobile import InvertedResidual
from cnn_guide.models._common import HeadOptions, check_dropout, check_head, check_input_shape
from cnn_guide.models._registry import Family, register_family

if TYPE_CHECKING:
    # Only for type checkers: typing.Unpack is new in Python 3.11.
    from typing_extensions import Unpack

__all__ = ["mobilenet_v2", "mobilenet_v2_fashion"]

PAPER = (
    "Sandler, Howard, Zhu, Zhmoginov, Chen 2018, MobileNetV2: Inverted Residuals "
    "and Linear Bottlenecks"
)
URL = "https://arxiv.org/abs/1801.04381"
CHAPTER = "chapters/mobilenet.md"

# Table 2 of the paper: expansion t, output channels c, repeats n, stride s.
PAPER_STAGES = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


FAMILY = Family("mobilenet_v2", PAPER, 2018, URL, CHAPTER)
# What the registry knows of each builder: `ModelInfo` fields beyond the family's.
MOBILENET_MODELS: dict[str, dict] = {
    "mobilenet_v2": {
        "input_shape": (224, 224, 3),
        "min_input_size": 17,
        "summary": "17 inverted residuals (expand x6, depthwise 3x3, linear 1x1), alpha 1.0",
        "reference_params": 3_538_984,
        "reference_source": "keras.applications.MobileNetV2(weights=None)",
    },
    "mobilenet_v2_fashion": {
        "input_shape": FASHION_MNIST_SHAPE,
        "min_input_size": 5,
        "summary": "MobileNetV2 for 28x28: stride-1 stem, three downsamplings, alpha 0.5",
        "variant_of": "mobilenet_v2",
    },
}


def _make_divisible(value: float, divisor: int = 8) -> int:
    """Round a width to a multiple of ``divisor``, never more than 10% down.

    The rule of the reference implementation (and of Keras' MobileNetV2):
    widths stay multiples of 8, which suits vectorized hardware.
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _check_alpha(alpha: object, model: str) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha > 0:
        raise ValueError(
            f"{model}: alpha (the width multiplier) must be a positive number, got "
            f"{alpha!r}; the paper uses 0.35 to 1.4."
        )
    return float(alpha)


def _min_side(num_stride2: int) -> int:
    """Smallest side at which every stride-2 layer still receives a 2x2 map.

    Padded stride-2 layers give ceil(n / 2), so ``k`` of them need
    ``2**(k - 1) + 1`` pixels.
    """
    return 2 ** (num_stride2 - 1) + 1 if num_stride2 else 1


def _mobilenet_v2_body(
    x: keras.KerasTensor,
    *,
    alpha: float,
    stem_stride: int,
    stages: Sequence[tuple[int, int, int, int]],
    last_channels: int,
    bn_momentum: float,
    separable: bool = True,
    linear_bottleneck: bool = True,
) -> keras.KerasTensor:
    bn = {"epsilon": 1e-3, "momentum": bn_momentum}
    x = keras.layers.Conv2D(
        _make_divisible(32 * alpha),
        3,
        strides=stem_stride,
        padding="same",
        use_bias=False,
        name="stem_conv",
    )(x)
    x = keras.layers.BatchNormalization(**bn, name="stem_bn")(x)
    x = keras.layers.ReLU(6.0, name="stem_relu")(x)
    block = 0
    for expansion, channels, repeats, stride in stages:
        # int() before rounding, as in the reference implementation.
        width = _make_divisible(int(channels * alpha))
        for i in range(repeats):
            x = InvertedResidual(
                width,
                expansion=expansion,
                strides=stride if i == 0 else 1,
                separable=separable,
                linear_bottleneck=linear_bottleneck,
                bn_epsilon=1e-3,
                bn_momentum=bn_momentum,
                name=f"block{block}",
            )(x)
            block += 1
    x = keras.layers.Conv2D(last_channels, 1, use_bias=False, name="last_conv")(x)
    x = keras.layers.BatchNormalization(**bn, name="last_bn")(x)
    return keras.layers.ReLU(6.0, name="last_relu")(x)


def mobilenet_v2(
    *,
    input_shape: Sequence[int] = (224, 224, 3),
    num_classes: int = 1000,
    alpha: float = 1.0,
    name: str = "mobilenet_v2",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """MobileNetV2 (Table 2 of the paper): 3,538,984 weights (3,504,872 trainable).

    Layer for layer the network of ``keras.applications.MobileNetV2`` (the
    same weights in the same order, for any ``alpha``):

    * a 3x3/2 convolution of 32 channels, BN, ReLU6;
    * 17 `InvertedResidual` blocks in seven stages (expansion t, channels c,
      repeats n, stride s of the first): (1, 16, 1, 1), (6, 24, 2, 2),
      (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
      (6, 320, 1, 1), taking 224 -> 112 -> 56 -> 28 -> 14 -> 7;
    * a 1x1 convolution to 1280 channels, BN, ReLU6, global average pooling.

    About 301 million multiply-accumulates at 224x224, of which the 3x3
    depthwise convolutions are only about 7%: the 1x1 convolutions do the
    work.

    ``alpha`` multiplies every width (rounded to a multiple of 8); the last
    convolution keeps 1280 channels unless ``alpha > 1``, as in the paper.

    The smallest input is 17x17: the five padded stride-2 layers each round
    up, and from 17 on each of them still halves at least a 2x2 map
    (17 -> 9 -> 5 -> 3 -> 2 -> 1). ``keras.applications`` asks for 32.

    Reference: Sandler, M., Howard, A., Zhu, M., Zhmoginov, A. and Chen,
    L.-C. (2018), "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
    CVPR 2018, https://arxiv.org/abs/1801.04381.

    Chapter: ``docs/chapters/mobilenet.md``.

    Args:
        input_shape: ``(height, width, channels)``, at least 17x17.
        num_classes: Number of classes of the classifier.
        alpha: Width multiplier (0.35, 0.5, 0.75, 1.0, 1.3 and 1.4 in the
            paper).
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 17x17, a wrong rank,
            non-positive classes, an unknown pooling or a non-positive
            ``alpha``.
    """
    alpha = _check_alpha(alpha, name)
    shape = check_input_shape(input_shape, model=name, min_size=_min_side(5))
    head = check_head(mobilenet_v2, name, num_classes, head_options)

    inputs = keras.Input(shape=shape, name="image")
    x = _mobilenet_v2_body(
        inputs,
        alpha=alpha,
        stem_stride=2,
        stages=PAPER_STAGES,
        last_channels=_make_divisible(1280 * alpha) if alpha > 1.0 else 1280,
        bn_momentum=0.999,
    )
    return head.model(inputs, x, name)


# The paper's table with the stride of two stages set to 1 (see the docstring).
FASHION_STAGES = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 1),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def mobilenet_v2_fashion(
    *,
    input_shape: Sequence[int] = FASHION_MNIST_SHAPE,
    num_classes: int = 10,
    alpha: float = 0.5,
    last_channels: int = 1280,
    separable: bool = True,
    linear_bottleneck: bool = True,
    dropout: float = 0.0,
    name: str = "mobilenet_v2_fashion",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """A MobileNetV2 for 28x28x1 Fashion-MNIST: the paper's 17 blocks, narrower.

    What changed from the paper, and why:

    * **Stem stride 1** instead of 2, and **stride 1 in the 64-channel
      stage**: five downsamplings would take 28x28 to 1x1. The three kept
      (24-, 32- and 160-channel stages) give 28 -> 14 -> 7 -> 4, so the
      network ends on a 4x4 map as the paper's ends on 7x7.
    * **Width multiplier ``alpha`` = 0.5**, the paper's own knob for cheaper
      models: every block keeps its expansion factor 6 but has half the
      channels (16-8-16-16-32-48-80-160 after rounding to multiples of 8).
    * BatchNorm momentum 0.99 instead of 0.999, so the moving statistics
      settle within an epoch of Fashion-MNIST rather than ten.
    * Everything else is MobileNetV2's: 17 inverted residual blocks with the
      paper's expansions and repeats, ReLU6, linear bottlenecks, shortcuts
      between the thin ends, global average pooling.

    Cost: about 17.5 million multiply-accumulates per 28x28 image, with
    718,746 weights. With regular 3x3 convolutions in place of the depthwise
    ones (``separable=False``) the same network costs about 304 million (17
    times more) and has 10,911,354 weights.

    The smallest input is 5x5 (5 -> 3 -> 2 -> 1 through the three
    downsamplings).

    Reference: Sandler, M., Howard, A., Zhu, M., Zhmoginov, A. and Chen,
    L.-C. (2018), "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
    CVPR 2018, https://arxiv.org/abs/1801.04381.

    Chapter: ``docs/chapters/mobilenet.md``.

    Args:
        input_shape: ``(height, width, channels)``, at least 5x5.
        num_classes: Number of classes of the classifier.
        alpha: Width multiplier of the blocks and the stem.
        last_channels: Channels of the last 1x1 convolution (1280, as the
            paper keeps for every ``alpha`` <= 1).
        separable: ``False`` makes the depthwise 3x3 of every block a
            regular 3x3 convolution of the same (expanded) width, to measure
            what the depthwise factorization of MobileNets (Howard et al.
            2017; Sandler et al. 2018, section 3.1) saves and costs.
        linear_bottleneck: ``False`` adds a ReLU6 after every block's 1x1
            projection: the ablation of Sandler et al. 2018 (section 6.4,
            Figure 6a), where the non-linear bottleneck trains to a lower
            accuracy.
        dropout: Dropout rate before the classifier.
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 5x5, a wrong rank, non-positive
            classes, an unknown pooling, a non-positive ``alpha`` or
            ``last_channels``, a non-boolean ``separable`` or
            ``linear_bottleneck``, or a dropout outside [0, 1).
    """
    alpha = _check_alpha(alpha, name)
    shape = check_input_shape(input_shape, model=name, min_size=_min_side(3))
    head = check_head(mobilenet_v2_fashion, name, num_classes, head_options)
    last_channels = positive_int(last_channels, "last_channels", name)
    separable = boolean(separable, "separable", name)
    linear_bottleneck = boolean(linear_bottleneck, "linear_bottleneck", name)
    check_dropout(name, dropout)

    inputs = keras.Input(shape=shape, name="image")
    x = _mobilenet_v2_body(
        inputs,
        alpha=alpha,
        stem_stride=1,
        stages=FASHION_STAGES,
        last_channels=last_channels,
        bn_momentum=0.99,
        separable=separable,
        linear_bottleneck=linear_bottleneck,
    )
    return head.model(inputs, x, name, dropout=dropout)


register_family(FAMILY, MOBILENET_MODELS, [mobilenet_v2, mobilenet_v2_fashion])
