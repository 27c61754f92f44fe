"""ResNet: deep networks made trainable by identity shortcuts.

He, Zhang, Ren and Sun (2015), "Deep Residual Learning for Image Recognition",
https://arxiv.org/abs/1512.03385, Table 1. Chapter: ``docs/chapters/resnet.md``.

The paper configurations follow the paper and torchvision: no convolution
biases, batch normalization epsilon 1e-5, projection shortcuts only where the
shape changes (option B), and the stride of a bottleneck unit on its 3x3
convolution (torchvision's "ResNet v1.5"). ``keras_form=True`` builds them the
way ``keras.applications`` does instead. The helpers here are shared with
``resnext`` and ``senet``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from cnn_guide._validate import positive_int, positive_ints
from cnn_guide.data import FASHION_MNIST_SHAPE
from cnn_guide.layers.residual import BasicResidualUnit, BottleneckResidualUnit
from cnn_guide.models._common import check_head, check_input_shape, global_pool_head
from cnn_guide.models._registry import register

__all__ = [
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnet_fashion",
]

IMAGENET_SHAPE = (224, 224, 3)
# Five stride-2 steps (stem conv, max pooling, stages 3-5): 32 is the smallest
# side whose last feature map still has one position per 32x32 input patch,
# and the minimum keras.applications uses for ResNet.
IMAGENET_MIN_SIZE = 32
# The paper's / PyTorch's batch normalization, and Keras' applications' one.
TORCH_BN_EPSILON, TORCH_BN_MOMENTUM = 1e-5, 0.9
KERAS_BN_EPSILON, KERAS_BN_MOMENTUM = 1.001e-5, 0.99

_PAPER = "He, Zhang, Ren, Sun (2015), Deep Residual Learning for Image Recognition"
_URL = "https://arxiv.org/abs/1512.03385"
_CHAPTER = "chapters/resnet.md"


def _check_bool(model: str, arg: str, value) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{model}: {arg} must be True or False, got {value!r}.")


def _conv_bn_relu(
    x: keras.KerasTensor,
    filters: int,
    kernel_size: int,
    *,
    stride: int = 1,
    use_bias: bool = False,
    bn_epsilon: float = TORCH_BN_EPSILON,
    bn_momentum: float = TORCH_BN_MOMENTUM,
    name: str,
) -> keras.KerasTensor:
    """A stem convolution, its batch normalization and ReLU (``<name>_conv/_bn/_relu``).

    Strided convolutions get an explicit symmetric padding (``<name>_pad``), as
    in PyTorch, because Keras' ``"same"`` pads them asymmetrically.
    """
    padding = "same"
    if stride > 1:
        x = keras.layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
        padding = "valid"
    x = keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=stride,
        padding=padding,
        use_bias=use_bias,
        kernel_initializer="he_normal",
        name=f"{name}_conv",
    )(x)
    x = keras.layers.BatchNormalization(
        epsilon=bn_epsilon, momentum=bn_momentum, name=f"{name}_bn"
    )(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def _residual_stages(
    x: keras.KerasTensor,
    *,
    unit: type[BasicResidualUnit] | type[BottleneckResidualUnit],
    blocks: Sequence[int],
    filters: Sequence[int],
    strides: Sequence[int],
    stage_kwargs: Sequence[dict] | None = None,
    **unit_kwargs,
) -> keras.KerasTensor:
    """Stack residual stages, unit ``j`` of stage ``i`` named ``conv{i+2}_block{j+1}``.

    The first unit of a stage carries its stride (and, where the shape
    changes, the projection shortcut); ``stage_kwargs[i]`` adds per-stage unit
    arguments (e.g. ResNeXt's widths).
    """
    for i, (count, stage_filters, stride) in enumerate(zip(blocks, filters, strides, strict=True)):
        extra = dict(unit_kwargs, **(stage_kwargs[i] if stage_kwargs else {}))
        for j in range(count):
            x = unit(
                stage_filters,
                stride=stride if j == 0 else 1,
                name=f"conv{i + 2}_block{j + 1}",
                **extra,
            )(x)
    return x


def _imagenet_resnet(
    *,
    name: str,
    unit: type[BasicResidualUnit] | type[BottleneckResidualUnit],
    blocks: Sequence[int],
    input_shape: Sequence[int],
    num_classes: int,
    include_top: bool,
    pooling: str | None,
    classifier_activation: str | None,
    keras_form: bool = False,
    groups: int = 1,
    width_per_group: int = 64,
    se_ratio: int | None = None,
) -> keras.Model:
    """The ImageNet ResNet skeleton of He et al. (2015), Table 1.

    A 7x7/2 convolution with 64 filters, a 3x3/2 max pooling, then four
    stages of residual units with 64, 128, 256 and 512 (bottleneck) filters,
    the last three starting with stride 2, then global average pooling and the
    classifier. ResNeXt sets ``groups`` and ``width_per_group`` (the 3x3 width
    of a stage is ``groups * width_per_group * filters / 64``); SE-ResNet sets
    ``se_ratio``.

    Raises:
        ValueError: For an input smaller than 32x32 or an invalid argument.
    """
    shape = check_input_shape(input_shape, model=name, min_size=IMAGENET_MIN_SIZE)
    check_head(model=name, include_top=include_top, num_classes=num_classes, pooling=pooling)
    _check_bool(name, "keras_form", keras_form)

    bn_epsilon, bn_momentum = (
        (KERAS_BN_EPSILON, KERAS_BN_MOMENTUM)
        if keras_form
        else (TORCH_BN_EPSILON, TORCH_BN_MOMENTUM)
    )
    filters = (64, 128, 256, 512)
    unit_kwargs = {
        "use_bias": keras_form,
        "bn_epsilon": bn_epsilon,
        "bn_momentum": bn_momentum,
        "se_ratio": se_ratio,
    }
    stage_kwargs = None
    if unit is BottleneckResidualUnit:
        unit_kwargs.update(groups=groups, stride_in_1x1=keras_form)
        stage_kwargs = [{"width": groups * width_per_group * f // 64} for f in filters]

    inputs = keras.Input(shape=shape, name="image")
    # Stem, named as in keras.applications: conv1_pad/conv, conv1_bn, conv1_relu,
    # pool1_pad/pool. Zero padding before the max pooling equals PyTorch's
    # -inf padding here because the input of the pooling is a ReLU output.
    x = _conv_bn_relu(
        inputs,
        64,
        7,
        stride=2,
        use_bias=keras_form,
        bn_epsilon=bn_epsilon,
        bn_momentum=bn_momentum,
        name="conv1",
    )
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = _residual_stages(
        x,
        unit=unit,
        blocks=blocks,
        filters=filters,
        strides=(1, 2, 2, 2),
        stage_kwargs=stage_kwargs,
        **unit_kwargs,
    )
    x = global_pool_head(
        x,
        include_top=include_top,
        num_classes=num_classes,
        pooling=pooling,
        classifier_activation=classifier_activation,
    )
    return keras.Model(inputs, x, name=name)


def _fashion_resnet(
    *,
    name: str,
    unit: type[BasicResidualUnit] | type[BottleneckResidualUnit],
    input_shape: Sequence[int],
    num_classes: int,
    include_top: bool,
    pooling: str | None,
    classifier_activation: str | None,
    stem_width: int,
    filters: Sequence[int],
    blocks_per_stage: int,
    stage_kwargs: Sequence[dict] | None = None,
    **unit_kwargs,
) -> keras.Model:
    """The small-image skeleton of the Fashion-MNIST variants.

    A 3x3 stride-1 stem (no max pooling), then one stage per entry of
    ``filters`` with ``blocks_per_stage`` units each, stride 2 at the start of
    every stage but the first, then global average pooling and the
    classifier: He et al.'s CIFAR-10 design (section 4.2). The checks on
    ``filters`` and ``blocks_per_stage`` are the caller's.

    Raises:
        ValueError: For an input smaller than the total stride or a bad head.
    """
    # Each stage after the first halves the side; the last map keeps >= 1 position
    # per input patch of that size.
    min_size = 2 ** (len(filters) - 1)
    shape = check_input_shape(input_shape, model=name, min_size=min_size)
    check_head(model=name, include_top=include_top, num_classes=num_classes, pooling=pooling)
    inputs = keras.Input(shape=shape, name="image")
    x = _conv_bn_relu(inputs, stem_width, 3, name="conv1")
    x = _residual_stages(
        x,
        unit=unit,
        blocks=[blocks_per_stage] * len(filters),
        filters=filters,
        strides=[1] + [2] * (len(filters) - 1),
        stage_kwargs=stage_kwargs,
        **unit_kwargs,
    )
    x = global_pool_head(
        x,
        include_top=include_top,
        num_classes=num_classes,
        pooling=pooling,
        classifier_activation=classifier_activation,
    )
    return keras.Model(inputs, x, name=name)


@register(
    "resnet18",
    family="resnet",
    paper=_PAPER,
    year=2015,
    url=_URL,
    input_shape=IMAGENET_SHAPE,
    min_input_size=IMAGENET_MIN_SIZE,
    summary="18 layers: 7x7 stem, four stages of 2 basic units (64-128-256-512)",
    reference_params=11_689_512,
    reference_kind="trainable",
    reference_source="He et al. 2015, Table 1; torchvision.models.resnet18",
    chapter=_CHAPTER,
)
def resnet18(
    *,
    input_shape: Sequence[int] = IMAGENET_SHAPE,
    num_classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    keras_form: bool = False,
    name: str = "resnet18",
) -> keras.Model:
    """ResNet-18 (He et al. 2015, Table 1): 11,689,512 trainable parameters.

    A 7x7/2 convolution and a 3x3/2 max pooling, then four stages of two
    `BasicResidualUnit` each, with 64, 128, 256 and 512 filters (stride 2 at
    the start of stages 3-5), global average pooling and a 1000-way softmax.
    No convolution has a bias (batch normalization follows each one), as in
    the paper and torchvision.

    Reference: He, Zhang, Ren and Sun (2015), "Deep Residual Learning for Image
    Recognition", https://arxiv.org/abs/1512.03385.
    Chapter: ``docs/chapters/resnet.md``.

    Args:
        input_shape: ``(height, width, channels)``; at least 32x32 (the total
            stride).
        num_classes: Number of classes of the classifier.
        include_top: Whether to add global average pooling and the classifier.
        pooling: Without the head: ``None`` returns the last feature map,
            ``"avg"`` or ``"max"`` a global pooling of it.
        classifier_activation: Activation of the output layer.
        keras_form: Keras' conventions (convolution biases, batch normalization
            epsilon 1.001e-5 and momentum 0.99). ``keras.applications`` has no
            ResNet-18; this adds 4,800 biases.
        name: Model name.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 32x32, a wrong rank, non-positive
            classes, an unknown pooling or a non-boolean ``keras_form``.
    """
    return _imagenet_resnet(
        name=name,
        unit=BasicResidualUnit,
        blocks=(2, 2, 2, 2),
        input_shape=input_shape,
        num_classes=num_classes,
        include_top=include_top,
        pooling=pooling,
        classifier_activation=classifier_activation,
        keras_form=keras_form,
    )


@register(
    "resnet34",
    family="resnet",
    paper=_PAPER,
    year=2015,
    url=_URL,
    input_shape=IMAGENET_SHAPE,
    min_input_size=IMAGENET_MIN_SIZE,
    summary="34 layers: 7x7 stem, basic units 3-4-6-3 (64-128-256-512)",
    reference_params=21_797_672,
    reference_kind="trainable",
    reference_source="He et al. 2015, Table 1; torchvision.models.resnet34",
    chapter=_CHAPTER,
)
def resnet34(
    *,
    input_shape: Sequence[int] = IMAGENET_SHAPE,
    num_classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    keras_form: bool = False,
    name: str = "resnet34",
) -> keras.Model:
    """ResNet-34 (He et al. 2015, Table 1): 21,797,672 trainable parameters.

    ResNet-18's layout with 3, 4, 6 and 3 `BasicResidualUnit` per stage. This
    is the network of the paper's Figure 3, compared there with its 34-layer
    plain counterpart: the plain one trains to a *higher* error than an
    18-layer plain net, the residual one to a lower error (Table 2).

    Reference: He, Zhang, Ren and Sun (2015), "Deep Residual Learning for Image
    Recognition", https://arxiv.org/abs/1512.03385.
    Chapter: ``docs/chapters/resnet.md``.

    Args:
        input_shape: ``(height, width, channels)``; at least 32x32.
        num_classes: Number of classes of the classifier.
        include_top: Whether to add global average pooling and the classifier.
        pooling: Without the head: ``None``, ``"avg"`` or ``"max"``.
        classifier_activation: Activation of the output layer.
        keras_form: Keras' conventions (convolution biases, batch normalization
            epsilon 1.001e-5 and momentum 0.99); ``keras.applications`` has no
            ResNet-34.
        name: Model name.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 32x32, a wrong rank, non-positive
            classes, an unknown pooling or a non-boolean ``keras_form``.
    """
    return _imagenet_resnet(
        name=name,
        unit=BasicResidualUnit,
        blocks=(3, 4, 6, 3),
        input_shape=input_shape,
        num_classes=num_classes,
        include_top=include_top,
        pooling=pooling,
        classifier_activation=classifier_activation,
        keras_form=keras_form,
    )


@register(
    "resnet50",
    family="resnet",
    paper=_PAPER,
    year=2015,
    url=_URL,
    input_shape=IMAGENET_SHAPE,
    min_input_size=IMAGENET_MIN_SIZE,
    summary="50 layers: 7x7 stem, bottleneck units 3-4-6-3 (256-512-1024-2048 out)",
    reference_params=25_557_032,
    reference_kind="trainable",
    reference_source="He et al. 2015, Table 1; torchvision.models.resnet50",
    chapter=_CHAPTER,
)
def resnet50(
    *,
    input_shape: Sequence[int] = IMAGENET_SHAPE,
    num_classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    keras_form: bool = False,
    name: str = "resnet50",
) -> keras.Model:
    """ResNet-50 (He et al. 2015, Table 1): 25,557,032 trainable parameters.

    The 7x7 stem and max pooling, then 3, 4, 6 and 3 `BottleneckResidualUnit`
    (1x1 reduce to 64-128-256-512 channels, 3x3, 1x1 expand to 4x that), global
    average pooling and the classifier. The stride of a downsampling unit is
    on its 3x3 convolution, as in torchvision ("ResNet v1.5").

    How ``keras.applications.ResNet50`` differs (``keras_form=True`` builds it
    that way, 25,636,712 weights in total, with the same layer names): every
    convolution has a bias (26,560 more trainable weights, which the
    following batch normalization makes redundant), batch normalization uses
    epsilon 1.001e-5 and momentum 0.99 (the Caffe model's values) instead of
    1e-5 and 0.9, and a downsampling unit puts its stride on the first 1x1
    convolution (ResNet v1) instead of the 3x3.

    Reference: He, Zhang, Ren and Sun (2015), "Deep Residual Learning for Image
    Recognition", https://arxiv.org/abs/1512.03385.
    Chapter: ``docs/chapters/resnet.md``.

    Args:
        input_shape: ``(height, width, channels)``; at least 32x32.
        num_classes: Number of classes of the classifier.
        include_top: Whether to add global average pooling and the classifier.
        pooling: Without the head: ``None``, ``"avg"`` or ``"max"``.
        classifier_activation: Activation of the output layer.
        keras_form: Build it as ``keras.applications.ResNet50`` does (see
            above); its weights can then be copied over layer by layer.
        name: Model name.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 32x32, a wrong rank, non-positive
            classes, an unknown pooling or a non-boolean ``keras_form``.
    """
    return _imagenet_resnet(
        name=name,
        unit=BottleneckResidualUnit,
        blocks=(3, 4, 6, 3),
        input_shape=input_shape,
        num_classes=num_classes,
        include_top=include_top,
        pooling=pooling,
        classifier_activation=classifier_activation,
        keras_form=keras_form,
    )


@register(
    "resnet101",
    family="resnet",
    paper=_PAPER,
    year=2015,
    url=_URL,
    input_shape=IMAGENET_SHAPE,
    min_input_size=IMAGENET_MIN_SIZE,
    summary="101 layers: 7x7 stem, bottleneck units 3-4-23-3",
    reference_params=44_549_160,
    reference_kind="trainable",
    reference_source="He et al. 2015, Table 1; torchvision.models.resnet101",
    chapter=_CHAPTER,
)
def resnet101(
    *,
    input_shape: Sequence[int] = IMAGENET_SHAPE,
    num_classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    keras_form: bool = False,
    name: str = "resnet101",
) -> keras.Model:
    """ResNet-101 (He et al. 2015, Table 1): 44,549,160 trainable parameters.

    ResNet-50 with 23 instead of 6 bottleneck units in the third stage (the
    14x14 one at 224x224). ``keras_form=True`` builds it as
    ``keras.applications.ResNet101`` does (convolution biases, epsilon
    1.001e-5, momentum 0.99, stride on the first 1x1; see `resnet50`).

    Reference: He, Zhang, Ren and Sun (2015), "Deep Residual Learning for Image
    Recognition", https://arxiv.org/abs/1512.03385.
    Chapter: ``docs/chapters/resnet.md``.

    Args:
        input_shape: ``(height, width, channels)``; at least 32x32.
        num_classes: Number of classes of the classifier.
        include_top: Whether to add global average pooling and the classifier.
        pooling: Without the head: ``None``, ``"avg"`` or ``"max"``.
        classifier_activation: Activation of the output layer.
        keras_form: Build it as ``keras.applications.ResNet101`` does.
        name: Model name.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 32x32, a wrong rank, non-positive
            classes, an unknown pooling or a non-boolean ``keras_form``.
    """
    return _imagenet_resnet(
        name=name,
        unit=BottleneckResidualUnit,
        blocks=(3, 4, 23, 3),
        input_shape=input_shape,
        num_classes=num_classes,
        include_top=include_top,
        pooling=pooling,
        classifier_activation=classifier_activation,
        keras_form=keras_form,
    )


@register(
    "resnet152",
    family="resnet",
    paper=_PAPER,
    year=2015,
    url=_URL,
    input_shape=IMAGENET_SHAPE,
    min_input_size=IMAGENET_MIN_SIZE,
    summary="152 layers: 7x7 stem, bottleneck units 3-8-36-3",
    reference_params=60_192_808,
    reference_kind="trainable",
    reference_source="He et al. 2015, Table 1; torchvision.models.resnet152",
    chapter=_CHAPTER,
)
def resnet152(
    *,
    input_shape: Sequence[int] = IMAGENET_SHAPE,
    num_classes: int = 1000,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    keras_form: bool = False,
    name: str = "resnet152",
) -> keras.Model:
    """ResNet-152 (He et al. 2015, Table 1): 60,192,808 trainable parameters.

    3, 8, 36 and 3 bottleneck units per stage; the deepest network of the
    paper's ImageNet experiments and the one behind its ILSVRC-2015 entry.
    ``keras_form=True`` builds it as ``keras.applications.ResNet152`` does:
    60,419,944 weights in total (convolution biases, epsilon 1.001e-5,
    momentum 0.99, stride on the first 1x1; see `resnet50`).

    Reference: He, Zhang, Ren and Sun (2015), "Deep Residual Learning for Image
    Recognition", https://arxiv.org/abs/1512.03385.
    Chapter: ``docs/chapters/resnet.md``.

    Args:
        input_shape: ``(height, width, channels)``; at least 32x32.
        num_classes: Number of classes of the classifier.
        include_top: Whether to add global average pooling and the classifier.
        pooling: Without the head: ``None``, ``"avg"`` or ``"max"``.
        classifier_activation: Activation of the output layer.
        keras_form: Build it as ``keras.applications.ResNet152`` does.
        name: Model name.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 32x32, a wrong rank, non-positive
            classes, an unknown pooling or a non-boolean ``keras_form``.
    """
    return _imagenet_resnet(
        name=name,
        unit=BottleneckResidualUnit,
        blocks=(3, 8, 36, 3),
        input_shape=input_shape,
        num_classes=num_classes,
        include_top=include_top,
        pooling=pooling,
        classifier_activation=classifier_activation,
        keras_form=keras_form,
    )


@register(
    "resnet_fashion",
    family="resnet",
    paper=_PAPER,
    year=2015,
    url=_URL,
    input_shape=FASHION_MNIST_SHAPE,
    min_input_size=4,
    summary="ResNet for 28x28: 3x3 stem, three stages of 2 basic units (16-32-64)",
    variant_of="resnet18",
    chapter=_CHAPTER,
)
def resnet_fashion(
    *,
    input_shape: Sequence[int] = FASHION_MNIST_SHAPE,
    num_classes: int = 10,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    widths: Sequence[int] = (16, 32, 64),
    blocks_per_stage: int = 2,
    skip_connections: bool = True,
    name: str = "resnet_fashion",
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
        include_top: Whether to add global average pooling and the classifier.
        pooling: Without the head: ``None``, ``"avg"`` or ``"max"``.
        classifier_activation: Activation of the output layer.
        widths: Filters of each stage (the stem has ``widths[0]``); one stage
            per entry, stride 2 at the start of each stage but the first.
        blocks_per_stage: Residual units per stage (``n`` of the paper's
            ``6n + 2``-layer CIFAR networks when there are three stages).
        skip_connections: ``False`` removes every shortcut (a plain network).
        name: Model name.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than the total stride, a wrong rank,
            non-positive classes, an unknown pooling, or invalid ``widths``,
            ``blocks_per_stage`` or ``skip_connections``.
    """
    widths = positive_ints(widths, "widths", name)
    blocks_per_stage = positive_int(blocks_per_stage, "blocks_per_stage", name)
    _check_bool(name, "skip_connections", skip_connections)
    return _fashion_resnet(
        name=name,
        unit=BasicResidualUnit,
        input_shape=input_shape,
        num_classes=num_classes,
        include_top=include_top,
        pooling=pooling,
        classifier_activation=classifier_activation,
        stem_width=widths[0],
        filters=widths,
        blocks_per_stage=blocks_per_stage,
        skip_connections=skip_connections,
    )
