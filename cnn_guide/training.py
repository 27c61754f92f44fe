"""One way to train: `fit` any model under any `Recipe` and any strategy.

Every number in the book comes from this function: the examples, ``cnn-guide
train``, the benchmark (a recipe stopped by minutes), throughput measurements
(a recipe stopped by steps) and distributed training all call it.

```python
from cnn_guide.data import load_fashion_mnist
from cnn_guide.recipes import get_recipe
from cnn_guide.training import fit

result = fit("simple_cnn", load_fashion_mnist(), get_recipe("book"))
print(result.test_accuracy, result.seconds_per_epoch)
```

On several GPUs or machines, name a strategy (see `cnn_guide.distribute` and
the chapter "Training on GPUs and clusters", ``docs/chapters/distributed.md``):

```python
recipe = get_recipe("book", scale_learning_rate=True, precision="auto")
result = fit("simple_cnn", load_fashion_mnist(), recipe, strategy="mirrored")
```

How the book evaluates: a model's class probabilities are computed for every
image (`predict`, in inference mode), and accuracy and cross-entropy are read
from them. The same function scores the validation images after each epoch,
the test images at checkpoints and at the end, with or without mirror-image
averaging. It never touches the model's compiled metrics, so it can run in the
middle of training.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import keras
import numpy as np

from cnn_guide import distribute
from cnn_guide._clock import WARMUP_STEPS, RunBackup, RunClock
from cnn_guide._compat import flatten_layers
from cnn_guide._progress import BudgetProgress
from cnn_guide.data import FashionMNIST
from cnn_guide.layers.whitening import adapt_patch_whitening
from cnn_guide.recipes import Recipe
from cnn_guide.runs import RunFigures

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = [
    "WARMUP_STEPS",
    "WHITENING_IMAGES",
    "Evaluation",
    "FitResult",
    "MemoryPeak",
    "PreciseBatchNorm",
    "RunFigures",
    "StepHistory",
    "build_model",
    "evaluate",
    "fit",
]


WHITENING_IMAGES = 5000
"""Training images a `cnn_guide.layers.PatchWhitening` stem is set from: millions of patches."""


@dataclass(frozen=True)
class Evaluation:
    """Accuracy and cross-entropy of a model on some images.

    Attributes:
        accuracy: Share of images whose most probable class is the label.
        loss: Mean cross-entropy of the labels under the predicted
            probabilities (no label smoothing).
        seconds: Wall-clock seconds the predictions took.
        predictions: The most probable class of each image, in order.
    """

    accuracy: float
    loss: float
    seconds: float
    predictions: np.ndarray = field(repr=False)


def evaluate(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    flip: bool = False,
    batch_size: int = 500,
) -> Evaluation:
    """Score a classifier the way the book does everywhere.

    Runs the model in inference mode over ``images`` in batches, outside any
    distribution strategy's replicas (every process scores every image), and
    reads accuracy and cross-entropy from the class probabilities.

    Args:
        model: A classifier with one probability per class (softmax output).
        images: Shape ``(n, height, width, channels)``.
        labels: Integer labels, shape ``(n,)``.
        flip: Also score each image mirrored left to right and average the
            two outputs (test-time augmentation for a network trained with flips).
        batch_size: Images per batch.

    Raises:
        ValueError: For no images, or images and labels of different lengths.
    """
    if len(images) == 0 or len(images) != len(labels):
        raise ValueError(
            f"evaluate needs as many labels as images, at least one: got {len(images)} "
            f"images and {len(labels)} labels."
        )
    forward = _inference_function(model)
    start = time.perf_counter()
    probabilities = np.concatenate(
        [
            _predict_batch(forward, images[first : first + batch_size], flip)
            for first in range(0, len(images), batch_size)
        ]
    )
    seconds = time.perf_counter() - start
    picked = np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1.0)
    predictions = np.argmax(probabilities, axis=-1)
    return Evaluation(
        accuracy=float(np.mean(predictions == labels)),
        loss=float(-np.mean(np.log(picked))),
        seconds=seconds,
        predictions=predictions.astype(np.uint8),
    )


def _inference_function(model: keras.Model) -> Callable:
    # One compiled forward pass per model, kept on the model, traced once per batch shape.
    forward = getattr(model, "_cnn_guide_inference", None)
    if forward is None:
        import tensorflow as tf

        forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        model._cnn_guide_inference = forward
    return forward


def _predict_batch(forward: Callable, batch: np.ndarray, flip: bool) -> np.ndarray:
    scores = np.asarray(forward(batch), dtype=np.float64)
    if flip:
        scores = (scores + np.asarray(forward(batch[:, :, ::-1]), dtype=np.float64)) / 2
    return scores


@dataclass(frozen=True, kw_only=True)
class FitResult(RunFigures):
    """What `fit` returns: the trained model, its recipe and the figures measured.

    Attributes:
        model: The trained model (the best epoch's weights when early
            stopping restored them).
        recipe: The recipe it was trained under.
        test_predictions: The class it predicts for each test image, the
            predictions ``test_accuracy`` was scored on (averaged with the
            mirror image when the recipe says so).
    """

    model: keras.Model = field(repr=False)
    recipe: Recipe
    test_predictions: np.ndarray = field(repr=False)


class StepHistory(keras.callbacks.Callback):
    """Records the training loss and accuracy of every step, not just every epoch.

    Keras reports running means since the start of the epoch; this callback
    recovers each step's own value from them (exactly when all batches have
    the same size), so short runs (one or two epochs) still give a curve to
    compare. Pass it to `fit` in ``callbacks`` and read ``loss`` and
    ``accuracy`` afterwards.

    Attributes:
        loss: Training loss of each step, in order.
        accuracy: Training accuracy of each step's batch.
    """

    def __init__(self) -> None:
        super().__init__()
        self.loss: list[float] = []
        self.accuracy: list[float] = []
        self._means: dict[str, float] = {}
        self._step = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:  # noqa: D102
        self._means = {}
        self._step = 0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:  # noqa: D102
        self._step += 1
        for name, values in (("loss", self.loss), ("accuracy", self.accuracy)):
            if logs and name in logs:
                mean = float(logs[name])
                previous = self._means.get(name, 0.0)
                values.append(self._step * mean - (self._step - 1) * previous)
                self._means[name] = mean


class PreciseBatchNorm:
    """Recomputes batch normalization's moving statistics from training images.

    At inference, batch normalization uses moving averages of the batch
    statistics seen in training. After only a few dozen steps (a short
    documentation run) those averages still describe the network of many
    steps ago, and a well-trained network can evaluate near chance. `fit`
    calls `recompute` before every evaluation when the recipe sets
    ``settle_batch_norm``: it runs ``images`` through the model in training
    mode with every ``BatchNormalization`` layer's momentum set to 0, which
    replaces the moving means and variances by the statistics of those
    images under the current weights: "precise BN" (Wu and Johnson,
    "Rethinking 'Batch' in BatchNorm", 2021, https://arxiv.org/abs/2105.07576).
    No weight changes and training is unaffected. A frozen batch normalization
    (``trainable=False``, as in a transferred base: `cnn_guide.transfer`)
    keeps the statistics it was pretrained with.

    Args:
        model: The model whose statistics to settle.
        images: Training images to compute the statistics from; a few hundred
            suffice. They pass through the model as one batch.

    Raises:
        ValueError: If ``images`` is empty.
    """

    def __init__(self, model: keras.Model, images: np.ndarray) -> None:
        if len(images) == 0:
            raise ValueError("PreciseBatchNorm needs at least one image, got an empty array.")
        self.model = model
        self.images = images
        # A frozen batch normalization (``trainable`` False, as in a transferred base)
        # runs in inference mode and keeps its statistics: nothing to recompute.
        self.layers = [
            layer
            for layer in flatten_layers(model)
            if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable
        ]

    def recompute(self) -> None:
        """Set every batch normalization's moving statistics from ``images``."""
        if not self.layers:
            return
        momenta = [layer.momentum for layer in self.layers]
        try:
            for layer in self.layers:
                layer.momentum = 0.0
            self.model(self.images, training=True)
        finally:
            for layer, momentum in zip(self.layers, momenta, strict=True):
                layer.momentum = momentum


class MemoryPeak:
    """Samples the process' resident memory in a thread and keeps the highest.

    On a GPU it reads TensorFlow's peak device allocation instead. Use as a
    context manager; ``peak_mb`` holds the result (``None`` where neither can
    be read, e.g. off Linux without a GPU).
    """

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak_mb: float | None = None
        self._stop = threading.Event()
        self._gpu = False

    def __enter__(self) -> MemoryPeak:
        import tensorflow as tf

        self._gpu = bool(tf.config.list_physical_devices("GPU"))
        if self._gpu:
            tf.config.experimental.reset_memory_stats("GPU:0")
        else:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._gpu:
            import tensorflow as tf

            self.peak_mb = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
        else:
            self._stop.set()
            self._thread.join()

    def _sample(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        while not self._stop.is_set():
            try:
                with open("/proc/self/statm") as statm:
                    resident = int(statm.read().split()[1]) * page / 2**20
            except (OSError, ValueError, IndexError):
                return
            self.peak_mb = max(self.peak_mb or 0.0, resident)
            self._stop.wait(self.interval)


def fit(
    model: keras.Model | str | Callable[[], keras.Model],
    data: FashionMNIST,
    recipe: Recipe,
    *,
    strategy: tf.distribute.Strategy | str | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    early_stopping: int | None = None,
    checkpoint: str | os.PathLike | None = None,
    backup_dir: str | os.PathLike | None = None,
    verbose: int | str = "auto",
) -> FitResult:
    """Train a classifier on Fashion-MNIST under a recipe, and measure it.

    The model is trained on ``data.x_train`` with the recipe's optimizer,
    schedule, loss (cross-entropy with its label smoothing), batch,
    precision and augmentation until its stop rule ends the run; the
    validation images are scored after each epoch and the test images at the
    recipe's checkpoints and at the end, all with `evaluate`. Nothing is
    chosen by test accuracy.

    Pass the model as a registry name or a zero-argument function when using
    mixed precision or a distribution strategy: it must then be *built* under
    the precision policy and inside the strategy's scope, which `fit` does.

    Under a strategy with several replicas, each optimizer step splits one
    global batch (``recipe.batch_size`` per replica) across the replicas;
    each computes the gradient of its share and the gradients are summed
    across replicas (all-reduce) before every replica applies the same
    update. The input pipeline is sharded by data
    (`cnn_guide.distribute.sharding_options`), so that in a multi-worker run
    no image is read by two workers in the same step. Every worker must use
    the same seed, so that they shuffle identically before sharding.

    Args:
        model: A built Keras model, a registry name (see
            `cnn_guide.models.list_models`) or a function returning a model.
            A built model keeps the weights it was initialized with: seed
            before building it (``keras.utils.set_random_seed``).
        data: The data, from `cnn_guide.data.load_fashion_mnist`.
        recipe: How to train, and when to stop (`cnn_guide.recipes`).
        strategy: A ``tf.distribute.Strategy``, or a name for
            `cnn_guide.distribute.make_strategy`; ``None`` for one device. A
            multi-worker strategy given by name is created before any other
            TensorFlow operation, as it must be.
        callbacks: More Keras callbacks.
        early_stopping: Patience in epochs on validation accuracy; the best
            weights are restored. ``None`` trains to the stop rule.
        checkpoint: A ``.keras`` path where the best model (by validation
            accuracy) is saved after each improving epoch. In a multi-worker
            run only the chief writes it (`cnn_guide.distribute.is_chief`).
        backup_dir: A directory where the run is backed up after every
            epoch (`cnn_guide._clock.RunBackup`): the same run restarted
            with the same ``backup_dir`` goes on after the last completed
            epoch, with its schedule, data order, clock and history, and
            its figures cover the whole run (``resumed_after_epochs`` says
            where it restarted). In a multi-worker run each task keeps its
            own subdirectory (`cnn_guide.distribute.task_backup_dir`).
        verbose: Keras ``fit`` verbosity: ``1`` a progress bar, ``2`` one line
            per epoch, ``0`` silent. A run stopped by minutes shows, instead of
            Keras' epochs, its time used out of the budget, images seen and last
            test checkpoint (`cnn_guide._progress.BudgetProgress`): on one line
            redrawn in place on a terminal, else (and with ``2``) as a plain
            line every 10 s of training and at each checkpoint.

    Returns:
        The trained model, the recipe and every figure measured.

    Raises:
        ValueError: For a recipe without a stop rule, a bad path, a strategy
            that cannot be created, or a built model combined with mixed
            precision or a strategy.
    """
    recipe.check_stop_rule()
    if checkpoint is not None and not str(checkpoint).endswith(".keras"):
        raise ValueError(f"checkpoint must be a path ending in .keras, got {checkpoint!r}.")
    if isinstance(model, keras.Model) and strategy is not None:
        raise ValueError(
            "A built model cannot be moved into a strategy's scope. Pass the model's "
            "registry name or a function that builds it, e.g. fit('simple_cnn', ...) "
            "or fit(lambda: my_model(), ...)."
        )
    # First, before any TensorFlow operation: a multi-worker strategy must
    # configure the runtime's collective operations before it starts.
    if isinstance(strategy, str):
        strategy = distribute.make_strategy(strategy)
    replicas = strategy.num_replicas_in_sync if strategy is not None else 1
    global_batch = recipe.batch_size * replicas
    precision = distribute.choose_precision(
        recipe.precision, strategy, measure=_speed_probe(model, recipe.batch_size)
    )
    if isinstance(model, keras.Model) and precision != "float32":
        raise ValueError(
            f"precision {recipe.precision!r} chose {precision!r} on this machine, but a built "
            "model cannot be moved under a precision policy. Pass the model's registry name "
            "or a function that builds it."
        )
    keras.utils.set_random_seed(recipe.seed)
    with _scope(strategy):
        with distribute.precision_policy(precision):
            net = build_model(model)
        # A frozen whitening stem is set from the training images before any step
        # (a resumed run's backup then restores the same filters).
        adapt_patch_whitening(net, data.x_train[:WHITENING_IMAGES])
        optimizer = recipe.make_optimizer(replicas)
        net.compile(
            optimizer=optimizer,
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing),
            metrics=["accuracy"],
        )
    distribute.apply_keras_workarounds(net, strategy)
    learning_rate = float(optimizer.get_config()["learning_rate"])

    settler = (
        PreciseBatchNorm(net, data.x_train[:512]).recompute
        if recipe.settle_batch_norm
        else lambda: None
    )

    def settled_evaluation(images: np.ndarray, labels: np.ndarray) -> Evaluation:
        settler()
        return evaluate(net, images, labels)

    clock = RunClock(
        recipe,
        len(data.x_train),
        global_batch=global_batch,
        validate=lambda: settled_evaluation(data.x_valid, data.y_valid),
        test=lambda: settled_evaluation(data.x_test, data.y_test),
    )
    all_callbacks: list[keras.callbacks.Callback] = [clock, *callbacks]
    epochs_done = 0
    if backup_dir is not None:
        backup = RunBackup(distribute.task_backup_dir(backup_dir, strategy), clock, recipe)
        with _scope(strategy):
            epochs_done = backup.restore(net)
        all_callbacks.append(backup)
    all_callbacks += _run_callbacks(strategy, early_stopping, checkpoint)
    progress = BudgetProgress.for_run(clock, verbose)
    if progress is not None:
        # A budget of minutes is a huge epoch count the clock cuts short: Keras'
        # bar would count to it. The line shows the budget, and each checkpoint.
        all_callbacks.append(progress)
        clock.print_checkpoints = False
        verbose = 0

    steps_per_epoch = clock.steps_per_epoch
    epochs = 1_000_000 if clock.max_steps is None else math.ceil(clock.max_steps / steps_per_epoch)
    train_set = recipe.dataset(
        data.x_train, data.y_train, batch_size=global_batch, num_classes=len(data.class_names)
    )
    if clock.steps:  # resumed: pass the batches trained before, to draw the ones that followed
        train_set = train_set.skip(clock.steps)
    with MemoryPeak() as memory:
        net.fit(
            train_set.with_options(distribute.sharding_options()),
            epochs=epochs,
            initial_epoch=epochs_done,
            steps_per_epoch=steps_per_epoch,
            callbacks=all_callbacks,
            shuffle=False,  # the pipeline reshuffles every epoch itself
            verbose=verbose,
        )
    settler()
    test = evaluate(net, data.x_test, data.y_test)
    scored = evaluate(net, data.x_test, data.y_test, flip=True) if recipe.flip_at_test else test
    test_view = scored.accuracy
    if not clock.checkpoints or clock.checkpoints[-1][1] != clock.images:
        clock.checkpoints.append([round(clock.seconds, 2), clock.images, test_view])
    return FitResult(
        model=net,
        recipe=recipe,
        test_predictions=scored.predictions,
        precision=precision,
        replicas=replicas,
        global_batch_size=global_batch,
        learning_rate=learning_rate,
        parameters=net.count_params(),
        macs=_macs(net),
        train_size=len(data.x_train),
        valid_size=len(data.x_valid),
        test_size=len(data.x_test),
        epochs=round(clock.steps / steps_per_epoch, 4),
        images=clock.images,
        train_seconds=clock.seconds,
        train_images_per_second=clock.images_per_second,
        inference_images_per_second=len(data.x_test) / test.seconds,
        history=clock.history,
        checkpoints=clock.checkpoints,
        valid_accuracy=evaluate(net, data.x_valid, data.y_valid, flip=recipe.flip_at_test).accuracy,
        test_accuracy=test_view,
        test_accuracy_single_view=test.accuracy,
        test_loss=test.loss,
        peak_memory_mb=memory.peak_mb,
        resumed_after_epochs=clock.resumed_after_epochs or None,
    )


def _scope(strategy: tf.distribute.Strategy | None) -> contextlib.AbstractContextManager:
    """The strategy's scope, where variables are created; none without a strategy."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def _run_callbacks(
    strategy: tf.distribute.Strategy | None,
    early_stopping: int | None,
    checkpoint: str | os.PathLike | None,
) -> list[keras.callbacks.Callback]:
    """Keras' own callbacks for early stopping and checkpoints."""
    chosen: list[keras.callbacks.Callback] = []
    if early_stopping is not None:
        chosen.append(
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy", patience=early_stopping, restore_best_weights=True
            )
        )
    if checkpoint is not None and distribute.is_chief(strategy):
        Path(checkpoint).parent.mkdir(parents=True, exist_ok=True)
        chosen.append(
            keras.callbacks.ModelCheckpoint(checkpoint, monitor="val_accuracy", save_best_only=True)
        )
    return chosen


