"""Grouped convolution as one small convolution per group.

Krizhevsky et al. (2012) split AlexNet's convolutions into two groups to fit
two GPUs; Xie et al. (2017), "Aggregated Residual Transformations for Deep
Neural Networks", https://arxiv.org/abs/1611.05431, made the number of groups
(the *cardinality*) a design dimension: ResNeXt's 3x3 convolutions have 32.
Chapter: ``docs/chapters/resnext.md``.

``keras.layers.Conv2D(groups=g)`` computes the same function, but
TensorFlow's CPU kernels for it, its gradient above all, are far slower than
running the ``g`` group convolutions separately, slow enough to make a grouped
network impractical to train on a laptop. The ResNeXt chapter's executed
example times both on the machine that runs it and prints the ratio;
``cnn-guide bench --throughput --models resnext_fashion,resnet_fashion``
compares whole networks. `GroupedConv2D` splits the channels, convolves each
group with an ordinary ``Conv2D`` and concatenates the results: the same
parameters (``k * k * (C_in / g) * (C_out / g) * g``), the same
multiply-accumulates, the same outputs.
"""

from __future__ import annotations

import keras

from cnn_guide._validate import positive_int

__all__ = ["GroupedConv2D"]


@keras.saving.register_keras_serializable(package="cnn_guide")
class GroupedConv2D(keras.layers.Layer):
    """A 2-D convolution whose channels are split into independent groups.

    Input channel group ``i`` (of ``C_in / groups`` channels) feeds only output
    channel group ``i``, exactly as ``keras.layers.Conv2D(groups=groups)``:
    output channels are ordered group by group.

    Reference: Xie, Girshick, Dollár, Tu and He (2017), "Aggregated Residual
    Transformations for Deep Neural Networks", https://arxiv.org/abs/1611.05431.
    Chapter: ``docs/chapters/resnext.md``.

    Args:
        filters: Output channels, a multiple of ``groups``.
        kernel_size: Side of the square kernel.
        strides: Stride of every group's convolution (an int or a pair); stored
            as a ``(height, width)`` pair, as ``Conv2D`` does.
        padding: ``"valid"`` or ``"same"``.
        groups: Number of groups; the input channels must divide by it.
        use_bias: Whether each group's convolution has biases.
        kernel_initializer: Initializer of the kernels (a name or a serialized
            initializer).
        **kwargs: Base layer arguments (``name``, ``dtype``, ...).

    Raises:
        ValueError: For non-positive sizes or channels not divisible by ``groups``.
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int,
        strides: int | tuple[int, int] = 1,
        padding: str = "valid",
        groups: int = 1,
        use_bias: bool = True,
        kernel_initializer: str | dict = "glorot_uniform",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        owner = "GroupedConv2D"
        filters = positive_int(filters, "filters", owner)
        kernel_size = positive_int(kernel_size, "kernel_size", owner)
        strides = tuple(strides) if isinstance(strides, (tuple, list)) else (strides, strides)
        if len(strides) != 2:
            raise ValueError(
                f"{owner}: strides must be an int or a pair, such as 2 or (2, 1); got {strides!r}."
            )
        strides = tuple(positive_int(s, "strides", owner) for s in strides)
        groups = positive_int(groups, "groups", owner)
        if filters % groups:
            raise ValueError(
                f"GroupedConv2D: filters ({filters}) must be a multiple of groups ({groups})."
            )
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.padding = padding
        self.groups = groups
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer

    def build(self, input_shape) -> None:
        """Create one ``Conv2D`` per group."""
        channels = int(input_shape[-1])
        if channels % self.groups:
            raise ValueError(
                f"GroupedConv2D {self.name!r}: input channels ({channels}) must be a "
                f"multiple of groups ({self.groups})."
            )
        group_shape = (*tuple(input_shape)[:-1], channels // self.groups)
        self.convs = []
        for index in range(self.groups):
            conv = keras.layers.Conv2D(
                self.filters // self.groups,
                self.kernel_size,
                strides=self.strides,
                padding=self.padding,
                use_bias=self.use_bias,
                kernel_initializer=keras.initializers.get(self.kernel_initializer),
                dtype=self.dtype_policy,
                name=f"group{index}",
            )
            conv.build(group_shape)
            self.convs.append(conv)

    @property
    def kernel(self):
        """All groups' kernels in ``Conv2D(groups=...)`` layout: ``(k, k, C_in/g, C_out)``."""
        return keras.ops.concatenate([conv.kernel for conv in self.convs], axis=-1)

    def call(self, inputs):
        """Convolve each channel group on its own and concatenate the results."""
        if self.groups == 1:
            return self.convs[0](inputs)
        parts = keras.ops.split(inputs, self.groups, axis=-1)
        return keras.ops.concatenate(
            [conv(part) for conv, part in zip(self.convs, parts, strict=True)], axis=-1
        )

    def compute_output_shape(self, input_shape) -> tuple:
        """As the equivalent ``Conv2D``: spatial size by stride and padding."""
        batch, height, width, _ = input_shape

        def side(n, stride):
            if n is None:
                return None
            if self.padding == "same":
                return (n - 1) // stride + 1
            return (n - self.kernel_size) // stride + 1

        return (
            batch,
            side(height, self.strides[0]),
            side(width, self.strides[1]),
            self.filters,
        )

    def receptive_field_path(self) -> list[tuple[int, int]]:
        """One ``kernel_size`` convolution with stride ``strides``."""
        return [(self.kernel_size, self.strides[0])]

    def get_config(self) -> dict:
        """Every constructor argument, for saving."""
        config = super().get_config()
        initializer = self.kernel_initializer
        if not isinstance(initializer, (str, dict)):
            initializer = keras.initializers.serialize(initializer)
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            padding=self.padding,
            groups=self.groups,
            use_bias=self.use_bias,
            kernel_initializer=initializer,
        )
        return config
