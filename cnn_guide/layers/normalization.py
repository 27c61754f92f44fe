"""Local response normalization, the brightness control of AlexNet and GoogLeNet.

Krizhevsky, Sutskever and Hinton (2012), "ImageNet Classification with Deep
Convolutional Neural Networks", NeurIPS, section 3.3,
https://papers.nips.cc/paper_files/paper/2012/hash/c399862d3b9d6b76c8436e924a68c45b-Abstract.html
(the paper has no arXiv version). Chapter: ``docs/chapters/alexnet.md``.
"""

from __future__ import annotations

import keras
import tensorflow as tf

__all__ = ["LocalResponseNormalization"]


@keras.saving.register_keras_serializable(package="cnn_guide")
class LocalResponseNormalization(keras.layers.Layer):
    """Local response normalization across channels (AlexNet, section 3.3).

    Each activation is divided by a power of the summed squares of its
    neighbours at the same position in adjacent channels:

        b[c] = a[c] / (bias + alpha * sum(a[j]**2 for j in c-r..c+r)) ** beta

    where ``r = depth_radius``. A unit that fires strongly dims its neighbours,
    a form of the lateral inhibition found in real neurons. The defaults are
    the paper's ``n = 5`` (``depth_radius=2``), ``k = 2``, ``alpha = 1e-4``,
    ``beta = 0.75``. The paper multiplies the sum by ``alpha`` itself; PyTorch's
    ``LocalResponseNorm`` and Caffe divide ``alpha`` by ``n`` first, so their
    ``alpha`` is ``n`` times ours for the same layer.

    The work is done by ``tf.nn.local_response_normalization``, in float32
    whatever the dtype policy: TensorFlow has no CPU kernel for bfloat16, and
    sums of squares overflow float16 easily.

    Reference: Krizhevsky, Sutskever and Hinton (2012), "ImageNet
    Classification with Deep Convolutional Neural Networks", NeurIPS (no arXiv
    version), https://papers.nips.cc/paper_files/paper/2012/hash/c399862d3b9d6b76c8436e924a68c45b-Abstract.html.
    Chapter: ``docs/chapters/alexnet.md``.

    Args:
        depth_radius: Half-width ``r`` of the channel window (``n = 2r + 1``).
        bias: The additive constant ``k``, which keeps the divisor positive.
        alpha: Scale of the sum of squares.
        beta: Exponent of the divisor.
        **kwargs: Base ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Raises:
        ValueError: For a negative ``depth_radius`` or a non-positive ``bias``,
            ``alpha`` or ``beta``.
    """

    def __init__(
        self,
        depth_radius: int = 2,
        bias: float = 2.0,
        alpha: float = 1e-4,
        beta: float = 0.75,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(depth_radius, int) or depth_radius < 0:
            raise ValueError(
                f"LocalResponseNormalization: depth_radius must be a non-negative "
                f"integer, got {depth_radius!r} (the paper's n = 5 is depth_radius=2)."
            )
        for arg, value in (("bias", bias), ("alpha", alpha), ("beta", beta)):
            if not value > 0:
                raise ValueError(
                    f"LocalResponseNormalization: {arg} must be positive, got {value!r}."
                )
        self.depth_radius = depth_radius
        self.bias = float(bias)
        self.alpha = float(alpha)
        self.beta = float(beta)

    def call(self, inputs):
        """Normalize ``inputs`` (``(batch, height, width, channels)``)."""
        x = tf.cast(inputs, "float32")
        y = tf.nn.local_response_normalization(
            x,
            depth_radius=self.depth_radius,
            bias=self.bias,
            alpha=self.alpha,
            beta=self.beta,
        )
        return tf.cast(y, inputs.dtype)

    def compute_output_shape(self, input_shape):
        """The output has the shape of the input."""
        return tuple(input_shape)

    def receptive_field_path(self) -> list[tuple[int, int]]:
        """A per-position operation across channels: ``[(1, 1)]``."""
        return [(1, 1)]

    def get_config(self) -> dict:
        """Every constructor argument, for saving."""
        config = super().get_config()
        config.update(
            depth_radius=self.depth_radius,
            bias=self.bias,
            alpha=self.alpha,
            beta=self.beta,
        )
        return config
