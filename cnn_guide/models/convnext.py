"""ConvNeXt: a ResNet modernized, step by step, after the vision transformers.

Liu, Z., Mao, H., Wu, C.-Y., Feichtenhofer, C., Darrell, T. and Xie, S.
(2022). *A ConvNet for the 2020s*. CVPR 2022. https://arxiv.org/abs/2201.03545

The paper starts from ResNet-50 and applies, one at a time, the design
choices of the Swin Transformer that a convolutional network can copy: the
stage ratio, a "patchify" stem, depthwise convolutions at a larger width, an
inverted bottleneck, large kernels, and a handful of micro-design changes
(GELU, fewer activations and normalizations, LayerNorm, separate downsampling
layers). The end point, ConvNeXt, is built from `ConvNeXtBlock`.
`MODEL_CONFIGS` holds the paper's sizes as ``keras.applications`` keeps
them, and `convnext` builds any row; `convnext_fashion` is the book's
28x28 network, and with ``roadmap=`` any step of the paper's path from the
book's ResNet to it (`ROADMAP`).

Chapter: ``docs/chapters/convnext.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import keras
import numpy as np

from cnn_guide._validate import positive_ints
from cnn_guide.data import FASHION_MNIST_SHAPE
from cnn_guide.layers.convnext import ConvNeXtBlock
from cnn_guide.layers.residual import BasicResidualUnit
from cnn_guide.models._common import (
    IMAGENET_SHAPE,
    TORCH_BN_EPSILON,
    TORCH_BN_MOMENTUM,
    Head,
    HeadOptions,
    ModelArguments,
    check_dropout,
    check_head,
    check_input_shape,
    conv_bn_relu,
    residual_stages,
)
from cnn_guide.models._registry import Family, register_family

if TYPE_CHECKING:
    # Only for type checkers: typing.Unpack is new in Python 3.11.
    from typing_extensions import Unpack

__all__ = ["convnext_base", "convnext_fashion", "convnext_small", "convnext_tiny"]

PAPER = "Liu, Mao, Wu, Feichtenhofer, Darrell, Xie (2022), A ConvNet for the 2020s"
URL = "https://arxiv.org/abs/2201.03545"
CHAPTER = "chapters/convnext.md"

MODEL_CONFIGS: dict[str, dict[str, tuple[int, ...]]] = {
    "tiny": {"depths": (3, 3, 9, 3), "projection_dims": (96, 192, 384, 768)},
    "small": {"depths": (3, 3, 27, 3), "projection_dims": (96, 192, 384, 768)},
    "base": {"depths": (3, 3, 27, 3), "projection_dims": (128, 256, 512, 1024)},
}
"""Liu et al. (2022), section 3: blocks per stage and stage widths, as in
``keras.applications``' ``convnext.py``."""


# ImageNet's per-channel mean and variance on 0-255 pixels, as keras.applications
# normalizes inside the model.
class ConvNeXtArguments(ModelArguments, total=False):
    """The keyword arguments of `convnext`, which its rows ``convnext_tiny`` ... take too."""

    include_preprocessing: bool
    drop_path_rate: float
    layer_scale_init: float | None


_IMAGENET_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
_IMAGENET_VARIANCE = ((0.229 * 255) ** 2, (0.224 * 255) ** 2, (0.225 * 255) ** 2)

