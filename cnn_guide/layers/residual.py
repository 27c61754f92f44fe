"""Residual units of ResNet, reused by ResNeXt and SENet.

He, Zhang, Ren and Sun (2015), "Deep Residual Learning for Image Recognition",
https://arxiv.org/abs/1512.03385, section 3 and Figure 5.
Chapter: ``docs/chapters/resnet.md``.

A residual unit computes ``relu(F(x) + shortcut(x))``: the stacked layers
``F`` only have to learn a correction to their input, and the identity
shortcut gives the gradient a path that skips them. Both units here follow
the paper's "option B": an identity shortcut where the shapes match and a
projection (1x1 convolution + batch normalization) where the stride or the
channel count changes.

Padding: a strided convolution is preceded by an explicit symmetric zero
padding of ``kernel_size // 2``, as in the paper's Torch code and
torchvision, because Keras' ``padding="same"`` pads a stride-2 convolution
asymmetrically (more at the bottom and right). Stride-1 convolutions use
``"same"``, which is symmetric for odd kernels.

Sublayers, as attributes and weight paths (``<unit>/<sublayer>/kernel``):
``branch1_conv``/``branch1_bn``, ``branch2_...`` (and ``branch3_...`` in the
bottleneck unit) along the residual branch, with ``branchN_pad`` where a
strided convolution is padded; ``shortcut_conv``/``shortcut_bn`` for a
projection (``None`` for an identity shortcut); ``se`` for the
squeeze-and-excitation block (``None`` without one). They mirror Keras'
``<unit>_1_conv``, ``_2_``, ``_3_`` and ``_0_`` (shortcut) layer names, so
weights can be copied from ``keras.applications`` (see ``resnet50``).
"""

from __future__ import annotations

import keras

from cnn_guide._validate import positive_int
from cnn_guide.layers.grouped import GroupedConv2D
from cnn_guide.layers.squeeze_excitation import SqueezeExcitation

__all__ = ["BasicResidualUnit", "BottleneckResidualUnit"]


def _strided_side(side: int | None, stride: int) -> int | None:
    # A k x k convolution with padding k // 2 (odd k) and stride s, and a
    # 1x1 "valid" one, both give ceil(side / s) = (side - 1) // s + 1.
    return None if side is None else (side - 1) // stride + 1


