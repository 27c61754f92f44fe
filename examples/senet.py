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
# # Example: SE-ResNet, trained
#
# The executed example of the chapter [SENet](../../chapters/senet/): the
# Fashion-MNIST residual network of the ResNet chapter with a
# squeeze-and-excitation block in every unit, trained on the real
# Fashion-MNIST. It counts what the blocks cost, then reads back the channel
# weights they compute on real test images, class by class, before and after
# training: the analogue of the paper's Figure 6. Everything printed below was
# produced when this page was built.
#
# **Run it yourself.** Download this script (the button at the top of the
# page) and run `python senet.py`: the full budget is 10 epochs on all 55,000
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
from cnn_guide.analysis import compare, layer_table
from cnn_guide.budget import plan_example
from cnn_guide.data import load_fashion_mnist
from cnn_guide.diagrams import draw_model
from cnn_guide.layers import SqueezeExcitation, se_channel_weights
from cnn_guide.plotting import book_style, plot_history, show
from cnn_guide.training import fit

plan = plan_example("se_resnet_fashion", site_epochs=3, site_train_size=4_000)
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
# `se_resnet_fashion` is `resnet_fashion` (a 3x3 stem, three stages of two
# basic residual units with 16, 32 and 64 filters, global average pooling)
# with a squeeze-and-excitation block on the residual branch of each of the
# six units, just before the addition. The blocks live inside the units, so
# the summary shows the same layers as the plain ResNet.

# %%
keras.utils.set_random_seed(plan.recipe.seed)  # the initial weights; fit() seeds the rest
model = models.build("se_resnet_fashion")
model.summary()

# %%
print(layer_table(model))

# %% [markdown]
# ## Build it yourself
#
# The block is five Keras layers: global average pooling (the squeeze), two
# dense layers (the excitation), a reshape of the $C$ weights to
# $1 \times 1 \times C$, and a multiplication, which broadcasts each
# channel's weight over the whole map (the scale). With the functional API:


