"""LeNet-5's own layers: the partially connected C3 and trainable subsampling.

LeCun, Bottou, Bengio and Haffner (1998), "Gradient-Based Learning Applied to
Document Recognition", Proceedings of the IEEE 86(11), section II.B,
https://doi.org/10.1109/5.726791.
Chapter: ``docs/chapters/lenet.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from cnn_guide._validate import positive_int

__all__ = ["LENET5_C3_TABLE", "PartialConv2D", "TrainableSubsampling"]

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
        self.connections = table
        self.kernel_size = positive_int(kernel_size, "kernel_size", "PartialConv2D")
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

    def macs_per_image(self, output_shape: Sequence[int]) -> int:
        """Multiply-accumulates that the connection table asks for.

        The layer computes a full convolution with zeros in the unconnected
        slots; `cnn_guide.analysis.layer_table` counts what the paper's layer
        does instead: ``k * k * connections`` per output position.
        """
        height, width = output_shape[0], output_shape[1]
        return height * width * self.kernel_size**2 * self.num_connections

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
        self.pool_size = positive_int(pool_size, "pool_size", "TrainableSubsampling")
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
