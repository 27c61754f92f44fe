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
# # Example: GoogLeNet and its inception modules, trained
#
# The executed example of the chapter [GoogLeNet](../../chapters/googlenet/):
# a GoogLeNet scaled to 28x28 images, three inception modules between a small
# stem and a global-average-pooling head, trained on the real Fashion-MNIST
# with the recipe every architecture chapter shares ('book': AdamW with a
# one-cycle schedule, batch 128).
# Everything printed below was produced when this page was built.
#
# **Run it yourself.** Download this script (the button at the top of the
# page) and run `python googlenet.py`: the full budget trains for 10 epochs
# on all 55,000 training images, and the last cell prints the recorded result
# of that run (or the command that records one). `CNN_GUIDE_BUDGET=site` runs
# the short version shown here and `CNN_GUIDE_BUDGET=quick` a smoke test of a
# few steps on 640 images. The first cell prints the plan: this budget, the
# recipe, and the same full run as a command line.

# %%
import cnn_guide

cnn_guide.import_tensorflow()  # first, so that TensorFlow starts without its start-up log lines

import time

import keras
import numpy as np

from cnn_guide import models
from cnn_guide.analysis import conv_macs, conv_params, layer_table, stack_receptive_field
from cnn_guide.budget import plan_example
from cnn_guide.data import load_fashion_mnist
from cnn_guide.diagrams import draw_model
from cnn_guide.plotting import plot_feature_maps, plot_history, plot_samples, show
from cnn_guide.training import fit

plan = plan_example("googlenet_fashion", site_epochs=2, site_train_size=10_000)
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
# ## Why the 1x1 reductions matter: inception 3a, computed
#
# The first inception module of the paper's GoogLeNet, 3a, receives a
# 28x28x192 map. Its four branches produce 64 (1x1), 128 (3x3), 32 (5x5) and
# 32 (pooling) channels. The *naive* module of the paper's Figure 2a applies
# the 3x3 and 5x5 convolutions to all 192 input channels and concatenates the
# pooled input as it is; the module GoogLeNet uses (Figure 2b) first reduces
# the channels with 1x1 convolutions: to 96 before the 3x3, to 16 before the
# 5x5, and projects the pooled map to 32. Costs in multiply-accumulates (MACs)
# per image and weights (biases left out), from the formulas of
# `cnn_guide.analysis`:

# %%
side, c_in = 28, 192


def cost(convs):
    """Weights and MACs of (kernel, in, out) convolutions on the 28x28 map."""
    weights = sum(conv_params(k, i, o, bias=False) for k, i, o in convs)
    macs = sum(conv_macs(side, side, k, i, o) for k, i, o in convs)
    return weights, macs


naive = {
    "1x1": [(1, c_in, 64)],
    "3x3": [(3, c_in, 128)],
    "5x5": [(5, c_in, 32)],
    "pool": [],  # the pooled 192 channels go straight into the output
}
reduced = {
    "1x1": [(1, c_in, 64)],
    "3x3": [(1, c_in, 96), (3, 96, 128)],
    "5x5": [(1, c_in, 16), (5, 16, 32)],
    "pool": [(1, c_in, 32)],
}
totals = {"naive": np.zeros(2, dtype=np.int64), "reduced": np.zeros(2, dtype=np.int64)}
print(f"{'branch':<8}{'naive MACs':>14}{'reduced MACs':>15}{'naive weights':>15}{'reduced':>10}")
for branch in naive:
    (wn, mn), (wr, mr) = cost(naive[branch]), cost(reduced[branch])
    totals["naive"] += (wn, mn)
    totals["reduced"] += (wr, mr)
    print(f"{branch:<8}{mn / 1e6:>13.1f}M{mr / 1e6:>14.1f}M{wn:>15,}{wr:>10,}")
(naive_w, naive_m), (red_w, red_m) = totals["naive"], totals["reduced"]
print(f"{'total':<8}{naive_m / 1e6:>13.1f}M{red_m / 1e6:>14.1f}M{naive_w:>15,}{red_w:>10,}")
print(
    f"The reductions cut the module's MACs by {naive_m / red_m:.2f}x and its weights by "
    f"{naive_w / red_w:.2f}x; it outputs {64 + 128 + 32 + 32} channels instead of "
    f"{64 + 128 + 32 + c_in}, which also keeps the next module cheaper."
)

# %% [markdown]
# The same module inside the real network: the paper configuration,
# `googlenet` at 224x224x3 with both auxiliary classifiers. Its per-layer
# table counts the MACs from the traced TensorFlow graph, so the row of
# `inception_3a` checks the arithmetic above (the biases add a few hundred
# parameters). The auxiliary heads are training-only; without them the
# network has the parameter count the test suite checks, 6,998,552.

