"""LeNet-5 (LeCun, Bottou, Bengio and Haffner 1998), the first modern CNN.

LeCun, Bottou, Bengio and Haffner (1998), "Gradient-Based Learning Applied to
Document Recognition", Proceedings of the IEEE 86(11), section II.B,
https://doi.org/10.1109/5.726791 (not on arXiv).
Chapter: ``docs/chapters/lenet.md``.

Besides the builders, this module holds the two layers only LeNet-5 uses: the
partially connected C3 convolution (`PartialConv2D`, the paper's Table I) and
the trainable subsampling of S2 and S4 (`TrainableSubsampling`). Both are
registered Keras serializables, so models using them save and load with
``safe_mode=True`` once ``cnn_guide.models`` is imported.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from cnn_guide.models._common import check_head, check_input_shape, classifier
from cnn_guide.models._registry import register

__all__ = [
    "LENET5_C3_TABLE",
    "PartialConv2D",
    "TrainableSubsampling",
    "lenet5",
    "lenet5_fashion",
]

LENET_URL = "https://doi.org/10.1109/5.726791"
LENET_PAPER = (
    "LeCun, Bottou, Bengio and Haffner, Gradient-Based Learning Applied to "
    "Document Recognition, Proc. IEEE 86(11)"
)

# Table I of the paper: the S2 maps (0-5) each C3 map (0-15) reads. Six maps
# read 3 contiguous maps, six read 4 contiguous, three read 4 non-contiguous
# and the last reads all six: 60 connections of 5x5 weights, 1,500 in all.
LENET5_C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2),
    (1, 2, 3),
    (2, 3, 4),
    (3, 4, 5),
    (0, 4, 5),
    (0, 1, 5),
    (0, 1, 2, 3),
    (1, 2, 3, 4),
    (2, 3, 4, 5),
    (0, 3, 4, 5),
    (0, 1, 4, 5),
    (0, 1, 2, 5),
    (0, 1, 3, 4),
    (1, 2, 4, 5),
    (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


@keras.saving.register_keras_serializable(package="cnn_guide")
class PartialConv2D(keras.layers.Layer):
    """A convolution in which each output map reads only some input maps.

    LeNet-5's layer C3 (LeCun et al. 1998, Table I) connects each of its 16
    maps to a subset of the 6 maps of S2, for two reasons the paper gives:
    fewer connections (1,516 parameters instead of 2,416 for a full 5x5
    convolution), and broken symmetry, since different maps see different
    inputs and so are forced to learn different features.

    The layer stores only the connected weights: a kernel of shape
    ``(kernel_size, kernel_size, n_connections)`` and one bias per output map.
    At call time it scatters them into a dense ``(k, k, in, out)`` kernel with
    zeros for the missing connections and runs one ordinary convolution, which
    is as fast as a full convolution and has exactly the partial layer's
    gradients. Initial values are drawn as for the equivalent full kernel, so
    with every connection present the layer is a ``Conv2D``.

    Reference: LeCun, Bottou, Bengio and Haffner (1998), "Gradient-Based
    Learning Applied to Document Recognition", https://doi.org/10.1109/5.726791.
    Chapter: ``docs/chapters/lenet.md``.

    Args:
        connections: For each output map, the input maps it reads (a sequence
            of sequences of channel indices); ``len(connections)`` is the
            number of output maps.
        kernel_size: Side of the square kernel.
        activation: Activation applied to the output.
        use_bias: Whether each output map has a bias.
        kernel_initializer: Initializer, applied to the equivalent full kernel.
        bias_initializer: Initializer of the biases.
        **kwargs: Base ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Raises:
        ValueError: For an empty table, an output map with no or repeated
            inputs, a negative index, or (when built) an index beyond the
            input's channels.
    """

    def __init__(
        self,
        connections: Sequence[Sequence[int]],
        kernel_size: int = 5,
        activation: str | None = None,
        use_bias: bool = True,
        kernel_initializer: str | dict = "glorot_uniform",
        bias_initializer: str | dict = "zeros",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        try:
            table = [[int(i) for i in inputs] for inputs in connections]
        except (TypeError, ValueError):
            raise ValueError(
                "PartialConv2D: connections must be a sequence of sequences of input "
                f"channel indices, one per output map, got {connections!r}."
            ) from None
        if not table:
            raise ValueError("PartialConv2D: connections must list at least one output map.")
        for out, inputs in enumerate(table):
            if not inputs or len(set(inputs)) != len(inputs) or min(inputs) < 0:
                raise ValueError(
                    f"PartialConv2D: output map {out} must read one or more distinct, "
                    f"non-negative input channels, got {inputs}."
                )
        if not isinstance(kernel_size, int) or kernel_size < 1:
            raise ValueError(
                f"PartialConv2D: kernel_size must be a positive integer, got {kernel_size!r}."
            )
        self.connections = table
        self.kernel_size = kernel_size
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    @property
    def filters(self) -> int:
        """Number of output maps."""
        return len(self.connections)

    @property
    def num_connections(self) -> int:
        """Number of (input map, output map) pairs that have a kernel."""
        return sum(len(inputs) for inputs in self.connections)

    def build(self, input_shape) -> None:
        """Create the connected kernels and the biases."""
        channels = int(input_shape[-1])
        highest = max(max(inputs) for inputs in self.connections)
        if highest >= channels:
            raise ValueError(
                f"PartialConv2D: the connection table reads input channel {highest}, "
                f"but the input has only {channels} channels."
            )
        self.input_channels = channels
        # (input map, output map) of each stored kernel slice, in table order.
        self._pairs = np.array(
            [(i, out) for out, inputs in enumerate(self.connections) for i in inputs],
            dtype="int32",
        )
        k = self.kernel_size
        dense_shape = (k, k, channels, self.filters)

        def initializer(shape, dtype=None):
            # Draw the full kernel so the scale (fan-in, fan-out) matches Conv2D.
            full = self.kernel_initializer(dense_shape, dtype=dtype)
            return keras.ops.take(
                keras.ops.reshape(full, (k, k, channels * self.filters)),
                self._pairs[:, 0] * self.filters + self._pairs[:, 1],
                axis=-1,
            )

        self.kernel = self.add_weight(
            name="kernel", shape=(k, k, self.num_connections), initializer=initializer
        )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.filters,), initializer=self.bias_initializer
            )
        else:
            self.bias = None

    def dense_kernel(self):
        """The equivalent full ``(k, k, in, out)`` kernel, zero where unconnected."""
        k = self.kernel_size
        values = keras.ops.transpose(self.kernel, (2, 0, 1))  # (connections, k, k)
        dense = keras.ops.scatter(self._pairs, values, (self.input_channels, self.filters, k, k))
        return keras.ops.transpose(dense, (2, 3, 0, 1))

    def call(self, inputs):
        """Convolve ``inputs`` ('valid' padding, stride 1) with the partial kernel."""
        kernel = keras.ops.cast(self.dense_kernel(), inputs.dtype)
        outputs = keras.ops.conv(inputs, kernel, strides=1, padding="valid")
        if self.use_bias:
            outputs = outputs + keras.ops.cast(self.bias, outputs.dtype)
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        """Height and width shrink by ``kernel_size - 1``; ``filters`` channels."""
        batch, height, width, _ = input_shape

        def side(n):
            return None if n is None else n - self.kernel_size + 1

        return (batch, side(height), side(width), self.filters)

    def receptive_field_path(self) -> list[tuple[int, int]]:
        """One ``kernel_size`` convolution with stride 1."""
        return [(self.kernel_size, 1)]

    def get_config(self) -> dict:
        """Every constructor argument, for saving."""
        config = super().get_config()
        config.update(
            connections=[list(inputs) for inputs in self.connections],
            kernel_size=self.kernel_size,
            activation=keras.activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config


@keras.saving.register_keras_serializable(package="cnn_guide")
class TrainableSubsampling(keras.layers.Layer):
    """LeNet-5's subsampling layers S2 and S4: pooling with a learned gain.

    Each unit averages a non-overlapping ``pool_size`` x ``pool_size`` window
    of its map, multiplies by a trainable coefficient, adds a trainable bias
    (one of each per map) and applies the activation. The paper adds the four
    inputs rather than averaging them; that only rescales the coefficient, so
    this layer starts at coefficient 1 (plain average pooling) and bias 0.
    With the paper's sigmoid the coefficient decides whether the unit works in
    its near-linear or its saturating regime (section II.B).

    Parameters: two per map, 12 for S2 (6 maps) and 32 for S4 (16 maps).

    Reference: LeCun, Bottou, Bengio and Haffner (1998), "Gradient-Based
    Learning Applied to Document Recognition", https://doi.org/10.1109/5.726791.
    Chapter: ``docs/chapters/lenet.md``.

    Args:
        pool_size: Side of the pooling window, which is also the stride.
        activation: Activation applied after the coefficient and bias.
        **kwargs: Base ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Raises:
        ValueError: If ``pool_size`` is not a positive integer.
    """

    def __init__(self, pool_size: int = 2, activation: str | None = "tanh", **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(pool_size, int) or pool_size < 1:
            raise ValueError(
                f"TrainableSubsampling: pool_size must be a positive integer, got {pool_size!r}."
            )
        self.pool_size = pool_size
        self.activation = keras.activations.get(activation)

    def build(self, input_shape) -> None:
        """One coefficient and one bias per input map."""
        channels = int(input_shape[-1])
        self.coefficient = self.add_weight(
            name="coefficient", shape=(channels,), initializer="ones"
        )
        self.bias = self.add_weight(name="bias", shape=(channels,), initializer="zeros")

    def call(self, inputs):
        """Average each window, scale, shift and squash."""
        pooled = keras.ops.average_pool(
            inputs, pool_size=self.pool_size, strides=self.pool_size, padding="valid"
        )
        coefficient = keras.ops.cast(self.coefficient, pooled.dtype)
        bias = keras.ops.cast(self.bias, pooled.dtype)
        return self.activation(pooled * coefficient + bias)

    def compute_output_shape(self, input_shape):
        """Height and width divided by ``pool_size`` (rounded down)."""
        batch, height, width, channels = input_shape

        def side(n):
            return None if n is None else n // self.pool_size

        return (batch, side(height), side(width), channels)

    def receptive_field_path(self) -> list[tuple[int, int]]:
        """One ``pool_size`` window with stride ``pool_size``."""
        return [(self.pool_size, self.pool_size)]

    def get_config(self) -> dict:
        """Every constructor argument, for saving."""
        config = super().get_config()
        config.update(
            pool_size=self.pool_size,
            activation=keras.activations.serialize(self.activation),
        )
        return config


C3_CHOICES = ("full", "paper")
SUBSAMPLING_CHOICES = ("average", "trainable")


def _lenet5(
    *,
    shape: tuple[int, int, int],
    num_classes: int,
    include_top: bool,
    pooling: str | None,
    classifier_activation: str | None,
    c3_connections: str,
    subsampling: str,
    c1_padding: str,
    name: str,
) -> keras.Model:
    """The LeNet-5 graph shared by `lenet5` and `lenet5_fashion` (arguments checked)."""

    def subsample(x: keras.KerasTensor, layer_name: str) -> keras.KerasTensor:
        if subsampling == "trainable":
            return TrainableSubsampling(2, activation="tanh", name=layer_name)(x)
        return keras.layers.AveragePooling2D(2, name=layer_name)(x)

    inputs = keras.Input(shape=shape, name="image")
    x = keras.layers.Conv2D(6, 5, padding=c1_padding, activation="tanh", name="c1")(inputs)
    x = subsample(x, "s2")
    if c3_connections == "paper":
        x = PartialConv2D(LENET5_C3_TABLE, kernel_size=5, activation="tanh", name="c3")(x)
    else:
        x = keras.layers.Conv2D(16, 5, activation="tanh", name="c3")(x)
    x = subsample(x, "s4")
    # C5 is a convolution, not a dense layer: on a 32x32 input its 5x5 kernels
    # cover the whole 5x5 map of S4, on a larger input it slides.
    x = keras.layers.Conv2D(120, 5, activation="tanh", name="c5")(x)
    if include_top:
        x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dense(84, activation="tanh", name="f6")(x)
        x = classifier(x, num_classes=num_classes, activation=classifier_activation)
    elif pooling == "avg":
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    return keras.Model(inputs, x, name=name)


def _check_options(name: str, c3_connections: str, subsampling: str) -> None:
    if c3_connections not in C3_CHOICES:
        raise ValueError(
            f"{name}: c3_connections must be one of {C3_CHOICES}, got {c3_connections!r}."
        )
    if subsampling not in SUBSAMPLING_CHOICES:
        raise ValueError(
            f"{name}: subsampling must be one of {SUBSAMPLING_CHOICES}, got {subsampling!r}."
        )


@register(
    "lenet5",
    family="lenet",
    paper=LENET_PAPER,
    year=1998,
    url=LENET_URL,
    input_shape=(32, 32, 1),
    min_input_size=32,
    summary="LeNet-5: tanh convolutions C1, C3, C5, 2x2 subsampling, F6 84, dense out",
    reference_params=61_706,
    reference_kind="total",
    reference_source="computed from the 1998 layer spec (full C3, plain pooling)",
    chapter="chapters/lenet.md",
)
def lenet5(
    *,
    input_shape: Sequence[int] = (32, 32, 1),
    num_classes: int = 10,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    c3_connections: str = "full",
    subsampling: str = "average",
    name: str = "lenet5",
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

    Every layer up to F6 uses tanh. The paper's squashing function is the
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
        include_top: Whether to add F6 and the output layer. Without them the
            model ends at C5.
        pooling: Without the top: ``None`` returns C5's map, ``"avg"`` or
            ``"max"`` a global pooling of it.
        classifier_activation: Activation of the output layer.
        c3_connections: ``"full"`` (every C3 map reads all six S2 maps) or
            ``"paper"`` (Table I, with `PartialConv2D`).
        subsampling: ``"average"`` (parameter-free 2x2 average pooling) or
            ``"trainable"`` (the paper's S2/S4: average, times a trainable
            coefficient, plus a trainable bias, then tanh; see
            `TrainableSubsampling`).
        name: Model name.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 32x32, a wrong rank,
            non-positive classes, an unknown pooling or an unknown option.
    """
    shape = check_input_shape(input_shape, model=name, min_size=32)
    check_head(model=name, include_top=include_top, num_classes=num_classes, pooling=pooling)
    _check_options(name, c3_connections, subsampling)
    return _lenet5(
        shape=shape,
        num_classes=num_classes,
        include_top=include_top,
        pooling=pooling,
        classifier_activation=classifier_activation,
        c3_connections=c3_connections,
        subsampling=subsampling,
        c1_padding="valid",
        name=name,
    )


