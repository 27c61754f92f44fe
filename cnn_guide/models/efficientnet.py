"""EfficientNet: one network scaled in depth, width and resolution together.

Tan, M. and Le, Q. V. (2019). *EfficientNet: Rethinking Model Scaling for
Convolutional Neural Networks*. ICML 2019. https://arxiv.org/abs/1905.11946

A neural architecture search found a small network of MBConv blocks,
EfficientNet-B0; the paper then scales it up with one *compound
coefficient* phi that sets the depth, the width and the input resolution
together (`compound_scaling`), instead of one of them at a time. The
scaled networks are B1 to B7.

Chapter: ``docs/chapters/efficientnet.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

import keras

from cnn_guide._validate import boolean, int_at_least
from cnn_guide.data import FASHION_MNIST_SHAPE
from cnn_guide.layers.mbconv import CONV_INITIALIZER, MBConv
from cnn_guide.models._common import Head, HeadOptions, check_dropout, check_head, check_input_shape
from cnn_guide.models._registry import Family, register_family

if TYPE_CHECKING:
    # Only for type checkers: typing.Unpack is new in Python 3.11.
    from typing_extensions import Unpack

# The builders; the scaling helpers (`compound_scaling`, `round_filters`,
# `round_repeats`) are imported from this module by name.
__all__ = [
    "Scaling",
    "efficientnet_b0",
    "efficientnet_b1",
    "efficientnet_b2",
    "efficientnet_b3",
    "efficientnet_fashion",
]

PAPER = "Tan, Le 2019, EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks"
URL = "https://arxiv.org/abs/1905.11946"
CHAPTER = "chapters/efficientnet.md"


class Stage(NamedTuple):
    """One row of Table 1 of the paper: MBConv blocks of one kind."""

    expansion: int
    kernel_size: int
    filters: int
    repeats: int
    strides: int


# Table 1 of the paper (EfficientNet-B0), after the 3x3/2 stem of 32 channels;
# every block has squeeze-and-excitation with ratio 0.25 of its input channels.
B0_STAGES = (
    Stage(1, 3, 16, 1, 1),
    Stage(6, 3, 24, 2, 2),
    Stage(6, 5, 40, 2, 2),
    Stage(6, 3, 80, 3, 2),
    Stage(6, 5, 112, 3, 1),
    Stage(6, 5, 192, 4, 2),
    Stage(6, 3, 320, 1, 1),
)

# The coefficients of the reference code (efficientnet_builder.py) and
# keras.applications: (width, depth, resolution, dropout before the classifier).
MODEL_CONFIGS: dict[str, tuple[float, float, int, float]] = {
    "b0": (1.0, 1.0, 224, 0.2),
    "b1": (1.0, 1.1, 240, 0.2),
    "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3),
}

# Five padded stride-2 layers round up: from 17 on each still halves a 2x2 map
# (17 -> 9 -> 5 -> 3 -> 2 -> 1); keras.applications asks for 32.
PAPER_MIN_SIDE = 17

FAMILY = Family("efficientnet", PAPER, 2019, URL, CHAPTER)


def _paper_row(variant: str, params: int) -> dict:
    width, depth, side, _ = MODEL_CONFIGS[variant]
    return {
        "input_shape": (side, side, 3),
        "min_input_size": PAPER_MIN_SIDE,
        "summary": f"EfficientNet-{variant.upper()}: width x{width}, depth x{depth}, {side}x{side}",
        "reference_params": params,
        "reference_source": f"keras.applications.EfficientNet{variant.upper()}(weights=None)",
    }


# What the registry knows of each builder: `ModelInfo` fields beyond the family's.
EFFICIENTNET_MODELS: dict[str, dict] = {
    "efficientnet_b0": _paper_row("b0", 5_330_571),
    "efficientnet_b1": _paper_row("b1", 7_856_239),
    "efficientnet_b2": _paper_row("b2", 9_177_569),
    "efficientnet_b3": _paper_row("b3", 12_320_535),
    "efficientnet_fashion": {
        "input_shape": FASHION_MNIST_SHAPE,
        "min_input_size": 5,
        "summary": "EfficientNet-B0 for 28x28: stride-1 stem, three downsamplings, width x0.5",
        "variant_of": "efficientnet_b0",
    },
}


class Scaling(NamedTuple):
    """The multipliers of a compound scaling: depth ``d``, width ``w``, resolution ``r``."""

    depth: float
    width: float
    resolution: float

    @property
    def flops_factor(self) -> float:
        """How much the FLOPs grow: ``d * w**2 * r**2`` (about ``2**phi``)."""
        return self.depth * self.width**2 * self.resolution**2


def compound_scaling(
    phi: float, *, alpha: float = 1.2, beta: float = 1.1, gamma: float = 1.15
) -> Scaling:
    """The paper's compound scaling rule: depth, width and resolution from one ``phi``.

    Section 3.3 of the paper (equation 3) scales the three dimensions of a
    base network together::

        depth d = alpha ** phi,  width w = beta ** phi,  resolution r = gamma ** phi
        subject to alpha * beta**2 * gamma**2 ~ 2,  alpha, beta, gamma >= 1

    The FLOPs of a convolutional network grow linearly with depth and with
    the square of width and of resolution (doubling the channels doubles
    both the input and the output of every convolution; doubling the side
    quadruples the positions), so they grow by ``(alpha * beta**2 *
    gamma**2) ** phi``, about ``2 ** phi``: ``phi`` counts doublings of the
    compute. ``alpha = 1.2``, ``beta = 1.1`` and ``gamma = 1.15`` are what a
    small grid search found for EfficientNet-B0 at ``phi = 1`` (step 1 of
    section 4); the paper then keeps them fixed and raises ``phi`` (step 2)
    to get B1 to B7. Here ``1.2 * 1.1**2 * 1.15**2 = 1.92``.

    The released B1-B7 coefficients (`MODEL_CONFIGS`, as in the reference
    code and ``keras.applications``) are rounded choices near this rule, not
    its exact values: B1 is depth 1.1, width 1.0, 240 pixels.

    Example:
        ```python
        compound_scaling(1)             # Scaling(depth=1.2, width=1.1, resolution=1.15)
        compound_scaling(1).flops_factor  # 1.92
        ```

    Args:
        phi: The compound coefficient: how many doublings of compute to buy.
        alpha: Depth multiplier per unit of ``phi`` (at least 1).
        beta: Width multiplier per unit of ``phi`` (at least 1).
        gamma: Resolution multiplier per unit of ``phi`` (at least 1).

    Returns:
        The three multipliers.

    Raises:
        ValueError: For a ``phi`` that is not a number, or a base below 1.
    """
    if isinstance(phi, bool) or not isinstance(phi, (int, float)):
        raise ValueError(f"compound_scaling: phi must be a number, got {phi!r}; e.g. phi=1.")
    for name, base in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        if isinstance(base, bool) or not isinstance(base, (int, float)) or base < 1:
            raise ValueError(
                f"compound_scaling: {name} must be a number of at least 1 (the paper's "
                f"constraint), got {base!r}."
            )
    return Scaling(alpha**phi, beta**phi, gamma**phi)


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """A stage's channels times the width multiplier, rounded as the reference code does.

    To the nearest multiple of ``divisor`` (8, which suits vectorized
    hardware), at least ``divisor``, and never more than 10% below
    ``filters * width``: the ``round_filters`` of the paper's reference code
    and of ``keras.applications.efficientnet``.

    Args:
        filters: Channels of the base network.
        width: Width multiplier ``w``.
        divisor: Every width is a multiple of it.

    Returns:
        The scaled channel count.
    """
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


def round_repeats(repeats: int, depth: float) -> int:
    """A stage's block count times the depth multiplier, rounded up (``ceil``).

    Args:
        repeats: Blocks of the stage in the base network.
        depth: Depth multiplier ``d``.

    Returns:
        The scaled block count.
    """
    return math.ceil(depth * repeats)


def _check_coefficient(value: object, name: str, model: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(
            f"{model}: {name} must be a positive number, got {value!r}; 1.0 keeps the "
            "base network (compound_scaling(phi) gives the paper's values)."
        )
    return float(value)


def _check_rate(value: object, name: str, model: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{model}: {name} must be a number in [0, 1), got {value!r}.")


def _efficientnet_body(
    x: keras.KerasTensor,
    *,
    width: float,
    depth: float,
    stages: Sequence[Stage],
    stem_stride: int,
    drop_connect_rate: float,
    bn_momentum: float,
) -> keras.KerasTensor:
    """Stem, MBConv stages and the 1x1 top convolution, named as in keras.applications."""
    bn = {"epsilon": 1e-3, "momentum": bn_momentum}
    conv = {"use_bias": False, "kernel_initializer": CONV_INITIALIZER}
    x = keras.layers.Conv2D(
        round_filters(32, width), 3, strides=stem_stride, padding="same", name="stem_conv", **conv
    )(x)
    x = keras.layers.BatchNormalization(**bn, name="stem_bn")(x)
    x = keras.layers.Activation("swish", name="stem_activation")(x)
    total = sum(round_repeats(stage.repeats, depth) for stage in stages)
    index = 0
    for i, stage in enumerate(stages):
        for j in range(round_repeats(stage.repeats, depth)):
            x = MBConv(
                round_filters(stage.filters, width),
                expansion=stage.expansion,
                kernel_size=stage.kernel_size,
                strides=stage.strides if j == 0 else 1,
                se_ratio=0.25,
                # Drop-connect grows linearly with the block's position.
                drop_rate=drop_connect_rate * index / total,
                bn_momentum=bn_momentum,
                name=f"block{i + 1}{chr(j + 97)}",
            )(x)
            index += 1
    x = keras.layers.Conv2D(round_filters(1280, width), 1, name="top_conv", **conv)(x)
    x = keras.layers.BatchNormalization(**bn, name="top_bn")(x)
    return keras.layers.Activation("swish", name="top_activation")(x)


def _top(head: Head, dropout: float) -> Callable[[keras.KerasTensor], keras.KerasTensor]:
    """Pooling, dropout and the classifier with keras.applications' initializer."""

    def top(x: keras.KerasTensor) -> keras.KerasTensor:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name="top_dropout")(x)
        return keras.layers.Dense(
            head.num_classes,
            activation=head.activation,
            kernel_initializer=keras.initializers.VarianceScaling(1 / 3, "fan_out", "uniform"),
            dtype="float32",  # softmax in float32 under mixed precision
            name="predictions",
        )(x)

    return top


