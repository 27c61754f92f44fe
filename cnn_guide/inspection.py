"""What a trained network sees: its filters, its feature maps and where it looks.

The functions here take any of the book's trained classifiers (a functional
Keras model ending in a softmax) and images shaped like its input:

* `first_layer_filters`: the kernels of the first convolution, the only ones
  that look at pixels directly;
* `stage_outputs` and `feature_maps`: one image's activations at the end of
  each stage, where the resolution is about to halve;
* `saliency`: the gradient of the class score with respect to each pixel
  (Simonyan, Vedaldi and Zisserman, 2014, "Deep Inside Convolutional
  Networks", https://arxiv.org/abs/1312.6034);
* `grad_cam`: the last feature map weighted by the class score's average
  gradient (Selvaraju et al., 2017, "Grad-CAM", https://arxiv.org/abs/1610.02391).
  The book's blocks are layers whose inner convolutions are not nodes of the
  model's graph, so Grad-CAM reads the last *layer* with a 4-D output;
* `class_activation_map`: for networks that end in global average pooling,
  the map the pooled features were averaged from, weighted by the classifier
  (Zhou et al., 2016, "Learning Deep Features for Discriminative
  Localization", https://arxiv.org/abs/1512.04150). Network in Network ends
  with one map per class and no dense layer: its CAM is the class's own map.

`trained_full_run` loads a full run's kept weights from the store of runs, so
that these figures come from fully trained networks. Chapter:
``docs/chapters/inspection.md``.

```python
from cnn_guide.data import load_fashion_mnist
from cnn_guide.inspection import grad_cam, trained_full_run

model = trained_full_run("resnet_fashion")
images = load_fashion_mnist().x_test[:4]
heat = grad_cam(model, images)  # (4, 28, 28), each map scaled to [0, 1]
```
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import keras
import numpy as np
import tensorflow as tf

if TYPE_CHECKING:
    from cnn_guide.runs import RunSpec

__all__ = [
    "class_activation_map",
    "class_score_model",
    "feature_maps",
    "first_layer_filters",
    "grad_cam",
    "last_feature_layer",
    "load_checked_weights",
    "saliency",
    "stage_outputs",
    "trained_flagship",
    "trained_full_run",
]


# --- Loading trained networks ------------------------------------------------------------


def load_checked_weights(model: keras.Model, file: str | os.PathLike) -> keras.Model:
    """Load a weights file into ``model``, or say clearly why it does not fit.

    Args:
        model: The network the weights were saved from, built the same way.
        file: A ``.weights.h5`` file written by ``model.save_weights``.

    Returns:
        ``model``, with the weights loaded.

    Raises:
        ValueError: If the file is missing or was saved from another network.
    """
    if not os.path.isfile(file):
        raise ValueError(f"no weights file at {file}; save one with model.save_weights({file!r}).")
    stored = _stored_arrays(file)
    problem = None
    if stored != len(model.weights):
        problem = f"the file holds {stored} arrays, the model {len(model.weights)}"
    else:
        # Keras only warns where part of a file finds no layer to load into.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model.load_weights(file)
            except (ValueError, KeyError, TypeError) as error:
                problem = _first_misfit(str(error))
        skipped = [str(item.message) for item in caught if "load" in str(item.message).lower()]
        problem = problem or (skipped[0].splitlines()[0] if skipped else None)
    if problem:
        raise ValueError(
            f"the weights in {file} do not fit the model {model.name!r} "
            f"({model.count_params():,} parameters): {problem}. Build the same network, "
            "with the same options, as the one the weights were saved from."
        )
    return model


_SHAPES = re.compile(
    r"variable\.shape=(?P<model>\([^)]*\)), Received: value\.shape=(?P<file>\([^)]*\))"
    r".*?Target variable: <Variable path=(?P<path>[^,]+)",
    re.DOTALL,
)


def _first_misfit(message: str) -> str:
    """Keras' loading error in one line: the first variable whose shape differs."""
    found = _SHAPES.search(message)
    if found is None:
        return message.splitlines()[0].rstrip(":")
    return (
        f"{found['path']} has shape {found['model']} in the model but {found['file']} in the file"
    )


def _stored_arrays(file: str | os.PathLike) -> int:
    """How many arrays a ``.weights.h5`` file holds."""
    import h5py

    count = 0

    def visit(_: str, item: object) -> None:
        nonlocal count
        count += isinstance(item, h5py.Dataset)

    try:
        with h5py.File(file, "r") as stored:
            stored.visititems(visit)
    except OSError as error:
        raise ValueError(
            f"{file} is not a weights file Keras wrote ({error}); save one with "
            "model.save_weights('NAME.weights.h5')."
        ) from None
    return count


