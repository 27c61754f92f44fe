"""VGG (Simonyan and Zisserman 2014): depth from stacks of 3x3 convolutions.

Simonyan and Zisserman (2014), "Very Deep Convolutional Networks for
Large-Scale Image Recognition", https://arxiv.org/abs/1409.1556, Table 1.
Chapter: ``docs/chapters/vgg.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

import keras

from cnn_guide._validate import boolean, positive_ints
from cnn_guide.data import FASHION_MNIST_SHAPE
from cnn_guide.models._common import (
    HeadOptions,
    ModelArguments,
    check_dropout,
    check_head,
    check_input_shape,
)
from cnn_guide.models._registry import Family, register_family

if TYPE_CHECKING:
    # Only for type checkers: typing.Unpack is new in Python 3.11.
    from typing_extensions import Unpack

__all__ = ["VGG_CONFIGS", "vgg11", "vgg13", "vgg16", "vgg19", "vgg_fashion"]

VGG_PAPER = (
    "Simonyan and Zisserman, Very Deep Convolutional Networks for Large-Scale Image Recognition"
)
VGG_URL = "https://arxiv.org/abs/1409.1556"

VGG_CONFIGS: dict[str, tuple[tuple[int, ...], ...]] = {
    "A": ((64,), (128,), (256, 256), (512, 512), (512, 512)),
    "B": ((64, 64), (128, 128), (256, 256), (512, 512), (512, 512)),
    "D": ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
    "E": (
        (64, 64),
        (128, 128),
        (256, 256, 256, 256),
        (512, 512, 512, 512),
        (512, 512, 512, 512),
    ),
}
"""The paper's configurations A, B, D and E (Table 1): per block, the filters of
each 3x3 convolution; every block ends with a 2x2/2 max pooling."""
# The registered configurations, by the names of the paper's networks.
_REGISTERED = {"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}


class VGGArguments(ModelArguments, total=False):
    """The keyword arguments of `vgg`, which its rows ``vgg11`` ... take too."""

    dropout: float
    dense_units: int
    stacked_kernels: bool
    batch_norm: bool


FAMILY = Family("vgg", VGG_PAPER, 2014, VGG_URL, "chapters/vgg.md")
# What the registry knows of each builder: `ModelInfo` fields beyond the family's.
VGG_MODELS: dict[str, dict] = {
    "vgg11": {
        "input_shape": (224, 224, 3),
        "min_input_size": 32,
        "summary": "VGG configuration A: 8 convolutions 3x3 in 5 blocks, dense 4096-4096",
        "reference_params": 132_863_336,
        "reference_source": "torchvision VGG11_Weights.IMAGENET1K_V1 meta num_params",
    },
    "vgg13": {
        "input_shape": (224, 224, 3),
        "min_input_size": 32,
        "summary": "VGG configuration B: 10 convolutions 3x3 in 5 blocks, dense 4096-4096",
        "reference_params": 133_047_848,
        "reference_source": "torchvision VGG13_Weights.IMAGENET1K_V1 meta num_params",
    },
    "vgg16": {
        "input_shape": (224, 224, 3),
        "min_input_size": 32,
        "summary": "VGG configuration D: 13 convolutions 3x3 in 5 blocks, dense 4096-4096",
        "reference_params": 138_357_544,
        "reference_source": "keras.applications.VGG16",
    },
    "vgg19": {
        "input_shape": (224, 224, 3),
        "min_input_size": 32,
        "summary": "VGG configuration E: 16 convolutions 3x3 in 5 blocks, dense 4096-4096",
        "reference_params": 143_667_240,
        "reference_source": "keras.applications.VGG19",
    },
    "vgg_fashion": {
        "input_shape": FASHION_MNIST_SHAPE,
        "min_input_size": 8,
        "summary": "VGG for 28x28: 3x3 blocks 32 | 64 64 | 128 128, dense 256-256",
        "variant_of": "vgg11",
    },
}


def vgg(
    config: str | Sequence[Sequence[int]],
    *,
    input_shape: Sequence[int] = (224, 224, 3),
    num_classes: int = 1000,
    dropout: float = 0.5,
    dense_units: int = 4096,
    stacked_kernels: bool = True,
    batch_norm: bool = False,
    name: str | None = None,
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """A VGG network from a configuration of Table 1: 3x3 blocks, 2x2 poolings, dense head.

    Each block stacks 3x3 convolutions with 'same' padding and ReLU and ends
    with a 2x2/2 max pooling; the filters double from block to block. The
    head flattens the last map into two dense ReLU layers of ``dense_units``,
    each followed by dropout (section 3.1), and the classifier. The paper's
    argument: two stacked 3x3 convolutions see a 5x5 window and three a 7x7
    one, with fewer weights (27C^2 against 49C^2 for 7x7) and more
    non-linearities (section 2.3).

    Layer names follow ``keras.applications.VGG16`` (``block1_conv1``,
    ``block1_pool``, ..., ``fc1``, ``fc2``, ``predictions``), so weights can
    be copied layer by layer; `vgg16` and `vgg19` match its parameter counts
    (it has the same layers without dropout).

    Reference: Simonyan and Zisserman (2014), "Very Deep Convolutional
    Networks for Large-Scale Image Recognition",
    https://arxiv.org/abs/1409.1556. Chapter: ``docs/chapters/vgg.md``.

    Args:
        config: A configuration of `VGG_CONFIGS` (``"A"``, ``"B"``, ``"D"``,
            ``"E"``), the name of a registered one (``"vgg16"``, which also
            names the model), or blocks of your own: per block, the filters
            of each 3x3 convolution.
        input_shape: ``(height, width, channels)``; at least ``2**blocks``
            (32x32 for five blocks), since each 2x2 pooling halves the side.
            The dense head reads the whole last map, so other sizes than the
            default change fc1's parameters.
        num_classes: Number of classes of the classifier.
        dropout: Dropout rate after fc1 and fc2.
        dense_units: Width of fc1 and fc2.
        stacked_kernels: ``False`` replaces each block's n stacked 3x3
            convolutions by one (2n+1)x(2n+1) convolution with the block's
            filters and the same receptive field (``block{b}_conv1``), so one
            ReLU per block instead of n. It is the comparison of the paper's
            section 2.3 (three 3x3 layers: 27C^2 weights and three
            non-linearities; one 7x7: 49C^2 and one) and section 4.1, where
            configuration B with each pair of 3x3 layers replaced by one 5x5
            had a top-1 error 7% higher. Unlike the paper's equal-width
            arithmetic, the single kernels here have fewer weights (620,042
            in all in `vgg_fashion`, against 640,714): a pair's second 3x3
            reads the block's wider map, the 5x5 only the narrower input
            (block 2 of `vgg_fashion`: 25 x 32 x 64 = 51,200 weights against
            9 x (32 x 64 + 64 x 64) = 55,296), so the comparison isolates
            depth and non-linearity.
        batch_norm: ``True`` puts a batch normalization between each
            convolution and its ReLU (``block{b}_bn{c}``, ``block{b}_relu{c}``;
            Ioffe and Szegedy, 2015, https://arxiv.org/abs/1502.03167), as VGG
            is usually trained today; the batch-norm chapter's experiment
            compares the two at several learning rates. Each convolution of F
            filters loses its F biases and gains 4F normalization numbers.
        name: Model name; by default the registered name of ``config``, or
            ``"vgg"``.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an unknown configuration, an input too small for
            the poolings, a wrong rank, non-positive classes, an unknown
            pooling, a dropout outside [0, 1) or a non-boolean
            ``stacked_kernels`` or ``batch_norm``.
    """
    if isinstance(config, str) and config in _REGISTERED:  # vgg("vgg16") is vgg16()
        name, config = name or config, _REGISTERED[config]
    name = name or "vgg"
    if isinstance(config, str):
        if config not in VGG_CONFIGS:
            raise ValueError(
                f"{name}: unknown configuration {config!r}; choose one of {list(VGG_CONFIGS)}."
            )
        config = VGG_CONFIGS[config]
    blocks = [positive_ints(block, "config", name) for block in config]
    # Each block halves the side with a 2x2/2 'valid' pooling; the last map
    # must keep at least one pixel.
    shape = check_input_shape(input_shape, model=name, min_size=2 ** len(blocks))
    head = check_head(vgg, name, num_classes, head_options)
    check_dropout(name, dropout)
    stacked_kernels = boolean(stacked_kernels, "stacked_kernels", name)
    batch_norm = boolean(batch_norm, "batch_norm", name)

    inputs = keras.Input(shape=shape, name="image")
    x = inputs
    for b, block in enumerate(blocks, start=1):
        # n stacked 3x3 convolutions see a (2n+1)x(2n+1) window (section 2.3).
        convs = [(f, 3) for f in block] if stacked_kernels else [(block[-1], 2 * len(block) + 1)]
        for c, (filters, kernel) in enumerate(convs, start=1):
            x = keras.layers.Conv2D(
                filters,
                kernel,
                padding="same",
                activation=None if batch_norm else "relu",
                use_bias=not batch_norm,
                kernel_initializer="he_normal",
                name=f"block{b}_conv{c}",
            )(x)
            if batch_norm:
                x = keras.layers.BatchNormalization(momentum=0.9, name=f"block{b}_bn{c}")(x)
                x = keras.layers.ReLU(name=f"block{b}_relu{c}")(x)
        x = keras.layers.MaxPooling2D(2, strides=2, name=f"block{b}_pool")(x)
    # Section 3.1: dropout 0.5 regularizes the first two dense layers.
    top = partial(head.dense, units=(dense_units, dense_units), dropout=dropout)
    return head.model(inputs, x, name, top=top)


def vgg11(**kwargs: Unpack[VGGArguments]) -> keras.Model:
    """VGG-11, the paper's configuration A: 132,863,336 parameters at 224x224x3.

    Eight 3x3 convolutions in five blocks (64 | 128 | 256 256 | 512 512 |
    512 512), then dense 4096-4096. The paper trained A first and used it to
    initialise the deeper configurations. The arguments are those of `vgg`.
    """
    return vgg("vgg11", **kwargs)


def vgg13(**kwargs: Unpack[VGGArguments]) -> keras.Model:
    """VGG-13, the paper's configuration B: 133,047,848 parameters at 224x224x3.

    Ten 3x3 convolutions, two in each of the five blocks (64 64 | 128 128 |
    256 256 | 512 512 | 512 512), then dense 4096-4096. The arguments are
    those of `vgg`.
    """
    return vgg("vgg13", **kwargs)


def vgg16(**kwargs: Unpack[VGGArguments]) -> keras.Model:
    """VGG-16, the paper's configuration D: 138,357,544 parameters at 224x224x3.

    Thirteen 3x3 convolutions in five blocks (64 64 | 128 128 | 256 256 256 |
    512 512 512 | 512 512 512), then dense 4096-4096; the layer names and the
    parameter count match ``keras.applications.VGG16``. The arguments are
    those of `vgg`.
    """
    return vgg("vgg16", **kwargs)


def vgg19(**kwargs: Unpack[VGGArguments]) -> keras.Model:
    """VGG-19, the paper's configuration E: 143,667,240 parameters at 224x224x3.

    Sixteen 3x3 convolutions in five blocks (64 64 | 128 128 | 256 x 4 |
    512 x 4 | 512 x 4), then dense 4096-4096. The paper found the error
    saturating at this depth (Table 3); the layer names and the parameter
    count match ``keras.applications.VGG19``. The arguments are those of
    `vgg`.
    """
    return vgg("vgg19", **kwargs)


# Three blocks for 28x28 (28 -> 14 -> 7 -> 3); one convolution in the first
# block, where a single input channel makes a second one a poor use of
# compute, then pairs.
FASHION_BLOCKS = ((32,), (64, 64), (128, 128))


def vgg_fashion(
    *,
    input_shape: Sequence[int] = FASHION_MNIST_SHAPE,
    num_classes: int = 10,
    dropout: float = 0.5,
    stacked_kernels: bool = True,
    batch_norm: bool = False,
    name: str = "vgg_fashion",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """VGG for 28x28 Fashion-MNIST: 640,714 parameters, about 22.3M MACs.

    What is kept from the paper: only 3x3 convolutions with 'same' padding
    and ReLU, grouped in blocks that each end with a 2x2 max pooling, filters
    doubling from block to block, no normalization, and a flatten + two dense
    layers with dropout 0.5 + softmax head (built by `vgg`, as `vgg11` ...
    `vgg19`).

    What changed and why:

    * three blocks instead of five: five 2x2 poolings would shrink 28x28 to
      nothing (28 -> 14 -> 7 -> 3 -> 1 -> 0); three leave a 3x3 map, so the
      input must be at least 8x8;
    * one convolution in the first block (on a single input channel a second
      one is a poor use of compute), then pairs: 32 | 64 64 | 128 128, half
      the widths of the paper's first three blocks (64, 128, 256), to fit a
      2-core CPU's compute budget;
    * dense layers of 256 units instead of 4096, enough for 10 classes.

    Compute per 28x28 image (multiply-accumulates): block1 28x28x9x1x32 =
    0.23M; block2 14x14x9x(32x64 + 64x64) = 10.84M; block3 7x7x9x(64x128 +
    128x128) = 10.84M; dense 1152x256 + 256x256 + 256x10 = 0.36M: about 22.3M.
    ``stacked_kernels=False`` (one 5x5 per pair: 620,042 parameters) and
    ``batch_norm=True`` are the chapters' ablations. The arguments are those
    of `vgg`.
    """
    # Checked here too, so that an unknown argument is reported against this signature.
    check_head(vgg_fashion, name, num_classes, head_options)
    return vgg(
        FASHION_BLOCKS,
        input_shape=input_shape,
        num_classes=num_classes,
        dropout=dropout,
        dense_units=256,
        stacked_kernels=stacked_kernels,
        batch_norm=batch_norm,
        name=name,
        **head_options,
    )


register_family(FAMILY, VGG_MODELS, [vgg11, vgg13, vgg16, vgg19, vgg_fashion])
