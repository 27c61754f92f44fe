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
# # Example: EfficientNet, trained
#
# The executed example of the chapter [EfficientNet](../../chapters/efficientnet/):
# the arithmetic of compound scaling, the MBConv block with
# squeeze-and-excitation written in plain Keras and checked against the
# package's, the paper's EfficientNet-B0 and its scaled B1 to B3, the arms
# of the chapter's scaling experiment with their costs, and a B0 adapted to
# 28x28 images trained on the real Fashion-MNIST. Everything printed below
# was produced when this page was built.
#
# **Run it yourself.** Download this script (the button at the top of the
# page) and run `python efficientnet.py`: the full budget is 10 epochs on all
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
from cnn_guide.analysis import layer_table
from cnn_guide.budget import plan_example
from cnn_guide.data import load_fashion_mnist
from cnn_guide.diagrams import draw_model
from cnn_guide.experiments import get_experiment
from cnn_guide.layers import MBConv
from cnn_guide.models.efficientnet import (
    B0_STAGES,
    MODEL_CONFIGS,
    compound_scaling,
    round_filters,
    round_repeats,
)
from cnn_guide.plotting import book_style, plot_comparison, plot_history, show
from cnn_guide.training import StepHistory, fit

plan = plan_example(
    "efficientnet_fashion",
    site_epochs=1,
    site_train_size=3_000,
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
# ## The arithmetic of compound scaling
#
# A convolution's multiply-accumulates are proportional to its output
# positions times its input and output channels. Multiply the depth (the
# number of layers) by $d$, every width by $w$ and the input side by $r$,
# and the network's cost is multiplied by about
#
# $$
# d \cdot w^2 \cdot r^2 ,
# $$
#
# linear in depth, quadratic in width (each layer's input *and* output
# channels grow) and in resolution (both sides of every feature map grow).
# The paper's compound scaling sets all three from one coefficient $\phi$:
# $d = \alpha^\phi$, $w = \beta^\phi$, $r = \gamma^\phi$ with
# $\alpha \beta^2 \gamma^2 \approx 2$, so that each unit of $\phi$ about
# doubles the cost. A grid search on the small base network gave
# $\alpha = 1.2$, $\beta = 1.1$, $\gamma = 1.15$.

# %%
print(f"{'phi':>4}{'depth d':>9}{'width w':>9}{'resolution r':>14}{'d * w^2 * r^2':>15}")
for phi in range(4):
    scaling = compound_scaling(phi)
    print(
        f"{phi:>4}{scaling.depth:>9.3f}{scaling.width:>9.3f}{scaling.resolution:>14.3f}"
        f"{scaling.flops_factor:>15.3f}"
    )
one = compound_scaling(1)
print(
    f"\nalpha * beta^2 * gamma^2 = {one.flops_factor:.4f}; at phi = 1 a 224-pixel input "
    f"becomes {224 * one.resolution:.1f} pixels and a 28-pixel one {28 * one.resolution:.1f}"
)

# %% [markdown]
# ## The block in plain Keras
#
# MBConv with squeeze-and-excitation, with the functional API: a 1x1
# expansion to $t$ times the input's channels, a depthwise $k \times k$
# convolution, the squeeze-and-excitation step (global average, a 1x1
# convolution down to a quarter of the block's *input* channels, swish, a
# 1x1 convolution back up, sigmoid, and a channel-wise product), a linear
# 1x1 projection, and the shortcut when the stride is 1 and the channels are
# unchanged. Every activation is swish, $x \cdot \sigma(x)$.


# %%
# --8<-- [start:block]
def mbconv(x, filters, expansion=6, kernel_size=3, strides=1, se_ratio=0.25):
    """Expand (1x1) - depthwise (k x k) - squeeze-and-excite - project (1x1, linear)."""
    hidden = expansion * x.shape[-1]
    y = keras.layers.Conv2D(hidden, 1, use_bias=False, name="expand")(x)
    y = keras.layers.BatchNormalization(name="expand_bn")(y)
    y = keras.layers.Activation("swish", name="expand_swish")(y)
    y = keras.layers.DepthwiseConv2D(
        kernel_size, strides=strides, padding="same", use_bias=False, name="depthwise"
    )(y)
    y = keras.layers.BatchNormalization(name="depthwise_bn")(y)
    y = keras.layers.Activation("swish", name="depthwise_swish")(y)
    # Squeeze-and-excitation: one weight in (0, 1) per expanded channel.
    s = keras.layers.GlobalAveragePooling2D(keepdims=True, name="se_squeeze")(y)
    s = keras.layers.Conv2D(
        max(1, int(x.shape[-1] * se_ratio)), 1, activation="swish", name="se_reduce"
    )(s)
    s = keras.layers.Conv2D(hidden, 1, activation="sigmoid", name="se_expand")(s)
    y = keras.layers.Multiply(name="se_excite")([y, s])
    y = keras.layers.Conv2D(filters, 1, use_bias=False, name="project")(y)
    y = keras.layers.BatchNormalization(name="project_bn")(y)  # linear: no activation
    if strides == 1 and x.shape[-1] == filters:
        y = keras.layers.Add(name="add")([x, y])
    return y


# --8<-- [end:block]


# %%
# --8<-- [start:diagram]
feature_maps = keras.Input((28, 28, 16), name="feature_maps")
scratch = keras.Model(feature_maps, mbconv(feature_maps, 16), name="scratch_block")
show(
    draw_model(scratch, title="MBConv block with squeeze-and-excitation, 16 -> 96 -> 16"),
    "mbconv_diagram",
)
# --8<-- [end:diagram]

# %% [markdown]
# The squeeze-and-excitation step is a side branch: it reads the whole
# 96-channel map, reduces it to one number per channel, and returns a weight
# per channel that multiplies the map before the projection.
#
# Does it compute what the package's `MBConv` computes? Both hold the same
# weights in the same order (each convolution's kernel, with its bias for
# the two SE convolutions, then its batch normalization's scale, offset and
# two moving statistics), so the package block's `get_weights` go into the
# scratch block's `set_weights`. Both then run on real feature maps, the 16
# channels the Fashion-MNIST variant's stem computes for 32 test images,
# first with the moving statistics (as in evaluation), then with the batch's
# own (as in training).

# %%
keras.utils.set_random_seed(plan.recipe.seed)  # the initial weights; fit() seeds the rest
model = models.build("efficientnet_fashion")
package_block = MBConv(16, expansion=6)
maps = keras.Model(model.input, model.get_layer("stem_activation").output)(data.x_test[:32])
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
# The package's block adds what a library needs: it checks its arguments,
# saves and loads with every setting (`get_config`), leaves out the
# expansion when $t = 1$ (the network's first block) and the SE step when
# `se_ratio=0`, and has drop-connect (`drop_rate`): during training it drops
# the whole residual branch of an example with that probability, stochastic
# depth, which EfficientNet raises from 0 at the first block to 0.2 at the
# last.
#
# ## The paper's EfficientNet-B0, and B1 to B3
#
# B0 is the network the architecture search found: a 3x3 stem of 32
# channels, 16 MBConv blocks in seven stages, a 1x1 convolution to 1280
# channels. Its parameter count is the one of
# `keras.applications.EfficientNetB0`, input layers included (the test suite
# checks it, with B0's outputs on the same weights).

# %%
start = time.perf_counter()
b0 = models.build("efficientnet_b0")
b0_macs = layer_table(b0).macs
print(
    f"efficientnet_b0: {b0.count_params():,} parameters, "
    f"reference {models.get_info('efficientnet_b0').reference_params:,}; "
    f"{b0_macs / 1e6:.0f} million multiply-accumulates per 224x224 image "
    f"(built and counted in {time.perf_counter() - start:.1f} s)"
)
print(f"\n{'stage':<6}{'t':>3}{'k':>3}{'channels':>10}{'blocks':>8}{'stride':>8}")
for i, stage in enumerate(B0_STAGES, start=1):
    print(
        f"{i:<6}{stage.expansion:>3}{stage.kernel_size:>3}{stage.filters:>10}"
        f"{stage.repeats:>8}{stage.strides:>8}"
    )
del b0

# %% [markdown]
# B1 to B3 are B0 with the coefficients of the reference code (the same in
# `keras.applications`): every width times $w$, rounded to a multiple of 8,
# every stage's block count times $d$, rounded up, and a larger input. The
# table computes their widths and depths with the same rounding, and the
# rule's cost factor $d \cdot w^2 \cdot r^2$ from their coefficients; the
# parameter counts are the registry's, which the test suite checks against
# `keras.applications`.

# %%
print(
    f"{'model':<17}{'w':>5}{'d':>5}{'input':>7}{'blocks':>8}{'x16':>6}{'stage widths':>33}"
    f"{'parameters':>13}{'d w^2 r^2':>11}"
)
for variant, (width, depth, side, _) in MODEL_CONFIGS.items():
    blocks = sum(round_repeats(stage.repeats, depth) for stage in B0_STAGES)
    widths = "-".join(str(round_filters(stage.filters, width)) for stage in B0_STAGES)
    factor = depth * width**2 * (side / 224) ** 2
    params = models.get_info(f"efficientnet_{variant}").reference_params
    print(
        f"efficientnet_{variant:<4}{width:>5}{depth:>5}{side:>7}{blocks:>8}{blocks / 16:>6.2f}"
        f"{widths:>33}{params:>13,}{factor:>11.2f}"
    )

# %% [markdown]
# Two things to read in the table. The released coefficients are not
# $\alpha^\phi$, $\beta^\phi$, $\gamma^\phi$ exactly (B1 keeps B0's width).
# And the rounding makes the steps uneven: rounding up each stage's block
# count, $d = 1.1$ adds a block to every one of the seven stages, 23 blocks
# instead of $1.1 \cdot 16 = 17.6$, so B1 costs more than its $d \cdot w^2
# \cdot r^2$ says (the paper gives 0.70 billion FLOPs for B1 against 0.39 for
# B0). The parameter counts grow with $w^2$ and with depth, not with
# resolution, which adds compute but no weights.
#
# ## The Fashion-MNIST variant and the experiment's arms
#
# `efficientnet_fashion` keeps B0's 16 blocks at half width, with a stride-1
# stem and the 80-channel stage at stride 1, so that three downsamplings take
# 28 to 14, 7 and 4. Its options `depth_coefficient`, `width_coefficient`
# and `resolution` scale it as the paper scales B0 (the resolution with a
# `Resizing` layer at the model's input: the data stay 28x28, the network
# sees larger, interpolated images).

# %%
table = layer_table(model)
print(f"efficientnet_fashion: {model.count_params():,} parameters, {table.macs:,} MACs per image")
print(table)

# %% [markdown]
# The chapter's experiment scales one base, the variant at half depth, to
# about the cost of the compound arm ($\phi = 1$) along each dimension
# alone. Each arm's options come from the experiment's declaration; its
# parameters and MACs are counted here.

# %%
experiment = get_experiment("efficientnet-scaling")
arm_costs = {}
for arm in experiment.arms:
    arm_model = models.build(arm.model, **arm.options)
    arm_costs[arm.label] = (arm_model.count_params(), layer_table(arm_model, strict=False).macs)
    keras.backend.clear_session()
base_macs = arm_costs[experiment.arms[0].label][1]
compound_macs = arm_costs[experiment.arms[-1].label][1]
print(f"{'arm':<52}{'parameters':>12}{'MACs':>13}{'x base':>8}{'x compound':>12}")
for label, (params, macs) in arm_costs.items():
    print(
        f"{label:<52}{params:>12,}{macs:>13,}{macs / base_macs:>8.2f}{macs / compound_macs:>12.2f}"
    )

# %%
with book_style():
    fig, ax = plt.subplots(figsize=(9, 3.2))
    labels = list(arm_costs)
    ax.barh(range(len(labels)), [macs / 1e6 for _, macs in arm_costs.values()])
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("multiply-accumulates per 28x28 image (millions)")
    ax.set_title("efficientnet-scaling: the cost of each arm")
    fig.tight_layout()
show(fig, "arm_costs")

# %% [markdown]
# The widths and block counts move in steps of 8 channels and whole blocks,
# and a larger input moves the feature maps' sides in whole pixels after each
# downsampling, so no single-dimension arm hits the compound arm's cost
# exactly; the table says how close each is.
#
# ## Training
#
# The same recipe in every architecture chapter, so results compare: the
# book recipe, 'book' (printed in the first cell): AdamW with a one-cycle
# learning-rate schedule peaking at 0.004, weight decay 5e-4, label smoothing
# 0.1, batch size 128, a fixed seed, and batch-norm statistics recomputed from
# 512 training images before each evaluation ("precise BN", the recipe's
# `settle_batch_norm`, explained in the MobileNetV2 example). The model is
# the variant built above, `efficientnet_fashion` at its defaults.


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
