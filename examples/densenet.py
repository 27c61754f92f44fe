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
# # Example: DenseNet, trained
#
# The executed example of the chapter [DenseNet](../../chapters/densenet/): a
# small DenseNet-BC trained on the real Fashion-MNIST. It follows the channels
# as each dense layer adds its `k` new feature maps to the block, recounts
# DenseNet-121's eight million parameters from the same rule, and, after
# training, asks which of the last block's sources (its input and each of its
# layers) the classifier actually uses, by neutralizing them one at a time.
# Everything printed below was produced when this page was built.
#
# **Run it yourself.** Download this script (the button at the top of the
# page) and run `python densenet.py`: the full budget is 10 epochs on all
# 55,000 training images; its recorded result, or the command that records
# one, is printed at the end of this page. `CNN_GUIDE_BUDGET=site` runs the
# short version shown here and `CNN_GUIDE_BUDGET=quick` a smoke test of a few
# steps on 640 images. The first cell prints the plan: this budget, the
# recipe, and the same full run as a command line.

# %%
import cnn_guide

cnn_guide.import_tensorflow()  # first, so that TensorFlow starts without its start-up log lines

import time

import keras
import matplotlib.pyplot as plt
import numpy as np

from cnn_guide import models
from cnn_guide.analysis import conv_params, layer_table
from cnn_guide.budget import plan_example
from cnn_guide.data import load_fashion_mnist
from cnn_guide.diagrams import draw_model
from cnn_guide.layers import DenseBlock, DenseLayer, TransitionLayer
from cnn_guide.plotting import book_style, plot_comparison, plot_history, show
from cnn_guide.training import StepHistory, fit

plan = plan_example(
    "densenet_fashion",
    site_epochs=1,
    site_train_size=6_000,
)
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
# `densenet_fashion` is laid out like the paper's DenseNet-BC for 32x32 CIFAR
# images: a 3x3 stem convolution of $2k = 24$ channels, then three
# `DenseBlock`s at 28x28, 14x14 and 7x7 with 2, 4 and 8 `DenseLayer`s and
# growth rate $k = 12$, separated by `TransitionLayer`s that halve the
# channels ($\theta = 0.5$) and the map. A final BN-ReLU, global average
# pooling and a 10-way softmax close it.

# %%
keras.utils.set_random_seed(plan.recipe.seed)  # the initial weights; fit() seeds the rest
model = models.build("densenet_fashion")
model.summary()

# %% [markdown]
# The per-layer table adds the multiply-accumulates (MACs) per image and the
# receptive field. The first block, at full resolution, costs three times the
# MACs of the third although it has a quarter of the layers; the third block
# holds most of the parameters, because its layers read the widest inputs.

# %%
table = layer_table(model)
print(table)

# %% [markdown]
# ## Build it yourself
#
# A dense layer is two BN-ReLU-convolution steps, a 1x1 bottleneck to $4k$
# channels and a 3x3 convolution to $k$, whose output is concatenated onto
# the layer's input. A transition is one BN-ReLU-1x1 step that keeps half of
# the channels, then a 2x2 average pooling. In plain Keras, with the
# functional API (DenseNet uses a batch-normalization epsilon of 1.001e-5,
# where Keras' default is 1e-3):


# %%
# --8<-- [start:block]
def dense_layer(x, growth_rate, name):
    """BN-ReLU-conv 1x1 (4k) - BN-ReLU-conv 3x3 (k); the k new maps are appended to x."""
    y = keras.layers.BatchNormalization(epsilon=1.001e-5, name=f"{name}_bn1")(x)
    y = keras.layers.ReLU(name=f"{name}_relu1")(y)
    y = keras.layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_conv1x1")(y)
    y = keras.layers.BatchNormalization(epsilon=1.001e-5, name=f"{name}_bn2")(y)
    y = keras.layers.ReLU(name=f"{name}_relu2")(y)
    y = keras.layers.Conv2D(growth_rate, 3, padding="same", use_bias=False, name=f"{name}_conv3x3")(
        y
    )
    return keras.layers.Concatenate(name=f"{name}_concat")([x, y])


def transition(x, compression=0.5, name="transition"):
    """BN-ReLU-conv 1x1 keeping a share of the channels, then 2x2 average pooling."""
    kept = int(x.shape[-1] * compression)
    x = keras.layers.BatchNormalization(epsilon=1.001e-5, name=f"{name}_bn")(x)
    x = keras.layers.ReLU(name=f"{name}_relu")(x)
    x = keras.layers.Conv2D(kept, 1, use_bias=False, name=f"{name}_conv")(x)
    return keras.layers.AveragePooling2D(2, name=f"{name}_pool")(x)


