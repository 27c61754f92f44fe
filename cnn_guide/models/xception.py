"""Xception: Inception taken to its extreme, with depthwise separable convolutions.

Chollet, F. (2017). *Xception: Deep Learning with Depthwise Separable
Convolutions*. CVPR 2017. https://arxiv.org/abs/1610.02357

An Inception module maps cross-channel correlations (1x1 convolutions) and
spatial correlations (3x3 convolutions on a few channel groups) separately.
Xception pushes this to one group per channel: a depthwise separable
convolution. The network is 36 of them, with batch normalization and residual
connections, arranged in an entry flow (downsampling to 19x19), a middle flow
(8 identical residual modules at 728 channels) and an exit flow.

Chapter: ``docs/chapters/xception.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import keras

from cnn_guide._validate import boolean, int_at_least
from cnn_guide.data import FASHION_MNIST_SHAPE
from cnn_guide.layers.separable import SeparableConvBlock, XceptionBlock
from cnn_guide.models._common import (
    HeadOptions,
    check_dropout,
    check_head,
    check_input_shape,
    conv_bn_relu,
)
from cnn_guide.models._registry import Family, register_family

if TYPE_CHECKING:
    # Only for type checkers: typing.Unpack is new in Python 3.11.
    from typing_extensions import Unpack

__all__ = ["xception", "xception_fashion"]

PAPER = "Chollet 2017, Xception: Deep Learning with Depthwise Separable Convolutions"
URL = "https://arxiv.org/abs/1610.02357"
CHAPTER = "chapters/xception.md"


FAMILY = Family("xception", PAPER, 2017, URL, CHAPTER)
# What the registry knows of each builder: `ModelInfo` fields beyond the family's.
XCEPTION_MODELS: dict[str, dict] = {
    "xception": {
        "input_shape": (299, 299, 3),
        "min_input_size": 23,
        "summary": "Entry, middle and exit flows of residual depthwise separable convolutions",
        "reference_params": 22_910_480,
        "reference_source": "keras.applications.Xception(weights=None); Chollet 2017, Table 3",
    },
    "xception_fashion": {
        "input_shape": FASHION_MNIST_SHAPE,
        "min_input_size": 5,
        "summary": "Xception for 28x28: one-conv stem, 2 entry, 4 middle and 1 exit module",
        "variant_of": "xception",
    },
}


def xception(
    *,
    input_shape: Sequence[int] = (299, 299, 3),
    num_classes: int = 1000,
    middle_blocks: int = 8,
    residual: bool = True,
    name: str = "xception",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """Xception as in the paper's Figure 5: 22,910,480 weights (22,855,952 trainable).

    Layer for layer the network of ``keras.applications.Xception`` (the same
    weights in the same order), built from `XceptionBlock` modules:

    * entry flow: two 3x3 convolutions (32 with stride 2, then 64, both
      unpadded), then three residual modules of two separable convolutions
      (128, 256, 728 channels), each ending in a 3x3/2 max pooling with a
      strided 1x1 projection shortcut: 299 -> 149 -> 147 -> 74 -> 37 -> 19;
    * middle flow: ``middle_blocks`` (8) residual modules of three separable
      convolutions at 728 channels with identity shortcuts;
    * exit flow: a module (728, 1024) with pooling to 10x10, then separable
      convolutions of 1536 and 2048 channels, each followed by BN and ReLU,
      and global average pooling.

    Every separable convolution at 728 channels has 536,536 weights where a
    regular 3x3 convolution would have 4,769,856.

    The smallest input is 23x23: the stem leaves ``(n - 3) // 2 - 1`` pixels
    and each of the four poolings rounds up, so from 23 on every pooling
    still has at least 2x2 to reduce (23 -> 11 -> 9 -> 5 -> 3 -> 2 -> 1).
    ``keras.applications`` asks for 71, for its pretrained weights.

    Reference: Chollet, F. (2017), "Xception: Deep Learning with Depthwise
    Separable Convolutions", CVPR 2017, https://arxiv.org/abs/1610.02357.

    Chapter: ``docs/chapters/xception.md``.

    Args:
        input_shape: ``(height, width, channels)``, at least 23x23.
        num_classes: Number of classes of the classifier.
        middle_blocks: Number of middle-flow modules (8 in the paper).
        residual: ``False`` removes every shortcut (the paper's Figure 9
            ablation: slower convergence, lower accuracy).
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 23x23, a wrong rank,
            non-positive classes, an unknown pooling or a negative
            ``middle_blocks``.
    """
    shape = check_input_shape(input_shape, model=name, min_size=23)
    head = check_head(xception, name, num_classes, head_options)
    middle_blocks = int_at_least(middle_blocks, "middle_blocks", name, minimum=0)

    inputs = keras.Input(shape=shape, name="image")
    # Keras' defaults (Glorot initialization, batch normalization epsilon 1e-3
    # and momentum 0.99), as in keras.applications.Xception.
    keras_conv = {"kernel_initializer": "glorot_uniform", "bn_epsilon": 1e-3, "bn_momentum": 0.99}
    x = conv_bn_relu(inputs, 32, 3, stride=2, padding="valid", **keras_conv, name="block1_conv1")
    x = conv_bn_relu(x, 64, 3, padding="valid", **keras_conv, name="block1_conv2")
    # Entry flow; the first module's input has just been through a ReLU.
    for i, width in enumerate((128, 256, 728)):
        x = XceptionBlock(
            (width, width),
            strides=2,
            first_activation=i > 0,
            residual=residual,
            name=f"block{i + 2}",
        )(x)
    for i in range(middle_blocks):
        x = XceptionBlock((728, 728, 728), residual=residual, name=f"block{i + 5}")(x)
    x = XceptionBlock((728, 1024), strides=2, residual=residual, name="exit_block")(x)
    for width, suffix in ((1536, "1"), (2048, "2")):
        x = SeparableConvBlock(width, activation_first=False, name=f"exit_sepconv{suffix}")(x)
    return head.model(inputs, x, name)


def xception_fashion(
    *,
    input_shape: Sequence[int] = FASHION_MNIST_SHAPE,
    num_classes: int = 10,
    middle_blocks: int = 4,
    residual: bool = True,
    separable: bool = True,
    dropout: float = 0.0,
    bn_momentum: float = 0.9,
    name: str = "xception_fashion",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """A small Xception for 28x28x1 Fashion-MNIST, in the paper's three flows.

    What changed from the paper, and why:

    * **Stem**: a single padded 3x3 convolution of 24 channels at stride 1
      instead of two unpadded ones (32 channels at stride 2, then 64). A
      stride-2 stem would halve a 28x28 image before any feature is learned,
      and a second regular 3x3 convolution at full resolution (24 to 48
      channels) would add 8.1 million multiply-accumulates, half the cost of
      the rest of the network.
    * **Depth and widths**: the entry flow has two modules (48 and 96
      channels, taking 28 -> 14 -> 7) instead of three (128, 256, 728); the
      middle flow has ``middle_blocks`` (4) modules at 96 channels instead of
      8 at 728; the exit module (96, 144) pools to 4x4 and the last two
      separable convolutions have 216 and 288 channels instead of 1536 and
      2048 (the paper's ratios to the middle-flow width, roughly). Three
      downsamplings instead of five, so the last map is 4x4 (the paper's is
      10x10 at 299x299).
    * **Batch normalization momentum** 0.9 instead of Keras' 0.99. A fresh
      separable convolution's outputs have a variance far below the moving
      variance's starting value of 1, and 0.99 closes only 1% of the gap per
      step: after a short run of a few dozen steps the moving statistics are
      still wrong and the network evaluates near chance. 0.9 settles them
      within a few dozen steps (``bn_momentum=0.99`` restores the paper's).
    * Everything else is Xception's: residual separable modules with 3x3/2
      max pooling and strided 1x1 projection shortcuts, ReLU - SepConv - BN
      ordering, identity shortcuts in the middle flow, global average
      pooling.

    Cost: about 15.7 million multiply-accumulates per 28x28 image, with
    294,178 weights. With every separable convolution replaced by a regular
    3x3 convolution of the same widths (``separable=False``) the network
    costs about 122 million multiply-accumulates, 7.8 times more, and has
    2,230,690 weights.

    The smallest input is 5x5 (5 -> 3 -> 2 -> 1 through the three poolings).

    Reference: Chollet, F. (2017), "Xception: Deep Learning with Depthwise
    Separable Convolutions", CVPR 2017, https://arxiv.org/abs/1610.02357.

    Chapter: ``docs/chapters/xception.md``.

    Args:
        input_shape: ``(height, width, channels)``, at least 5x5.
        num_classes: Number of classes of the classifier.
        middle_blocks: Number of middle-flow modules.
        residual: ``False`` removes every shortcut.
        separable: ``False`` replaces every depthwise separable convolution
            (20 with four middle modules) by a regular 3x3 convolution with
            the same output channels. This tests the hypothesis behind
            Xception (Chollet 2017, sections 1.1-1.2): that spatial and
            cross-channel correlations can be mapped separately at little
            loss, for about an eighth of the weights and computation here.
        dropout: Dropout rate before the classifier.
        bn_momentum: Momentum of every batch normalization's moving statistics.
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 5x5, a wrong rank, non-positive
            classes, an unknown pooling, a negative ``middle_blocks``, a
            non-boolean ``separable`` or a dropout outside [0, 1).
    """
    shape = check_input_shape(input_shape, model=name, min_size=5)
    head = check_head(xception_fashion, name, num_classes, head_options)
    middle_blocks = int_at_least(middle_blocks, "middle_blocks", name, minimum=0)
    separable = boolean(separable, "separable", name)
    check_dropout(name, dropout)
    # For every separable unit below; the stem is a regular convolution either way.
    conv = {"separable": separable, "bn_momentum": bn_momentum}

    inputs = keras.Input(shape=shape, name="image")
    x = conv_bn_relu(
        inputs,
        24,
        3,
        kernel_initializer="glorot_uniform",
        bn_epsilon=1e-3,
        bn_momentum=bn_momentum,
        name="stem",
    )
    for i, width in enumerate((48, 96)):
        x = XceptionBlock(
            (width, width),
            strides=2,
            first_activation=i > 0,
            residual=residual,
            **conv,
            name=f"entry_block{i + 1}",
        )(x)
    for i in range(middle_blocks):
        x = XceptionBlock((96, 96, 96), residual=residual, **conv, name=f"middle_block{i + 1}")(x)
    x = XceptionBlock((96, 144), strides=2, residual=residual, **conv, name="exit_block")(x)
    for width, block in ((216, "exit_sepconv1"), (288, "exit_sepconv2")):
        x = SeparableConvBlock(width, activation_first=False, **conv, name=block)(x)
    return head.model(inputs, x, name, dropout=dropout)


register_family(FAMILY, XCEPTION_MODELS, [xception, xception_fashion])
