"""DenseNet-BC's dense layer, dense block and transition layer.

Huang, G., Liu, Z., van der Maaten, L. and Weinberger, K. Q. (2017). *Densely
Connected Convolutional Networks*. CVPR 2017. https://arxiv.org/abs/1608.06993

Inside a dense block every layer receives the feature maps of all the layers
before it, concatenated along the channels, and adds only ``k`` (the growth
rate) new ones: layer ``l`` sees ``C_0 + (l - 1) * k`` channels. The "B"
(bottleneck: a 1x1 convolution to ``4k`` channels before each 3x3) keeps the
cost of the growing input in check, and the "C" (compression: transitions
halve the channels) keeps it in check across blocks.

Chapter: ``docs/chapters/densenet.md``.
"""

from __future__ import annotations

import keras

from cnn_guide._validate import positive_int

__all__ = ["DenseBlock", "DenseLayer", "TransitionLayer"]


@keras.saving.register_keras_serializable(package="cnn_guide")
class DenseLayer(keras.layers.Layer):
    """One DenseNet-BC layer: BN-ReLU-Conv1x1(4k)-BN-ReLU-Conv3x3(k), concatenated.

    The ``k = growth_rate`` new feature maps are concatenated onto the input,
    so the output has ``C_in + k`` channels and the same spatial size.

    Reference: Huang et al. (2017), "Densely Connected Convolutional
    Networks", https://arxiv.org/abs/1608.06993, section 3 ("Bottleneck
    layers").

    Chapter: ``docs/chapters/densenet.md``.

    Args:
        growth_rate: New channels ``k`` this layer adds.
        bn_size: Width of the 1x1 bottleneck as a multiple of ``k`` (4 in the
            paper).
        bn_epsilon: Epsilon of the batch normalizations (Keras' DenseNet uses
            1.001e-5).
        bn_momentum: Momentum of the batch normalizations.
        **kwargs: Standard layer arguments (``name``, ``dtype``, ...).
    """

    def __init__(
        self,
        growth_rate: int = 32,
        bn_size: int = 4,
        bn_epsilon: float = 1.001e-5,
        bn_momentum: float = 0.99,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.growth_rate = positive_int(growth_rate, "growth_rate", self.name)
        self.bn_size = positive_int(bn_size, "bn_size", self.name)
        self.bn_epsilon = float(bn_epsilon)
        self.bn_momentum = float(bn_momentum)

    def build(self, input_shape) -> None:
        """Create the sublayers for inputs of ``input_shape``."""
        policy = self.dtype_policy
        bn_args = {
            "epsilon": self.bn_epsilon,
            "momentum": self.bn_momentum,
            "dtype": policy,
        }
        self.bn1 = keras.layers.BatchNormalization(**bn_args, name="bn1")
        self.relu1 = keras.layers.ReLU(dtype=policy, name="relu1")
        self.conv1 = keras.layers.Conv2D(
            self.bn_size * self.growth_rate,
            1,
            use_bias=False,
            dtype=policy,
            name="conv1",
        )
        self.bn2 = keras.layers.BatchNormalization(**bn_args, name="bn2")
        self.relu2 = keras.layers.ReLU(dtype=policy, name="relu2")
        self.conv2 = keras.layers.Conv2D(
            self.growth_rate,
            3,
            padding="same",
            use_bias=False,
            dtype=policy,
            name="conv2",
        )
        self.concat = keras.layers.Concatenate(axis=-1, dtype=policy, name="concat")
        self.bn1.build(input_shape)
        self.conv1.build(input_shape)
        bottleneck = self.conv1.compute_output_shape(input_shape)
        self.bn2.build(bottleneck)
        self.conv2.build(bottleneck)

    def call(self, inputs, training=None):
        """Apply the block; ``training`` switches batch normalization."""
        x = self.relu1(self.bn1(inputs, training=training))
        x = self.conv1(x)
        x = self.relu2(self.bn2(x, training=training))
        x = self.conv2(x)
        return self.concat([inputs, x])

    def compute_output_shape(self, input_shape):
        """The output shape for an input of ``input_shape``."""
        batch, height, width, channels = input_shape
        return (batch, height, width, channels + self.growth_rate)

    def receptive_field_path(self) -> list[tuple[int, int]]:
        """The (kernel_size, stride) pairs along the layer's spatial path."""
        return [(1, 1), (3, 1)]

    def get_config(self) -> dict:
        """Every constructor argument, for saving and `from_config`."""
        config = super().get_config()
        config.update(
            growth_rate=self.growth_rate,
            bn_size=self.bn_size,
            bn_epsilon=self.bn_epsilon,
            bn_momentum=self.bn_momentum,
        )
        return config


@keras.saving.register_keras_serializable(package="cnn_guide")
class DenseBlock(keras.layers.Layer):
    """A dense block: ``num_layers`` `DenseLayer`s, each fed all earlier maps.

    The output has ``C_in + num_layers * growth_rate`` channels and the input's
    spatial size. DenseNet-121 uses blocks of 6, 12, 24 and 16 layers with
    ``growth_rate = 32``.

    Reference: Huang et al. (2017), "Densely Connected Convolutional
    Networks", https://arxiv.org/abs/1608.06993, Figure 1 and Table 1.

    Chapter: ``docs/chapters/densenet.md``.

    Args:
        num_layers: Number of dense layers in the block.
        growth_rate: New channels ``k`` each layer adds.
        bn_size: Width of each layer's 1x1 bottleneck as a multiple of ``k``.
        bn_epsilon: Epsilon of the batch normalizations.
        bn_momentum: Momentum of the batch normalizations.
        **kwargs: Standard layer arguments (``name``, ``dtype``, ...).
    """

    def __init__(
        self,
        num_layers: int,
        growth_rate: int = 32,
        bn_size: int = 4,
        bn_epsilon: float = 1.001e-5,
        bn_momentum: float = 0.99,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.num_layers = positive_int(num_layers, "num_layers", self.name)
        self.growth_rate = positive_int(growth_rate, "growth_rate", self.name)
        self.bn_size = positive_int(bn_size, "bn_size", self.name)
        self.bn_epsilon = float(bn_epsilon)
        self.bn_momentum = float(bn_momentum)

    def build(self, input_shape) -> None:
        """Create the sublayers for inputs of ``input_shape``."""
        self.dense_layers = []
        shape = tuple(input_shape)
        for i in range(self.num_layers):
            layer = DenseLayer(
                self.growth_rate,
                self.bn_size,
                bn_epsilon=self.bn_epsilon,
                bn_momentum=self.bn_momentum,
                dtype=self.dtype_policy,
                name=f"layer{i + 1}",
            )
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
            self.dense_layers.append(layer)

    def call(self, inputs, training=None):
        """Apply the block; ``training`` switches batch normalization."""
        x = inputs
        for layer in self.dense_layers:
            x = layer(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        """The output shape for an input of ``input_shape``."""
        batch, height, width, channels = input_shape
        return (batch, height, width, channels + self.num_layers * self.growth_rate)

    def receptive_field_path(self) -> list[tuple[int, int]]:
        """The (kernel_size, stride) pairs along the block's longest spatial path."""
        return [(1, 1), (3, 1)] * self.num_layers

    def get_config(self) -> dict:
        """Every constructor argument, for saving and `from_config`."""
        config = super().get_config()
        config.update(
            num_layers=self.num_layers,
            growth_rate=self.growth_rate,
            bn_size=self.bn_size,
            bn_epsilon=self.bn_epsilon,
            bn_momentum=self.bn_momentum,
        )
        return config


@keras.saving.register_keras_serializable(package="cnn_guide")
class TransitionLayer(keras.layers.Layer):
    """DenseNet-BC's transition: BN-ReLU-Conv1x1 (compression) then 2x2 average pool.

    Between dense blocks it multiplies the channels by ``compression``
    (``theta = 0.5`` in DenseNet-BC, rounded down) and halves the spatial
    size (rounded down: the pooling is unpadded, so a side must be at least 2).

    Reference: Huang et al. (2017), "Densely Connected Convolutional
    Networks", https://arxiv.org/abs/1608.06993, section 3 ("Compression").

    Chapter: ``docs/chapters/densenet.md``.

    Args:
        compression: Fraction ``theta`` of the channels kept, in (0, 1].
        bn_epsilon: Epsilon of the batch normalization.
        bn_momentum: Momentum of the batch normalization.
        **kwargs: Standard layer arguments (``name``, ``dtype``, ...).
    """

    def __init__(
        self,
        compression: float = 0.5,
        bn_epsilon: float = 1.001e-5,
        bn_momentum: float = 0.99,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if not 0.0 < compression <= 1.0:
            raise ValueError(
                f"{self.name}: compression must be in (0, 1], got {compression!r} "
                "(DenseNet-BC uses 0.5)."
            )
        self.compression = float(compression)
        self.bn_epsilon = float(bn_epsilon)
        self.bn_momentum = float(bn_momentum)

    def _out_channels(self, channels: int) -> int:
        # int() as in keras.applications.DenseNet: 1024 * 0.5 -> 512.
        return max(1, int(channels * self.compression))

    def build(self, input_shape) -> None:
        """Create the sublayers for inputs of ``input_shape``."""
        policy = self.dtype_policy
        self.bn = keras.layers.BatchNormalization(
            epsilon=self.bn_epsilon, momentum=self.bn_momentum, dtype=policy, name="bn"
        )
        self.relu = keras.layers.ReLU(dtype=policy, name="relu")
        self.conv = keras.layers.Conv2D(
            self._out_channels(input_shape[-1]),
            1,
            use_bias=False,
            dtype=policy,
            name="conv",
        )
        self.pool = keras.layers.AveragePooling2D(2, strides=2, dtype=policy, name="pool")
        self.bn.build(input_shape)
        self.conv.build(input_shape)

    def call(self, inputs, training=None):
        """Apply the block; ``training`` switches batch normalization."""
        x = self.relu(self.bn(inputs, training=training))
        return self.pool(self.conv(x))

    def compute_output_shape(self, input_shape):
        """The output shape for an input of ``input_shape``."""
        batch, height, width, channels = input_shape

        def side(n):
            return None if n is None else n // 2

        return (batch, side(height), side(width), self._out_channels(channels))

    def receptive_field_path(self) -> list[tuple[int, int]]:
        """The (kernel_size, stride) pairs along the layer's spatial path."""
        return [(1, 1), (2, 2)]

    def get_config(self) -> dict:
        """Every constructor argument, for saving and `from_config`."""
        config = super().get_config()
        config.update(
            compression=self.compression,
            bn_epsilon=self.bn_epsilon,
            bn_momentum=self.bn_momentum,
        )
        return config
