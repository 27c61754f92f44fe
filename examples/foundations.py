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
# # Example: convolution, pooling and receptive fields, computed
#
# The executed example of the chapter
# [Foundations: convolution and pooling](../../chapters/foundations/): every
# formula of the chapter applied to a real Fashion-MNIST image and checked
# against what Keras actually computes. Hand-made kernels find edges, pooling
# shrinks the maps, the parameter and multiply-accumulate formulas meet
# `count_params()`, and the receptive field of a small stack is measured with
# gradients. At the end a LeNet-5 is trained briefly, to compare the kernels it
# learns with the hand-made ones. Everything printed below was produced when
# this page was built.
#
# **Run it yourself.** Download this script (the button at the top of the
# page) and run `python foundations.py`: the full budget trains the LeNet-5 of
# the last section for 20 epochs on all 55,000 training images, the full run
# of the [LeNet-5](../../chapters/lenet/) chapter.
# `CNN_GUIDE_BUDGET=site` runs the short version shown here and
# `CNN_GUIDE_BUDGET=quick` a smoke test of a few steps on 640 images. The
# first cell prints the plan: this budget, the recipe, and the same full run
# as a command line.

# %%
import cnn_guide

cnn_guide.import_tensorflow()  # first, so that TensorFlow starts without its start-up log lines

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from cnn_guide.analysis import (
    conv_macs,
    conv_params,
    layer_table,
    output_size,
    stack_receptive_field,
)
from cnn_guide.budget import plan_example
from cnn_guide.data import load_fashion_mnist
from cnn_guide.plotting import book_style, plot_feature_maps, show
from cnn_guide.training import fit

plan = plan_example("lenet5_fashion", site_epochs=1, site_train_size=30_000)
print(plan.describe())
data = plan.apply(load_fashion_mnist())
print(plan.expected_time(data))

# One real test image to filter: a bag, whose straight edges make the kernels easy to read.
bag = data.class_names.index("Bag")
image = data.x_test[np.flatnonzero(data.y_test == bag)[0]]  # shape (28, 28, 1), values in [0, 1]
print(f"image: {data.class_names[bag]}, shape {image.shape}")

# %% [markdown]
# ## Hand-made kernels
#
# A convolution layer slides each of its kernels over the image and, at every
# position, takes the dot product of the kernel with the patch under it. Here
# the four 3x3 kernels are not learned but written by hand: the Sobel kernels
# (which respond to a change of brightness from left to right, or from top to
# bottom), a box blur (the mean of the 3x3 patch) and a sharpening kernel (the
# pixel, plus its difference from its four neighbours). A Keras `Conv2D` with
# four filters holds them as one weight tensor of shape
# $(k, k, C_\text{in}, C_\text{out}) = (3, 3, 1, 4)$.

# %%
kernels = {
    "vertical edges": [[1, 0, -1], [2, 0, -2], [1, 0, -1]],  # Sobel x
    "horizontal edges": [[1, 2, 1], [0, 0, 0], [-1, -2, -1]],  # Sobel y
    "blur": np.full((3, 3), 1 / 9),
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
}
bank = np.stack([np.asarray(k, dtype="float32") for k in kernels.values()], axis=-1)

conv = keras.layers.Conv2D(len(kernels), 3, padding="same", use_bias=False, name="hand_made")
conv.build((None, 28, 28, 1))
conv.set_weights([bank[:, :, np.newaxis, :]])  # Keras' kernel layout: (k, k, C_in, C_out)
maps = conv(image[np.newaxis]).numpy()[0]
print(f"kernel tensor {conv.kernel.shape}, input {image.shape} -> feature maps {maps.shape}")

show(
    plot_feature_maps(
        np.concatenate([image, maps], axis=-1), titles=["input", *kernels], columns=5
    ),
    "hand_made_kernels",
)

