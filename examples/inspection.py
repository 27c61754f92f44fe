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
# # Example: inside the trained networks
#
# The executed example of the chapter
# [Inside a trained network](../../chapters/inspection/). It trains nothing:
# every network here carries the weights its **full run** kept (10 epochs of
# the book recipe on all 55,000 training images, or 20 for LeNet-5), read
# from the package's store of runs, and every table of the last part is
# counted from the test predictions those runs recorded. It shows, in order:
#
# 1. that the kept weights are the trained ones: they predict what the run recorded;
# 2. the first layer's filters;
# 3. one test image's feature maps at the end of each stage;
# 4. Grad-CAM written from scratch, checked against the package's `grad_cam`;
# 5. saliency, Grad-CAM and CAM on test images;
# 6. per-class accuracy and mistakes of every architecture, the images none
#    of them gets right, and a majority vote of them all.
#
# **Run it yourself.** Download this script (the button at the top of the
# page) and run `python inspection.py`: it takes about half a minute on a
# laptop CPU, most of it loading the networks. Its figures are saved to
# `./cnn_guide_output/`.

# %%
import cnn_guide

cnn_guide.import_tensorflow()  # first, so that TensorFlow starts without its start-up log lines

import keras
import numpy as np
import tensorflow as tf

from cnn_guide.budget import choose_budget
from cnn_guide.data import CLASS_NAMES, load_fashion_mnist
from cnn_guide.ensemble import agreement, full_run_predictions, per_class_accuracy
from cnn_guide.evidence import full_run
from cnn_guide.inspection import (
    class_activation_map,
    feature_maps,
    first_layer_filters,
    grad_cam,
    last_feature_layer,
    saliency,
    stage_outputs,
    trained_full_run,
)
from cnn_guide.inspection_plots import (
    plot_confusion_grid,
    plot_filters,
    plot_heat_maps,
    plot_per_class_accuracy,
)
from cnn_guide.plotting import plot_feature_maps, plot_samples, show
from cnn_guide.results import load_predictions
from cnn_guide.training import evaluate

# The budget only matters to pages that train; this one trains nothing at any budget.
print(choose_budget(site_epochs=1, full_epochs=1).describe())
data = load_fashion_mnist()
print(f"{len(data.x_test):,} test images of {data.x_test.shape[1:]}")

# %% [markdown]
# ## The kept weights are the trained ones
#
# `trained_full_run(name)` builds the network as its full run built it and
# loads the weights the run kept (`*.weights.h5` in the store, weights only,
# without the optimizer's state). If those are the trained weights, the network
# predicts, image for image, the classes the run recorded when it ended. The
# first 1,000 test images make the check:

# %%
networks = {
    name: trained_full_run(name)
    for name in ("lenet5_fashion", "alexnet_fashion", "resnet_fashion", "nin_fashion")
}
sample = slice(0, 1000)
for name, model in networks.items():
    recorded = load_predictions(full_run(name))[sample]
    now = evaluate(model, data.x_test[sample], data.y_test[sample]).predictions
    print(f"{name:16s} {np.mean(now == recorded):.1%} of its recorded predictions")
    assert np.array_equal(now, recorded), name

# %% [markdown]
# ## What the first layer looks for
#
# The first convolution is the only layer that sees pixels, so its kernels can
# be drawn as images. LeNet-5 has six 5x5 filters; the AlexNet variant has
# 32 5x5 filters. Light cells weight a pixel up, dark ones down. Some are
# edges or bars at an orientation, like the ImageNet filters of AlexNet's
# paper; trained on 28x28 grayscale garments, many have no pattern a person
# would name.

# %%
for name in ("lenet5_fashion", "alexnet_fashion"):
    kernels = first_layer_filters(networks[name])
    print(f"{name}: first-layer kernels of shape {kernels.shape} (height, width, in, out)")
    show(plot_filters(kernels, columns=16, title=f"{name}: first-layer filters"), f"filters_{name}")

# %% [markdown]
# ## One image through each stage
#
# `stage_outputs` finds the last layer before each change of resolution;
# `feature_maps` reads one image's activations there. Early maps still look
# like the garment, filtered; later ones are coarse, and each channel lights
# up for a part or a texture rather than an outline.

# %%
resnet = networks["resnet_fashion"]
image = data.x_test[0]
print(f"test image 0: {CLASS_NAMES[data.y_test[0]]}")
for layer, maps in feature_maps(resnet, image, stage_outputs(resnet)).items():
    print(f"{layer:14s} {maps.shape}")
    title = f"resnet_fashion, {layer}: first 8 of {maps.shape[-1]} channels"
    show(plot_feature_maps(maps[..., :8], title=title), f"maps_{layer}")

# %% [markdown]
# ## Grad-CAM from scratch
#
# Grad-CAM explains one class score $y^c$ (before the softmax) by the last
# feature map $A$: each channel $k$ gets the mean gradient of the score over
# the map's positions, and the map is the positive part of the weighted sum,
#
# $$\alpha_k^c = \frac{1}{HW} \sum_{i,j} \frac{\partial y^c}{\partial A^k_{ij}}, \qquad
#   L^c = \mathrm{ReLU}\Big(\sum_k \alpha_k^c A^k\Big),$$
#
# upsampled to the image. In the book's networks the blocks are layers, so
# the map is the output of the last layer with a 4-D output
# (`last_feature_layer`). Written out with a gradient tape:


