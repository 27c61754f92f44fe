"""What the builders share: up-front argument checks and the classifier head.

Every builder validates its arguments before creating a single layer, so a
mistake is reported in terms of the arguments, not as a shape error deep in
the graph.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from cnn_guide._validate import positive_int

POOLING_CHOICES = (None, "avg", "max")


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


def check_head(*, model: str, include_top: bool, num_classes: int, pooling: str | None) -> None:
    """Validate the classifier-head arguments shared by every builder.

    Raises:
        ValueError: For a non-positive ``num_classes`` with a head, or an
            unknown ``pooling``.
    """
    if include_top:
        try:
            positive_int(num_classes, "num_classes", model)
        except ValueError as error:
            raise ValueError(
                f"{error} Or pass include_top=False for a feature extractor without classes."
            ) from None
    if pooling not in POOLING_CHOICES:
        raise ValueError(f"{model}: pooling must be one of {POOLING_CHOICES}, got {pooling!r}.")


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


def global_pool_head(
    x: keras.KerasTensor,
    *,
    include_top: bool,
    num_classes: int,
    pooling: str | None,
    classifier_activation: str | None = "softmax",
    dropout: float = 0.0,
) -> keras.KerasTensor:
    """Global average pooling then a dense classifier, or the chosen pooling.

    With ``include_top`` the head is global average pooling, optional dropout
    and the classifier (the modern head of GoogLeNet, ResNet and their
    descendants). Without it, ``pooling`` decides what the features are:
    ``None`` (the last feature map), ``"avg"`` or ``"max"``.
    """
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name="head_dropout")(x)
        return classifier(x, num_classes=num_classes, activation=classifier_activation)
    return feature_pooling(x, pooling)


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


def dense_head(
    x: keras.KerasTensor,
    *,
    units: tuple[int, ...],
    dropout: float,
    num_classes: int,
    classifier_activation: str | None,
    first_index: int = 1,
) -> keras.KerasTensor:
    """Flatten, then dense ReLU layers each followed by dropout, then the classifier.

    The head of AlexNet, VGG and the book's simple CNN. Layers are named
    ``flatten``, ``fc{i}``, ``dropout{i}`` (``i`` from ``first_index``) and
    ``predictions``, as in ``keras.applications.VGG16``.
    """
    x = keras.layers.Flatten(name="flatten")(x)
    for index, width in enumerate(units, start=first_index):
        x = keras.layers.Dense(
            width, activation="relu", kernel_initializer="he_normal", name=f"fc{index}"
        )(x)
        x = keras.layers.Dropout(dropout, name=f"dropout{index}")(x)
    return classifier(x, num_classes=num_classes, activation=classifier_activation)
