"""A frozen first layer that whitens the image's small patches, set from the training images.

Jordan (2024), "94% on CIFAR-10 in 3.29 Seconds on a Single GPU" (airbench),
https://arxiv.org/abs/2404.00498, section 3.2, after Page (2018), "How to
Train Your ResNet", https://myrtle.ai/learn/how-to-train-your-resnet/.
Chapter: ``docs/chapters/fast.md``.
"""

from __future__ import annotations

import keras
import numpy as np

__all__ = ["PatchWhitening", "adapt_patch_whitening"]


@keras.saving.register_keras_serializable(package="cnn_guide")
class PatchWhitening(keras.layers.Layer):
    """A convolution whose filters whiten the image's patches, computed from data, never trained.

    Every ``size`` x ``size`` patch of the input is a vector ``p`` of
    ``d = size * size * channels`` pixels. From the training images,
    `adapt` computes their second-moment matrix ``S = E[p p^T]`` and its
    eigenvectors ``v_i`` with eigenvalues ``s_i``; filter ``i`` is
    ``v_i / sqrt(s_i + epsilon)``, so that the ``d`` outputs at a position
    are the patch in coordinates where its pixels are uncorrelated and of
    (nearly) unit variance. The layer has each filter twice, as ``+v_i``
    and ``-v_i``: ``2d`` output channels, so that a ReLU after it keeps
    both signs of every direction. A ``valid`` convolution of stride 1:
    28x28 in, 27x27 out at ``size=2``.

    What it buys (Jordan's ablation, on CIFAR-10): the network starts from
    decorrelated inputs, which gradient descent fits faster than raw pixels
    whose neighbours are nearly equal; airbench reached 94% in 22 epochs with
    it against 35 without. The filters are weights that do not train
    (``trainable=False``); they are saved and loaded with the model.

    `cnn_guide.training.fit` calls `adapt` before training on any
    `PatchWhitening` not yet adapted (`adapt_patch_whitening`). Until then
    its filters are zeros, and so is its output.

    Reference: K. Jordan (2024), "94% on CIFAR-10 in 3.29 Seconds on a
    Single GPU", https://arxiv.org/abs/2404.00498 (its 2x2 whitening layer
    with ``epsilon = 5e-4``, the default here).

    Args:
        size: Side of the patches, and of the convolution's kernel.
        epsilon: Added to each eigenvalue before its square root, so that
            directions of almost no variance (noise) are not blown up.
        **kwargs: Base ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Raises:
        ValueError: For a size below 1 or a non-positive epsilon.
    """

    def __init__(self, size: int = 2, epsilon: float = 5e-4, **kwargs) -> None:
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"PatchWhitening: size must be a positive int, got {size!r}.")
        if not epsilon > 0:
            raise ValueError(f"PatchWhitening: epsilon must be positive, got {epsilon!r}.")
        self.size = size
        self.epsilon = epsilon

    def build(self, input_shape: tuple) -> None:
        """Create the filters (zeros until `adapt`) for inputs of ``input_shape``."""
        channels = input_shape[-1]
        self.directions = self.size * self.size * channels
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.size, self.size, channels, 2 * self.directions),
            initializer="zeros",
            trainable=False,
        )

    @property
    def adapted(self) -> bool:
        """Whether `adapt` has set the filters (they start as zeros)."""
        return self.built and bool(np.any(keras.ops.convert_to_numpy(self.kernel)))

    def adapt(self, images: np.ndarray) -> np.ndarray:
        """Set the filters from ``images``, and return the patches' eigenvalues, largest first.

        Args:
            images: ``(n, height, width, channels)`` training images, as the
                model receives them; a few thousand suffice.

        Raises:
            ValueError: For images of another shape than the layer's input,
                or too few patches to estimate the matrix.
        """
        images = np.asarray(images, dtype=np.float64)
        if not self.built:
            self.build(images.shape)
        expected = (self.size, self.size, *self.kernel.shape[2:3])
        if (
            images.ndim != 4
            or images.shape[-1] != expected[2]
            or min(images.shape[1:3]) < self.size
        ):
            raise ValueError(
                f"PatchWhitening.adapt takes (n, height, width, {expected[2]}) images of at "
                f"least {self.size}x{self.size}, got shape {images.shape}."
            )
        windows = np.lib.stride_tricks.sliding_window_view(
            images, (self.size, self.size), axis=(1, 2)
        )  # (n, h', w', channels, size, size)
        patches = windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, self.directions)
        if len(patches) < self.directions:
            raise ValueError(
                f"PatchWhitening.adapt needs at least {self.directions} patches to estimate "
                f"their {self.directions}x{self.directions} matrix, got {len(patches)}."
            )
        moments = patches.T @ patches / len(patches)
        eigenvalues, eigenvectors = np.linalg.eigh(moments)
        order = np.argsort(eigenvalues)[::-1]
        eigenvalues, eigenvectors = eigenvalues[order], eigenvectors[:, order]
        filters = eigenvectors / np.sqrt(eigenvalues + self.epsilon)
        kernel = np.concatenate([filters, -filters], axis=1)
        self.kernel.assign(kernel.reshape(self.kernel.shape).astype(self.kernel.dtype))
        return eigenvalues

    def call(self, inputs):
        """Each patch of ``inputs`` in its whitened coordinates, and their negatives."""
        kernel = keras.ops.cast(self.kernel, inputs.dtype)
        return keras.ops.conv(inputs, kernel, strides=1, padding="valid")

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """``size - 1`` rows and columns fewer, ``2 * size * size * channels`` channels."""
        batch, height, width, channels = input_shape
        side = [None if s is None else s - self.size + 1 for s in (height, width)]
        return (batch, *side, 2 * self.size * self.size * channels)

    def get_config(self) -> dict:
        """Every constructor argument, for saving and `from_config`."""
        return {**super().get_config(), "size": self.size, "epsilon": self.epsilon}


def adapt_patch_whitening(model: keras.Model, images: np.ndarray) -> int:
    """Adapt every `PatchWhitening` of ``model`` that is not adapted yet, from ``images``.

    A layer must be the first to see the images (the model's input), as in
    the book's networks; one deeper would need the activations below it.

    Returns:
        How many layers were adapted.

    Raises:
        ValueError: For a `PatchWhitening` that is not fed by the model's input.
    """
    adapted = 0
    for layer in model.layers:
        if not isinstance(layer, PatchWhitening) or layer.adapted:
            continue
        if not any(layer.input is tensor for tensor in model.inputs):
            raise ValueError(
                f"PatchWhitening layer {layer.name!r} does not take the model's input; "
                "adapt it yourself with the activations it receives."
            )
        layer.adapt(images)
        adapted += 1
    return adapted