class _ResidualUnit(keras.layers.Layer):
    """What both units share: validation, conv steps, shortcut, SE and the sum.

    Subclasses set ``output_channels`` and implement ``_build_branch`` (create
    the residual branch's layers, return its output shape) and
    ``_residual`` (run the branch up to its last batch normalization).
    """

    def __init__(
        self,
        filters: int,
        *,
        stride: int = 1,
        groups: int = 1,
        use_bias: bool = False,
        se_ratio: int | None = None,
        skip_connections: bool = True,
        bn_epsilon: float = 1e-5,
        bn_momentum: float = 0.9,
        kernel_initializer: str | dict = "he_normal",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        owner = type(self).__name__
        filters = positive_int(filters, "filters", owner)
        stride = positive_int(stride, "stride", owner)
        groups = positive_int(groups, "groups", owner)
        if se_ratio is not None:
            se_ratio = positive_int(se_ratio, "se_ratio", owner)
        if not bn_epsilon > 0:
            raise ValueError(f"{owner}: bn_epsilon must be positive, got {bn_epsilon!r}.")
        if not 0.0 <= bn_momentum < 1.0:
            raise ValueError(f"{owner}: bn_momentum must be in [0, 1), got {bn_momentum!r}.")
        self.filters = filters
        self.stride = stride
        self.groups = groups
        self.use_bias = bool(use_bias)
        self.se_ratio = se_ratio
        self.skip_connections = bool(skip_connections)
        self.bn_epsilon = float(bn_epsilon)
        self.bn_momentum = float(bn_momentum)
        self.kernel_initializer = keras.initializers.serialize(
            keras.initializers.get(kernel_initializer)
        )
        self.shortcut_kernel_size = 1

    @property
    def output_channels(self) -> int:
        """Channels of the unit's output."""
        raise NotImplementedError

    def _check_groups(self, arg: str, channels: int) -> None:
        if channels % self.groups:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: {arg} ({channels}) must be "
                f"divisible by groups ({self.groups}); choose a width that is a "
                "multiple of groups."
            )

    def _make_step(
        self,
        step: str,
        input_shape: tuple,
        filters: int,
        kernel_size: int,
        *,
        stride: int = 1,
        groups: int = 1,
    ) -> tuple:
        """Create one convolution step and return its output shape.

        The step's layers are the attributes (and sublayer names)
        ``<step>_pad`` (``None`` unless the convolution is strided and wider
        than 1x1), ``<step>_conv`` and ``<step>_bn``.
        """
        padding = "valid" if kernel_size == 1 else "same"
        pad = None
        if stride > 1 and kernel_size > 1:
            pad = keras.layers.ZeroPadding2D(
                kernel_size // 2, dtype=self.dtype_policy, name=f"{step}_pad"
            )
            padding = "valid"
        if groups > 1:
            # Same function as Conv2D(groups=...), ~200x faster on CPUs.
            conv = GroupedConv2D(
                filters,
                kernel_size,
                strides=stride,
                padding=padding,
                groups=groups,
                use_bias=self.use_bias,
                kernel_initializer=self.kernel_initializer,
                dtype=self.dtype_policy,
                name=f"{step}_conv",
            )
        else:
            conv = keras.layers.Conv2D(
                filters,
                kernel_size,
                strides=stride,
                padding=padding,
                use_bias=self.use_bias,
                kernel_initializer=keras.initializers.deserialize(self.kernel_initializer),
                dtype=self.dtype_policy,
                name=f"{step}_conv",
            )
        bn = keras.layers.BatchNormalization(
            epsilon=self.bn_epsilon,
            momentum=self.bn_momentum,
            dtype=self.dtype_policy,
            name=f"{step}_bn",
        )
        setattr(self, f"{step}_pad", pad)
        setattr(self, f"{step}_conv", conv)
        setattr(self, f"{step}_bn", bn)
        shape = tuple(input_shape)
        if pad is not None:
            pad.build(shape)
            shape = pad.compute_output_shape(shape)
        conv.build(shape)
        shape = conv.compute_output_shape(shape)
        bn.build(shape)
        return tuple(shape)

    def _step(self, step: str, x, training):
        pad = getattr(self, f"{step}_pad")
        if pad is not None:
            x = pad(x)
        x = getattr(self, f"{step}_conv")(x)
        return getattr(self, f"{step}_bn")(x, training=training)

    def _build_branch(self, input_shape: tuple) -> tuple:
        raise NotImplementedError

    def _residual(self, inputs, training=None):
        raise NotImplementedError

    def build(self, input_shape) -> None:
        """Create the branch, the projection shortcut if needed, and the SE block."""
        input_shape = tuple(input_shape)
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__}: expects (batch, height, width, channels) "
                f"inputs with a known channel count, got shape {input_shape}."
            )
        branch_shape = self._build_branch(input_shape)
        # Option B of the paper: project only where the shape changes.
        needs_projection = self.stride != 1 or input_shape[-1] != self.output_channels
        self.shortcut_pad = self.shortcut_conv = self.shortcut_bn = None
        if self.skip_connections and needs_projection:
            self._make_step(
                "shortcut",
                input_shape,
                self.output_channels,
                self.shortcut_kernel_size,
                stride=self.stride,
            )
        self.se = None
        if self.se_ratio is not None:
            self.se = SqueezeExcitation(self.se_ratio, dtype=self.dtype_policy, name="se")
            self.se.build(branch_shape)

    def _shortcut(self, inputs, training):
        if self.shortcut_conv is None:
            return inputs
        return self._step("shortcut", inputs, training)

    def call(self, inputs, training=None):
        """``relu(SE(F(x)) + shortcut(x))``, or ``relu(SE(F(x)))`` without skips."""
        x = self._residual(inputs, training=training)
        if self.se is not None:
            x = self.se(x)
        if self.skip_connections:
            x = x + self._shortcut(inputs, training)
        return keras.ops.relu(x)

    def channel_weights(self, inputs):
        """The SE block's ``(batch, C)`` channel weights for the unit's ``inputs``.

        Runs the residual branch in inference mode, then the SE block's
        squeeze and excitation (see `SqueezeExcitation.channel_weights`).

        Raises:
            ValueError: If the unit has no SE block (``se_ratio=None``).
        """
        if self.se_ratio is None:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} has no squeeze-and-excitation "
                "block; build it with se_ratio=16 (or another ratio)."
            )
        if not self.built:
            self.build(inputs.shape)
        return self.se.channel_weights(self._residual(inputs, training=False))

    def compute_output_shape(self, input_shape):
        """Height and width divided by ``stride`` (rounded up), ``output_channels``."""
        batch, height, width = tuple(input_shape)[:3]
        return (
            batch,
            _strided_side(height, self.stride),
            _strided_side(width, self.stride),
            self.output_channels,
        )

    def get_config(self) -> dict:
        """Every constructor argument, for saving."""
        config = super().get_config()
        config.update(
            filters=self.filters,
            stride=self.stride,
            groups=self.groups,
            use_bias=self.use_bias,
            se_ratio=self.se_ratio,
            skip_connections=self.skip_connections,
            bn_epsilon=self.bn_epsilon,
            bn_momentum=self.bn_momentum,
            kernel_initializer=self.kernel_initializer,
        )
        return config