def _macs(model: keras.Model) -> int:
    from cnn_guide import analysis

    # Not strict: MACs need no receptive field, and a layer such as Resizing
    # (efficientnet_fashion's resolution option) has none the walk can derive.
    return analysis.layer_table(model, strict=False).macs or 0


_MEASURED_SPEEDS: dict[tuple[str, int], Mapping[str, float]] = {}


def _speed_probe(
    model: keras.Model | str | Callable[[], keras.Model], batch_size: int
) -> Callable[[Sequence[str]], Mapping[str, float]] | None:
    """What `distribute.choose_precision` times, for a model that is not built yet.

    A registered model's measurement is kept for the rest of the process.
    """
    if isinstance(model, keras.Model):
        return None  # a built model cannot change its precision anyway

    def measure(policies: Sequence[str]) -> Mapping[str, float]:
        key = (model, batch_size) if isinstance(model, str) else None
        if key not in _MEASURED_SPEEDS:
            speeds = distribute.measure_training_speeds(
                lambda: build_model(model), batch_size, policies
            )
            if key is None:
                return speeds
            _MEASURED_SPEEDS[key] = speeds
        return _MEASURED_SPEEDS[key]

    return measure


def build_model(model: keras.Model | str | Callable[[], keras.Model]) -> keras.Model:
    """The model `fit` trains: a built model as it is, a registry name or a builder, built.

    Raises:
        ValueError: For anything else, or a builder that returns no model.
    """
    if isinstance(model, keras.Model):
        return model
    if isinstance(model, str):
        from cnn_guide import models

        return models.build(model)
    if callable(model):
        built = model()
        if not isinstance(built, keras.Model):
            raise ValueError(
                f"the model function returned {type(built).__name__}, expected a keras.Model."
            )
        return built
    raise ValueError(
        f"model must be a keras.Model, a registry name or a function, got {type(model).__name__}."
    )
