"""RegNet: networks drawn from a design space, with a linear rule for their widths.

Radosavovic, I., Kosaraju, R. P., Girshick, R., He, K. and Dollár, P. (2020).
*Designing Network Design Spaces*. CVPR 2020. https://arxiv.org/abs/2003.13678

The paper designs *populations* rather than single networks: it samples
models from a design space (AnyNet: free depth, width, bottleneck ratio and
group width per stage), trains each briefly, compares the spaces by the
distribution of their errors, and narrows the space where the good models
are. The result, RegNet, has one bottleneck ratio, one group width, and
widths that grow linearly with the block index, quantized into stages
(`cnn_guide.anynet.block_widths`). RegNetX uses the X block, RegNetY adds
squeeze-and-excitation.

Chapter: ``docs/chapters/regnet.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import keras

from cnn_guide._validate import boolean, positive_int, positive_ints
from cnn_guide.anynet import AnyNetConfig, WidthRule, regnet_config
from cnn_guide.data import FASHION_MNIST_SHAPE
from cnn_guide.layers.regnet import RegNetXBlock, RegNetYBlock
from cnn_guide.models._common import HeadOptions, check_head, check_input_shape
from cnn_guide.models._registry import Family, register_family

if TYPE_CHECKING:
    # Only for type checkers: typing.Unpack is new in Python 3.11.
    from typing_extensions import Unpack

__all__ = ["PAPER_RULES", "regnet_fashion", "regnetx_400mf", "regnety_400mf"]

PAPER = "Radosavovic, Kosaraju, Girshick, He, Dollár 2020, Designing Network Design Spaces"
URL = "https://arxiv.org/abs/2003.13678"
CHAPTER = "chapters/regnet.md"

PAPER_RULES: dict[str, dict] = {
    # The paper's Appendix models as its code (pycls) lists them: the width
    # rule (d, w_0, w_a, w_m), the group width g, b = 1, and SE for Y.
    "regnetx_400mf": {"rule": WidthRule(22, 24, 24.48, 2.54), "group_width": 16},
    "regnety_400mf": {
        "rule": WidthRule(16, 48, 27.89, 2.09),
        "group_width": 8,
        "se_ratio": 0.25,
    },
}
"""The 400MF models' design-space parameters; `regnet_config` turns each into stages."""

FAMILY = Family("regnet", PAPER, 2020, URL, CHAPTER)
_KERAS2 = (
    "trainable count of keras.applications.RegNetX004(weights=None) of Keras 2 "
    "(Keras 3 has no RegNet), the same as timm's regnetx_004 "
    "(https://github.com/huggingface/pytorch-image-models)"
)
REGNET_MODELS: dict[str, dict] = {
    "regnetx_400mf": {
        "input_shape": (224, 224, 3),
        "min_input_size": 17,
        "summary": "RegNetX-400MF: X blocks, depths 1-2-7-12, widths 32-64-160-384, g 16",
        "reference_params": 5_157_512,
        "reference_kind": "trainable",
        "reference_source": _KERAS2,
    },
    "regnety_400mf": {
        "input_shape": (224, 224, 3),
        "min_input_size": 17,
        "summary": "RegNetY-400MF: Y blocks (SE), depths 1-3-6-6, widths 48-104-208-440, g 8",
        "reference_params": 4_344_144,
        "reference_kind": "trainable",
        "reference_source": _KERAS2.replace("RegNetX004", "RegNetY004").replace(
            "regnetx_004", "regnety_004"
        ),
    },
    "regnet_fashion": {
        "input_shape": FASHION_MNIST_SHAPE,
        "min_input_size": 5,
        "summary": "RegNetY for 28x28: stride-1 stem, three stages 1-3-4 of widths 32-72-152, g 8",
        "variant_of": "regnety_400mf",
    },
}


def _min_side(num_stride2: int) -> int:
    """Smallest side at which each of ``num_stride2`` padded stride-2 layers halves a 2x2 map."""
    return 2 ** (num_stride2 - 1) + 1 if num_stride2 else 1


def _regnet_body(
    x: keras.KerasTensor, config: AnyNetConfig, *, stem_stride: int
) -> keras.KerasTensor:
    """The stem (3x3 conv, BN, ReLU) and the stages; each stage opens with stride 2."""
    x = keras.layers.Conv2D(
        config.stem_width,
        3,
        strides=stem_stride,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name="stem_conv",
    )(x)
    x = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name="stem_bn")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    block = RegNetXBlock if config.se_ratio is None else RegNetYBlock
    extra = {} if config.se_ratio is None else {"se_ratio": config.se_ratio}
    stages = zip(
        config.depths, config.widths, config.bottleneck_ratios, config.group_widths, strict=True
    )
    for stage, (depth, width, ratio, group) in enumerate(stages, start=1):
        for index in range(depth):
            x = block(
                width,
                group,
                strides=2 if index == 0 else 1,
                bottleneck_ratio=ratio,
                name=f"s{stage}_b{index + 1}",
                **extra,
            )(x)
    return x


