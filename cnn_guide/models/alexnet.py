"""AlexNet (Krizhevsky, Sutskever and Hinton 2012), the network that won ImageNet.

Krizhevsky, Sutskever and Hinton (2012), "ImageNet Classification with Deep
Convolutional Neural Networks", NeurIPS, section 3 and Figure 2,
https://papers.nips.cc/paper_files/paper/2012/hash/c399862d3b9d6b76c8436e924a68c45b-Abstract.html
(not on arXiv). Chapter: ``docs/chapters/alexnet.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

import keras

from cnn_guide.data import FASHION_MNIST_SHAPE
from cnn_guide.layers.normalization import LocalResponseNormalization
from cnn_guide.models._common import (
    Head,
    HeadOptions,
    ModelArguments,
    check_dropout,
    check_head,
    check_input_shape,
)
from cnn_guide.models._registry import Family, register_family

if TYPE_CHECKING:
    # Only for type checkers: typing.Unpack is new in Python 3.11.
    from typing_extensions import Unpack

__all__ = ["alexnet", "alexnet_fashion", "alexnet_grouped"]

ALEXNET_PAPER = (
    "Krizhevsky, Sutskever and Hinton, ImageNet Classification with Deep "
    "Convolutional Neural Networks, NeurIPS"
)
ALEXNET_URL = (
    "https://papers.nips.cc/paper_files/paper/2012/hash/"
    "c399862d3b9d6b76c8436e924a68c45b-Abstract.html"
)
# Smallest side for which the three 3x3/2 'valid' poolings after the 11x11/4
# stem still leave a 1x1 map: 67 -> 15 -> 7 -> 3 -> 1.
ALEXNET_MIN_SIZE = 67
# The five convolutional layers: (filters, kernel, stride, grouped in the
# two-GPU form, max pooling after).
ALEXNET_CONVS = (
    (96, 11, 4, False, True),
    (256, 5, 1, True, True),
    (384, 3, 1, False, False),
    (384, 3, 1, True, False),
    (256, 3, 1, True, True),
)
ACTIVATION_CHOICES = ("relu", "tanh")
# Each activation with the initializer derived for it: He et al. (2015) for
# ReLU, Glorot and Bengio (2010) for tanh, which He's larger weights would
# push into saturation and so handicap in the comparison.
_INITIALIZERS = {"relu": "he_normal", "tanh": "glorot_uniform"}


class AlexNetArguments(ModelArguments, total=False):
    """The keyword arguments of `alexnet`, which `alexnet_grouped` takes too."""

    groups: int
    dropout: float


FAMILY = Family("alexnet", ALEXNET_PAPER, 2012, ALEXNET_URL, "chapters/alexnet.md")
# What the registry knows of each builder: `ModelInfo` fields beyond the family's.
ALEXNET_MODELS: dict[str, dict] = {
    "alexnet": {
        "input_shape": (227, 227, 3),
        "min_input_size": ALEXNET_MIN_SIZE,
        "summary": "AlexNet, one tower: 96-256-384-384-256 convolutions, LRN, dense 4096-4096",
        "reference_params": 62_378_344,
        "reference_source": "Krizhevsky et al. 2012 layer spec, one tower without groups",
    },
    "alexnet_grouped": {
        "input_shape": (227, 227, 3),
        "min_input_size": ALEXNET_MIN_SIZE,
        "summary": "AlexNet as trained on two GPUs: conv2, conv4, conv5 in two groups",
        "reference_params": 60_965_224,
        "reference_source": 'Krizhevsky et al. 2012, two GPUs ("60 million parameters")',
    },
    "alexnet_fashion": {
        "input_shape": FASHION_MNIST_SHAPE,
        "min_input_size": 15,
        "summary": "AlexNet for 28x28: 5x5 stride-1 stem, 32-64-96-96-64, LRN, dense 512-512",
        "variant_of": "alexnet",
    },
}


def _alexnet_graph(
    shape: tuple[int, int, int],
    head: Head,
    name: str,
    convs: Sequence[tuple[int, int, int, bool, bool]],
    stem_padding: str,
    dense_units: int,
    *,
    dropout: float,
    groups: int = 1,
    activation: str = "relu",
) -> keras.Model:
    """Conv-activation(-LRN)(-pool) stack and the dropout dense head (arguments checked)."""
    act = {"activation": activation, "kernel_initializer": _INITIALIZERS[activation]}
    inputs = keras.Input(shape=shape, name="image")
    x = inputs
    for index, (filters, kernel, stride, grouped, pool) in enumerate(convs, start=1):
        x = keras.layers.Conv2D(
            filters,
            kernel,
            strides=stride,
            padding=stem_padding if index == 1 else "same",
            groups=groups if grouped else 1,
            **act,
            name=f"conv{index}",
        )(x)
        # Section 3.3: response normalization after the ReLU of conv1 and conv2.
        if index <= 2:
            x = LocalResponseNormalization(name=f"lrn{index}")(x)
        # Section 3.4: overlapping pooling, 3x3 windows every 2 pixels.
        if pool:
            x = keras.layers.MaxPooling2D(3, strides=2, name=f"pool{index}")(x)
    # fc6 and fc7; section 4.2: dropout on the outputs of the first two dense layers.
    top = partial(head.dense, units=(dense_units,) * 2, dropout=dropout, first_index=6, **act)
    return head.model(inputs, x, name, top=top)


def alexnet(
    *,
    input_shape: Sequence[int] = (227, 227, 3),
    num_classes: int = 1000,
    groups: int = 1,
    dropout: float = 0.5,
    name: str = "alexnet",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """AlexNet as one tower: 62,378,344 parameters at 227x227x3, 1000 classes.

    Eight learned layers (section 3.5 and Figure 2):

    * conv1: 96 kernels 11x11, stride 4 -> 55x55; ReLU; local response
      normalization; 3x3/2 max pooling -> 27x27;
    * conv2: 256 kernels 5x5 -> 27x27; ReLU; LRN; pooling -> 13x13;
    * conv3, conv4: 384 kernels 3x3; conv5: 256 kernels 3x3; pooling -> 6x6;
    * fc6, fc7: 4096 ReLU units, each followed by dropout 0.5;
    * fc8: the ``num_classes``-way softmax.

    The ideas the chapter draws out: ReLU instead of tanh (six times faster
    to train, section 3.1); local response normalization
    (`LocalResponseNormalization`, ``k=2, n=5, alpha=1e-4, beta=0.75``);
    overlapping pooling (3x3 windows with stride 2); dropout in the dense
    layers, which hold 94% of the weights. The paper's figure says 224x224,
    but its arithmetic works only for 227x227 ((227 - 11) / 4 + 1 = 55).

    ``groups=2`` gives the paper's two-GPU network, in which conv2, conv4 and
    conv5 see only the maps of their own GPU (60,965,224 parameters); it is
    registered as `alexnet_grouped`. The paper's "60 million parameters" is
    that figure. The one-tower form is the paper's layers without the groups.
    torchvision's ``alexnet`` is a different network: the one-tower network of
    Krizhevsky's "One weird trick for parallelizing convolutional neural
    networks" (2014, https://arxiv.org/abs/1404.5997), with 64-192-384-256-256
    convolutions and no LRN, 61,100,840 parameters.

    Reference: Krizhevsky, Sutskever and Hinton (2012), "ImageNet
    Classification with Deep Convolutional Neural Networks", NeurIPS (not on
    arXiv),
    https://papers.nips.cc/paper_files/paper/2012/hash/c399862d3b9d6b76c8436e924a68c45b-Abstract.html.
    Chapter: ``docs/chapters/alexnet.md``.

    Args:
        input_shape: ``(height, width, channels)``; at least 67x67, the
            smallest input the stride-4 stem and three 3x3/2 poolings leave a
            1x1 map of. The dense head reads the whole last map, so other
            sizes than 227 change fc6's parameter count.
        num_classes: Number of classes of the classifier.
        groups: Channel groups of conv2, conv4 and conv5: 1 (one tower) or the
            paper's 2 (two GPUs); any divisor of 32 works.
        dropout: Dropout rate after fc6 and fc7.
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 67x67, a wrong rank,
            non-positive classes, an unknown pooling, a ``groups`` that does
            not divide the channels, or a dropout outside [0, 1).
    """
    shape = check_input_shape(input_shape, model=name, min_size=ALEXNET_MIN_SIZE)
    head = check_head(alexnet, name, num_classes, head_options)
    check_dropout(name, dropout)
    # The grouped layers read 96 or 384 maps and write 256 or 384: groups must
    # divide all of them, i.e. divide their greatest common divisor, 32.
    if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1 or 32 % groups:
        raise ValueError(
            f"{name}: groups must divide the channels of conv2, conv4 and conv5 "
            f"(1, 2, 4, 8, 16 or 32), got {groups!r}. The paper's two-GPU form is "
            "groups=2 (alexnet_grouped)."
        )
    return _alexnet_graph(
        shape, head, name, ALEXNET_CONVS, "valid", 4096, dropout=dropout, groups=groups
    )


def alexnet_grouped(**kwargs: Unpack[AlexNetArguments]) -> keras.Model:
    """AlexNet's original two-GPU form: 60,965,224 parameters at 227x227x3.

    Identical to `alexnet` with ``groups=2``. The network was split over two
    GTX 580 GPUs of 3 GB each (section 3.2): each GPU held half the kernels of
    every layer, and the GPUs exchanged activations only at conv3 and the
    dense layers. In Keras terms conv2, conv4 and conv5 are grouped
    convolutions (``Conv2D(groups=2)``): each half of the output reads only the
    matching half of the input, which halves those layers' weights. The
    paper's Figure 3 shows the consequence: the kernels of one GPU learned
    colour-agnostic features, those of the other colour-specific ones. The
    local response normalization here runs across all the maps of a layer,
    including the boundary between the two halves.

    Reference: Krizhevsky, Sutskever and Hinton (2012), "ImageNet
    Classification with Deep Convolutional Neural Networks", NeurIPS (not on
    arXiv),
    https://papers.nips.cc/paper_files/paper/2012/hash/c399862d3b9d6b76c8436e924a68c45b-Abstract.html.
    Chapter: ``docs/chapters/alexnet.md``.

    The arguments are those of `alexnet`.
    """
    return alexnet(**{"groups": 2, "name": "alexnet_grouped", **kwargs})


# The Fashion-MNIST variant: stride-1 stem, same kernel sizes as the paper's
# conv2-conv5 pattern, about a quarter of the width.
FASHION_CONVS = (
    (32, 5, 1, False, True),
    (64, 5, 1, False, True),
    (96, 3, 1, False, False),
    (96, 3, 1, False, False),
    (64, 3, 1, False, True),
)


def alexnet_fashion(
    *,
    input_shape: Sequence[int] = FASHION_MNIST_SHAPE,
    num_classes: int = 10,
    dropout: float = 0.5,
    activation: str = "relu",
    name: str = "alexnet_fashion",
    **head_options: Unpack[HeadOptions],
) -> keras.Model:
    """AlexNet for 28x28 Fashion-MNIST: 645,258 parameters, about 16.6M MACs.

    What is kept from the paper: five ReLU convolutions, local response
    normalization after the first two (the paper's ``k, n, alpha, beta``),
    overlapping 3x3/2 'valid' max pooling after conv1, conv2 and conv5, and a
    flatten + two dense layers with dropout 0.5 + softmax head that holds most
    of the weights (the dense layers hold 62% of them here, 94% in the paper).

    What changed and why:

    * conv1 is 32 kernels of 5x5 with stride 1 and 'same' padding instead of
      96 of 11x11 with stride 4: the paper's stem shrinks 227 pixels to 55,
      but would shrink 28 to 5, leaving nothing for the poolings;
    * the widths are about a quarter of the paper's (32-64-96-96-64 instead of
      96-256-384-384-256) and the dense layers 512 wide instead of 4096,
      to fit the compute budget of a 2-core CPU and a 10-class problem;
    * no grouped convolutions (they existed only to split the paper's model
      over two GPUs).

    Shapes: 28 -> conv1 28 -> pool 13 -> conv2 13 -> pool 6 -> conv3-5 6 ->
    pool 2, so the head reads 2x2x64 = 256 features.

    Compute per 28x28 image (multiply-accumulates): conv1 28x28x25x1x32 =
    0.63M, conv2 13x13x25x32x64 = 8.65M, conv3 6x6x9x64x96 = 1.99M, conv4
    6x6x9x96x96 = 2.99M, conv5 6x6x9x96x64 = 1.99M, dense 256x512 + 512x512 +
    512x10 = 0.40M: about 16.6M in all.

    Reference: Krizhevsky, Sutskever and Hinton (2012), "ImageNet
    Classification with Deep Convolutional Neural Networks", NeurIPS (not on
    arXiv),
    https://papers.nips.cc/paper_files/paper/2012/hash/c399862d3b9d6b76c8436e924a68c45b-Abstract.html.
    Chapter: ``docs/chapters/alexnet.md``.

    Args:
        input_shape: ``(height, width, channels)``; at least 15x15, the
            smallest input three 3x3/2 'valid' poolings leave a 1x1 map of.
        num_classes: Number of classes of the classifier.
        dropout: Dropout rate after each hidden dense layer.
        activation: ``"relu"`` (the paper's) or ``"tanh"``, for every
            convolution and hidden dense layer, each with the initializer
            derived for it (He normal for ReLU, Glorot uniform for tanh). The
            paper's Figure 1 (section 3.1) shows a four-layer ReLU network
            reaching 25% training error on CIFAR-10 six times sooner than the
            same network with tanh; ``"tanh"`` repeats that comparison here.
            The parameter count does not change.
        name: Model name.
        **head_options: ``include_top``, ``pooling`` and ``classifier_activation``,
            as in `HeadOptions`.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 15x15, a wrong rank,
            non-positive classes, an unknown pooling, a dropout outside
            [0, 1) or an unknown activation.
    """
    shape = check_input_shape(input_shape, model=name, min_size=15)
    head = check_head(alexnet_fashion, name, num_classes, head_options)
    check_dropout(name, dropout)
    if activation not in ACTIVATION_CHOICES:
        raise ValueError(
            f"{name}: activation must be one of {ACTIVATION_CHOICES}, got {activation!r}. "
            "Pass 'relu' (the paper's) or 'tanh' (its Figure 1 baseline), e.g. "
            "--option activation=tanh on the command line."
        )
    return _alexnet_graph(
        shape, head, name, FASHION_CONVS, "same", 512, dropout=dropout, activation=activation
    )


register_family(FAMILY, ALEXNET_MODELS, [alexnet, alexnet_grouped, alexnet_fashion])