# --8<-- [end:block]


# %%
# --8<-- [start:diagram]
feature_maps = keras.Input((28, 28, 24), name="feature_maps")
x = dense_layer(feature_maps, 12, "layer1")
x = dense_layer(x, 12, "layer2")
scratch = keras.Model(feature_maps, transition(x), name="scratch_dense_block")
show(
    draw_model(scratch, title="Two dense layers (k = 12) and a transition"),
    "dense_block_diagram",
)
# --8<-- [end:diagram]

# %% [markdown]
# That is the network's first block and transition: the stem's 24 channels,
# two dense layers bringing them to 48, a transition halving channels and
# map. In the figure, drawn from the model just built, each arc is a dense
# layer's input passed around its two convolutions to the concatenation.
#
# Does it compute what the package's `DenseLayer` and `TransitionLayer`
# compute? The same three layers from the package, as a model, hold the same
# weights in the same order, the order the layers run (a batch
# normalization's scale, offset and two moving statistics, a convolution's
# kernel, and so on), so `get_weights` of one goes into `set_weights` of the
# other. Both then run on real feature maps, the output of the network's
# stem for 32 test images, once with the moving statistics (as in
# evaluation) and once with the batch's own (as in training).

# %%
package_block = keras.Model(
    feature_maps,
    TransitionLayer()(DenseLayer(12)(DenseLayer(12)(feature_maps))),
    name="package_dense_block",
)
scratch.set_weights(package_block.get_weights())
maps = keras.Model(model.input, model.get_layer("stem_conv").output)(data.x_test[:32])
diff = max(
    float(
        np.abs(
            keras.ops.convert_to_numpy(scratch(maps, training=training))
            - keras.ops.convert_to_numpy(package_block(maps, training=training))
        ).max()
    )
    for training in (False, True)  # evaluation first: training moves the statistics
)
a, b = scratch.count_params(), package_block.count_params()
print(f"feature maps {tuple(maps.shape)} -> {tuple(scratch.output.shape[1:])}")
print(
    f"parameters: {a:,} (scratch) = {b:,} (cnn_guide); "
    f"largest difference after copying the weights: {diff:.1e}"
)
assert a == b and diff < 1e-5

# %% [markdown]
# The package's layers compute the same thing and add what a library needs:
# they check their arguments, save and load with every setting
# (`get_config`), take the bottleneck width (`bn_size`) and batch-norm
# settings as options, report their receptive-field path to `layer_table`,
# and `DenseBlock` stacks any number of dense layers.

# %% [markdown]
# ## How the channels grow
#
# Inside a block, layer $\ell$ reads the concatenation of the block's input
# ($k_0$ channels) and the $k$ maps of each of the $\ell - 1$ layers before
# it, so after $\ell$ layers the block carries $k_0 + \ell k$ channels. The
# widths below are read from the model's own layers; each transition keeps
# half of them.

# %%
for layer in model.layers:
    if isinstance(layer, DenseBlock):
        c0, k = layer.input.shape[-1], layer.growth_rate
        widths = [c0 + step * k for step in range(layer.num_layers + 1)]
        assert widths[-1] == layer.output.shape[-1]
        side = layer.output.shape[1]
        print(
            f"{layer.name} ({side}x{side}): k0 = {c0}, k = {k}: "
            f"{' -> '.join(map(str, widths))} channels"
        )
    elif isinstance(layer, TransitionLayer):
        c_in, c_out = layer.input.shape[-1], layer.output.shape[-1]
        side_in, side_out = layer.input.shape[1], layer.output.shape[1]
        print(
            f"{layer.name}: {c_in} -> {c_out} channels (theta = {layer.compression}), "
            f"{side_in}x{side_in} -> {side_out}x{side_out}"
        )

# %% [markdown]
# The bottleneck is what keeps a wide input affordable: each `DenseLayer`
# first reduces its input to $4k$ channels with a 1x1 convolution, so its 3x3
# convolution always has the same cost, whatever the layer's position. For
# the last layer of the third block:

# %%
last = model.get_layer("dense_block3").dense_layers[-1]
c_in, k = last.conv1.kernel.shape[2], last.growth_rate
direct = conv_params(3, c_in, k, bias=False)
bottleneck = conv_params(1, c_in, 4 * k, bias=False) + conv_params(3, 4 * k, k, bias=False)
print(
    f"input {c_in} channels: a direct 3x3 to {k} maps has {direct:,} weights; "
    f"1x1 to {4 * k} then 3x3 to {k}: {bottleneck:,} "
    f"({last.conv1.kernel.shape[2] * 4 * k:,} + {9 * 4 * k * k:,})"
)

