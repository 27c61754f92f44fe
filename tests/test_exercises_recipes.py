"""The training-recipes chapter: every figure an exercise's answer states, recomputed.

Each figure is computed here, with Keras' loss, the experiment's recipes and
`cnn_guide.augment`, and must appear as printed here in the chapter's
section "Exercises".
"""

from __future__ import annotations

import math

import keras
import numpy as np
from exercise_text import assert_four_to_six_with_answers, assert_stated
from scipy import stats

from cnn_guide.experiments import get_experiment

CHAPTER = "recipes"


def test_four_to_six_exercises_each_with_an_answer():
    assert_four_to_six_with_answers(CHAPTER)


def test_exercise_1_the_lowest_loss_under_label_smoothing():
    ladder = get_experiment("training-recipes")
    smoothing = ladder.run_of(ladder.arms[2], 42).resolve().label_smoothing
    target = np.full((1, 10), smoothing / 10)
    target[0, 3] += 1 - smoothing
    assert np.isclose(target[0, 3], 0.91) and np.isclose(target[0, 0], 0.01)
    # The loss of a prediction equal to the smoothed target: its entropy.
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)
    lowest = float(loss(np.eye(10)[[3]], target))
    assert f"{lowest:.3f}" == "0.500"
    assert_stated(CHAPTER, "0.91 for the true class and 0.01", "**0.500**")


def test_exercise_2_the_steps_and_the_averages_half_life():
    ladder = get_experiment("training-recipes")
    recipe = ladder.run_of(ladder.arms[-2], 42).resolve()
    steps_per_epoch = math.ceil(55_000 / recipe.batch_size)
    steps = steps_per_epoch * recipe.epochs
    half = math.log(0.5) / math.log(recipe.ema)
    assert (steps_per_epoch, steps, round(half)) == (430, 12_900, 693)
    assert f"{half / steps_per_epoch:.1f}" == "1.6"
    assert_stated(CHAPTER, "430 steps per epoch", "**12,900** steps", "**693** steps", "1.6 epochs")


def test_exercise_3_the_share_of_pixels_erased():
    import tensorflow as tf

    from cnn_guide import augment

    recipe = get_experiment("training-recipes").arms[-1].changes
    low, high = augment.ERASED_AREA
    expected = recipe["erasing"] * (low + high) / 2
    assert f"{expected:.1%}" == "10.5%"
    # Measured: black images, erased with noise that is never exactly 0.
    black = tf.zeros([20_000, 28, 28, 1])
    erased = augment.random_erasing(black, tf.random.Generator.from_seed(0), recipe["erasing"])
    measured = float(tf.reduce_mean(tf.cast(erased > 0, tf.float32)))
    # Whole-pixel rectangles, clipped to the image, and a random half: close, not exact.
    assert abs(measured - expected) < 0.005
    assert_stated(CHAPTER, "$(0.02 + 0.4) / 2 = 0.21$", "**10.5%**", "20,000 erased images")


def test_exercise_4_how_often_mixup_blends():
    alpha = get_experiment("training-recipes").arms[-1].changes["mixup"]

    def blended(a: float) -> float:
        beta = stats.beta(a, a)
        return float(beta.cdf(0.9) - beta.cdf(0.1))

    assert (f"{blended(alpha):.2f}", f"{blended(1.0):.2f}") == ("0.33", "0.80")
    assert_stated(CHAPTER, "$\\alpha = 0.2$", "**0.33**", "**0.80**")


def test_exercise_5_test_time_flips_cost_a_second_pass():
    ladder = get_experiment("training-recipes")
    last = ladder.run_of(ladder.arms[-1], 42).resolve()
    assert last.flip_at_test and last.flip
    assert_stated(CHAPTER, "**twice**")


def test_exercise_6_the_flagships_cap_and_its_epochs():
    from cnn_guide.flagship import CANDIDATES, MAX_BUDGET

    t, epoch = 800, 38
    cap = MAX_BUDGET * t
    first = CANDIDATES[0]
    assert (cap, math.floor(cap / epoch), first.epochs, first.width) == (3600, 94, 72, 32)
    assert f"{cap / epoch:.1f}" == "94.7" and f"{first.epochs * epoch / t:.2f}" == "3.42"
    stated = ("**3,600 s**", "**94** whole epochs", "2{,}736", "**3.42 T**", "**upward**")
    assert_stated(CHAPTER, *stated)
