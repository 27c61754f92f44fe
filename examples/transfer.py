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
# # Example: transfer learning and fine-tuning
#
# The executed example of the chapter [Transfer learning](../../chapters/transfer/).
# Two ways in, one idea: a network trained on one task lends its features to
# another, and a new classifier on top learns the new classes from few labels.
#
# 1. **The book's own network.** `resnet_fashion` is pretrained on five
#    Fashion-MNIST classes (T-shirt/top, pullover, coat, shirt, bag) and moved
#    to the other five (trouser, dress, sandal, sneaker, ankle boot) with 10
#    labels per class: with its base frozen, with its last stage fine-tuned at a
#    tenth of the learning rate, and against the same network trained from
#    scratch on the same 50 images.
# 2. **A `keras.applications` network with ImageNet weights**, MobileNetV2,
#    wrapped for 28x28 grayscale images: resized, copied to three channels and
#    passed through its own `preprocess_input`; its head trained with the base
#    frozen, then its top layers fine-tuned.
#
# **What this page shows, and what it does not.** The build runs the short
# `site` budget, on one seed and with a pretraining of a few dozen steps: it
# shows the code path, not the result. The result is the chapter's
# [recorded experiment](../../chapters/transfer/#the-experiment): a full
# pretraining, three numbers of labels, five seeds. The build never downloads:
# the MobileNetV2 part loads a *stand-in* weights file this script writes
# first (MobileNetV2 built with `weights=None`, its random weights saved), so
# its accuracy there is chance. At the full budget (`python transfer.py` on
# your machine) it loads the ImageNet weights, which Keras downloads on first
# use (9.4 MB, printed below) into `~/.keras/models`.
#
# **Run it yourself.** Download this script (the button at the top of the
# page) and run `python transfer.py`: the full budget pretrains for the 10
# epochs of the book recipe on all 27,500 training images of the five
# classes, then trains each arm for 400 steps with 100 labels per class, and
# fine-tunes MobileNetV2 at 96x96: tens of minutes on a 2-core CPU, the
# pretraining alone being the recorded run's 10 epochs.
# `CNN_GUIDE_BUDGET=site` runs the short version shown here and
# `CNN_GUIDE_BUDGET=quick` a smoke test.

# %%
import cnn_guide

cnn_guide.import_tensorflow()  # first, so that TensorFlow starts without its start-up log lines

import tempfile
import time
from pathlib import Path

import keras
import numpy as np

from cnn_guide import models
from cnn_guide.budget import choose_budget
from cnn_guide.data import load_fashion_mnist
from cnn_guide.experiments import TRANSFER_PRETRAINING, TRANSFER_SOURCE, TRANSFER_TARGET
from cnn_guide.recipes import get_recipe
from cnn_guide.training import fit
from cnn_guide.transfer import (
    APPLICATIONS,
    application_base,
    application_classifier,
    copy_base,
    freeze_base,
    trainable_summary,
    unfreeze_top,
)

budget = choose_budget(site_epochs=1, full_epochs=10)
# What each budget trains: pretraining images and epochs, labels per target class, the
# batch, epochs of how many steps for each arm, and MobileNetV2's input side. The short
# budgets train at batch 32: four times the steps for the same images.
PLANS = {
    "quick": dict(
        source_images=640, pretrain_epochs=1, labels=10, batch=32, epochs=1, steps=4, side=32
    ),
    "site": dict(
        source_images=2_000, pretrain_epochs=1, labels=10, batch=32, epochs=2, steps=15, side=32
    ),
    "full": dict(
        source_images=None, pretrain_epochs=10, labels=100, batch=128, epochs=10, steps=40, side=96
    ),
}
settings = PLANS[budget.name]
print(budget.describe().split(":")[0] + f": {settings}")
print(f"The recorded pretraining: `{TRANSFER_PRETRAINING.command}`")

