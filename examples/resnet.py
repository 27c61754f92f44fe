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
# # Example: ResNet, with and without skip connections
#
# The executed example of the chapter [ResNet](../../chapters/resnet/): a
# 14-layer residual network in the layout the paper uses for small images,
# trained on the real Fashion-MNIST with the recipe every architecture chapter
# shares ('book': AdamW with a one-cycle schedule, batch 128), then trained
# again without its skip connections to see how the two start. What the skip
# connections do over a whole training is measured by the chapter's recorded
# experiment, on all the training images. Everything printed below was produced when this
# page was built.
#
# **Run it yourself.** Download this script (the button at the top of the
# page) and run `python resnet.py`: the full budget trains both networks for
# 10 epochs on all 55,000 training images, and the last cell prints the
# recorded result of the residual network's full run (or the command that
# records one; the script trains two networks, so it takes about twice as
# long as that command). `CNN_GUIDE_BUDGET=site` runs the short version shown
# here and `CNN_GUIDE_BUDGET=quick` a smoke test of a few steps on 640 images.
# The first cell prints the plan: this budget, the recipe, and the residual
# network's full run as a command line.

# %%
import cnn_guide

cnn_guide.import_tensorflow()  # first, so that TensorFlow starts without its start-up log lines

import time

import keras
import numpy as np

from cnn_guide import models
from cnn_guide.analysis import conv_params, layer_table
from cnn_guide.budget import plan_example
from cnn_guide.data import load_fashion_mnist
from cnn_guide.diagrams import draw_model
from cnn_guide.layers import BottleneckResidualUnit
from cnn_guide.plotting import plot_comparison, plot_history, show
from cnn_guide.training import StepHistory, fit

# Two trainings share the site budget: 25 steps of 128 images per epoch, each.
plan = plan_example("resnet_fashion", site_epochs=2, site_train_size=3_200)
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
# ## The bottleneck unit, computed
#
# ResNet-50 and its deeper siblings replace the basic unit (two 3x3
# convolutions) with a bottleneck: a 1x1 convolution reduces the channels, a
# 3x3 works on the reduced width, a 1x1 expands back. On a 256-channel input
# with a 64-channel bottleneck (the second and third units of ResNet-50's
# first stage), the weights of each choice, without biases as in the paper:

# %%
channels, width = 256, 64
bottleneck = {
    "1x1 reduce": conv_params(1, channels, width, bias=False),
    "3x3": conv_params(3, width, width, bias=False),
    "1x1 expand": conv_params(1, width, channels, bias=False),
}
two_3x3_wide = 2 * conv_params(3, channels, channels, bias=False)
two_3x3_narrow = 2 * conv_params(3, width, width, bias=False)
for name, weights in bottleneck.items():
    print(f"  bottleneck {name:<11} {weights:>9,}")
print(f"bottleneck unit, 256-d in and out:    {sum(bottleneck.values()):>9,} weights")
print(f"two 3x3 convolutions at 256 channels: {two_3x3_wide:>9,} weights")
print(f"two 3x3 convolutions at 64 channels:  {two_3x3_narrow:>9,} weights (basic unit, stage 2)")
print(
    f"The bottleneck is {two_3x3_wide / sum(bottleneck.values()):.1f}x cheaper than two wide 3x3."
)

# %% [markdown]
# The same unit inside the paper configuration: `resnet50` built at
# 224x224x3. Each `BottleneckResidualUnit` is one layer of the model; its
# convolution kernels are its weights named `.../kernel` (the others belong to
# batch normalization). The total is the figure the test suite checks against
# the book's [reference figures](../../chapters/reference-figures/).

# %%
resnet50 = models.build("resnet50")
unit = resnet50.get_layer("conv2_block2")
kernels = {w.path: int(np.prod(w.shape)) for w in unit.weights if w.path.endswith("kernel")}
for path, count in kernels.items():
    print(f"{path:<32} {count:>7,}")
print(f"{'conv2_block2 kernels':<32} {sum(kernels.values()):>7,}")
trainable = sum(int(np.prod(w.shape)) for w in resnet50.trainable_weights)
print(f"resnet50: {trainable:,} trainable parameters ({resnet50.count_params():,} in all)")

