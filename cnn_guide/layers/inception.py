"""The inception module of GoogLeNet: four parallel branches, concatenated.

Szegedy et al. (2014), "Going Deeper with Convolutions",
https://arxiv.org/abs/1409.4842, section 4 and Table 1.
Chapter: ``docs/chapters/googlenet.md``.
"""

from __future__ import annotations

import keras

from cnn_guide._validate import boolean, positive_int

__all__ = ["InceptionModule"]


@keras.saving.register_keras_serializable(package="cnn_guide")
class InceptionModule(keras.layers.Layer):
    """GoogLeNet's inception module (Szegedy et al. 2014, Figure 2b).

    Four branches look at the same input at different scales and their outputs
    are stacked along the channel axis:

    1. a 1x1 convolution (``filters_1x1``);
    2. a 1x1 "reduce" convolution (``filters_3x3_reduce``), then a 3x3
       (``filters_3x3``);
    3. a 1x1 reduce (``filters_5x5_reduce``), then a 5x5 (``filters_5x5``);
    4. a 3x3 max pooling with stride 1, then a 1x1 projection
       (``filters_pool_proj``).

    The 1x1 reductions are the module's point: they shrink the channels before
    the expensive 3x3 and 5x5 convolutions, which is what lets GoogLeNet be
    deep and wide on a fixed compute budget. Every convolution has a bias and
    a ReLU and uses ``"same"`` padding, so the output keeps the input's height
    and width and has ``filters_1x1 + filters_3x3 + filters_5x5 +
    filters_pool_proj`` channels. The six numbers are the columns of the
    paper's Table 1 ("#1x1", "#3x3 reduce", "#3x3", "#5x5 reduce", "#5x5",
    "pool proj").

    With ``reductions=False`` it is the paper's naive module (Figure 2a): the
    1x1, 3x3 and 5x5 convolutions all read the input, and the pooling branch
    is the max pooling alone, so the three reduce and projection counts are
    not used and the output has ``filters_1x1 + filters_3x3 + filters_5x5``
    plus the input's channels. Section 4 explains why GoogLeNet does not use
    it: the 3x3 and 5x5 convolutions cost a full pass over every input
    channel, and the pooling branch passes all of them on, so the width, and
    with it the cost, grows from module to module.

    Reference: Szegedy, Liu, Jia, Sermanet, Reed, Anguelov, Erhan, Vanhoucke and
    Rabinovich (2014), "Going Deeper with Convolutions",
    https://arxiv.org/abs/1409.4842. Chapter: ``docs/chapters/googlenet.md``.

    Args:
        filters_1x1: Filters of the 1x1 branch.
        filters_3x3_reduce: Filters of the 1x1 before the 3x3.
        filters_3x3: Filters of the 3x3 convolution.
        filters_5x5_reduce: Filters of the 1x1 before the 5x5.
        filters_5x5: Filters of the 5x5 convolution.
        filters_pool_proj: Filters of the 1x1 after the max pooling.
        activation: Activation after every convolution.
        kernel_initializer: Initializer of every convolution kernel.
        reductions: ``False`` for the naive module of Figure 2a: no 1x1
            reduction before the 3x3 and 5x5 and no projection after the
            pooling (their filter counts are still checked, but unused).
        **kwargs: Base ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Raises:
        ValueError: If a filter count is not a positive integer, or
            ``reductions`` not a bool.
    """

    def __init__(
        self,
        filters_1x1: int,
        filters_3x3_reduce: int,
        filters_3x3: int,
        filters_5x5_reduce: int,
        filters_5x5: int,
        filters_pool_proj: int,
        activation: str = "relu",
        kernel_initializer: str | dict = "glorot_uniform",
        reductions: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        filters = {
            "filters_1x1": filters_1x1,
            "filters_3x3_reduce": filters_3x3_reduce,
            "filters_3x3": filters_3x3,
            "filters_5x5_reduce": filters_5x5_reduce,
            "filters_5x5": filters_5x5,
            "filters_pool_proj": filters_pool_proj,
        }
        for arg, value in filters.items():
            positive_int(value, arg, "InceptionModule")
        self.filters_1x1 = filters_1x1
        self.filters_3x3_reduce = filters_3x3_reduce
        self.filters_3x3 = filters_3x3
        self.filters_5x5_reduce = filters_5x5_reduce
        self.filters_5x5 = filters_5x5
        self.filters_pool_proj = filters_pool_proj
        self.reductions = boolean(reductions, "reductions", "InceptionModule")
        self.activation = keras.activations.serialize(keras.activations.get(activation))
        self.kernel_initializer = keras.initializers.serialize(
            keras.initializers.get(kernel_initializer)
        )

    @property
    def output_channels(self) -> int:
        """Channels of the concatenated output (of the naive module, once built)."""
        if self.reductions:
            pool = self.filters_pool_proj
        elif self.built:
            pool = self.input_channels
        else:
            raise ValueError(
                f"InceptionModule {self.name!r}: the naive module (reductions=False) passes "
                "its input's channels on, so its output_channels is known only once it is "
                "built; call it on an input first."
            )
        return self.filters_1x1 + self.filters_3x3 + self.filters_5x5 + pool

    def _conv(self, filters: int, kernel_size: int, name: str) -> keras.layers.Conv2D:
        return keras.layers.Conv2D(
            filters,
            kernel_size,
            padding="same",
            activation=keras.activations.deserialize(self.activation),
            kernel_initializer=keras.initializers.deserialize(self.kernel_initializer),
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, input_shape) -> None:
        """Create the convolutions and the pooling for ``input_shape``."""
        input_shape = tuple(input_shape)
        self.input_channels = int(input_shape[-1])

        def reduce(filters: int, name: str) -> keras.layers.Conv2D | None:
            # The naive module (Figure 2a) has no 1x1 before or after a branch.
            return self._conv(filters, 1, name) if self.reductions else None

        self.branch_1x1 = self._conv(self.filters_1x1, 1, "1x1")
        self.branch_3x3_reduce = reduce(self.filters_3x3_reduce, "3x3_reduce")
        self.branch_3x3 = self._conv(self.filters_3x3, 3, "3x3")
        self.branch_5x5_reduce = reduce(self.filters_5x5_reduce, "5x5_reduce")
        self.branch_5x5 = self._conv(self.filters_5x5, 5, "5x5")
        self.branch_pool = keras.layers.MaxPooling2D(
            3, strides=1, padding="same", dtype=self.dtype_policy, name="pool"
        )
        self.branch_pool_proj = reduce(self.filters_pool_proj, "pool_proj")
        self.concat = keras.layers.Concatenate(axis=-1, dtype=self.dtype_policy, name="concat")

        for branch in self._branches():
            shape = input_shape
            for layer in branch:
                layer.build(shape)
                shape = layer.compute_output_shape(shape)

    def _branches(self) -> list[list[keras.layers.Layer]]:
        """The four branches' layers, in order (the naive module's without the 1x1s)."""
        branches = [
            [self.branch_1x1],
            [self.branch_3x3_reduce, self.branch_3x3],
            [self.branch_5x5_reduce, self.branch_5x5],
            [self.branch_pool, self.branch_pool_proj],
        ]
        return [[layer for layer in branch if layer is not None] for branch in branches]

    def call(self, inputs):
        """Run the four branches and concatenate them along the channels."""
        outputs = []
        for branch in self._branches():
            x = inputs
            for layer in branch:
                x = layer(x)
            outputs.append(x)
        return self.concat(outputs)

    def compute_output_shape(self, input_shape):
        """Same height and width, ``output_channels`` channels."""
        convs = self.filters_1x1 + self.filters_3x3 + self.filters_5x5
        pool = self.filters_pool_proj if self.reductions else input_shape[-1]
        return (*input_shape[:-1], convs + pool)

    def receptive_field_path(self) -> list[tuple[int, int]]:
        """The widest branch: 1x1 reduce then 5x5, ``[(1, 1), (5, 1)]`` (naive: the 5x5)."""
        return [(1, 1), (5, 1)] if self.reductions else [(5, 1)]

    def get_config(self) -> dict:
        """Every constructor argument, for saving."""
        config = super().get_config()
        config.update(
            filters_1x1=self.filters_1x1,
            filters_3x3_reduce=self.filters_3x3_reduce,
            filters_3x3=self.filters_3x3,
            filters_5x5_reduce=self.filters_5x5_reduce,
            filters_5x5=self.filters_5x5,
            filters_pool_proj=self.filters_pool_proj,
            activation=self.activation,
            kernel_initializer=self.kernel_initializer,
            reductions=self.reductions,
        )
        return config