# %% [markdown]
# ## DenseNet-121, counted by hand
#
# The paper's ImageNet network has four blocks of 6, 12, 24 and 16 layers with
# $k = 32$, a 7x7 stem of 64 channels and compression 0.5. The same two rules,
# $k_0 + \ell k$ inside a block and $\lfloor \theta C \rfloor$ at a transition,
# give every layer's width and so every weight: batch normalization holds four
# numbers per channel in Keras (scale, offset and the two moving statistics).
# The total must equal `keras.applications.DenseNet121`'s count, which the test
# suite checks our `densenet121` builder against; building the model itself
# takes tens of seconds, the arithmetic none.


# %%
def batch_norm(channels):
    return 4 * channels


growth, channels, compression = 32, 64, 0.5
total = conv_params(7, 3, channels, bias=False) + batch_norm(channels)
path = [channels]
for block, num_layers in enumerate((6, 12, 24, 16)):
    for _ in range(num_layers):
        total += batch_norm(channels) + conv_params(1, channels, 4 * growth, bias=False)
        total += batch_norm(4 * growth) + conv_params(3, 4 * growth, growth, bias=False)
        channels += growth
    path.append(channels)
    if block < 3:
        kept = int(channels * compression)
        total += batch_norm(channels) + conv_params(1, channels, kept, bias=False)
        channels = kept
        path.append(channels)
total += batch_norm(channels) + channels * 1000 + 1000  # final BN, then the classifier
reference = models.get_info("densenet121").reference_params
print(f"channels at each block's start and end: {' -> '.join(map(str, path))}")
print(f"DenseNet-121: {total:,} parameters by hand; reference {reference:,}")
assert total == reference

# %% [markdown]
# ## How the channels grow, drawn
#
# The same two rules, for the whole of both networks. Each bar is the width
# of the tensor one layer reads: it rises by $k$ from one dense layer to the
# next, a transition reads the whole block and halves it, and the classifier
# reads what the last block ends with. The dashed line is the width every
# layer's 3x3 convolution reads after its 1x1 bottleneck, $4k$, whatever the
# layer's position.


# %%
def channel_path(blocks, k0, growth, compression=0.5):
    """(width read, kind) for each layer: dense layers add `growth`, transitions compress."""
    path, channels = [], k0
    for index, num_layers in enumerate(blocks):
        for _ in range(num_layers):
            path.append((channels, "dense layer"))
            channels += growth
        if index < len(blocks) - 1:
            path.append((channels, "transition"))
            channels = int(channels * compression)
    path.append((channels, "classifier"))
    return path


fashion_blocks = [layer.num_layers for layer in model.layers if isinstance(layer, DenseBlock)]
first = model.get_layer("dense_block1")
fashion = channel_path(fashion_blocks, first.input.shape[-1], first.growth_rate)
assert fashion[-1][0] == model.get_layer("predictions").input.shape[-1]
networks = [
    ("densenet_fashion (k = 12)", fashion, first.growth_rate),
    ("DenseNet-121 (k = 32)", channel_path((6, 12, 24, 16), 64, growth), growth),
]
colors = {"dense layer": "C0", "transition": "C1", "classifier": "C2"}
with book_style():
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for ax, (title, path, k) in zip(axes, networks, strict=True):
        for kind, color in colors.items():
            points = [(i, width) for i, (width, what) in enumerate(path) if what == kind]
            ax.bar(*zip(*points, strict=True), color=color, label=kind)
        ax.axhline(4 * k, linestyle="--", color="grey", label=f"3x3 input, 4k = {4 * k}")
        ax.set_xlabel("layer, in order")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel("channels read")
        ax.set_title(title)
        ax.legend(fontsize=8)
    fig.tight_layout()
show(fig, "channel_growth")

# %% [markdown]
# ## Training
#
# The same recipe in every architecture chapter, so results compare: the
# book recipe, 'book' (printed in the first cell): AdamW with a one-cycle
# learning-rate schedule peaking at 0.004, weight decay 5e-4, label smoothing
# 0.1, batch size 128, a fixed seed.
#
# One of its settings matters most in a short run. Batch normalization
# normalizes each training batch with the batch's own statistics, but
# evaluates with moving
# averages that trail the weights: each step moves them only a share
# (`1 - momentum`, here 0.01) of the way towards the current batch's
# statistics. Over a full run they catch up. After the few dozen steps of the
# documentation build they still describe the network of many steps ago, and
# the test accuracy would say more about those stale averages than about the
# network. So the book recipe sets `settle_batch_norm`: before every
# evaluation, `fit` recomputes the statistics from 512 training images with
# the current weights
# ([`PreciseBatchNorm`](../../reference/cnn_guide/training/#cnn_guide.training.PreciseBatchNorm),
# "precise BN", Wu and Johnson 2021,
# [arXiv:2105.07576](https://arxiv.org/abs/2105.07576)); it changes no
# weight and nothing about training. The full run settles them too, under the
# same recipe (printed in the first cell), though there the moving averages
# have had hundreds of steps per epoch to catch up.
# `StepHistory` records the training loss of every step, for runs too short
# for per-epoch curves.