def _efficientnet(
    variant: str,
    builder: Callable[..., keras.Model],
    *,
    input_shape: Sequence[int] | None,
    num_classes: int,
    include_preprocessing: bool,
    drop_connect_rate: float,
    name: str,
    head_options: HeadOptions,
) -> keras.Model:
    """A paper configuration, a row of `MODEL_CONFIGS`."""
    width, depth, side, dropout = MODEL_CONFIGS[variant]
    shape = check_input_shape(input_shape or (side, side, 3), model=name, min_size=PAPER_MIN_SIDE)
    head = check_head(builder, name, num_classes, head_options)
    include_preprocessing = boolean(include_preprocessing, "include_preprocessing", name)
    _check_rate(drop_connect_rate, "drop_connect_rate", name)

    inputs = keras.Input(shape=shape, name="image")
    x = inputs
    if include_preprocessing:
        # keras.applications' input layers: pixels in [0, 255] to [0, 1], then a
        # per-channel standardization (mean 0, variance 1 until adapted or set).
        x = keras.layers.Rescaling(1 / 255, name="rescaling")(x)
        x = keras.layers.Normalization(axis=-1, name="normalization")(x)
    x = _efficientnet_body(
        x,
        width=width,
        depth=depth,
        stages=B0_STAGES,
        stem_stride=2,
        drop_connect_rate=drop_connect_rate,
        bn_momentum=0.99,
    )
    return head.model(inputs, x, name, top=_top(head, dropout))


