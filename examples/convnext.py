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
# # Example: ConvNeXt, trained
#
# The executed example of the chapter [ConvNeXt](../../chapters/convnext/):
# the arithmetic of a 7x7 depthwise convolution and of the inverted
# bottleneck, the ConvNeXt block from scratch in plain Keras (checked
# against the package's `ConvNeXtBlock`), the paper's ConvNeXt-T, -S and -B,
# the steps of the paper's roadmap from the book's ResNet with their cost,
# and the book's `convnext_fashion` trained on the real Fashion-MNIST.
# Everything printed below was produced when this page was built.
#
# **Run it yourself.** Download this script (the button at the top of the
# page) and run `python convnext.py`: the full budget is 10 epochs on all
# 55,000 training images; its recorded result, or the command that records
# one, is printed at the end of this page. `CNN_GUIDE_BUDGET=site` runs the
# short version shown here and `CNN_GUIDE_BUDGET=quick` a smoke test of a few
# steps on 640 images. The first cell prints the plan: this budget, the
# recipe, and the same full run as a command line.

# %%
import cnn_guide

cnn_guide.import_tensorflow()  # first, so that TensorFlow starts without its start-up log lines

import itertools
import time

import keras
import matplotlib.pyplot as plt
import numpy as np

from cnn_guide import models
from cnn_guide.analysis import conv_macs, conv_params, layer_table
from cnn_guide.budget import plan_example
from cnn_guide.data import load_fashion_mnist
from cnn_guide.diagrams import draw_model
from cnn_guide.experiments import get_experiment
from cnn_guide.layers import ConvNeXtBlock
from cnn_guide.models.convnext import MODEL_CONFIGS, ROADMAP
from cnn_guide.plotting import book_style, plot_comparison, plot_history, show
from cnn_guide.results import missing
from cnn_guide.training import StepHistory, fit