@register(
    "lenet5_fashion",
    family="lenet",
    paper=LENET_PAPER,
    year=1998,
    url=LENET_URL,
    input_shape=(28, 28, 1),
    min_input_size=28,
    summary="LeNet-5 for 28x28: 'same' padding in C1, otherwise the paper's layers",
    reference_params=None,
    variant_of="lenet5",
    chapter="chapters/lenet.md",
)
def lenet5_fashion(
    *,
    input_shape: Sequence[int] = (28, 28, 1),
    num_classes: int = 10,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    c3_connections: str = "full",
    subsampling: str = "average",
    name: str = "lenet5_fashion",
) -> keras.Model:
    """LeNet-5 for 28x28 Fashion-MNIST images: 61,706 parameters, 0.42M MACs.

    Changes from the paper: one. The paper drew its 28x28 MNIST digits in the
    centre of a 32x32 field, so that strokes near the edge still reach the
    centre of C1's 5x5 windows. Here C1 uses 'same' padding instead (two
    pixels of zeros on each side), which has the same effect without resizing
    the data: C1's map is 28x28 exactly as in the paper, and everything after
    it is unchanged, down to the parameter count (61,706 by default). The
    family options ``c3_connections`` and ``subsampling`` work as in `lenet5`.

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
        include_top: Whether to add F6 and the output layer. Without them the
            model ends at C5.
        pooling: Without the top: ``None`` returns C5's map, ``"avg"`` or
            ``"max"`` a global pooling of it.
        classifier_activation: Activation of the output layer.
        c3_connections: ``"full"`` or ``"paper"`` (Table I), as in `lenet5`.
        subsampling: ``"average"`` or ``"trainable"``, as in `lenet5`.
        name: Model name.

    Returns:
        The uncompiled Keras model.

    Raises:
        ValueError: For an input smaller than 28x28, a wrong rank,
            non-positive classes, an unknown pooling or an unknown option.
    """
    shape = check_input_shape(input_shape, model=name, min_size=28)
    check_head(model=name, include_top=include_top, num_classes=num_classes, pooling=pooling)
    _check_options(name, c3_connections, subsampling)
    return _lenet5(
        shape=shape,
        num_classes=num_classes,
        include_top=include_top,
        pooling=pooling,
        classifier_activation=classifier_activation,
        c3_connections=c3_connections,
        subsampling=subsampling,
        c1_padding="same",
        name=name,
    )
