# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Example: a training recipe, one ingredient at a time
#
# The executed example of the chapter
# [Training recipes](../../chapters/recipes/). One network, the fast
# chapter's `fast_resnet_fashion`, and nine recipes: each adds one ingredient
# to the one before it, from a plain AdamW run of 10 epochs to 30 epochs with
# weight decay, label smoothing, flips and shifts, random erasing, mixup, a
# moving average of the weights and test-time flips. This page shows what each
# augmentation does to an image, trains the ladder's two ends, and reads the
# chapter's recorded experiment: nine steps, five seeds each.
#
# **What this page shows, and what it does not.** The build runs the short
# `site` budget: 3 epochs on 12,800 training images, where the regularizers
# have no time to pay off. It shows the code path; the
# [recorded experiment](../../chapters/recipes/#the-experiment) shows the result.
#
# **Run it yourself.** Download this script and run `python recipes.py`: the
# full budget trains the two ends of the ladder as the experiment does, 10
# epochs of the plain recipe and 30 of the whole one, on all 55,000 training
# images: minutes on a 2-core CPU (the last cell prints how long the book's
# recorded runs of the same two steps took, and on which machine).
# `CNN_GUIDE_BUDGET=site` runs the short version shown here and
# `CNN_GUIDE_BUDGET=quick` a smoke test.

# %%
import cnn_guide

cnn_guide.import_tensorflow()  # first, so that TensorFlow starts without its start-up log lines

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from cnn_guide import augment
from cnn_guide.budget import choose_budget
from cnn_guide.data import CLASS_NAMES, load_fashion_mnist
from cnn_guide.experiments import get_experiment
from cnn_guide.plotting import book_style, show
from cnn_guide.training import fit

ladder = get_experiment("training-recipes")
budget = choose_budget(site_epochs=3, full_epochs=30, site_train_size=12_800)
print(budget.describe())
data = budget.apply(load_fashion_mnist())

# %% [markdown]
# ## The ladder
#
# Each step is the book recipe with some fields changed, and each keeps the
# changes of every step above it. The commands are those the book recorded
# the experiment with (seed 42; the other seeds add `--seed N`).

# %%
for arm in ladder.arms:
    command = ladder.run_of(arm, 42).command.removesuffix(" --record")
    print(f"{arm.label}\n    {command}")

# %% [markdown]
# ## What each augmentation does to an image
#
# Six training images, then the same six through each augmentation, with the
# target the network is trained on. Flips and shifts move the garment and
# keep its label. Random erasing (Zhong et al., 2020) fills a random
# rectangle, 2% to 40% of the image, with noise and keeps the label too.
# Mixup (Zhang et al., 2018) blends two images and their one-hot targets in
# the same proportion; CutMix (Yun et al., 2019) pastes a rectangle of one
# image into another and mixes the targets by area. The book's
# `cnn_guide.augment` does each on a whole batch inside the `tf.data`
# pipeline, drawing from a generator seeded by the run's seed.

# %%
rng = np.random.default_rng(0)
chosen = [int(rng.choice(np.flatnonzero(data.y_train == c))) for c in (0, 1, 5, 7, 8, 9)]
images = tf.constant(data.x_train[chosen])
targets = tf.one_hot(data.y_train[chosen], 10)
generator = tf.random.Generator.from_seed(42)

flip = keras.layers.RandomFlip("horizontal", seed=1)
shift = keras.layers.RandomTranslation(2 / 28, 2 / 28, fill_mode="constant", seed=1)
rows = {
    "original": (images, targets),
    "flip and shift": (shift(flip(images, training=True), training=True), targets),
    "random erasing": (augment.random_erasing(images, generator, probability=1.0), targets),
    "mixup (alpha 0.2)": augment.mixup(images, targets, generator, alpha=0.2),
    "CutMix (alpha 1)": augment.cutmix(images, targets, generator, alpha=1.0),
}


