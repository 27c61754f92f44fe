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
# # Example: Network in Network, trained
#
# The executed example of the chapter [Network in Network](../../chapters/nin/):
# a network of mlpconv layers (a convolution followed by two 1x1
# convolutions) whose last layer draws one map per class, averaged into the
# class scores with no dense layer at all, trained on the real Fashion-MNIST.
# Everything printed below was produced when this page was built.
#
# **Run it yourself.** Download this script (the button at the top of the
# page) and run `python nin.py`: the full budget is 10 epochs on all 55,000
# training images; the last cell prints its recorded result, or the command
# that records one. `CNN_GUIDE_BUDGET=site` runs the short version shown here
# and `CNN_GUIDE_BUDGET=quick` a smoke test of a few steps on 640 images. The
# first cell prints the plan: this budget, the recipe, and the same full run
# as a command line.

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
from cnn_guide.plotting import book_style, plot_history, show
from cnn_guide.training import fit

plan = plan_example("nin_fashion", site_epochs=2, site_train_size=18_000)
print(plan.describe())

start = time.perf_counter()
data = plan.apply(load_fashion_mnist())
print(plan.expected_time(data))
print(f"Loaded Fashion-MNIST from {data.source} in {time.perf_counter() - start:.2f} s.")
for split, images in [("train", data.x_train), ("valid", data.x_valid), ("test", data.x_test)]:
    print(f"{split:>5}: {images.shape[0]:>6,} images of shape {images.shape[1:]}")

# %% [markdown]
# ## The model
#
# Four mlpconv layers, each a convolution and two 1x1 convolutions, all with
# ReLU. Two 3x3/2 max poolings take the map from 28 to 13 to 6. The fourth
# mlpconv has as many filters as there are classes, so its output is ten 6x6
# *class maps*; global average pooling turns each map into one number, and a
# softmax turns the ten numbers into probabilities.

# %%
keras.utils.set_random_seed(plan.recipe.seed)  # the initial weights; fit() seeds the rest
model = models.build("nin_fashion")
model.summary()

# %% [markdown]
# ## Where the parameters and the compute are
#
# The per-layer table of
# [`cnn_guide.analysis.layer_table`](../../reference/cnn_guide/analysis/):
# the 1x1 layers (`mlp1`, `mlp2`) leave the receptive field where the
# convolution before them put it, since each looks at one pixel, and they
# are cheap, $C_\text{in} C_\text{out} + C_\text{out}$ parameters each. The
# head (`avg_pool`, `predictions`) has no parameters at all.

# %%
table = layer_table(model)
print(table)

pointwise = [row for row in table if "_mlp" in row.name]
print(
    f"The {len(pointwise)} 1x1 convolutions hold "
    f"{sum(r.params for r in pointwise) / table.total_params:.1%} of the parameters and do "
    f"{sum(r.macs for r in pointwise) / table.macs:.1%} of the MACs."
)
for c in (32, 64, 128):
    print(
        f"{c:>3} channels in and out: a 1x1 convolution has {conv_params(1, c, c):>6,} "
        f"parameters, a 3x3 one {conv_params(3, c, c):>7,}"
    )

# %% [markdown]
# ## What the dense head would have cost
#
# Without global average pooling, the features after the third mlpconv
# (6x6x128) would be flattened and classified by dense layers, as in AlexNet
# and VGG. The arithmetic for three heads on the same features: NiN's own
# (the class-map mlpconv, then an average), a single dense layer (a linear
# classifier on the flattened map), and a VGG-style head of two hidden layers
# of 256 units (the one of `vgg_fashion`).

# %%
side, features, classes = 6, 128, len(data.class_names)
flat = side * side * features
heads = {
    "class-map mlpconv + average": conv_params(3, features, classes)
    + 2 * conv_params(1, classes, classes),
    "flatten + dense 10": flat * classes + classes,
    "flatten + dense 256-256-10": (flat * 256 + 256)
    + (256 * 256 + 256)
    + (256 * classes + classes),
}
body = table.total_params - heads["class-map mlpconv + average"]
print(
    f"Features: {side}x{side}x{features} = {flat:,} values; the layers before the head "
    f"hold {body:,} parameters."
)
for head, params in heads.items():
    print(f"{head:>28}: {params:>9,} parameters, {params / body:5.1%} of the body's")
