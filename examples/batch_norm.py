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
# # Example: batch normalization, with and without
#
# The executed example of the chapter
# [Batch normalization](../../chapters/batch-norm/): the same plain CNN of
# eight 3x3 convolutions, built twice (once with a batch normalization after
# every convolution), trained with the same recipe at the same high learning
# rate on the real Fashion-MNIST. The example compares their training loss
# step by step, looks at the activations inside both networks, and checks
# that at inference a convolution followed by batch normalization is one
# convolution. Everything printed below was produced when this page was built.
#
# **Run it yourself.** Download this script (the button at the top of the
# page) and run `python batch_norm.py`: the full budget trains both networks
# for 10 epochs on all 55,000 training images. `CNN_GUIDE_BUDGET=site` runs
# the short version shown here and `CNN_GUIDE_BUDGET=quick` a smoke test of
# a few steps on 640 images. The two networks are built in this script, not
# registered in `cnn_guide.models`, so there is no `cnn-guide train` command
# for them: the script is the full run.

# %%
import cnn_guide

cnn_guide.import_tensorflow()  # first, so that TensorFlow starts without its start-up log lines

import time

start = time.perf_counter()  # the page's own run time, printed at the end

import keras
import matplotlib.pyplot as plt
import numpy as np

from cnn_guide.analysis import layer_table
from cnn_guide.budget import choose_budget
from cnn_guide.data import load_fashion_mnist
from cnn_guide.diagrams import draw_model
from cnn_guide.plotting import book_style, plot_comparison, show
from cnn_guide.recipes import get_recipe
from cnn_guide.training import StepHistory, fit

# The full run, what `python batch_norm.py` trains: both networks under this recipe.
FULL_RUN = get_recipe(
    "protocol",
    summary="the plain baseline recipe with SGD at a high learning rate instead of Adam",
    optimizer="sgd",
    momentum=0.9,
    learning_rate=0.1,
    epochs=10,
)
budget = choose_budget(site_epochs=1, site_train_size=10_000, full_epochs=FULL_RUN.epochs)
recipe = FULL_RUN.replace(epochs=budget.epochs)  # the same recipe at this budget's epochs
print(budget.describe())
print(f"Recipe {recipe.describe()}")
data = budget.apply(load_fashion_mnist())

# %% [markdown]
# ## Two networks that differ only by batch normalization
#
# One convolution at 28x28 with 32 filters, three at 14x14 with 32, four at
# 7x7 with 64, a 2x2 max pooling between the stages, then global average
# pooling and a softmax classifier: eight convolutions deep, no shortcuts. The
# batch-normalized version inserts `BatchNormalization` between every
# convolution and its ReLU, and drops the convolution's bias, which the
# normalization would subtract anyway (its $\beta$ takes the bias's place).
#
# Both use He initialization (`he_normal`, the scale designed for ReLU
# networks) so that the plain network does not start at a disadvantage, and a
# batch normalization momentum of 0.9 (PyTorch's default; Keras' own 0.99
# averages over about a hundred steps, more than the short runs on this page
# have).

# %%
STAGES = [(32, 1), (32, 3), (64, 4)]  # (filters, convolutions) at 28x28, 14x14, 7x7