plan = plan_example(
    "convnext_fashion",
    site_epochs=1,
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
# ## The arithmetic: large kernels are cheap when they are depthwise
#
# A regular $k \times k$ convolution from $C$ to $C$ channels costs
# $k^2 C^2$ multiply-accumulates per output pixel; a depthwise one, which
# filters each channel on its own, costs $k^2 C$. ConvNeXt-T's first stage
# works on $56 \times 56$ maps of 96 channels. The two 1x1 convolutions of
# its inverted bottleneck, $C \to 4C \to C$, cost $8 C^2$ per pixel, and
# they, not the 7x7 filter, are most of the block's cost.

# %%
side, c = 56, 96
dense_3x3 = conv_macs(side, side, 3, c, c)
depthwise_7x7 = conv_macs(side, side, 7, c, c, groups=c)
mlp = conv_macs(side, side, 1, c, 4 * c) + conv_macs(side, side, 1, 4 * c, c)
print(f"per {side}x{side} map of {c} channels:")
print(f"  regular 3x3 convolution   {dense_3x3:>13,} MACs ({dense_3x3 // side**2:,} per pixel)")
print(
    f"  depthwise 7x7 convolution {depthwise_7x7:>13,} MACs "
    f"({depthwise_7x7 // side**2:,} per pixel): {dense_3x3 / depthwise_7x7:.1f}x fewer"
)
print(f"  1x1 to {4 * c} and back     {mlp:>13,} MACs ({mlp // side**2:,} per pixel)")
share = depthwise_7x7 / (depthwise_7x7 + mlp)
print(f"the 7x7 depthwise filter is {share:.1%} of the block's multiply-accumulates")
weights = conv_params(7, c, c, groups=c) + conv_params(1, c, 4 * c) + conv_params(1, 4 * c, c)
print(f"the block's convolutions hold {weights:,} weights with their biases")

# %% [markdown]
# ## The block in code
#
# The ConvNeXt block in plain Keras, with the functional API: a 7x7
# depthwise convolution, one LayerNorm, a 1x1 convolution to four times the
# channels (a `Dense` layer applied to every pixel), GELU, a 1x1 convolution
# back, the layer scale and the residual addition. Nothing follows the
# addition. The layer scale multiplies each channel by a learned factor that
# starts at $10^{-6}$; a 1x1 depthwise convolution without a bias is exactly
# that.


# %%
# --8<-- [start:block]
def convnext_block(x, layer_scale=1e-6):
    """Depthwise 7x7 - LayerNorm - 1x1 (4C) - GELU - 1x1 (C) - layer scale - add."""
    channels = x.shape[-1]
    y = keras.layers.DepthwiseConv2D(7, padding="same", name="depthwise")(x)
    y = keras.layers.LayerNormalization(epsilon=1e-6, name="norm")(y)
    y = keras.layers.Dense(4 * channels, name="expand")(y)  # a 1x1 convolution
    y = keras.layers.Activation("gelu", name="gelu")(y)
    y = keras.layers.Dense(channels, name="project")(y)
    y = keras.layers.DepthwiseConv2D(  # one factor per channel: the layer scale
        1,
        use_bias=False,
        depthwise_initializer=keras.initializers.Constant(layer_scale),
        name="layer_scale",
    )(y)
    return keras.layers.Add(name="add")([x, y])


# --8<-- [end:block]


# %%
# --8<-- [start:diagram]
feature_maps = keras.Input((14, 14, 40), name="feature_maps")
scratch = keras.Model(feature_maps, convnext_block(feature_maps), name="scratch_block")
show(
    draw_model(scratch, title="ConvNeXt block, 40 -> 160 -> 40 channels"),
    "convnext_block_diagram",
)
# --8<-- [end:diagram]

# %% [markdown]
# One normalization and one activation in the whole block, both inside the
# wide middle; the shortcut carries the 40-channel input to the addition.
#
# Does it compute what the package's `ConvNeXtBlock` computes? Both hold the
# same weights in the same order (the depthwise kernel and bias, the
# LayerNorm's scale and offset, each 1x1's kernel and bias, the layer
# scale); only the layer scale's shape differs, `(40,)` in the package and
# `(1, 1, 40, 1)` here, so each array is reshaped on its way across. Both
# then run on real feature maps, the 40 channels that `convnext_fashion`'s
# stem computes for 32 test images, in inference and in training mode
# (without stochastic depth the two are the same computation: LayerNorm
# keeps no moving statistics).

# %%
keras.utils.set_random_seed(plan.recipe.seed)  # the initial weights; fit() seeds the rest
model = models.build("convnext_fashion")
maps = keras.Model(model.input, model.get_layer("stem_norm").output)(data.x_test[:32])
package_block = ConvNeXtBlock()
package_block(maps)  # builds its weights
# Random weights, so that the comparison does not rest on the near-zero layer scale.
rng = np.random.default_rng(0)
package_block.set_weights(
    [rng.normal(0.0, 0.2, w.shape).astype("float32") for w in package_block.get_weights()]
)
scratch.set_weights(
    [
        w.reshape(s.shape)
        for w, s in zip(package_block.get_weights(), scratch.get_weights(), strict=True)
    ]
)
diff = max(
    float(
        np.abs(
            keras.ops.convert_to_numpy(scratch(maps, training=training))
            - keras.ops.convert_to_numpy(package_block(maps, training=training))
        ).max()
    )
    for training in (False, True)
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
# saves and loads with every setting (`get_config`), takes the kernel size,
# the expansion and the layer scale as options, drops the whole residual
# branch of a sample in training with probability `drop_path_rate`
# (stochastic depth), and reports its receptive-field path to `layer_table`.
#
# ## The model
#
# `convnext_fashion`: a 2x2 stride-2 patchify stem (28x28 to 14x14), three
# stages of 1, 1 and 4 ConvNeXt blocks with 40, 80 and 160 channels on
# 14x14, 7x7 and 4x4 maps, each stage after the first behind its own
# downsampling layer (LayerNorm and a 2x2 stride-2 convolution), then global
# average pooling, a LayerNorm and the classifier.

# %%
table = layer_table(model)
print(table)

# %% [markdown]
# ## The paper's ConvNeXt-T, -S and -B
#
# The ImageNet networks at 224x224: a 4x4 stride-4 stem, four stages with
# the block counts and widths of `MODEL_CONFIGS`, and a downsampling layer
# before each stage but the first. Their weights can be counted by hand: a
# block of width $C$ holds $50C$ (depthwise 7x7 with biases) $+ 2C$
# (LayerNorm) $+ (C + 1) 4C + (4C + 1) C$ (the two 1x1s) $+ C$ (layer
# scale) $= 8C^2 + 58C$; a downsampling layer from $C$ to $C'$ holds
# $2C + 4CC' + C'$; the stem $48C_0 + C_0 + 2C_0$; the head's LayerNorm and
# classifier $2C_3 + 1000 C_3 + 1000$. The sums below are checked against
# the counts of `keras.applications.ConvNeXtTiny`, `Small` and `Base`, the
# registry's references (the test suite builds all three, and checks
# Tiny's outputs with the same weights); ConvNeXt-T is then built, and its
# multiply-accumulates measured (the paper reports 4.5 GFLOPs).

# %%
for size, config in MODEL_CONFIGS.items():
    d, depths = config["projection_dims"], config["depths"]
    count = 48 * d[0] + d[0] + 2 * d[0]  # stem: 4x4x3 kernels, biases, LayerNorm
    count += sum(n * (8 * w * w + 58 * w) for n, w in zip(depths, d, strict=True))
    count += sum(2 * a + 4 * a * b + b for a, b in itertools.pairwise(d))  # downsampling
    count += 2 * d[3] + 1000 * d[3] + 1000  # head: LayerNorm and classifier
    reference = models.get_info(f"convnext_{size}").reference_params
    print(f"convnext_{size:<6} by hand {count:>11,}   reference {reference:>11,}")
    assert count == reference
start = time.perf_counter()
tiny = models.build("convnext_tiny")
print(f"convnext_tiny built: {tiny.count_params():,} parameters")
print(f"multiply-accumulates per 224x224 image: {layer_table(tiny).macs / 1e9:.2f} billion")
print(f"(built and measured in {time.perf_counter() - start:.1f} s)")
del tiny
keras.backend.clear_session()

# %% [markdown]
# ## The roadmap: from the book's ResNet to its ConvNeXt
#
# The paper's Figure 2 modernizes ResNet-50 one step at a time.
# `convnext_fashion(roadmap=...)` builds each step on Fashion-MNIST, every
# step keeping the changes before it, from `resnet_fashion` (`"resnet"`) to
# the network above (`"convnext"`). Where a step saves multiply-accumulates
# (the patchify stem, the depthwise convolutions), the widths are raised to
# spend them again, as the paper widened ResNeXt-ified ResNet-50 to 96
# channels: the cost stays comparable along the path. The table measures
# each step.

# %%
print(f"{'step':<22}{'parameters':>12}{'MACs per image':>17}{'last map':>10}")
costs = {}
for step in ROADMAP:
    network = models.convnext_fashion(roadmap=step)
    full = layer_table(network)
    costs[step] = (full.total_params, full.macs)
    last = network.get_layer("avg_pool").input.shape
    print(
        f"{step:<22}{full.total_params:>12,}{full.macs:>17,}{f'{last[1]}x{last[2]}x{last[3]}':>10}"
    )
    keras.backend.clear_session()
macs = [m for _, m in costs.values()]
print(f"multiply-accumulates from {min(macs) / 1e6:.1f} to {max(macs) / 1e6:.1f} million")

# %% [markdown]
# ### The roadmap, trained
#
# The chapter's experiment `convnext-roadmap` trains every step, five seeds
# each, under the book recipe. The figure puts the mean test accuracy of
# each recorded step beside the paper's ImageNet top-1 at the same step
# (Figure 2 of the paper; for the micro design, its last value, with
# separate downsampling layers). The chapter's table and its reading say,
# for each step against the one before, whether the interval of the
# difference excludes zero; the figure only shows the path.

# %%
roadmap = get_experiment("convnext-roadmap")
paper_top1 = [78.8, 79.4, 79.5, 80.5, 80.6, 80.6, 82.0]  # Liu et al. (2022), Figure 2
recorded = roadmap.recorded()
means = [
    100 * np.mean([run.test_accuracy for run in runs]) if runs else np.nan
    for runs in recorded.values()
]
not_yet = missing(roadmap.runs())
print(
    f"{len(roadmap.runs()) - len(not_yet)} of {len(roadmap.runs())} runs recorded "
    f"({len(roadmap.arms)} steps x {len(roadmap.seeds)} seeds, {roadmap.describe_stop()} each)"
)
if not_yet:
    print("record the missing ones with: cnn-guide record --plan experiments")
with book_style():
    fig, ax = plt.subplots(figsize=(10, 3.8))
    x = np.arange(len(ROADMAP))
    ax.plot(x, paper_top1, "o-", color="tab:grey", label="paper: ImageNet top-1 (%)")
    ax.set_ylabel("paper: ImageNet top-1 (%)")
    ax.set_xticks(x, [step.replace("_", "\n") for step in ROADMAP], fontsize=8)
    ours = ax.twinx()
    ours.plot(x, means, "s-", color="tab:blue", label="this book: Fashion-MNIST test (%)")
    ours.set_ylabel("Fashion-MNIST test accuracy (%)")
    if np.all(np.isnan(means)):
        ours.set_yticks([])
        ours.text(0.02, 0.92, "this book: no run recorded yet", transform=ours.transAxes)
    handles = ax.get_legend_handles_labels()[0] + ours.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="lower right", fontsize=8)
    ax.set_title("ConvNeXt's roadmap: the paper's path and this book's")
    fig.tight_layout()
show(fig, "roadmap_path")

# %% [markdown]
# ## Training
#
# The same recipe in every architecture chapter, so results compare: the
# book recipe, 'book' (printed in the first cell): AdamW with a one-cycle
# learning-rate schedule peaking at 0.004, weight decay 5e-4, label smoothing
# 0.1, batch size 128, a fixed seed. ConvNeXt has no batch normalization, so
# the recipe's re-estimation of batch-norm statistics before each evaluation
# has nothing to do here. `StepHistory` records the training loss of every
# step, for runs too short for per-epoch curves.

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
