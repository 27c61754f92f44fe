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
# # Example: the simple CNN, trained
#
# The executed example of the chapter [A simple CNN](../../chapters/simple-cnn/):
# the seed notebook's network, trained with the seed's recipe (Nadam, batch 32)
# on the real Fashion-MNIST. Everything printed below was produced when this
# page was built.
#
# **Run it yourself.** Download this script (the button at the top of the
# page) and run `python simple_cnn.py`: the full budget is the seed's 10
# epochs on all 55,000 training images; its recorded accuracy and time (or
# the command that records them) are printed at the end of this page.
# `CNN_GUIDE_BUDGET=site` runs the short version shown here and
# `CNN_GUIDE_BUDGET=quick` a smoke test of a few steps on 640 images. The
# first cell prints the plan: this budget, the seed's recipe, and the same
# full run as a command line.

# %%
import cnn_guide

cnn_guide.import_tensorflow()  # first, so that TensorFlow starts without its start-up log lines

import time

import keras
import numpy as np

from cnn_guide import models
from cnn_guide.budget import plan_example
from cnn_guide.data import load_fashion_mnist
from cnn_guide.plotting import plot_confusion_matrix, plot_history, plot_samples, show
from cnn_guide.training import fit

plan = plan_example("simple_cnn", site_epochs=2, site_train_size=6_000)
print(plan.describe())

# %% [markdown]
# ## The data
#
# 55,000 training images, 5,000 validation images (the first 5,000 of the
# original training set) and the 10,000 test images, each 28x28 pixels with
# one channel, scaled to $[0, 1]$.

# %%
start = time.perf_counter()
data = load_fashion_mnist()
print(
    f"Loaded and verified Fashion-MNIST from {data.source} in {time.perf_counter() - start:.2f} s."
)
data = plan.apply(data)
print(plan.expected_time(data))
for split, images in [("train", data.x_train), ("valid", data.x_valid), ("test", data.x_test)]:
    print(f"{split:>5}: {images.shape[0]:>6,} images of shape {images.shape[1:]}")

# %%
show(plot_samples(data.x_train, data.y_train, data.class_names), "samples")

# %% [markdown]
# ## The model
#
# A 7x7 convolution on the one-channel input, then two pairs of 3x3
# convolutions; max pooling halves the map after each stage while the filters
# double, 64, 128, 256. The dense head ends in a 10-way softmax.

# %%
keras.utils.set_random_seed(plan.recipe.seed)  # the initial weights; fit() seeds the rest
model = models.build("simple_cnn")
model.summary()

# %% [markdown]
# ## Where the parameters and the compute are
#
# [`cnn_guide.analysis.layer_table`](../../reference/cnn_guide/analysis/)
# counts, layer by layer, the parameters, the multiply-accumulates (MACs) per
# image and the receptive field (RF: how many input pixels one output value
# sees, with the jump between neighbouring outputs). Note that `conv2b` and
# `conv3b` cost the same MACs (halved map, doubled filters), and that `fc1`
# holds a fifth of the parameters for almost no compute.

# %%
from cnn_guide.analysis import conv_macs, conv_params, layer_table, stack_receptive_field

print(layer_table(model))

# %% [markdown]
# The chapter's worked comparison, computed: one 5x5 convolution against two
# stacked 3x3 ones, 128 channels in and out, on the 14x14 map of the second
# stage.

# %%
channels, side = 128, 14
for label, kernels in [("one 5x5", [5]), ("two 3x3", [3, 3])]:
    weights = sum(conv_params(k, channels, channels, bias=False) for k in kernels)
    macs = sum(conv_macs(side, side, k, channels, channels) for k in kernels)
    field, _ = stack_receptive_field([(k, 1) for k in kernels])
    print(
        f"{label}: {weights:>7,} weights, {macs / 1e6:5.1f}M MACs, receptive field {field}x{field}"
    )

# %% [markdown]
# ## Build it yourself
#
# The whole network in plain Keras, one line per layer of the chapter's
# diagram, written as a function from a tensor to a tensor. Every
# convolution has `"same"` padding and a ReLU; each 2x2 max pooling halves
# the map; the head flattens, then two dense layers with dropout.