def _paper_regnet(
    model: str,
    input_shape: Sequence[int],
    num_classes: int,
    name: str,
    head_options: HeadOptions,
    builder,
) -> keras.Model:
    shape = check_input_shape(input_shape, model=name, min_size=_min_side(5))
    head = check_head(builder, name, num_classes, head_options)
    config = regnet_config(**PAPER_RULES[model])
    inputs = keras.Input(shape=shape, name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescaling")(inputs)
    return head.model(inputs, _regnet_body(x, config, stem_stride=2), name)


def regnetx_400mf(
    *,
    input_shape: Sequence[int] = (224, 224, 3),
    num_classes: int = 1000,
    name: str = "regnetx_400mf",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """RegNetX-400MF: 5,157,512 trainable weights (5,194,184 in all, with BN statistics).

    The network of Keras 2's ``keras.applications.RegNetX004`` (Keras 3 has
    none), generated here from its design-space parameters rather than typed:
    the width rule ``d = 22, w_0 = 24, w_a = 24.48, w_m = 2.54``
    (`cnn_guide.anynet.block_widths`) gives stages of depths 1, 2, 7, 12 and
    widths 32, 64, 160, 384 once each width is rounded to whole groups of
    ``g = 16`` channels; ``b = 1``.

    * a ``Rescaling(1/255)`` (no weights), a 3x3/2 convolution of 32
      channels, BN, ReLU;
    * 22 `RegNetXBlock` blocks in four stages, each stage opening with
      stride 2: 224 -> 112 -> 56 -> 28 -> 14 -> 7;
    * global average pooling and a 1000-way classifier.

    About 398 million multiply-accumulates at 224x224 (the "400MF").

    Reference: Radosavovic, Kosaraju, Girshick, He and Dollár (2020),
    "Designing Network Design Spaces", CVPR 2020,
    https://arxiv.org/abs/2003.13678.

    Chapter: ``docs/chapters/regnet.md``.

    Args:
        input_shape: ``(height, width, channels)``, at least 17x17; pixels in
            [0, 255].
        num_classes: Number of classes of the classifier.
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 17x17, a wrong rank,
            non-positive classes or an unknown pooling.
    """
    return _paper_regnet(
        "regnetx_400mf", input_shape, num_classes, name, head_options, regnetx_400mf
    )


def regnety_400mf(
    *,
    input_shape: Sequence[int] = (224, 224, 3),
    num_classes: int = 1000,
    name: str = "regnety_400mf",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """RegNetY-400MF: 4,344,144 trainable weights (4,371,296 in all, with BN statistics).

    The network of Keras 2's ``keras.applications.RegNetY004`` (Keras 3 has
    none), generated from the width rule ``d = 16, w_0 = 48, w_a = 27.89,
    w_m = 2.09`` with ``g = 8`` and ``b = 1``: stages of depths 1, 3, 6, 6
    and widths 48, 104, 208, 440 of `RegNetYBlock` blocks (X blocks with
    squeeze-and-excitation of ``int(0.25 * w_in)`` units), after the same
    stem as `regnetx_400mf`. About 402 million multiply-accumulates at
    224x224; 74.1% top-1 on ImageNet in the paper.

    Reference: Radosavovic, Kosaraju, Girshick, He and Dollár (2020),
    "Designing Network Design Spaces", CVPR 2020,
    https://arxiv.org/abs/2003.13678.

    Chapter: ``docs/chapters/regnet.md``.

    Args:
        input_shape: ``(height, width, channels)``, at least 17x17; pixels in
            [0, 255].
        num_classes: Number of classes of the classifier.
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 17x17, a wrong rank,
            non-positive classes or an unknown pooling.
    """
    return _paper_regnet(
        "regnety_400mf", input_shape, num_classes, name, head_options, regnety_400mf
    )


FASHION_RULE = WidthRule(8, 32, 24, 2.2)
"""The width rule of `regnet_fashion`'s default stages: depths 1, 3, 4, widths 32, 72, 152."""


def _per_stage(value, count: int, name: str, model: str, kind: type) -> tuple:
    values = tuple(value) if isinstance(value, (list, tuple)) else (value,) * count
    if len(values) != count:
        raise ValueError(
            f"{model}: {name} needs one value per stage ({count}) or a single value, got {value!r}."
        )
    for item in values:
        if isinstance(item, bool) or not isinstance(item, (int, float)) or not item > 0:
            raise ValueError(f"{model}: every {name} must be a positive number, got {value!r}.")
        if kind is int and item != int(item):
            raise ValueError(f"{model}: every {name} must be a whole number, got {value!r}.")
    return tuple(kind(item) for item in values)


def regnet_fashion(
    *,
    input_shape: Sequence[int] = FASHION_MNIST_SHAPE,
    num_classes: int = 10,
    depths: Sequence[int] = (1, 3, 4),
    widths: Sequence[int] = (32, 72, 152),
    group_width: int | Sequence[int] = 8,
    bottleneck_ratio: float | Sequence[float] = 1.0,
    se: bool = True,
    stem_width: int = 24,
    name: str = "regnet_fashion",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """A RegNet (or any AnyNet) for 28x28x1 Fashion-MNIST: one builder for a design space.

    The book's adaptation, fixed before any run:

    * **Stride-1 stem** of 24 channels (the paper's is 3x3/2 of 32) and
      **three stages** instead of four, each opening with a stride-2
      block: 28 -> 14 -> 7 -> 4, so the network ends on a 4x4 map as the
      paper's ends on 7x7.
    * Default stages from the width rule ``d = 8, w_0 = 32, w_a = 24,
      w_m = 2.2`` (`FASHION_RULE`): depths 1, 3, 4 and widths 32, 72, 152,
      with RegNetY's ``g = 8``, ``b = 1`` and SE (ratio 0.25): 339,360
      weights, about 8.2 million multiply-accumulates per image.
    * Every design-space parameter is an option, so that the sampled
      models of the chapter's design-space experiment
      (`cnn_guide.design_spaces`) are this builder with options: per-stage
      ``depths`` and ``widths``, and ``group_width`` and
      ``bottleneck_ratio`` either shared (a RegNet) or per stage (an AnyNet).
    * No ``Rescaling`` layer: the book's data are already in [0, 1].

    The smallest input is 5x5 (5 -> 3 -> 2 -> 1).

    Reference: Radosavovic, Kosaraju, Girshick, He and Dollár (2020),
    "Designing Network Design Spaces", CVPR 2020,
    https://arxiv.org/abs/2003.13678.

    Chapter: ``docs/chapters/regnet.md``.

    Args:
        input_shape: ``(height, width, channels)``, at least 5x5.
        num_classes: Number of classes of the classifier.
        depths: Blocks per stage (one to three stages).
        widths: Output channels per stage.
        group_width: Channels per group of the 3x3 convolutions, one value or
            one per stage; each stage's ``width / bottleneck_ratio`` must be a
            multiple of it.
        bottleneck_ratio: Output width over inner width ``b`` (the 3x3
            works on ``width / b`` channels), one value or one per
            stage.
        se: Y blocks (squeeze-and-excitation, ratio 0.25) if ``True``, X
            blocks if ``False``.
        stem_width: Channels of the stem convolution.
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 5x5, a wrong rank, non-positive
            classes, an unknown pooling, more than three or mismatched stages,
            non-positive sizes or ratios, a non-boolean ``se``, or a stage
            whose inner width does not split into whole groups.
    """
    depths = positive_ints(depths, "depths", name)
    widths = positive_ints(widths, "widths", name)
    if not 1 <= len(depths) <= 3 or len(widths) != len(depths):
        raise ValueError(
            f"{name}: depths and widths need one entry per stage, one to three stages "
            f"(28x28 halves three times), got depths={depths!r} and widths={widths!r}."
        )
    groups = _per_stage(group_width, len(depths), "group_width", name, int)
    ratios = _per_stage(bottleneck_ratio, len(depths), "bottleneck_ratio", name, float)
    se = boolean(se, "se", name)
    stem_width = positive_int(stem_width, "stem_width", name)
    shape = check_input_shape(input_shape, model=name, min_size=_min_side(len(depths)))
    head = check_head(regnet_fashion, name, num_classes, head_options)
    try:
        config = AnyNetConfig(depths, widths, ratios, groups, stem_width, 0.25 if se else None)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None

    inputs = keras.Input(shape=shape, name="image")
    return head.model(inputs, _regnet_body(inputs, config, stem_stride=1), name)


register_family(FAMILY, REGNET_MODELS, [regnetx_400mf, regnety_400mf, regnet_fashion])
