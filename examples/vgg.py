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
# # Example: VGG, trained
#
# The executed example of the chapter [VGG](../../chapters/vgg/): a VGG
# network sized for 28x28 images (3x3 convolutions only, in blocks that each
# end with a 2x2 max pooling, filters doubling from block to block), trained
# on the real Fashion-MNIST, next to the paper's own configurations counted
# layer by layer. Everything printed below was produced when this page was
# built.
#
# **Run it yourself.** Download this script (the button at the top of the
# page) and run `python vgg.py`: the full budget is 10 epochs on all 55,000
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
from cnn_guide.analysis import conv_macs, conv_params, layer_table, stack_receptive_field
from cnn_guide.budget import plan_example
from cnn_guide.data import load_fashion_mnist
from cnn_guide.plotting import book_style, plot_history, show
from cnn_guide.training import fit

plan = plan_example("vgg_fashion", site_epochs=2, site_train_size=10_000)
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
# `vgg_fashion` keeps the paper's recipe and shrinks its size: three blocks
# of 3x3 convolutions (32 | 64 64 | 128 128, the pattern of configuration A
# at half its widths), each ending in a 2x2 max pooling, then a flatten and
# two dense layers with dropout, as in the paper's head but with 256 units
# instead of 4,096.

# %%
keras.utils.set_random_seed(plan.recipe.seed)  # the initial weights; fit() seeds the rest
model = models.build("vgg_fashion")
model.summary()

# %% [markdown]
# ## Where the parameters, the compute and the field of view are
#
# The per-layer table of
# [`cnn_guide.analysis.layer_table`](../../reference/cnn_guide/analysis/)
# shows the two habits of the design. Each pooling halves the side and the
# next block doubles the filters, so `block2_conv2` and `block3_conv2` cost
# the same multiply-accumulates (MACs). And the receptive field (RF, the side
# of the input window one output value sees) grows by $2j$ at every 3x3
# convolution, where the jump $j$ doubles at every pooling: 3, then 8 and 12,
# then 22 and 30. The last convolution's units see more than the whole 28x28
# image.

# %%
table = layer_table(model)
print(table)

# %% [markdown]
# ## The paper's configurations, counted
#
# The paper's Table 1 lists the filters of every configuration, kept in
# `VGG_CONFIGS`. The parameters and MACs of a configuration follow from two
# formulas, $k^2 C_\text{in} C_\text{out} + C_\text{out}$ weights and
# $H W k^2 C_\text{in} C_\text{out}$ MACs per convolution, plus the three
# dense layers on the 7x7x512 map that five poolings leave of a 224x224
# image. The arithmetic needs no model; the last column is the reference
# count the test suite checks the builders against.


# %%
def vgg_size(blocks, side=224, channels=3, dense=4096, classes=1000):
    """Weight layers, parameters and MACs of a VGG, from its block spec alone."""
    layers, params, macs = 0, 0, 0
    for block in blocks:
        for filters in block:
            params += conv_params(3, channels, filters)
            macs += conv_macs(side, side, 3, channels, filters)
            channels, layers = filters, layers + 1
        side //= 2  # 2x2 max pooling, stride 2
    inputs = side * side * channels  # the flattened last map
    for units in (dense, dense, classes):
        params += inputs * units + units
        macs += inputs * units
        inputs, layers = units, layers + 1
    return layers, params, macs


print(f"{'config':<8}{'weight layers':>14}{'parameters':>15}{'GMACs':>8}{'reference':>15}")
for config, name in [("A", "vgg11"), ("B", "vgg13"), ("D", "vgg16"), ("E", "vgg19")]:
    layers, params, macs = vgg_size(models.VGG_CONFIGS[config])
    reference = models.get_info(name).reference_params
    print(f"{config} {name:<6}{layers:>14}{params:>15,}{macs / 1e9:>8.2f}{reference:>15,}")

# %% [markdown]
# Depth adds little to the parameter count: from 11 to 19 weight layers it
# grows by 8%, while the compute more than doubles. The count is dominated by
# one layer, as the built VGG-16 (configuration D) shows: `fc1` connects all
# $7 \cdot 7 \cdot 512 = 25{,}088$ values of the last map to 4,096 units.
# Building it allocates all 138 million weights, so the example builds only
# this one.