print(
    f"The class-map mlpconv's 3x3 convolution costs {conv_macs(side, side, 3, features, classes):,}"
    f" MACs; the average only sums the {side * side} values of each map and divides."
)

# %% [markdown]
# The paper's configuration, as this book builds it for ImageNet (the
# AlexNet-sized layers of *Dive into Deep Learning*): the class maps are
# 5x5x1000 at a 224x224 input. A dense head of AlexNet's 4096-4096 on its
# 5x5x384 features would need the parameters printed below the table.

# %%
paper = models.build("nin")
paper_table = layer_table(paper)
print(paper_table)
flat = 5 * 5 * 384
dense = (flat * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
print(
    f"A 4096-4096-1000 dense head on {flat:,} features: {dense:,} parameters, "
    f"{dense / paper_table.total_params:.1f} times the whole NiN."
)

# %% [markdown]
# ## Build it yourself
#
# An mlpconv layer is three convolutions with ReLU: a $k \times k$ one over
# each patch, then two 1x1 ones, the two-layer perceptron applied to the
# channels of every pixel. In plain Keras:


# %%
# --8<-- [start:block]
def my_mlpconv(x, filters, kernel_size, strides=1, padding="same", name="mlpconv"):
    """A k x k convolution, then two 1x1 convolutions: a perceptron slid over the image."""
    x = keras.layers.Conv2D(
        filters, kernel_size, strides, padding, activation="relu", name=f"{name}_conv"
    )(x)
    x = keras.layers.Conv2D(filters, 1, activation="relu", name=f"{name}_mlp1")(x)
    return keras.layers.Conv2D(filters, 1, activation="relu", name=f"{name}_mlp2")(x)


# --8<-- [end:block]


# %%
# --8<-- [start:diagram]
from cnn_guide.diagrams import draw_model

# The second mlpconv of nin_fashion: 64 filters of 3x3 on the 13x13x32 maps after pool1.
inputs = keras.Input((13, 13, 32), name="pool1_output")
block = keras.Model(inputs, my_mlpconv(inputs, 64, 3, name="mlpconv2"), name="my_mlpconv")
show(draw_model(block, title="An mlpconv layer, from scratch"), "mlpconv_diagram")
# --8<-- [end:diagram]

# %% [markdown]
# The check: copy the kernels and biases of `nin_fashion`'s `mlpconv2_conv`,
# `mlpconv2_mlp1` and `mlpconv2_mlp2`, in that order, into the scratch block,
# and feed both the same real feature maps, the outputs of `pool1` for 256
# test images.

# %%
names = ["mlpconv2_conv", "mlpconv2_mlp1", "mlpconv2_mlp2"]
block.set_weights([w for name in names for w in model.get_layer(name).get_weights()])
features = keras.Model(model.input, model.get_layer("pool1").output)(data.x_test[:256])
reference = features
for name in names:  # the package's own layers, applied in order
    reference = model.get_layer(name)(reference)
diff = float(np.abs(block(features) - reference).max())
a, b = block.count_params(), sum(model.get_layer(name).count_params() for name in names)
print(
    f"parameters: {a:,} (scratch) = {b:,} (cnn_guide); "
    f"largest difference after copying the weights: {diff:.1e}"
)
assert a == b and diff < 1e-5

# %% [markdown]
# The package's mlpconv is the same three layers, built by a private helper
# of the model builders rather than a public block; what the builders add is
# He initialisation, the checks on their arguments, and the layer names
# (`mlpconv2_conv`, ...) that the per-layer tables and this check rely on.

# %% [markdown]
# ## Training
#
# The same recipe in every architecture chapter, so results compare: the
# book recipe, 'book' (printed in the first cell): AdamW with a one-cycle
# learning-rate schedule peaking at 0.004, weight decay 5e-4, label smoothing
# 0.1, batch size 128, batch-norm statistics recomputed before every
# evaluation (this network has none), a validation pass after each epoch,
# every random choice seeded. The start can be slow: the gradient of
# each class score is spread evenly over the 36 positions of its map, and a
# map that the final ReLU silences everywhere gets none until the layers below
# change.

# %%
result = fit(model, data, plan.recipe, verbose=2)
print(result.describe())

# %%
show(plot_history(result.history), "learning_curves")

# %% [markdown]
# ## The class maps
#
# A Keras model that stops before the global average pooling returns the
# ten class maps, one per class, each 6x6. Averaging them and applying the
# softmax must give the model's output exactly, since the head has no
# weights: the check below compares the two.

# %%
probe = keras.Model(model.input, model.get_layer("mlpconv4_mlp2").output)
maps = probe.predict(data.x_test, batch_size=256, verbose=0)
scores = maps.mean(axis=(1, 2))
softmax = np.exp(scores - scores.max(axis=1, keepdims=True))
softmax /= softmax.sum(axis=1, keepdims=True)
outputs = result.model.predict(data.x_test[:1000], batch_size=256, verbose=0)
print(
    f"Class maps: {maps.shape[1:]} per image. Largest difference between the softmax of "
    f"their averages and the model's output: {np.abs(softmax[:1000] - outputs).max():.1e}"
)
true = scores[np.arange(len(scores)), data.y_test]
others = (scores.sum(axis=1) - true) / (classes - 1)
print(
    f"On the {len(scores):,} test images the true class's map averages {true.mean():.3f}, "
    f"the nine others {others.mean():.3f}; the true class's map is the brightest for "
    f"{np.mean(scores.argmax(axis=1) == data.y_test):.1%} of them (the test accuracy)."
)

# %% [markdown]
# The maps of the first test image of five different classes. Each row is
# one image and its ten class maps on a common grey scale (white is the
# row's largest value); the number under a map is its average, the class
# score before the softmax, in bold for the highest score (the prediction).
# The true class's map is framed in red. Where the network has learnt the
# class, its map lights up over the garment while the other maps stay dark;
# where it confuses two classes (shirt and T-shirt/top, coat and pullover),
# both maps light up.

# %%
rows = [int(np.flatnonzero(data.y_test == label)[0]) for label in np.unique(data.y_test)]
rows = sorted(rows)[:5]
with book_style():
    fig, axes = plt.subplots(
        len(rows), classes + 1, figsize=(1.05 * (classes + 1), 1.3 * len(rows))
    )
    for position, (row, index) in enumerate(zip(axes, rows, strict=True)):
        row[0].imshow(data.x_test[index, ..., 0], cmap="binary", vmin=0, vmax=1)
        row[0].set_title(data.class_names[data.y_test[index]], fontsize=8)
        top = maps[index].max() or 1.0  # a row of all-zero maps stays black
        for label, ax in enumerate(row[1:]):
            ax.imshow(maps[index, ..., label], cmap="gray", vmin=0, vmax=top)
            # The brightest map on average is the prediction: its score in bold.
            bold = label == scores[index].argmax()
            ax.set_xlabel(
                f"{scores[index, label]:.2f}", fontsize=7, weight="bold" if bold else None
            )
            if position == 0:
                ax.set_title(data.class_names[label], fontsize=7)
            # Frame the true class's map; hide the other frames.
            is_true = label == data.y_test[index]
            for spine in ax.spines.values():
                spine.set_visible(is_true)
                spine.set_color("#d62728")
                spine.set_linewidth(2)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        row[0].axis("off")
    fig.suptitle("Class maps before global average pooling (true class framed)")
    fig.tight_layout()
show(fig, "class_maps")

# %% [markdown]
# ## The full run
#
# The short run above is what fits in a documentation build. The full
# budget's result, recorded by the command it names on the machine it names:

# %%
plan.show_full_run(result)