def trained_full_run(name: str, path: str | os.PathLike | None = None) -> keras.Model:
    """A network of the book with the weights its full run kept.

    Args:
        name: A network with a full run (`cnn_guide.evidence.FULL_RUNS`),
            e.g. ``"resnet_fashion"``.
        path: The store of runs (default: the book's).

    Raises:
        ValueError: For a name without a full run, or a full run that kept no
            weights (the command that records them is in the message).
    """
    from cnn_guide.evidence import full_run

    spec = full_run(name)
    how = f"record it with `cnn-guide record --plan full --models {name}`"
    return _with_kept_weights(spec, f"the full run of {name}", how, path)


def trained_flagship(seed: int = 42, path: str | os.PathLike | None = None) -> keras.Model:
    """The book's flagship (`cnn_guide.flagship`) with the weights one of its seeds kept.

    Args:
        seed: One of `cnn_guide.flagship.FLAGSHIP_SEEDS`; 42 is the chosen
            candidate's own run.
        path: The store of runs (default: the book's).

    Raises:
        ValueError: Before the flagship is chosen, for a seed it does not
            train, or for a run that kept no weights yet.
    """
    from cnn_guide.flagship import FLAGSHIP_SEEDS, choose

    if seed not in FLAGSHIP_SEEDS:
        raise ValueError(
            f"the flagship trains with seeds {', '.join(map(str, FLAGSHIP_SEEDS))}, not {seed}."
        )
    chosen = choose(path)
    how = "record it with `cnn-guide record --plan flagship`"
    if chosen is None:
        raise ValueError(f"the flagship is not chosen yet: its candidates are missing; {how}.")
    return _with_kept_weights(chosen.run(seed), f"the flagship's seed {seed}", how, path)


def _with_kept_weights(
    spec: RunSpec, what: str, how: str, path: str | os.PathLike | None
) -> keras.Model:
    """The network of a recorded run, with the weights it kept."""
    from cnn_guide.results import weights_file
    from cnn_guide.training import build_model

    file = weights_file(spec, path)
    if not file.is_file():
        raise ValueError(f"{what} kept no weights yet ({file.name} is missing); {how}.")
    return load_checked_weights(build_model(spec.build_model()), file)


# --- Filters and feature maps ------------------------------------------------------------


def first_layer_filters(model: keras.Model) -> np.ndarray:
    """The kernels of the model's first convolution, as ``(height, width, in, out)``.

    The first weight of four dimensions in layer order, so a convolution inside
    one of the book's block layers counts too.

    Raises:
        ValueError: If the model has no convolution.
    """
    for layer in model.layers:
        for weight in layer.weights:
            if len(weight.shape) == 4:
                return np.asarray(weight.numpy(), dtype=np.float32)
    raise ValueError(
        f"{model.name} has no convolution (no 4-D kernel among its weights); "
        "its first layer's filters exist only for convolutional networks."
    )


def _feature_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers whose output is a single 4-D map, in graph order, inputs excluded."""
    chosen = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        output = layer.output
        if not isinstance(output, list | tuple) and len(output.shape) == 4:
            chosen.append(layer)
    return chosen


def _need_feature_layers(model: keras.Model, what: str) -> list[keras.layers.Layer]:
    layers = _feature_layers(model)
    if not layers:
        raise ValueError(
            f"{model.name} has no layer with a 4-D (batch, height, width, channels) output: "
            f"{what} needs a convolutional feature map. Use a convolutional network."
        )
    return layers


def stage_outputs(model: keras.Model) -> list[keras.layers.Layer]:
    """The last layer of each stage: where the next layer changes the map's resolution.

    Raises:
        ValueError: If no layer outputs a 4-D feature map.
    """
    layers = _need_feature_layers(model, "a stage")
    stages = []
    for layer, following in zip(layers, [*layers[1:], None], strict=True):
        if following is None or following.output.shape[1:3] != layer.output.shape[1:3]:
            stages.append(layer)
    return stages


def last_feature_layer(model: keras.Model) -> keras.layers.Layer:
    """The last layer with a 4-D output: the map Grad-CAM explains.

    Raises:
        ValueError: If no layer outputs a 4-D feature map.
    """
    return _need_feature_layers(model, "Grad-CAM")[-1]


def feature_maps(
    model: keras.Model,
    image: np.ndarray,
    layers: Sequence[keras.layers.Layer] | None = None,
) -> dict[str, np.ndarray]:
    """One image's activations at some layers, by layer name.

    Args:
        model: A functional model.
        image: One image, ``(height, width, channels)``.
        layers: The layers to read (default: `stage_outputs`).

    Returns:
        ``(height, width, channels)`` arrays, in the order of ``layers``.

    Raises:
        ValueError: For a batch instead of one image, or a model without maps.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3:
        raise ValueError(
            f"feature_maps takes one image of shape (height, width, channels), got shape "
            f"{image.shape}; pass images[0] for the first image of a batch."
        )
    layers = list(layers) if layers is not None else stage_outputs(model)
    probe = keras.Model(model.inputs[0], [layer.output for layer in layers])
    outputs = probe(image[None], training=False)
    outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
    return {
        layer.name: np.asarray(output[0], dtype=np.float32)
        for layer, output in zip(layers, outputs, strict=True)
    }