@keras.saving.register_keras_serializable(package="cnn_guide")
class BasicResidualUnit(_ResidualUnit):
    """The basic residual unit of ResNet-18/34 (He et al. 2015, Figure 5 left).

    Two 3x3 convolutions, each followed by batch normalization, with a ReLU
    between them and another after the addition::

        x -> conv3x3(stride) -> BN -> ReLU -> conv3x3 -> BN -> [SE] -> (+) -> ReLU
        |                                                            ^
        +------------- identity, or 1x1 conv(stride) + BN -----------+

    The shortcut is the identity when the unit keeps the shape and a
    projection (1x1 convolution with the unit's stride, then batch
    normalization; the paper's option B) when ``stride > 1`` or the channel
    count changes. With ``se_ratio`` a squeeze-and-excitation block rescales
    the branch before the addition (SENet). With ``skip_connections=False``
    the unit is the paper's "plain" counterpart: the same convolutions with no
    shortcut at all (and no projection), ``relu(BN(conv(...)))``.

    Reference: He, Zhang, Ren and Sun (2015), "Deep Residual Learning for Image
    Recognition", https://arxiv.org/abs/1512.03385.
    Chapter: ``docs/chapters/resnet.md``.

    Args:
        filters: Output channels of both convolutions (and of the unit).
        stride: Stride of the first 3x3 convolution and of the projection.
        groups: Groups of both 3x3 convolutions (1 = ordinary convolutions);
            must divide the input channels and ``filters``.
        use_bias: Whether the convolutions have biases. The paper's and
            torchvision's do not (batch normalization's offset makes them
            redundant); Keras' applications keep them.
        se_ratio: Reduction ratio of a squeeze-and-excitation block on the
            residual branch, or ``None`` for none.
        skip_connections: ``False`` removes the shortcut, giving a plain unit.
        bn_epsilon: Batch normalization epsilon (1e-5 as in PyTorch; Keras'
            applications use 1.001e-5).
        bn_momentum: Batch normalization moving-average momentum, Keras
            convention (0.9 is PyTorch's ``momentum=0.1``).
        kernel_initializer: Initializer of the convolution kernels (He et al.
            2015 initialization by default).
        **kwargs: Base ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Raises:
        ValueError: For a non-positive ``filters``, ``stride``, ``groups`` or
            ``se_ratio``, or (when built) channels not divisible by ``groups``.
    """

    @property
    def output_channels(self) -> int:
        """Channels of the unit's output: ``filters``."""
        return self.filters

    def _build_branch(self, input_shape: tuple) -> tuple:
        self._check_groups("the input channel count", int(input_shape[-1]))
        self._check_groups("filters", self.filters)
        shape = self._make_step(
            "branch1",
            input_shape,
            self.filters,
            3,
            stride=self.stride,
            groups=self.groups,
        )
        return self._make_step("branch2", shape, self.filters, 3, groups=self.groups)

    def _residual(self, inputs, training=None):
        x = keras.ops.relu(self._step("branch1", inputs, training))
        return self._step("branch2", x, training)

    def receptive_field_path(self) -> list[tuple[int, int]]:
        """``[(3, stride), (3, 1)]``: the two 3x3 convolutions."""
        return [(3, self.stride), (3, 1)]


