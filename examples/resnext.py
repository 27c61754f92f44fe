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
# # Example: ResNeXt, trained
#
# The executed example of the chapter [ResNeXt](../../chapters/resnext/): a
# small ResNeXt whose bottleneck units split their 3x3 convolution into 8
# groups, trained on the real Fashion-MNIST. It works out what cardinality
# costs (the paper's Table 2), recounts ResNet-50 and ResNeXt-50 side by side,
# and checks on real feature maps of the trained network that the book's
# `GroupedConv2D` computes exactly what Keras' `Conv2D(groups=...)` computes.
# Everything printed below was produced when this page was built.
#
# **Run it yourself.** Download this script (the button at the top of the
# page) and run `python resnext.py`: the full budget is 10 epochs on all
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
import tensorflow as tf
from matplotlib.ticker import StrMethodFormatter

from cnn_guide import models
from cnn_guide.analysis import conv_macs, conv_params, layer_table
from cnn_guide.budget import plan_example
from cnn_guide.data import load_fashion_mnist
from cnn_guide.diagrams import draw_model
from cnn_guide.layers import BottleneckResidualUnit, GroupedConv2D
from cnn_guide.plotting import book_style, plot_comparison, plot_history, show
from cnn_guide.training import StepHistory, fit

plan = plan_example(
    "resnext_fashion",
    site_epochs=1,
    site_train_size=3_500,
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
# `resnext_fashion` is the book's `resnet_fashion` skeleton (a 3x3 stem, three
# stages of two bottleneck units at 28x28, 14x14 and 7x7) with ResNeXt's
# unit: each `BottleneckResidualUnit` reduces with a 1x1 convolution, applies
# a 3x3 convolution split into **8 groups** (the cardinality), and expands
# with a 1x1 convolution, with the shortcut around all three. In the first
# stage that is 48 -> 24 -> 24 (8 groups of 3 channels) -> 48.

# %%
keras.utils.set_random_seed(plan.recipe.seed)  # the initial weights; fit() seeds the rest
model = models.build("resnext_fashion")
model.summary()

# %%
table = layer_table(model)
print(table)

# %% [markdown]
# ## Build it yourself
#
# A grouped convolution in plain Keras: split the input channels into $g$
# equal groups, give each group its own ordinary convolution with
# $C_\text{out}/g$ filters, and concatenate the outputs in group order. With
# the functional API:


# %%
# --8<-- [start:block]
def grouped_conv(x, filters, kernel_size, groups):
    """A convolution in which input channel group i feeds only output channel group i."""
    parts = keras.ops.split(x, groups, axis=-1)  # groups tensors of C_in / groups channels
    outputs = [
        keras.layers.Conv2D(filters // groups, kernel_size, padding="same", name=f"group{i}")(part)
        for i, part in enumerate(parts)
    ]
    return keras.layers.Concatenate(name="concatenate")(outputs)


# --8<-- [end:block]


# %%
# --8<-- [start:diagram]
feature_maps = keras.Input((28, 28, 16), name="feature_maps")
scratch = keras.Model(feature_maps, grouped_conv(feature_maps, 16, 3, groups=4), name="scratch")
show(
    draw_model(scratch, title="Grouped 3x3 convolution, 16 -> 16 channels in 4 groups"),
    "grouped_conv_diagram",
)
# --8<-- [end:diagram]

# %% [markdown]
# The figure is drawn from the model just built (the `split` box shows the
# shape of one group): four independent convolutions side by side, none of
# which sees another group's channels.
#
# Does it compute what the package's `GroupedConv2D` computes? That layer
# keeps one `Conv2D` per group too (its `convs`), so the weights are copied
# group by group, each group's kernel and biases into the scratch layer of
# the same name. Both then run on real feature maps, the 16 channels the
# network's stem computes for 32 test images.

# %%
package_conv = GroupedConv2D(16, 3, padding="same", groups=4)
maps = keras.Model(model.input, model.get_layer("conv1_relu").output)(data.x_test[:32])
expected = keras.ops.convert_to_numpy(package_conv(maps))
for index, conv in enumerate(package_conv.convs):
    scratch.get_layer(f"group{index}").set_weights(conv.get_weights())
diff = float(np.abs(keras.ops.convert_to_numpy(scratch(maps)) - expected).max())
a, b = scratch.count_params(), package_conv.count_params()
print(f"feature maps {tuple(maps.shape)}")
print(
    f"parameters: {a:,} (scratch) = {b:,} (cnn_guide), "
    f"against {conv_params(3, 16, 16):,} for an ordinary 3x3 convolution; "
    f"largest difference after copying the weights: {diff:.1e}"
)
assert a == b and diff < 1e-5

# %% [markdown]
# The package's layer computes the same thing and adds what a library needs:
# it checks that the channels divide by the groups, takes strides, padding,
# biases and initializer as options, saves and loads with every setting
# (`get_config`), and returns its kernel in `Conv2D(groups=...)`'s layout
# (`kernel`), which the last section of this page uses.

# %% [markdown]
# ## Cardinality at a fixed cost (the paper's Table 2)
#
# The template of ResNeXt-50's first stage: a unit with 256 channels in and
# out, on a 56x56 map. Its residual branch is $C$ paths, each a 1x1
# convolution from 256 to $d$ channels, a 3x3 from $d$ to $d$, and a 1x1 back
# to 256. Written as one unit with a grouped 3x3 convolution of width $Cd$ in
# $C$ groups, its weights are
#
# $$
# 256 \cdot Cd \;+\; 3^2 \cdot \frac{(Cd)^2}{C} \;+\; Cd \cdot 256
# \;=\; C \,(256 d + 9 d^2 + 256 d):
# $$
#
# a grouped convolution has $1/C$ of the weights of an ordinary one of the same
# width. Xie et al. chose $d$ for each $C$ so that the unit keeps about 70,000
# weights, the cost of ResNet-50's unit ($C = 1$, $d = 64$). The grouped width
# $Cd$ then grows from 64 to 128 channels for free.

# %%
side, outer = 56, 256
template = [(1, 64), (2, 40), (4, 24), (8, 14), (32, 4)]  # (C, d) from Table 2


def unit_cost(width, groups):
    """Weights and MACs of the 1x1 - grouped 3x3 - 1x1 branch (no biases, no BN)."""
    weights = (
        conv_params(1, outer, width, bias=False)
        + conv_params(3, width, width, bias=False, groups=groups)
        + conv_params(1, width, outer, bias=False)
    )
    macs = (
        conv_macs(side, side, 1, outer, width)
        + conv_macs(side, side, 3, width, width, groups=groups)
        + conv_macs(side, side, 1, width, outer)
    )
    return weights, macs


print(f"{'C':>3} {'d':>4} {'3x3 width Cd':>13} {'weights':>9} {'MACs':>14}")
fixed_cost = []
for cardinality, d in template:
    weights, macs = unit_cost(cardinality * d, cardinality)
    fixed_cost.append(weights)
    print(f"{cardinality:>3} {d:>4} {cardinality * d:>13} {weights:>9,} {macs:>14,}")

# %% [markdown]
# The table above is the formula. The same units built as real layers, with
# the book's `BottleneckResidualUnit` (whose batch normalizations add four
# numbers per channel), give the same MACs in `layer_table`:

# %%
for cardinality, d in [template[0], template[-1]]:
    inputs = keras.Input((side, side, outer))
    unit = BottleneckResidualUnit(64, width=cardinality * d, groups=cardinality, name="unit")
    built = layer_table(keras.Model(inputs, unit(inputs)))["unit"]
    weights, macs = unit_cost(cardinality * d, cardinality)
    batch_norm = 4 * (2 * cardinality * d + outer)
    print(
        f"C = {cardinality:>2}: layer_table {built.params:,} parameters "
        f"= {weights:,} conv weights + {batch_norm:,} BN; {built.macs:,} MACs (formula {macs:,})"
    )
    assert built.params == weights + batch_norm and built.macs == macs

# %% [markdown]
# The figure draws both sides of the trade. At a fixed 3x3 width of 128
# channels (left), each doubling of the cardinality halves the 3x3
# convolution's weights and leaves the two 1x1 convolutions as they are. At a
# fixed cost (right, Table 2), the unit spends that saving on width.

# %%
cardinalities = np.array([1, 2, 4, 8, 16, 32])
fixed_width = [unit_cost(128, int(c))[0] for c in cardinalities]
three_by_three = [conv_params(3, 128, 128, bias=False, groups=int(c)) for c in cardinalities]
with book_style():
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    left.plot(cardinalities, fixed_width, "o-", label="whole unit")
    left.plot(cardinalities, three_by_three, "s--", label="grouped 3x3 alone")
    left.set_xscale("log", base=2)
    left.set_xticks(cardinalities, [str(c) for c in cardinalities])
    left.set_xlabel("cardinality C (groups)")
    left.set_ylabel("weights")
    left.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    left.set_title("3x3 width fixed at 128")
    left.legend()
    labels = [f"{c}x{d}d" for c, d in template]
    right.bar(labels, [c * d for c, d in template], label="3x3 width Cd")
    right.set_ylabel("channels of the grouped 3x3")
    right.set_xlabel("cardinality x width per group")
    right.set_title("unit cost fixed at about 70,000 weights")
    twin = right.twinx()
    twin.plot(labels, np.array(fixed_cost) / 1e3, "o-", color="C1", label="weights (thousands)")
    right.set_ylim(0, 190)  # headroom for the legend
    twin.set_ylim(0, 1.6 * max(fixed_cost) / 1e3)
    twin.set_ylabel("weights (thousands)")
    twin.grid(False)
    handles = right.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    right.legend(handles, ["3x3 width Cd", "weights (thousands)"], loc="upper left")
    fig.tight_layout()
show(fig, "cardinality_cost")

# %% [markdown]
# ## ResNet-50 and ResNeXt-50, counted stage by stage
#
# ResNeXt-50 (32x4d) is ResNet-50 with every unit's 3x3 convolution twice as
# wide and split into 32 groups. Counted with the same formulas (torchvision's
# layout: no convolution biases, stride on the 3x3, two trainable numbers per
# batch-normalization channel), both totals equal the reference counts the
# test suite checks our builders against, and the multiply-accumulates at
# 224x224 stay within a few percent of each other.


# %%
def resnet50_family(widths, groups):
    """Trainable parameters and MACs of a ResNet-50 layout with these 3x3 widths."""
    weights = conv_params(7, 3, 64, bias=False) + 2 * 64
    macs = conv_macs(112, 112, 7, 3, 64)
    c_in, size = 64, 56
    stages = zip((3, 4, 6, 3), (256, 512, 1024, 2048), widths, strict=True)
    for stage, (units, c_out, width) in enumerate(stages):
        for unit in range(units):
            stride = 2 if unit == 0 and stage > 0 else 1
            out = size // stride
            weights += conv_params(1, c_in, width, bias=False) + 2 * width
            weights += conv_params(3, width, width, bias=False, groups=groups) + 2 * width
            weights += conv_params(1, width, c_out, bias=False) + 2 * c_out
            macs += conv_macs(size, size, 1, c_in, width)
            macs += conv_macs(out, out, 3, width, width, groups=groups)
            macs += conv_macs(out, out, 1, width, c_out)
            if unit == 0:  # projection shortcut
                weights += conv_params(1, c_in, c_out, bias=False) + 2 * c_out
                macs += conv_macs(out, out, 1, c_in, c_out)
            c_in, size = c_out, out
    return weights + 2048 * 1000 + 1000, macs + 2048 * 1000


for name, widths, groups in [
    ("resnet50", (64, 128, 256, 512), 1),
    ("resnext50_32x4d", (128, 256, 512, 1024), 32),
]:
    weights, macs = resnet50_family(widths, groups)
    reference = models.get_info(name).reference_params
    print(
        f"{name:<16} 3x3 widths {widths}, {groups:>2} group(s): {weights:,} parameters "
        f"(reference {reference:,}), {macs / 1e9:.2f} billion MACs"
    )
    assert weights == reference

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
# (`1 - momentum`, here 0.1) of the way towards the current batch's
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
# for per-epoch curves. A run this short says nothing about what the
# cardinality buys; the chapter's recorded experiment trains three versions
# of this network at nearly the same cost, with cardinality 1, 4 and 8, on
# all the training images, five seeds each.


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
# ## GroupedConv2D computes Conv2D(groups=g)
#
# Keras has grouped convolution built in: `keras.layers.Conv2D(groups=g)`.
# The book's units use `GroupedConv2D` instead, which splits the channels into
# $g$ groups, runs one ordinary `Conv2D` per group and concatenates the
# results, because TensorFlow's CPU kernels for `Conv2D(groups=g)`, its
# gradient above all, can be much slower than the separate convolutions.
# Same function; the speed of each is timed below. We check it on the real input
# of the trained network's first grouped convolution: the 24-channel feature
# maps of 32 test images after `conv2_block1`'s first 1x1 convolution. A
# `Conv2D(groups=8)` given the same kernel must produce the same output, and
# changing the input channels of one group must change only that group's
# output channels.

# %%
unit = model.get_layer("conv2_block1")
grouped = unit.branch2_conv
stem = keras.Model(model.input, model.get_layer("conv1_relu").output)
maps = keras.ops.relu(unit.branch1_bn(unit.branch1_conv(stem(data.x_test[:32])), training=False))
reference = keras.layers.Conv2D(
    grouped.filters,
    grouped.kernel_size,
    strides=grouped.strides,
    padding=grouped.padding,
    groups=grouped.groups,
    use_bias=grouped.use_bias,
)
reference.build(maps.shape)
reference.set_weights([keras.ops.convert_to_numpy(grouped.kernel)])
ours, keras_out = (keras.ops.convert_to_numpy(layer(maps)) for layer in (grouped, reference))
print(
    f"input {tuple(maps.shape)}, kernel {tuple(grouped.kernel.shape)} "
    f"({grouped.groups} groups of {maps.shape[-1] // grouped.groups} channels)"
)
difference = np.abs(ours - keras_out).max()
print(
    f"largest difference between GroupedConv2D and Conv2D(groups={grouped.groups}): "
    f"{difference:.2e}"
)

per_group = maps.shape[-1] // grouped.groups
changed_input = keras.ops.convert_to_numpy(maps).copy()
changed_input[..., :per_group] += 1.0  # change group 0's input channels only
changed = np.abs(keras.ops.convert_to_numpy(grouped(changed_input)) - ours).max(axis=(0, 1, 2)) > 0
print(
    f"changing input channels 0-{per_group - 1} changes output channels "
    f"{np.flatnonzero(changed).tolist()}"
)
print(
    f"weights: {conv_params(3, 24, 24, bias=False, groups=8):,} grouped vs "
    f"{conv_params(3, 24, 24, bias=False):,} for an ordinary 3x3 of the same width"
)

# %% [markdown]
# Same function, not the same speed. Below, each layer does what it does in
# one training step, the forward pass and the gradients with respect to its
# input and kernel, on the same feature maps, on the machine that built this
# page (the median of three runs, after a first call that builds the
# graph). An ordinary `Conv2D` over all 24 channels, with 8 times the
# multiply-accumulates of the grouped ones, gives the scale.


# %%
def step_seconds(layer, repeats=3):
    """Median time of a forward pass and its gradients on `maps`, in seconds."""

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x))
        return tape.gradient(loss, [x, *layer.trainable_weights])

    step(maps)[0].numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step(maps)[0].numpy()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


ordinary = keras.layers.Conv2D(grouped.filters, 3, padding="same", use_bias=False)
ordinary.build(maps.shape)
ours_s, keras_s, ordinary_s = (step_seconds(layer) for layer in (grouped, reference, ordinary))
print(
    f"forward and backward on {tuple(maps.shape)}: GroupedConv2D {ours_s * 1e3:.1f} ms, "
    f"Conv2D(groups={grouped.groups}) {keras_s * 1e3:.1f} ms "
    f"({keras_s / ours_s:.0f} times as long), "
    f"ordinary Conv2D {ordinary_s * 1e3:.1f} ms"
)

# %% [markdown]
# The ratio depends on the machine, and on a GPU the built-in grouped
# kernels are the usual choice; run this page's script to time yours, or
# compare whole networks with
# `cnn-guide bench --throughput --models resnext_fashion,resnet_fashion`.

# %% [markdown]
# ## The full run
#
# The short run above is what fits in a documentation build. The full
# budget's result, recorded by the command it names on the machine it names:

# %%
plan.show_full_run(result)