# --- Where the network looks --------------------------------------------------------------


def class_score_model(model: keras.Model) -> keras.Model:
    """The model with its softmax taken off: one unnormalized score per class.

    The gradients of saliency and Grad-CAM are taken of these scores, as in
    both papers: a softmax output's gradient also depends on every other class.

    Raises:
        ValueError: If the model does not end in a softmax (a dense layer or an
            activation layer).
    """
    last = model.layers[-1]
    activation = getattr(getattr(last, "activation", None), "__name__", None)
    if activation != "softmax":
        raise ValueError(
            f"{model.name} must end in a softmax layer to give class scores, but its last "
            f"layer {last.name!r} is a {type(last).__name__} without one."
        )
    features = last.input
    if isinstance(last, keras.layers.Dense):
        linear = keras.layers.Dense(last.units, dtype="float32", name=f"{last.name}_scores")
        scores = linear(features)
        linear.set_weights(last.get_weights())
    else:  # an Activation layer: its input already holds the scores
        scores = keras.layers.Identity(dtype="float32", name=f"{last.name}_scores")(features)
    return keras.Model(model.inputs[0], scores, name=f"{model.name}_scores")


def _checked_images(model: keras.Model, images: np.ndarray) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    expected = tuple(model.inputs[0].shape[1:])
    if images.ndim != 4 or images.shape[1:] != expected:
        raise ValueError(
            f"{model.name} takes a batch of images of shape (n, {', '.join(map(str, expected))}), "
            f"got shape {images.shape}; add a batch axis with images[None] for one image."
        )
    return images


def _checked_classes(
    scores: tf.Tensor, class_index: int | Sequence[int] | None, model: keras.Model
) -> tf.Tensor:
    """One class per image: the given ones, or each image's predicted class."""
    count = scores.shape[-1]
    if class_index is None:
        return tf.argmax(scores, axis=-1, output_type=tf.int32)
    classes = np.broadcast_to(np.asarray(class_index), (scores.shape[0],))
    if not np.issubdtype(classes.dtype, np.integer) or classes.min() < 0 or classes.max() >= count:
        raise ValueError(
            f"class_index must be an integer from 0 to {count - 1} ({model.name} has {count} "
            f"classes), got {class_index!r}."
        )
    return tf.constant(classes, dtype=tf.int32)


def _picked(scores: tf.Tensor, classes: tf.Tensor) -> tf.Tensor:
    return tf.gather(scores, classes, axis=-1, batch_dims=1)


def saliency(
    model: keras.Model, images: np.ndarray, class_index: int | Sequence[int] | None = None
) -> np.ndarray:
    """How much each pixel moves the class score: the largest absolute gradient.

    Args:
        model: A classifier ending in a softmax.
        images: A batch, shaped like the model's input.
        class_index: The class to explain, one for all images or one per image
            (default: each image's predicted class).

    Returns:
        ``(n, height, width)`` maps, each scaled to [0, 1].

    Raises:
        ValueError: For images of the wrong shape or a class out of range.
    """
    images = tf.constant(_checked_images(model, images))
    scorer = class_score_model(model)
    with tf.GradientTape() as tape:
        tape.watch(images)
        scores = scorer(images, training=False)
        picked = _picked(scores, _checked_classes(scores, class_index, model))
    gradients = tape.gradient(picked, images)
    return _scaled(tf.reduce_max(tf.abs(gradients), axis=-1))


