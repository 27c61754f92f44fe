"""MobileNetV2's inverted residual block with a linear bottleneck.

Sandler, M., Howard, A., Zhu, M., Zhmoginov, A. and Chen, L.-C. (2018).
*MobileNetV2: Inverted Residuals and Linear Bottlenecks*. CVPR 2018.
https://arxiv.org/abs/1801.04381

A ResNet bottleneck is wide - narrow - wide with the shortcut between the wide
ends; MobileNetV2 inverts it: narrow - wide - narrow, with the shortcut between
the narrow ends. The wide middle is cheap because its 3x3 convolution is
depthwise, and the last 1x1 projection is *linear* (no ReLU): a ReLU in a
low-dimensional space destroys information the next block cannot recover.

Chapter: ``docs/chapters/mobilenet.md``.
"""

from __future__ import annotations

import keras

from cnn_guide._validate import boolean, positive_int

__all__ = ["InvertedResidual"]


@keras.saving.register_keras_serializable(package="cnn_guide")
class InvertedResidual(keras.layers.Layer):
    """MobileNetV2's bottleneck: expand - depthwise - linear projection.

    ```
    x ──> Conv1x1 (t*C_in) ─ BN ─ ReLU6 ──> DW 3x3 /s ─ BN ─ ReLU6 ──>
          Conv1x1 (C_out) ─ BN (linear) ──> (+ x, if s = 1 and C_in = C_out)
    ```

    With ``expansion=1`` there is no expansion convolution (the network's
    first block). The residual connection is added only when the stride is 1
    and the channel count is unchanged, as in Table 1 of the paper.

    Cost per output pixel at stride 1, with hidden width ``h = t*C_in``:
    ``C_in*h + k*k*h + h*C_out`` multiply-accumulates (expansion, depthwise,
    projection). The depthwise term is the small one: for ``t = 6`` and
    ``C_in = C_out = 96`` the block costs ``55,296 + 5,184 + 55,296 = 115,776``,
    where a regular 3x3 convolution at the hidden width would cost
    ``9*576*576 = 2,985,984`` on its own. ``separable=False`` builds that
    regular convolution (``depthwise`` is then a ``Conv2D``), for the
    comparison.

    Reference: Sandler et al. (2018), "MobileNetV2: Inverted Residuals and
    Linear Bottlenecks", https://arxiv.org/abs/1801.04381, Figure 3 and
    Table 1.

    Chapter: ``docs/chapters/mobilenet.md``.

    Args:
        filters: Output channels ``C_out`` of the linear projection.
        expansion: Expansion factor ``t``: the hidden width is ``t * C_in``.
        strides: Stride of the depthwise convolution (1 or 2).
        kernel_size: Side of the depthwise kernel.
        linear_bottleneck: ``True`` (the paper) for no activation after the
            projection; ``False`` adds a ReLU6 there (the paper's Figure 6a
            ablation).
        separable: ``True`` (the paper) for a depthwise 3x3; ``False`` for a
            regular ``k x k`` convolution from and to the hidden width.
        bn_epsilon: Epsilon of the batch normalizations (1e-3 in Keras'
            MobileNetV2).
        bn_momentum: Momentum of the batch normalizations (0.999 in Keras'
            MobileNetV2; 0.99 adapts faster in short trainings).
        **kwargs: Standard layer arguments (``name``, ``dtype``, ...).
    """

    def __init__(
        self,
        filters: int,
        expansion: int = 6,
        strides: int = 1,
        kernel_size: int = 3,
        linear_bottleneck: bool = True,
        separable: bool = True,
        bn_epsilon: float = 1e-3,
        bn_momentum: float = 0.999,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.filters = positive_int(filters, "filters", self.name)
        self.expansion = positive_int(expansion, "expansion", self.name)
        if strides not in (1, 2):
            raise ValueError(f"{self.name}: strides must be 1 or 2, got {strides!r}.")
        self.strides = strides
        self.kernel_size = positive_int(kernel_size, "kernel_size", self.name)
        self.linear_bottleneck = bool(linear_bottleneck)
        self.separable = boolean(separable, "separable", self.name)
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
        in_channels = input_shape[-1]
        shape = tuple(input_shape)
        self.expand = self.expand_bn = self.expand_relu = None
        if self.expansion != 1:
            self.expand = keras.layers.Conv2D(
                self.expansion * in_channels,
                1,
                use_bias=False,
                dtype=policy,
                name="expand",
            )
            self.expand_bn = keras.layers.BatchNormalization(**bn_args, name="expand_bn")
            self.expand_relu = keras.layers.ReLU(6.0, dtype=policy, name="expand_relu")
            self.expand.build(shape)
            shape = self.expand.compute_output_shape(shape)
            self.expand_bn.build(shape)
        # "same" padding at stride 2 pads like Keras' correct_pad + "valid".
        spatial = {"strides": self.strides, "padding": "same", "use_bias": False, "dtype": policy}
        if self.separable:
            self.depthwise = keras.layers.DepthwiseConv2D(
                self.kernel_size, **spatial, name="depthwise"
            )
        else:
            self.depthwise = keras.layers.Conv2D(
                shape[-1], self.kernel_size, **spatial, name="conv"
            )
        self.depthwise_bn = keras.layers.BatchNormalization(**bn_args, name="depthwise_bn")
        self.depthwise_relu = keras.layers.ReLU(6.0, dtype=policy, name="depthwise_relu")
        self.depthwise.build(shape)
        shape = self.depthwise.compute_output_shape(shape)
        self.depthwise_bn.build(shape)
        self.project = keras.layers.Conv2D(
            self.filters, 1, use_bias=False, dtype=policy, name="project"
        )
        self.project_bn = keras.layers.BatchNormalization(**bn_args, name="project_bn")
        self.project.build(shape)
        self.project_bn.build(self.project.compute_output_shape(shape))
        self.project_relu = (
            None
            if self.linear_bottleneck
            else keras.layers.ReLU(6.0, dtype=policy, name="project_relu")
        )
        self.use_residual = self.strides == 1 and in_channels == self.filters
        self.merge = keras.layers.Add(dtype=policy, name="add") if self.use_residual else None

    def call(self, inputs, training=None):
        """Apply the block; ``training`` switches batch normalization."""
        x = inputs
        if self.expand is not None:
            x = self.expand_relu(self.expand_bn(self.expand(x), training=training))
        x = self.depthwise_relu(self.depthwise_bn(self.depthwise(x), training=training))
        x = self.project_bn(self.project(x), training=training)
        if self.project_relu is not None:
            x = self.project_relu(x)
        if self.merge is not None:
            x = self.merge([inputs, x])
        return x

    def compute_output_shape(self, input_shape):
        """The output shape for an input of ``input_shape``."""
        batch, height, width, _ = input_shape

        def side(n):
            return None if n is None else -(-n // self.strides)

        return (batch, side(height), side(width), self.filters)

    def receptive_field_path(self) -> list[tuple[int, int]]:
        """The (kernel_size, stride) pairs along the block's spatial path."""
        path = [(self.kernel_size, self.strides), (1, 1)]
        return [(1, 1), *path] if self.expansion != 1 else path

    def get_config(self) -> dict:
        """Every constructor argument, for saving and `from_config`."""
        config = super().get_config()
        config.update(
            filters=self.filters,
            expansion=self.expansion,
            strides=self.strides,
            kernel_size=self.kernel_size,
            linear_bottleneck=self.linear_bottleneck,
            separable=self.separable,
            bn_epsilon=self.bn_epsilon,
            bn_momentum=self.bn_momentum,
        )
        return config
