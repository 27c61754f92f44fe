"""The inception module of GoogLeNet: four parallel branches, concatenated.

Szegedy et al. (2014), "Going Deeper with Convolutions",
https://arxiv.org/abs/1409.4842, section 4 and Table 1.
Chapter: ``docs/chapters/googlenet.md``.
"""

from __future__ import annotations

import keras

from cnn_guide._validate import positive_int

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
        **kwargs: Base ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Raises:
        ValueError: If a filter count is not a positive integer.
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
        self.activation = keras.activations.serialize(keras.activations.get(activation))
        self.kernel_initializer = keras.initializers.serialize(
            keras.initializers.get(kernel_initializer)
        )

    @property
    def output_channels(self) -> int:
        """Channels of the concatenated output."""
        return self.filters_1x1 + self.filters_3x3 + self.filters_5x5 + self.filters_pool_proj

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
        """Create the six convolutions and the pooling for ``input_shape``."""
        input_shape = tuple(input_shape)
        self.branch_1x1 = self._conv(self.filters_1x1, 1, "1x1")
        self.branch_3x3_reduce = self._conv(self.filters_3x3_reduce, 1, "3x3_reduce")
        self.branch_3x3 = self._conv(self.filters_3x3, 3, "3x3")
        self.branch_5x5_reduce = self._conv(self.filters_5x5_reduce, 1, "5x5_reduce")
        self.branch_5x5 = self._conv(self.filters_5x5, 5, "5x5")
        self.branch_pool = keras.layers.MaxPooling2D(
            3, strides=1, padding="same", dtype=self.dtype_policy, name="pool"
        )
        self.branch_pool_proj = self._conv(self.filters_pool_proj, 1, "pool_proj")
        self.concat = keras.layers.Concatenate(axis=-1, dtype=self.dtype_policy, name="concat")

        self.branch_1x1.build(input_shape)
        self.branch_3x3_reduce.build(input_shape)
        self.branch_3x3.build((*input_shape[:-1], self.filters_3x3_reduce))
        self.branch_5x5_reduce.build(input_shape)
        self.branch_5x5.build((*input_shape[:-1], self.filters_5x5_reduce))
        self.branch_pool.build(input_shape)
        self.branch_pool_proj.build(input_shape)

    def call(self, inputs):
        """Run the four branches and concatenate them along the channels."""
        branches = [
            self.branch_1x1(inputs),
            self.branch_3x3(self.branch_3x3_reduce(inputs)),
            self.branch_5x5(self.branch_5x5_reduce(inputs)),
            self.branch_pool_proj(self.branch_pool(inputs)),
        ]
        return self.concat(branches)

    def compute_output_shape(self, input_shape):
        """Same height and width, ``output_channels`` channels."""
        return (*input_shape[:-1], self.output_channels)

    def receptive_field_path(self) -> list[tuple[int, int]]:
        """The widest branch, 1x1 reduce then 5x5: ``[(1, 1), (5, 1)]``."""
        return [(1, 1), (5, 1)]

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
        )
        return config
