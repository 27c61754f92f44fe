"""EfficientNet's block: a mobile inverted bottleneck with squeeze-and-excitation.

Tan, M. and Le, Q. V. (2019). *EfficientNet: Rethinking Model Scaling for
Convolutional Neural Networks*. ICML 2019. https://arxiv.org/abs/1905.11946

MBConv is MobileNetV2's inverted residual (`cnn_guide.layers.mobile`) as the
neural architecture search of MnasNet (Tan et al. 2019) found it useful: a
3x3 or 5x5 depthwise kernel, a squeeze-and-excitation step
(`cnn_guide.layers.squeeze_excitation`) on the expanded tensor, swish in
place of ReLU6, and drop-connect (stochastic depth) on the residual branch.

Chapter: ``docs/chapters/efficientnet.md``.
"""

from __future__ import annotations

import keras

from cnn_guide._validate import positive_int

__all__ = ["MBConv"]

CONV_INITIALIZER = {
    "class_name": "VarianceScaling",
    "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"},
}
"""The convolutions' initializer of the reference code and of ``keras.applications``."""


def _rate(value: object, name: str, owner: str, *, upper_open: bool) -> float:
    """A number in [0, 1) (or [0, 1]) for a rate, or a clear error."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and 0 <= value and (value < 1 if upper_open else value <= 1):
        return float(value)
    bound = "1)" if upper_open else "1]"
    raise ValueError(f"{owner}: {name} must be a number in [0, {bound}, got {value!r}.")


@keras.saving.register_keras_serializable(package="cnn_guide")
class MBConv(keras.layers.Layer):
    """EfficientNet's MBConv block: expand - depthwise - squeeze-excite - project.

    ```
    x ──> Conv1x1 (t*C_in) ─ BN ─ swish ──> DW kxk /s ─ BN ─ swish ──>
          SE: x * sigmoid(Conv1x1(swish(Conv1x1(global mean)))) ──>
          Conv1x1 (C_out) ─ BN (linear) ──> drop-connect ──> (+ x, if s = 1 and C_in = C_out)
    ```

    With ``expansion=1`` there is no expansion convolution (the network's
    first block). The squeeze-and-excitation step works on the expanded
    tensor, but its hidden width is a fraction ``se_ratio`` of the block's
    *input* channels, ``max(1, int(C_in * se_ratio))``, as in the reference
    code; its two steps are 1x1 convolutions with biases (a dense layer on a
    1x1 map), so that the weights have the reference code's shapes, and its
    hidden activation is swish, not ReLU as in SENet
    (`cnn_guide.layers.SqueezeExcitation`). ``se_ratio=0`` leaves it out.

    Drop-connect (``drop_rate``) drops the whole residual branch of an
    example with probability ``drop_rate`` during training and scales the
    kept ones by ``1 / (1 - drop_rate)``: stochastic depth (Huang et al.
    2016), applied only where there is a shortcut. EfficientNet raises the
    rate linearly from 0 at the first block to 0.2 at the last.

    Layer for layer (same weights in the same order, same outputs) the
    ``block`` of ``keras.applications.efficientnet``: a test compares whole
    networks.

    Reference: Tan and Le (2019), "EfficientNet: Rethinking Model Scaling for
    Convolutional Neural Networks", https://arxiv.org/abs/1905.11946,
    section 4 and Table 1; the block is MnasNet's (Tan et al. 2019,
    https://arxiv.org/abs/1807.11626), the squeeze-and-excitation step Hu et
    al.'s (2018, https://arxiv.org/abs/1709.01507).

    Chapter: ``docs/chapters/efficientnet.md``.

    Args:
        filters: Output channels ``C_out`` of the linear projection.
        expansion: Expansion factor ``t``: the hidden width is ``t * C_in``.
        kernel_size: Side of the depthwise kernel (3 or 5 in EfficientNet).
        strides: Stride of the depthwise convolution (1 or 2).
        se_ratio: Hidden width of the squeeze-and-excitation step as a
            fraction of ``C_in``, in [0, 1]; 0 leaves the step out.
        drop_rate: Drop-connect rate in [0, 1) for the residual branch.
        activation: Activation after the expansion and the depthwise step,
            and inside the SE step (``"swish"`` in the paper).
        bn_epsilon: Epsilon of the batch normalizations (1e-3 in Keras).
        bn_momentum: Momentum of the batch normalizations (0.99 in Keras).
        **kwargs: Standard layer arguments (``name``, ``dtype``, ...).

    Raises:
        ValueError: For a non-positive ``filters``, ``expansion`` or
            ``kernel_size``, a stride other than 1 or 2, a rate outside its
            range, or an activation that is not a Keras activation's name.
    """

    def __init__(
        self,
        filters: int,
        expansion: int = 6,
        kernel_size: int = 3,
        strides: int = 1,
        se_ratio: float = 0.25,
        drop_rate: float = 0.0,
        activation: str = "swish",
        bn_epsilon: float = 1e-3,
        bn_momentum: float = 0.99,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.filters = positive_int(filters, "filters", self.name)
        self.expansion = positive_int(expansion, "expansion", self.name)
        self.kernel_size = positive_int(kernel_size, "kernel_size", self.name)
        if strides not in (1, 2) or isinstance(strides, bool):
            raise ValueError(f"{self.name}: strides must be 1 or 2, got {strides!r}.")
        self.strides = int(strides)
        self.se_ratio = _rate(se_ratio, "se_ratio", self.name, upper_open=False)
        self.drop_rate = _rate(drop_rate, "drop_rate", self.name, upper_open=True)
        if not isinstance(activation, str):
            raise ValueError(
                f"{self.name}: activation must be the name of a Keras activation, such as "
                f"'swish' or 'relu', got {activation!r}."
            )
        keras.activations.get(activation)  # an unknown name raises here, with Keras' message
        self.activation = activation
        self.bn_epsilon = float(bn_epsilon)
        self.bn_momentum = float(bn_momentum)

    def _conv(self, filters: int, name: str, **kwargs) -> keras.layers.Conv2D:
        return keras.layers.Conv2D(
            filters,
            1,
            kernel_initializer=CONV_INITIALIZER,
            dtype=self.dtype_policy,
            name=name,
            **{"use_bias": False, **kwargs},
        )

    def _bn(self, name: str) -> keras.layers.BatchNormalization:
        return keras.layers.BatchNormalization(
            epsilon=self.bn_epsilon, momentum=self.bn_momentum, dtype=self.dtype_policy, name=name
        )

    def _act(self, name: str) -> keras.layers.Activation:
        return keras.layers.Activation(self.activation, dtype=self.dtype_policy, name=name)

    def build(self, input_shape) -> None:
        """Create the sublayers for inputs of ``input_shape``."""
        shape = tuple(input_shape)
        in_channels = shape[-1]
        if len(shape) != 4 or in_channels is None:
            raise ValueError(
                f"{self.name}: expects (batch, height, width, channels) inputs with a known "
                f"channel count, got shape {shape}."
            )
        hidden = self.expansion * in_channels
        # Sublayers are created in the order of their weights in keras.applications.
        self.expand = self.expand_bn = self.expand_activation = None
        if self.expansion != 1:
            self.expand = self._conv(hidden, "expand")
            self.expand_bn = self._bn("expand_bn")
            self.expand_activation = self._act("expand_activation")
            self.expand.build(shape)
            shape = self.expand.compute_output_shape(shape)
            self.expand_bn.build(shape)
        # "same" at stride 2 pads as keras.applications' correct_pad + "valid" does.
        self.depthwise = keras.layers.DepthwiseConv2D(
            self.kernel_size,
            strides=self.strides,
            padding="same",
            use_bias=False,
            depthwise_initializer=CONV_INITIALIZER,
            dtype=self.dtype_policy,
            name="depthwise",
        )
        self.depthwise_bn = self._bn("depthwise_bn")
        self.depthwise_activation = self._act("depthwise_activation")
        self.depthwise.build(shape)
        shape = self.depthwise.compute_output_shape(shape)
        self.depthwise_bn.build(shape)
        self.se_units = max(1, int(in_channels * self.se_ratio)) if self.se_ratio > 0 else 0
        self.se_reduce = self.se_expand = None
        if self.se_units:
            self.se_reduce = self._conv(
                self.se_units, "se_reduce", use_bias=True, activation=self.activation
            )
            self.se_expand = self._conv(hidden, "se_expand", use_bias=True, activation="sigmoid")
            self.se_reduce.build((shape[0], 1, 1, hidden))
            self.se_expand.build((shape[0], 1, 1, self.se_units))
        self.project = self._conv(self.filters, "project")
        self.project_bn = self._bn("project_bn")
        self.project.build(shape)
        self.project_bn.build(self.project.compute_output_shape(shape))
        self.use_residual = self.strides == 1 and in_channels == self.filters
        self.drop = None
        if self.use_residual and self.drop_rate > 0:
            self.drop = keras.layers.Dropout(
                self.drop_rate, noise_shape=(None, 1, 1, 1), dtype=self.dtype_policy, name="drop"
            )

    def call(self, inputs, training=None):
        """Apply the block; ``training`` switches batch normalization and drop-connect."""
        x = inputs
        if self.expand is not None:
            x = self.expand_activation(self.expand_bn(self.expand(x), training=training))
        x = self.depthwise_activation(self.depthwise_bn(self.depthwise(x), training=training))
        if self.se_reduce is not None:
            squeezed = keras.ops.mean(x, axis=(1, 2), keepdims=True)
            x = x * self.se_expand(self.se_reduce(squeezed))
        x = self.project_bn(self.project(x), training=training)
        if self.use_residual:
            if self.drop is not None:
                x = self.drop(x, training=training)
            x = x + inputs
        return x

    def compute_output_shape(self, input_shape):
        """The output shape for an input of ``input_shape``."""
        batch, height, width, _ = input_shape

        def side(n):
            return None if n is None else -(-n // self.strides)

        return (batch, side(height), side(width), self.filters)

    def receptive_field_path(self) -> list[tuple[int, int]]:
        """The (kernel_size, stride) pairs along the block's spatial path.

        The SE step's global mean weighs channels, not positions (see
        `cnn_guide.layers.SqueezeExcitation.receptive_field_path`).
        """
        path = [(self.kernel_size, self.strides), (1, 1)]
        return [(1, 1), *path] if self.expansion != 1 else path

    def get_config(self) -> dict:
        """Every constructor argument, for saving and `from_config`."""
        config = super().get_config()
        config.update(
            filters=self.filters,
            expansion=self.expansion,
            kernel_size=self.kernel_size,
            strides=self.strides,
            se_ratio=self.se_ratio,
            drop_rate=self.drop_rate,
            activation=self.activation,
            bn_epsilon=self.bn_epsilon,
            bn_momentum=self.bn_momentum,
        )
        return config