# %%
vgg16 = models.build("vgg16")
vgg16_table = layer_table(vgg16)
del vgg16  # half a gigabyte of weights; the table is all we need
print(vgg16_table)

dense_rows = [row for row in vgg16_table if row.type == "Dense"]
conv_rows = [row for row in vgg16_table if row.type == "Conv2D"]
fc1 = vgg16_table["fc1"]
print(
    f"fc1 holds {fc1.params:,} parameters, {fc1.params / vgg16_table.total_params:.1%} of all; "
    f"the three dense layers {sum(r.params for r in dense_rows) / vgg16_table.total_params:.1%}."
)
print(
    f"The 13 convolutions hold {sum(r.params for r in conv_rows):,} parameters but do "
    f"{sum(r.macs for r in conv_rows) / vgg16_table.macs:.1%} of the "
    f"{vgg16_table.macs / 1e9:.2f} billion MACs per image."
)

# %% [markdown]
# ## Why stacks of 3x3
#
# The paper's argument (section 2.3), computed for a 256-channel stage on
# its 56x56 map: three stacked 3x3 convolutions see a 7x7 window like one
# 7x7 convolution, with $27C^2$ weights instead of $49C^2$, and three ReLUs
# instead of one.

# %%
channels, side = 256, 56
for label, kernels in [("one 7x7", [7]), ("two 3x3", [3, 3]), ("three 3x3", [3, 3, 3])]:
    weights = sum(conv_params(k, channels, channels, bias=False) for k in kernels)
    macs = sum(conv_macs(side, side, k, channels, channels) for k in kernels)
    field, _ = stack_receptive_field([(k, 1) for k in kernels])
    print(
        f"{label:>9}: {weights:>9,} weights ({weights // channels**2}C^2), "
        f"{macs / 1e9:.2f} GMACs, receptive field {field}x{field}, {len(kernels)} ReLU(s)"
    )

# %% [markdown]
# The same rule, applied layer after layer, is how VGG sees whole objects
# with 3x3 kernels: the receptive field of each convolution, read from the
# two per-layer tables, against its depth. Every 3x3 convolution adds
# $2j$ pixels, so the field grows slowly in the first block and faster after
# each pooling doubles the jump $j$.