@keras.saving.register_keras_serializable(package="cnn_guide")
class BottleneckResidualUnit(_ResidualUnit):
    """The bottleneck unit of ResNet-50/101/152 (He et al. 2015, Figure 5 right).

    A 1x1 convolution reduces the channels, a 3x3 works at the reduced width,
    and a 1x1 expands to ``expansion * filters`` channels (4x by default),
    each followed by batch normalization, with ReLUs between them and after
    the addition::

        x -> 1x1 (reduce_width) -> BN -> ReLU -> 3x3 (width, stride, groups) -> BN
          -> ReLU -> 1x1 (expansion * filters) -> BN -> [SE] -> (+) -> ReLU
        |                                                         ^
        +---------- identity, or 1x1 conv(stride) + BN -----------+

    Stride placement: by default the stride is on the 3x3 convolution, as in
    torchvision ("ResNet v1.5"); the paper's Caffe models and
    ``keras.applications.ResNet50`` put it on the first 1x1
    (``stride_in_1x1=True``), which skips three quarters of the input
    positions before any 3x3 sees them. The parameter count is the same
    either way; v1.5 is slightly more accurate and slower.

    The same unit makes ResNeXt (Xie et al. 2017): ``groups`` is the
    cardinality and ``width`` the total width of the grouped 3x3 (ResNeXt-50
    32x4d: ``filters=64, width=128, groups=32`` in its first stage). SENet-154
    also sets ``reduce_width`` (its first 1x1 is half as wide as its 3x3) and
    ``shortcut_kernel_size=3``. With ``se_ratio`` a squeeze-and-excitation
    block rescales the branch before the addition (SE-ResNet, Hu et al. 2018).

    Reference: He, Zhang, Ren and Sun (2015), "Deep Residual Learning for Image
    Recognition", https://arxiv.org/abs/1512.03385; Xie, Girshick, Dollár, Tu
    and He (2017), "Aggregated Residual Transformations for Deep Neural
    Networks", https://arxiv.org/abs/1611.05431.
    Chapter: ``docs/chapters/resnet.md``.

    Args:
        filters: Bottleneck channels; the unit outputs ``expansion * filters``.
        stride: Stride of the unit (on the 3x3, or the first 1x1 with
            ``stride_in_1x1``) and of the projection.
        width: Output channels of the 3x3 convolution; ``None`` means
            ``filters``.
        reduce_width: Output channels of the first 1x1 convolution (the 3x3's
            input); ``None`` means ``width``.
        groups: Groups of the 3x3 convolution (ResNeXt's cardinality); must
            divide ``reduce_width`` and ``width``.
        expansion: Output channels per bottleneck channel (4 in the paper).
        stride_in_1x1: Put the stride on the first 1x1 convolution (ResNet v1,
            Keras) instead of the 3x3 (v1.5, torchvision).
        shortcut_kernel_size: Kernel of the projection shortcut (1 in the
            paper; SENet-154 uses 3 where the unit downsamples).
        use_bias: Whether the convolutions have biases (Keras' applications
            keep them; the paper and torchvision do not).
        se_ratio: Reduction ratio of a squeeze-and-excitation block on the
            residual branch, or ``None`` for none.
        skip_connections: ``False`` removes the shortcut, giving a plain unit.
        bn_epsilon: Batch normalization epsilon.
        bn_momentum: Batch normalization momentum, Keras convention.
        kernel_initializer: Initializer of the convolution kernels.
        **kwargs: Base ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Raises:
        ValueError: For a non-positive size, stride, ``groups`` or ``se_ratio``,
            a shortcut kernel that is not 1 or 3, or widths not divisible by
            ``groups``.
    """

    def __init__(
        self,
        filters: int,
        *,
        stride: int = 1,
        width: int | None = None,
        reduce_width: int | None = None,
        groups: int = 1,
        expansion: int = 4,
        stride_in_1x1: bool = False,
        shortcut_kernel_size: int = 1,
        use_bias: bool = False,
        se_ratio: int | None = None,
        skip_connections: bool = True,
        bn_epsilon: float = 1e-5,
        bn_momentum: float = 0.9,
        kernel_initializer: str | dict = "he_normal",
        **kwargs,
    ) -> None:
        super().__init__(
            filters,
            stride=stride,
            groups=groups,
            use_bias=use_bias,
            se_ratio=se_ratio,
            skip_connections=skip_connections,
            bn_epsilon=bn_epsilon,
            bn_momentum=bn_momentum,
            kernel_initializer=kernel_initializer,
            **kwargs,
        )
        owner = type(self).__name__
        if width is not None:
            width = positive_int(width, "width", owner)
        if reduce_width is not None:
            reduce_width = positive_int(reduce_width, "reduce_width", owner)
        expansion = positive_int(expansion, "expansion", owner)
        if shortcut_kernel_size not in (1, 3):
            raise ValueError(
                f"{owner}: shortcut_kernel_size must be 1 or 3, got {shortcut_kernel_size!r}."
            )
        self.width = width
        self.reduce_width = reduce_width
        self.expansion = expansion
        self.stride_in_1x1 = bool(stride_in_1x1)
        self.shortcut_kernel_size = shortcut_kernel_size
        self._check_groups("width", self.inner_width)
        self._check_groups("reduce_width", self.inner_reduce_width)

    @property
    def inner_width(self) -> int:
        """Output channels of the 3x3 convolution."""
        return self.filters if self.width is None else self.width

    @property
    def inner_reduce_width(self) -> int:
        """Output channels of the first 1x1 convolution."""
        return self.inner_width if self.reduce_width is None else self.reduce_width

    @property
    def output_channels(self) -> int:
        """Channels of the unit's output: ``expansion * filters``."""
        return self.expansion * self.filters

    def _build_branch(self, input_shape: tuple) -> tuple:
        stride_1x1, stride_3x3 = (self.stride, 1) if self.stride_in_1x1 else (1, self.stride)
        shape = self._make_step(
            "branch1", input_shape, self.inner_reduce_width, 1, stride=stride_1x1
        )
        shape = self._make_step(
            "branch2", shape, self.inner_width, 3, stride=stride_3x3, groups=self.groups
        )
        return self._make_step("branch3", shape, self.output_channels, 1)

    def _residual(self, inputs, training=None):
        x = keras.ops.relu(self._step("branch1", inputs, training))
        x = keras.ops.relu(self._step("branch2", x, training))
        return self._step("branch3", x, training)

    def receptive_field_path(self) -> list[tuple[int, int]]:
        """``[(1, 1), (3, stride), (1, 1)]``, or ``[(1, stride), (3, 1), (1, 1)]``."""
        if self.stride_in_1x1:
            return [(1, self.stride), (3, 1), (1, 1)]
        return [(1, 1), (3, self.stride), (1, 1)]

    def get_config(self) -> dict:
        """Every constructor argument, for saving."""
        config = super().get_config()
        config.update(
            width=self.width,
            reduce_width=self.reduce_width,
            expansion=self.expansion,
            stride_in_1x1=self.stride_in_1x1,
            shortcut_kernel_size=self.shortcut_kernel_size,
        )
        return config
