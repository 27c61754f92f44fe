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
# # Example: RegNet, trained
#
# The executed example of the chapter [RegNet](../../chapters/regnet/): the
# quantized linear width rule computed for the paper's two 400MF networks, the
# X and Y blocks built from scratch and checked against the package's, the
# paper's networks generated from their rules and counted, the book's
# Fashion-MNIST RegNet, and the populations of the chapter's design-space
# experiment. Everything printed below was produced when this page was built.
#
# **Run it yourself.** Download this script (the button at the top of the
# page) and run `python regnet.py`: the full budget is 10 epochs on all 55,000
# training images; its recorded result, or the command that records one, is
# printed at the end of this page. `CNN_GUIDE_BUDGET=site` runs the short
# version shown here and `CNN_GUIDE_BUDGET=quick` a smoke test of a few steps
# on 640 images. The first cell prints the plan: this budget, the recipe, and
# the same full run as a command line.

# %%
import cnn_guide

cnn_guide.import_tensorflow()  # first, so that TensorFlow starts without its start-up log lines

import time

import keras
import matplotlib.pyplot as plt
import numpy as np

from cnn_guide import models
from cnn_guide.analysis import layer_table
from cnn_guide.anynet import block_widths, regnet_config
from cnn_guide.budget import plan_example
from cnn_guide.data import load_fashion_mnist
from cnn_guide.design_spaces import get_design_space
from cnn_guide.diagrams import draw_model
from cnn_guide.layers import RegNetYBlock
from cnn_guide.models.regnet import FASHION_RULE, PAPER_RULES
from cnn_guide.plotting import book_style, plot_comparison, plot_history, show
from cnn_guide.training import StepHistory, fit

plan = plan_example("regnet_fashion", site_epochs=1, site_train_size=3_000)
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
# ## The width rule
#
# A RegNet is four numbers and a group width: its depth $d$ (blocks in all),
# and a line $u_j = w_0 + w_a \cdot j$ for the width of block $j$. The line is
# then *quantized*: each $u_j$ is snapped to the nearest $w_0 \cdot w_m^{s}$
# (in log scale, $s$ a whole number), and rounded to a multiple of 8. Blocks
# of equal width form a stage. The paper's two 400MF networks, from the
# parameters of its code (pycls), block by block:

# %%
with book_style():
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
    for ax, (name, row) in zip(axes, PAPER_RULES.items(), strict=True):
        rule = row["rule"]
        j = np.arange(rule.depth)
        ax.plot(j, rule.w_0 + rule.w_a * j, "--", label="the line $u_j = w_0 + w_a j$")
        ax.step(j, block_widths(rule), where="mid", label="quantized widths $w_j$")
        ax.set_title(
            f"{name}: d={rule.depth}, w_0={rule.w_0:g}, w_a={rule.w_a:g}, w_m={rule.w_m:g}",
            fontsize=9,
        )
        ax.set_xlabel("block j")
        ax.legend(fontsize="small")
    axes[0].set_ylabel("width (channels)")
    fig.tight_layout()
show(fig, "width_rule")

for name, row in PAPER_RULES.items():
    config = regnet_config(**row)
    print(
        f"{name}: quantized widths {sorted(set(block_widths(row['rule'])))} -> after "
        f"rounding to whole groups of g = {row['group_width']}: depths {config.depths}, "
        f"widths {config.widths}"
    )

# %% [markdown]
# The last step makes each stage's width a whole number of groups (24 becomes
# 32 and 392 becomes 384 for $g = 16$). The depths and widths printed are
# those of Keras 2's `RegNetX004` and `RegNetY004` configuration table: the
# table is the rule's output, not a separate design.
#
# ## Build it yourself
#
# The X block in plain Keras: a 1x1 convolution to the inner width $w/b$, a
# grouped 3x3 convolution (groups of $g$ channels, stride $s$), a 1x1
# convolution back to $w$, each with batch normalization, ReLU after the
# first two and after the addition, and a projected shortcut where the shape
# changes. The Y block adds squeeze-and-excitation after the 3x3, squeezing to
# a quarter of the block's *input* width.


