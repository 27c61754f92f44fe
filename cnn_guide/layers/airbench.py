"""Identity initialization and a faster-learning bias: two of airbench's ingredients.

Jordan (2024), "94% on CIFAR-10 in 3.29 Seconds on a Single GPU",
https://arxiv.org/abs/2404.00498, section 3 and its ablation ladder
(github.com/KellerJordan/cifar10-zoo, ``airbench_ablations``): initializing
every convolution partly as the identity ("dirac") took the epochs to 94% from
21 to 18, and a 64 times higher learning rate for batch normalization's biases
from 18 to 13.5.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

__all__ = ["IdentityInitializer", "ScaledBias"]


@keras.saving.register_keras_serializable(package="cnn_guide")
class IdentityInitializer(keras.initializers.Initializer):
    """He-normal convolution kernels whose first filters pass their input through.

    For a kernel of shape ``(height, width, in, out)``, filter ``i`` for each
    ``i < min(in, out)`` is a single 1 at the kernel's centre on input channel
    ``i`` (PyTorch's ``dirac_``); the other filters are He-normal. A
    convolution so initialized starts by copying its input into its first
    channels, so that a deep stack begins close to the identity and the
    gradient reaches its early layers undiminished (airbench initializes
    every convolution this way).

    Args:
        seed: Seed of the He-normal part.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed

    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> Any:
        """A kernel of ``shape``: the identity on the first filters, He-normal on the rest."""
        if len(shape) != 4:
            raise ValueError(
                f"IdentityInitializer initializes 2D convolution kernels (height, width, in, "
                f"out), got shape {tuple(shape)}."
            )
        height, width, channels_in, channels_out = shape
        passed = np.arange(min(channels_in, channels_out))
        identity = np.zeros(shape, dtype="float32")
        identity[height // 2, width // 2, passed, passed] = 1.0
        random = np.ones(shape, dtype="float32")
        random[..., passed] = 0.0  # the passing filters keep nothing of the random draw
        kernel = keras.initializers.HeNormal(seed=self.seed)(shape, dtype=dtype)
        return kernel * ops.convert_to_tensor(random, kernel.dtype) + ops.convert_to_tensor(
            identity, kernel.dtype
        )

    def get_config(self) -> dict[str, Any]:
        """Its constructor arguments, for saving."""
        return {"seed": self.seed}


@keras.saving.register_keras_serializable(package="cnn_guide")
class ScaledBias(keras.layers.Layer):
    """A per-channel bias that learns ``scale`` times faster under Adam: ``x + scale * b``.

    Adam's step for a weight is nearly independent of its gradient's size, so
    a bias stored as ``b`` and used as ``scale * b`` moves ``scale`` times as
    far per step as a plain bias: a higher learning rate for this one
    variable, without a second optimizer. In place of batch normalization's
    own shift (``BatchNormalization(center=False)`` before it) it gives
    airbench's faster-learning batch-norm biases (Jordan, 2024).

    Args:
        scale: How many times faster than the other weights the bias learns.
        **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``, ...).
    """

    def __init__(self, scale: float = 64.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if scale <= 0:
            raise ValueError(f"ScaledBias: scale must be positive, got {scale!r}.")
        self.scale = float(scale)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        """One bias per channel (the last axis), starting at zero."""
        self.bias = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="bias")

    def call(self, inputs: Any) -> Any:
        """The inputs shifted by ``scale`` times the bias."""
        return inputs + ops.cast(self.scale * self.bias, inputs.dtype)

    def get_config(self) -> dict[str, Any]:
        """Its constructor arguments, for saving."""
        return {**super().get_config(), "scale": self.scale}
