"""Depthwise separable convolutions and Xception's residual separable module.

Chollet, F. (2017). *Xception: Deep Learning with Depthwise Separable
Convolutions*. CVPR 2017. https://arxiv.org/abs/1610.02357

A regular ``k x k`` convolution from ``C_in`` to ``C_out`` channels learns
``k*k*C_in*C_out`` weights and spends as many multiply-accumulates per output
pixel: it maps cross-channel and spatial correlations jointly. A depthwise
separable convolution factors it into a ``k x k`` depthwise convolution (one
filter per input channel, ``k*k*C_in``) followed by a ``1 x 1`` pointwise
convolution that mixes channels (``C_in*C_out``), for a cost of
``k*k*C_in + C_in*C_out``: a fraction ``1/C_out + 1/k**2`` of the regular one,
about 8.9 times cheaper for a 3x3 kernel from 728 to 728 channels (Xception's
middle flow: 536,536 weights instead of 4,769,856).

Chapter: ``docs/chapters/xception.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from cnn_guide._validate import boolean, positive_int

__all__ = ["SeparableConvBlock", "XceptionBlock"]


@keras.saving.register_keras_serializable(package="cnn_guide")
class SeparableConvBlock(keras.layers.Layer):
    """A depthwise separable convolution with batch normalization.

    With ``activation_first=True`` (Xception's residual modules) the unit is
    ReLU - SeparableConv - BN; with ``False`` (the end of Xception's exit flow)
    it is SeparableConv - BN - ReLU. The convolution has no bias, since the
    batch normalization that follows supplies one.

    Cost: ``k*k*C_in + C_in*C_out`` weights (and multiply-accumulates per
    output pixel) against ``k*k*C_in*C_out`` for a regular convolution, a ratio
    of ``1/C_out + 1/k**2``. For ``k = 3``, ``C_in = C_out = 728``:
    ``6,552 + 529,984 = 536,536`` against ``4,769,856``, 8.9 times fewer.
    ``separable=False`` builds that regular convolution instead (``sepconv``
    is then a ``Conv2D``), for Chollet's comparison.

    Reference: Chollet, F. (2017), "Xception: Deep Learning with Depthwise
    Separable Convolutions", https://arxiv.org/abs/1610.02357.

    Chapter: ``docs/chapters/xception.md``.

    Args:
        filters: Output channels ``C_out`` of the pointwise convolution.
        kernel_size: Side ``k`` of the depthwise kernel.
        strides: Stride of the depthwise convolution.
        activation: Activation applied before (or after) the convolution;
            ``None`` for none.
        activation_first: ``True`` for activation - conv - BN, ``False`` for
            conv - BN - activation.
        separable: ``False`` replaces the separable convolution by a regular
            ``k x k`` one with the same output channels.
        bn_epsilon: Epsilon of the batch normalization.
        bn_momentum: Momentum of the batch normalization's moving statistics.
        **kwargs: Standard layer arguments (``name``, ``dtype``, ...).
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int = 3,
        strides: int = 1,
        activation: str | None = "relu",
        activation_first: bool = True,
        separable: bool = True,
        bn_epsilon: float = 1e-3,
        bn_momentum: float = 0.99,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.filters = positive_int(filters, "filters", self.name)
        self.kernel_size = positive_int(kernel_size, "kernel_size", self.name)
        self.strides = positive_int(strides, "strides", self.name)
        self.activation = activation
        self.activation_first = bool(activation_first)
        self.separable = boolean(separable, "separable", self.name)
        self.bn_epsilon = float(bn_epsilon)
        self.bn_momentum = float(bn_momentum)

    def build(self, input_shape) -> None:
        """Create the sublayers for inputs of ``input_shape``."""
        policy = self.dtype_policy
        self.act = (
            keras.layers.Activation(self.activation, dtype=policy, name="act")
            if self.activation
            else None
        )
        conv = keras.layers.SeparableConv2D if self.separable else keras.layers.Conv2D
        self.sepconv = conv(
            self.filters,
            self.kernel_size,
            strides=self.strides,
            padding="same",
            use_bias=False,
            dtype=policy,
            name="sepconv" if self.separable else "conv",
        )
        self.bn = keras.layers.BatchNormalization(
            epsilon=self.bn_epsilon, momentum=self.bn_momentum, dtype=policy, name="bn"
        )
        self.sepconv.build(input_shape)
        out_shape = self.sepconv.compute_output_shape(input_shape)
        self.bn.build(out_shape)
        if self.act is not None:
            self.act.build(input_shape)

    def call(self, inputs, training=None):
        """Apply the block; ``training`` switches batch normalization."""
        x = inputs
        if self.act is not None and self.activation_first:
            x = self.act(x)
        x = self.bn(self.sepconv(x), training=training)
        if self.act is not None and not self.activation_first:
            x = self.act(x)
        return x

    def compute_output_shape(self, input_shape):
        """The output shape for an input of ``input_shape``."""
        batch, height, width, _ = input_shape

        def side(n):
            return None if n is None else -(-n // self.strides)

        return (batch, side(height), side(width), self.filters)

    def receptive_field_path(self) -> list[tuple[int, int]]:
        """The (kernel_size, stride) pairs along the block's spatial path."""
        return [(self.kernel_size, self.strides)]

    def get_config(self) -> dict:
        """Every constructor argument, for saving and `from_config`."""
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            activation=self.activation,
            activation_first=self.activation_first,
            separable=self.separable,
            bn_epsilon=self.bn_epsilon,
            bn_momentum=self.bn_momentum,
        )
        return config


@keras.saving.register_keras_serializable(package="cnn_guide")
class XceptionBlock(keras.layers.Layer):
    """Xception's residual separable module (entry, middle and exit flows).

    A stack of ReLU - SeparableConv 3x3 - BN units (`SeparableConvBlock`),
    then, with ``strides=2``, a 3x3 max pooling of stride 2, added to a
    shortcut. The shortcut is the identity when the shape is unchanged (the
    middle flow) and otherwise a strided 1x1 convolution with batch
    normalization (the entry and exit flows), as in Figure 5 of the paper:

    ```
    x ──> [ReLU-SepConv-BN] x n ──> MaxPool 3x3/2 ──> (+) ──>
    └──────────> Conv 1x1 /2 ──> BN ────────────────────┘
    ```

    Reference: Chollet, F. (2017), "Xception: Deep Learning with Depthwise
    Separable Convolutions", https://arxiv.org/abs/1610.02357.

    Chapter: ``docs/chapters/xception.md``.

    Args:
        filters: Output channels of each separable convolution, in order
            (e.g. ``(728, 728, 728)`` in the middle flow, ``(728, 1024)`` in
            the exit flow); an int means two convolutions of that width.
        strides: 1, or 2 for a 3x3/2 max pooling after the convolutions and a
            strided projection shortcut.
        first_activation: Whether a ReLU precedes the first separable
            convolution. ``False`` for the first entry-flow module, whose input
            has just been through the stem's ReLU.
        residual: Whether to add the shortcut at all (the paper's Figure 9
            compares Xception with and without residual connections).
        separable: ``False`` makes every separable convolution a regular 3x3
            one of the same width (the shortcut is a 1x1 convolution anyway).
        bn_epsilon: Epsilon of every batch normalization.
        bn_momentum: Momentum of every batch normalization.
        **kwargs: Standard layer arguments (``name``, ``dtype``, ...).
    """

    def __init__(
        self,
        filters: int | Sequence[int],
        strides: int = 1,
        first_activation: bool = True,
        residual: bool = True,
        separable: bool = True,
        bn_epsilon: float = 1e-3,
        bn_momentum: float = 0.99,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        widths = [filters, filters] if isinstance(filters, int) else list(filters)
        if not widths:
            raise ValueError(f"{self.name}: filters must be a non-empty list of widths, got [].")
        self.filters = [positive_int(f, "each of filters", self.name) for f in widths]
        if strides not in (1, 2):
            raise ValueError(f"{self.name}: strides must be 1 or 2, got {strides!r}.")
        self.strides = strides
        self.first_activation = bool(first_activation)
        self.residual = bool(residual)
        self.separable = boolean(separable, "separable", self.name)
        self.bn_epsilon = float(bn_epsilon)
        self.bn_momentum = float(bn_momentum)

    def _needs_projection(self, channels: int) -> bool:
        return self.residual and (self.strides != 1 or channels != self.filters[-1])

    def build(self, input_shape) -> None:
        """Create the sublayers for inputs of ``input_shape``."""
        policy = self.dtype_policy
        bn_args = {
            "epsilon": self.bn_epsilon,
            "momentum": self.bn_momentum,
            "dtype": policy,
        }
        self.units = []
        shape = tuple(input_shape)
        for i, width in enumerate(self.filters):
            unit = SeparableConvBlock(
                width,
                activation="relu" if (i > 0 or self.first_activation) else None,
                separable=self.separable,
                bn_epsilon=self.bn_epsilon,
                bn_momentum=self.bn_momentum,
                dtype=policy,
                name=f"sepconv{i + 1}",
            )
            unit.build(shape)
            shape = unit.compute_output_shape(shape)
            self.units.append(unit)
        # Units first, shortcut second: the weights then come in the order of
        # keras.applications.Xception's layers, so its weights load directly.
        self.shortcut_conv = self.shortcut_bn = None
        if self._needs_projection(input_shape[-1]):
            self.shortcut_conv = keras.layers.Conv2D(
                self.filters[-1],
                1,
                strides=self.strides,
                padding="same",
                use_bias=False,
                dtype=policy,
                name="shortcut_conv",
            )
            self.shortcut_bn = keras.layers.BatchNormalization(**bn_args, name="shortcut_bn")
            self.shortcut_conv.build(input_shape)
            self.shortcut_bn.build(self.shortcut_conv.compute_output_shape(input_shape))
        self.pool = (
            keras.layers.MaxPooling2D(3, strides=2, padding="same", dtype=policy, name="pool")
            if self.strides == 2
            else None
        )
        self.merge = keras.layers.Add(dtype=policy, name="add") if self.residual else None

    def call(self, inputs, training=None):
        """Apply the block; ``training`` switches batch normalization."""
        x = inputs
        for unit in self.units:
            x = unit(x, training=training)
        if self.pool is not None:
            x = self.pool(x)
        if not self.residual:
            return x
        if self.shortcut_conv is not None:
            shortcut = self.shortcut_bn(self.shortcut_conv(inputs), training=training)
        else:
            shortcut = inputs
        return self.merge([x, shortcut])

    def compute_output_shape(self, input_shape):
        """The output shape for an input of ``input_shape``."""
        batch, height, width, _ = input_shape

        def side(n):
            return None if n is None else -(-n // self.strides)

        return (batch, side(height), side(width), self.filters[-1])

    def receptive_field_path(self) -> list[tuple[int, int]]:
        """The (kernel_size, stride) pairs along the block's spatial path."""
        path = [(3, 1)] * len(self.filters)
        return [*path, (3, 2)] if self.strides == 2 else path

    def get_config(self) -> dict:
        """Every constructor argument, for saving and `from_config`."""
        config = super().get_config()
        config.update(
            filters=list(self.filters),
            strides=self.strides,
            first_activation=self.first_activation,
            residual=self.residual,
            separable=self.separable,
            bn_epsilon=self.bn_epsilon,
            bn_momentum=self.bn_momentum,
        )
        return config
