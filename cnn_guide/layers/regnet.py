"""RegNet's X and Y blocks: a ResNeXt bottleneck with free ratios, and SE.

Radosavovic, Kosaraju, Girshick, He and Dollár (2020), "Designing Network
Design Spaces", CVPR 2020, https://arxiv.org/abs/2003.13678, Figure 4 (the X
block) and section 5 (the Y block: X with squeeze-and-excitation).
Chapter: ``docs/chapters/regnet.md``.
"""

from __future__ import annotations

import keras

from cnn_guide._validate import positive_int
from cnn_guide.layers.grouped import GroupedConv2D

__all__ = ["RegNetXBlock", "RegNetYBlock"]


def _ratio(value: object, name: str, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(
            f"{owner}: {name} must be a positive number, got {value!r}; the paper uses "
            f"{'1, 2 or 4' if name == 'bottleneck_ratio' else '0.25'}."
        )
    return float(value)


@keras.saving.register_keras_serializable(package="cnn_guide")
class RegNetXBlock(keras.layers.Layer):
    """The X block of RegNet (Radosavovic et al. 2020, Figure 4).

    ::

        x -> 1x1 (w / b) -> BN -> ReLU -> 3x3 grouped (w / b, groups of g, stride s)
          -> BN -> ReLU -> [SE] -> 1x1 (w) -> BN -> (+) -> ReLU
        |                                             ^
        +------ identity, or 1x1 conv(stride s) + BN -+

    A ResNeXt bottleneck whose inner width is the output width ``w`` divided
    by a *bottleneck ratio* ``b`` (ResNeXt-50 has ``b = 2``; the best
    RegNets have ``b = 1``), whose 3x3 convolution has groups of a fixed
    *group width* ``g`` channels (so ``w / (b g)`` groups), and whose shortcut is projected
    where the shape changes (``stride != 1`` or a new width). The grouped 3x3
    is `GroupedConv2D` (one small convolution per group, faster on CPUs than
    ``Conv2D(groups=...)``, same weights count).

    With ``se_ratio`` (`RegNetYBlock`) a squeeze-and-excitation step
    rescales the channels after the 3x3: global average pooling, a dense
    layer of ``int(w_in * se_ratio)`` units (``w_in``: the block's *input*
    width, as in the paper's code) with ReLU, and one of ``w / b`` sigmoid
    units.

    Batch normalization: epsilon 1e-5, momentum 0.9 (the paper's PyTorch
    settings, as ``keras.applications``' RegNets of Keras 2 use).

    Reference: Radosavovic, Kosaraju, Girshick, He and Dollár (2020),
    "Designing Network Design Spaces", https://arxiv.org/abs/2003.13678.
    Chapter: ``docs/chapters/regnet.md``.

    Args:
        filters: Output channels ``w``.
        group_width: Channels per group ``g`` of the 3x3 convolution; ``w / b``
            must be a multiple of it.
        strides: Stride ``s`` of the 3x3 convolution and of the projection.
        bottleneck_ratio: ``b``: the 3x3 works on ``round(w / b)`` channels.
        se_ratio: Squeeze-and-excitation width over the input width, or
            ``None`` for no SE (the X block).
        bn_epsilon: Batch normalization epsilon.
        bn_momentum: Batch normalization momentum.
        **kwargs: Base layer arguments (``name``, ``dtype``, ...).

    Raises:
        ValueError: For non-positive sizes or ratios, or an inner width that is
            not a multiple of ``group_width``.
    """

    def __init__(
        self,
        filters: int,
        group_width: int,
        strides: int = 1,
        bottleneck_ratio: float = 1.0,
        se_ratio: float | None = None,
        bn_epsilon: float = 1e-5,
        bn_momentum: float = 0.9,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.filters = positive_int(filters, "filters", owner)
        self.group_width = positive_int(group_width, "group_width", owner)
        self.strides = positive_int(strides, "strides", owner)
        self.bottleneck_ratio = _ratio(bottleneck_ratio, "bottleneck_ratio", owner)
        self.se_ratio = None if se_ratio is None else _ratio(se_ratio, "se_ratio", owner)
        self.bn_epsilon = float(bn_epsilon)
        self.bn_momentum = float(bn_momentum)
        self.inner_width = round(self.filters / self.bottleneck_ratio)
        if self.inner_width < 1 or self.inner_width % self.group_width:
            raise ValueError(
                f"{owner}: the inner width round(filters / bottleneck_ratio) = "
                f"{self.inner_width} must be a positive multiple of group_width "
                f"({self.group_width}); choose filters = k * group_width * bottleneck_ratio "
                "(cnn_guide.anynet.compatible_width rounds a width that way)."
            )

    @property
    def groups(self) -> int:
        """Number of groups of the 3x3 convolution: ``w / (b g)``."""
        return self.inner_width // self.group_width

    def _conv_bn(self, name: str, shape: tuple, filters: int, kernel: int = 1, strides: int = 1):
        conv = keras.layers.Conv2D(
            filters,
            kernel,
            strides=strides,
            padding="same",
            use_bias=False,
            kernel_initializer="he_normal",
            dtype=self.dtype_policy,
            name=f"{name}_conv",
        )
        conv.build(shape)
        out = conv.compute_output_shape(shape)
        bn = keras.layers.BatchNormalization(
            epsilon=self.bn_epsilon,
            momentum=self.bn_momentum,
            dtype=self.dtype_policy,
            name=f"{name}_bn",
        )
        bn.build(out)
        return conv, bn, out

    def build(self, input_shape) -> None:
        """Create the three convolutions, the SE step and the projection if needed."""
        input_shape = tuple(input_shape)
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__}: expects (batch, height, width, channels) inputs "
                f"with a known channel count, got shape {input_shape}."
            )
        self.input_width = int(input_shape[-1])
        self.a_conv, self.a_bn, shape = self._conv_bn("a", input_shape, self.inner_width)
        self.b_conv = GroupedConv2D(
            self.inner_width,
            3,
            strides=self.strides,
            padding="same",
            groups=self.groups,
            use_bias=False,
            kernel_initializer="he_normal",
            dtype=self.dtype_policy,
            name="b_conv",
        )
        self.b_conv.build(shape)
        shape = self.b_conv.compute_output_shape(shape)
        self.b_bn = keras.layers.BatchNormalization(
            epsilon=self.bn_epsilon, momentum=self.bn_momentum, dtype=self.dtype_policy, name="b_bn"
        )
        self.b_bn.build(shape)
        self.se_reduce = self.se_expand = None
        if self.se_ratio is not None:
            units = max(1, int(self.input_width * self.se_ratio))
            self.se_reduce = keras.layers.Dense(
                units, activation="relu", dtype=self.dtype_policy, name="se_reduce"
            )
            self.se_expand = keras.layers.Dense(
                self.inner_width, activation="sigmoid", dtype=self.dtype_policy, name="se_expand"
            )
            self.se_reduce.build((None, self.inner_width))
            self.se_expand.build((None, units))
        self.c_conv, self.c_bn, _ = self._conv_bn("c", shape, self.filters)
        self.projection = self.strides != 1 or self.input_width != self.filters
        if self.projection:
            self.proj_conv, self.proj_bn, _ = self._conv_bn(
                "proj", input_shape, self.filters, strides=self.strides
            )

    def _inner(self, inputs, training):
        x = keras.ops.relu(self.a_bn(self.a_conv(inputs), training=training))
        return keras.ops.relu(self.b_bn(self.b_conv(x), training=training))

    def _excitation(self, x):
        return self.se_expand(self.se_reduce(keras.ops.mean(x, axis=(1, 2))))

    def call(self, inputs, training=None):
        """``relu(F(x) + shortcut(x))``."""
        x = self._inner(inputs, training)
        if self.se_ratio is not None:
            x = x * self._excitation(x)[:, None, None, :]
        x = self.c_bn(self.c_conv(x), training=training)
        shortcut = inputs
        if self.projection:
            shortcut = self.proj_bn(self.proj_conv(inputs), training=training)
        return keras.ops.relu(x + shortcut)

    def channel_weights(self, inputs):
        """The SE step's ``(batch, w / b)`` channel weights for the block's ``inputs``.

        Runs the first two convolutions in inference mode, then the squeeze
        and excitation (so `cnn_guide.layers.se_channel_weights` reads Y blocks).

        Raises:
            ValueError: For a block without SE (``se_ratio=None``).
        """
        if self.se_ratio is None:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} has no squeeze-and-excitation step; "
                "build it with se_ratio=0.25 (a RegNetYBlock)."
            )
        if not self.built:
            self.build(inputs.shape)
        return self._excitation(self._inner(inputs, False))

    def compute_output_shape(self, input_shape) -> tuple:
        """Height and width divided by ``strides`` (rounded up), ``filters`` channels."""
        batch, height, width = tuple(input_shape)[:3]

        def side(n):
            return None if n is None else -(-n // self.strides)

        return (batch, side(height), side(width), self.filters)

    def receptive_field_path(self) -> list[tuple[int, int]]:
        """``[(1, 1), (3, strides), (1, 1)]``: the 3x3 carries the stride."""
        return [(1, 1), (3, self.strides), (1, 1)]

    def get_config(self) -> dict:
        """Every constructor argument, for saving."""
        config = super().get_config()
        config.update(
            filters=self.filters,
            group_width=self.group_width,
            strides=self.strides,
            bottleneck_ratio=self.bottleneck_ratio,
            se_ratio=self.se_ratio,
            bn_epsilon=self.bn_epsilon,
            bn_momentum=self.bn_momentum,
        )
        return config


@keras.saving.register_keras_serializable(package="cnn_guide")
class RegNetYBlock(RegNetXBlock):
    """The Y block of RegNet: the X block with squeeze-and-excitation (ratio 0.25).

    Section 5 of Radosavovic et al. (2020): adding SE (Hu et al. 2018) to
    the X block after its grouped 3x3, with ``int(0.25 * w_in)`` hidden
    units, gives RegNetY, the stronger of the two families at every cost.
    Everything else is `RegNetXBlock`.

    Reference: Radosavovic, Kosaraju, Girshick, He and Dollár (2020),
    "Designing Network Design Spaces", https://arxiv.org/abs/2003.13678.
    Chapter: ``docs/chapters/regnet.md``.

    Args:
        filters: Output channels ``w``.
        group_width: Channels per group ``g`` of the 3x3 convolution.
        strides: Stride of the 3x3 convolution and of the projection.
        bottleneck_ratio: ``b``.
        se_ratio: Squeeze-and-excitation width over the input width.
        **kwargs: `RegNetXBlock`'s other arguments and base layer arguments.
    """

    def __init__(
        self,
        filters: int,
        group_width: int,
        strides: int = 1,
        bottleneck_ratio: float = 1.0,
        se_ratio: float = 0.25,
        **kwargs,
    ) -> None:
        if se_ratio is None:
            raise ValueError(
                "RegNetYBlock: se_ratio must be a positive number (0.25 in the paper), "
                "got None; use RegNetXBlock for a block without SE."
            )
        super().__init__(
            filters, group_width, strides, bottleneck_ratio, se_ratio=se_ratio, **kwargs
        )
