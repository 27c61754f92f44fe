"""ResNet: deep networks made trainable by identity shortcuts.

He, Zhang, Ren and Sun (2015), "Deep Residual Learning for Image Recognition",
https://arxiv.org/abs/1512.03385, Table 1. Chapter: ``docs/chapters/resnet.md``.

The paper configurations follow the paper and torchvision: no convolution
biases, batch normalization epsilon 1e-5, projection shortcuts only where the
shape changes (option B), and the stride of a bottleneck unit on its 3x3
convolution (torchvision's "ResNet v1.5"). ``keras_form=True`` builds them the
way ``keras.applications`` does instead. `RESNET_CONFIGS` holds the depths
of Table 1 and `resnet` builds any of them; ``resnet18`` ... ``resnet152``
are its rows. The skeletons live in `cnn_guide.models._common`, shared with
``resnext`` and ``senet``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import keras

from cnn_guide._validate import positive_int, positive_ints
from cnn_guide.data import FASHION_MNIST_SHAPE
from cnn_guide.layers.residual import BasicResidualUnit, BottleneckResidualUnit
from cnn_guide.models._common import (
    IMAGENET_MIN_SIZE,
    IMAGENET_SHAPE,
    HeadOptions,
    ModelArguments,
    check_bool,
    check_head,
    imagenet_resnet,
    small_image_resnet,
)
from cnn_guide.models._common import KERAS_BN_EPSILON as KERAS_BN_EPSILON
from cnn_guide.models._common import KERAS_BN_MOMENTUM as KERAS_BN_MOMENTUM
from cnn_guide.models._common import TORCH_BN_EPSILON as TORCH_BN_EPSILON
from cnn_guide.models._common import TORCH_BN_MOMENTUM as TORCH_BN_MOMENTUM
from cnn_guide.models._registry import Family, register_family

if TYPE_CHECKING:
    # Only for type checkers: typing.Unpack is new in Python 3.11.
    from typing_extensions import Unpack

__all__ = [
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnet_fashion",
]

RESNET_CONFIGS: dict[str, dict] = {
    "resnet18": {"block": "basic", "depths": (2, 2, 2, 2)},
    "resnet34": {"block": "basic", "depths": (3, 4, 6, 3)},
    "resnet50": {"block": "bottleneck", "depths": (3, 4, 6, 3)},
    "resnet101": {"block": "bottleneck", "depths": (3, 4, 23, 3)},
    "resnet152": {"block": "bottleneck", "depths": (3, 8, 36, 3)},
}
"""He et al. (2015), Table 1: each network's residual unit and its units per
stage (the four stages have 64, 128, 256 and 512 filters)."""

_UNITS = {"basic": BasicResidualUnit, "bottleneck": BottleneckResidualUnit}


class ResNetArguments(ModelArguments, total=False):
    """The keyword arguments of `resnet`, which its rows ``resnet18`` ... take too."""

    keras_form: bool


PAPER = "He, Zhang, Ren, Sun (2015), Deep Residual Learning for Image Recognition"
URL = "https://arxiv.org/abs/1512.03385"
FAMILY = Family("resnet", PAPER, 2015, URL, "chapters/resnet.md")
# The paper configurations' registry facts; the references are torchvision's
# counts of the paper's networks.
_TABLE_1 = {
    "input_shape": IMAGENET_SHAPE,
    "min_input_size": IMAGENET_MIN_SIZE,
    "reference_kind": "trainable",
}
RESNET_MODELS: dict[str, dict] = {
    "resnet18": {
        **_TABLE_1,
        "summary": "18 layers: 7x7 stem, four stages of 2 basic units (64-128-256-512)",
        "reference_params": 11_689_512,
        "reference_source": "He et al. 2015, Table 1; torchvision.models.resnet18",
    },
    "resnet34": {
        **_TABLE_1,
        "summary": "34 layers: 7x7 stem, basic units 3-4-6-3 (64-128-256-512)",
        "reference_params": 21_797_672,
        "reference_source": "He et al. 2015, Table 1; torchvision.models.resnet34",
    },
    "resnet50": {
        **_TABLE_1,
        "summary": "50 layers: 7x7 stem, bottleneck units 3-4-6-3 (256-512-1024-2048 out)",
        "reference_params": 25_557_032,
        "reference_source": "He et al. 2015, Table 1; torchvision.models.resnet50",
    },
    "resnet101": {
        **_TABLE_1,
        "summary": "101 layers: 7x7 stem, bottleneck units 3-4-23-3",
        "reference_params": 44_549_160,
        "reference_source": "He et al. 2015, Table 1; torchvision.models.resnet101",
    },
    "resnet152": {
        **_TABLE_1,
        "summary": "152 layers: 7x7 stem, bottleneck units 3-8-36-3",
        "reference_params": 60_192_808,
        "reference_source": "He et al. 2015, Table 1; torchvision.models.resnet152",
    },
    "resnet_fashion": {
        "input_shape": FASHION_MNIST_SHAPE,
        "min_input_size": 4,
        "summary": "ResNet for 28x28: 3x3 stem, three stages of 2 basic units (16-32-64)",
        "variant_of": "resnet18",
    },
}


def resnet(
    config: str | Mapping[str, object],
    *,
    input_shape: Sequence[int] = IMAGENET_SHAPE,
    num_classes: int = 1000,
    keras_form: bool = False,
    name: str | None = None,
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """A ResNet of He et al. (2015), Table 1, from its row of `RESNET_CONFIGS`.

    A 7x7/2 convolution with 64 filters and a 3x3/2 max pooling, then four
    stages of residual units with 64, 128, 256 and 512 filters (stride 2 at
    the start of stages 3-5), global average pooling and a 1000-way softmax.
    ResNet-18 and -34 stack `BasicResidualUnit` (two 3x3 convolutions);
    ResNet-50, -101 and -152 stack `BottleneckResidualUnit` (1x1 reduce to
    64-128-256-512 channels, 3x3, 1x1 expand to 4x that). No convolution has
    a bias (batch normalization follows each one), as in the paper and
    torchvision, and the stride of a downsampling bottleneck unit is on its
    3x3 convolution, as in torchvision ("ResNet v1.5").

    How ``keras.applications.ResNet50`` (and 101, 152) differs;
    ``keras_form=True`` builds it that way, 25,636,712 weights in total for
    ResNet-50 and 60,419,944 for ResNet-152, with the same layer names: every
    convolution has a bias (26,560 more trainable weights in ResNet-50, 4,800
    in ResNet-18, which the following batch normalization makes redundant),
    batch normalization uses epsilon 1.001e-5 and momentum 0.99 (the Caffe
    model's values) instead of 1e-5 and 0.9, and a downsampling unit puts its
    stride on the first 1x1 convolution (ResNet v1) instead of the 3x3.
    ``keras.applications`` has no ResNet-18 or -34.

    Reference: He, Zhang, Ren and Sun (2015), "Deep Residual Learning for Image
    Recognition", https://arxiv.org/abs/1512.03385.
    Chapter: ``docs/chapters/resnet.md``.

    Args:
        config: A name of `RESNET_CONFIGS` (``"resnet50"``), or a row of
            your own: ``{"block": "basic" | "bottleneck", "depths": (units
            per stage, four of them)}``.
        input_shape: ``(height, width, channels)``; at least 32x32 (the total
            stride).
        num_classes: Number of classes of the classifier.
        keras_form: Keras' conventions (see above); the weights of
            ``keras.applications`` can then be copied over layer by layer.
        name: Model name; by default the name of ``config``, or ``"resnet"``.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an unknown configuration, an input smaller than
            32x32, a wrong rank, non-positive classes, an unknown pooling or
            a non-boolean ``keras_form``.
    """
    if isinstance(config, str):
        if config not in RESNET_CONFIGS:
            raise ValueError(
                f"resnet: unknown configuration {config!r}; choose one of {list(RESNET_CONFIGS)}."
            )
        name = name or config
        config = RESNET_CONFIGS[config]
    name = name or "resnet"
    if config.get("block") not in _UNITS:
        raise ValueError(
            f"{name}: block must be one of {list(_UNITS)}, got {config.get('block')!r}."
        )
    return imagenet_resnet(
        name=name,
        unit=_UNITS[config["block"]],
        blocks=positive_ints(config.get("depths"), "depths", name),
        input_shape=input_shape,
        head=check_head(resnet, name, num_classes, head_options),
        keras_form=keras_form,
    )


def resnet18(**kwargs: Unpack[ResNetArguments]) -> keras.Model:
    """ResNet-18 (He et al. 2015, Table 1): 11,689,512 trainable parameters.

    Two `BasicResidualUnit` per stage. The arguments are those of `resnet`.
    """
    return resnet("resnet18", **kwargs)


def resnet34(**kwargs: Unpack[ResNetArguments]) -> keras.Model:
    """ResNet-34 (He et al. 2015, Table 1): 21,797,672 trainable parameters.

    3, 4, 6 and 3 `BasicResidualUnit` per stage: the network of the paper's
    Figure 3, compared there with its 34-layer plain counterpart, which
    trains to a *higher* error than an 18-layer plain net while the residual
    one trains to a lower error (Table 2). The arguments are those of
    `resnet`.
    """
    return resnet("resnet34", **kwargs)


def resnet50(**kwargs: Unpack[ResNetArguments]) -> keras.Model:
    """ResNet-50 (He et al. 2015, Table 1): 25,557,032 trainable parameters.

    3, 4, 6 and 3 `BottleneckResidualUnit` per stage (256, 512, 1024 and 2048
    output channels). ``keras_form=True`` builds ``keras.applications.ResNet50``:
    25,636,712 weights. The arguments are those of `resnet`.
    """
    return resnet("resnet50", **kwargs)


def resnet101(**kwargs: Unpack[ResNetArguments]) -> keras.Model:
    """ResNet-101 (He et al. 2015, Table 1): 44,549,160 trainable parameters.

    ResNet-50 with 23 instead of 6 bottleneck units in the third stage (the
    14x14 one at 224x224). The arguments are those of `resnet`.
    """
    return resnet("resnet101", **kwargs)


def resnet152(**kwargs: Unpack[ResNetArguments]) -> keras.Model:
    """ResNet-152 (He et al. 2015, Table 1): 60,192,808 trainable parameters.

    3, 8, 36 and 3 bottleneck units per stage: the deepest network of the
    paper's ImageNet experiments, behind its ILSVRC-2015 entry.
    ``keras_form=True`` builds ``keras.applications.ResNet152``: 60,419,944
    weights. The arguments are those of `resnet`.
    """
    return resnet("resnet152", **kwargs)


def resnet_fashion(
    *,
    input_shape: Sequence[int] = FASHION_MNIST_SHAPE,
    num_classes: int = 10,
    widths: Sequence[int] = (16, 32, 64),
    blocks_per_stage: int = 2,
    skip_connections: bool = True,
    name: str = "resnet_fashion",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """ResNet-18's design scaled to 28x28 Fashion-MNIST: 14 layers, 175k parameters.

    A 3x3 convolution with 16 filters (stride 1), then three stages of two
    `BasicResidualUnit` with 16, 32 and 64 filters, stride 2 at the start of
    the second and third stages (28x28 -> 14x14 -> 7x7), global average
    pooling and a 10-way softmax: 174,970 trainable parameters (176,090 with
    the batch normalization statistics) and about 20.2 million
    multiply-accumulates per 28x28 image.

    Changes from the paper's ResNet-18, and why:

    * **Stem**: a 3x3 stride-1 convolution instead of the 7x7 stride-2 one,
      and no max pooling. On 224x224 images the stem cuts the side by 4
      before any residual unit; on 28x28 it would leave 7x7 and the stages
      after it would shrink that to 1x1.
    * **Three stages instead of four**, starting at 16 filters instead of
      64: with two stride-2 stages the last map is 7x7, and the narrower
      widths keep the cost near 20M multiply-accumulates (the same layout
      with ResNet-18's widths, 64-128-256, would need 322M, and all four of
      its stages 456M). This is the paper's own recipe for small images (section
      4.2, CIFAR-10: 3x3 stem, stages of 16, 32 and 64 filters, ``6n + 2``
      layers; here ``n = 2``), except that shortcuts that change the shape
      are projections (option B) as in the ImageNet models.
    * The units themselves, batch normalization, He initialization, global
      average pooling and the absence of convolution biases are unchanged.

    ``skip_connections=False`` builds the paper's "plain" counterpart: the same
    layers without any shortcut (so also without the two projections), for
    the chapter's experiment on what skip connections do to training.

    Reference: He, Zhang, Ren and Sun (2015), "Deep Residual Learning for Image
    Recognition", https://arxiv.org/abs/1512.03385.
    Chapter: ``docs/chapters/resnet.md``.

    Args:
        input_shape: ``(height, width, channels)``; at least ``2 ** (stages -
            1)`` (4 for three stages).
        num_classes: Number of classes of the classifier.
        widths: Filters of each stage (the stem has ``widths[0]``); one stage
            per entry, stride 2 at the start of each stage but the first.
        blocks_per_stage: Residual units per stage (``n`` of the paper's
            ``6n + 2``-layer CIFAR networks when there are three stages).
        skip_connections: ``False`` removes every shortcut (a plain network).
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than the total stride, a wrong rank,
            non-positive classes, an unknown pooling, or invalid ``widths``,
            ``blocks_per_stage`` or ``skip_connections``.
    """
    widths = positive_ints(widths, "widths", name)
    blocks_per_stage = positive_int(blocks_per_stage, "blocks_per_stage", name)
    check_bool(name, "skip_connections", skip_connections)
    return small_image_resnet(
        name=name,
        unit=BasicResidualUnit,
        input_shape=input_shape,
        head=check_head(resnet_fashion, name, num_classes, head_options),
        stem_width=widths[0],
        filters=widths,
        blocks_per_stage=blocks_per_stage,
        skip_connections=skip_connections,
    )


register_family(
    FAMILY,
    RESNET_MODELS,
    [resnet18, resnet34, resnet50, resnet101, resnet152, resnet_fashion],
)
