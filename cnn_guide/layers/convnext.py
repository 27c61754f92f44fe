"""The ConvNeXt block: a ResNet unit redesigned after the vision transformers.

Liu, Z., Mao, H., Wu, C.-Y., Feichtenhofer, C., Darrell, T. and Xie, S.
(2022). *A ConvNet for the 2020s*. CVPR 2022. https://arxiv.org/abs/2201.03545

The block mixes space and channels in separate steps, as a transformer block
does with its self-attention and its MLP: a 7x7 depthwise convolution (each
channel filtered on its own, like attention's weighted sum within a channel),
then an "inverted bottleneck" MLP of two 1x1 convolutions, four times wider in
the middle, with a single normalization (LayerNorm) and a single activation
(GELU). A learned per-channel *layer scale*, initialized at 1e-6, makes each
block start close to the identity; stochastic depth drops the whole residual
branch of a sample during training.

Chapter: ``docs/chapters/convnext.md``.
"""

from __future__ import annotations

import keras

from cnn_guide._validate import positive_int

__all__ = ["ConvNeXtBlock", "LayerScale"]


def _rate(value: object, what: str, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(
            f"{owner}: {what} must be a number in [0, 1), got {value!r}; the paper uses 0.1 "
            "for ConvNeXt-T and 0 turns it off."
        )
    return float(value)


@keras.saving.register_keras_serializable(package="cnn_guide")
class LayerScale(keras.layers.Layer):
    """Multiply each channel by a learned factor, initialized at ``init_value``.

    Touvron, Cord, Sablayrolles, Synnaeve and Jégou (2021), "Going deeper with
    Image Transformers" (CaiT), https://arxiv.org/abs/2103.17239, section 3;
    used in every ConvNeXt block (Liu et al. 2022, section 2.6). At 1e-6 the
    residual branch starts almost switched off, so a deep stack of blocks
    starts close to the identity and learns how much of each branch to let
    through.

    Chapter: ``docs/chapters/convnext.md``.

    Args:
        init_value: The factors' initial value, positive.
        **kwargs: Standard layer arguments (``name``, ``dtype``, ...).
    """

    def __init__(self, init_value: float = 1e-6, **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(init_value, bool) or not isinstance(init_value, (int, float)):
            raise ValueError(f"{self.name}: init_value must be a number, got {init_value!r}.")
        if not init_value > 0:
            raise ValueError(
                f"{self.name}: init_value must be positive, got {init_value!r}; the paper "
                "uses 1e-6."
            )
        self.init_value = float(init_value)

    def build(self, input_shape) -> None:
        """Create one factor per channel (the last axis of ``input_shape``)."""
        self.gamma = self.add_weight(
            shape=(input_shape[-1],),
            initializer=keras.initializers.Constant(self.init_value),
            name="gamma",
        )

    def call(self, inputs):
        """Scale each channel of ``inputs``."""
        return inputs * self.gamma

    def compute_output_shape(self, input_shape):
        """The shape of the input: scaling changes no shape."""
        return input_shape

    def get_config(self) -> dict:
        """Every constructor argument, for saving and `from_config`."""
        return {**super().get_config(), "init_value": self.init_value}


@keras.saving.register_keras_serializable(package="cnn_guide")
class ConvNeXtBlock(keras.layers.Layer):
    """ConvNeXt's block (Liu et al. 2022, Figure 4): depthwise 7x7, LayerNorm, MLP.

    ```
    x ──> DW 7x7 (C) ─ LayerNorm ─ 1x1 (4C) ─ GELU ─ 1x1 (C) ─ layer scale
      │                                                          ─ drop path ──> (+) ──>
      └──────────────────────────────────────────────────────────────────────────┘
    ```

    Input and output have the same shape: the block keeps the resolution and
    the channels ``C`` (ConvNeXt downsamples between stages, with separate
    layers). Nothing follows the addition. The 1x1 convolutions are ``Dense``
    layers applied to every pixel, as in the paper's code and in
    ``keras.applications``; the depthwise convolution and the 1x1s have
    biases; LayerNorm's epsilon is 1e-6.

    Per pixel the block costs ``k*k*C + 2*e*C*C`` multiply-accumulates
    (``k = 7``, ``e = 4``): the depthwise filter is a small share,
    ``49*C`` against ``8*C*C``, as soon as ``C`` is more than a few channels.
    Its weights: ``(k*k + 1)*C`` in the depthwise convolution, ``2*C`` in the
    LayerNorm, ``(C + 1)*e*C + (e*C + 1)*C`` in the two 1x1s and ``C`` in the
    layer scale.

    Sublayers (attributes and weight paths ``<block>/<name>/...``):
    ``depthwise``, ``norm``, ``expand``, ``activation``, ``project``,
    ``layer_scale`` (``None`` without one); their weights come in the order
    of ``keras.applications``' ConvNeXt block.

    Reference: Liu, Mao, Wu, Feichtenhofer, Darrell and Xie (2022), "A
    ConvNet for the 2020s", https://arxiv.org/abs/2201.03545, section 2 and
    Figure 4.

    Chapter: ``docs/chapters/convnext.md``.

    Args:
        kernel_size: Side of the depthwise kernel (7 in the paper).
        expansion: Width of the MLP's middle, in multiples of ``C`` (4).
        layer_scale_init: Initial value of the layer scale, or ``None`` for
            no layer scale (the paper uses 1e-6).
        drop_path_rate: Probability of dropping the residual branch of a
            sample in training (stochastic depth; Huang et al. 2016); the
            kept branches are divided by ``1 - drop_path_rate``.
        norm_epsilon: Epsilon of the LayerNorm.
        seed: Seed of the stochastic depth's random draws.
        **kwargs: Standard layer arguments (``name``, ``dtype``, ...).
    """

    def __init__(
        self,
        kernel_size: int = 7,
        expansion: int = 4,
        layer_scale_init: float | None = 1e-6,
        drop_path_rate: float = 0.0,
        norm_epsilon: float = 1e-6,
        seed: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.kernel_size = positive_int(kernel_size, "kernel_size", self.name)
        self.expansion = positive_int(expansion, "expansion", self.name)
        if layer_scale_init is not None:
            layer_scale_init = LayerScale(layer_scale_init).init_value  # checks it
        self.layer_scale_init = layer_scale_init
        self.drop_path_rate = _rate(drop_path_rate, "drop_path_rate", self.name)
        if not norm_epsilon > 0:
            raise ValueError(f"{self.name}: norm_epsilon must be positive, got {norm_epsilon!r}.")
        self.norm_epsilon = float(norm_epsilon)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed) if self.drop_path_rate else None

    def build(self, input_shape) -> None:
        """Create the sublayers for inputs of ``input_shape``."""
        policy = self.dtype_policy
        shape = tuple(input_shape)
        channels = shape[-1]
        self.depthwise = keras.layers.DepthwiseConv2D(
            self.kernel_size, padding="same", dtype=policy, name="depthwise"
        )
        self.norm = keras.layers.LayerNormalization(
            epsilon=self.norm_epsilon, dtype=policy, name="norm"
        )
        self.expand = keras.layers.Dense(self.expansion * channels, dtype=policy, name="expand")
        self.activation = keras.layers.Activation("gelu", dtype=policy, name="gelu")
        self.project = keras.layers.Dense(channels, dtype=policy, name="project")
        self.layer_scale = (
            None
            if self.layer_scale_init is None
            else LayerScale(self.layer_scale_init, dtype=policy, name="layer_scale")
        )
        self.depthwise.build(shape)
        self.norm.build(shape)
        self.expand.build(shape)
        self.project.build((*shape[:-1], self.expansion * channels))
        if self.layer_scale is not None:
            self.layer_scale.build(shape)

    def call(self, inputs, training=None):
        """Apply the block; ``training`` switches stochastic depth on."""
        x = self.depthwise(inputs)
        x = self.project(self.activation(self.expand(self.norm(x))))
        if self.layer_scale is not None:
            x = self.layer_scale(x)
        if training and self.drop_path_rate:
            keep = 1.0 - self.drop_path_rate
            shape = (keras.ops.shape(x)[0], 1, 1, 1)
            draw = keras.random.uniform(shape, seed=self.seed_generator, dtype=x.dtype)
            x = x / keep * keras.ops.floor(keep + draw)
        return inputs + x

    def compute_output_shape(self, input_shape):
        """The shape of the input: the block keeps resolution and channels."""
        return input_shape

    def receptive_field_path(self) -> list[tuple[int, int]]:
        """The (kernel_size, stride) pairs along the block's spatial path."""
        return [(self.kernel_size, 1), (1, 1), (1, 1)]

    def get_config(self) -> dict:
        """Every constructor argument, for saving and `from_config`."""
        config = super().get_config()
        config.update(
            kernel_size=self.kernel_size,
            expansion=self.expansion,
            layer_scale_init=self.layer_scale_init,
            drop_path_rate=self.drop_path_rate,
            norm_epsilon=self.norm_epsilon,
            seed=self.seed,
        )
        return config