# %%
with book_style():
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for label, rows, side in [
        ("vgg_fashion (28x28 input)", table, 28),
        ("VGG-16 (224x224 input)", vgg16_table, 224),
    ]:
        fields = [row.receptive_field for row in rows if row.type == "Conv2D"]
        (line,) = ax.plot(range(1, len(fields) + 1), fields, "o-", label=label)
        ax.axhline(side, color=line.get_color(), linestyle=":", linewidth=1)
        ax.annotate(
            f"input side {side}", (1, side), textcoords="offset points", xytext=(0, 3), fontsize=8
        )
    ax.set_yscale("log")
    ax.set_xlabel("convolution (depth)")
    ax.set_ylabel("receptive field (pixels)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend()
    fig.tight_layout()
show(fig, "receptive_field")

# %% [markdown]
# ## Build it yourself
#
# A VGG block is a few 3x3 convolutions with ReLU, `"same"` padding so the
# map keeps its size, then a 2x2 max pooling that halves it. In plain Keras:


# %%
# --8<-- [start:block]
def my_vgg_block(x, filters, convs, name="block"):
    """`convs` 3x3 convolutions with ReLU, then a 2x2 max pooling with stride 2."""
    for i in range(1, convs + 1):
        x = keras.layers.Conv2D(
            filters, 3, padding="same", activation="relu", name=f"{name}_conv{i}"
        )(x)
    return keras.layers.MaxPooling2D(2, strides=2, name=f"{name}_pool")(x)


# --8<-- [end:block]


# %%
# --8<-- [start:diagram]
from cnn_guide.diagrams import draw_model

# The second block of vgg_fashion: two convolutions of 64 filters on block 1's 14x14x32 maps.
inputs = keras.Input((14, 14, 32), name="block1_output")
block = keras.Model(inputs, my_vgg_block(inputs, 64, 2, name="block2"), name="my_vgg_block")
show(draw_model(block, title="A VGG block, from scratch"), "vgg_block_diagram")
# --8<-- [end:diagram]

# %% [markdown]
# The check: copy the weights of `vgg_fashion`'s `block2_conv1` and
# `block2_conv2` (kernel, then bias, of each) into the scratch block, and
# feed both the same real feature maps, block 1's outputs for 256 test images.

# %%
names = ["block2_conv1", "block2_conv2", "block2_pool"]
block.set_weights([w for name in names for w in model.get_layer(name).get_weights()])
features = keras.Model(model.input, model.get_layer("block1_pool").output)(data.x_test[:256])
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
# The package builds its blocks with the same two layers; what it adds is
# around them: the builder checks the input size against the number of
# poolings, takes the filters of every block from one list (the paper's
# Table 1 for configurations A to E), uses He initialisation, and names the
# layers as `keras.applications.VGG16` does, so weights can be copied layer
# by layer.

# %% [markdown]
# ## Training
#
# The same recipe in every architecture chapter, so results compare: the
# book recipe, 'book' (printed in the first cell): AdamW with a one-cycle
# learning-rate schedule peaking at 0.004, weight decay 5e-4, label smoothing
# 0.1, batch size 128, batch-norm statistics recomputed before every
# evaluation (this network has none), a validation pass after each epoch,
# every random choice seeded.

# %%
result = fit(model, data, plan.recipe, verbose=2)
print(result.describe())

# %%
show(plot_history(result.history), "learning_curves")

# %% [markdown]
# ## What the blocks see
#
# A Keras model over the trained network's intermediate outputs returns the
# last convolution of each block for one test image. Each row shows, on the
# left, the image with a red square as wide as that layer's receptive field
# and, on the right, the six channels whose responses vary most across the
# image. From row to row the maps halve in side (28, 14, 7) while the
# channels double (32, 64, 128): the network trades *where* for *what*. The
# first block's maps are still pictures of the garment, filtered; by the
# third block each unit's field is wider than the image (the square overhangs
# it: the padding), and the coarse maps say which parts are present rather
# than where each pixel is.

# %%
names = ["block1_conv1", "block2_conv2", "block3_conv2"]  # the last convolution of each block
probe = keras.Model(model.input, [model.get_layer(name).output for name in names])
image = data.x_test[:1]
outputs = probe.predict(image, verbose=0)

shown = 6
with book_style():
    fig, axes = plt.subplots(len(names), shown + 1, figsize=(1.45 * (shown + 1), 1.8 * len(names)))
    for row, name, maps in zip(axes, names, outputs, strict=True):
        maps = maps[0]
        field = table[name].receptive_field
        # A square of the receptive field's side around the image centre.
        corner = 13.5 - field / 2
        row[0].imshow(image[0, ..., 0], cmap="binary", vmin=0, vmax=1)
        row[0].add_patch(plt.Rectangle((corner, corner), field, field, fill=False, color="#d62728"))
        row[0].set_xlim(-2.5, 30.5)
        row[0].set_ylim(30.5, -2.5)
        height, width, channels = maps.shape
        row[0].set_title(f"{name}\n{height}x{width}x{channels}, RF {field}", fontsize=8)
        varied = np.argsort(maps.std(axis=(0, 1)))[::-1][:shown]
        for ax, channel in zip(row[1:], varied, strict=True):
            ax.imshow(maps[..., channel], cmap="gray", interpolation="nearest")
            ax.set_title(f"channel {channel}", fontsize=8)
        for ax in row:
            ax.axis("off")
    fig.suptitle(f"A test image ({data.class_names[data.y_test[0]]}) through the trained blocks")
    fig.tight_layout()
show(fig, "feature_maps")
for name, maps in zip(names, outputs, strict=True):
    silent = np.mean(maps[0].max(axis=(0, 1)) == 0)
    print(
        f"{name}: {maps.shape[1]}x{maps.shape[2]} map, {maps.shape[3]} channels, "
        f"{silent:.0%} of them silent (all zero after ReLU) on this image"
    )

# %% [markdown]
# ## The full run
#
# The short run above is what fits in a documentation build. The full
# budget's result, recorded by the command it names on the machine it names:

# %%
plan.show_full_run(result)