# %% [markdown]
# Each panel is scaled from its own minimum (black) to its maximum (white), so
# in the edge maps the even grey of the background is zero. The vertical-edge map is black on the
# bag's left edge, white on its right edge and nearly blind to its top and
# bottom; the horizontal-edge map is the other way round. Blur softens the
# image; sharpen exaggerates its outlines and texture.
#
# Why black on the left? What Keras computes is, strictly, a
# *cross-correlation*: the kernel is not flipped, as it would be in the
# mathematical convolution. For learned kernels the difference does not matter
# (the network simply learns the flipped kernel), but it decides the sign of a
# hand-made one. Checked at one position on the bag's left edge, by hand:

# %%
row, col = 14, 8
padded = np.pad(image[..., 0], 1)  # 'same' padding: one ring of zeros for a 3x3 kernel
patch = padded[row : row + 3, col : col + 3]
by_hand = float((patch * bank[..., 0]).sum())
flipped = float((patch * bank[::-1, ::-1, 0]).sum())
print(f"vertical-edge map at row {row}, column {col}:")
print(f"  Keras Conv2D                              {maps[row, col, 0]:+.4f}")
print(f"  patch x kernel, summed (cross-correlation) {by_hand:+.4f}")
print(f"  patch x flipped kernel (true convolution)  {flipped:+.4f}")

# %% [markdown]
# So the Sobel kernel with columns $(1, 2, 1)$, $0$, $(-1, -2, -1)$ computes
# *left minus right*: negative where the image gets brighter to the right (the
# bag's left edge), positive where it gets darker (its right edge). A true
# convolution would give the opposite signs.
#
# ## Padding and stride: the output size
#
# Without padding (`"valid"`), a $k \times k$ kernel fits $n - k + 1$ times
# across a side of $n$ pixels; `"same"` pads with zeros so that a stride-1
# output keeps the input size; a stride $s$ takes every $s$-th position. The
# general formula, with padding $p$ on each side and dilation $d$, is
#
# $$n_\text{out} = \left\lfloor \frac{n + 2p - d(k - 1) - 1}{s} \right\rfloor + 1,$$
#
# implemented by
# [`output_size`](../../reference/cnn_guide/analysis/#cnn_guide.analysis.output_size).
# Every row below builds a real layer and compares its output with the formula.

# %%
vertical = bank[:, :, :1, np.newaxis]  # the vertical Sobel kernel alone, (3, 3, 1, 1)


def filter_image(kernel, strides=1, padding="same", dilation=1):
    """Apply one fixed kernel to the bag image with a real Keras Conv2D."""
    layer = keras.layers.Conv2D(
        1, kernel.shape[0], strides=strides, padding=padding, dilation_rate=dilation, use_bias=False
    )
    layer.build((None, 28, 28, 1))
    layer.set_weights([kernel])
    return layer(image[np.newaxis]).numpy()[0, ..., 0]


print(" k  stride  padding  dilation   Keras output   output_size()")
checks = []
for k, s, p, d in [
    (3, 1, "valid", 1),
    (3, 1, "same", 1),
    (5, 1, "valid", 1),
    (3, 2, "valid", 1),
    (3, 2, "same", 1),
    (3, 3, "same", 1),
    (7, 2, "valid", 1),
    (3, 1, "valid", 2),
]:
    kernel = np.resize(vertical, (k, k, 1, 1))  # any k x k kernel: only the shape matters here
    side = filter_image(kernel, strides=s, padding=p, dilation=d).shape[0]
    expected = output_size(28, k, s=s, p=p, d=d)
    checks.append(side == expected)
    print(f"{k:>2}  {s:>6}  {p:>7}  {d:>8}   {side:>5}x{side:<6}   {expected:>5}")
print(f"formula matches Keras in {sum(checks)} of {len(checks)} cases")

# %% [markdown]
# The same vertical-edge kernel at strides 1, 2 and 3 (`"same"` padding) and
# without padding. Every panel is drawn at the same size, so the larger pixels
# of the strided maps show what a stride throws away: it samples the stride-1
# map at every $s$-th row and column (a stride is exactly that, checked below).

