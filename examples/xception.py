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
# # Example: Xception, trained
#
# The executed example of the chapter [Xception](../../chapters/xception/): a
# small Xception built entirely from depthwise separable convolutions, trained
# on the real Fashion-MNIST. It counts what the factorization saves, layer by
# layer and for the whole network, then opens one depthwise separable
# convolution of the trained network and shows its two halves at work on a
# test image. Everything printed below was produced when this page was built.
#
# **Run it yourself.** Download this script (the button at the top of the
# page) and run `python xception.py`: the full budget is 10 epochs on all
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
from cnn_guide.layers import SeparableConvBlock, XceptionBlock
from cnn_guide.plotting import book_style, plot_history, show
from cnn_guide.training import fit

plan = plan_example(
    "xception_fashion",
    site_epochs=2,
    site_train_size=4_000,
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
# `xception_fashion` keeps the paper's three flows at a Fashion-MNIST scale:
# a 3x3 stem, an **entry flow** of two residual modules that halve the map
# (28 to 14 to 7), a **middle flow** of four identical residual modules of
# three separable convolutions at 96 channels, and an **exit flow** that pools
# to 4x4 and widens to 288 channels before global average pooling. Each
# `XceptionBlock` is one residual module; the last two layers are lone
# `SeparableConvBlock`s, as in the paper.

# %%
keras.utils.set_random_seed(plan.recipe.seed)  # the initial weights; fit() seeds the rest
model = models.build("xception_fashion")
model.summary()

# %% [markdown]
# The per-layer table adds the multiply-accumulates (MACs) per image and the
# receptive field. The middle-flow modules each see 24 more input pixels than
# the one before (three 3x3 convolutions at a jump of 4): by the exit flow
# every position sees far more than the 28x28 image.

# %%
table = layer_table(model)
print(table)

# %% [markdown]
# ## What a depthwise separable convolution saves
#
# A regular $k \times k$ convolution from $C_\text{in}$ to $C_\text{out}$
# channels has $k^2 C_\text{in} C_\text{out}$ weights. The depthwise separable
# one has a $k \times k$ filter per input channel ($k^2 C_\text{in}$, a
# convolution with `groups` $= C_\text{in}$) and a 1x1 pointwise convolution
# ($C_\text{in} C_\text{out}$). The paper's middle flow works at 728 channels on
# a 19x19 map; the formulas and real Keras layers agree:

# %%
k, c, side = 3, 728, 19
regular = conv_params(k, c, c, bias=False)
depthwise = conv_params(k, c, c, bias=False, groups=c)
pointwise = conv_params(1, c, c, bias=False)
keras_regular = keras.layers.Conv2D(c, k, use_bias=False)
keras_separable = keras.layers.SeparableConv2D(c, k, use_bias=False)
for layer in (keras_regular, keras_separable):
    layer.build((None, side, side, c))
print(f"regular 3x3, {c} -> {c}:   {regular:>9,} weights (Keras: {keras_regular.count_params():,})")
print(
    f"separable:  depthwise {depthwise:,} + pointwise {pointwise:,} = {depthwise + pointwise:,} "
    f"(Keras: {keras_separable.count_params():,})"
)
print(
    f"ratio {(depthwise + pointwise) / regular:.4f} = 1/{c} + 1/{k * k} "
    f"= {1 / c + 1 / k**2:.4f}: {regular / (depthwise + pointwise):.1f} times fewer weights"
)
del keras_regular, keras_separable

# %% [markdown]
# On a fixed map the MACs are the weights times the number of output
# positions, so they shrink by the same factor. Across widths, with
# $C_\text{in} = C_\text{out} = C$: the ratio $1/C + 1/9$ falls towards
# $1/9$, and the depthwise part's share of the separable convolution,
# $9 / (9 + C)$, vanishes: at real widths almost all the cost sits in the 1x1
# pointwise convolution.

# %%
widths = np.array([8, 16, 32, 64, 96, 128, 256, 512, 728, 1024, 2048])
print(
    f"{'C':>5}  {'regular MACs':>14}  {'separable MACs':>14}  {'ratio':>6}  {'depthwise share':>15}"
)
rows = []
for width in widths:
    w = int(width)
    reg = conv_macs(side, side, k, w, w)
    dw = conv_macs(side, side, k, w, w, groups=w)
    pw = conv_macs(side, side, 1, w, w)
    rows.append((reg, dw, pw))
    print(f"{w:>5}  {reg:>14,}  {dw + pw:>14,}  {(dw + pw) / reg:>6.3f}  {dw / (dw + pw):>15.1%}")
reg_macs, dw_macs, pw_macs = (np.array(col, dtype=float) for col in zip(*rows, strict=True))

with book_style():
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.loglog(widths, reg_macs, "o-", label="regular 3x3")
    left.loglog(widths, dw_macs + pw_macs, "s-", label="depthwise separable")
    left.loglog(widths, pw_macs, ":", label="of which pointwise 1x1")
    left.set_xlabel("channels in = channels out")
    left.set_ylabel(f"MACs on a {side}x{side} map")
    left.legend()
    right.semilogx(widths, (dw_macs + pw_macs) / reg_macs, "s-", label="separable / regular")
    right.axhline(1 / k**2, linestyle="--", color="grey", label="limit 1/9")
    right.semilogx(widths, dw_macs / (dw_macs + pw_macs), "^:", label="depthwise share")
    right.set_xlabel("channels in = channels out")
    right.set_ylabel("fraction")
    right.set_ylim(0, 1)
    right.legend()
    fig.tight_layout()
show(fig, "separable_cost")

# %% [markdown]
# The same count over the network itself: every depthwise separable
# convolution of `xception_fashion`, against a regular 3x3 convolution of the
# same widths on the same map (each separable convolution runs at its
# module's input resolution; pooling comes after).

# %%
sep_weights = reg_weights = sep_macs = reg_macs_total = count = 0
for layer in model.layers:
    if isinstance(layer, XceptionBlock):
        units = layer.units
    elif isinstance(layer, SeparableConvBlock):
        units = [layer]
    else:
        continue
    h, w = layer.input.shape[1:3]
    for unit in units:
        _, _, c_in, c_out = unit.sepconv.pointwise_kernel.shape
        count += 1
        sep_weights += unit.sepconv.count_params()
        reg_weights += conv_params(3, c_in, c_out, bias=False)
        sep_macs += conv_macs(h, w, 3, c_in, c_in, groups=c_in) + conv_macs(h, w, 1, c_in, c_out)
        reg_macs_total += conv_macs(h, w, 3, c_in, c_out)
print(
    f"{count} separable convolutions: {sep_weights:,} weights and {sep_macs:,} MACs; "
    f"as regular 3x3: {reg_weights:,} weights and {reg_macs_total:,} MACs."
)
as_regular = table.macs - sep_macs + reg_macs_total
print(
    f"The whole network: {table.macs:,} MACs per image; with regular convolutions it would "
    f"cost {as_regular:,}, {as_regular / table.macs:.1f} times more, and have "
    f"{table.total_params - sep_weights + reg_weights:,} parameters instead of "
    f"{table.total_params:,}."
)

# %% [markdown]
# ## The paper's Xception
#
# The ImageNet network at 299x299: the stem, three entry modules, eight
# middle modules at 728 channels, the exit module and two final separable
# convolutions, 36 convolutional layers in all. Its parameter count is the
# one of `keras.applications.Xception` (the test suite checks it).

# %%
start = time.perf_counter()
paper = models.build("xception")
trainable = sum(int(np.prod(v.shape)) for v in paper.trainable_weights)
middle = paper.get_layer("block5").units[0].sepconv
print(
    f"xception: {paper.count_params():,} parameters ({trainable:,} trainable), "
    f"built in {time.perf_counter() - start:.1f} s"
)
print(f"one middle-flow separable convolution: {middle.count_params():,} weights")
del paper, middle

# %% [markdown]
# ## A pitfall of short runs: batch normalization's moving variance
#
# At inference, batch normalization divides by a *moving* average of the
# variances it saw in training, which starts at 1 and moves towards each
# batch's variance by a fraction $1 - m$ per step (momentum $m$). Keras
# initialises a depthwise kernel as if each output saw all $9 C_\text{in}$
# inputs, while it sees only 9: a fresh depthwise step multiplies the
# variance by about $2 / (C_\text{in} + 1)$, and the separable convolution's
# outputs start with a variance far below 1.
# With Keras' default momentum of 0.99, which the paper's network uses, a
# short run ends with moving variances still far too large, and the network
# can evaluate near chance however well it trains. `xception_fashion`
# therefore uses momentum 0.9 (PyTorch's default, and the one of the ResNet
# chapter's units) in every batch normalization. Measured on real images, and
# the initial value's remaining weight $m^n$ after this run's $n$ steps. Even
# at 0.9 the averages trail weights that change quickly early in training, so
# the book recipe sets `settle_batch_norm`: before each evaluation `fit`
# recomputes the statistics from 512 training images under the current
# weights
# ([`PreciseBatchNorm`](../../reference/cnn_guide/training/#cnn_guide.training.PreciseBatchNorm),
# "precise BN", Wu and Johnson 2021,
# [arXiv:2105.07576](https://arxiv.org/abs/2105.07576)). The full run settles
# them too, under the same recipe (printed in the first cell).

# %%
probe = data.x_train[:256]
stem_out = keras.Model(model.input, model.get_layer("stem_relu").output)(probe, training=True)
fresh = model.get_layer("entry_block1").units[0].sepconv(stem_out)
variance = float(keras.ops.mean(keras.ops.var(fresh, axis=(0, 1, 2))))
steps = plan.budget.epochs * -(-len(data.x_train) // plan.recipe.batch_size)
print(f"entry_block1's first separable convolution, untrained: output variance {variance:.4f}")
for momentum in (0.99, 0.9):
    weight = momentum**steps
    print(f"momentum {momentum}: after {steps} steps the initial 1 still weighs {weight:.4f}")
print(
    f"this model's momentum (the stem's batch normalization): {model.get_layer('stem_bn').momentum}"
)

# %% [markdown]
# ## Training
#
# The same recipe in every architecture chapter, so results compare: the
# book recipe, 'book' (printed in the first cell): AdamW with a one-cycle
# learning-rate schedule peaking at 0.004, weight decay 5e-4, label smoothing
# 0.1, batch size 128, a fixed seed, and the batch-normalization statistics
# settled before each evaluation. Validation accuracy is measured after every
# epoch.

# %%
result = fit(model, data, plan.recipe, verbose=2)
print(result.describe())

# %%
show(plot_history(result.history), "learning_curves")

# %% [markdown]
# ## The two halves of a separable convolution, on a real image
#
# Keras' `SeparableConv2D` runs both steps in one layer. Taking its two
# kernels apart shows what each does. The first separable convolution of
# `entry_block1` takes the stem's 24 channels to 48: its depthwise kernel has
# shape 3x3x24x1 (one 3x3 filter per channel), its pointwise kernel
# 1x1x24x48. Recomputed by hand, the two steps give the layer's own output.

# %%
image_index = 0
image = data.x_test[image_index : image_index + 1]
stem = keras.Model(model.input, model.get_layer("stem_relu").output)
sepconv = model.get_layer("entry_block1").units[0].sepconv
stem_maps = stem(image, training=False)
depthwise_maps = keras.ops.depthwise_conv(stem_maps, sepconv.depthwise_kernel, padding="same")
pointwise_maps = keras.ops.conv(depthwise_maps, sepconv.pointwise_kernel, padding="same")
layer_maps = sepconv(stem_maps)
print(f"depthwise kernel {tuple(sepconv.depthwise_kernel.shape)}, output {depthwise_maps.shape}")
print(f"pointwise kernel {tuple(sepconv.pointwise_kernel.shape)}, output {pointwise_maps.shape}")
difference = float(keras.ops.max(keras.ops.abs(pointwise_maps - layer_maps)))
print(f"largest difference from the layer's own output: {difference:.2e}")

# %% [markdown]
# Below, for one test image: the top row shows eight of the stem's channels
# (the most active ones), the middle row the depthwise output of *the same*
# channels, and the bottom row eight of the pointwise outputs. Each depthwise
# map is its own channel above, filtered in space and nothing else (blurred,
# sharpened, shifted, edge-detected); no information passes between channels.
# Each pointwise map is a weighted sum of all 24 depthwise maps at every
# pixel, with no spatial extent: the channels are mixed only there. A regular
# convolution would do both at once; Xception bets that doing them apart
# loses little. A single short run cannot test that bet; the chapter's
# recorded experiment trains this network with separable and with regular
# convolutions, on all the training images, five seeds each. Red is positive, blue negative,
# white zero, each panel on its own scale.

# %%
stem_maps, depthwise_maps, pointwise_maps = (
    keras.ops.convert_to_numpy(m)[0] for m in (stem_maps, depthwise_maps, pointwise_maps)
)
shown = np.argsort(stem_maps.mean(axis=(0, 1)))[::-1][:8]
mixed = np.argsort(pointwise_maps.std(axis=(0, 1)))[::-1][:8]
panels = [
    ("stem channel", stem_maps, shown),
    ("depthwise", depthwise_maps, shown),
    ("pointwise", pointwise_maps, mixed),
]
label = data.class_names[int(data.y_test[image_index])]
with book_style():
    fig, axes = plt.subplots(3, 9, figsize=(12.5, 4.6))
    for ax in axes.flat:
        ax.axis("off")
    axes[0, 0].imshow(np.squeeze(image[0]), cmap="binary", vmin=0, vmax=1)
    axes[0, 0].set_title(f"input: {label}", fontsize=8)
    for row, (name, maps, channels) in enumerate(panels):
        for col, channel in enumerate(channels):
            ax = axes[row, col + 1]
            # Red positive, blue negative, white zero, each panel on its own scale.
            limit = np.abs(maps[..., channel]).max() or 1.0
            ax.imshow(maps[..., channel], cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(f"{name} {channel}", fontsize=7)
    fig.tight_layout()
show(fig, "depthwise_pointwise")

# %% [markdown]
# ## Build it yourself
#
# The depthwise separable block of Xception's modules in plain Keras: a ReLU,
# a `DepthwiseConv2D` (one 3x3 filter per channel), a 1x1 `Conv2D` that mixes
# the channels, and batch normalization (momentum 0.9, as in
# `xception_fashion`). Keras' `SeparableConv2D` fuses the two convolutions
# into one layer; written apart, the two steps of the chapter are two
# layers. An entry-flow module stacks two such blocks, halves the map with a
# 3x3/2 max pooling, and adds a strided 1x1 projection of its input.


# %%
# --8<-- [start:block]
def my_separable_block(x, filters, name="sepconv"):
    """ReLU, depthwise 3x3, pointwise 1x1, batch normalization."""
    x = keras.layers.ReLU(name=f"{name}_relu")(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"{name}_depthwise")(x)
    x = keras.layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_pointwise")(x)
    return keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)


def my_xception_module(x, filters):
    """Two separable blocks and a 3x3/2 max pooling, plus a strided 1x1 projection."""
    y = my_separable_block(x, filters, name="sepconv1")
    y = my_separable_block(y, filters, name="sepconv2")
    y = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool")(y)
    shortcut = keras.layers.Conv2D(filters, 1, strides=2, use_bias=False, name="shortcut_conv")(x)
    shortcut = keras.layers.BatchNormalization(momentum=0.9, name="shortcut_bn")(shortcut)
    return keras.layers.Add(name="add")([y, shortcut])


# --8<-- [end:block]


# %%
# --8<-- [start:diagram]
# The second entry-flow module of xception_fashion: 14x14x48 in, 7x7x96 out.
inputs = keras.Input((14, 14, 48), name="input")
scratch_module = keras.Model(inputs, my_xception_module(inputs, 96), name="my_xception_module")
show(draw_model(scratch_module, title="my_xception_module(x, 96)"), "block_diagram")
# --8<-- [end:diagram]

# %% [markdown]
# The diagram is drawn from the model itself: the two separable blocks, each
# a depthwise step that keeps the 48 or 96 channels apart and a pointwise
# step that mixes them, the pooling, and the projection shortcut beside them.
#
# Do they compute the package's functions? The scratch models hold their
# weights in the same order as the package's blocks (for each separable
# convolution its depthwise kernel, its pointwise kernel and the batch
# normalization's $\gamma$, $\beta$, mean and variance; then the shortcut's
# kernel and batch normalization), so `set_weights(block.get_weights())`
# copies them across. The separable block is checked against the first
# `SeparableConvBlock` of the trained `entry_block2`, the module against
# `entry_block2` itself, on the feature maps the trained network feeds it for
# 64 test images (in inference mode, with the trained running averages).

# %%
block = model.get_layer("entry_block2")
feature_maps = keras.Model(model.input, block.input)(data.x_test[:64])
scratch_block = keras.Model(inputs, my_separable_block(inputs, 96), name="my_separable_block")
for scratch, package in [(scratch_block, block.units[0]), (scratch_module, block)]:
    scratch.set_weights(package.get_weights())
    ours = np.asarray(scratch(feature_maps, training=False))
    diff = float(np.abs(ours - np.asarray(package(feature_maps, training=False))).max())
    print(
        f"{scratch.name}: parameters: {scratch.count_params():,} (scratch) = "
        f"{package.count_params():,} (cnn_guide); largest difference after copying the "
        f"weights: {diff:.1e}"
    )
    assert scratch.count_params() == package.count_params() and diff < 1e-5

# %% [markdown]
# The package's `SeparableConvBlock` and `XceptionBlock` compute these
# functions with Keras' fused `SeparableConv2D`, and add what a library
# needs: one layer each (one row of `summary()`) that saves and loads
# through `get_config`, checked arguments, and options (kernel size, stride,
# the activation before or after, any number of separable convolutions, an
# identity shortcut where the shape is kept, `residual=False`).

# %% [markdown]
# ## The full run
#
# The short run above is what fits in a documentation build. The full
# budget's result, recorded by the command it names on the machine it names:

# %%
plan.show_full_run(result)
