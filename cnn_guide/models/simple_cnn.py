"""The simple CNN that opens the book (the seed notebook's Fashion-MNIST CNN).

Géron, *Hands-On Machine Learning with Scikit-Learn, Keras and TensorFlow*,
3rd ed., O'Reilly 2022, chapter 14: a 7x7 first layer, then pairs of 3x3
convolutions whose filters double after each max pooling, then a dense head
with dropout. Chapter: ``docs/chapters/simple-cnn.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

import keras

from cnn_guide.data import FASHION_MNIST_SHAPE
from cnn_guide.models._common import HeadOptions, check_dropout, check_head, check_input_shape
from cnn_guide.models._registry import Family, register_family

if TYPE_CHECKING:
    # Only for type checkers: typing.Unpack is new in Python 3.11.
    from typing_extensions import Unpack

__all__ = ["simple_cnn"]


FAMILY = Family(
    "simple_cnn",
    "Géron, Hands-On Machine Learning, 3rd ed., chapter 14",
    2022,
    "https://github.com/ageron/handson-ml3/blob/main/14_deep_computer_vision_with_cnns.ipynb",
    "chapters/simple-cnn.md",
)
# What the registry knows of each builder: `ModelInfo` fields beyond the family's.
SIMPLE_CNN_MODELS: dict[str, dict] = {
    "simple_cnn": {
        "input_shape": FASHION_MNIST_SHAPE,
        "min_input_size": 8,
        "summary": "Seed CNN: 7x7 stem, 3x3 pairs doubling 64-128-256, dense head with dropout",
        "reference_params": 1_413_834,
        "reference_source": "handson-ml3 chapter 14 model.summary()",
    },
}


def simple_cnn(
    *,
    input_shape: Sequence[int] = FASHION_MNIST_SHAPE,
    num_classes: int = 10,
    dropout: float = 0.5,
    name: str = "simple_cnn",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """The seed notebook's CNN for Fashion-MNIST: 1,413,834 parameters at 28x28x1.

    Three ideas in eleven layers (see the chapter "A simple CNN"):

    * a large 7x7 kernel only in the first layer, where the input has a single
      channel and the layer is cheap;
    * pairs of stacked 3x3 convolutions, which see a 5x5 window with fewer
      parameters and one more non-linearity than a single 5x5;
    * the number of filters doubles (64, 128, 256) each time max pooling
      halves the feature map, keeping the compute per layer roughly level.

    The head flattens the 3x3x256 map and classifies it with two dense layers,
    each followed by 50% dropout.

    Reference: Géron, *Hands-On Machine Learning*, 3rd ed. (2022), chapter 14,
    "CNN Architectures".

    Args:
        input_shape: ``(height, width, channels)``; at least 8x8, because three
            poolings halve the side three times.
        num_classes: Number of classes of the classifier.
        dropout: Dropout rate after each hidden dense layer.
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 8x8, a wrong rank, non-positive
            classes or an unknown pooling.
    """
    shape = check_input_shape(input_shape, model=name, min_size=8)
    head = check_head(simple_cnn, name, num_classes, head_options)
    check_dropout(name, dropout)

    def conv(filters: int, kernel_size: int, layer_name: str) -> keras.layers.Conv2D:
        return keras.layers.Conv2D(
            filters,
            kernel_size,
            padding="same",
            activation="relu",
            kernel_initializer="he_normal",
            name=layer_name,
        )

    inputs = keras.Input(shape=shape, name="image")
    x = conv(64, 7, "conv1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = conv(128, 3, "conv2a")(x)
    x = conv(128, 3, "conv2b")(x)
    x = keras.layers.MaxPooling2D(name="pool2")(x)
    x = conv(256, 3, "conv3a")(x)
    x = conv(256, 3, "conv3b")(x)
    x = keras.layers.MaxPooling2D(name="pool3")(x)
    return head.model(inputs, x, name, top=partial(head.dense, units=(128, 64), dropout=dropout))


register_family(FAMILY, SIMPLE_CNN_MODELS, [simple_cnn])