# %%
# --8<-- [start:block]
def my_simple_cnn(x, num_classes=10, dropout=0.5):
    """Conv 7x7 (64), then two pairs of 3x3 convolutions (128, 256); a dense head."""
    x = keras.layers.Conv2D(64, 7, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(128, 3, padding="same", activation="relu", name="conv2a")(x)
    x = keras.layers.Conv2D(128, 3, padding="same", activation="relu", name="conv2b")(x)
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)
    x = keras.layers.Conv2D(256, 3, padding="same", activation="relu", name="conv3a")(x)
    x = keras.layers.Conv2D(256, 3, padding="same", activation="relu", name="conv3b")(x)
    x = keras.layers.MaxPooling2D(2, name="pool3")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(128, activation="relu", name="fc1")(x)
    x = keras.layers.Dropout(dropout, name="dropout1")(x)
    x = keras.layers.Dense(64, activation="relu", name="fc2")(x)
    x = keras.layers.Dropout(dropout, name="dropout2")(x)
    return keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)


# --8<-- [end:block]


# %%
# --8<-- [start:diagram]
from cnn_guide.diagrams import draw_model

inputs = keras.Input((28, 28, 1), name="image")
scratch = keras.Model(inputs, my_simple_cnn(inputs), name="my_simple_cnn")
show(draw_model(scratch, title="The simple CNN, from scratch"), "simple_cnn_diagram")
# --8<-- [end:diagram]

# %% [markdown]
# Is it the same function as the package's `simple_cnn`? Both hold their
# weights in the same order (each convolution's and dense layer's kernel,
# then its bias), so `get_weights()` of one fits `set_weights()` of the
# other. After the copy, both must give the same class probabilities on real
# test images. In inference mode, that is: in training mode the two dropout
# layers zero different random halves of their inputs, the one thing the
# two networks may not share.

# %%
reference = models.build("simple_cnn")  # a fresh copy, whatever `model` above is
scratch.set_weights(reference.get_weights())
batch = data.x_test[:256]
diff = float(np.abs(np.asarray(scratch(batch)) - np.asarray(reference(batch))).max())
a, b = scratch.count_params(), reference.count_params()
print(
    f"parameters: {a:,} (scratch) = {b:,} (cnn_guide); "
    f"largest difference after copying the weights: {diff:.1e}"
)
assert a == b and diff < 1e-5

# %% [markdown]
# The package's builder differs only around the edges: He initialisation,
# checks on its arguments (input size, number of classes, dropout rate),
# `include_top` and `pooling` for use as a feature extractor, and a name in
# the registry for `fit` and the command line.

# %% [markdown]
# ## Training
#
# The seed notebook's recipe, 'seed' (printed in the first cell): Nadam with
# its default learning rate, batch size 32, and a validation pass after each
# epoch. The seed fixes every random choice, so the run is reproducible on a
# CPU. This is the one chapter that keeps its source's recipe; the
# architecture chapters train under the book recipe, 'book'.

# %%
result = fit(model, data, plan.recipe, verbose=2)
print(result.describe())

# %%
show(plot_history(result.history), "learning_curves")

# %% [markdown]
# ## Where it goes wrong
#
# The confusion matrix shows, for each true class (rows), how the test
# images were classified (columns). Look first at the upper-body garments
# (T-shirt/top, pullover, coat and shirt), whose outlines are alike at 28x28,
# and at trousers, bags, sandals and sneakers, whose shapes are their own. A
# run as short as this page's gives only a rough matrix; the full run's
# accuracy is printed at the end of the page.

# %%
predictions = result.model.predict(data.x_test, batch_size=256, verbose=0).argmax(axis=1)
show(plot_confusion_matrix(data.y_test, predictions, data.class_names), "confusion_matrix")

# %%
wrong = np.flatnonzero(predictions != data.y_test)
print(f"{len(wrong):,} of {len(data.y_test):,} test images misclassified; the first 16:")
show(
    plot_samples(
        data.x_test[wrong], data.y_test[wrong], data.class_names, predictions=predictions[wrong]
    ),
    "mistakes",
)

# %% [markdown]
# ## The full run
#
# The short run above is what fits in a documentation build. The full
# budget's result, recorded by the command it names on the machine it names:

# %%
plan.show_full_run(result)