# %%
paper = models.build("googlenet", aux_classifiers=True)
paper_table = layer_table(paper)
row = paper_table["inception_3a"]
print(
    f"inception_3a in googlenet: input 28x28x192, output {row.output_shape}, "
    f"{row.params:,} parameters, {row.macs / 1e6:.1f}M MACs"
)
aux = sum(layer.count_params() for layer in paper.layers if layer.name.startswith("aux"))
print(
    f"googlenet: {paper.count_params():,} parameters with the auxiliary classifiers, "
    f"{paper.count_params() - aux:,} without; {paper_table.macs / 1e9:.2f}G MACs per "
    "224x224 image"
)

# %% [markdown]
# ## The Fashion-MNIST model
#
# A 3x3 stem and a pooling take the 28x28 image to 14x14x64; inception 3a
# works at 14x14, a pooling halves the map, and 3b and 4a work at 7x7, each
# module with half the paper's filters. Global average pooling, dropout 0.4
# and a 10-way softmax make the head: there is no dense hidden layer at all.

# %%
keras.utils.set_random_seed(plan.recipe.seed)  # the initial weights; fit() seeds the rest
model = models.build("googlenet_fashion")
model.summary()

# %% [markdown]
# The summary shows each inception module as one layer; the per-layer table
# below adds the multiply-accumulates and receptive fields. A module's
# receptive field grows by 4 pixels times the jump (its widest branch is a
# 5x5), and almost all of the compute is in the three modules.

# %%
print(layer_table(model))

# %% [markdown]
# ## Training
#
# The same recipe in every architecture chapter, so results compare: the
# book recipe, 'book' (printed in the first cell): AdamW with a one-cycle
# learning-rate schedule peaking at 0.004, weight decay 5e-4, label smoothing
# 0.1, batch size 128, batch-norm statistics recomputed before every
# evaluation (this network has none), one validation pass per epoch, every
# random choice seeded.

# %%
result = fit(model, data, plan.recipe, verbose=2)
print(result.describe())

# %%
show(plot_history(result.history), "learning_curves")

# %% [markdown]
# ## Inside an inception module: four branches, one input
#
# Inception 3a of the trained model receives the 14x14x64 map of the stem.
# We run its four branches one by one on that map (the module keeps them as
# sublayers: `branch_1x1`, `branch_3x3_reduce` then `branch_3x3`, and so on)
# and show, for one test image, the six most strongly responding channels of
# the module's input (top row) and of each branch (one row each). Every branch
# sees the same input, but through a different window of the original image:
# the stem's 3x3 convolution and 3x3/2 pooling already see 5x5 pixels, and
# neighbouring pixels of the 14x14 map are 2 image pixels apart, so a 3x3
# kernel there adds 4 pixels to the window and a 5x5 adds 8.

# %%
module = result.model.get_layer("inception_3a")
stem = keras.Model(result.model.input, module.input)
stem_path = [(3, 1), (3, 2)]  # conv1 3x3, pool1 3x3/2
branch_paths = {
    "1x1": [(1, 1)],
    "3x3": [(1, 1), (3, 1)],
    "5x5": [(1, 1), (5, 1)],
    "pool": [(3, 1), (1, 1)],
}
for branch, path in branch_paths.items():
    field, _ = stack_receptive_field(stem_path + path)
    print(f"{branch:>4} branch: each output sees {field}x{field} image pixels")

# %%
image_index = int(np.flatnonzero(data.y_test == data.class_names.index("Sneaker"))[0])
image = data.x_test[image_index : image_index + 1]
show(
    plot_samples(
        image, data.y_test[image_index : image_index + 1], data.class_names, columns=1, rows=1
    ),
    "image",
)

x = stem(image)
branches = {
    "input": x,
    "1x1": module.branch_1x1(x),
    "3x3": module.branch_3x3(module.branch_3x3_reduce(x)),
    "5x5": module.branch_5x5(module.branch_5x5_reduce(x)),
    "pool": module.branch_pool_proj(module.branch_pool(x)),
}
per_branch = 6
maps, titles = [], []
for name, output in branches.items():
    output = np.asarray(output)[0]  # (14, 14, channels)
    strongest = np.argsort(output.mean(axis=(0, 1)))[::-1][:per_branch]
    maps += [output[..., c] for c in strongest]
    titles += [f"{name} #{c}" for c in strongest]
    active = (output.max(axis=(0, 1)) > 0).mean()
    print(
        f"{name:>5}: {output.shape[-1]:>3} channels, "
        f"{active:.0%} of them active somewhere on this image"
    )