# %%
# --8<-- [start:block]
def regnet_block(x, filters, group_width, strides=1, bottleneck_ratio=1, se_ratio=None):
    """RegNet's X block (se_ratio=None) or Y block (se_ratio=0.25)."""
    inner = filters // bottleneck_ratio
    bn = {"epsilon": 1e-5, "momentum": 0.9}
    y = keras.layers.Conv2D(inner, 1, use_bias=False, name="a_conv")(x)
    y = keras.layers.BatchNormalization(**bn, name="a_bn")(y)
    y = keras.layers.ReLU(name="a_relu")(y)
    y = keras.layers.Conv2D(
        inner, 3, strides=strides, padding="same", groups=inner // group_width,
        use_bias=False, name="b_conv",
    )(y)  # fmt: skip
    y = keras.layers.BatchNormalization(**bn, name="b_bn")(y)
    y = keras.layers.ReLU(name="b_relu")(y)
    if se_ratio is not None:  # squeeze-and-excitation: one weight per channel
        s = keras.layers.GlobalAveragePooling2D(keepdims=True, name="se_squeeze")(y)
        s = keras.layers.Dense(int(x.shape[-1] * se_ratio), "relu", name="se_reduce")(s)
        s = keras.layers.Dense(inner, "sigmoid", name="se_expand")(s)
        y = keras.layers.Multiply(name="se_scale")([y, s])
    y = keras.layers.Conv2D(filters, 1, use_bias=False, name="c_conv")(y)
    y = keras.layers.BatchNormalization(**bn, name="c_bn")(y)
    if strides != 1 or x.shape[-1] != filters:  # projection shortcut
        x = keras.layers.Conv2D(filters, 1, strides=strides, use_bias=False, name="proj_conv")(x)
        x = keras.layers.BatchNormalization(**bn, name="proj_bn")(x)
    y = keras.layers.Add(name="add")([x, y])
    return keras.layers.ReLU(name="out_relu")(y)


# --8<-- [end:block]


# %%
# --8<-- [start:diagram]
feature_maps = keras.Input((28, 28, 24), name="feature_maps")
scratch = keras.Model(
    feature_maps,
    regnet_block(feature_maps, 32, group_width=8, strides=2, se_ratio=0.25),
    name="scratch_y_block",
)
show(
    draw_model(scratch, title="RegNet Y block, 24 -> 32 channels, g = 8, stride 2"),
    "regnet_block_diagram",
)
# --8<-- [end:diagram]

# %% [markdown]
# In the figure, drawn from the model just built, the input takes two paths:
# the three convolutions with the squeeze-and-excitation branch between the
# second and the third, and the projection (a strided 1x1 convolution), since
# this block halves the map and changes the width. `regnet_block` with
# `se_ratio=None` is the X block.
#
# Does it compute what the package's `RegNetYBlock` computes? The package
# runs its grouped 3x3 as one small convolution per group (`GroupedConv2D`,
# faster on a CPU) and keeps its layers as attributes; below, each layer's
# weights are copied by name into the scratch block, the grouped kernel in
# `Conv2D(groups=...)`'s layout (`GroupedConv2D.kernel`). Both then run on
# real feature maps, the 24 channels the network's stem computes for 32 test
# images, first with the moving statistics (as in evaluation), then with the
# batch's own (as in training).

# %%
keras.utils.set_random_seed(plan.recipe.seed)  # the initial weights; fit() seeds the rest
model = models.build("regnet_fashion")
maps = keras.Model(model.input, model.get_layer("stem_relu").output)(data.x_test[:32])
package_block = RegNetYBlock(32, group_width=8, strides=2)
package_block(maps)  # builds its weights
for name in ("a_conv", "a_bn", "b_bn", "se_reduce", "se_expand", "c_conv", "c_bn"):
    scratch.get_layer(name).set_weights(getattr(package_block, name).get_weights())
