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
# # Example: LeNet-5, trained
#
# The executed example of the chapter [LeNet-5](../../chapters/lenet/): the
# 1998 network of LeCun, Bottou, Bengio and Haffner, with its 5x5
# convolutions, 2x2 subsampling and tanh units, trained on the real
# Fashion-MNIST. We count the paper's 60,000 parameters layer by layer, draw
# the partial connection table of C3, and look at what the six C1 feature
# maps learned to detect. Everything printed below was produced when this page
# was built.
#
# **Run it yourself.** Download this script (the button at the top of the
# page) and run `python lenet5.py`: the full budget is 20 epochs on all 55,000
# training images. `CNN_GUIDE_BUDGET=site` runs the short version shown here
# and `CNN_GUIDE_BUDGET=quick` a smoke test of a few steps on 640 images. The
# first cell prints the plan: this budget, the recipe, and the command that
# makes the same full run from the command line (and records it). The last
# cell prints the full run's recorded result, or that command if none is
# recorded yet.

# %%
import cnn_guide

cnn_guide.import_tensorflow()  # first, so that TensorFlow starts without its start-up log lines

import time

import keras
import matplotlib.pyplot as plt
import numpy as np

from cnn_guide import models
from cnn_guide.analysis import conv_macs, conv_params, layer_table
from cnn_guide.budget import plan_example
from cnn_guide.data import load_fashion_mnist
from cnn_guide.layers.lenet import LENET5_C3_TABLE
from cnn_guide.plotting import book_style, plot_feature_maps, plot_history, show
from cnn_guide.training import fit

# LeNet-5 is tiny (0.42M multiply-accumulates per image): even the site build
# can afford every training image.
plan = plan_example("lenet5_fashion", site_epochs=3)
print(plan.describe())

# %%
start = time.perf_counter()
data = load_fashion_mnist()
print(f"Loaded Fashion-MNIST from {data.source} in {time.perf_counter() - start:.2f} s.")
data = plan.apply(data)
print(plan.expected_time(data))
for split, images in [("train", data.x_train), ("valid", data.x_valid), ("test", data.x_test)]:
    print(f"{split:>5}: {images.shape[0]:>6,} images of shape {images.shape[1:]}")

# %% [markdown]
# ## The model
#
# `lenet5_fashion` is the paper's network with one change: the paper centred
# its 28x28 digits in a 32x32 field, so that C1's 'valid' 5x5 convolution gave
# 28x28 maps; here C1 pads the 28x28 image with two pixels of zeros instead
# ('same' padding), and every map after it has the paper's size: C1 28x28,
# S2 14x14, C3 10x10, S4 5x5, C5 1x1. The defaults are those of modern
# re-implementations: C3 reads all six S2 maps and S2/S4 are plain average
# pooling.

# %%
keras.utils.set_random_seed(plan.recipe.seed)  # the initial weights; fit() seeds the rest
model = models.build("lenet5_fashion")
model.summary()

# %% [markdown]
# The per-layer table adds the multiply-accumulates (MACs) per image and the
# receptive field (RF). Three things to notice: C5 holds almost four fifths of
# the parameters but does a ninth of the work, because its 5x5 kernels fit
# the 5x5 map of S4 exactly once; C3 does the most work; and C5's units see
# 32x32 input pixels, more than the whole 28x28 image (the extra border is
# C1's zero padding). After C5 the network reads the image as a whole.

# %%
print(layer_table(model))

# %% [markdown]
# ## The paper's 60,000 parameters
#
# The paper reports 60,000 trainable parameters. Two options of the builder
# reproduce its layers: `c3_connections="paper"` (Table I, where each C3 map
# reads only some S2 maps, via `PartialConv2D`) and `subsampling="trainable"`
# (S2 and S4 multiply each average by a learned coefficient and add a learned
# bias, via `TrainableSubsampling`). Below, each layer's count from the built
# model next to the formula of the chapter.