# %%
steps = StepHistory()
result = fit(model, data, plan.recipe, callbacks=[steps], verbose=2)
print(result.describe())

# %%
if len(result.history["loss"]) > 1:
    show(plot_history(result.history), "learning_curves")
else:  # one epoch gives one point per curve: plot every step's training loss instead
    curves = {"training loss per step": steps.loss}
    show(
        plot_comparison(curves, xlabel="training step", ylabel="loss", smoothing=5),
        "learning_curves",
    )

# %% [markdown]
# ## Which features the classifier uses
#
# In a plain network the classifier sees only the last layer's features. In
# DenseNet it sees the concatenation of everything the last block carries: the
# block's input (the transition's compressed summary of the first two blocks)
# and the $k$ maps of each of its eight layers. Does it use the early ones? The
# paper answered by looking at the weights of a trained network (its
# Figure 5); here we ask the network directly. We pool the final feature maps
# of test images once, then, for each source in turn, replace that source's
# channels by their average over the images, so that they carry no
# information about the image, and measure how much worse the classifier
# does on what is left: its cross-entropy loss (the training objective, a
# finer measure than accuracy on a couple of thousand images) and its
# accuracy.

# %%
features = keras.Model(model.input, model.get_layer("avg_pool").output)
classifier = model.get_layer("predictions")
count = min(2_000, len(data.x_test))
pooled = keras.ops.convert_to_numpy(features.predict(data.x_test[:count], verbose=0))
labels = data.y_test[:count]


def loss_and_accuracy(values):
    """Cross-entropy and accuracy of the classifier on pooled features."""
    probabilities = keras.ops.convert_to_numpy(classifier(values))
    loss = -np.mean(np.log(probabilities[np.arange(count), labels] + 1e-7))
    return loss, np.mean(probabilities.argmax(axis=1) == labels)


last_block = model.get_layer("dense_block3")
c0, k = last_block.input.shape[-1], last_block.growth_rate
bounds = [0] + [c0 + s * k for s in range(last_block.num_layers + 1)]
names = ["block input"] + [f"layer {s}" for s in range(1, last_block.num_layers + 1)]
base_loss, base_accuracy = loss_and_accuracy(pooled)
print(f"all {bounds[-1]} channels: loss {base_loss:.3f}, accuracy {base_accuracy:.3f}")
increases = []
for name, lo, hi in zip(names, bounds[:-1], bounds[1:], strict=True):
    ablated = pooled.copy()
    ablated[:, lo:hi] = pooled[:, lo:hi].mean(axis=0)
    loss, accuracy = loss_and_accuracy(ablated)
    increases.append(loss - base_loss)
    print(f"without {name:<11} ({hi - lo:>2} channels): loss {loss:.3f}, accuracy {accuracy:.3f}")

with book_style():
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    ax.bar(names, increases)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_ylabel("increase of the test loss")
    ax.set_xlabel("source whose channels are neutralized")
    ax.set_title(
        f"What the classifier loses without each source of dense_block3 ({count:,} images)"
    )
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
show(fig, "feature_reuse")

# %% [markdown]
# The block input has 36 channels, each layer only $k = 12$. Read the bars
# this way: a source whose removal raises the loss is used directly by the
# classifier, however early it was computed, without having been copied
# forward by the layers in between; in a plain network only the last layer's
# features would be there to remove. That direct use of early features is the
# feature reuse dense connectivity was designed for. After a short training a
# bar can also dip below zero, where the classifier has not yet learned to use
# a source well. This page's network trained for a few dozen steps: its bars
# show how the measurement reads, not how a fully trained DenseNet uses its
# sources; run the full budget to measure that. Whether dense connectivity
# beats residual connectivity at the same size is the chapter's recorded
# experiment, on all the training images with five seeds per network.

# %% [markdown]
# ## The full run
#
# The short run above is what fits in a documentation build. The full
# budget's result, recorded by the command it names on the machine it names:

# %%
plan.show_full_run(result)
