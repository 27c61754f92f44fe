"""LeNet-5 (LeCun, Bottou, Bengio and Haffner 1998), the first modern CNN.

LeCun, Bottou, Bengio and Haffner (1998), "Gradient-Based Learning Applied to
Document Recognition", Proceedings of the IEEE 86(11), section II.B,
https://doi.org/10.1109/5.726791 (not on arXiv).
Chapter: ``docs/chapters/lenet.md``.

The two layers only LeNet-5 uses, the partially connected C3 convolution
(`cnn_guide.layers.PartialConv2D`, the paper's Table I) and the trainable
subsampling of S2 and S4 (`cnn_guide.layers.TrainableSubsampling`), live in
`cnn_guide.layers.lenet`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import keras

from cnn_guide.data import FASHION_MNIST_SHAPE
from cnn_guide.layers.lenet import LENET5_C3_TABLE, PartialConv2D, TrainableSubsampling
from cnn_guide.models._common import Head, HeadOptions, check_head, check_input_shape
from cnn_guide.models._registry import Family, register_family

if TYPE_CHECKING:
    # Only for type checkers: typing.Unpack is new in Python 3.11.
    from typing_extensions import Unpack

__all__ = ["lenet5", "lenet5_fashion"]

LENET_URL = "https://doi.org/10.1109/5.726791"
LENET_PAPER = (
    "LeCun, Bottou, Bengio and Haffner, Gradient-Based Learning Applied to "
    "Document Recognition, Proc. IEEE 86(11)"
)

C3_CHOICES = ("full", "paper")
SUBSAMPLING_CHOICES = ("average", "trainable", "max")
ACTIVATION_CHOICES = ("tanh", "relu")
# Each activation with the initializer derived for it: Glorot and Bengio (2010)
# for tanh (Keras's default, what the builder always used), He et al. (2015)
# for ReLU, whose zeroed half would otherwise shrink the signal layer by layer.
_INITIALIZERS = {"tanh": "glorot_uniform", "relu": "he_normal"}


FAMILY = Family("lenet", LENET_PAPER, 1998, LENET_URL, "chapters/lenet.md")
# What the registry knows of each builder: `ModelInfo` fields beyond the family's.
LENET_MODELS: dict[str, dict] = {
    "lenet5": {
        "input_shape": (32, 32, 1),
        "min_input_size": 32,
        "summary": "LeNet-5: tanh convolutions C1, C3, C5, 2x2 subsampling, F6 84, dense out",
        "reference_params": 61_706,
        "reference_source": "computed from the 1998 layer spec (full C3, plain pooling)",
    },
    "lenet5_fashion": {
        "input_shape": FASHION_MNIST_SHAPE,
        "min_input_size": 28,
        "summary": "LeNet-5 for 28x28: 'same' padding in C1, otherwise the paper's layers",
        "variant_of": "lenet5",
    },
}


def _lenet5(
    shape: tuple[int, int, int],
    head: Head,
    name: str,
    c1_padding: str,
    c3_connections: str,
    subsampling: str,
    activation: str,
) -> keras.Model:
    """The LeNet-5 graph shared by `lenet5` and `lenet5_fashion` (shape and head checked)."""
    _check_options(name, c3_connections, subsampling, activation)
    act = {"activation": activation, "kernel_initializer": _INITIALIZERS[activation]}

    def subsample(x: keras.KerasTensor, layer_name: str) -> keras.KerasTensor:
        if subsampling == "trainable":
            return TrainableSubsampling(2, activation=activation, name=layer_name)(x)
        if subsampling == "max":
            return keras.layers.MaxPooling2D(2, name=layer_name)(x)
        return keras.layers.AveragePooling2D(2, name=layer_name)(x)

    inputs = keras.Input(shape=shape, name="image")
    x = keras.layers.Conv2D(6, 5, padding=c1_padding, **act, name="c1")(inputs)
    x = subsample(x, "s2")
    if c3_connections == "paper":
        x = PartialConv2D(LENET5_C3_TABLE, kernel_size=5, **act, name="c3")(x)
    else:
        x = keras.layers.Conv2D(16, 5, **act, name="c3")(x)
    x = subsample(x, "s4")
    # C5 is a convolution, not a dense layer: on a 32x32 input its 5x5 kernels
    # cover the whole 5x5 map of S4, on a larger input it slides.
    x = keras.layers.Conv2D(120, 5, **act, name="c5")(x)

    def f6(x: keras.KerasTensor) -> keras.KerasTensor:
        x = keras.layers.Flatten(name="flatten")(x)
        return head.classifier(keras.layers.Dense(84, **act, name="f6")(x))

    return head.model(inputs, x, name, top=f6)


def _check_options(name: str, c3_connections: str, subsampling: str, activation: str) -> None:
    for option, value, choices in (
        ("c3_connections", c3_connections, C3_CHOICES),
        ("subsampling", subsampling, SUBSAMPLING_CHOICES),
        ("activation", activation, ACTIVATION_CHOICES),
    ):
        if value not in choices:
            raise ValueError(
                f"{name}: {option} must be one of {choices}, got {value!r}. Pass one of "
                f"them as a string (on the command line: --option {option}={choices[-1]})."
            )


def lenet5(
    *,
    input_shape: Sequence[int] = (32, 32, 1),
    num_classes: int = 10,
    c3_connections: str = "full",
    subsampling: str = "average",
    activation: str = "tanh",
    name: str = "lenet5",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """LeNet-5 on the paper's 32x32 images: 61,706 parameters by default.

    The layers, named as in the paper (Figure 2):

    * C1: 6 convolutions 5x5 ('valid'), 32x32 -> 28x28 (156 parameters);
    * S2: 2x2 subsampling, 28x28 -> 14x14;
    * C3: 16 convolutions 5x5, 14x14 -> 10x10 (2,416 parameters when every C3
      map reads all six S2 maps, 1,516 with the paper's Table I);
    * S4: 2x2 subsampling, 10x10 -> 5x5;
    * C5: 120 convolutions 5x5, 5x5 -> 1x1 (48,120 parameters);
    * F6: 84 units (10,164 parameters);
    * the output: a dense softmax layer of ``num_classes`` units (850 for 10).

    Every layer up to F6 uses tanh (``activation="relu"`` swaps it for ReLU,
    ``subsampling="max"`` the subsampling for max pooling, to compare the
    1998 choices with today's). The paper's squashing function is the
    scaled ``1.7159 * tanh(2x / 3)``, chosen so that the targets +-1 sit where
    the curve bends most; plain tanh differs only by a scale the next layer's
    weights absorb, and is what this builder uses. The paper's output layer is
    not dense: it holds 10 radial basis function (RBF) units comparing F6 with
    fixed 7x12 bitmap prototypes of the digits, trained with a special loss.
    This builder uses the dense softmax classifier every later network uses.

    Where "60,000 parameters" comes from: with both paper options
    (``c3_connections="paper"``, ``subsampling="trainable"``), the trainable
    layers count C1 156 + S2 12 + C3 1,516 + S4 32 + C5 48,120 + F6 10,164 =
    60,000. The RBF prototypes are fixed, so the paper counts nothing for the
    output; the dense output here adds 84 x 10 + 10 = 850, for 60,850. The
    default (full C3 and parameter-free average pooling, as most modern
    re-implementations do it) has 61,706.

    Reference: LeCun, Bottou, Bengio and Haffner (1998), "Gradient-Based
    Learning Applied to Document Recognition", Proceedings of the IEEE 86(11),
    https://doi.org/10.1109/5.726791 (not on arXiv).
    Chapter: ``docs/chapters/lenet.md``.

    Args:
        input_shape: ``(height, width, channels)``; at least 32x32, the size
            at which C5's 5x5 kernels still fit after two subsamplings. A
            larger input gives C5 a larger map, and F6 then reads all of it.
        num_classes: Number of classes of the output layer.
        c3_connections: ``"full"`` (every C3 map reads all six S2 maps) or
            ``"paper"`` (Table I, with `PartialConv2D`).
        subsampling: ``"average"`` (parameter-free 2x2 average pooling),
            ``"trainable"`` (the paper's S2/S4: average, times a trainable
            coefficient, plus a trainable bias, then ``activation``; see
            `TrainableSubsampling`) or ``"max"`` (2x2 max pooling, no
            parameters either: the later networks' choice, which Scherer,
            Mueller and Behnke 2010 found to beat subsampling).
        activation: ``"tanh"`` (the paper's squashing function, section II.B
            and Appendix A) or ``"relu"`` (made standard by Krizhevsky et al.
            2012), used by C1, C3, C5, F6 and trainable subsampling. Each
            comes with the initializer derived for it: Glorot uniform for
            tanh, He normal for ReLU. With ``subsampling="max"`` it sets the
            1998 choices against today's; the parameter count does not change.
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 32x32, a wrong rank,
            non-positive classes, an unknown pooling or an unknown option.
    """
    shape = check_input_shape(input_shape, model=name, min_size=32)
    head = check_head(lenet5, name, num_classes, head_options)
    return _lenet5(shape, head, name, "valid", c3_connections, subsampling, activation)


def lenet5_fashion(
    *,
    input_shape: Sequence[int] = FASHION_MNIST_SHAPE,
    num_classes: int = 10,
    c3_connections: str = "full",
    subsampling: str = "average",
    activation: str = "tanh",
    name: str = "lenet5_fashion",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """LeNet-5 for 28x28 Fashion-MNIST images: 61,706 parameters, 0.42M MACs.

    Changes from the paper: one. The paper drew its 28x28 MNIST digits in the
    centre of a 32x32 field, so that strokes near the edge still reach the
    centre of C1's 5x5 windows. Here C1 uses 'same' padding instead (two
    pixels of zeros on each side), which has the same effect without resizing
    the data: C1's map is 28x28 exactly as in the paper, and everything after
    it is unchanged, down to the parameter count (61,706 by default). The
    family options ``c3_connections``, ``subsampling`` and ``activation``
    work as in `lenet5`.

    Compute: C1 28x28x25x6 = 117,600, C3 10x10x150x16 = 240,000 (150,000 with
    the paper's table), C5 400x120 = 48,000, F6 10,080 and the output 840
    multiply-accumulates: about 0.42M per image, far below any modern network.

    Reference: LeCun, Bottou, Bengio and Haffner (1998), "Gradient-Based
    Learning Applied to Document Recognition", Proceedings of the IEEE 86(11),
    https://doi.org/10.1109/5.726791 (not on arXiv).
    Chapter: ``docs/chapters/lenet.md``.

    Args:
        input_shape: ``(height, width, channels)``; at least 28x28, so that C5
            still fits after two subsamplings.
        num_classes: Number of classes of the output layer.
        c3_connections: ``"full"`` or ``"paper"`` (Table I), as in `lenet5`.
        subsampling: ``"average"``, ``"trainable"`` or ``"max"``, as in
            `lenet5`.
        activation: ``"tanh"`` (the paper's) or ``"relu"``, as in `lenet5`:
            ``activation="relu", subsampling="max"`` is LeNet-5 with today's
            choices, at the same 61,706 parameters.
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 28x28, a wrong rank,
            non-positive classes, an unknown pooling or an unknown option.
    """
    shape = check_input_shape(input_shape, model=name, min_size=28)
    head = check_head(lenet5_fashion, name, num_classes, head_options)
    return _lenet5(shape, head, name, "same", c3_connections, subsampling, activation)


register_family(FAMILY, LENET_MODELS, [lenet5, lenet5_fashion])
