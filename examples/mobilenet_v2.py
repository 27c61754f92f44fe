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
# # Example: MobileNetV2, trained
#
# The executed example of the chapter [MobileNetV2](../../chapters/mobilenet/):
# first the paper's argument for linear bottlenecks, redone in NumPy (what a
# ReLU does to a spiral embedded in $n$ dimensions); then a MobileNetV2 with
# the paper's 17 inverted residual blocks at half width, its cost taken apart
# block by block, and trained on the real Fashion-MNIST. Everything printed
# below was produced when this page was built.
#
# **Run it yourself.** Download this script (the button at the top of the
# page) and run `python mobilenet_v2.py`: the full budget is 10 epochs on all
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
from cnn_guide.analysis import conv_macs, conv_params, layer_table
from cnn_guide.budget import plan_example
from cnn_guide.data import load_fashion_mnist
from cnn_guide.diagrams import draw_model
from cnn_guide.layers import InvertedResidual
from cnn_guide.plotting import book_style, plot_comparison, plot_history, show
from cnn_guide.training import StepHistory, fit

plan = plan_example(
    "mobilenet_v2_fashion",
    site_epochs=1,
    site_train_size=7_000,
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
# ## Why the bottleneck is linear: a ReLU in few dimensions loses information
#
# Sandler et al. illustrate their argument with a spiral (Figure 1 of the
# paper). Take 2-D points on a spiral, embed them in $n$ dimensions with a
# random $n \times 2$ matrix $T$, apply a ReLU, and map back to 2-D with the
# pseudo-inverse $T^{+}$. Without the ReLU the round trip would be exact
# ($T^{+} T = I$). With it, each point keeps only the coordinates where
# $T x > 0$; if those *active* rows of $T$ do not span the plane, the point
# cannot be recovered by any method, however clever: ReLU has collapsed it onto
# a line or to zero. In 2 or 3 dimensions that happens to a large part of the
# spiral; in 15 or 30 almost never.

# %%
rng = np.random.default_rng(0)
t = np.linspace(0.0, 1.0, 1_000)
spiral = np.stack([t * np.cos(4 * np.pi * t), t * np.sin(4 * np.pi * t)], axis=1)
dimensions = [2, 3, 5, 15, 30]
round_trips = {}
for n in dimensions:
    T = rng.standard_normal((n, 2))
    embedded = spiral @ T.T
    round_trips[n] = np.maximum(embedded, 0.0) @ np.linalg.pinv(T).T
    # A point is recoverable from ReLU(Tx) exactly when its active rows span 2-D.
    lost = np.mean([np.linalg.matrix_rank(T[row > 0]) < 2 for row in embedded])
    print(f"n = {n:>2}: {lost:6.1%} of the spiral's points cannot be recovered after the ReLU")

with book_style():
    fig, axes = plt.subplots(1, len(dimensions) + 1, figsize=(13, 2.7))
    for ax, (title, points) in zip(
        axes, [("input", spiral), *((f"n = {n}", p) for n, p in round_trips.items())], strict=True
    ):
        ax.scatter(points[:, 0], points[:, 1], c=t, s=2, cmap="viridis")
        ax.set_title(title)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("A 2-D spiral through ReLU in n dimensions and back: colour follows the spiral")
    fig.tight_layout()
show(fig, "relu_spiral")

# %% [markdown]
# MobileNetV2's blocks therefore apply their ReLU6 only in the wide, expanded
# space (six times the block's input width), where it loses almost nothing, and
# keep the thin output of each block, the tensor the shortcut carries, linear.
# (`InvertedResidual(linear_bottleneck=False)` puts a ReLU6 there instead, the
# paper's ablation in its Figure 6a.) The spiral shows the argument, not what
# the choice is worth in a trained network: the chapter's recorded experiment
# trains this page's network with and without the linear bottleneck, on all
# the training images, five seeds each.
#
# ## The model
#
# `mobilenet_v2_fashion` keeps the paper's table of 17 `InvertedResidual`
# blocks (expansion 6 everywhere but the first) with a width multiplier
# $\alpha = 0.5$, a stride-1 stem and three downsamplings (28, 14, 7, 4), and
# the paper's last 1x1 convolution to 1280 channels before global average
# pooling.

# %%
keras.utils.set_random_seed(plan.recipe.seed)  # the initial weights; fit() seeds the rest
model = models.build("mobilenet_v2_fashion")
table = layer_table(model)
print(table)

# %% [markdown]
# ## Build it yourself
#
# The block in plain Keras, with the functional API: a 1x1 expansion to $t$
# times the input's channels, a depthwise 3x3, a 1x1 projection with batch
# normalization and *no* activation, and the shortcut when the stride is 1
# and the channels are unchanged.


# %%
# --8<-- [start:block]
def inverted_residual(x, filters, expansion=6, strides=1):
    """Expand (1x1, ReLU6) - filter (depthwise 3x3, ReLU6) - project (1x1, linear)."""
    y = keras.layers.Conv2D(expansion * x.shape[-1], 1, use_bias=False, name="expand")(x)
    y = keras.layers.BatchNormalization(name="expand_bn")(y)
    y = keras.layers.ReLU(6.0, name="expand_relu6")(y)
    y = keras.layers.DepthwiseConv2D(
        3, strides=strides, padding="same", use_bias=False, name="depthwise"
    )(y)
    y = keras.layers.BatchNormalization(name="depthwise_bn")(y)
    y = keras.layers.ReLU(6.0, name="depthwise_relu6")(y)
    y = keras.layers.Conv2D(filters, 1, use_bias=False, name="project")(y)
    y = keras.layers.BatchNormalization(name="project_bn")(y)  # linear: no ReLU here
    if strides == 1 and x.shape[-1] == filters:
        y = keras.layers.Add(name="add")([x, y])
    return y


# --8<-- [end:block]


# %%
# --8<-- [start:diagram]
feature_maps = keras.Input((28, 28, 16), name="feature_maps")
scratch = keras.Model(feature_maps, inverted_residual(feature_maps, 16), name="scratch_block")
show(
    draw_model(scratch, title="Inverted residual block, 16 -> 96 -> 16 channels (t = 6)"),
    "inverted_residual_diagram",
)
# --8<-- [end:diagram]

# %% [markdown]
# In the figure, drawn from the model just built, the thin 16-channel input
# goes around the wide 96-channel middle to the addition, and nothing
# follows `project_bn`: the bottleneck is linear.
#
# Does it compute what the package's `InvertedResidual` computes? Both hold
# the same weights in the same order (each convolution's kernel, then its
# batch normalization's scale, offset and two moving statistics), so the
# package block's `get_weights` go into the scratch block's `set_weights`.
# Both then run on real feature maps, the 16 channels the network's stem
# computes for 32 test images, first with the moving statistics (as in
# evaluation), then with the batch's own (as in training). In that order:
# a training-mode call moves the moving statistics by an amount that depends
# on the momentum, 0.999 in the package's block (as in Keras' MobileNetV2)
# and Keras' default 0.99 in the scratch one, which only training uses.

# %%
package_block = InvertedResidual(16, expansion=6)
maps = keras.Model(model.input, model.get_layer("stem_relu").output)(data.x_test[:32])
package_block(maps)  # builds its weights
scratch.set_weights(package_block.get_weights())
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
print(f"feature maps {tuple(maps.shape)}")
print(
    f"parameters: {a:,} (scratch) = {b:,} (cnn_guide); "
    f"largest difference after copying the weights: {diff:.1e}"
)
assert a == b and diff < 1e-5

# %% [markdown]
# The package's block computes the same thing and adds what a library needs:
# it checks its arguments, saves and loads with every setting
# (`get_config`), leaves out the expansion when $t = 1$ (the network's first
# block), takes the kernel size, the batch-norm settings and
# `linear_bottleneck=False` (the paper's ablation) as options, and reports
# its receptive-field path to `layer_table`.

# %% [markdown]
# ## Where the cost of an inverted residual block goes
#
# A block with $d'$ input channels, expansion $t$, a $k \times k$ depthwise
# convolution and $d''$ output channels, on an $h \times w$ map at stride 1,
# costs
#
# $$
# h \cdot w \cdot d' t \,(d' + k^2 + d'')
# $$
#
# multiply-accumulates: the 1x1 expansion ($d' \cdot t d'$ per pixel), the
# depthwise filter ($k^2 \cdot t d'$) and the linear 1x1 projection
# ($t d' \cdot d''$). The table below computes the three terms for every block
# of the model from its layers' shapes; a block with a shortcut is marked `+`.

# %%
blocks = [layer for layer in model.layers if isinstance(layer, InvertedResidual)]
print(
    f"{'block':<8}{'stride':>6}{'map':>7}  {'widths in-hidden-out':<21}"
    f"{'expand':>10}{'depthwise':>11}{'project':>10}"
)
costs = []
for block in blocks:
    c_in, c_out = block.input.shape[-1], block.filters
    hidden = block.expansion * c_in
    side_in, side = block.input.shape[1], block.output.shape[1]
    expand = conv_macs(side_in, side_in, 1, c_in, hidden) if block.expansion > 1 else 0
    depthwise = conv_macs(side, side, 3, hidden, hidden, groups=hidden)
    project = conv_macs(side, side, 1, hidden, c_out)
    regular = conv_macs(side, side, 3, hidden, hidden)  # a full 3x3 at the hidden width
    costs.append((expand, depthwise, project, regular))
    widths = f"{c_in}-{hidden}-{c_out}" + (" +" if block.use_residual else "")
    print(
        f"{block.name:<8}{block.strides:>6}{side:>5}x{side:<2} {widths:<21}"
        f"{expand:>10,}{depthwise:>11,}{project:>10,}"
    )
expand, depthwise, project, regular = (np.array(c, dtype=float) for c in zip(*costs, strict=True))
block_macs = expand.sum() + depthwise.sum() + project.sum()
print(
    f"\nthe 17 blocks: {block_macs:,.0f} MACs per image, {table.macs:,} for the whole network; "
    f"depthwise {depthwise.sum() / block_macs:.1%} of the blocks, 1x1 convolutions the rest"
)
as_regular = table.macs - depthwise.sum() + regular.sum()
print(
    f"with regular 3x3 convolutions at the hidden width the network would cost "
    f"{as_regular:,.0f} MACs, {as_regular / table.macs:.0f} times more"
)

# %%
with book_style():
    fig, ax = plt.subplots(figsize=(11, 3.6))
    x = np.arange(len(blocks))
    bottom = np.zeros(len(blocks))
    for label, values in [
        ("1x1 expansion", expand),
        ("3x3 depthwise", depthwise),
        ("1x1 linear projection", project),
    ]:
        ax.bar(x, values / 1e6, bottom=bottom / 1e6, label=label)
        bottom += values
    ax.set_xticks(
        x, [f"{b.name}\n{b.output.shape[1]}x{b.output.shape[1]}" for b in blocks], fontsize=7
    )
    ax.set_ylabel("MACs per image (millions)")
    ax.set_title("mobilenet_v2_fashion: cost of each inverted residual block, by part")
    ax.legend()
    fig.tight_layout()
show(fig, "block_costs")

# %% [markdown]
# Two things stand out. The depthwise filters, the only layers that look at
# neighbouring pixels, do a small share of the work; the 1x1 convolutions do
# the rest. And the cost grows with depth instead of falling: the network
# reaches 7x7 after four blocks and then widens at that resolution, so its
# most expensive blocks are the wide ones near the end, and the final 1x1
# convolution to 1280 channels (`last_conv` in the table above) costs more
# than any block.
#
# ## The paper's MobileNetV2
#
# The ImageNet network at 224x224 with $\alpha = 1$: the same blocks at full
# width, a stride-2 stem and five downsamplings. Its parameter count is the
# one of `keras.applications.MobileNetV2` (the test suite checks it); the
# paper reports 300 million multiply-adds.

# %%
start = time.perf_counter()
paper = models.build("mobilenet_v2")
trainable = sum(int(np.prod(w.shape)) for w in paper.trainable_weights)
print(
    f"mobilenet_v2: {paper.count_params():,} parameters ({trainable:,} trainable), "
    f"reference {models.get_info('mobilenet_v2').reference_params:,}; "
    f"built in {time.perf_counter() - start:.1f} s"
)
paper_macs = conv_macs(112, 112, 3, 3, 32)  # the stem
for block in (layer for layer in paper.layers if isinstance(layer, InvertedResidual)):
    c_in, c_out, side = block.input.shape[-1], block.filters, block.output.shape[1]
    hidden = block.expansion * c_in
    if block.expansion > 1:
        paper_macs += conv_macs(block.input.shape[1], block.input.shape[1], 1, c_in, hidden)
    paper_macs += conv_macs(side, side, 3, hidden, hidden, groups=hidden)
    paper_macs += conv_macs(side, side, 1, hidden, c_out)
paper_macs += conv_macs(7, 7, 1, 320, 1280) + 1280 * 1000  # last 1x1 and classifier
print(f"multiply-accumulates per 224x224 image, from the same formula: {paper_macs / 1e6:.0f} M")
one = conv_params(1, 96, 576, bias=False) + conv_params(3, 576, 576, bias=False, groups=576)
one += conv_params(1, 576, 96, bias=False)
print(f"one 96-channel block (96-576-96) has {one:,} convolution weights")
del paper

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
# ## The full run
#
# The short run above is what fits in a documentation build. The full
# budget's result, recorded by the command it names on the machine it names:

# %%
plan.show_full_run(result)