ROADMAP: tuple[str, ...] = (
    "resnet",
    "stage_ratio",
    "patchify",
    "resnextify",
    "inverted_bottleneck",
    "large_kernel",
    "convnext",
)
"""The steps of the paper's Figure 2 that `convnext_fashion` builds (its
``roadmap`` argument), in order; each step keeps every change before it:

* ``"resnet"``: the book's ResNet, `resnet_fashion` (3x3 stride-1 stem, two
  basic units in each of three stages of 16, 32 and 64 channels, on 28x28,
  14x14 and 7x7 maps);
* ``"stage_ratio"``: 1, 1 and 4 units instead of 2, 2 and 2 (the paper:
  ResNet-50's 3-4-6-3 to Swin's 3-3-9-3, most blocks in a late stage);
* ``"patchify"``: a 2x2 stride-2 convolution as the stem (non-overlapping
  patches, as a vision transformer cuts its image), with every width doubled
  (32, 64, 128) so that the stages on quarter-size maps (14, 7, 4) keep
  about the same multiply-accumulates;
* ``"resnextify"``: ResNeXt's bottleneck unit with as many groups as
  channels (1x1, depthwise 3x3, 1x1 to four times the width), at widths 40,
  80 and 160 that spend the savings of the depthwise convolution;
* ``"inverted_bottleneck"``: the unit turned inside out, as in a
  transformer's MLP: 1x1 to four times the width, depthwise 3x3 there, 1x1
  back;
* ``"large_kernel"``: the depthwise convolution moved up to the unit's
  start (at the narrow width) and made 7x7;
* ``"convnext"``: the micro design, which makes the unit `ConvNeXtBlock`:
  GELU instead of ReLU, a single activation and a single normalization per
  block, LayerNorm instead of BatchNorm, and separate downsampling layers
  (LayerNorm and a 2x2 stride-2 convolution) between stages.
"""

FAMILY = Family("convnext", PAPER, 2022, URL, CHAPTER)
_PAPER_ROW = {
    "input_shape": IMAGENET_SHAPE,
    "min_input_size": 32,
    "reference_kind": "total",
}
CONVNEXT_MODELS: dict[str, dict] = {
    "convnext_tiny": {
        **_PAPER_ROW,
        "summary": "4x4 patchify stem, ConvNeXt blocks 3-3-9-3 (96-192-384-768)",
        "reference_params": 28_589_128,
        "reference_source": "keras.applications.ConvNeXtTiny(weights=None)",
    },
    "convnext_small": {
        **_PAPER_ROW,
        "summary": "4x4 patchify stem, ConvNeXt blocks 3-3-27-3 (96-192-384-768)",
        "reference_params": 50_223_688,
        "reference_source": "keras.applications.ConvNeXtSmall(weights=None)",
    },
    "convnext_base": {
        **_PAPER_ROW,
        "summary": "4x4 patchify stem, ConvNeXt blocks 3-3-27-3 (128-256-512-1024)",
        "reference_params": 88_591_464,
        "reference_source": "keras.applications.ConvNeXtBase(weights=None)",
    },
    "convnext_fashion": {
        "input_shape": FASHION_MNIST_SHAPE,
        "min_input_size": 4,
        "summary": "ConvNeXt for 28x28: 2x2 patchify stem, blocks 1-1-4 (40-80-160)",
        "variant_of": "convnext_tiny",
    },
}


def _layer_norm(name: str) -> keras.layers.LayerNormalization:
    return keras.layers.LayerNormalization(epsilon=1e-6, name=name)


def _normalized_top(head: Head) -> Callable[[keras.KerasTensor], keras.KerasTensor]:
    """ConvNeXt's head: global average pooling, LayerNorm, the classifier."""

    def top(x: keras.KerasTensor) -> keras.KerasTensor:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        return head.classifier(_layer_norm("head_norm")(x))

    return top


def _convnext_stages(
    x: keras.KerasTensor,
    *,
    depths: Sequence[int],
    widths: Sequence[int],
    kernel_size: int,
    drop_path_rate: float,
    layer_scale_init: float | None,
    downsample_padding: str,
) -> keras.KerasTensor:
    """ConvNeXt's stages, each after a downsampling layer but the first.

    The stochastic-depth rate grows linearly from 0 at the first block to
    ``drop_path_rate`` at the last, as in the paper's code.
    """
    rates = np.linspace(0.0, drop_path_rate, sum(depths)).tolist()
    index = 0
    for stage, (depth, width) in enumerate(zip(depths, widths, strict=True), start=1):
        if stage > 1:
            x = _layer_norm(f"downsample{stage}_norm")(x)
            x = keras.layers.Conv2D(
                width, 2, strides=2, padding=downsample_padding, name=f"downsample{stage}_conv"
            )(x)
        for block in range(1, depth + 1):
            x = ConvNeXtBlock(
                kernel_size=kernel_size,
                layer_scale_init=layer_scale_init,
                drop_path_rate=rates[index],
                name=f"stage{stage}_block{block}",
            )(x)
            index += 1
    return x