scratch.get_layer("proj_conv").set_weights(package_block.proj_conv.get_weights())
scratch.get_layer("proj_bn").set_weights(package_block.proj_bn.get_weights())
scratch.get_layer("b_conv").set_weights([keras.ops.convert_to_numpy(package_block.b_conv.kernel)])
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
# it checks that the inner width splits into whole groups, saves and loads
# (`get_config`), exposes its squeeze-and-excitation weights
# (`channel_weights`, read by `se_channel_weights`) and reports its
# receptive-field path to `layer_table`.
#
# ## The paper's 400MF networks
#
# Both generated from their rules (above), at 224x224 with 1000 classes. The
# reference is the trainable count of Keras 2's `RegNetX004` and `RegNetY004`
# (Keras 3 has no RegNet); Keras' total also counts each batch
# normalization's two moving statistics. The multiply-accumulates come from
# the same configuration (`AnyNetConfig.macs`): the "400MF" of the names.

# %%
for name, row in PAPER_RULES.items():
    start = time.perf_counter()
    paper = models.build(name)
    trainable = sum(int(np.prod(w.shape)) for w in paper.trainable_weights)
    config = regnet_config(**row)
    macs = config.macs(224, input_channels=3, stem_stride=2, num_classes=1000)
    print(
        f"{name}: {trainable:,} trainable parameters (reference "
        f"{models.get_info(name).reference_params:,}), {paper.count_params():,} in all; "
        f"{macs / 1e6:.0f} M multiply-accumulates per image; built in "
        f"{time.perf_counter() - start:.1f} s"
    )
    del paper
    keras.backend.clear_session()

# %% [markdown]
# ## The Fashion-MNIST RegNet
#
# `regnet_fashion` is a RegNetY with a stride-1 stem and three stages
# instead of four (28, 14, 7, 4), its stages given by its own width rule,
# and every design-space parameter an option (per-stage depths and widths,
# the group width and the bottleneck ratio, shared or per stage, SE on or
# off).

# %%
config = regnet_config(FASHION_RULE, group_width=8, stem_width=24, se_ratio=0.25)
print(f"{FASHION_RULE}: depths {config.depths}, widths {config.widths}")
keras.utils.set_random_seed(plan.recipe.seed)
model = models.build("regnet_fashion")
table = layer_table(model)
print(table)
assert table.total_params == config.parameters() and table.macs == config.macs()

# %% [markdown]
# ## The design-space experiment's populations
#
# The chapter's experiment trains 32 networks drawn from AnyNetX (every
# stage's depth, width, bottleneck ratio and group width free) and 32 from
# RegNetX (the width rule, one bottleneck ratio, one group width), each
# `regnet_fashion` with options, once, for 2 epochs on 10,000 images. The
# draws use fixed seeds, so the same networks come out on every machine.
# Here are the first three of each, and the spread of their sizes:

# %%
space = get_design_space("regnet-design-space")
for population in space.populations:
    sizes = [c.parameters() for c in population.configs]
    macs = [c.macs() for c in population.configs]
    print(
        f"{population.label}: {len(population.configs)} networks, {min(sizes):,} to "
        f"{max(sizes):,} parameters, {min(macs) / 1e6:.1f} to {max(macs) / 1e6:.1f} M MACs"
    )
    for c in population.configs[:3]:
        print(
            f"   depths {c.depths}, widths {c.widths}, b {tuple(map(int, c.bottleneck_ratios))}, "
            f"g {c.group_widths}"
        )
print(f"first run: {space.runs()[0].command}")
assert len(space.runs()) == 64

# %% [markdown]
# ## Training
#
# The same recipe in every architecture chapter, so results compare: the
# book recipe, 'book' (printed in the first cell): AdamW with a one-cycle
# learning-rate schedule peaking at 0.004, weight decay 5e-4, label smoothing
# 0.1, batch size 128, a fixed seed, and batch-norm statistics settled before
# each evaluation. `StepHistory` records the training loss of every step, for
# runs too short for per-epoch curves.

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
