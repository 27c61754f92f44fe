"""Transfer learning: a trained network's features, a new head, what to freeze.

Two ways in, one idea: features learned on one task are reused for another,
with a new classifier on top (Yosinski et al., 2014, "How transferable are
features in deep neural networks?", https://arxiv.org/abs/1411.1792; on
ImageNet networks moved to 12 other datasets, fixed or fine-tuned, Kornblith,
Shlens and Le, 2019, "Do Better ImageNet Models Transfer Better?",
https://arxiv.org/abs/1805.08974).

* **The book's own networks**, pretrained on some Fashion-MNIST classes and
  moved to the others: `freeze_base` freezes every layer but the classifier,
  or every layer but the classifier and the top blocks below it. ``cnn-guide
  train --start-from KEY --freeze base|except-top:N`` applies it
  (`cnn_guide.runs.TASK_FIELDS`), and the chapter's experiment records it.
* **A ``keras.applications`` network with ImageNet weights**:
  `application_classifier` wraps one for 28x28 grayscale images (resized,
  copied to three channels, the network's own ``preprocess_input``), with
  ``include_top=False`` and a new head; `unfreeze_top` then opens its top
  layers for fine-tuning. The ImageNet weights download on first use
  (`APPLICATIONS` gives their size); ``weights=`` also takes a local file.

Both keep batch normalization in inference mode wherever a network is
frozen or fine-tuned: its moving statistics stay those of the data it was
pretrained on, and its scale and offset stay fixed. Keras runs a
``BatchNormalization`` layer whose ``trainable`` is ``False`` in inference
mode, whatever ``training`` it is called with.

```python
from cnn_guide.transfer import application_classifier, unfreeze_top

model = application_classifier("MobileNetV2", num_classes=5)  # downloads 9.4 MB once
# ... train the head (the base is frozen), then:
unfreeze_top(model, 20)  # the top 20 layers of the base train too; recompile at a low rate
```

Chapter: ``docs/chapters/transfer.md``.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras

from cnn_guide._compat import flatten_layers

__all__ = [
    "APPLICATIONS",
    "Application",
    "application_base",
    "application_classifier",
    "copy_base",
    "freeze_base",
    "trainable_summary",
    "unfreeze_top",
]


@dataclass(frozen=True)
class Application:
    """What the book needs to know of one ``keras.applications`` network.

    Attributes:
        name: Its constructor in ``keras.applications``, e.g. ``"MobileNetV2"``.
        module: The ``keras.applications`` module holding its
            ``preprocess_input``, e.g. ``"mobilenet_v2"``.
        min_size: The smallest input side the constructor accepts.
        size: The input side the book resizes 28x28 images to by default: the
            smallest for which the ImageNet weights were trained, where Keras
            ships several.
        weights_file: The file Keras downloads for ``weights="imagenet"``,
            ``include_top=False``, into ``~/.keras/models``.
        download_bytes: That file's size in bytes.
        source: Where the size comes from.
    """

    name: str
    module: str
    min_size: int
    size: int
    weights_file: str
    download_bytes: int
    source: str

    @property
    def download_megabytes(self) -> float:
        """`download_bytes` in megabytes (10^6 bytes)."""
        return self.download_bytes / 1e6


APPLICATIONS: dict[str, Application] = {
    app.name: app
    for app in (
        Application(
            name="MobileNetV2",
            module="mobilenet_v2",
            min_size=32,
            size=96,
            weights_file="mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5",
            download_bytes=9_406_464,
            source="the byte count Keras' download progress bar prints for "
            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{96,128,160,192,224}"
            "_no_top.h5 (one size for every input side: the same 2,257,984 weights); "
            "keras.io/api/applications lists 14 MB for the network with its top",
        ),
        Application(
            name="EfficientNetB0",
            module="efficientnet",
            min_size=32,
            size=224,
            weights_file="efficientnetb0_notop.h5",
            download_bytes=16_705_208,
            source="the byte count Keras' download progress bar prints for "
            "efficientnetb0_notop.h5; keras.io/api/applications lists 29 MB for the "
            "network with its top",
        ),
    )
}
"""The ``keras.applications`` networks `application_classifier` knows, by name."""


def _application(name: str) -> Application:
    try:
        return APPLICATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown application {name!r}; choose one of: {', '.join(APPLICATIONS)}."
        ) from None


def _keep_batch_norm_frozen(layer: keras.layers.Layer) -> None:
    """Every ``BatchNormalization`` in ``layer`` frozen: inference mode, fixed scale and offset."""
    for inner in flatten_layers(layer):
        if isinstance(inner, keras.layers.BatchNormalization):
            inner.trainable = False


def copy_base(donor: keras.Model, model: keras.Model) -> list[keras.layers.Layer]:
    """Give every layer of ``model`` but its classifier the weights of ``donor``'s, by name.

    The classifier (the last layer with weights) keeps its own: a new head,
    for other classes. This is how a run starts from a recorded run's kept
    weights (``cnn-guide train --start-from KEY``).

    Args:
        donor: The trained network, e.g. loaded from a run's kept weights.
        model: The same architecture, built for the new task.

    Returns:
        The layers that took the donor's weights.

    Raises:
        ValueError: For a layer the donor lacks, or whose weights do not fit,
            naming it.
    """
    carried = [layer for layer in model.layers if layer.weights][:-1]  # all but the classifier
    for layer in carried:
        try:
            layer.set_weights(donor.get_layer(layer.name).get_weights())
        except ValueError as error:
            raise ValueError(
                f"the weights of {donor.name!r} do not fit layer {layer.name!r} of "
                f"{model.name!r}: {_why(error)}. Start from a network of the same architecture "
                "(the same builder and options)."
            ) from None
    return carried


def freeze_base(model: keras.Model, *, train_top: int = 0) -> list[keras.layers.Layer]:
    """Freeze a network below its classifier, except its top ``train_top`` blocks.

    A *block* is one of the model's top-level layers that hold weights, the
    classifier (the last of them) excepted: in ``resnet_fashion`` the stem's
    convolution and batch normalization, then one block per residual unit,
    so ``train_top=2`` trains its last stage. Every layer before the
    classifier is frozen but those blocks; inside them, every batch
    normalization stays frozen too (inference mode, moving statistics and
    scale and offset as pretrained), as Keras' fine-tuning guide advises.
    The classifier trains.

    Freezing changes what ``model.fit`` updates only once the model is
    compiled again: call this before ``compile``.

    Reference: Yosinski et al. (2014), "How transferable are features in
    deep neural networks?", https://arxiv.org/abs/1411.1792 (frozen and
    fine-tuned transfer, their Figure 2). Chapter: ``docs/chapters/transfer.md``.

    Args:
        model: A functional classifier whose last layer with weights is the
            classifier.
        train_top: Blocks below the classifier that train too (0: only the
            classifier, a frozen base).

    Returns:
        The layers that train: the top blocks, then the classifier.

    Raises:
        ValueError: For a model with no layer below its classifier, or a
            ``train_top`` that is not an integer from 0 to the number of blocks.
    """
    *blocks, classifier = [layer for layer in model.layers if layer.weights] or [None]
    if classifier is None or not blocks:
        raise ValueError(
            f"freeze_base needs layers with weights below a classifier; {model.name!r} has "
            f"{len(blocks) + (classifier is not None)} layer(s) with weights."
        )
    if isinstance(train_top, bool) or not isinstance(train_top, int):
        raise ValueError(f"train_top must be an integer, got {train_top!r}.")
    if not 0 <= train_top <= len(blocks):
        raise ValueError(
            f"train_top must be from 0 to {len(blocks)} (the blocks of {model.name!r} below "
            f"its classifier {classifier.name!r}), got {train_top}."
        )
    trained = blocks[len(blocks) - train_top :]
    for layer in model.layers[: model.layers.index(classifier)]:
        layer.trainable = False
    for layer in trained:
        layer.trainable = True
        _keep_batch_norm_frozen(layer)
    classifier.trainable = True
    return [*trained, classifier]


def unfreeze_top(model: keras.Model, count: int) -> list[keras.layers.Layer]:
    """Open the top ``count`` layers of a frozen ``keras.applications`` base for fine-tuning.

    The base is the model `application_classifier` built (found as its one
    nested model), or the base itself. Its layers are counted from the top
    in Keras' order, as Keras' own fine-tuning guide does
    (``base.layers[-count:]``); a batch normalization among them stays
    frozen, in inference mode. The head keeps training. Compile the model
    again afterwards, at a learning rate well below the head's.

    Args:
        model: An `application_classifier` model, or a ``keras.applications``
            base.
        count: Layers of the base to train, from its top.

    Returns:
        The base's layers that now train (batch normalization excepted).

    Raises:
        ValueError: For a ``count`` that is not an integer from 1 to the
            base's number of layers.
    """
    base = _base_of(model)
    layers = base.layers
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= len(layers):
        raise ValueError(
            f"count must be an integer from 1 to {len(layers)} (the layers of "
            f"{base.name!r}), got {count!r}."
        )
    base.trainable = True  # a model's own flag gates every layer's
    opened = []
    for index, layer in enumerate(layers):
        top = index >= len(layers) - count
        layer.trainable = top and not isinstance(layer, keras.layers.BatchNormalization)
        if layer.trainable and layer.weights:
            opened.append(layer)
    return opened


def _base_of(model: keras.Model) -> keras.Model:
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return nested[0] if len(nested) == 1 else model


def trainable_summary(model: keras.Model) -> dict[str, int]:
    """Weights that train and weights that do not, counted: what freezing changed.

    Returns:
        ``{"trainable": N, "frozen": M}``, in numbers of weights (scalars).
    """
    return {
        "trainable": _size(model.trainable_weights),
        "frozen": _size(model.non_trainable_weights),
    }


def _size(weights: Sequence[keras.Variable]) -> int:
    return sum(math.prod(weight.shape) for weight in weights)


def application_base(
    name: str = "MobileNetV2",
    *,
    weights: str | os.PathLike | None = "imagenet",
    size: int | None = None,
) -> keras.Model:
    """A ``keras.applications`` network without its top, for ``size`` x ``size`` RGB images.

    ``weights="imagenet"`` downloads the ImageNet weights on first use (into
    ``~/.keras/models``; `APPLICATIONS` gives the size), then reads them
    from there. A path loads a weights file instead (for example one saved
    by ``application_base(name, weights=None, size=size).save_weights(path)``:
    the tests do this, and never download). ``None`` leaves the weights
    random.

    Args:
        name: A network of `APPLICATIONS`.
        weights: ``"imagenet"``, a weights file, or ``None``.
        size: The input side (default the application's `Application.size`).

    Returns:
        The base, with global average pooling: one feature vector per image.

    Raises:
        ValueError: For an unknown name, a size below the network's minimum,
            a weights file that does not exist, or one that does not fit the
            network (naming what it expected and how to make a file that fits).
    """
    app = _application(name)
    size = app.size if size is None else size
    if isinstance(size, bool) or not isinstance(size, int) or size < app.min_size:
        raise ValueError(
            f"{name} takes inputs of at least {app.min_size}x{app.min_size}; got size "
            f"{size!r}. Resize the 28x28 images to {app.min_size} or more."
        )
    constructor = getattr(keras.applications, name)
    shape = (size, size, 3)
    if weights is None or weights == "imagenet":
        return constructor(include_top=False, weights=weights, input_shape=shape, pooling="avg")
    path = Path(weights)
    if not path.is_file():
        raise ValueError(
            f"weights must be 'imagenet', None or a weights file; {str(path)!r} is no file. "
            f"Give weights='imagenet' to download {app.weights_file} "
            f"({app.download_megabytes:.1f} MB), or the path of a file that exists."
        )
    base = constructor(include_top=False, weights=None, input_shape=shape, pooling="avg")
    try:
        with warnings.catch_warnings():  # Keras warns once per layer it skips: the error says it
            warnings.simplefilter("ignore")
            base.load_weights(path)
    except (ValueError, KeyError, OSError, TypeError) as error:
        raise ValueError(
            f"the weights file {str(path)!r} does not fit {name} without its top at "
            f"{size}x{size}x3 ({len(base.weights)} weight arrays, {base.count_params():,} "
            f"weights): {_why(error)}. Expected Keras' {app.weights_file} "
            "(weights='imagenet' downloads it), or a file saved from the same network: "
            f"application_base({name!r}, weights=None, size={size}).save_weights(PATH), "
            "whose name ends in .weights.h5."
        ) from None
    return base


def _why(error: BaseException) -> str:
    """Keras' reason for refusing a weights file, without its list of every layer."""
    text = " ".join(str(error).split("List of objects")[0].split()).rstrip(" .:")
    return (text[:400] + "...") if len(text) > 400 else text or type(error).__name__


def application_classifier(
    name: str = "MobileNetV2",
    *,
    num_classes: int,
    weights: str | os.PathLike | None = "imagenet",
    input_shape: Sequence[int] = (28, 28, 1),
    size: int | None = None,
    dropout: float = 0.2,
) -> keras.Model:
    """A ``keras.applications`` network as a classifier of 28x28 grayscale images.

    The layers, in order: the image; ``Resizing`` to ``size`` x ``size``
    (bilinear); the one gray channel copied to three (``Concatenate``, no
    ``Lambda``: a saved model loads in safe mode); ``Rescaling`` from the
    book's [0, 1] pixels to the [0, 255] that ``keras.applications``
    expects; the network's own ``preprocess_input`` (for MobileNetV2,
    ``x / 127.5 - 1``: recorded in the graph as two operations); the base
    without its top (`application_base`), frozen and called with
    ``training=False``, so that its batch normalization stays in inference
    mode even after `unfreeze_top`; dropout; a new softmax classifier.

    Reference: Keras' guide "Transfer learning & fine-tuning"
    (keras.io/guides/transfer_learning); Sandler et al. (2018), MobileNetV2,
    https://arxiv.org/abs/1801.04381. Chapter: ``docs/chapters/transfer.md``.

    Args:
        name: A network of `APPLICATIONS`.
        num_classes: Classes of the new classifier.
        weights: ``"imagenet"`` (downloaded on first use), a weights file, or
            ``None`` (see `application_base`).
        input_shape: The images' shape: ``(height, width, 1)`` or ``(height, width, 3)``.
        size: The side the images are resized to (default the application's
            `Application.size`).
        dropout: Dropout rate before the classifier.

    Returns:
        The uncompiled model, its base frozen.

    Raises:
        ValueError: For a bad ``num_classes`` or ``input_shape``, or as
            `application_base` does.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer of at least 2, got {num_classes!r}.")
    shape = tuple(input_shape)
    if len(shape) != 3 or shape[-1] not in (1, 3):
        raise ValueError(
            f"input_shape must be (height, width, 1) or (height, width, 3), got {shape!r}."
        )
    app = _application(name)
    base = application_base(name, weights=weights, size=size)
    base.trainable = False
    side = base.input_shape[1]
    preprocess = getattr(keras.applications, app.module).preprocess_input
    images = keras.Input(shape, name="image")
    x = keras.layers.Resizing(side, side, name="resize")(images)
    if shape[-1] == 1:
        x = keras.layers.Concatenate(name="gray_to_rgb")([x, x, x])
    x = keras.layers.Rescaling(255.0, name="to_0_255")(x)
    x = preprocess(x)
    x = base(x, training=False)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(images, outputs, name=f"{name.lower()}_transfer")