# %%
start = time.perf_counter()
data = load_fashion_mnist()
print(f"Loaded Fashion-MNIST from {data.source} in {time.perf_counter() - start:.2f} s.")
source = data.restrict(TRANSFER_SOURCE)
target = data.restrict(TRANSFER_TARGET, labels_per_class=settings["labels"], seed=42)
if budget.name != "full":  # fewer images to score at build time; the same code path
    source = source.subset(train=settings["source_images"], valid=500, test=1_000)
    target = target.subset(valid=500, test=1_000)
print("pretraining classes:", ", ".join(source.class_names), f"({len(source.x_train):,} images)")
print("target classes:     ", ", ".join(target.class_names), f"({len(target.x_train):,} labels)")

# %% [markdown]
# ## 1. Pretraining on five classes
#
# The book recipe (AdamW, one-cycle schedule, label smoothing, batch-norm
# statistics settled before every evaluation), with five outputs: `task_data`
# and `restrict` relabel the five classes 0 to 4.

# %%
recipe = get_recipe("book", epochs=settings["pretrain_epochs"], batch_size=settings["batch"])
pretrained = fit(
    lambda: models.build("resnet_fashion", num_classes=5), source, recipe, verbose=0
).model
print(f"Pretrained: {pretrained.count_params():,} weights.")

# %% [markdown]
# ## 2. Three ways to learn the other five classes
#
# Each arm builds a fresh `resnet_fashion` with a new 5-way classifier. The two
# transfer arms copy the pretrained weights into every layer but the
# classifier (`copy_base`), then freeze with `freeze_base`: `train_top=0`
# trains the classifier alone, at ten times the book recipe's peak rate (a
# linear classifier on fixed features learns slowly at the book's);
# `train_top=2` trains the last two blocks too (the third stage's two residual
# units) with their batch normalization kept frozen, at a tenth of the book's
# rate. Every arm makes the same number of updates (`steps_per_epoch` fixes an
# epoch, whatever the number of labels).


# %%
def arm(name: str) -> keras.Model:
    keras.utils.set_random_seed(42)  # the same new classifier in every arm
    net = models.build("resnet_fashion", num_classes=5)
    if name != "from scratch":
        copy_base(pretrained, net)
        freeze_base(net, train_top=2 if name.startswith("fine") else 0)
    return net


arms = {  # the peak learning rates of the chapter's experiment
    "frozen base, new head": get_recipe("book", learning_rate=4e-2),
    "fine-tuned: last stage and head": get_recipe("book", learning_rate=4e-4),
    "from scratch": get_recipe("book"),
}
scores = {}
for name, arm_recipe in arms.items():
    net = arm(name)
    counts = trainable_summary(net)
    print(f"{name:<33} trains {counts['trainable']:>7,} weights, {counts['frozen']:>7,} frozen")
    run = fit(
        net,
        target,
        arm_recipe.replace(
            epochs=settings["epochs"],
            steps_per_epoch=settings["steps"],
            batch_size=settings["batch"],
        ),
        verbose=0,
    )
    scores[name] = run
for name, run in scores.items():
    print(
        f"{name:<33} test accuracy {run.test_accuracy:.4f} on {run.test_size:,} images "
        f"after {run.images // run.global_batch_size} steps"
    )

# %% [markdown]
# One seed and a short pretraining: these figures show that the code runs, not
# which arm wins. The chapter's recorded experiment answers that, with five
# seeds per arm and the difference of every pair with its interval. The same
# arms from the command line, one run each:
#
# ```bash
# cnn-guide train resnet_fashion --classes 1,3,5,7,9 --labels-per-class 10 \
#     --start-from 'resnet_fashion --recipe book --classes 0,2,4,6,8' --freeze except-top:2 \
#     --learning-rate 0.0004 --steps-per-epoch 40
# ```