# %%
variants = {
    "stride 1, same": filter_image(vertical),
    "stride 2, same": filter_image(vertical, strides=2),
    "stride 3, same": filter_image(vertical, strides=3),
    "stride 1, valid": filter_image(vertical, padding="valid"),
}
with book_style():
    fig, axes = plt.subplots(1, len(variants), figsize=(2.2 * len(variants), 2.6))
    for ax, (label, fmap) in zip(axes, variants.items(), strict=True):
        ax.imshow(fmap, cmap="gray")
        ax.set_title(f"{label}\n{fmap.shape[0]}x{fmap.shape[1]}", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
show(fig, "stride_and_padding")

full_map = variants["stride 1, same"]
for stride, first in [(2, 1), (3, 0)]:
    kept = f"{first}, {first + stride}, {first + 2 * stride}, ..."
    same = np.allclose(variants[f"stride {stride}, same"], full_map[first::stride, first::stride])
    print(f"stride {stride} = rows and columns {kept} of stride 1: {same}")
print(
    "valid = stride 1 without its one-pixel border:",
    np.allclose(variants["stride 1, valid"], full_map[1:-1, 1:-1]),
)

# %% [markdown]
# Which rows a stride keeps depends on the padding. `"same"` adds
# $(n_\text{out} - 1)s + k - n$ zeros in all, half before and the rest
# after: for stride 2 on 28 pixels that is one zero, after the image, so the
# first window is centred on row 1; for stride 3, one zero on each side, so it
# is centred on row 0.
#
# ## Pooling
#
# Pooling summarizes each window of a feature map with one number and has no
# parameters. Max pooling keeps the strongest response in each 2x2 window;
# average pooling keeps their mean. Both halve each side (stride 2). Here they
# pool the vertical-edge map after a ReLU, as they would in a network.

# %%
edges = np.maximum(full_map, 0)[np.newaxis, ..., np.newaxis]  # ReLU, then a batch of one
pooled = {
    "ReLU(vertical edges)": edges[0, ..., 0],
    "max pool 2x2": keras.layers.MaxPooling2D(2)(edges).numpy()[0, ..., 0],
    "average pool 2x2": keras.layers.AveragePooling2D(2)(edges).numpy()[0, ..., 0],
}
with book_style():
    fig, axes = plt.subplots(1, len(pooled), figsize=(7.0, 2.7))
    for ax, (label, fmap) in zip(axes, pooled.items(), strict=True):
        ax.imshow(fmap, cmap="gray", vmin=0, vmax=edges.max())  # one scale for all three
        ax.set_title(f"{label}\n{fmap.shape[0]}x{fmap.shape[1]}", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
show(fig, "pooling")
for label, fmap in pooled.items():
    print(f"{label:>20}: shape {fmap.shape}, strongest response {fmap.max():.2f}")

# %% [markdown]
# Max pooling keeps the peaks: the bag's right edge stays as bright at half
# the resolution. Average pooling dilutes a one-pixel-wide edge over its
# window. Neither has weights. *Global* average pooling takes the mean of each
# whole map, one number per channel whatever the map's size: the head of
# most networks from Network in Network onwards. Here it is applied to the
# four hand-made maps, before any ReLU:

# %%
gap_layer = keras.layers.GlobalAveragePooling2D()
gap = gap_layer(maps[np.newaxis]).numpy()[0]
for name, value in zip(kernels, gap, strict=True):
    kernel_sum = float(np.sum(kernels[name]))
    print(f"{name:>16}: global average {value:+.4f}  (kernel sum {kernel_sum:g})")
print(f"mean of the input image: {image.mean():.4f}")
parameters = [
    layer.count_params()
    for layer in (keras.layers.MaxPooling2D(2), keras.layers.AveragePooling2D(2), gap_layer)
]
print(f"parameters of max, average and global average pooling: {parameters}")

# %% [markdown]
# The global averages are (almost) the kernel's sum times the image's mean:
# averaging a linear filter's output over all positions adds up every pixel
# once per kernel weight. Blur and sharpen sum to 1 and return the mean
# brightness; the edge kernels sum to 0 and return nothing but a border
# effect where the bag touches the image's edge. A network therefore puts a
# nonlinearity (a ReLU) before its global pooling, or there would be nothing
# for the pooling to count.

# %% [markdown]
# ## Counting parameters and multiply-accumulates
#
# A convolution from $C_\text{in}$ to $C_\text{out}$ channels with $k \times k$
# kernels has $k^2 C_\text{in} C_\text{out} + C_\text{out}$ parameters, one
# kernel per (input, output) channel pair plus one bias per output channel,
# whatever the image size. On an $H \times W$ output it performs
# $H W k^2 C_\text{in} C_\text{out}$ multiply-accumulates (MACs). A small
# network, built with plain Keras layers, and its per-layer table from
# [`layer_table`](../../reference/cnn_guide/analysis/#cnn_guide.analysis.layer_table),
# which counts MACs from the TensorFlow graph and receptive fields from the
# layer graph:

# %%
inputs = keras.Input((28, 28, 1), name="image")
x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1")(inputs)
x = keras.layers.MaxPooling2D(2, name="pool1")(x)
x = keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2")(x)
x = keras.layers.MaxPooling2D(2, name="pool2")(x)
x = keras.layers.Conv2D(64, 3, activation="relu", name="conv3")(x)  # 'valid': 7 -> 5
x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
outputs = keras.layers.Dense(10, activation="softmax", name="classifier")(x)
small = keras.Model(inputs, outputs, name="small_cnn")
table = layer_table(small)
print(table)

# %% [markdown]
# The formulas, evaluated from each layer's configuration and compared with
# Keras' `count_params()` and the table's MACs measured from the graph:

# %%
for layer in small.layers:
    if not isinstance(layer, keras.layers.Conv2D):
        continue
    k, c_in, c_out = layer.kernel_size[0], layer.input.shape[-1], layer.filters
    h, w = layer.output.shape[1:3]
    params, macs = conv_params(k, c_in, c_out), conv_macs(h, w, k, c_in, c_out)
    print(
        f"{layer.name}: {k}^2*{c_in}*{c_out} + {c_out} = {params:,} parameters "
        f"(Keras: {layer.count_params():,}); {h}*{w}*{k}^2*{c_in}*{c_out} = {macs:,} MACs "
        f"(graph: {table[layer.name].macs:,})"
    )

# %% [markdown]
# Weight sharing is what makes this cheap. `conv1` maps the 784 pixels to a
# 28x28x32 map with a few hundred weights; a dense layer producing the same
# map from the same pixels would need one weight per (pixel, output) pair:

# %%
dense_weights = 28 * 28 * (28 * 28 * 32)
print(
    f"conv1: {conv_params(3, 1, 32, bias=False):,} weights; an equivalent dense layer: "
    f"{dense_weights:,} weights ({dense_weights // conv_params(3, 1, 32, bias=False):,} times more)"
)

# %% [markdown]
# ## Receptive fields
#
# One output value of a stack of layers depends on a window of the input, its
# *receptive field*. Each layer with kernel $k$ widens it by $(k - 1)$ times
# the *jump*, the distance in input pixels between neighbouring positions of
# its input, and each stride multiplies the jump:
# $r_l = r_{l-1} + (k_l - 1)\,j_{l-1}$, $j_l = j_{l-1}\,s_l$.
# [`stack_receptive_field`][srf] runs this recurrence. A stack of two 3x3
# convolutions, a 2x2 max pooling and two more 3x3 convolutions, all without
# padding, by hand:
# $r = 1 + 2 = 3$, $3 + 2 = 5$, $5 + 1 = 6$ (jump now 2), $6 + 2 \cdot 2 = 10$,
# $10 + 2 \cdot 2 = 14$.
#
# [srf]: ../../reference/cnn_guide/analysis/#cnn_guide.analysis.stack_receptive_field

# %%
path = [(3, 1), (3, 1), (2, 2), (3, 1), (3, 1)]  # (kernel, stride), first layer first
field, jump = stack_receptive_field(path)
print(f"stack_receptive_field: receptive field {field}x{field}, jump {jump}")

stack = keras.Sequential(
    [
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(8, 3, activation="relu", name="conv_a"),
        keras.layers.Conv2D(8, 3, activation="relu", name="conv_b"),
        keras.layers.MaxPooling2D(2, name="pool"),
        keras.layers.Conv2D(8, 3, activation="relu", name="conv_c"),
        keras.layers.Conv2D(8, 3, name="conv_d"),
    ],
    name="rf_stack",
)
print(layer_table(stack))

# %% [markdown]
# To measure it, take the gradient of one output position (summed over its
# channels) with respect to the input image: a pixel outside the receptive
# field cannot change that output, so its gradient is exactly zero. A ReLU or
# a max pooling can also zero the gradient of some pixels inside the field
# for a given image, so the union over a batch of real test images is taken.

# %%
out_row = out_col = 4  # an output position of the 8x8 map
batch = tf.convert_to_tensor(data.x_test[:256])
with tf.GradientTape() as tape:
    tape.watch(batch)
    response = tf.reduce_sum(stack(batch)[:, out_row, out_col, :])
gradient = tape.gradient(response, batch).numpy()[..., 0]  # (256, 28, 28)
reached = np.any(gradient != 0, axis=0)
rows, cols = np.flatnonzero(reached.any(axis=1)), np.flatnonzero(reached.any(axis=0))
print(
    f"pixels with a nonzero gradient: rows {rows.min()}-{rows.max()}, "
    f"columns {cols.min()}-{cols.max()}: a {len(rows)}x{len(cols)} window "
    f"(predicted {field}x{field}, starting at {out_row} x jump {jump} = {out_row * jump})"
)
print(f"every pixel of the window reached: {reached.sum() == field * field}")

# %% [markdown]
# On the left, the receptive field of output position (4, 4) drawn on the bag;
# on the right, the mean magnitude of the gradient over the batch. Every pixel
# of the window can influence the output, but not equally: central pixels
# feed many more paths through the stack than pixels at the border, so the
# *effective* receptive field is concentrated in the middle (Luo et al. 2016).

# %%
magnitude = np.abs(gradient).mean(axis=0)
start = out_row * jump
with book_style():
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.2))
    axes[0].imshow(image[..., 0], cmap="gray")
    axes[0].set_title("receptive field on the input", fontsize=9)
    axes[1].imshow(magnitude, cmap="magma")
    axes[1].set_title("mean |gradient| over the batch", fontsize=9)
    for ax in axes:
        box = plt.Rectangle(
            (start - 0.5, start - 0.5), field, field, fill=False, edgecolor="#ff7f0e", lw=2
        )
        ax.add_patch(box)
        ax.axis("off")
    fig.tight_layout()
