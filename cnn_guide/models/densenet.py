"""DenseNet: every layer connected to every later layer of its block.

Huang, G., Liu, Z., van der Maaten, L. and Weinberger, K. Q. (2017). *Densely
Connected Convolutional Networks*. CVPR 2017. https://arxiv.org/abs/1608.06993

ResNet adds a layer's input to its output; DenseNet concatenates it. Each
layer of a dense block reads all the feature maps before it and writes only
``k`` (the growth rate) new ones, so features are reused rather than
relearned and the network stays narrow: DenseNet-121 has a third of
ResNet-50's weights for similar ImageNet accuracy.

Chapter: ``docs/chapters/densenet.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import keras

from cnn_guide._validate import positive_int, positive_ints
from cnn_guide.data import FASHION_MNIST_SHAPE
from cnn_guide.layers.dense_block import DenseBlock, TransitionLayer
from cnn_guide.models._common import HeadOptions, check_head, check_input_shape
from cnn_guide.models._registry import Family, register_family

if TYPE_CHECKING:
    # Only for type checkers: typing.Unpack is new in Python 3.11.
    from typing_extensions import Unpack

__all__ = ["densenet121", "densenet_fashion"]

PAPER = "Huang, Liu, van der Maaten, Weinberger 2017, Densely Connected Convolutional Networks"
URL = "https://arxiv.org/abs/1608.06993"
CHAPTER = "chapters/densenet.md"
BN_EPSILON = 1.001e-5  # as in keras.applications.DenseNet


FAMILY = Family("densenet", PAPER, 2017, URL, CHAPTER)
# What the registry knows of each builder: `ModelInfo` fields beyond the family's.
DENSENET_MODELS: dict[str, dict] = {
    "densenet121": {
        "input_shape": (224, 224, 3),
        "min_input_size": 29,
        "summary": "DenseNet-BC, growth 32, dense blocks 6-12-24-16, compression 0.5",
        "reference_params": 8_062_504,
        "reference_source": "keras.applications.DenseNet121(weights=None)",
    },
    "densenet_fashion": {
        "input_shape": FASHION_MNIST_SHAPE,
        "min_input_size": 4,
        "summary": "DenseNet-BC for 28x28 (the paper's CIFAR layout): k=12, blocks 2-4-8",
        "variant_of": "densenet121",
    },
}


def _check_options(
    model: str,
    *,
    growth_rate: object,
    block_config: object,
    num_init_features: object,
    bn_size: object,
    compression: object,
) -> tuple[int, ...]:
    positive_int(growth_rate, "growth_rate", model)
    positive_int(num_init_features, "num_init_features", model)
    positive_int(bn_size, "bn_size", model)
    if not isinstance(compression, (int, float)) or not 0.0 < compression <= 1.0:
        raise ValueError(
            f"{model}: compression must be in (0, 1], got {compression!r} (DenseNet-BC uses 0.5)."
        )
    try:
        return positive_ints(tuple(block_config), "block_config", model)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(
            f"{model}: block_config must be a non-empty sequence of positive layer "
            f"counts, one per dense block, e.g. (6, 12, 24, 16); got {block_config!r}."
        ) from None


def _min_side(num_transitions: int, *, imagenet_stem: bool) -> int:
    """Smallest input side whose last transition still pools a 2x2 map."""
    need = 2**num_transitions  # each unpadded 2x2 average pooling halves, rounding down
    if not imagenet_stem:
        return need
    # The 7x7/2 convolution and the 3x3/2 max pooling (both padded) each give
    # ceil(n / 2), so the stem needs 4 * need - 3 pixels.
    return max(1, 4 * need - 3)


def _dense_body(
    x: keras.KerasTensor,
    *,
    block_config: tuple[int, ...],
    growth_rate: int,
    bn_size: int,
    compression: float,
) -> keras.KerasTensor:
    for i, num_layers in enumerate(block_config):
        x = DenseBlock(
            num_layers,
            growth_rate,
            bn_size,
            bn_epsilon=BN_EPSILON,
            name=f"dense_block{i + 1}",
        )(x)
        if i < len(block_config) - 1:
            x = TransitionLayer(
                compression,
                bn_epsilon=BN_EPSILON,
                name=f"transition{i + 1}",
            )(x)
    # DenseNet's layers are pre-activation: one last BN-ReLU before pooling.
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name="bn")(x)
    return keras.layers.ReLU(name="relu")(x)


def densenet121(
    *,
    input_shape: Sequence[int] = (224, 224, 3),
    num_classes: int = 1000,
    growth_rate: int = 32,
    block_config: Sequence[int] = (6, 12, 24, 16),
    num_init_features: int = 64,
    bn_size: int = 4,
    compression: float = 0.5,
    name: str = "densenet121",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """DenseNet-121 (DenseNet-BC, k = 32): 8,062,504 weights (7,978,856 trainable).

    Layer for layer the network of ``keras.applications.DenseNet121`` (the
    same weights in the same order), from Table 1 of the paper:

    * stem: 7x7/2 convolution of ``num_init_features`` (64) channels, BN,
      ReLU, 3x3/2 max pooling: 224 -> 112 -> 56;
    * four `DenseBlock`s of 6, 12, 24 and 16 `DenseLayer`s (BN-ReLU-1x1 conv
      to ``bn_size * k`` = 128 channels, BN-ReLU-3x3 conv to ``k`` = 32,
      concatenated onto the input), with a `TransitionLayer` (BN-ReLU-1x1
      conv halving the channels, 2x2 average pooling) between blocks:
      64 -> 256 -> 128 -> 512 -> 256 -> 1024 -> 512 -> 1024 channels at 56,
      28, 14 and 7 pixels;
    * a final BN-ReLU and global average pooling.

    121 = 1 stem convolution + 2 x (6 + 12 + 24 + 16) dense-layer convolutions
    + 3 transition convolutions + 1 classifier.

    The smallest input is 29x29: the stem divides the side by 4 rounding up
    and each of the three unpadded poolings by 2 rounding down, so the last
    transition needs 8 pixels after the stem (29 -> 15 -> 8 -> 4 -> 2 -> 1).
    With another ``block_config`` it is ``4 * 2**(len(block_config) - 1) - 3``.

    Reference: Huang, G., Liu, Z., van der Maaten, L. and Weinberger, K. Q.
    (2017), "Densely Connected Convolutional Networks", CVPR 2017,
    https://arxiv.org/abs/1608.06993.

    Chapter: ``docs/chapters/densenet.md``.

    Args:
        input_shape: ``(height, width, channels)``, at least 29x29.
        num_classes: Number of classes of the classifier.
        growth_rate: Channels ``k`` each dense layer adds.
        block_config: Dense layers in each block; (6, 12, 32, 32) gives
            DenseNet-169 and (6, 12, 48, 32) DenseNet-201.
        num_init_features: Channels of the stem convolution (``2k``).
        bn_size: Width of the 1x1 bottleneck as a multiple of ``k``.
        compression: Fraction ``theta`` of the channels a transition keeps.
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input too small for the downsampling, a wrong
            rank, non-positive classes, an unknown pooling or an invalid
            DenseNet option.
    """
    blocks = _check_options(
        name,
        growth_rate=growth_rate,
        block_config=block_config,
        num_init_features=num_init_features,
        bn_size=bn_size,
        compression=compression,
    )
    min_size = _min_side(len(blocks) - 1, imagenet_stem=True)
    shape = check_input_shape(input_shape, model=name, min_size=min_size)
    head = check_head(densenet121, name, num_classes, head_options)

    inputs = keras.Input(shape=shape, name="image")
    # Explicit symmetric padding, as in Keras' and Torch's DenseNet: "same"
    # would pad an even input asymmetrically.
    x = keras.layers.ZeroPadding2D(3, name="stem_pad")(inputs)
    x = keras.layers.Conv2D(num_init_features, 7, strides=2, use_bias=False, name="stem_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name="stem_bn")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    x = keras.layers.ZeroPadding2D(1, name="stem_pool_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="stem_pool")(x)
    x = _dense_body(
        x,
        block_config=blocks,
        growth_rate=growth_rate,
        bn_size=bn_size,
        compression=compression,
    )
    return head.model(inputs, x, name)


def densenet_fashion(
    *,
    input_shape: Sequence[int] = FASHION_MNIST_SHAPE,
    num_classes: int = 10,
    growth_rate: int = 12,
    block_config: Sequence[int] = (2, 4, 8),
    num_init_features: int = 24,
    bn_size: int = 4,
    compression: float = 0.5,
    name: str = "densenet_fashion",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """A small DenseNet-BC for 28x28x1 Fashion-MNIST, in the paper's CIFAR layout.

    What changed from DenseNet-121, and why:

    * **Stem**: one padded 3x3 convolution of ``2k`` = 24 channels at stride
      1, and no max pooling, instead of a 7x7/2 convolution and a 3x3/2
      pooling that would shrink 28x28 to 7x7 before the first dense block.
      This is the stem the paper itself uses for its 32x32 CIFAR and SVHN
      networks.
    * **Three dense blocks instead of four**, at 28x28, 14x14 and 7x7 (the
      paper's CIFAR networks also have three): a fourth transition would
      leave a 3x3 map.
    * **Growth rate 12 instead of 32**, as in the paper's DenseNet-BC for
      CIFAR, and **2, 4 and 8 layers per block instead of 6, 12, 24, 16**
      (still doubling from block to block): the 28x28 block is kept short
      because each of its layers costs as much as four layers of the next
      block.
    * Everything else is DenseNet-BC's: dense connectivity by concatenation,
      BN-ReLU-1x1 (``4k``) - BN-ReLU-3x3 (``k``) layers, transitions with
      compression 0.5 and 2x2 average pooling, a final BN-ReLU and global
      average pooling.

    Channels: 24 -> 48 -> 24 -> 72 -> 36 -> 132. Cost: about 21.1 million
    multiply-accumulates per 28x28 image, with 125,866 weights (DenseNet-121
    spends 2.8 billion on a 224x224 image, with 8 million weights). More than
    half of it is spent in the 28x28 block and the first transition.

    The smallest input is 4x4: the two unpadded 2x2 poolings need
    4 -> 2 -> 1.

    Reference: Huang, G., Liu, Z., van der Maaten, L. and Weinberger, K. Q.
    (2017), "Densely Connected Convolutional Networks", CVPR 2017,
    https://arxiv.org/abs/1608.06993.

    Chapter: ``docs/chapters/densenet.md``.

    Args:
        input_shape: ``(height, width, channels)``, at least 4x4 (with three
            blocks).
        num_classes: Number of classes of the classifier.
        growth_rate: Channels ``k`` each dense layer adds.
        block_config: Dense layers in each block.
        num_init_features: Channels of the stem convolution.
        bn_size: Width of the 1x1 bottleneck as a multiple of ``k``.
        compression: Fraction ``theta`` of the channels a transition keeps.
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input too small for the downsampling, a wrong
            rank, non-positive classes, an unknown pooling or an invalid
            DenseNet option.
    """
    blocks = _check_options(
        name,
        growth_rate=growth_rate,
        block_config=block_config,
        num_init_features=num_init_features,
        bn_size=bn_size,
        compression=compression,
    )
    min_size = _min_side(len(blocks) - 1, imagenet_stem=False)
    shape = check_input_shape(input_shape, model=name, min_size=min_size)
    head = check_head(densenet_fashion, name, num_classes, head_options)

    inputs = keras.Input(shape=shape, name="image")
    x = keras.layers.Conv2D(num_init_features, 3, padding="same", use_bias=False, name="stem_conv")(
        inputs
    )
    x = _dense_body(
        x,
        block_config=blocks,
        growth_rate=growth_rate,
        bn_size=bn_size,
        compression=compression,
    )
    return head.model(inputs, x, name)


register_family(FAMILY, DENSENET_MODELS, [densenet121, densenet_fashion])