# %%
paper = models.build("lenet5", c3_connections="paper", subsampling="trainable")
paper_table = layer_table(paper)
connections = sum(len(inputs) for inputs in LENET5_C3_TABLE)  # the 60 crosses of Table I
by_formula = {
    "c1": conv_params(5, 1, 6),  # (5*5*1 + 1) * 6
    "s2": 2 * 6,  # a coefficient and a bias per map
    "c3": 5 * 5 * connections + 16,  # one 5x5 kernel per connection, a bias per map
    "s4": 2 * 16,
    "c5": conv_params(5, 16, 120),  # (5*5*16 + 1) * 120
    "f6": 120 * 84 + 84,
}
for name, formula in by_formula.items():
    print(
        f"{name}: {paper_table[name].params:>6,} parameters in the model, {formula:>6,} by formula"
    )
print(
    f"C1 to F6: {sum(by_formula.values()):,}. Our dense output layer adds "
    f"{paper_table['predictions'].params:,} (the paper's RBF output has fixed prototypes), "
    f"for {paper_table.total_params:,} in all; the default model (full C3, average pooling) has "
    f"{model.count_params():,}."
)

# %% [markdown]
# Table I saves weights and work in C3. The partial layer stores only its 60
# connected kernels (it runs one ordinary convolution with zeros in the
# missing slots, but `layer_table` counts the multiplications the table asks
# for, as the paper does):

# %%
full_c3 = conv_macs(10, 10, 5, 6, 16)
partial_c3 = 10 * 10 * 5 * 5 * connections
print(f"C3 reading all 6 S2 maps: {conv_params(5, 6, 16):,} parameters, {full_c3:,} MACs")
print(
    f"C3 with Table I ({connections} of 96 connections): {by_formula['c3']:,} parameters, "
    f"{partial_c3:,} MACs ({partial_c3 / full_c3:.1%}); the table above: "
    f"{paper_table['c3'].macs:,}"
)

# %% [markdown]
# The table itself, drawn as a matrix: one column per C3 map, one row per S2
# map, a square where the C3 map reads the S2 map. The first six C3 maps read
# three neighbouring S2 maps, the next six four neighbours, three more four
# non-neighbours, and the last all six. No two columns are equal, so no two
# C3 maps can learn the same feature: the paper's "break of symmetry".

# %%
matrix = np.zeros((6, 16), dtype=bool)
for c3_map, inputs in enumerate(LENET5_C3_TABLE):
    matrix[list(inputs), c3_map] = True
rows, cols = np.nonzero(matrix)
with book_style():
    fig, ax = plt.subplots(figsize=(7.6, 2.9))
    ax.scatter(cols, rows, marker="s", s=190, color="#3f51b5")
    ax.set_xticks(range(16))
    ax.set_yticks(range(6))
    ax.set_xlim(-0.6, 15.6)
    ax.set_ylim(5.6, -0.6)  # S2 map 0 at the top, as in the paper's Table I
    ax.set_xlabel("C3 map")
    ax.set_ylabel("S2 map")
    for edge in (5.5, 11.5, 14.5):
        ax.axvline(edge, linestyle="--", linewidth=1)
    groups = [(2.5, "3 neighbours"), (8.5, "4 neighbours"), (13, "4 others"), (15, "all")]
    for x, label in groups:
        ax.text(x, -0.9, label, ha="center", va="bottom", fontsize=9)
    ax.set_title("C3's connections (Table I of the paper)", pad=22)
    fig.tight_layout()
show(fig, "c3_connection_table")

# %% [markdown]
# ## Build it yourself
#
# The whole network fits in a dozen lines of plain Keras, one line per layer
# of the paper's Figure 2. Written as a function from a tensor to a tensor,
# it reads like the chapter's table: C1 and C3 convolve, S2 and S4 average,
# C5's kernels cover S4's whole 5x5 map, F6 and the output are dense.


# %%
# --8<-- [start:block]
def my_lenet5(x, num_classes=10):
    """LeNet-5 for 28x28 images: C1 pads by 2, every later layer is the paper's."""
    x = keras.layers.Conv2D(6, 5, padding="same", activation="tanh", name="c1")(x)
    x = keras.layers.AveragePooling2D(2, name="s2")(x)
    x = keras.layers.Conv2D(16, 5, activation="tanh", name="c3")(x)
    x = keras.layers.AveragePooling2D(2, name="s4")(x)
    x = keras.layers.Conv2D(120, 5, activation="tanh", name="c5")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(84, activation="tanh", name="f6")(x)
    return keras.layers.Dense(num_classes, activation="softmax", name="output")(x)


