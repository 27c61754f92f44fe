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
# # Example: AlexNet, trained
#
# The executed example of the chapter [AlexNet](../../chapters/alexnet/): a
# quarter-width AlexNet with the paper's ReLUs, local response normalization,
# overlapping pooling and dropout, trained on the real Fashion-MNIST. We also
# build the paper's 62-million-parameter network to see where its parameters
# and its compute are, check the normalization formula against the layer, and
# look at the first layer's learned kernels. Everything printed below was
# produced when this page was built.
#
# **Run it yourself.** Download this script (the button at the top of the
# page) and run `python alexnet.py`: the full budget is 10 epochs on all
# 55,000 training images. `CNN_GUIDE_BUDGET=site` runs the short version shown
# here and `CNN_GUIDE_BUDGET=quick` a smoke test of a few steps on 640 images.
# The first cell prints the plan: this budget, the recipe, and the command
# that makes the same full run from the command line (and records it). The
# last cell prints the full run's recorded result, or that command if none is
# recorded yet.

# %%
import cnn_guide

cnn_guide.import_tensorflow()  # first, so that TensorFlow starts without its start-up log lines

import time

import keras
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import PercentFormatter

from cnn_guide import models
from cnn_guide.analysis import conv_params, layer_table
from cnn_guide.budget import plan_example
from cnn_guide.data import load_fashion_mnist
from cnn_guide.plotting import book_style, plot_feature_maps, plot_history, show
from cnn_guide.training import fit

# About 40 times LeNet-5's compute per image: the site build trains on a
# subset of the training images.
plan = plan_example("alexnet_fashion", site_epochs=2, site_train_size=12_000)
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
# `alexnet_fashion` keeps AlexNet's layout: five ReLU convolutions, local
# response normalization (LRN) after the first two, overlapping 3x3 max
# pooling with stride 2 after conv1, conv2 and conv5, and a head of two
# dropout-regularized dense layers. It changes the stem (5x5 with stride 1
# instead of 11x11 with stride 4, which would shrink a 28x28 image to 5x5)
# and uses about a quarter of the widths: 32-64-96-96-64 filters and 512-unit
# dense layers instead of 96-256-384-384-256 and 4096.

# %%
keras.utils.set_random_seed(plan.recipe.seed)  # the initial weights; fit() seeds the rest
model = models.build("alexnet_fashion")
variant_table = layer_table(model)
print(variant_table)

# %% [markdown]
# The 3x3 poolings with stride 2 take 28 to 13, 13 to 6 and 6 to 2 (with
# 'valid' padding a window must fit entirely: $\lfloor (28 - 3) / 2 \rfloor +
# 1 = 13$), so the head reads 2x2x64 = 256 features. Each pooling window
# overlaps its neighbour by one row and one column.
#
# ## The paper's AlexNet: where the parameters are, and where the work is
#
# Building the paper's network at 227x227x3 with 1,000 classes takes a few
# seconds (62 million weights to initialize). Its table shows AlexNet's
# lesson: the convolutions do the work, the dense layers hold the weights.

# %%
paper_table = layer_table(models.build("alexnet"))
print(paper_table)


# %%
def dense_share(table):
    """Fractions of the parameters and of the MACs in the dense layers."""
    dense = [row for row in table if row.type == "Dense"]
    params = sum(row.params for row in dense) / table.total_params
    macs = sum(row.macs for row in dense) / table.macs
    return params, macs


for table in (paper_table, variant_table):
    params, macs = dense_share(table)
    print(
        f"{table.model_name}: the dense layers hold {params:.1%} of the "
        f"{table.total_params:,} parameters and do {macs:.1%} of the {table.macs:,} MACs"
    )
fc6 = paper_table["fc6"]
print(
    f"fc6 alone ({paper_table['pool5'].output_shape} = 9,216 inputs x 4,096 units): "
    f"{fc6.params:,} parameters, {fc6.params / paper_table.total_params:.1%} of the network"
)

# %% [markdown]
# The figure puts both networks side by side: for each layer with weights,
# its share of the parameters and its share of the multiply-accumulates.

# %%
weighted = {"paper AlexNet": paper_table, "alexnet_fashion": variant_table}
with book_style():
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, (title, table) in zip(axes, weighted.items(), strict=True):
        rows = [row for row in table if row.params]
        names = [row.name.replace("predictions", "fc8") for row in rows]
        x = np.arange(len(rows))
        ax.bar(x - 0.2, [r.params / table.total_params for r in rows], 0.4, label="parameters")
        ax.bar(x + 0.2, [r.macs / table.macs for r in rows], 0.4, label="MACs")
        ax.set_xticks(x, names, rotation=45)
        ax.set_title(title)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes[0].set_ylabel("share of the network")
    axes[0].legend()
    fig.tight_layout()
