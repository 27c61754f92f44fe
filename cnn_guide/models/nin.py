"""Network in Network (Lin, Chen and Yan 2013): mlpconv layers, no dense layers.

Lin, Chen and Yan (2013), "Network In Network", https://arxiv.org/abs/1312.4400.
The ImageNet form follows Dive into Deep Learning, section 8.3
(https://d2l.ai/chapter_convolutional-modern/nin.html).
Chapter: ``docs/chapters/nin.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import keras

from cnn_guide.data import FASHION_MNIST_SHAPE
from cnn_guide.models._common import Head, HeadOptions, check_dropout, check_head, check_input_shape
from cnn_guide.models._registry import Family, register_family

if TYPE_CHECKING:
    # Only for type checkers: typing.Unpack is new in Python 3.11.
    from typing_extensions import Unpack

__all__ = ["nin", "nin_fashion"]

NIN_PAPER = "Lin, Chen and Yan, Network In Network"
NIN_URL = "https://arxiv.org/abs/1312.4400"
# As for AlexNet: the 11x11/4 stem and three 3x3/2 'valid' poolings need 67
# pixels to leave a 1x1 map (67 -> 15 -> 7 -> 3 -> 1).
NIN_MIN_SIZE = 67
HEAD_CHOICES = ("global_average", "dense")
# The feature mlpconvs: (filters, kernel, stride, padding, max pooling after).
# AlexNet's sizes, as in Dive into Deep Learning; then the Fashion-MNIST
# variant's (see its docstring). A 3x3 class-map mlpconv follows in both.
NIN_BLOCKS = ((96, 11, 4, "valid", True), (256, 5, 1, "same", True), (384, 3, 1, "same", True))
FASHION_BLOCKS = ((32, 5, 1, "same", True), (64, 3, 1, "same", True), (128, 3, 1, "same", False))


FAMILY = Family("nin", NIN_PAPER, 2013, NIN_URL, "chapters/nin.md")
# What the registry knows of each builder: `ModelInfo` fields beyond the family's.
NIN_MODELS: dict[str, dict] = {
    "nin": {
        "input_shape": (224, 224, 3),
        "min_input_size": NIN_MIN_SIZE,
        "summary": "Network in Network: four mlpconv layers, class maps, global avg pooling",
    },
    "nin_fashion": {
        "input_shape": FASHION_MNIST_SHAPE,
        "min_input_size": 7,
        "summary": "NiN for 28x28: mlpconv 32-64-128, class maps, global average pooling",
        "variant_of": "nin",
    },
}


def _mlpconv(
    x: keras.KerasTensor,
    filters: int,
    kernel_size: int,
    strides: int,
    padding: str,
    name: str,
) -> keras.KerasTensor:
    """An mlpconv layer: a convolution, then two 1x1 convolutions, all ReLU.

    The two 1x1 convolutions are a small multilayer perceptron applied at
    every pixel, across the channels: the "micro network" the paper slides
    over the input in place of a linear filter.
    """

    def conv(k: int, s: int, pad: str, suffix: str) -> keras.layers.Conv2D:
        return keras.layers.Conv2D(
            filters,
            k,
            strides=s,
            padding=pad,
            activation="relu",
            kernel_initializer="he_normal",
            name=f"{name}_{suffix}",
        )

    x = conv(kernel_size, strides, padding, "conv")(x)
    x = conv(1, 1, "valid", "mlp1")(x)
    return conv(1, 1, "valid", "mlp2")(x)


def _nin_graph(
    shape: tuple[int, int, int],
    head: Head,
    name: str,
    blocks: Sequence[tuple[int, int, int, str, bool]],
    *,
    dropout: float,
    dense: bool = False,
) -> keras.Model:
    """Feature mlpconvs with poolings, then the class-map head (arguments checked)."""
    inputs = keras.Input(shape=shape, name="image")
    x = inputs
    for index, (filters, kernel, stride, padding, pool) in enumerate(blocks, start=1):
        x = _mlpconv(x, filters, kernel, stride, padding, f"mlpconv{index}")
        if pool:
            x = keras.layers.MaxPooling2D(3, strides=2, name=f"pool{index}")(x)

    def class_maps(x: keras.KerasTensor) -> keras.KerasTensor:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
        # The head: one map per class, averaged over the image. No dense layer,
        # so nothing in the head can overfit the way AlexNet's 4096-unit layers can.
        x = _mlpconv(x, head.num_classes, 3, 1, "same", f"mlpconv{len(blocks) + 1}")
        if dense:
            # Section 4.6's control: the same class maps read by one fully
            # connected linear layer, with dropout before it, instead of averaged.
            x = keras.layers.Flatten(name="flatten")(x)
            x = keras.layers.Dropout(dropout, name="head_dropout")(x)
            return head.classifier(x)
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        # Softmax in float32 whatever the policy (as _common.classifier does).
        return keras.layers.Activation(head.activation, dtype="float32", name="predictions")(x)

    return head.model(inputs, x, name, top=class_maps)


def nin(
    *,
    input_shape: Sequence[int] = (224, 224, 3),
    num_classes: int = 1000,
    dropout: float = 0.5,
    name: str = "nin",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """Network in Network for ImageNet-sized images (7,439,608 parameters).

    Two ideas (Lin, Chen and Yan 2013):

    * the **mlpconv** layer: each convolution is followed by two 1x1
      convolutions, a small multilayer perceptron run at every pixel, which
      makes the local feature extractor non-linear (section 3.1);
    * **global average pooling** instead of dense layers: the last mlpconv
      has one map per class and each class score is the average of its map
      (section 3.2), so the head has no parameters of its own, cannot overfit
      like a dense head, and works at any input size.

    The layers, as in Dive into Deep Learning (section 8.3), which follows
    AlexNet's sizes: mlpconv 96 (11x11, stride 4), 3x3/2 max pooling,
    mlpconv 256 (5x5), pooling, mlpconv 384 (3x3), pooling, dropout 0.5,
    mlpconv ``num_classes`` (3x3), global average pooling, softmax. Every
    convolution is followed by ReLU, the class maps' included. At 224x224 the
    class maps are 5x5.

    The paper publishes no parameter count for its ImageNet model, so there
    is no reference figure: 7,439,608 is what this layer spec gives for 1000
    classes, of which the class-map mlpconv holds 5,459,000.

    Reference: Lin, Chen and Yan (2013), "Network In Network",
    https://arxiv.org/abs/1312.4400. Chapter: ``docs/chapters/nin.md``.

    Args:
        input_shape: ``(height, width, channels)``; at least 67x67, the
            smallest input the stride-4 stem and three 3x3/2 poolings leave a
            1x1 map of.
        num_classes: Number of classes, i.e. of class maps.
        dropout: Dropout rate before the class-map mlpconv.
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 67x67, a wrong rank,
            non-positive classes, an unknown pooling or a dropout outside
            [0, 1).
    """
    shape = check_input_shape(input_shape, model=name, min_size=NIN_MIN_SIZE)
    head = check_head(nin, name, num_classes, head_options)
    check_dropout(name, dropout)
    return _nin_graph(shape, head, name, NIN_BLOCKS, dropout=dropout)


def nin_fashion(
    *,
    input_shape: Sequence[int] = FASHION_MNIST_SHAPE,
    num_classes: int = 10,
    dropout: float = 0.5,
    head: str = "global_average",
    name: str = "nin_fashion",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """Network in Network for 28x28 Fashion-MNIST: 148,390 parameters, 11.0M MACs.

    What is kept from the paper: every convolution followed by two 1x1
    convolutions (mlpconv), ReLU throughout, overlapping 3x3/2 max pooling,
    dropout 0.5 before a last mlpconv with one map per class, global average
    pooling and softmax: no dense layer anywhere.

    What changed and why:

    * the first mlpconv uses a 5x5 kernel with stride 1 and 'same' padding
      instead of 11x11 with stride 4, which would shrink 28 pixels to 5;
    * two poolings instead of three (28 -> 13 -> 6), so the class maps are
      6x6, close to the 5x5 of the ImageNet model, rather than 2x2;
    * widths 32, 64, 128 instead of 96, 256, 384, and 3x3 instead of 5x5 in
      the second mlpconv, to fit a 2-core CPU's compute budget.

    Compute per 28x28 image (multiply-accumulates): mlpconv1 28x28x(25x32 +
    2x32x32) = 2.23M; mlpconv2 13x13x(9x32x64 + 2x64x64) = 4.50M; mlpconv3
    6x6x(9x64x128 + 2x128x128) = 3.83M; class maps 6x6x(9x128x10 + 2x10x10) =
    0.42M: about 11.0M in all.

    Reference: Lin, Chen and Yan (2013), "Network In Network",
    https://arxiv.org/abs/1312.4400. Chapter: ``docs/chapters/nin.md``.

    Args:
        input_shape: ``(height, width, channels)``; at least 7x7, the smallest
            input two 3x3/2 'valid' poolings leave a 1x1 map of.
        num_classes: Number of classes, i.e. of class maps.
        dropout: Dropout rate before the class-map mlpconv (and, with
            ``head="dense"``, before the fully connected layer).
        head: ``"global_average"`` (the paper's: each class score is the
            average of its class map) or ``"dense"``, the control of the
            paper's section 4.6 (Table 5): the same class maps, flattened
            (6x6 x ``num_classes`` = 360 features at 28x28) and read by one
            fully connected linear layer with dropout before it, then the
            softmax; everything else unchanged. On CIFAR-10 the paper found
            global average pooling the lowest test error, ahead of the fully
            connected layer with dropout, itself ahead of it without. The
            dense layer adds 360 x 10 + 10 = 3,610 parameters (152,000 in
            all) and ties the model to its input size.
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 7x7, a wrong rank, non-positive
            classes, an unknown pooling, a dropout outside [0, 1) or an
            unknown head.
    """
    shape = check_input_shape(input_shape, model=name, min_size=7)
    checked = check_head(nin_fashion, name, num_classes, head_options)
    check_dropout(name, dropout)
    if head not in HEAD_CHOICES:
        raise ValueError(
            f"{name}: head must be one of {HEAD_CHOICES}, got {head!r}. Pass "
            "'global_average' (the paper's) or 'dense' (section 4.6's fully connected "
            "control), e.g. --option head=dense on the command line."
        )
    return _nin_graph(shape, checked, name, FASHION_BLOCKS, dropout=dropout, dense=head == "dense")


register_family(FAMILY, NIN_MODELS, [nin, nin_fashion])