def target_words(target: np.ndarray) -> str:
    """The classes a soft target gives weight to, largest first."""
    order = np.argsort(target)[::-1]
    return "\n".join(f"{target[c]:.2f} {CLASS_NAMES[c]}" for c in order[:2] if target[c] > 0.005)


with book_style():
    fig, axes = plt.subplots(len(rows), len(chosen), figsize=(9, 9.4))
    for row, (name, (batch, soft)) in zip(axes, rows.items(), strict=True):
        for ax, image, target in zip(row, batch.numpy(), soft.numpy(), strict=True):
            ax.imshow(image[..., 0], cmap="gray_r", vmin=0, vmax=1)
            ax.set_title(target_words(target), fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(name, fontsize=9)
    fig.tight_layout()
show(fig, "augmentations")

# %% [markdown]
# ## The ladder's two ends, trained
#
# The first step (AdamW with a one-cycle schedule, nothing else) and the last
# (every ingredient), each under its recipe from the experiment. A moving
# average of the weights at momentum 0.999 averages over about
# $1 / (1 - 0.999) = 1{,}000$ steps, a tenth of the 12,900 steps of the
# recorded 30-epoch runs; a shorter run here keeps that same tenth, or its
# average would still hold mostly the random initial weights.

# %%
first, last = ladder.arms[0], ladder.arms[-1]
plain = ladder.run_of(first, 42).resolve()
everything = ladder.run_of(last, 42).resolve()
if budget.name != "full":
    steps = budget.epochs * int(np.ceil(len(data.x_train) / everything.batch_size))
    # The average spans a tenth of the run, as in the recorded runs (at least two steps).
    momentum = max(0.5, 1 - 10 / steps)
    plain = plain.replace(epochs=min(plain.epochs, budget.epochs))
    everything = everything.replace(epochs=budget.epochs, ema=round(momentum, 4))
    print(
        f"This page's runs: {budget.epochs} epoch(s), {steps:,} steps; EMA momentum "
        f"{everything.ema:g} instead of 0.999."
    )

runs = {}
for label, recipe in ((first.label, plain), (last.label, everything)):
    runs[label] = fit("fast_resnet_fashion", data, recipe, verbose=0)
    run = runs[label]
    print(
        f"{label}\n    here: {run.epochs:g} epochs in {run.train_seconds:.0f} s, "
        f"validation accuracy {run.valid_accuracy:.4f}, test accuracy {run.test_accuracy:.4f} "
        f"({run.test_accuracy_single_view:.4f} without test-time flips)"
    )

# %% [markdown]
# ## The recorded experiment
#
# The nine steps, five seeds each, recorded on one machine by
# `cnn-guide record --plan experiments --only training-recipes`. Below the
# table, each step against the one before, with its 95% interval over the
# seeds, and where an ingredient's paper reports a comparable result, the
# step held against it. The figure puts every seed's test accuracy on one axis.

# %%
from cnn_guide.report.experiments import plot_arm_accuracy, summary

print(summary(ladder))
if any(ladder.recorded().values()):
    show(plot_arm_accuracy(ladder), "recipe_ladder")

# %% [markdown]
# ## Your runs against the book's
#
# The book's recorded runs of the same two steps (seed 42), read from the
# store: their accuracy, and how long they trained on the machine named.

# %%
from cnn_guide.results import find

for arm, run in ((first, runs[first.label]), (last, runs[last.label])):
    book = find(ladder.run_of(arm, 42))
    print(f"{arm.label}\n    this page ({budget.name}): test accuracy {run.test_accuracy:.4f}")
    if book is None:
        print(f"    the book: not recorded yet (`{ladder.run_of(arm, 42).command}`)")
    else:
        print(
            f"    the book: test accuracy {book.test_accuracy:.4f} after {book.epochs:g} epochs, "
            f"{book.train_seconds / 60:.1f} min of training on {book.describe_machine()}"
        )