show(fig, "parameters_vs_macs")

# %% [markdown]
# ## Two GPUs: grouped convolutions
#
# The paper split every layer over two GPUs; conv2, conv4 and conv5 read only
# the maps on their own GPU. In Keras that is `Conv2D(groups=2)`, which halves
# those layers' kernels. The saving, from the formula
# $k^2 \cdot (C_\text{in}/g) \cdot C_\text{out}$:

# %%
grouped = {"conv2": (5, 96, 256), "conv4": (3, 384, 384), "conv5": (3, 384, 256)}
saved = 0
for name, (k, c_in, c_out) in grouped.items():
    one, two = conv_params(k, c_in, c_out), conv_params(k, c_in, c_out, groups=2)
    saved += one - two
    print(f"{name}: {one:>9,} parameters in one tower, {two:>9,} in two groups")
print(
    f"alexnet_grouped: {paper_table.total_params:,} - {saved:,} = "
    f"{paper_table.total_params - saved:,} parameters, the paper's '60 million'"
)

# %% [markdown]
# ## Training
#
# The same recipe in every architecture chapter, so results compare: the
# book recipe, 'book' (printed in the first cell): AdamW with a one-cycle
# learning-rate schedule peaking at 0.004, weight decay 5e-4, label smoothing
# 0.1, batch size 128 and a fixed seed, with a validation pass after each
# epoch. Dropout is active during training only, which is one reason why the
# training accuracy of an epoch (averaged with dropout on, over changing
# weights) can trail the validation accuracy.

# %%
result = fit(model, data, plan.recipe, verbose=2)
print(result.describe())

# %%
show(plot_history(result.history), "learning_curves")

# %% [markdown]
# ## ReLU: units that switch off
#
# AlexNet's first idea: $\max(0, x)$ instead of $\tanh x$. Its gradient is 1
# wherever the unit is active, while tanh's gradient $1 - \tanh^2 x$ is below
# 0.08 once $|x| > 2$ (the unit saturates); that is the paper's explanation
# of why its ReLU network trained several times faster (the chapter's
# recorded experiment repeats that comparison on this network, on all the
# training images, and says whether its seeds can tell). A side effect: every negative input
# becomes an exact zero, so the feature maps are sparse. Below, the fraction
# of zero activations in each trained convolution, over 256 test images.

# %%
conv_names = [f"conv{i}" for i in range(1, 6)]
probe = keras.Model(model.input, [model.get_layer(name).output for name in conv_names])
activations = dict(zip(conv_names, probe.predict(data.x_test[:256], verbose=0), strict=True))
for name, values in activations.items():
    print(
        f"{name}: {np.mean(values == 0):.0%} of its {values[0].size:,} outputs per image are zero"
    )

# %% [markdown]
# The 32 maps of conv1 (after ReLU, before LRN) for one test image, each panel
# scaled to its own range and titled with its share of zeros: black areas
# are switched-off units, which pass no gradient for this image.

# %%
index = 0
label = data.class_names[int(data.y_test[index])]
maps = activations["conv1"][index]  # (28, 28, 32)
titles = [f"{np.mean(maps[..., c] == 0):.0%} zero" for c in range(maps.shape[-1])]
show(
    plot_feature_maps(maps, titles=titles, columns=8, title=f"conv1 on a test image ({label})"),
    "conv1_relu_maps",
)

# %% [markdown]
# ## Build it yourself: local response normalization
#
# LRN divides each activation $a^i$ (channel $i$ of a ReLU output) by
# $\left(k + \alpha \sum_j (a^j)^2\right)^\beta$, the sum running over the
# $n = 5$ channels centred on $i$ (fewer at the first and last channels), with
# the paper's $k = 2$, $\alpha = 10^{-4}$, $\beta = 0.75$. In plain Keras it
# is a layer without weights: square, add up each window of $n$ neighbouring
# channels (padding the channel axis with $n // 2$ zeros on each side), raise
# to $\beta$, divide. Around it, AlexNet's first stage: the convolution with
# its ReLU, the normalization, the overlapping pooling.


