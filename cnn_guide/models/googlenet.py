"""GoogLeNet (Szegedy et al. 2014), Inception v1: a deep stack of inception modules.

Szegedy et al. (2014), "Going Deeper with Convolutions",
https://arxiv.org/abs/1409.4842, Table 1 and Figure 3.
Chapter: ``docs/chapters/googlenet.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import keras

from cnn_guide._validate import boolean
from cnn_guide.data import FASHION_MNIST_SHAPE
from cnn_guide.layers.inception import InceptionModule
from cnn_guide.layers.normalization import LocalResponseNormalization
from cnn_guide.models._common import Head, HeadOptions, check_dropout, check_head, check_input_shape
from cnn_guide.models._registry import Family, register_family

if TYPE_CHECKING:
    # Only for type checkers: typing.Unpack is new in Python 3.11.
    from typing_extensions import Unpack

__all__ = ["GOOGLENET_MODULES", "googlenet", "googlenet_fashion"]

GOOGLENET_PAPER = "Szegedy et al., Going Deeper with Convolutions"
GOOGLENET_URL = "https://arxiv.org/abs/1409.4842"

# Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj of each
# inception module ("pool" marks the 3x3/2 max poolings between stages).
GOOGLENET_MODULES: tuple[tuple[str, tuple[int, int, int, int, int, int]] | str, ...] = (
    ("3a", (64, 96, 128, 16, 32, 32)),
    ("3b", (128, 128, 192, 32, 96, 64)),
    "pool",
    ("4a", (192, 96, 208, 16, 48, 64)),
    ("4b", (160, 112, 224, 24, 64, 64)),
    ("4c", (128, 128, 256, 24, 64, 64)),
    ("4d", (112, 144, 288, 32, 64, 64)),
    ("4e", (256, 160, 320, 32, 128, 128)),
    "pool",
    ("5a", (256, 160, 320, 32, 128, 128)),
    ("5b", (384, 192, 384, 48, 128, 128)),
)
# The modules after which the auxiliary classifiers branch off (section 5).
AUX_AFTER = ("4a", "4d")
# Five stride-2 steps (conv1 and four poolings, all 'same'): the last map is
# 1x1 at 32x32. The auxiliary heads' 5x5 'valid' pooling needs 4a's map to be
# at least 5x5, i.e. an input of at least 65 (ceil(65 / 16) = 5).
GOOGLENET_MIN_SIZE = 32
GOOGLENET_AUX_MIN_SIZE = 65


FAMILY = Family("googlenet", GOOGLENET_PAPER, 2014, GOOGLENET_URL, "chapters/googlenet.md")
# What the registry knows of each builder: `ModelInfo` fields beyond the family's.
GOOGLENET_MODELS: dict[str, dict] = {
    "googlenet": {
        "input_shape": (224, 224, 3),
        "min_input_size": GOOGLENET_MIN_SIZE,
        "summary": "GoogLeNet (Inception v1): 9 inception modules, global-average-pool head",
        "reference_params": 6_998_552,
        "reference_source": "Szegedy et al. 2014, Table 1 spec with biases",
    },
    "googlenet_fashion": {
        "input_shape": FASHION_MNIST_SHAPE,
        "min_input_size": 4,
        "summary": "GoogLeNet for 28x28: 3x3 stem, 3 half-width inception modules, GAP head",
        "variant_of": "googlenet",
    },
}


def _conv(filters: int, kernel_size: int, name: str, strides: int = 1) -> keras.layers.Conv2D:
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        activation="relu",
        kernel_initializer="he_normal",
        name=name,
    )


def _pool(name: str) -> keras.layers.MaxPooling2D:
    # 'same' matches the sizes of the original Caffe model's ceil-mode pooling
    # (112 -> 56 -> 28 -> 14 -> 7).
    return keras.layers.MaxPooling2D(3, strides=2, padding="same", name=name)


def _lrn(name: str) -> LocalResponseNormalization:
    # The paper gives no LRN constants; these are the BVLC Caffe reference
    # model's (local_size 5, alpha 1e-4 divided by 5 in Caffe, k 1).
    return LocalResponseNormalization(depth_radius=2, bias=1.0, alpha=2e-5, beta=0.75, name=name)


def _aux_head(x: keras.KerasTensor, head: Head, name: str) -> keras.KerasTensor:
    """An auxiliary classifier (section 5): pool, 1x1 conv, dense, dropout, softmax."""
    x = keras.layers.AveragePooling2D(5, strides=3, name=f"{name}_avg_pool")(x)
    x = _conv(128, 1, f"{name}_conv")(x)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    x = keras.layers.Dense(
        1024, activation="relu", kernel_initializer="he_normal", name=f"{name}_fc"
    )(x)
    x = keras.layers.Dropout(0.7, name=f"{name}_dropout")(x)
    return head.classifier(x, name=f"{name}_predictions")


def googlenet(
    *,
    input_shape: Sequence[int] = (224, 224, 3),
    num_classes: int = 1000,
    aux_classifiers: bool = False,
    dropout: float = 0.4,
    name: str = "googlenet",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """GoogLeNet, the paper's Table 1: 6,998,552 parameters at 224x224x3.

    The network (Figure 3), 22 layers with weights:

    * stem: conv 7x7/2 64, max pool 3x3/2, local response normalization,
      conv 1x1 64, conv 3x3 192, LRN, max pool (224 -> 28);
    * inception modules 3a, 3b, max pool, 4a-4e, max pool, 5a, 5b (each an
      `InceptionModule` with Table 1's six filter counts);
    * the head: global average pooling over the 7x7x1024 map (the paper's
      7x7/1 average pooling), dropout 0.4, the ``num_classes``-way softmax.

    Every convolution has a bias and a ReLU; there is no batch
    normalization (it came with Inception v2). The LRN constants are those of
    the BVLC Caffe reference model (the paper gives none).

    With ``aux_classifiers=True`` the two auxiliary classifiers of section 5
    are added after 4a and 4d: 5x5/3 average pooling, 1x1 convolution with
    128 filters, dense 1024, dropout 0.7, a ``num_classes``-way softmax each.
    The model then has three outputs, ``[main, aux1, aux2]`` (13,378,280
    parameters); the paper trains with the loss
    ``main + 0.3 * aux1 + 0.3 * aux2``
    (``model.compile(loss=[...] * 3, loss_weights=[1.0, 0.3, 0.3])``) and
    discards the auxiliary heads at inference.

    Reference: Szegedy, Liu, Jia, Sermanet, Reed, Anguelov, Erhan, Vanhoucke
    and Rabinovich (2014), "Going Deeper with Convolutions",
    https://arxiv.org/abs/1409.4842. Chapter: ``docs/chapters/googlenet.md``.

    Args:
        input_shape: ``(height, width, channels)``; at least 32x32 (65x65 with
            the auxiliary classifiers): the network downsamples by 32 with
            'same' padding, so 32 is where the last map becomes 1x1.
        num_classes: Number of classes of the classifier(s).
        aux_classifiers: Whether to add the two auxiliary classifiers and
            return ``[main, aux1, aux2]``; needs ``include_top=True``.
        dropout: Dropout rate before the main classifier.
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model; with ``aux_classifiers``, a model with
        three outputs.

    Raises:
        ValueError: For an input below the minimum, a wrong rank,
            non-positive classes, an unknown pooling, a dropout outside
            [0, 1), or ``aux_classifiers`` without ``include_top``.
    """
    min_size = GOOGLENET_AUX_MIN_SIZE if aux_classifiers else GOOGLENET_MIN_SIZE
    shape = check_input_shape(input_shape, model=name, min_size=min_size)
    head = check_head(googlenet, name, num_classes, head_options)
    check_dropout(name, dropout)
    if aux_classifiers and not head.include_top:
        raise ValueError(
            f"{name}: aux_classifiers=True needs include_top=True (the auxiliary "
            "classifiers only exist to help train the main classifier)."
        )

    inputs = keras.Input(shape=shape, name="image")
    x = _conv(64, 7, "conv1", strides=2)(inputs)
    x = _pool("pool1")(x)
    x = _lrn("lrn1")(x)
    x = _conv(64, 1, "conv2_reduce")(x)
    x = _conv(192, 3, "conv2")(x)
    x = _lrn("lrn2")(x)
    x = _pool("pool2")(x)
    aux = []
    stage = 3
    for entry in GOOGLENET_MODULES:
        if entry == "pool":
            x = _pool(f"pool{stage}")(x)
            stage += 1
            continue
        label, filters = entry
        x = InceptionModule(*filters, kernel_initializer="he_normal", name=f"inception_{label}")(x)
        if aux_classifiers and label in AUX_AFTER:
            aux.append(_aux_head(x, head, f"aux{len(aux) + 1}"))

    def top(x: keras.KerasTensor) -> keras.KerasTensor | list[keras.KerasTensor]:
        main = head.average_pooled(x, dropout)
        return [main, *aux] if aux_classifiers else main

    return head.model(inputs, x, name, top=top)


# Half of Table 1's 3a, 3b and 4a.
FASHION_MODULES = (
    ("3a", (32, 48, 64, 8, 16, 16)),
    "pool",
    ("3b", (64, 64, 96, 16, 48, 32)),
    ("4a", (96, 48, 104, 8, 24, 32)),
)


def googlenet_fashion(
    *,
    input_shape: Sequence[int] = FASHION_MNIST_SHAPE,
    num_classes: int = 10,
    dropout: float = 0.4,
    reductions: bool = True,
    name: str = "googlenet_fashion",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """GoogLeNet for 28x28 Fashion-MNIST: 232,442 parameters, about 17.2M MACs.

    What is kept from the paper: inception modules (`InceptionModule`, four
    branches with 1x1 reductions, concatenated), max pooling between stages,
    and the head: global average pooling, dropout 0.4, softmax.

    What changed and why:

    * the stem is one 3x3 convolution (64 filters, stride 1) and one 3x3/2
      max pooling (28 -> 14) instead of the paper's 7x7/2 convolution, two
      poolings and a 1x1 + 3x3 pair, which divide the side by 8 before the
      first module: 28x28 would become 4x4;
    * three modules instead of nine: 3a at 14x14, a pooling, then 3b and 4a
      at 7x7, each with half of the paper's filters (3a: 32, 48-64, 8-16,
      16; 3b: 64, 64-96, 16-48, 32; 4a: 96, 48-104, 8-24, 32), so the
      features grow 128 -> 240 -> 256 channels;
    * no local response normalization (the paper's later Inception versions
      dropped it too) and no auxiliary classifiers, which helped a 22-layer
      network train and matter little in a shallow one.

    Compute per 28x28 image (multiply-accumulates): stem 28x28x9x64 = 0.45M;
    3a 14x14x37,504 = 7.35M; 3b 7x7x97,024 = 4.75M; 4a 7x7x93,888 = 4.60M;
    classifier 2,560: about 17.2M in all.

    Reference: Szegedy, Liu, Jia, Sermanet, Reed, Anguelov, Erhan, Vanhoucke
    and Rabinovich (2014), "Going Deeper with Convolutions",
    https://arxiv.org/abs/1409.4842. Chapter: ``docs/chapters/googlenet.md``.

    Args:
        input_shape: ``(height, width, channels)``; at least 4x4, where the
            two stride-2 poolings ('same' padding) leave a 1x1 map.
        num_classes: Number of classes of the classifier.
        dropout: Dropout rate before the classifier.
        reductions: ``False`` builds every module as the paper's naive
            inception module (Figure 2a): 1x1, 3x3 and 5x5 convolutions
            reading the input directly, and a pooling branch of max pooling
            alone, without the 1x1 reductions and pooling projections of
            Figure 2b. Section 4 explains why the paper does not use it: the
            pooling branch passes every input channel on, so the width
            grows from module to module (128 -> 240 -> 256 channels become
            176 -> 384 -> 608), and the 3x3 and 5x5 convolutions read all of
            it: 1,073,002 parameters and about 62M multiply-accumulates
            against 232,442 and 17.2M.
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 4x4, a wrong rank, non-positive
            classes, an unknown pooling, a dropout outside [0, 1) or a
            non-boolean ``reductions``.
    """
    shape = check_input_shape(input_shape, model=name, min_size=4)
    head = check_head(googlenet_fashion, name, num_classes, head_options)
    check_dropout(name, dropout)
    reductions = boolean(reductions, "reductions", name)

    inputs = keras.Input(shape=shape, name="image")
    x = _conv(64, 3, "conv1")(inputs)
    x = _pool("pool1")(x)
    stage = 2
    for entry in FASHION_MODULES:
        if entry == "pool":
            x = _pool(f"pool{stage}")(x)
            stage += 1
            continue
        label, filters = entry
        x = InceptionModule(
            *filters,
            kernel_initializer="he_normal",
            reductions=reductions,
            name=f"inception_{label}",
        )(x)
    return head.model(inputs, x, name, dropout=dropout)


register_family(FAMILY, GOOGLENET_MODELS, [googlenet, googlenet_fashion])