show(
    plot_feature_maps(
        np.stack(maps, axis=-1),
        titles=titles,
        columns=per_branch,
        title="inception_3a: its input and the six strongest channels of each branch",
    ),
    "inception_branches",
)

# %% [markdown]
# The top row is the module's input, the next four its branches, each panel
# titled by branch and channel number. All four branches are computed from
# the same 14x14x64 map (the top row shows six of its channels), so what
# differs is only how far each branch looks and what it was trained to
# detect: compare the 1x1 row, which can only recombine the input's channels
# position by position, with the 3x3 and 5x5 rows, whose outputs mix a
# neighbourhood, and the pooling row, which first takes the maximum of each
# 3x3 neighbourhood.
# The module concatenates all 128 channels, and the next layer weighs them.

# %% [markdown]
# ## Build it yourself
#
# The inception module in plain Keras, with the functional API: four branches
# read the same input `x`, and a `Concatenate` stacks their outputs along the
# channels. Every convolution has a bias, a ReLU and "same" padding; the
# pooling has stride 1, so all four branches keep the input's height and width.


# %%
# --8<-- [start:block]
def my_inception(x, f1, f3_reduce, f3, f5_reduce, f5, pool_proj):
    """GoogLeNet's inception module: four branches on one input, concatenated."""

    def conv(filters, size, name):
        return keras.layers.Conv2D(filters, size, padding="same", activation="relu", name=name)

    branch_1x1 = conv(f1, 1, "1x1")(x)
    branch_3x3 = conv(f3, 3, "3x3")(conv(f3_reduce, 1, "3x3_reduce")(x))
    branch_5x5 = conv(f5, 5, "5x5")(conv(f5_reduce, 1, "5x5_reduce")(x))
    pooled = keras.layers.MaxPooling2D(3, strides=1, padding="same", name="pool")(x)
    branch_pool = conv(pool_proj, 1, "pool_proj")(pooled)
    branches = [branch_1x1, branch_3x3, branch_5x5, branch_pool]
    return keras.layers.Concatenate(name="concat")(branches)


# --8<-- [end:block]


# %%
# --8<-- [start:diagram]
# Inception 3a of the paper (Figure 2b, Table 1), on its 28x28x192 input.
inputs = keras.Input((28, 28, 192), name="input")
paper_3a = keras.Model(inputs, my_inception(inputs, 64, 96, 128, 16, 32, 32), name="paper_3a")
show(draw_model(paper_3a, title="my_inception(x, 64, 96, 128, 16, 32, 32)"), "block_diagram")
# --8<-- [end:diagram]

# %%
print(
    f"{paper_3a.count_params():,} parameters; the row of inception_3a in googlenet's table: "
    f"{paper_table['inception_3a'].params:,}"
)

# %% [markdown]
# The diagram is drawn from the model itself: one box per layer with its
# output shape, the branches left to right in the order `Concatenate` reads
# them, 64 + 128 + 32 + 32 = 256 channels out.
#
# Does it compute the same function as the package's `InceptionModule`
# ([API](../../reference/cnn_guide/layers/inception/))? The module's
# sublayers have the same names as ours (`1x1`, `3x3_reduce`, ...) under the
# attributes `branch_1x1`, `branch_3x3_reduce`, ..., so the weights of the
# trained model's `inception_3a` (half the paper's filters, on the stem's
# 14x14x64 map) can be copied layer by layer into a `my_inception` with the
# same filters. Then both run on the feature maps that the trained stem
# computes for 64 test images:

# %%
inputs = keras.Input((14, 14, 64), name="input")
scratch = keras.Model(inputs, my_inception(inputs, 32, 48, 64, 8, 16, 16), name="my_inception")
for layer in scratch.layers:
    if layer.weights:  # the six convolutions
        layer.set_weights(getattr(module, f"branch_{layer.name}").get_weights())
feature_maps = stem(data.x_test[:64])
diff = float(np.abs(np.asarray(scratch(feature_maps)) - np.asarray(module(feature_maps))).max())
print(
    f"parameters: {scratch.count_params():,} (scratch) = {module.count_params():,} (cnn_guide); "
    f"largest difference after copying the weights: {diff:.1e}"
)
assert scratch.count_params() == module.count_params() and diff < 1e-5

# %% [markdown]
# The package's `InceptionModule` differs only in what a library needs: it is
# one layer (one row of `summary()`), saves and loads through `get_config`,
# checks that every filter count is a positive integer, and takes the
# activation and the kernel initializer as arguments.

# %% [markdown]
# ## The full run
#
# The short run above is what fits in a documentation build. The full
# budget's result, recorded by the command it names on the machine it names:

# %%
plan.show_full_run(result)
