"""A small residual network sized for speed on a CPU: the fast recipe's model.

It follows David Page's "ResNet-9" for fast CIFAR-10 training (a
convolution then max pooling at each stage, residual pairs after two of the
stages, global max pooling and a scaled classifier), narrowed so that a
28x28 image costs about 3.5 million multiply-accumulates.
Chapter: ``docs/chapters/fast.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import keras

from cnn_guide._validate import positive_int
from cnn_guide.data import FASHION_MNIST_SHAPE
from cnn_guide.layers.airbench import IdentityInitializer, ScaledBias
from cnn_guide.layers.whitening import PatchWhitening
from cnn_guide.models._common import HeadOptions, check_head, check_input_shape
from cnn_guide.models._registry import Family, register_family

if TYPE_CHECKING:
    # Only for type checkers: typing.Unpack is new in Python 3.11.
    from typing_extensions import Unpack

__all__ = ["ACTIVATIONS", "fast_resnet_fashion"]

ACTIVATIONS = ("relu", "gelu")
"""The activations `fast_resnet_fashion` offers: Page's ReLU and airbench's GELU."""


FAMILY = Family(
    "fast",
    "Page (2018), How to Train Your ResNet",
    2018,
    "https://myrtle.ai/learn/how-to-train-your-resnet/",
    "chapters/fast.md",
)
# What the registry knows of each builder: `ModelInfo` fields beyond the family's.
FAST_MODELS: dict[str, dict] = {
    "fast_resnet_fashion": {
        "input_shape": FASHION_MNIST_SHAPE,
        "min_input_size": 8,
        "summary": "Fast recipe's net: ResNet-9 layout narrowed to 16-32-64, 117k parameters",
        "variant_of": "resnet18",
    },
}


def fast_resnet_fashion(
    *,
    input_shape: Sequence[int] = FASHION_MNIST_SHAPE,
    num_classes: int = 10,
    width: int = 16,
    whiten: bool = False,
    activation: str = "relu",
    identity_init: bool = False,
    bias_rate: float = 1.0,
    name: str = "fast_resnet_fashion",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """A ResNet-9-style network for fast training on 28x28 images.

    Layout, with ``w = width``: a 3x3 convolution with ``w`` filters at
    28x28, max pooling to 14x14; a convolution with ``2w`` filters, pooling to
    7x7, and a residual pair of ``2w``-filter convolutions; a convolution
    with ``4w`` filters, pooling to 3x3, and a residual pair of
    ``4w``-filter convolutions; global max pooling and the classifier. Every
    convolution is 3x3 without bias, followed by batch normalization and ReLU.
    At ``width=16``: 117,210 parameters (116,602 trainable) and about 3.5
    million multiply-accumulates per image.

    What makes it fast on a CPU, against the book's `resnet_fashion` (20
    million multiply-accumulates): only one convolution runs at full 28x28
    resolution, and each stage pools *before* its residual pair, so most
    of the work happens on 7x7 and 3x3 maps. Filters still double at each
    pooling, as everywhere in the book.

    Reference: D. Page (2018), "How to Train Your ResNet",
    https://myrtle.ai/learn/how-to-train-your-resnet/ (ResNet-9, 94% on
    CIFAR-10 in 79 seconds on one V100); residual learning from He et al.
    (2015), https://arxiv.org/abs/1512.03385.

    Args:
        input_shape: ``(height, width, channels)``; at least 8x8 (three poolings).
        num_classes: Number of classes of the classifier.
        width: Filters of the first convolution; the stages have ``2 *
            width`` and ``4 * width``. Cost grows with its square.
        whiten: Replace the first convolution by a frozen 2x2
            `cnn_guide.layers.PatchWhitening` (8 channels for a grayscale
            image, 27x27), followed by the activation, as airbench does
            (Jordan, 2024); `cnn_guide.training.fit` sets its filters from the
            training images.
        activation: ``"relu"`` (Page's) or ``"gelu"`` (airbench's), after
            every batch normalization.
        identity_init: Start every convolution's first filters as the
            identity (`cnn_guide.layers.IdentityInitializer`), as airbench
            does; ``False`` for He-normal kernels throughout.
        bias_rate: How many times faster batch normalization's biases learn
            than the other weights (airbench: 64), by a
            `cnn_guide.layers.ScaledBias` in place of each batch
            normalization's own shift; 1 for ordinary batch normalization.
            The parameter count is the same either way.
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input below 8x8, a non-positive width, bad classes
            or an unknown pooling.
    """
    shape = check_input_shape(input_shape, model=name, min_size=8)
    head = check_head(fast_resnet_fashion, name, num_classes, head_options)
    width = positive_int(width, "width", name)
    if not bias_rate > 0:
        raise ValueError(f"{name}: bias_rate must be positive, got {bias_rate!r}.")
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"{name}: activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}."
        )

    def activate(x: keras.KerasTensor, layer_name: str) -> keras.KerasTensor:
        if activation == "relu":
            return keras.layers.ReLU(name=f"{layer_name}_relu")(x)
        return keras.layers.Activation(activation, name=f"{layer_name}_{activation}")(x)

    def conv_bn(x: keras.KerasTensor, filters: int, layer_name: str) -> keras.KerasTensor:
        x = keras.layers.Conv2D(
            filters,
            3,
            padding="same",
            use_bias=False,
            kernel_initializer=IdentityInitializer() if identity_init else "he_normal",
            name=f"{layer_name}_conv",
        )(x)
        if bias_rate == 1:
            x = keras.layers.BatchNormalization(name=f"{layer_name}_bn")(x)
        else:  # the shift moved out of batch normalization, to learn faster
            x = keras.layers.BatchNormalization(center=False, name=f"{layer_name}_bn")(x)
            x = ScaledBias(bias_rate, name=f"{layer_name}_bias")(x)
        return activate(x, layer_name)

    def residual_pair(x: keras.KerasTensor, filters: int, layer_name: str) -> keras.KerasTensor:
        y = conv_bn(x, filters, f"{layer_name}a")
        y = conv_bn(y, filters, f"{layer_name}b")
        return keras.layers.Add(name=f"{layer_name}_add")([x, y])

    inputs = keras.Input(shape=shape, name="image")
    if whiten:  # decorrelated 2x2 patches, never trained, in place of a learnt 3x3 stem
        x = activate(PatchWhitening(2, name="stem_whitening")(inputs), "stem")
    else:
        x = conv_bn(inputs, width, "stem")
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = conv_bn(x, 2 * width, "stage2")
    x = keras.layers.MaxPooling2D(name="pool2")(x)
    x = residual_pair(x, 2 * width, "res2")
    x = conv_bn(x, 4 * width, "stage3")
    x = keras.layers.MaxPooling2D(name="pool3")(x)
    x = residual_pair(x, 4 * width, "res3")
    # Page's head: global max pooling, then the classifier.
    top = keras.layers.GlobalMaxPooling2D(name="max_pool")
    return head.model(inputs, x, name, top=lambda x: head.classifier(top(x)))


register_family(FAMILY, FAST_MODELS, [fast_resnet_fashion])