def grad_cam(
    model: keras.Model,
    images: np.ndarray,
    class_index: int | Sequence[int] | None = None,
    *,
    layer: str | None = None,
) -> np.ndarray:
    """Grad-CAM: the feature map weighted by the class score's mean gradient, upsampled.

    Args:
        model: A convolutional classifier ending in a softmax.
        images: A batch, shaped like the model's input.
        class_index: The class to explain, one for all images or one per image
            (default: each image's predicted class).
        layer: The name of the layer whose map is explained (default: the last
            layer with a 4-D output, `last_feature_layer`).

    Returns:
        ``(n, height, width)`` maps at the input's resolution, each scaled to [0, 1].

    Raises:
        ValueError: For a model without a 4-D feature map, an unknown layer,
            images of the wrong shape or a class out of range.
    """
    images = _checked_images(model, images)
    target = last_feature_layer(model) if layer is None else _named_map(model, layer)
    scorer = class_score_model(model)
    probe = keras.Model(model.inputs[0], [target.output, scorer.output])
    with tf.GradientTape() as tape:
        maps, scores = probe(images, training=False)
        picked = _picked(scores, _checked_classes(scores, class_index, model))
    gradients = tape.gradient(picked, maps)
    weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
    heat = tf.nn.relu(tf.reduce_sum(weights * tf.cast(maps, tf.float32), axis=-1))
    return _scaled(_upsampled(heat, images.shape[1:3]))


def _named_map(model: keras.Model, name: str) -> keras.layers.Layer:
    maps = _need_feature_layers(model, "Grad-CAM")
    for candidate in maps:
        if candidate.name == name:
            return candidate
    raise ValueError(
        f"{model.name} has no layer {name!r} with a 4-D output; its layers with one are "
        f"{', '.join(layer.name for layer in maps)}."
    )


def class_activation_map(
    model: keras.Model, images: np.ndarray, class_index: int | Sequence[int] | None = None
) -> np.ndarray:
    """CAM: the map a global-average-pooling network averages, weighted for one class.

    With a dense classifier after the pooling, the class's map is the sum of
    the last feature maps weighted by that class's row of the classifier;
    with none (Network in Network), the last map already holds one channel per
    class. Dropout between them changes nothing at inference.

    Args:
        model: A classifier ending in global average pooling, then (optionally)
            dropout and a dense softmax layer, or a softmax activation.
        images: A batch, shaped like the model's input.
        class_index: The class to explain, one for all images or one per image
            (default: each image's predicted class).

    Returns:
        ``(n, height, width)`` maps at the input's resolution, each scaled to [0, 1].

    Raises:
        ValueError: For a model that does not end in global average pooling
            followed only by dropout and its classifier, images of the wrong
            shape or a class out of range.
    """
    images = _checked_images(model, images)
    pooling = _final_average_pooling(model)
    maps, probabilities = keras.Model(model.inputs[0], [pooling.input, model.output])(
        images, training=False
    )
    maps = tf.cast(maps, tf.float32)
    classes = _checked_classes(probabilities, class_index, model)
    last = model.layers[-1]
    if isinstance(last, keras.layers.Dense):
        kernel = tf.constant(last.get_weights()[0], dtype=tf.float32)  # (channels, classes)
        heat = tf.einsum("bhwc,cb->bhw", maps, tf.gather(kernel, classes, axis=1))
    else:
        heat = tf.gather(maps, classes, axis=-1, batch_dims=1)
    return _scaled(_upsampled(tf.nn.relu(heat), images.shape[1:3]))


_BETWEEN_POOLING_AND_SCORES = (keras.layers.Dropout, keras.layers.Dense, keras.layers.Activation)


def _final_average_pooling(model: keras.Model) -> keras.layers.Layer:
    """The global average pooling that only dropout and the classifier follow."""
    for position in range(len(model.layers) - 1, -1, -1):
        layer = model.layers[position]
        if isinstance(layer, keras.layers.GlobalAveragePooling2D):
            after = model.layers[position + 1 :]
            dense = [item for item in after if isinstance(item, keras.layers.Dense)]
            if all(isinstance(item, _BETWEEN_POOLING_AND_SCORES) for item in after) and (
                len(dense) <= 1 and (not dense or dense[0] is model.layers[-1])
            ):
                return layer
            break
        if not isinstance(layer, _BETWEEN_POOLING_AND_SCORES):
            break
    raise ValueError(
        f"{model.name} does not end in global average pooling followed only by its classifier, "
        "which a class activation map needs (Zhou et al., 2016): use grad_cam for any "
        "convolutional network."
    )


def _upsampled(heat: tf.Tensor, size: Sequence[int]) -> tf.Tensor:
    return tf.image.resize(heat[..., None], tuple(size), method="bilinear")[..., 0]


def _scaled(maps: tf.Tensor) -> np.ndarray:
    """Each map divided by its own maximum (a map of zeros stays zeros)."""
    maps = np.asarray(maps, dtype=np.float32)
    peaks = maps.reshape(len(maps), -1).max(axis=1).reshape(-1, 1, 1)
    return np.where(peaks > 0, maps / np.where(peaks > 0, peaks, 1), 0.0).astype(np.float32)