# %% [markdown]
# ## 3. A keras.applications network: MobileNetV2 with ImageNet weights
#
# `application_classifier` builds, in order: the 28x28x1 image; `Resizing`
# to the network's input side; the gray channel copied to three
# (`Concatenate`, no `Lambda` layer, so the saved model loads in Keras' safe
# mode); `Rescaling` from the book's [0, 1] pixels to the [0, 255] that
# `keras.applications` expects; MobileNetV2's own `preprocess_input` (to
# [-1, 1]); the base with `include_top=False` and average pooling, frozen and
# called with `training=False`; dropout; a new classifier.

# %%
app = APPLICATIONS["MobileNetV2"]
print(
    f"weights='imagenet' downloads {app.weights_file}: {app.download_bytes:,} bytes "
    f"({app.download_megabytes:.1f} MB), once, into ~/.keras/models."
)
with tempfile.TemporaryDirectory() as folder:
    if budget.name == "full":
        weights = "imagenet"
    else:  # the build never downloads: a stand-in file of the same shapes, random weights
        weights = Path(folder) / "mobilenet_v2_stand_in.weights.h5"
        keras.utils.set_random_seed(0)
        application_base("MobileNetV2", weights=None, size=settings["side"]).save_weights(weights)
        print(f"Stand-in weights (random, not ImageNet's): {weights.stat().st_size:,} bytes.")
    model = application_classifier(
        "MobileNetV2", num_classes=5, weights=weights, size=settings["side"]
    )
for layer in model.layers[:4]:
    print(f"{layer.name:<14} {type(layer).__name__:<12} -> {layer.output.shape}")
print(f"base: {model.layers[-3].name}, {len(model.layers[-3].layers)} layers")
print("frozen base:", trainable_summary(model))

# %% [markdown]
# First the head alone, the base frozen; then the top 20 layers of the base
# open (their batch normalization stays frozen: `unfreeze_top`), and the model
# is trained again at a far lower rate. `fit` compiles the model each time,
# which is what makes the new `trainable` flags count.

# %%
images = target if budget.name == "full" else target.subset(valid=250, test=250)
short = get_recipe(
    "book", epochs=1, steps_per_epoch=settings["steps"], batch_size=settings["batch"]
)
if budget.name != "full":
    short = short.replace(steps=3)  # random stand-in weights: the code path, no more
head = fit(model, images, short, verbose=0)
print(f"head only:   test accuracy {head.test_accuracy:.4f}")
opened = unfreeze_top(model, 20)
print(f"unfrozen: {len(opened)} layers with weights;", trainable_summary(model))
tuned = fit(model, images, short.replace(learning_rate=1e-4), verbose=0)
print(f"fine-tuned:  test accuracy {tuned.test_accuracy:.4f}")
if budget.name != "full":
    print(f"(the stand-in's weights are random: chance is {1 / len(target.class_names):.2f})")
norms = [
    layer for layer in model.layers[-3].layers if isinstance(layer, keras.layers.BatchNormalization)
]
frozen = not any(norm.trainable for norm in norms)
print(f"The base's {len(norms)} batch normalizations all frozen: {frozen}")
print(f"Done: {np.round(time.perf_counter() - start, 1)} s since the data loaded.")

# %% [markdown]
# ## The recorded experiment
#
# The short runs above show the code path, not which arm wins. The
# chapter's experiment trains every arm for its full 400 updates, with five
# seeds, from a pretraining of 10 epochs:
# `cnn-guide record --plan experiments --only transfer-learning` records it,
# and this cell reads it from the store of runs: each arm's test accuracy by
# seed, then the test accuracy against the labels per class, one line per arm.

# %%
from cnn_guide.experiments import get_experiment
from cnn_guide.plotting import show
from cnn_guide.report.experiments import plot_labels_curve, summary

experiment = get_experiment("transfer-learning")
print(summary(experiment))
if any(experiment.recorded().values()):
    show(plot_labels_curve(experiment), "transfer_labels_curve")