def efficientnet_b0(
    *,
    input_shape: Sequence[int] | None = None,
    num_classes: int = 1000,
    include_preprocessing: bool = True,
    drop_connect_rate: float = 0.2,
    name: str = "efficientnet_b0",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """EfficientNet-B0 (Table 1 of the paper): 5,330,571 weights at 224x224.

    Layer for layer the network of ``keras.applications.EfficientNetB0``
    (the same weights in the same order, the same outputs):

    * with ``include_preprocessing``, a ``Rescaling(1/255)`` and a
      ``Normalization`` layer (its mean, variance and count are 7 of the
      weights);
    * a 3x3/2 convolution of 32 channels, BN, swish;
    * 16 `MBConv` blocks with squeeze-and-excitation (ratio 0.25) in seven
      stages (expansion, kernel, channels, repeats, stride of the first):
      (1, 3, 16, 1, 1), (6, 3, 24, 2, 2), (6, 5, 40, 2, 2), (6, 3, 80, 3, 2),
      (6, 5, 112, 3, 1), (6, 5, 192, 4, 2), (6, 3, 320, 1, 1), taking
      224 -> 112 -> 56 -> 28 -> 14 -> 7;
    * a 1x1 convolution to 1280 channels, BN, swish, global average
      pooling, dropout 0.2 and the classifier.

    Drop-connect grows from 0 at the first block to ``drop_connect_rate``
    (times 15/16) at the last. The paper reports 5.3M parameters, 0.39
    billion FLOPs and 77.1% top-1 on ImageNet.

    Reference: Tan, M. and Le, Q. V. (2019), "EfficientNet: Rethinking Model
    Scaling for Convolutional Neural Networks", ICML 2019,
    https://arxiv.org/abs/1905.11946.

    Chapter: ``docs/chapters/efficientnet.md``.

    Args:
        input_shape: ``(height, width, channels)``, at least 17x17; default
            224x224x3.
        num_classes: Number of classes of the classifier.
        include_preprocessing: Whether the model starts with Keras' rescaling
            and normalization layers (it then takes pixels in [0, 255]).
        drop_connect_rate: Drop-connect rate of the last block, in [0, 1).
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 17x17, a wrong rank,
            non-positive classes, an unknown pooling, a non-boolean
            ``include_preprocessing`` or a rate outside [0, 1).
    """
    return _efficientnet(
        "b0",
        efficientnet_b0,
        input_shape=input_shape,
        num_classes=num_classes,
        include_preprocessing=include_preprocessing,
        drop_connect_rate=drop_connect_rate,
        name=name,
        head_options=head_options,
    )


def efficientnet_b1(
    *,
    input_shape: Sequence[int] | None = None,
    num_classes: int = 1000,
    include_preprocessing: bool = True,
    drop_connect_rate: float = 0.2,
    name: str = "efficientnet_b1",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """EfficientNet-B1: B0 with depth x1.1 at 240x240; 7,856,239 weights.

    ``keras.applications.EfficientNetB1``'s network: the width of B0, every
    stage's repeats times 1.1 rounded up (23 blocks instead of 16), dropout
    0.2. The paper reports 7.8M parameters, 0.70 billion FLOPs and 79.1%
    top-1 on ImageNet. Arguments as `efficientnet_b0`.

    Reference: Tan and Le (2019), https://arxiv.org/abs/1905.11946, Table 2.
    Chapter: ``docs/chapters/efficientnet.md``.

    Args:
        input_shape: ``(height, width, channels)``, at least 17x17; default
            240x240x3.
        num_classes: Number of classes of the classifier.
        include_preprocessing: Whether the model starts with Keras' rescaling
            and normalization layers.
        drop_connect_rate: Drop-connect rate of the last block, in [0, 1).
        name: Model name.
        **head_options: As in `HeadOptions`.

    Returns:
        The uncompiled Keras model.
    """
    return _efficientnet(
        "b1",
        efficientnet_b1,
        input_shape=input_shape,
        num_classes=num_classes,
        include_preprocessing=include_preprocessing,
        drop_connect_rate=drop_connect_rate,
        name=name,
        head_options=head_options,
    )


def efficientnet_b2(
    *,
    input_shape: Sequence[int] | None = None,
    num_classes: int = 1000,
    include_preprocessing: bool = True,
    drop_connect_rate: float = 0.2,
    name: str = "efficientnet_b2",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """EfficientNet-B2: B0 with width x1.1, depth x1.2 at 260x260; 9,177,569 weights.

    ``keras.applications.EfficientNetB2``'s network, dropout 0.3. The paper
    reports 9.2M parameters, 1.0 billion FLOPs and 80.1% top-1 on ImageNet.
    Arguments as `efficientnet_b0`.

    Reference: Tan and Le (2019), https://arxiv.org/abs/1905.11946, Table 2.
    Chapter: ``docs/chapters/efficientnet.md``.

    Args:
        input_shape: ``(height, width, channels)``, at least 17x17; default
            260x260x3.
        num_classes: Number of classes of the classifier.
        include_preprocessing: Whether the model starts with Keras' rescaling
            and normalization layers.
        drop_connect_rate: Drop-connect rate of the last block, in [0, 1).
        name: Model name.
        **head_options: As in `HeadOptions`.

    Returns:
        The uncompiled Keras model.
    """
    return _efficientnet(
        "b2",
        efficientnet_b2,
        input_shape=input_shape,
        num_classes=num_classes,
        include_preprocessing=include_preprocessing,
        drop_connect_rate=drop_connect_rate,
        name=name,
        head_options=head_options,
    )


def efficientnet_b3(
    *,
    input_shape: Sequence[int] | None = None,
    num_classes: int = 1000,
    include_preprocessing: bool = True,
    drop_connect_rate: float = 0.2,
    name: str = "efficientnet_b3",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """EfficientNet-B3: B0 with width x1.2, depth x1.4 at 300x300; 12,320,535 weights.

    ``keras.applications.EfficientNetB3``'s network, dropout 0.3. The paper
    reports 12M parameters, 1.8 billion FLOPs and 81.6% top-1 on ImageNet.
    Arguments as `efficientnet_b0`.

    Reference: Tan and Le (2019), https://arxiv.org/abs/1905.11946, Table 2.
    Chapter: ``docs/chapters/efficientnet.md``.

    Args:
        input_shape: ``(height, width, channels)``, at least 17x17; default
            300x300x3.
        num_classes: Number of classes of the classifier.
        include_preprocessing: Whether the model starts with Keras' rescaling
            and normalization layers.
        drop_connect_rate: Drop-connect rate of the last block, in [0, 1).
        name: Model name.
        **head_options: As in `HeadOptions`.

    Returns:
        The uncompiled Keras model.
    """
    return _efficientnet(
        "b3",
        efficientnet_b3,
        input_shape=input_shape,
        num_classes=num_classes,
        include_preprocessing=include_preprocessing,
        drop_connect_rate=drop_connect_rate,
        name=name,
        head_options=head_options,
    )


# B0's table with the stride of the 80-channel stage set to 1 (see the docstring).
FASHION_STAGES = tuple(
    stage._replace(strides=1) if stage.filters == 80 else stage for stage in B0_STAGES
)
FASHION_WIDTH = 0.5
"""The Fashion-MNIST variant's width relative to B0, before ``width_coefficient``."""


def efficientnet_fashion(
    *,
    input_shape: Sequence[int] = FASHION_MNIST_SHAPE,
    num_classes: int = 10,
    width_coefficient: float = 1.0,
    depth_coefficient: float = 1.0,
    resolution: int | None = None,
    drop_connect_rate: float = 0.0,
    dropout: float = 0.0,
    name: str = "efficientnet_fashion",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """An EfficientNet-B0 for 28x28x1 Fashion-MNIST, with the compound scaling's three knobs.

    What changed from B0, and why (the same adaptation as
    `cnn_guide.models.mobilenet.mobilenet_v2_fashion`, whose stride pattern
    B0 shares):

    * **Stem stride 1** instead of 2, and **stride 1 in the 80-channel
      stage**: five downsamplings would take 28x28 to 1x1. The three kept
      (24-, 40- and 192-channel stages) give 28 -> 14 -> 7 -> 4, so the
      network ends on a 4x4 map as B0 ends on 7x7.
    * **Half width** (``FASHION_WIDTH`` = 0.5, rounded as `round_filters`
      does): stem 16 channels, stages 8-16-24-40-56-96-160, top 640.
    * **No drop-connect and no dropout** by default: a 10-epoch run is short
      for them; both are options.
    * No preprocessing layers: the book's data are already in [0, 1].
    * Everything else is B0's: 16 MBConv blocks with squeeze-and-excitation,
      their expansions and kernels, swish, BN momentum 0.99.

    The scaling options change this base as the paper scales B0:
    ``depth_coefficient`` multiplies every stage's repeats (`round_repeats`),
    ``width_coefficient`` every width (`round_filters` of ``0.5 *
    width_coefficient``) and ``resolution`` resizes the 28x28 input
    bilinearly with a ``keras.layers.Resizing`` layer at the model's input,
    so that the data stay 28x28 and only the network sees larger images
    (there is no new detail in them: the paper's larger images have more).
    `compound_scaling` gives the paper's values: at ``phi = 1``, depth 1.2,
    width 1.1 and ``resolution=32`` (28 x 1.15 = 32.2).

    The smallest input (and resolution) is 5x5 (5 -> 3 -> 2 -> 1).

    Reference: Tan, M. and Le, Q. V. (2019), "EfficientNet: Rethinking Model
    Scaling for Convolutional Neural Networks", ICML 2019,
    https://arxiv.org/abs/1905.11946.

    Chapter: ``docs/chapters/efficientnet.md``.

    Args:
        input_shape: ``(height, width, channels)``, at least 5x5.
        num_classes: Number of classes of the classifier.
        width_coefficient: Width multiplier ``w`` on top of the half width.
        depth_coefficient: Depth multiplier ``d`` of every stage's repeats.
        resolution: Side the input is resized to, or ``None`` to keep it.
        drop_connect_rate: Drop-connect rate of the last block, in [0, 1).
        dropout: Dropout rate before the classifier, in [0, 1).
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input or a resolution smaller than 5x5, a wrong
            rank, non-positive classes, an unknown pooling, a non-positive
            coefficient, or a rate outside [0, 1).
    """
    shape = check_input_shape(input_shape, model=name, min_size=5)
    head = check_head(efficientnet_fashion, name, num_classes, head_options)
    width = _check_coefficient(width_coefficient, "width_coefficient", name)
    depth = _check_coefficient(depth_coefficient, "depth_coefficient", name)
    if resolution is not None:
        resolution = int_at_least(resolution, "resolution", name, minimum=5)
    _check_rate(drop_connect_rate, "drop_connect_rate", name)
    check_dropout(name, dropout)

    inputs = keras.Input(shape=shape, name="image")
    x = inputs
    if resolution is not None and (resolution, resolution) != shape[:2]:
        x = keras.layers.Resizing(resolution, resolution, name="resize")(x)
    x = _efficientnet_body(
        x,
        width=FASHION_WIDTH * width,
        depth=depth,
        stages=FASHION_STAGES,
        stem_stride=1,
        drop_connect_rate=drop_connect_rate,
        bn_momentum=0.99,
    )
    return head.model(inputs, x, name, dropout=dropout)


register_family(
    FAMILY,
    EFFICIENTNET_MODELS,
    [efficientnet_b0, efficientnet_b1, efficientnet_b2, efficientnet_b3, efficientnet_fashion],
)