# %% [markdown]
# ## The Fashion-MNIST model
#
# A 3x3 stem with 16 filters, then three stages of two basic units with 16,
# 32 and 64 filters (28x28, 14x14, 7x7), global average pooling and a 10-way
# softmax: the paper's CIFAR-10 design with $n = 2$, $6n + 2 = 14$ layers.

# %%
keras.utils.set_random_seed(plan.recipe.seed)  # the initial weights; fit() seeds the rest
model = models.build("resnet_fashion")
model.summary()

# %% [markdown]
# The per-layer table: every `conv*_block*` row is one residual unit, and
# each adds 4 input pixels times the jump to the receptive field (two 3x3
# convolutions). The first units of stages 3 and 4 halve the map and double
# the channels, so their shortcut is a projection (a strided 1x1 convolution
# and a batch normalization, the paper's option B); every other shortcut is
# the identity and has no parameters.

# %%
print(layer_table(model))

# %% [markdown]
# ## Training the residual network
#
# The same recipe in every architecture chapter, so results compare: the
# book recipe, 'book' (printed in the first cell): AdamW with a one-cycle
# learning-rate schedule peaking at 0.004, weight decay 5e-4, label smoothing
# 0.1, batch size 128, batch-norm statistics recomputed before every
# evaluation, one validation pass per epoch, every random choice seeded. A
# `StepHistory` callback records the training loss of every step, for the
# comparison below.

# %%
residual_steps = StepHistory()
result = fit(model, data, plan.recipe, callbacks=[residual_steps], verbose=2)
print(result.describe())

# %%
show(plot_history(result.history), "learning_curves")

# %% [markdown]
# ## The same network without skip connections
#
# `skip_connections=False` builds the plain counterpart: the same
# convolutions, batch normalizations and ReLUs, with no shortcut at all. Only
# the two projections disappear from the parameter count. It is trained with
# exactly the same recipe, data order and seed.

# %%
keras.utils.set_random_seed(plan.recipe.seed)
plain = models.build("resnet_fashion", skip_connections=False, name="plain_fashion")
print(
    f"plain: {plain.count_params():,} parameters, residual: {model.count_params():,} "
    f"(the difference, {model.count_params() - plain.count_params():,}, is the two projections)"
)
plain_steps = StepHistory()
plain_result = fit(plain, data, plan.recipe, callbacks=[plain_steps], verbose=2)
print(plain_result.describe())

# %% [markdown]
# ## What the skip connections change
#
# The training loss of every step of both runs, smoothed over a few steps
# (single batches are noisy): same layers, same data, same seed; the only
# difference is the shortcuts. This is the setting of the paper's experiment
# (its Figure 4 and Table 2 compare plain and residual networks of the same
# depth), but not its scale: on this page each network trains for a few dozen
# steps on a few thousand images, one seed each. A run that short shows how
# the two networks start; it cannot show what the skip connections do to
# training, and a gap between two single runs may be no larger than the
# difference between two seeds. The chapter's recorded experiment ("The
# experiment" in the [chapter](../../chapters/resnet/))
# trains plain and residual networks of 20 and 56 layers (at half this
# variant's widths) on all the training images, five seeds each: that is where
# the effect is measured, and where the reading says whether the seeds can
# tell it.