# %%
# --8<-- [start:block]
def squeeze_excitation(x, ratio=4):
    """Rescale every channel of x by a weight in (0, 1) computed from the whole map."""
    channels = x.shape[-1]
    s = keras.layers.GlobalAveragePooling2D(name="squeeze")(x)  # one number per channel
    s = keras.layers.Dense(channels // ratio, activation="relu", name="reduce")(s)
    s = keras.layers.Dense(channels, activation="sigmoid", name="expand")(s)
    s = keras.layers.Reshape((1, 1, channels), name="per_channel")(s)
    return keras.layers.Multiply(name="scale")([x, s])


# --8<-- [end:block]


# %%
# --8<-- [start:diagram]
feature_maps = keras.Input((28, 28, 16), name="feature_maps")
scratch = keras.Model(feature_maps, squeeze_excitation(feature_maps), name="scratch_se")
show(
    draw_model(scratch, title="Squeeze-and-excitation block, C = 16, r = 4"),
    "se_block_diagram",
)
# --8<-- [end:diagram]

# %% [markdown]
# The figure is drawn from the model just built: the arc on the left is the
# input itself, which the last layer multiplies by the weights.
#
# Does it compute the same function as the package's `SqueezeExcitation`?
# Both hold the same four arrays, which `get_weights` lists in the same
# order (the reducing layer's kernel and biases, then the expanding
# layer's), so the package block's weights are copied into the scratch one
# and both are run on real feature maps: the 16 channels the network's stem
# computes for 32 test images.

# %%
package_block = SqueezeExcitation(ratio=4)
stem = keras.Model(model.input, model.get_layer("conv1_relu").output)
maps = stem(data.x_test[:32])
expected = keras.ops.convert_to_numpy(package_block(maps))
scratch.set_weights(package_block.get_weights())
diff = float(np.abs(keras.ops.convert_to_numpy(scratch(maps)) - expected).max())
a, b = scratch.count_params(), package_block.count_params()
print(f"feature maps {tuple(maps.shape)}")
print(
    f"parameters: {a:,} (scratch) = {b:,} (cnn_guide); "
    f"largest difference after copying the weights: {diff:.1e}"
)
assert a == b and diff < 1e-5

# %% [markdown]
# The package's block computes the same thing and adds what a library needs:
# it checks its input and ratio, keeps at least one hidden unit when
# $C < r$, saves and loads with its ratio (`get_config`), and can hand back
# the channel weights themselves (`return_weights`, `channel_weights`),
# which the rest of this page reads.
#
# ## What the blocks cost
#
# Each block adds two small dense layers: $C \to C/r \to C$ with biases, here
# with reduction ratio $r = 4$. Their parameters, counted on the built blocks
# and by the formula $2C^2/r + C/r + C$:

# %%
added = 0
for layer in model.layers:
    se = getattr(layer, "se", None)
    if se is None:
        continue
    c, hidden = layer.output_channels, se.hidden_units
    formula = 2 * c * hidden + hidden + c
    added += se.count_params()
    print(
        f"{layer.name}: C = {c:>2}, C/r = {hidden:>2}, "
        f"{se.count_params():>5,} parameters (formula {formula:,})"
    )
print(f"all six blocks: {added:,} parameters")

# %% [markdown]
# Against the same network without them: about 3% more parameters, and the
# multiply-accumulates (MACs) barely move, since the dense layers act on one
# pooled number per channel rather than on every pixel.

# %%
table = compare(["resnet_fashion", model])
print(table)
plain, se_net = table.rows
print(
    f"+{se_net.params - plain.params:,} parameters ({se_net.params / plain.params - 1:.1%}), "
    f"+{se_net.macs - plain.macs:,} MACs ({se_net.macs / plain.macs - 1:.2%})"
)

# %% [markdown]
# ## The paper's SE-ResNet-50
#
# ResNet-50 with an SE block of ratio 16 in each of its 16 bottleneck units.
# Its trainable parameter count, 28,088,024, is the paper's (the test suite
# checks it). The blocks' share, summed over the built units, against the
# paper's estimate $\frac{2}{r} \sum_s N_s C_s^2$ (biases left out), with
# $N_s = 3, 4, 6, 3$ units of $C_s = 256, 512, 1024, 2048$ output channels:

# %%
start = time.perf_counter()
paper = models.build("se_resnet50")
trainable = sum(int(np.prod(v.shape)) for v in paper.trainable_weights)
se_params = sum(layer.se.count_params() for layer in paper.layers if getattr(layer, "se", None))
units, channels = (3, 4, 6, 3), (256, 512, 1024, 2048)
estimate = 2 * sum(n * c**2 for n, c in zip(units, channels, strict=True)) // 16
print(
    f"se_resnet50: {trainable:,} trainable parameters, built in {time.perf_counter() - start:.1f} s"
)
print(f"SE blocks: {se_params:,} parameters (weights alone, 2/r sum N C^2: {estimate:,})")
print(
    f"ResNet-50 without them: {trainable - se_params:,}; "
    f"the blocks add {se_params / (trainable - se_params):.1%}"
)
del paper

# %% [markdown]
# ## Channel weights before training
#
# `se_channel_weights` runs test images through the model and returns, for
# every SE block, the weight in $(0, 1)$ it gives each channel of each image.
# Read once on the freshly initialised network, as a baseline: whatever
# structure appears later was learned.

# %%
n_images = min(len(data.x_test), 2_000)
images, labels = data.x_test[:n_images], data.y_test[:n_images]
before = se_channel_weights(model, images)
for name, weights in before.items():
    print(f"{name}: {weights.shape[0]:,} images x {weights.shape[1]} channel weights")

# %% [markdown]
# ## Training
#
# The same recipe in every architecture chapter, so results compare: the
# book recipe, 'book' (printed in the first cell): AdamW with a one-cycle
# learning-rate schedule peaking at 0.004, weight decay 5e-4, label smoothing
# 0.1, batch size 128, batch-norm statistics recomputed before every
# evaluation, a fixed seed. What the SE blocks add in accuracy is not a
# question this short run can answer; the chapter's recorded experiment
# trains this network and `resnet_fashion` on all the training images, five
# seeds each.

# %%
result = fit(model, data, plan.recipe, verbose=2)
print(result.describe())

# %%
show(plot_history(result.history), "learning_curves")

# %% [markdown]
# ## What the excitation learned
#
# The same channel weights on the same test images, after training. For each
# block, the weights are averaged over the images of each class, giving a
# class x channel table. Two measures of how much the weights depend on the
# class:
#
# * **spread across classes**: the standard deviation of the ten class means
#   of a channel, averaged over the channels;
# * **share explained by the class**: the variance of those class means as a
#   fraction of the variance over all images (0 when the class tells nothing
#   about a channel's weight, 1 when it fixes it), averaged over the channels.
#
# The paper (section 7.2, Figure 6) found the early blocks' weights nearly
# the same for every class, excitation there picking generic features, and
# the later blocks' weights increasingly class-specific.

# %%
after = se_channel_weights(result.model, images)
classes = np.arange(len(data.class_names))


def class_means(weights):
    """The (classes, channels) table of mean weights per class."""
    return np.stack([weights[labels == k].mean(axis=0) for k in classes])


def class_share(weights):
    """Mean over channels of the fraction of the weights' variance the class explains."""
    counts = np.array([(labels == k).sum() for k in classes])[:, None]
    means = class_means(weights)
    between = (counts * (means - weights.mean(axis=0)) ** 2).sum(axis=0) / counts.sum()
    return float(np.mean(between / np.maximum(weights.var(axis=0), 1e-12)))


print(f"{'':<18}{'before training':^24}{'after training':^24}".rstrip())
print((f"{'block':<13}{'C':>3}  " + 2 * f"{'mean':>6}{'spread':>8}{'share':>7}   ").rstrip())
for name in after:
    cells = [
        f"{w.mean():>6.2f}{class_means(w).std(axis=0).mean():>8.3f}{class_share(w):>7.2f}   "
        for w in (before[name], after[name])
    ]
    print(f"{name:<13}{after[name].shape[1]:>3}  {cells[0]}{cells[1]}".rstrip())

# %% [markdown]
# The figure shows these class x channel tables for all six blocks after
# training, the first unit of each stage on the left. Each cell is a class's
# mean weight for a channel *minus* that channel's mean over all images: what
# the class changes. All panels share one colour scale. A block that weighs
# every class's channels alike is pale throughout; a class-specific one shows
# red (the class turns the channel up) and blue (down) patterns that differ
# from row to row; rows of related classes (the footwear, the upper-body
# garments) may look alike, since such classes share features. This page
# reads the weights after a few epochs on a few thousand images, one seed:
# a pattern here is a hint of what training does to the blocks, not the
# paper's finding reproduced.

# %%
deviations = {name: class_means(w) - w.mean(axis=0) for name, w in after.items()}
limit = max(np.abs(d).max() for d in deviations.values())
with book_style():
    fig, axes = plt.subplots(3, 2, figsize=(11, 8), sharey=True, layout="constrained")
    for ax, (name, deviation) in zip(axes.flat, deviations.items(), strict=True):
        ax.grid(False)
        image = ax.imshow(deviation, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(f"{name}: share explained by the class {class_share(after[name]):.2f}")
        ax.set_yticks(classes, data.class_names, fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("channel")
    fig.colorbar(image, ax=axes, fraction=0.03, label="class mean - overall mean weight")
show(fig, "se_channel_weights")

# %% [markdown]
# ## The full run
#
# The short run above is what fits in a documentation build. The full
# budget's result, recorded by the command it names on the machine it names:

# %%
plan.show_full_run(result)
