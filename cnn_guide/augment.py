"""Batch augmentations of the training recipes: random erasing, mixup and CutMix.

Each function takes a batch of images (and, for the mixing ones, their one-hot
targets) inside the ``tf.data`` pipeline (`cnn_guide.recipes.Recipe.dataset`)
and draws its randomness from a seeded `tf.random.Generator`, so that a run's
seed fixes its augmentations as it fixes its weights. They sit outside the
model: a saved network holds no augmentation layer.

* `random_erasing`: Zhong, Zheng, Kang, Li and Yang, "Random Erasing Data
  Augmentation", AAAI 2020, https://arxiv.org/abs/1708.04896 (Algorithm 1;
  its Table 1 reports Fashion-MNIST).
* `mixup`: Zhang, Cisse, Dauphin and Lopez-Paz, "mixup: Beyond Empirical Risk
  Minimization", ICLR 2018, https://arxiv.org/abs/1710.09412.
* `cutmix`: Yun, Han, Oh, Chun, Choe and Yoo, "CutMix: Regularization Strategy
  to Train Strong Classifiers with Localizable Features", ICCV 2019,
  https://arxiv.org/abs/1905.04899.

Chapter: ``docs/chapters/recipes.md`` (the experiment that measures each).
"""

from __future__ import annotations

import math

import tensorflow as tf

__all__ = ["cutmix", "mixup", "random_erasing"]

ERASED_AREA = (0.02, 0.4)
"""The share of the image one erased rectangle covers, drawn uniformly (the paper's s_l, s_h)."""

ERASED_ASPECT = 0.3
"""The rectangle's aspect ratio is drawn from [0.3, 1/0.3] (the paper's r_1), log-uniformly."""


def _boxes(
    generator: tf.random.Generator,
    count: int,
    height: int,
    width: int,
    area: tf.Tensor,
    aspect: tf.Tensor,
) -> tf.Tensor:
    """A ``(count, height, width, 1)`` mask: 1 inside one rectangle per image, else 0.

    Each rectangle has the given share of the image's area and aspect ratio
    (height over width), is clipped to the image, and is placed uniformly at
    random so that it fits.
    """
    pixels = float(height * width)
    box_h = tf.clip_by_value(tf.round(tf.sqrt(area * pixels * aspect)), 1.0, float(height))
    box_w = tf.clip_by_value(tf.round(tf.sqrt(area * pixels / aspect)), 1.0, float(width))
    top = tf.floor(generator.uniform([count]) * (float(height) - box_h + 1.0))
    left = tf.floor(generator.uniform([count]) * (float(width) - box_w + 1.0))
    rows = tf.range(height, dtype=tf.float32)[None, :]
    columns = tf.range(width, dtype=tf.float32)[None, :]
    inside_rows = (rows >= top[:, None]) & (rows < (top + box_h)[:, None])
    inside_columns = (columns >= left[:, None]) & (columns < (left + box_w)[:, None])
    mask = inside_rows[:, :, None] & inside_columns[:, None, :]
    return tf.cast(mask, tf.float32)[..., None]


def random_erasing(
    images: tf.Tensor, generator: tf.random.Generator, probability: float = 0.5
) -> tf.Tensor:
    """Replace one random rectangle of some images with random pixel values.

    With ``probability``, an image loses a rectangle of 2% to 40% of its area,
    of aspect ratio between 0.3 and 3.3, filled with values drawn uniformly
    from [0, 1] (the paper's "random" fill, images scaled to [0, 1]).

    Args:
        images: ``(batch, height, width, channels)``, values in [0, 1].
        generator: The seeded source of randomness.
        probability: The chance that an image is erased.

    Returns:
        The augmented batch, same shape and dtype.
    """
    count = tf.shape(images)[0]
    height, width = images.shape[1], images.shape[2]
    area = generator.uniform([count], *ERASED_AREA)
    log_aspect = math.log(ERASED_ASPECT)
    aspect = tf.exp(generator.uniform([count], log_aspect, -log_aspect))
    mask = _boxes(generator, count, height, width, area, aspect)
    chosen = tf.cast(generator.uniform([count]) < probability, tf.float32)[:, None, None, None]
    mask = tf.cast(mask * chosen, images.dtype)
    noise = tf.cast(generator.uniform(tf.shape(images)), images.dtype)
    return images * (1 - mask) + noise * mask


def _beta(generator: tf.random.Generator, alpha: float, count: tf.Tensor) -> tf.Tensor:
    """``count`` draws from Beta(alpha, alpha), as a ratio of two Gamma draws."""
    seeds = generator.make_seeds(2)
    first = tf.random.stateless_gamma([count], seeds[:, 0], alpha)
    second = tf.random.stateless_gamma([count], seeds[:, 1], alpha)
    return first / (first + second)


def mixup(
    images: tf.Tensor, targets: tf.Tensor, generator: tf.random.Generator, alpha: float
) -> tuple[tf.Tensor, tf.Tensor]:
    """Blend each image and its target with another image of the batch.

    Each image is mixed with the image at the same place in a shuffled copy of
    the batch, ``lambda * x + (1 - lambda) * x'``, and its one-hot target the
    same way, with ``lambda`` drawn from Beta(alpha, alpha) per image.

    Args:
        images: ``(batch, height, width, channels)``.
        targets: ``(batch, classes)`` one-hot (or already soft) targets.
        generator: The seeded source of randomness.
        alpha: The Beta distribution's parameter; the paper uses 0.2 to 0.4
            on ImageNet and 1 on CIFAR-10.

    Returns:
        The mixed images and targets.
    """
    count = tf.shape(images)[0]
    share = _beta(generator, alpha, count)
    partner = _partners(generator, count)
    mixed = _blend(images, tf.gather(images, partner), share[:, None, None, None])
    return mixed, _blend(targets, tf.gather(targets, partner), share[:, None])


def cutmix(
    images: tf.Tensor, targets: tf.Tensor, generator: tf.random.Generator, alpha: float = 1.0
) -> tuple[tf.Tensor, tf.Tensor]:
    """Paste a rectangle of another image of the batch into each image; mix targets by area.

    The rectangle covers a share ``1 - lambda`` of the image, with ``lambda``
    drawn from Beta(alpha, alpha) and the image's aspect ratio, and is placed
    so that it fits; each target is mixed by the share of pixels actually pasted.

    Args:
        images: ``(batch, height, width, channels)``.
        targets: ``(batch, classes)`` one-hot (or already soft) targets.
        generator: The seeded source of randomness.
        alpha: The Beta distribution's parameter (the paper's default is 1).

    Returns:
        The mixed images and targets.
    """
    count = tf.shape(images)[0]
    height, width = images.shape[1], images.shape[2]
    pasted_area = 1.0 - _beta(generator, alpha, count)
    mask = _boxes(generator, count, height, width, pasted_area, tf.ones([count]))
    partner = _partners(generator, count)
    mask = tf.cast(mask, images.dtype)
    mixed = images * (1 - mask) + tf.gather(images, partner) * mask
    kept = 1.0 - tf.reduce_mean(tf.cast(mask, tf.float32), axis=(1, 2, 3))
    return mixed, _blend(targets, tf.gather(targets, partner), kept[:, None])


def _partners(generator: tf.random.Generator, count: tf.Tensor) -> tf.Tensor:
    """A random permutation of the batch: each image's partner."""
    return tf.argsort(generator.uniform([count]))


def _blend(first: tf.Tensor, second: tf.Tensor, share: tf.Tensor) -> tf.Tensor:
    share = tf.cast(share, first.dtype)
    return share * first + (1 - share) * second