# %%
curves = {
    "with skip connections (residual)": residual_steps.loss,
    "without skip connections (plain)": plain_steps.loss,
}
steps = len(residual_steps.loss)
show(
    plot_comparison(
        curves,
        xlabel="training step",
        ylabel="training loss",
        smoothing=max(1, steps // 10),
        title="resnet_fashion, 14 layers, with and without skip connections",
    ),
    "skip_connections",
)

# %% [markdown]
# The same comparison in numbers: the mean training loss over each fifth of
# the run, then the test accuracy of both networks after this short run.
#
# Where the residual curve starts *above* the plain one, initialization is
# the cause, not learning: each residual unit adds its branch, which ends in a
# batch normalization of unit variance, to its input, so at the start the
# activations grow from unit to unit, and the untrained classifier's outputs
# grow with them into confident, mostly wrong guesses; a plain unit ends in
# that batch normalization and keeps the scale. (Goyal et al. 2017 start each
# branch's last batch normalization at zero scale, so that every unit begins
# as the identity.)

# %%
residual_loss, plain_loss = np.asarray(residual_steps.loss), np.asarray(plain_steps.loss)
print(f"{'steps':>9}  {'residual':>8}  {'plain':>8}  {'plain - residual':>16}")
for part in np.array_split(np.arange(steps), 5):
    r, p = residual_loss[part].mean(), plain_loss[part].mean()
    print(f"{part[0] + 1:>4}-{part[-1] + 1:<4}  {r:8.3f}  {p:8.3f}  {p - r:+16.3f}")
ahead = int((plain_loss > residual_loss).sum())
print(f"The residual network's loss was the lower one in {ahead} of {steps} steps.")
print(
    f"Test accuracy: residual {result.test_accuracy:.4f}, plain {plain_result.test_accuracy:.4f} "
    f"(on {len(data.x_test):,} test images)."
)

# %% [markdown]
# What the paper found at this depth: with batch normalization a plain
# network of this size still trains, and the 18-layer plain and residual
# networks reach almost the same ImageNet error (27.94% and 27.88% top-1,
# Table 2), but the residual one converges faster early on (section 4.1).
# The gap grows with depth: plain-34 ends worse than plain-18, ResNet-34
# better than ResNet-18. The degradation problem itself needs more depth
# than this page's 14 layers and a full training. Rerunning this comparison
# with `blocks_per_stage=9` for both models (the paper's 56-layer CIFAR-10
# networks), at 4.8 times the multiply-accumulates per image, would still
# be a short run; the chapter's recorded experiment compares 20 and 56
# layers (`blocks_per_stage=3` and `9`), with and without skip connections,
# on all the training images, and
# `cnn-guide record --plan experiments --only resnet-degradation` re-records
# it.

# %% [markdown]
# ## Build it yourself
#
# Both residual units in plain Keras, with the functional API. `conv_bn` is
# one convolution without bias followed by batch normalization (momentum 0.9
# and $\epsilon = 10^{-5}$, the package's defaults); a strided 3x3
# convolution is padded symmetrically first, as in the paper's code (Keras'
# `padding="same"` would pad more at the bottom and right). `shortcut` is
# the identity where the unit keeps the shape and a 1x1 projection where it
# does not (option B).


# %%
# --8<-- [start:block]
def conv_bn(x, filters, size, stride=1, name="conv"):
    """A convolution without bias, then batch normalization."""
    padding = "same"
    if stride > 1 and size > 1:  # pad symmetrically, then convolve without padding
        x = keras.layers.ZeroPadding2D(size // 2, name=f"{name}_pad")(x)
        padding = "valid"
    x = keras.layers.Conv2D(
        filters, size, strides=stride, padding=padding, use_bias=False, name=f"{name}_conv"
    )(x)
    return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{name}_bn")(x)


def shortcut(x, channels, stride):
    """The identity where the shape is kept, else a strided 1x1 projection."""
    if stride == 1 and x.shape[-1] == channels:
        return x
    return conv_bn(x, channels, 1, stride, name="shortcut")


def my_basic_unit(x, filters, stride=1):
    """Two 3x3 convolutions; relu(F(x) + shortcut(x))."""
    y = keras.layers.ReLU(name="branch1_relu")(conv_bn(x, filters, 3, stride, name="branch1"))
    y = conv_bn(y, filters, 3, name="branch2")
    y = keras.layers.Add(name="add")([y, shortcut(x, filters, stride)])
    return keras.layers.ReLU(name="out_relu")(y)


def my_bottleneck_unit(x, filters, stride=1, expansion=4):
    """1x1 reduce, 3x3 (with the stride), 1x1 expand to expansion * filters channels."""
    y = keras.layers.ReLU(name="branch1_relu")(conv_bn(x, filters, 1, name="branch1"))
    y = keras.layers.ReLU(name="branch2_relu")(conv_bn(y, filters, 3, stride, name="branch2"))
    y = conv_bn(y, expansion * filters, 1, name="branch3")
    y = keras.layers.Add(name="add")([y, shortcut(x, expansion * filters, stride)])
    return keras.layers.ReLU(name="out_relu")(y)


# --8<-- [end:block]


# %%
# --8<-- [start:diagram]
def as_model(unit, input_shape, **kwargs):
    """Wrap a unit in a keras.Model, to count, draw and call it."""
    inputs = keras.Input(input_shape, name="input")
    return keras.Model(inputs, unit(inputs, **kwargs), name=unit.__name__)


# The unit of the chapter's figure: ResNet-34's first stage.
basic = as_model(my_basic_unit, (56, 56, 64), filters=64)
show(draw_model(basic, title="my_basic_unit(x, 64)"), "basic_unit_diagram")
# --8<-- [end:diagram]

# %%
# ResNet-50's second unit, with a 64-channel bottleneck.
bottleneck = as_model(my_bottleneck_unit, (56, 56, 256), filters=64)
show(draw_model(bottleneck, title="my_bottleneck_unit(x, 64)"), "bottleneck_unit_diagram")
for unit_model in (basic, bottleneck):
    kernels = sum(layer.count_params() for layer in unit_model.layers if "conv" in layer.name)
    print(
        f"{unit_model.name}: {kernels:,} convolution weights, "
        f"{unit_model.count_params():,} parameters with the batch normalizations"
    )

# %% [markdown]
# The diagrams are drawn from the models themselves: the identity shortcut
# is the arc from the input to `add`. The bottleneck's 69,632 convolution
# weights are the sum computed at the top of this page.
#
# Do the functions agree with the package's units? The scratch layers are
# named like the units' sublayers (`branch1_conv`, `branch1_bn`, ...,
# `shortcut_conv`), which the units also hold as attributes, so the weights
# copy layer by layer. The basic unit is checked against the trained
# network's `conv3_block1`, which halves the map and doubles the channels,
# on the feature maps the trained network feeds it for 64 test images (its
# drawing shows the symmetric padding before the strided 3x3 and the
# projection shortcut beside the branch); the bottleneck against a new
# `BottleneckResidualUnit(16, stride=2)` on the same maps, in both modes of
# batch normalization.

# %%
feature_maps = keras.Model(model.input, model.get_layer("conv3_block1").input)(data.x_test[:64])


def check(scratch, unit, modes):
    """Copy the unit's weights into the scratch model; compare parameters and outputs."""
    for layer in scratch.layers:
        if layer.weights:
            layer.set_weights(getattr(unit, layer.name).get_weights())
    for mode in modes:
        ours = np.asarray(scratch(feature_maps, training=mode))
        diff = float(np.abs(ours - np.asarray(unit(feature_maps, training=mode))).max())
        print(
            f"{scratch.name}, training={mode}: parameters: {scratch.count_params():,} "
            f"(scratch) = {unit.count_params():,} (cnn_guide); largest difference after "
            f"copying the weights: {diff:.1e}"
        )
        assert scratch.count_params() == unit.count_params() and diff < 1e-5


basic_down = as_model(my_basic_unit, (28, 28, 16), filters=32, stride=2)
show(draw_model(basic_down, title="my_basic_unit(x, 32, stride=2)"), "projection_unit_diagram")
check(
    basic_down,
    model.get_layer("conv3_block1"),
    modes=[False],  # inference only: a training-mode call would move its running averages
)
package_bottleneck = BottleneckResidualUnit(16, stride=2)
package_bottleneck.build(feature_maps.shape)
check(
    as_model(my_bottleneck_unit, (28, 28, 16), filters=16, stride=2),
    package_bottleneck,
    modes=[True, False],
)

# %% [markdown]
# The package's `BasicResidualUnit` and `BottleneckResidualUnit` compute
# these functions and add what a library needs: each is one layer (one row
# of `summary()`) that saves and loads through `get_config`, checks its
# arguments, and has the options of the later chapters (`groups` and
# `width` for ResNeXt, `se_ratio` for SENet, `stride_in_1x1` for Keras'
# stride placement, `skip_connections=False` for the plain baseline).

# %% [markdown]
# ## The full run
#
# The short run above is what fits in a documentation build. The full
# budget's result for the residual network, recorded by the command it names
# on the machine it names:

# %%
plan.show_full_run(result)