# %%
# --8<-- [start:gradcam]
def my_grad_cam(model, images, layer_name):
    """Grad-CAM of each image's predicted class, scaled to [0, 1]."""
    dense = model.layers[-1]  # the softmax classifier: scores are its pre-activations
    probe = keras.Model(model.inputs[0], [model.get_layer(layer_name).output, dense.input])
    with tf.GradientTape() as tape:
        maps, features = probe(images, training=False)
        scores = features @ dense.kernel + dense.bias  # class scores before the softmax
        picked = tf.reduce_max(scores, axis=-1)  # each image's top class score
    weights = tf.reduce_mean(tape.gradient(picked, maps), axis=(1, 2), keepdims=True)
    heat = tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1))
    heat = tf.image.resize(heat[..., None], images.shape[1:3])[..., 0]
    peak = tf.reduce_max(heat, axis=(1, 2), keepdims=True)
    return (heat / tf.where(peak > 0, peak, 1.0)).numpy()


# --8<-- [end:gradcam]


images = data.x_test[:8]
layer = last_feature_layer(resnet).name
mine, package = my_grad_cam(resnet, images, layer), grad_cam(resnet, images)
difference = float(np.max(np.abs(mine - package)))
print(f"Grad-CAM of resnet_fashion at {layer!r}: largest difference {difference:.1e}")
assert difference < 1e-5

# %% [markdown]
# ## Where the networks look
#
# Saliency is the largest absolute gradient of the class score over each
# pixel's channels; Grad-CAM, above, is coarser (a 7x7 map upsampled) but
# follows the object's parts. Network in Network ends in global average
# pooling over one map per class, so its class activation map (CAM) is that
# class's own map, read directly. Each column is titled with the true class
# and, where it differs, the prediction.

# %%
labels = data.y_test[:8]
predicted = evaluate(resnet, images, labels).predictions
titles = [
    CLASS_NAMES[truth] if guess == truth else f"{CLASS_NAMES[guess]}\n(is {CLASS_NAMES[truth]})"
    for truth, guess in zip(labels, predicted, strict=True)
]
heat = {"saliency": saliency(resnet, images), "Grad-CAM": package}
show(plot_heat_maps(images, heat, titles=titles), "resnet_heat_maps")

nin = networks["nin_fashion"]
heat = {"NiN CAM": class_activation_map(nin, images), "NiN Grad-CAM": grad_cam(nin, images)}
show(plot_heat_maps(images, heat, titles=titles), "nin_heat_maps")

# %% [markdown]
# Asking for a class that does not exist, or for a Grad-CAM of a network
# without a feature map, gets an error that says what went wrong:

# %%
mlp = keras.Sequential(
    [
        keras.Input((28, 28, 1)),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ],
    name="mlp",
)
for attempt in (lambda: grad_cam(resnet, images, class_index=10), lambda: grad_cam(mlp, images)):
    try:
        attempt()
    except ValueError as error:
        print(f"ValueError: {error}")

# %% [markdown]
# ## What every architecture gets right and wrong
#
# From here on, nothing runs a network: each full run recorded the class it
# predicted for every test image, and `full_run_predictions` collects them.
# The table shades each network's accuracy on each class; the small matrices
# count each network's mistakes, true class by row, on one colour scale.

# %%
runs = full_run_predictions()
print(
    f"{len(runs.names)} full runs kept their predictions; not yet: {', '.join(runs.missing) or '-'}"
)
by_class = per_class_accuracy(runs.predictions, runs.labels)
show(plot_per_class_accuracy(runs.names, by_class), "per_class_accuracy")
show(plot_confusion_grid(runs.names, runs.predictions, runs.labels), "confusion_grid")

hardest = int(np.argmin(by_class.mean(axis=0)))
taken_for = np.bincount(runs.predictions[:, runs.labels == hardest].ravel(), minlength=10)
taken_for[hardest] = 0
top = np.argsort(-taken_for)[:3]
print(
    f"Hardest class for every network on average: {CLASS_NAMES[hardest]} "
    f"({by_class[:, hardest].min():.0%} to {by_class[:, hardest].max():.0%} right), "
    f"taken most often for {', '.join(CLASS_NAMES[i] for i in top)}"
)

# %% [markdown]
# ## The images no network gets right, and a vote
#
# `agreement` counts the images each network alone gets right and those that
# all of them get wrong, and takes a majority vote of all the networks (a
# tie goes to the most accurate network among the tied classes). Many of the
# images every network misses are ambiguous even to a person, and some look
# mislabelled; below, titled with the vote's class and, under it, the label.

# %%
together = agreement(runs)
for name, count in together.uniquely_right.items():
    print(
        f"{name:22s} test accuracy {runs.accuracies[runs.names.index(name)]:.4f}, "
        f"{count:3d} images only it gets right"
    )
low, high = together.vote_interval
print(
    f"\nMajority vote: {together.vote_accuracy:.4f} [{low:.4f}, {high:.4f}], "
    f"best single network {together.best}: {together.best_accuracy:.4f}, "
    f"McNemar p = {together.against_best.p_value:.2g}"
)
print(f"Test images every network gets wrong: {len(together.missed_by_all)}")
missed = together.missed_by_all[:16]
show(
    plot_samples(
        data.x_test[missed], runs.labels[missed], CLASS_NAMES, predictions=together.vote[missed]
    ),
    "missed_by_all",
)
