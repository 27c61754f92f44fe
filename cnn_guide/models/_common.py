"""What the builders share: argument checks, heads and the residual skeletons.

Every builder validates its arguments before creating a single layer, so a
mistake is reported in terms of the arguments, not as a shape error deep in
the graph. The residual skeletons at the end serve ResNet, SENet and ResNeXt,
whose papers build on He et al. (2015), https://arxiv.org/abs/1512.03385.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import keras

from cnn_guide._validate import positive_int
from cnn_guide.layers.residual import BasicResidualUnit, BottleneckResidualUnit

POOLING_CHOICES = (None, "avg", "max")

IMAGENET_SHAPE = (224, 224, 3)
# Five stride-2 steps (stem conv, max pooling, stages 3-5): 32 is the smallest
# side whose last feature map still has one position per 32x32 input patch,
# and the minimum keras.applications uses for ResNet.
IMAGENET_MIN_SIZE = 32
# The paper's / PyTorch's batch normalization, and Keras' applications' one.
TORCH_BN_EPSILON, TORCH_BN_MOMENTUM = 1e-5, 0.9
KERAS_BN_EPSILON, KERAS_BN_MOMENTUM = 1.001e-5, 0.99

ResidualUnit = type[BasicResidualUnit] | type[BottleneckResidualUnit]


def check_input_shape(
    input_shape: Sequence[int],
    *,
    model: str,
    min_size: int,
    channels: int | None = None,
) -> tuple[int, int, int]:
    """Validate ``input_shape`` for a model and return it as a tuple.

    Args:
        input_shape: ``(height, width, channels)``.
        model: Model name, for the message.
        min_size: Smallest height and width the model's downsampling allows.
        channels: The only channel count the model accepts, if it is fixed.

    Raises:
        ValueError: For a wrong rank, a non-positive entry, a side below
            ``min_size`` or a wrong channel count.
    """
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"{model}: input_shape must be (height, width, channels), got {input_shape!r}."
        ) from None
    if len(shape) != 3:
        hint = " Add a channel axis, e.g. (28, 28, 1)." if len(shape) == 2 else ""
        raise ValueError(
            f"{model}: input_shape must have 3 entries (height, width, channels), "
            f"got {len(shape)}: {shape}.{hint}"
        )
    if any(s < 1 for s in shape):
        raise ValueError(f"{model}: input_shape entries must be positive, got {shape}.")
    height, width, depth = shape
    if height < min_size or width < min_size:
        raise ValueError(
            f"{model}: input {height}x{width} is too small; its downsampling needs "
            f"at least {min_size}x{min_size}. Resize the images (see "
            f"cnn_guide.data.make_dataset(resize=...)) or use a variant built for "
            f"small inputs (cnn_guide.models.list_models(variants=True))."
        )
    if channels is not None and depth != channels:
        raise ValueError(
            f"{model}: expects {channels} input channel(s), got {depth} (input_shape={shape})."
        )
    return shape  # type: ignore[return-value]


class HeadOptions(TypedDict, total=False):
    """The head options every builder takes as ``**head_options``.

    They follow ``keras.applications``, and `check_head` reads them with
    their defaults.

    Attributes:
        include_top: Whether to end in the classifier (default ``True``);
            without it the model is a feature extractor.
        pooling: Without the head: ``None`` (default) returns the last
            feature map, ``"avg"`` or ``"max"`` a global pooling of it.
        classifier_activation: Activation of the output layer (default
            ``"softmax"``; ``None`` gives logits).
    """

    include_top: bool
    pooling: str | None
    classifier_activation: str | None


class ModelArguments(HeadOptions, total=False):
    """The keyword arguments every builder takes.

    A paper configuration that is a row of its family's builder (``resnet34``
    of `cnn_guide.models.resnet.resnet`, ``vgg16`` of
    `cnn_guide.models.vgg.vgg`) takes them, with its family's options, as
    ``**kwargs``; every other builder spells out the first three with its own
    defaults.

    Attributes:
        input_shape: ``(height, width, channels)``, at least the model's
            `cnn_guide.models.ModelInfo.min_input_size` on each side.
        num_classes: Number of classes of the classifier.
        name: Model name.
    """

    input_shape: Sequence[int]
    num_classes: int
    name: str


@dataclass(frozen=True)
class Head:
    """A builder's checked head arguments, and the heads the families build from them.

    Every builder ends the same way: with ``include_top`` its own top (most
    often `average_pooled`) computes the classes, without it ``pooling``
    says which features the model returns. `model` makes that choice once
    for all of them. `check_head` makes a `Head` from a builder's
    `HeadOptions`.
    """

    num_classes: int
    include_top: bool
    pooling: str | None
    activation: str | None

    def classifier(self, x: keras.KerasTensor, name: str = "predictions") -> keras.KerasTensor:
        """The final dense layer (see `classifier`)."""
        return classifier(x, num_classes=self.num_classes, activation=self.activation, name=name)

    def average_pooled(self, x: keras.KerasTensor, dropout: float = 0.0) -> keras.KerasTensor:
        """Global average pooling, optional dropout, then the classifier.

        The modern head of GoogLeNet (Szegedy et al. 2014, section 5), ResNet
        and their descendants: no dense layer of its own to overfit.
        """
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout:
            x = keras.layers.Dropout(float(dropout), name="head_dropout")(x)
        return self.classifier(x)

    def dense(
        self,
        x: keras.KerasTensor,
        *,
        units: tuple[int, ...],
        dropout: float,
        first_index: int = 1,
        activation: str = "relu",
        kernel_initializer: str = "he_normal",
    ) -> keras.KerasTensor:
        """Flatten, dense layers each followed by dropout, then the classifier.

        The head of AlexNet, VGG and the book's simple CNN. Layers are named
        ``flatten``, ``fc{i}``, ``dropout{i}`` (``i`` from ``first_index``) and
        ``predictions``, as in ``keras.applications.VGG16``.
        """
        x = keras.layers.Flatten(name="flatten")(x)
        for index, width in enumerate(units, start=first_index):
            x = keras.layers.Dense(
                width,
                activation=activation,
                kernel_initializer=kernel_initializer,
                name=f"fc{index}",
            )(x)
            x = keras.layers.Dropout(dropout, name=f"dropout{index}")(x)
        return self.classifier(x)

    def model(
        self,
        inputs: keras.KerasTensor,
        x: keras.KerasTensor,
        name: str,
        *,
        top: Callable[[keras.KerasTensor], Any] | None = None,
        dropout: float = 0.0,
    ) -> keras.Model:
        """The model from ``inputs`` to the head on its last feature map ``x``.

        Args:
            inputs: The model's input.
            x: The last feature map.
            name: Model name.
            top: The head with ``include_top``: the outputs it computes from
                ``x``. By default `average_pooled` with ``dropout``.
            dropout: Dropout rate of the default top.
        """
        if not self.include_top:
            outputs = feature_pooling(x, self.pooling)
        elif top is None:
            outputs = self.average_pooled(x, dropout)
        else:
            outputs = top(x)
        return keras.Model(inputs, outputs, name=name)


def check_head(
    builder: Callable[..., keras.Model],
    model: str,
    num_classes: int,
    head_options: Mapping[str, Any],
) -> Head:
    """Validate a builder's ``num_classes`` and `HeadOptions`, and return its `Head`.

    Args:
        builder: The builder, whose arguments an error message lists.
        model: Model name, for the messages.
        num_classes: Number of classes of the classifier.
        head_options: The builder's ``**head_options``.

    Raises:
        ValueError: For an argument the builder does not take (its
            ``**head_options`` would otherwise swallow a typo), a
            non-positive ``num_classes`` with a head, or an unknown
            ``pooling``.
    """
    unknown = sorted(set(head_options) - set(HeadOptions.__annotations__))
    if unknown:
        takes = [
            argument
            for argument, parameter in inspect.signature(builder).parameters.items()
            if parameter.kind is inspect.Parameter.KEYWORD_ONLY
        ]
        raise ValueError(
            f"{model}: unknown argument(s) {', '.join(unknown)}. Valid ones: "
            f"{', '.join(takes + list(HeadOptions.__annotations__))}."
        )
    include_top = head_options.get("include_top", True)
    pooling = head_options.get("pooling")
    if include_top:
        try:
            positive_int(num_classes, "num_classes", model)
        except ValueError as error:
            raise ValueError(
                f"{error} Or pass include_top=False for a feature extractor without classes."
            ) from None
    if pooling not in POOLING_CHOICES:
        raise ValueError(f"{model}: pooling must be one of {POOLING_CHOICES}, got {pooling!r}.")
    activation = head_options.get("classifier_activation", "softmax")
    return Head(num_classes, include_top, pooling, activation)


def check_bool(model: str, arg: str, value: object) -> None:
    """Validate a switch.

    Raises:
        ValueError: Unless ``value`` is ``True`` or ``False``.
    """
    if not isinstance(value, bool):
        raise ValueError(f"{model}: {arg} must be True or False, got {value!r}.")


def check_dropout(model: str, dropout: float) -> None:
    """Validate a dropout rate.

    Raises:
        ValueError: Unless ``dropout`` is a number in [0, 1).
    """
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"{model}: dropout must be in [0, 1), got {dropout!r}.")


def classifier(
    x: keras.KerasTensor,
    *,
    num_classes: int,
    activation: str | None = "softmax",
    name: str = "predictions",
) -> keras.KerasTensor:
    """The final dense layer, kept in float32 under mixed precision.

    Softmax in float16 or bfloat16 loses the small probabilities the loss
    needs, so the output layer computes in float32 whatever the global policy.
    """
    return keras.layers.Dense(num_classes, activation=activation, dtype="float32", name=name)(x)


def feature_pooling(x: keras.KerasTensor, pooling: str | None) -> keras.KerasTensor:
    """The output of a model without its head: the last map, or its global pooling.

    Args:
        x: The last feature map.
        pooling: ``None`` (return the map), ``"avg"`` or ``"max"``.
    """
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def conv_bn_relu(
    x: keras.KerasTensor,
    filters: int,
    kernel_size: int,
    *,
    stride: int = 1,
    padding: str = "same",
    use_bias: bool = False,
    kernel_initializer: str = "he_normal",
    bn_epsilon: float = TORCH_BN_EPSILON,
    bn_momentum: float = TORCH_BN_MOMENTUM,
    name: str,
) -> keras.KerasTensor:
    """A convolution, its batch normalization and ReLU (``<name>_conv/_bn/_relu``).

    The stems of ResNet, SENet, ResNeXt and Xception. A strided ``"same"``
    convolution gets an explicit symmetric padding (``<name>_pad``), as in
    PyTorch, because Keras' ``"same"`` pads it asymmetrically.
    """
    if padding == "same" and stride > 1:
        x = keras.layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
        padding = "valid"
    x = keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=stride,
        padding=padding,
        use_bias=use_bias,
        kernel_initializer=kernel_initializer,
        name=f"{name}_conv",
    )(x)
    x = keras.layers.BatchNormalization(
        epsilon=bn_epsilon, momentum=bn_momentum, name=f"{name}_bn"
    )(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def residual_stages(
    x: keras.KerasTensor,
    *,
    unit: ResidualUnit,
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


def imagenet_resnet(
    *,
    name: str,
    unit: ResidualUnit,
    blocks: Sequence[int],
    input_shape: Sequence[int],
    head: Head,
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
    check_bool(name, "keras_form", keras_form)

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
    x = conv_bn_relu(
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
    x = residual_stages(
        x,
        unit=unit,
        blocks=blocks,
        filters=filters,
        strides=(1, 2, 2, 2),
        stage_kwargs=stage_kwargs,
        **unit_kwargs,
    )
    return head.model(inputs, x, name)


def small_image_resnet(
    *,
    name: str,
    unit: ResidualUnit,
    input_shape: Sequence[int],
    head: Head,
    stem_width: int,
    filters: Sequence[int],
    blocks_per_stage: int,
    stage_kwargs: Sequence[dict] | None = None,
    **unit_kwargs,
) -> keras.Model:
    """The small-image skeleton of the Fashion-MNIST residual variants.

    A 3x3 stride-1 stem (no max pooling), then one stage per entry of
    ``filters`` with ``blocks_per_stage`` units each, stride 2 at the start of
    every stage but the first, then global average pooling and the
    classifier: He et al.'s CIFAR-10 design (section 4.2). The checks on
    ``filters`` and ``blocks_per_stage`` are the caller's.

    Raises:
        ValueError: For an input smaller than the total stride.
    """
    # Each stage after the first halves the side; the last map keeps >= 1 position
    # per input patch of that size.
    min_size = 2 ** (len(filters) - 1)
    shape = check_input_shape(input_shape, model=name, min_size=min_size)
    inputs = keras.Input(shape=shape, name="image")
    x = conv_bn_relu(inputs, stem_width, 3, name="conv1")
    x = residual_stages(
        x,
        unit=unit,
        blocks=[blocks_per_stage] * len(filters),
        filters=filters,
        strides=[1] + [2] * (len(filters) - 1),
        stage_kwargs=stage_kwargs,
        **unit_kwargs,
    )
    return head.model(inputs, x, name)