# --8<-- [end:block]


# %% [markdown]
# Drawn from the model itself, one box per layer with its output shape:

# %%
# --8<-- [start:diagram]
from cnn_guide.diagrams import draw_model

inputs = keras.Input((28, 28, 1), name="image")
scratch = keras.Model(inputs, my_lenet5(inputs), name="my_lenet5")
show(draw_model(scratch, title="LeNet-5 for 28x28 images, from scratch"), "lenet5_diagram")
# --8<-- [end:diagram]

# %% [markdown]
# Is it the same function as the package's `lenet5_fashion`? Both have their
# weighted layers in the same order (C1, C3, C5, F6, output), each holding a
# kernel and a bias, so `get_weights()` of one fits `set_weights()` of the
# other. After the copy, the two must give the same class probabilities on
# real test images.

# %%
reference = models.build("lenet5_fashion")  # a fresh copy, whatever `model` above is
scratch.set_weights(reference.get_weights())
batch = data.x_test[:256]
diff = float(np.abs(scratch(batch).numpy() - reference(batch).numpy()).max())
a, b = scratch.count_params(), reference.count_params()
print(
    f"parameters: {a:,} (scratch) = {b:,} (cnn_guide); "
    f"largest difference after copying the weights: {diff:.1e}"
)
assert a == b and diff < 1e-5

# %% [markdown]
# The package's builder differs only around the edges: it checks its
# arguments (input size, number of classes, pooling), has the paper's
# options (`c3_connections="paper"`, `subsampling="trainable"`) and a
# `include_top` switch, and is registered by name for `fit` and the
# command line.

# %% [markdown]
# ## Training
#
# The same recipe in every architecture chapter, so results compare: the
# book recipe, 'book' (printed in the first cell): AdamW with a one-cycle
# learning-rate schedule peaking at 0.004, weight decay 5e-4, label smoothing
# 0.1, batch size 128 and a fixed seed, with a validation pass after each
# epoch. Its full run trains LeNet-5 for 20 epochs; this page trains for the
# budget's epochs, with the schedule spread over them. (The paper trained
# with a diagonal Levenberg-Marquardt variant of stochastic gradient descent
# for 20 passes.)

# %%
result = fit(model, data, plan.recipe, verbose=2)
print(result.describe())

# %%
show(plot_history(result.history), "learning_curves")

# %% [markdown]
# ## What C1 learned
#
# Shared weights mean that each C1 map is one 5x5 kernel slid over the whole
# image: the same feature detector at every position. Here are the six
# trained kernels (lighter is a larger weight) ...

# %%
kernels = model.get_layer("c1").get_weights()[0][:, :, 0, :]  # (5, 5, 1, 6) -> (5, 5, 6)
show(
    plot_feature_maps(kernels, titles=[f"kernel {i + 1}" for i in range(6)], columns=6),
    "c1_kernels",
)

# %% [markdown]
# ... and the six maps they produce (after tanh) on one test image of three
# classes, each panel scaled to its own range. Each row shows the input and
# its six maps; compare a map with its
# kernel above: a kernel that is light on one side and dark on the other
# responds to edges across that direction, one of a single sign to bright or
# dark areas. S2 then averages each map down to 14x14, and C3 combines
# neighbouring maps into the next level of features.

# %%
c1 = keras.Model(model.input, model.get_layer("c1").output)
chosen = ["Trouser", "Sneaker", "Bag"]
picks = [int(np.flatnonzero(data.y_test == data.class_names.index(c))[0]) for c in chosen]
images = data.x_test[picks]
maps = c1.predict(images, verbose=0)  # (3, 28, 28, 6)
panels = np.concatenate([np.concatenate([images[i], maps[i]], axis=-1) for i in range(3)], axis=-1)
titles = [t for c in chosen for t in [c, *(f"C1 map {m + 1}" for m in range(6))]]
show(plot_feature_maps(panels, titles=titles, columns=7), "c1_feature_maps")

# %% [markdown]
# ## The full run
#
# The short run above is what fits in a documentation build. The full
# budget's result, recorded by the command it names on the machine it names:

# %%
plan.show_full_run(result)