show(fig, "receptive_field")

# %% [markdown]
# ## What a network learns
#
# Real networks learn their kernels. LeNet-5 (see the chapter
# [LeNet-5](../../chapters/lenet/)) starts with six 5x5 convolutions on the
# raw image; trained briefly with the book recipe ('book': AdamW with a
# one-cycle schedule, batch 128), its first layer can be set beside the
# hand-made kernels above. Given
# the model's name, `fit` builds it after seeding with the recipe's seed, so
# its initial weights are reproducible too.

# %%
result = fit("lenet5_fashion", data, plan.recipe, verbose=2)
print(result.describe())

# %%
c1 = result.model.get_layer("c1")
weights = c1.get_weights()[0][:, :, 0, :]  # (5, 5, 6): one 5x5 kernel per filter
show(
    plot_feature_maps(weights, titles=[f"C1 kernel {i}" for i in range(6)], columns=6),
    "learned_kernels",
)
learned_maps = c1(image[np.newaxis]).numpy()[0]  # tanh activations, 28x28x6
show(
    plot_feature_maps(learned_maps, titles=[f"C1 map {i}" for i in range(6)], columns=6),
    "learned_maps",
)

# %% [markdown]
# Each kernel is drawn from its most negative weight (black) to its most
# positive (white). Look for kernels with a bright and a dark side, edge
# detectors like Sobel's at orientations of their own, and for kernels of
# mostly one sign, which pass or invert the brightness (the maps that look
# like the bag, or its negative); after so short a training they can still
# be noisy. Nobody chose them: they are what reduced the classification loss.
# Every later chapter stacks many such layers, and the rest of this book is
# about how to arrange them.
#
# ## The full run
#
# The full budget trains the LeNet-5 above for 20 epochs on all 55,000 images,
# the same run as the LeNet-5 chapter's. Its recorded result (or the command
# that records one) is printed here:

# %%
plan.show_full_run(result)
