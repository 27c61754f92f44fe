"""The squeeze-and-excitation block: learned, input-dependent channel weights.

Hu, Shen and Sun (2018), "Squeeze-and-Excitation Networks",
https://arxiv.org/abs/1709.01507, section 3 and Figure 3.
Chapter: ``docs/chapters/senet.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras
import numpy as np

from cnn_guide._validate import positive_int

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["SqueezeExcitation", "se_channel_weights"]


@keras.saving.register_keras_serializable(package="cnn_guide")
class SqueezeExcitation(keras.layers.Layer):
    """Squeeze-and-excitation block (Hu, Shen, Sun 2018, Figure 1).

    Rescales each channel of a feature map by a weight in (0, 1) computed from
    the whole map:

    1. **squeeze**: global average pooling turns the ``H x W x C`` map into one
       number per channel, a descriptor of the whole image;
    2. **excitation**: a dense layer down to ``C // ratio`` units with ReLU,
       then a dense layer back up to ``C`` units with a sigmoid, giving one
       weight per channel (the bottleneck keeps it cheap and forces the
       weights to model how the channels depend on each other);
    3. **scale**: every channel of the input is multiplied by its weight.

    The output has the input's shape. The block adds ``2 C^2 / ratio + C / ratio
    + C`` parameters and almost no computation, and fits after any
    convolution; SENet puts it on the residual branch of every unit, before
    the addition (see ``BasicResidualUnit`` and ``BottleneckResidualUnit``).

    The channel weights are the block's interpretable part. Two ways to get
    them: ``return_weights=True`` makes the layer return ``(outputs,
    weights)``, and ``channel_weights(inputs)`` computes the ``(batch, C)``
    weights of an input without rescaling it. For a model whose SE blocks sit
    inside residual units, ``se_channel_weights(model, images)`` collects the
    weights of every block on real images.

    Reference: Hu, Shen and Sun (2018), "Squeeze-and-Excitation Networks",
    https://arxiv.org/abs/1709.01507. Chapter: ``docs/chapters/senet.md``.

    Args:
        ratio: Reduction ratio ``r``: the hidden layer has ``max(1, C // ratio)``
            units (the paper's default is 16).
        return_weights: Whether ``call`` returns ``(outputs, weights)`` with
            ``weights`` of shape ``(batch, C)``, instead of the outputs alone.
        **kwargs: Base ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Raises:
        ValueError: If ``ratio`` is not a positive integer.
    """

    def __init__(self, ratio: int = 16, return_weights: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.ratio = positive_int(ratio, "ratio", "SqueezeExcitation")
        self.return_weights = bool(return_weights)

    def build(self, input_shape) -> None:
        """Create the two dense layers for ``input_shape``'s channel count."""
        input_shape = tuple(input_shape)
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                "SqueezeExcitation: expects (batch, height, width, channels) inputs "
                f"with a known channel count, got shape {input_shape}."
            )
        channels = int(input_shape[-1])
        self.hidden_units = max(1, channels // self.ratio)
        self.reduce = keras.layers.Dense(
            self.hidden_units, activation="relu", dtype=self.dtype_policy, name="reduce"
        )
        self.expand = keras.layers.Dense(
            channels, activation="sigmoid", dtype=self.dtype_policy, name="expand"
        )
        self.reduce.build((input_shape[0], channels))
        self.expand.build((input_shape[0], self.hidden_units))

    def channel_weights(self, inputs):
        """The ``(batch, C)`` channel weights for ``inputs``, each in (0, 1)."""
        if not self.built:
            self.build(inputs.shape)
        squeezed = keras.ops.mean(inputs, axis=(1, 2))
        return self.expand(self.reduce(squeezed))

    def call(self, inputs):
        """Rescale every channel of ``inputs`` by its learned weight."""
        weights = self.channel_weights(inputs)
        outputs = inputs * weights[:, None, None, :]
        if self.return_weights:
            return outputs, weights
        return outputs

    def compute_output_shape(self, input_shape):
        """The input's shape (and ``(batch, C)`` for the weights if returned)."""
        input_shape = tuple(input_shape)
        if self.return_weights:
            return input_shape, (input_shape[0], input_shape[-1])
        return input_shape

    def receptive_field_path(self) -> list[tuple[int, int]]:
        """``[]``: the block rescales channels and adds no spatial step.

        Its weights depend on the whole map (global pooling), but each output
        position is its input position times a per-channel scalar, so the
        spatial path through it is the identity.
        """
        return []

    def get_config(self) -> dict:
        """Every constructor argument, for saving."""
        config = super().get_config()
        config.update(ratio=self.ratio, return_weights=self.return_weights)
        return config


def _has_squeeze_excitation(layer: keras.layers.Layer) -> bool:
    if isinstance(layer, SqueezeExcitation):
        return True
    # Residual units carry an SE block when their se_ratio is set.
    return callable(getattr(layer, "channel_weights", None)) and (
        getattr(layer, "se_ratio", None) is not None
    )


def se_channel_weights(
    model: keras.Model, images: np.ndarray | Sequence, *, batch_size: int = 256
) -> dict[str, np.ndarray]:
    """The channel weights of every squeeze-and-excitation block of a model.

    Works for ``SqueezeExcitation`` layers used directly in a functional model
    and for residual units built with ``se_ratio`` (as in ``se_resnet50`` and
    ``se_resnet_fashion``), in inference mode (batch normalization uses its
    moving statistics). Hu et al. (2018, section 7.2 and Figure 6) plot the
    average weights per class to show that early blocks weigh channels the same
    for every class and late blocks become class-specific.

    Example:
        ```python
        weights = se_channel_weights(model, data.x_test[:500])
        weights["conv4_block2"].shape  # (500, 64)
        ```

    Args:
        model: A functional model.
        images: Inputs the model accepts, e.g. ``(N, 28, 28, 1)`` images.
        batch_size: Images per forward pass.

    Returns:
        For each SE-bearing layer, by layer name in model order, an ``(N, C)``
        float32 array of channel weights.

    Raises:
        ValueError: If the model has no squeeze-and-excitation block.
    """
    layers = [layer for layer in model.layers if _has_squeeze_excitation(layer)]
    if not layers:
        raise ValueError(
            f"se_channel_weights: model {model.name!r} has no squeeze-and-excitation "
            "block (no SqueezeExcitation layer and no residual unit with se_ratio set)."
        )
    # One model computes every block's input; each block then computes its weights.
    features = keras.Model(model.input, [layer.input for layer in layers])
    images = np.asarray(images)
    chunks: dict[str, list[np.ndarray]] = {layer.name: [] for layer in layers}
    for start in range(0, len(images), batch_size):
        block_inputs = features(images[start : start + batch_size], training=False)
        if not isinstance(block_inputs, (list, tuple)):
            block_inputs = [block_inputs]
        for layer, block_input in zip(layers, block_inputs, strict=True):
            weights = layer.channel_weights(block_input)
            chunks[layer.name].append(keras.ops.convert_to_numpy(weights).astype("float32"))
    return {name: np.concatenate(parts) for name, parts in chunks.items()}
