"""The recipes' batch augmentations (random erasing, mixup, CutMix) and the weights' average."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import tensorflow as tf

from cnn_guide import augment
from cnn_guide.recipes import get_recipe


def _labelled_batch(count: int = 8):
    """Images whose pixels all hold their own index, and one-hot targets."""
    values = np.arange(count, dtype=np.float32)[:, None, None, None]
    images = tf.constant(values * np.ones((count, 28, 28, 1), np.float32))
    return images, tf.one_hot(np.arange(count), count)


def test_random_erasing_replaces_one_rectangle_of_the_chosen_images():
    images = tf.zeros((200, 28, 28, 1))
    erased = augment.random_erasing(images, tf.random.Generator.from_seed(0), 0.5).numpy()
    touched = (erased > 0).reshape(200, -1)
    chosen = touched.any(axis=1)
    assert 0.35 < chosen.mean() < 0.65
    shares = touched[chosen].mean(axis=1)
    # 2% to 40% of the image, give or take rounding (random fill can hit exactly 0 rarely).
    assert shares.min() >= 0.015 and shares.max() <= 0.45
    for image in erased[chosen][:20, ..., 0]:
        rows, columns = np.nonzero(image)
        box = image[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]
        assert (box > 0).mean() > 0.95  # one filled rectangle
    assert erased.max() <= 1.0
    unchanged = augment.random_erasing(images, tf.random.Generator.from_seed(0), 0.0)
    assert np.array_equal(unchanged.numpy(), images.numpy())


def test_the_same_seed_erases_the_same_pixels():
    images = tf.zeros((16, 28, 28, 1))
    first = augment.random_erasing(images, tf.random.Generator.from_seed(7), 1.0)
    second = augment.random_erasing(images, tf.random.Generator.from_seed(7), 1.0)
    assert np.array_equal(first.numpy(), second.numpy())


def test_cutmix_mixes_each_target_by_the_share_of_pixels_pasted():
    images, targets = _labelled_batch()
    mixed, soft = augment.cutmix(images, targets, tf.random.Generator.from_seed(3), 1.0)
    mixed, soft = mixed.numpy(), soft.numpy()
    assert np.allclose(soft.sum(axis=1), 1.0)
    for index in range(len(mixed)):
        values, counts = np.unique(mixed[index], return_counts=True)
        shares = dict(zip(values.astype(int), counts / mixed[index].size, strict=True))
        assert set(shares) <= {index, *np.flatnonzero(soft[index])}
        for source, share in shares.items():
            assert soft[index, source] == pytest.approx(share, abs=1e-6)


def test_mixup_blends_images_and_targets_with_one_share():
    images, targets = _labelled_batch()
    mixed, soft = augment.mixup(images, targets, tf.random.Generator.from_seed(5), 0.4)
    mixed, soft = mixed.numpy(), soft.numpy()
    assert np.allclose(soft.sum(axis=1), 1.0)
    # Each pixel is the targets' weighted mean of the two images' indexes.
    assert np.allclose(mixed[:, 0, 0, 0], soft @ np.arange(8), atol=1e-5)
    assert np.allclose(mixed, mixed[:, :1, :1, :1])


def test_a_recipe_checks_its_augmentations():
    book = get_recipe("book")
    with pytest.raises(ValueError, match=r"erasing is a chance in \[0, 1\], got 1.5"):
        book.replace(erasing=1.5)
    with pytest.raises(ValueError, match="mixup and cutmix both mix images"):
        book.replace(mixup=0.2, cutmix=1.0)
    with pytest.raises(ValueError, match=r"ema is a momentum in \[0, 1\)"):
        book.replace(ema=1.0)
    with pytest.raises(ValueError, match="mixup must not be negative"):
        book.replace(mixup=-1)


def test_a_mixing_recipe_feeds_soft_targets():
    recipe = get_recipe("book").replace(erasing=0.5, mixup=0.4)
    images = np.random.default_rng(0).random((64, 28, 28, 1), dtype=np.float32)
    batch, targets = next(iter(recipe.dataset(images, np.arange(64) % 10, batch_size=32)))
    assert batch.shape == (32, 28, 28, 1) and targets.shape == (32, 10)
    assert np.allclose(targets.numpy().sum(axis=1), 1.0)
    assert (targets.numpy().max(axis=1) < 1).any()
    assert "random erasing of 50% of images and mixup (alpha 0.4)" in recipe.describe()


def test_a_run_with_ema_ends_on_the_averaged_weights(small_fashion):
    from cnn_guide.training import fit

    recipe = get_recipe("protocol", steps=6, ema=0.5)
    result = fit("lenet5_fashion", small_fashion, recipe, verbose=0)
    optimizer = result.model.optimizer
    assert optimizer.use_ema and optimizer.ema_momentum == 0.5
    averages = optimizer._model_variables_moving_average
    for variable, average in zip(result.model.trainable_variables, averages, strict=True):
        assert np.allclose(variable.numpy(), average.numpy())
    assert "weights averaged (EMA 0.5)" in recipe.describe()


def test_alternating_flips_mirror_each_image_in_every_other_epoch():
    count = 10  # one image per class: the one-hot targets name each image
    # Each image: its index in the top-left pixel, so a mirrored one shows it top-right.
    images = np.zeros((count, 28, 28, 1), np.float32)
    images[:, 0, 0, 0] = np.arange(1, count + 1)
    labels = np.arange(count)
    recipe = get_recipe("protocol", flip=True, alternate_flips=True, seed=3)
    batches = iter(recipe.dataset(images, labels, batch_size=count))  # one batch, one epoch
    states = []
    for _ in range(4):
        batch, targets = next(batches)
        batch, labels_seen = batch.numpy(), targets.numpy().argmax(axis=1)
        assert sorted(labels_seen) == list(range(count))  # every image once per epoch
        flipped = batch[:, 0, -1, 0] > 0
        assert np.all(batch[flipped, 0, -1, 0] == labels_seen[flipped] + 1)
        assert np.all(batch[~flipped, 0, 0, 0] == labels_seen[~flipped] + 1)
        states.append(dict(zip(labels_seen.tolist(), flipped.tolist(), strict=True)))
    first = np.array([states[0][i] for i in range(count)])
    assert 0 < first.sum() < count  # the first epoch's choice is random
    for before, after in itertools.pairwise(states):
        assert all(after[i] != before[i] for i in range(count))
    assert "left-right flips in alternate epochs" in recipe.describe()
    with pytest.raises(ValueError, match=r"alternate_flips .* needs flip as well"):
        get_recipe("protocol", alternate_flips=True)