def convnext(
    config: str | Mapping[str, Sequence[int]],
    *,
    input_shape: Sequence[int] = IMAGENET_SHAPE,
    num_classes: int = 1000,
    include_preprocessing: bool = True,
    drop_path_rate: float = 0.0,
    layer_scale_init: float | None = 1e-6,
    name: str | None = None,
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """A ConvNeXt of Liu et al. (2022) from its row of `MODEL_CONFIGS`.

    Layer for layer the network of ``keras.applications.ConvNeXtTiny``
    (Small, Base), with the same weights in the same order (the depthwise
    kernels shaped ``(7, 7, C, 1)`` here, ``(7, 7, 1, C)`` there):

    * with ``include_preprocessing`` and 3 channels, a ``Normalization``
      layer with ImageNet's mean and variance (inputs are 0-255 pixels); it
      holds no weights that ``count_params`` counts;
    * a 4x4 stride-4 convolution (the "patchify" stem) and a LayerNorm;
    * four stages of `ConvNeXtBlock`, the second to fourth after a
      downsampling layer (LayerNorm, 2x2 stride-2 convolution), taking
      224 -> 56 -> 28 -> 14 -> 7;
    * global average pooling, a LayerNorm and the classifier.

    ConvNeXt-T has 28,589,128 weights, all trainable, and about 4.5 billion
    multiply-accumulates per 224x224 image (the paper's 4.5 GFLOPs).

    The smallest input is 32x32 (every stride-2 layer still sees 2x2).
    ``keras.applications`` also accepts 32.

    Reference: Liu, Mao, Wu, Feichtenhofer, Darrell and Xie (2022), "A
    ConvNet for the 2020s", CVPR 2022, https://arxiv.org/abs/2201.03545,
    section 3.

    Chapter: ``docs/chapters/convnext.md``.

    Args:
        config: A name of `MODEL_CONFIGS` (``"tiny"``), or a row of your
            own: ``{"depths": (four block counts), "projection_dims": (four
            widths)}``.
        input_shape: ``(height, width, channels)``, at least 32x32.
        num_classes: Number of classes of the classifier.
        include_preprocessing: Normalize 3-channel 0-255 inputs inside the
            model, as ``keras.applications`` does.
        drop_path_rate: Stochastic depth at the last block (0.1 for
            ConvNeXt-T in the paper's ImageNet training; 0 to build).
        layer_scale_init: Initial layer scale, or ``None`` for none.
        name: Model name; by default ``"convnext_" + config``.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an unknown configuration, an input smaller than
            32x32, a wrong rank, non-positive classes, an unknown pooling or
            invalid block options.
    """
    if isinstance(config, str):
        if config not in MODEL_CONFIGS:
            raise ValueError(
                f"convnext: unknown configuration {config!r}; choose one of {list(MODEL_CONFIGS)}."
            )
        name = name or f"convnext_{config}"
        config = MODEL_CONFIGS[config]
    name = name or "convnext"
    depths = positive_ints(config.get("depths"), "depths", name)
    widths = positive_ints(config.get("projection_dims"), "projection_dims", name)
    if len(depths) != 4 or len(widths) != 4:
        raise ValueError(
            f"{name}: depths and projection_dims need four entries each (one per stage), "
            f"got {depths} and {widths}."
        )
    ConvNeXtBlock(drop_path_rate=drop_path_rate, layer_scale_init=layer_scale_init)  # checks
    shape = check_input_shape(input_shape, model=name, min_size=32)
    head = check_head(convnext, name, num_classes, head_options)

    inputs = keras.Input(shape=shape, name="image")
    x = inputs
    if include_preprocessing and shape[-1] == 3:
        x = keras.layers.Normalization(
            mean=list(_IMAGENET_MEAN), variance=list(_IMAGENET_VARIANCE), name="preprocessing"
        )(x)
    x = keras.layers.Conv2D(widths[0], 4, strides=4, name="stem_conv")(x)
    x = _layer_norm("stem_norm")(x)
    x = _convnext_stages(
        x,
        depths=depths,
        widths=widths,
        kernel_size=7,
        drop_path_rate=drop_path_rate,
        layer_scale_init=layer_scale_init,
        downsample_padding="valid",
    )
    return head.model(inputs, x, name, top=_normalized_top(head))


def convnext_tiny(**kwargs: Unpack[ConvNeXtArguments]) -> keras.Model:
    """ConvNeXt-T (Liu et al. 2022): 28,589,128 weights, 82.1% top-1 on ImageNet.

    Blocks 3, 3, 9 and 3 per stage, widths 96, 192, 384 and 768: Swin-T's
    stage ratio and widths. The arguments are those of `convnext`.
    """
    return convnext("tiny", **kwargs)


def convnext_small(**kwargs: Unpack[ConvNeXtArguments]) -> keras.Model:
    """ConvNeXt-S (Liu et al. 2022): 50,223,688 weights, 83.1% top-1 on ImageNet.

    ConvNeXt-T with 27 blocks in the third stage. The arguments are those
    of `convnext`.
    """
    return convnext("small", **kwargs)


def convnext_base(**kwargs: Unpack[ConvNeXtArguments]) -> keras.Model:
    """ConvNeXt-B (Liu et al. 2022): 88,591,464 weights, 83.8% top-1 on ImageNet.

    ConvNeXt-S with the widths of Swin-B: 128, 256, 512 and 1024.
    The arguments are those of `convnext`.
    """
    return convnext("base", **kwargs)


# The widths and units per stage of each roadmap step (see ROADMAP).
_ROADMAP_WIDTHS = {
    "resnet": (16, 32, 64),
    "stage_ratio": (16, 32, 64),
    "patchify": (32, 64, 128),
}
_CONVNEXT_WIDTHS = (40, 80, 160)
_CONVNEXT_DEPTHS = (1, 1, 4)


def _conv_bn(
    x: keras.KerasTensor,
    filters: int,
    kernel_size: int,
    *,
    stride: int = 1,
    groups: bool = False,
    relu: bool = True,
    name: str,
) -> keras.KerasTensor:
    """A convolution (depthwise if ``groups``), batch normalization and ReLU."""
    bn = {"epsilon": TORCH_BN_EPSILON, "momentum": TORCH_BN_MOMENTUM}
    if groups:
        x = keras.layers.DepthwiseConv2D(
            kernel_size,
            strides=stride,
            padding="same",
            use_bias=False,
            depthwise_initializer="he_normal",
            name=f"{name}_dwconv",
        )(x)
    else:
        x = keras.layers.Conv2D(
            filters,
            kernel_size,
            strides=stride,
            padding="same",
            use_bias=False,
            kernel_initializer="he_normal",
            name=f"{name}_conv",
        )(x)
    x = keras.layers.BatchNormalization(**bn, name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x) if relu else x


def _macro_unit(
    x: keras.KerasTensor, width: int, *, step: str, stride: int, name: str
) -> keras.KerasTensor:
    """One residual unit of a roadmap step between ``"resnextify"`` and ``"large_kernel"``.

    ``width`` is the stage's width (the depthwise convolution's in
    ``"resnextify"``, whose unit outputs four times as many channels).
    """
    c_in = x.shape[-1]
    if step == "resnextify":  # 1x1 -> depthwise 3x3 -> 1x1 to 4x
        y = _conv_bn(x, width, 1, name=f"{name}_1")
        y = _conv_bn(y, width, 3, stride=stride, groups=True, name=f"{name}_2")
        out = 4 * width
        y = _conv_bn(y, out, 1, relu=False, name=f"{name}_3")
    elif step == "inverted_bottleneck":  # 1x1 to 4x -> depthwise 3x3 -> 1x1 back
        y = _conv_bn(x, 4 * width, 1, name=f"{name}_1")
        y = _conv_bn(y, 4 * width, 3, stride=stride, groups=True, name=f"{name}_2")
        out = width
        y = _conv_bn(y, out, 1, relu=False, name=f"{name}_3")
    else:  # "large_kernel": depthwise 7x7 first, at the input's width
        y = _conv_bn(x, c_in, 7, stride=stride, groups=True, name=f"{name}_1")
        y = _conv_bn(y, 4 * width, 1, name=f"{name}_2")
        out = width
        y = _conv_bn(y, out, 1, relu=False, name=f"{name}_3")
    shortcut = x
    if stride > 1 or c_in != out:
        shortcut = _conv_bn(x, out, 1, stride=stride, relu=False, name=f"{name}_0")
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.Activation("relu", name=f"{name}_out")(y)


def _roadmap_body(
    x: keras.KerasTensor, *, step: str, widths: Sequence[int], depths: Sequence[int]
) -> keras.KerasTensor:
    """The stem and stages of a roadmap step before the micro design."""
    if step == "resnet" or step == "stage_ratio":
        x = conv_bn_relu(x, widths[0], 3, name="conv1")
    else:  # patchify: non-overlapping 2x2 patches
        x = conv_bn_relu(x, widths[0], 2, stride=2, padding="valid", name="conv1")
    if step in ("resnet", "stage_ratio", "patchify"):
        return residual_stages(
            x,
            unit=BasicResidualUnit,
            blocks=depths,
            filters=widths,
            strides=[1] + [2] * (len(widths) - 1),
        )
    for i, (depth, width) in enumerate(zip(depths, widths, strict=True)):
        for j in range(depth):
            stride = 2 if i > 0 and j == 0 else 1
            x = _macro_unit(x, width, step=step, stride=stride, name=f"conv{i + 2}_block{j + 1}")
    return x


def convnext_fashion(
    *,
    input_shape: Sequence[int] = FASHION_MNIST_SHAPE,
    num_classes: int = 10,
    roadmap: str = "convnext",
    widths: Sequence[int] | None = None,
    depths: Sequence[int] | None = None,
    kernel_size: int = 7,
    drop_path_rate: float = 0.0,
    layer_scale_init: float | None = 1e-6,
    dropout: float = 0.0,
    name: str = "convnext_fashion",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """A ConvNeXt for 28x28x1 Fashion-MNIST, or any step of the paper's roadmap to it.

    The network (``roadmap="convnext"``, the default): a 2x2 stride-2
    convolution with 40 filters and a LayerNorm (28x28 -> 14x14), then three
    stages of 1, 1 and 4 `ConvNeXtBlock` with 40, 80 and 160 channels on
    14x14, 7x7 and 4x4 maps, each stage after the first behind a
    downsampling layer (LayerNorm, 2x2 stride-2 convolution), then global
    average pooling, a LayerNorm and the classifier: 993,970 weights and
    about 20 million multiply-accumulates per image, as many as the book's
    `resnet_fashion`.

    What changed from ConvNeXt-T, and why:

    * **A 2x2 patchify stem** instead of 4x4: 4x4 patches would leave a 7x7
      map after the stem, and three downsamplings would take it to 1x1.
    * **Three stages instead of four**, with blocks 1-1-4 (ConvNeXt-T has
      3-3-9-3: the same weight on a late stage) and widths 40-80-160 (96 to
      768): the network ends on a 4x4 map (the last downsampling pads the
      7x7 map to 8x8, ``"same"`` padding) and stays under a million weights.
    * No stochastic depth by default (the paper trains ConvNeXt-T with 0.1
      over 300 epochs; a 10-epoch run of a 6-block network has little to
      regularize), and Keras' default initializers.
    * The block itself, LayerNorm, GELU, layer scale 1e-6, the separate
      downsampling layers and the head are ConvNeXt's.

    ``roadmap`` builds a step of the paper's Figure 2 instead (see
    `ROADMAP`): ``"resnet"`` is `resnet_fashion`, layer for layer, and each
    later step adds one change of the paper's path, at a comparable number
    of multiply-accumulates; the chapter's experiment trains every step.

    Reference: Liu, Mao, Wu, Feichtenhofer, Darrell and Xie (2022), "A
    ConvNet for the 2020s", CVPR 2022, https://arxiv.org/abs/2201.03545.

    Chapter: ``docs/chapters/convnext.md``.

    Args:
        input_shape: ``(height, width, channels)``, at least 4x4.
        num_classes: Number of classes of the classifier.
        roadmap: A step of `ROADMAP`; ``"convnext"`` is the book's ConvNeXt.
        widths: Channels of the three stages; by default the step's
            (16-32-64 for the ResNet steps, 32-64-128 from the patchify stem,
            40-80-160 from the depthwise convolutions on).
        depths: Units per stage; by default 2-2-2 for ``"resnet"``, 1-1-4
            for every later step.
        kernel_size: Side of the depthwise kernel of the ConvNeXt blocks
            (``roadmap="convnext"`` only).
        drop_path_rate: Stochastic depth at the last block (``"convnext"``
            only).
        layer_scale_init: Initial layer scale, or ``None`` (``"convnext"``
            only).
        dropout: Dropout rate before the classifier.
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an unknown ``roadmap`` step, an input smaller than
            4x4, a wrong rank, non-positive classes, an unknown pooling,
            invalid widths, depths or block options, or a dropout outside
            [0, 1).
    """
    if roadmap not in ROADMAP:
        raise ValueError(
            f"{name}: roadmap must be one of {list(ROADMAP)}, got {roadmap!r}; 'convnext' "
            "builds the book's ConvNeXt, the others the steps of the paper's Figure 2."
        )
    default_widths = _ROADMAP_WIDTHS.get(roadmap, _CONVNEXT_WIDTHS)
    widths = positive_ints(default_widths if widths is None else widths, "widths", name)
    default_depths = (2, 2, 2) if roadmap == "resnet" else _CONVNEXT_DEPTHS
    depths = positive_ints(default_depths if depths is None else depths, "depths", name)
    if len(widths) != len(depths):
        raise ValueError(
            f"{name}: widths {widths} and depths {depths} must have one entry per stage each."
        )
    ConvNeXtBlock(  # checks the block options
        kernel_size=kernel_size, drop_path_rate=drop_path_rate, layer_scale_init=layer_scale_init
    )
    check_dropout(name, dropout)
    # Two padded stride-2 stages (and a 2x2 stem at most): 4x4 still gives a 1x1 map.
    shape = check_input_shape(input_shape, model=name, min_size=4)
    head = check_head(convnext_fashion, name, num_classes, head_options)

    inputs = keras.Input(shape=shape, name="image")
    if roadmap != "convnext":
        x = _roadmap_body(inputs, step=roadmap, widths=widths, depths=depths)
        return head.model(inputs, x, name, dropout=dropout)
    x = keras.layers.Conv2D(widths[0], 2, strides=2, name="stem_conv")(inputs)
    x = _layer_norm("stem_norm")(x)
    x = _convnext_stages(
        x,
        depths=depths,
        widths=widths,
        kernel_size=kernel_size,
        drop_path_rate=drop_path_rate,
        layer_scale_init=layer_scale_init,
        downsample_padding="same",
    )

    def top(features: keras.KerasTensor) -> keras.KerasTensor:
        features = keras.layers.GlobalAveragePooling2D(name="avg_pool")(features)
        features = _layer_norm("head_norm")(features)
        if dropout:
            features = keras.layers.Dropout(float(dropout), name="head_dropout")(features)
        return head.classifier(features)

    return head.model(inputs, x, name, top=top)


register_family(
    FAMILY,
    CONVNEXT_MODELS,
    [convnext_tiny, convnext_small, convnext_base, convnext_fashion],
)