# %%
# --8<-- [start:block]
class MyLRN(keras.layers.Layer):
    """AlexNet's local response normalization: a / (k + alpha * sum of a^2 nearby) ** beta."""

    def __init__(self, n=5, k=2.0, alpha=1e-4, beta=0.75, **kwargs):
        super().__init__(**kwargs)
        self.n, self.k, self.alpha, self.beta = n, k, alpha, beta

    def divisor(self, a):
        r = self.n // 2  # neighbours on each side
        squares = keras.ops.pad(keras.ops.square(a), [(0, 0), (0, 0), (0, 0), (r, r)])
        channels = a.shape[-1]
        window = sum(squares[..., j : j + channels] for j in range(self.n))
        return (self.k + self.alpha * window) ** self.beta

    def call(self, a):
        return a / self.divisor(a)


def my_first_stage(x):
    """conv1 with ReLU, LRN, then 3x3 max pooling with stride 2 (alexnet_fashion's sizes)."""
    x = keras.layers.Conv2D(32, 5, padding="same", activation="relu", name="conv1")(x)
    x = MyLRN(name="lrn1")(x)
    return keras.layers.MaxPooling2D(3, strides=2, name="pool1")(x)


# --8<-- [end:block]


# %%
# --8<-- [start:diagram]
from cnn_guide.diagrams import draw_model

inputs = keras.Input((28, 28, 1), name="image")
stage = keras.Model(inputs, my_first_stage(inputs), name="my_first_stage")
show(draw_model(stage, title="AlexNet's first stage, from scratch"), "first_stage_diagram")
# --8<-- [end:diagram]

# %% [markdown]
# The check: copy the trained conv1's kernel and bias into the scratch stage
# (LRN and pooling have no weights), then compare it with the package's
# layers, conv1 to pool1 of the trained `alexnet_fashion`, on the same 256
# test images, and the two normalizations alone on conv1's outputs.

# %%
reference = keras.Model(model.input, model.get_layer("pool1").output)
stage.set_weights(reference.get_weights())  # [conv1 kernel, conv1 bias]
a, b = stage.count_params(), reference.count_params()
diff = float(np.abs(stage(data.x_test[:256]) - reference(data.x_test[:256])).max())
print(
    f"parameters: {a:,} (scratch) = {b:,} (cnn_guide); "
    f"largest difference after copying the weights: {diff:.1e}"
)
my_lrn, lrn = stage.get_layer("lrn1"), model.get_layer("lrn1")
a1 = activations["conv1"]  # the trained conv1's outputs
lrn_diff = float(np.abs(keras.ops.convert_to_numpy(my_lrn(a1) - lrn(a1))).max())
print(f"LRN alone, on conv1's outputs: largest difference {lrn_diff:.1e}")
assert a == b and diff < 1e-5 and lrn_diff < 1e-5

# %% [markdown]
# The package's `LocalResponseNormalization` computes the same thing with
# TensorFlow's fused `tf.nn.local_response_normalization` (in float32 under
# any precision policy), names the window by its half-width (`depth_radius=2`
# for $n = 5$), checks its constants and saves them with the model.
#
# The range of the divisor shows what the layer does at this scale. Where
# all neighbours are silent it is $k^\beta = 2^{0.75} \approx 1.68$: a
# constant rescaling. Only where it rises above that does a strong response
# dim its neighbours.

# %%
print(f"k^beta = {my_lrn.k**my_lrn.beta:.4f}")
for scale, what in [(1, "our activations"), (255, "activations 255 times larger")]:
    divisor = keras.ops.convert_to_numpy(my_lrn.divisor(scale * a1))
    low, median, high = np.percentile(divisor, [0, 50, 100])
    print(f"divisor for {what}: min {low:.4f}, median {median:.4f}, max {high:.4f}")

# %% [markdown]
# The constants are not scale-free: $\alpha$ multiplies *squared*
# activations. The divisor departs noticeably from $k^\beta$ only where
# $\alpha \sum_j (a^j)^2$ approaches $k$, that is where the five squared
# activations add up to about $k / \alpha = 20{,}000$: activations of about 60
# each. The paper fed raw pixel values (0 to 255, minus the mean image), so
# its activations were about 255 times larger than those of a network fed
# images in $[0, 1]$, as here. The second line shows what the same layer does
# at that scale (conv1's bias aside, scaling the input scales its output).
# Later networks dropped LRN: VGG ([chapter](../../chapters/vgg/)) found
# that it did not improve accuracy, and batch normalization
# ([chapter](../../chapters/batch-norm/)) learns its scale instead of fixing it.

# %% [markdown]
# ## The full run
#
# The short run above is what fits in a documentation build. The full
# budget's result, recorded by the command it names on the machine it names:

# %%
plan.show_full_run(result)