def plain_cnn(batch_norm: bool, name: str) -> keras.Model:
    """Eight 3x3 convolutions, optionally each followed by batch normalization."""
    inputs = keras.Input((28, 28, 1), name="image")
    x, index = inputs, 0
    for stage, (filters, convolutions) in enumerate(STAGES):
        if stage > 0:
            x = keras.layers.MaxPooling2D(2, name=f"pool{stage}")(x)
        for _ in range(convolutions):
            index += 1
            x = keras.layers.Conv2D(
                filters,
                3,
                padding="same",
                use_bias=not batch_norm,  # BN's beta replaces the bias
                kernel_initializer="he_normal",
                name=f"conv{index}",
            )(x)
            if batch_norm:
                x = keras.layers.BatchNormalization(momentum=0.9, name=f"bn{index}")(x)
            x = keras.layers.ReLU(name=f"relu{index}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name=name)


keras.utils.set_random_seed(42)
plain = plain_cnn(batch_norm=False, name="plain")
keras.utils.set_random_seed(42)
normalized = plain_cnn(batch_norm=True, name="with_bn")
print(layer_table(normalized))

# %% [markdown]
# Each `BatchNormalization` over $C$ channels holds $4C$ numbers: a scale
# $\gamma$ and a shift $\beta$ per channel, learned by gradient descent, and a
# running mean and variance per channel, updated during training by a moving
# average and used at inference (the table's non-trainable parameters).

# %%
bn_layers = [
    layer for layer in normalized.layers if isinstance(layer, keras.layers.BatchNormalization)
]
bn_params = sum(layer.count_params() for layer in bn_layers)
channels = sum(layer.gamma.shape[0] for layer in bn_layers)
dropped_biases = channels  # one bias per output channel of each convolution
print(
    f"{len(bn_layers)} BN layers over {channels} channels: {bn_params:,} = 4 x {channels} numbers,"
)
print(f"{2 * channels:,} trainable (gamma, beta), {2 * channels:,} not (running mean, variance)")
print(
    f"plain: {plain.count_params():,} parameters; with BN: {normalized.count_params():,} "
    f"= plain - {dropped_biases} conv biases + {bn_params:,} BN numbers"
)

# %% [markdown]
# ## Activations inside the networks
#
# The idea of batch normalization is to fix the mean and the spread of every
# layer's inputs. The mean and standard deviation of each ReLU's output, over
# a batch of 512 real validation images, taken now (at initialization) and
# again after training. They are computed in training mode, with each batch
# normalization using the batch's own statistics, as the optimizer sees them.

# %%
probe = data.x_valid[:512]


def activation_stats(model: keras.Model) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of every ReLU's output on the probe batch."""
    relus = [layer.output for layer in model.layers if isinstance(layer, keras.layers.ReLU)]
    outputs = keras.Model(model.input, relus)(probe, training=True)
    return np.array([float(keras.ops.mean(a)) for a in outputs]), np.array(
        [float(keras.ops.std(a)) for a in outputs]
    )


stats = {
    ("plain", "initialization"): activation_stats(plain),
    ("with BN", "initialization"): activation_stats(normalized),
}

# %% [markdown]
# ## Training both with the same recipe
#
# The recipe printed in the first cell: the book's plain baseline, 'protocol',
# with SGD in place of Adam, momentum 0.9 and a learning rate of 0.1, batch
# 128, the same
# seed for the same order of batches (and the same initial convolution kernels,
# drawn above with the same seed). A high learning rate is what batch
# normalization promised to allow. (The book's other chapters train with the
# book recipe, whose optimizer, AdamW, has per-weight step sizes that already
# compensate for badly scaled gradients; plain SGD shows the difference more
# directly.)
# [`StepHistory`](../../reference/cnn_guide/training/#cnn_guide.training.StepHistory)
# records the training loss of every step, not only every epoch.

# %%
results, steps = {}, {}
for label, model in [("plain", plain), ("with BN", normalized)]:
    steps[label] = StepHistory()
    results[label] = fit(model, data, recipe, callbacks=[steps[label]], verbose=2)
    print(f"{label}: {results[label].describe()}")
    stats[(label, "training")] = activation_stats(model)

# %%
total_steps = len(steps["plain"].loss)
smoothing = max(2, total_steps // 20)  # moving-average window for the plot
show(
    plot_comparison(
        {label: history.loss for label, history in steps.items()},
        xlabel="training step",
        ylabel="training loss",
        smoothing=smoothing,
        title=(
            f"SGD, momentum {recipe.momentum:g}, learning rate {recipe.learning_rate:g} "
            f"(moving average of {smoothing})"
        ),
    ),
    "loss_per_step",
)
window = max(5, total_steps // 10)
for label, result in results.items():
    first = float(np.mean(steps[label].loss[:window]))
    last = float(np.mean(steps[label].loss[-window:]))
    print(
        f"{label:>7}: mean training loss {first:.3f} over the first {window} of {total_steps} "
        f"steps, {last:.3f} over the last {window}; validation accuracy "
        f"{result.history['val_accuracy'][-1]:.4f}, test accuracy {result.test_accuracy:.4f}"
    )

# %% [markdown]
# A loss of $\ln 10 \approx 2.303$ is a uniform guess over the ten classes: a
# network whose loss stays there has learned nothing. The validation and test
# accuracies use inference mode, in which each batch normalization applies
# its running averages instead of the batch's statistics; on a very short run
# those averages still lag behind the weights, so the normalized network can
# score lower there than its training loss suggests.
#
# One run per network, this short and at one learning rate, shows how the two
# losses move; it cannot show whether batch normalization makes a higher
# learning rate safe, which takes full runs at several rates and seeds. The
# chapter's recorded experiment does that ("The experiment"
# in the [chapter](../../chapters/batch-norm/)): `vgg_fashion` with and
# without batch normalization, under the book recipe at three peak learning
# rates, five seeds each.
#
# The activation statistics, at initialization and after training:

# %%
colors = {"plain": "#1f77b4", "with BN": "#ff7f0e"}  # as in the loss plot
with book_style():
    fig, axes = plt.subplots(2, 2, figsize=(8.0, 5.4), sharex=True, sharey="row")
    for column, when in enumerate(("initialization", "training")):
        for label in colors:
            for row, values in enumerate(stats[(label, when)]):
                axes[row, column].plot(
                    np.arange(1, 9), values, "o-", color=colors[label], label=label
                )
        axes[0, column].set_title("at initialization" if column == 0 else "after training")
        axes[1, column].set_xlabel("convolution (ReLU output)")
    axes[0, 0].set_ylabel("mean")
    axes[1, 0].set_ylabel("standard deviation")
    axes[0, 1].legend()
    fig.tight_layout()
show(fig, "activation_statistics")
for (label, when), (_, std) in stats.items():
    print(
        f"{label:>7}, {'at' if when == 'initialization' else 'after'} {when}: standard "
        f"deviation from {std.min():.3f} to {std.max():.3f} across the layers "
        f"(ratio {std.max() / std.min():.1f})"
    )

# %% [markdown]
# At initialization, He's scaling keeps the plain network's activations in a
# moderate range, though they wander from layer to layer. In the normalized
# network every convolution's output has, over the batch, mean 0 and variance
# 1 before its ReLU by construction ($\gamma = 1$, $\beta = 0$ at the start),
# so every ReLU output has the statistics of a rectified standard normal
# variable: mean $1/\sqrt{2\pi} \approx 0.40$ and standard deviation
# $\sqrt{1/2 - 1/(2\pi)} \approx 0.58$.
#
# Training then changes the weights of both. In the plain network a change
# in an early layer rescales everything after it, and the spread of the
# standard deviations across layers after training (printed above) measures
# how far that went. In the normalized network the scale of each layer is set
# by its own $\gamma$ and $\beta$ only. Keeping these distributions fixed is
# what the paper set out to do; whether that is *why* batch normalization
# helps is another question, discussed in the chapter.
#
# ## Training and inference modes
#
# In training mode a batch normalization uses the statistics of the current
# batch, so one image's output depends on the other images of its batch; in
# inference mode it uses the running averages, and each image is treated on
# its own (up to float32 rounding). The same image, alone and in a batch of 64:

# %%
image, batch = data.x_test[:1], data.x_test[:64]
for mode in (True, False):
    alone = normalized(image, training=mode).numpy()[0]
    in_batch = normalized(batch, training=mode).numpy()[0]
    print(
        f"training={mode!s:>5}: largest change of the image's class probabilities "
        f"between the two calls {np.abs(alone - in_batch).max():.2e}"
    )

# %% [markdown]
# ## Build it yourself
#
# Batch normalization written out as a Keras layer: four weights per channel
# (the learned $\gamma$ and $\beta$, and the running mean and variance, which
# only the training-mode call updates), and a `call` with the chapter's two
# modes. In training mode it normalizes with the batch's own mean and
# variance over every axis but the channels, and moves the running averages
# a fraction $1 - \alpha$ towards them; in inference mode it uses the running
# averages.


# %%
# --8<-- [start:block]
class MyBatchNormalization(keras.layers.Layer):
    """Batch normalization over the channels of (batch, height, width, channels) maps."""

    def __init__(self, momentum=0.99, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.momentum, self.epsilon = momentum, epsilon

    def build(self, input_shape):
        shape = (input_shape[-1],)  # one number per channel
        self.gamma = self.add_weight(shape=shape, initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=shape, initializer="zeros", name="beta")
        self.moving_mean = self.add_weight(
            shape=shape, initializer="zeros", trainable=False, name="moving_mean"
        )
        self.moving_variance = self.add_weight(
            shape=shape, initializer="ones", trainable=False, name="moving_variance"
        )

    def call(self, x, training=False):
        if training:  # the batch's statistics, then the running averages
            mean = keras.ops.mean(x, axis=(0, 1, 2))
            variance = keras.ops.var(x, axis=(0, 1, 2))
            a = self.momentum
            self.moving_mean.assign(a * self.moving_mean + (1 - a) * mean)
            self.moving_variance.assign(a * self.moving_variance + (1 - a) * variance)
        else:  # inference: the running averages, the same for every image
            mean, variance = self.moving_mean, self.moving_variance
        return self.gamma * (x - mean) / keras.ops.sqrt(variance + self.epsilon) + self.beta


def conv_bn_relu(norm, name):
    """The unit of the network above: a 3x3 convolution without bias, `norm`, a ReLU."""
    inputs = keras.Input((14, 14, 32), name="input")
    x = keras.layers.Conv2D(32, 3, padding="same", use_bias=False, name="conv")(inputs)
    outputs = keras.layers.ReLU(name="relu")(norm(x))
    return keras.Model(inputs, outputs, name=name)


# --8<-- [end:block]


# %%
# --8<-- [start:diagram]
scratch = conv_bn_relu(MyBatchNormalization(momentum=0.9, name="my_batch_norm"), "scratch")
show(draw_model(scratch, title="conv, MyBatchNormalization, ReLU"), "block_diagram")
# --8<-- [end:diagram]

# %% [markdown]
# The diagram is drawn from the model itself: the unit that every
# convolution of the normalized network above repeats, here with the
# from-scratch layer.
#
# The same unit with Keras' `BatchNormalization` gets the trained weights of
# the normalized network's second unit (`conv2` and `bn2`: the kernel, then
# $\gamma$, $\beta$, the running mean and variance, the order of both
# layers' weights), and ours gets a copy. Both run on the maps that the
# trained network feeds `conv2` for 256 validation images, first in training
# mode, which also updates both sets of running averages, then in inference
# mode:

# %%
reference = conv_bn_relu(keras.layers.BatchNormalization(momentum=0.9, name="bn"), "reference")
trained = [normalized.get_layer("conv2").kernel, *normalized.get_layer("bn2").weights]
reference.set_weights([np.asarray(w) for w in trained])
scratch.set_weights(reference.get_weights())
feature_maps = keras.Model(normalized.input, normalized.get_layer("pool1").output)(
    data.x_valid[:256]
)
ours_count, keras_count = scratch.count_params(), reference.count_params()
for mode in (True, False):
    ours = np.asarray(scratch(feature_maps, training=mode))
    diff = float(np.abs(ours - np.asarray(reference(feature_maps, training=mode))).max())
    print(
        f"training={mode!s:>5}: parameters: {ours_count:,} (scratch) = {keras_count:,} (Keras); "
        f"largest difference after copying the weights: {diff:.1e}"
    )
    assert ours_count == keras_count and diff < 1e-5
    if mode:  # the running averages, after one training-mode call
        moved = max(
            float(np.abs(x - y).max())
            for x, y in zip(scratch.get_weights(), reference.get_weights(), strict=True)
        )
        print(
            f"every weight after that call, running averages included: "
            f"largest difference {moved:.1e}"
        )
        assert moved < 1e-5

# %% [markdown]
# Keras' `BatchNormalization` computes this same function; it differs in
# options: any axis (`axis`), $\gamma$ or $\beta$ left out (`scale`,
# `center`), initializers, regularizers and constraints for each weight,
# statistics synchronized across devices (`synchronized`), masks, and a
# `get_config` for saving.

# %% [markdown]
# ## Folding batch normalization into the convolution
#
# At inference every number in a batch normalization is a constant, so it is
# an affine map per channel, $y = a x + b$ with
# $a = \gamma / \sqrt{\sigma^2 + \epsilon}$ and $b = \beta - a \mu$, and the
# convolution before it is linear: scaling the kernels of output channel $c$
# by $a_c$ and giving it the bias $b_c$ gives one convolution that does both.
# The trained normalized network, folded layer by layer into the plain
# architecture (which has exactly those biases), must give the same outputs:

# %%
folded = plain_cnn(batch_norm=False, name="folded")
for index in range(1, 9):
    (kernel,) = normalized.get_layer(f"conv{index}").get_weights()
    bn = normalized.get_layer(f"bn{index}")
    gamma, beta, mean, variance = bn.get_weights()
    scale = gamma / np.sqrt(variance + bn.epsilon)  # a, one per output channel
    folded.get_layer(f"conv{index}").set_weights([kernel * scale, beta - scale * mean])
folded.get_layer("classifier").set_weights(normalized.get_layer("classifier").get_weights())

test_images = data.x_test[:1000]
reference = normalized.predict(test_images, batch_size=250, verbose=0)
merged = folded.predict(test_images, batch_size=250, verbose=0)
print(
    f"on {len(test_images):,} test images: largest difference of a class probability "
    f"{np.abs(reference - merged).max():.2e}, same predicted class for "
    f"{np.mean(reference.argmax(1) == merged.argmax(1)):.1%} of them"
)
print(
    f"parameters: {normalized.count_params():,} in training, {folded.count_params():,} once folded"
)

# %% [markdown]
# The differences are float32 rounding: batch normalization costs nothing at
# inference once folded, which is why deployment tools (TensorFlow Lite, ONNX
# Runtime, TensorRT) do it automatically.
#
# ## Summary
#
# The two runs of this page side by side. There is no recorded full run to
# print: the two networks are not registered models, and the full budget is
# `python batch_norm.py` itself. Its time is estimated from the speed
# measured here (a one-epoch run includes the graph tracing, so the estimate
# errs high).

# %%
summary = ", ".join(
    f"{label} {result.test_accuracy:.4f} ({result.train_seconds:.0f} s of training)"
    for label, result in results.items()
)
print(
    f"Test accuracy after {budget.epochs} epoch(s) on {len(data.x_train):,} images at learning "
    f"rate {recipe.learning_rate:g}: {summary}; this page took {time.perf_counter() - start:.0f} s."
)
FULL_IMAGES = 55_000  # every training image
seconds = sum(
    result.train_seconds / (budget.epochs * len(data.x_train)) * FULL_RUN.epochs * FULL_IMAGES
    for result in results.values()
)
print(
    f"The full budget ({FULL_RUN.epochs:g} epochs on {FULL_IMAGES:,} images, both networks) takes "
    f"about {seconds / 60:.0f} min of training at this machine's measured speed."
)
