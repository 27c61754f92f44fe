"""Compile, train and evaluate a model on Fashion-MNIST in one call.

`train` is what every example, the CLI and the benchmark use, so that a
number on any page comes from the same code path:

```python
from cnn_guide.data import load_fashion_mnist
from cnn_guide.training import train

result = train("simple_cnn", load_fashion_mnist(), epochs=10)
print(result.test_accuracy, result.seconds_per_epoch)
```

On several GPUs or machines, name a strategy (see `cnn_guide.distribute` and
the chapter "Training on GPUs and clusters", ``docs/chapters/distributed.md``):

```python
result = train(
    "simple_cnn", load_fashion_mnist(), strategy="mirrored", global_batch_size=256,
    scale_learning_rate=True, precision="auto",
)
```
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import keras

from cnn_guide import distribute
from cnn_guide.data import FashionMNIST, make_dataset

if TYPE_CHECKING:
    import numpy as np
    import tensorflow as tf

__all__ = [
    "PRECISIONS",
    "EpochTimer",
    "PreciseBatchNorm",
    "StepHistory",
    "TrainResult",
    "evaluate",
    "train",
]

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
"""Precision policies `train` accepts (Keras mixed-precision policy names), besides
``"auto"`` (see `cnn_guide.distribute.choose_precision`)."""

DEFAULT_BATCH_SIZE = 32
"""Images per step and replica when neither ``batch_size`` nor ``global_batch_size`` is given."""


@dataclass
class TrainResult:
    """What `train` returns.

    Attributes:
        model: The trained model (the best epoch's weights when early stopping
            restored them).
        history: Per-epoch metrics, as in ``keras.callbacks.History.history``.
        test_loss: Loss on the test images.
        test_accuracy: Accuracy on the test images.
        epoch_seconds: Wall-clock seconds of each epoch, validation included.
        train_seconds: Wall-clock seconds of the whole ``fit``.
        global_batch_size: Images per optimizer step across all replicas.
        replicas: Replicas that shared each step (``num_replicas_in_sync``).
        learning_rate: The learning rate the optimizer started with, after
            any scaling; ``None`` when it is a schedule.
        precision: The Keras dtype policy the model was built under.
    """

    model: keras.Model
    history: dict[str, list[float]]
    test_loss: float
    test_accuracy: float
    epoch_seconds: list[float] = field(default_factory=list)
    train_seconds: float = 0.0
    global_batch_size: int = 0
    replicas: int = 1
    learning_rate: float | None = None
    precision: str = "float32"

    @property
    def seconds_per_epoch(self) -> float:
        """Mean seconds per epoch, the first (which includes tracing) excluded."""
        times = self.epoch_seconds[1:] or self.epoch_seconds
        return sum(times) / len(times) if times else float("nan")

    @property
    def test_metrics(self) -> dict[str, float]:
        """Test metrics as a dictionary."""
        return {"loss": self.test_loss, "accuracy": self.test_accuracy}

    def describe(self, test_images: int | None = None) -> str:
        """One sentence with the test accuracy and the training time.

        Args:
            test_images: How many test images the accuracy was measured on,
                said in the sentence when given.
        """
        on = f" on {test_images:,} test images" if test_images is not None else ""
        epochs = len(self.epoch_seconds)
        return (
            f"Test accuracy {self.test_accuracy:.4f}{on} after {epochs} epoch(s): "
            f"{self.train_seconds:.0f} s of training, {self.seconds_per_epoch:.0f} s per epoch."
        )


class StepHistory(keras.callbacks.Callback):
    """Records the training loss and accuracy of every step, not just every epoch.

    Keras reports running means since the start of the epoch; this callback
    recovers each step's own value from them (exactly when all batches have
    the same size; the smaller last batch is approximate), so short runs (one or two
    epochs) still give a curve to compare. Pass it in ``callbacks`` and read
    ``loss`` and ``accuracy`` afterwards.

    Attributes:
        loss: Training loss of each step, in order.
        accuracy: Training accuracy of each step's batch.
    """

    def __init__(self) -> None:
        super().__init__()
        self.loss: list[float] = []
        self.accuracy: list[float] = []
        self._means: dict[str, float] = {}

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


class PreciseBatchNorm(keras.callbacks.Callback):
    """Recomputes batch normalization's moving statistics before every evaluation.

    At inference, batch normalization uses moving averages of the batch
    statistics seen in training. After only a few dozen steps (a short
    documentation run) those averages still describe the network of many
    steps ago, and a well-trained network can evaluate near chance. Before
    each evaluation (and once when training ends) this callback runs
    ``images`` through the model in training mode with every
    ``BatchNormalization`` layer's momentum set to 0, which replaces the moving
    means and variances by the statistics of those images under the current
    weights: "precise BN" (Wu and Johnson, "Rethinking 'Batch' in BatchNorm",
    2021, https://arxiv.org/abs/2105.07576). No weight changes and training
    is unaffected.

    Args:
        images: Training images to compute the statistics from; a few hundred
            suffice. They pass through the model as one batch.

    Raises:
        ValueError: If ``images`` is empty.
    """

    def __init__(self, images: np.ndarray) -> None:
        super().__init__()
        if len(images) == 0:
            raise ValueError("PreciseBatchNorm needs at least one image, got an empty array.")
        self.images = images

    def on_test_begin(self, logs: dict | None = None) -> None:  # noqa: D102
        self.recompute()

    def on_train_end(self, logs: dict | None = None) -> None:  # noqa: D102
        self.recompute()

    def recompute(self) -> None:
        """Set every batch normalization's moving statistics from ``images``."""
        # _flatten_layers() is Keras' own walk through nested layers, inside blocks too.
        layers = [
            layer
            for layer in self.model._flatten_layers()
            if isinstance(layer, keras.layers.BatchNormalization)
        ]
        momenta = [layer.momentum for layer in layers]
        try:
            for layer in layers:
                layer.momentum = 0.0
            self.model(self.images, training=True)
        finally:
            for layer, momentum in zip(layers, momenta, strict=True):
                layer.momentum = momentum


class EpochTimer(keras.callbacks.Callback):
    """Records each epoch's wall-clock seconds in ``self.seconds``."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:  # noqa: D102
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:  # noqa: D102
        self.seconds.append(time.perf_counter() - self._start)


def train(
    model: keras.Model | str | Callable[[], keras.Model],
    data: FashionMNIST,
    *,
    epochs: int = 10,
    batch_size: int | None = None,
    global_batch_size: int | None = None,
    optimizer: str | keras.optimizers.Optimizer = "nadam",
    learning_rate: float | None = None,
    scale_learning_rate: bool = False,
    seed: int | None = 42,
    early_stopping: int | None = None,
    checkpoint: str | os.PathLike | None = None,
    backup_dir: str | os.PathLike | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    precision: str = "float32",
    strategy: tf.distribute.Strategy | str | None = None,
    verbose: int | str = "auto",
) -> TrainResult:
    """Compile, fit and evaluate a classifier on Fashion-MNIST.

    The model is trained with sparse categorical cross-entropy on
    ``data.x_train``, validated on ``data.x_valid`` after each epoch, and
    evaluated once on ``data.x_test``.

    Pass the model as a registry name or a zero-argument function when using
    mixed precision or a distribution strategy: it must then be *built* under
    the precision policy and inside the strategy's scope, which `train` does.

    Under a strategy with several replicas, each optimizer step splits one
    global batch across the replicas; each computes the gradient of its share
    and the gradients are summed across replicas (all-reduce) before every
    replica applies the same update. The input pipelines are sharded by data
    (`cnn_guide.distribute.sharding_options`), so that in a multi-worker run no
    image is read by two workers in the same epoch. See the chapter "Training
    on GPUs and clusters" (``docs/chapters/distributed.md``).

    Args:
        model: A built Keras model, a registry name (see
            `cnn_guide.models.list_models`) or a function returning a model.
        data: The data, from `cnn_guide.data.load_fashion_mnist`.
        epochs: Passes over the training images.
        batch_size: Images per step *per replica* (default 32); the global
            batch is ``batch_size * strategy.num_replicas_in_sync``.
        global_batch_size: Images per step over *all* replicas, instead of
            ``batch_size``; it must divide evenly by the number of replicas.
        optimizer: A Keras optimizer or its name (``"nadam"``, ``"sgd"``, ...).
        learning_rate: Overrides the optimizer's default learning rate (only
            with an optimizer given by name).
        scale_learning_rate: Multiply the learning rate (given or default) by
            the number of replicas: the linear scaling rule of Goyal et al.
            2017, "Accurate, Large Minibatch SGD", see
            `cnn_guide.distribute.linear_scaling`. Use it when the per-replica
            batch stays fixed and the global batch grows with the replicas;
            for large global batches add a warm-up. Off by default: the
            learning rate is used as given. Only with an optimizer given by
            name.
        seed: Seeds Python, NumPy and TensorFlow (weights, dropout, shuffling)
            so that a CPU run is reproducible. ``None`` leaves them unseeded.
            A model passed already built keeps the weights it was initialized
            with: seed before building it (``keras.utils.set_random_seed``),
            or pass a registry name or a builder function.
            Every worker of a multi-worker run must use the same seed, so that
            they shuffle the data identically before it is sharded.
        early_stopping: Patience in epochs on validation accuracy; the best
            weights are restored. ``None`` trains all epochs.
        checkpoint: A ``.keras`` path where the best model (by validation
            accuracy) is saved after each improving epoch. In a multi-worker
            run only the chief writes it (`cnn_guide.distribute.is_chief`).
        backup_dir: A directory for ``keras.callbacks.BackupAndRestore``: the
            weights, optimizer state and epoch are backed up at every epoch's
            end, and a run restarted with the same ``backup_dir`` (after a
            worker crashed or was pre-empted) resumes from the last completed
            epoch instead of from scratch. The backup is deleted when training
            completes. In a multi-worker run each task keeps its own
            subdirectory (`cnn_guide.distribute.task_backup_dir`).
        callbacks: More Keras callbacks.
        precision: ``"float32"``, ``"mixed_bfloat16"`` (CPUs with AVX512-BF16,
            TPUs), ``"mixed_float16"`` (NVIDIA GPUs) or ``"auto"``, which
            picks one of them for the hardware
            (`cnn_guide.distribute.choose_precision`). The output layer of
            every builder stays in float32.
        strategy: A ``tf.distribute.Strategy``, or a name for
            `cnn_guide.distribute.make_strategy` (``"default"``,
            ``"mirrored"``, ``"multiworker"``, ``"tpu"``); ``None`` uses the
            default (one device). A multi-worker strategy given by name is
            created before any other TensorFlow operation, as it must be.
        verbose: Keras ``fit`` verbosity: ``1`` a progress bar, ``2`` one line
            per epoch, ``0`` silent.

    Returns:
        The trained model, its history, test metrics and timings.

    Raises:
        ValueError: For a bad argument, a global batch that does not divide
            across the replicas, a strategy that cannot be created, or a built
            model combined with mixed precision or a strategy.
    """
    _check_positive_int("epochs", epochs)
    if batch_size is not None and global_batch_size is not None:
        raise ValueError(
            f"Give batch_size (per replica) or global_batch_size (all replicas), not both "
            f"(got batch_size={batch_size!r}, global_batch_size={global_batch_size!r})."
        )
    if batch_size is not None:
        _check_positive_int("batch_size", batch_size)
    if global_batch_size is not None:
        _check_positive_int("global_batch_size", global_batch_size)
    if precision != "auto" and precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {('auto', *PRECISIONS)}, got {precision!r}.")
    if isinstance(model, keras.Model) and (
        precision not in ("float32", "auto") or strategy is not None
    ):
        raise ValueError(
            "A built model cannot be moved under a precision policy or into a "
            "strategy's scope. Pass the model's registry name or a function that "
            "builds it, e.g. train('simple_cnn', ...) or train(lambda: my_model(), ...)."
        )
    if learning_rate is not None and not isinstance(optimizer, str):
        raise ValueError(
            "learning_rate applies only to an optimizer given by name; set it on "
            f"the optimizer object instead (got {type(optimizer).__name__})."
        )
    if scale_learning_rate and not isinstance(optimizer, str):
        raise ValueError(
            "scale_learning_rate applies only to an optimizer given by name; scale the "
            f"optimizer's learning rate yourself (got {type(optimizer).__name__})."
        )
    if checkpoint is not None and not str(checkpoint).endswith(".keras"):
        raise ValueError(f"checkpoint must be a path ending in .keras, got {checkpoint!r}.")

    # First, before any TensorFlow operation: a multi-worker strategy must
    # configure the runtime's collective operations before it starts.
    if isinstance(strategy, str):
        strategy = distribute.make_strategy(strategy)
    replicas = strategy.num_replicas_in_sync if strategy is not None else 1
    if global_batch_size is not None:
        per_replica = distribute.per_replica_batch_size(global_batch_size, replicas)
    else:
        per_replica = batch_size or DEFAULT_BATCH_SIZE
    global_batch = per_replica * replicas
    policy = distribute.choose_precision(precision, strategy)
    if isinstance(model, keras.Model) and policy != "float32":
        raise ValueError(
            f"precision={precision!r} chose {policy!r} on this machine, but a built model "
            "cannot be moved under a precision policy. Pass the model's registry name or a "
            "function that builds it."
        )
    if seed is not None:
        keras.utils.set_random_seed(seed)

    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        with _precision_policy(policy):
            net = _materialize(model)
        opt = _make_optimizer(optimizer, learning_rate)
        if scale_learning_rate:
            base = float(opt.get_config()["learning_rate"])
            opt = _make_optimizer(optimizer, distribute.linear_scaling(base, replicas))
        net.compile(
            optimizer=opt,
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    distribute.apply_keras_workarounds(net, strategy)
    initial_learning_rate = _initial_learning_rate(opt)

    timer = EpochTimer()
    all_callbacks: list[keras.callbacks.Callback] = [timer, *callbacks]
    if backup_dir is not None:
        all_callbacks.append(
            keras.callbacks.BackupAndRestore(str(distribute.task_backup_dir(backup_dir, strategy)))
        )
    if early_stopping is not None:
        all_callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy", patience=early_stopping, restore_best_weights=True
            )
        )
    if checkpoint is not None and distribute.is_chief(strategy):
        Path(checkpoint).parent.mkdir(parents=True, exist_ok=True)
        all_callbacks.append(
            keras.callbacks.ModelCheckpoint(checkpoint, monitor="val_accuracy", save_best_only=True)
        )

    shard = distribute.sharding_options()
    train_set = make_dataset(
        data.x_train, data.y_train, batch_size=global_batch, shuffle=True, seed=seed
    ).with_options(shard)
    valid_set = make_dataset(data.x_valid, data.y_valid, batch_size=global_batch).with_options(
        shard
    )
    start = time.perf_counter()
    history = net.fit(
        train_set,
        validation_data=valid_set,
        epochs=epochs,
        callbacks=all_callbacks,
        shuffle=False,  # the pipeline reshuffles every epoch itself
        verbose=verbose,
    )
    train_seconds = time.perf_counter() - start
    test_loss, test_accuracy = evaluate(net, data, batch_size=global_batch)
    return TrainResult(
        model=net,
        history={k: [float(v) for v in vs] for k, vs in history.history.items()},
        test_loss=test_loss,
        test_accuracy=test_accuracy,
        epoch_seconds=timer.seconds,
        train_seconds=train_seconds,
        global_batch_size=global_batch,
        replicas=replicas,
        learning_rate=initial_learning_rate,
        precision=policy,
    )


def evaluate(
    model: keras.Model, data: FashionMNIST, *, batch_size: int = 256
) -> tuple[float, float]:
    """Test loss and accuracy of a model compiled with an accuracy metric.

    Under a distribution strategy, ``batch_size`` is the global batch and the
    test images are sharded across workers by data, like in `train`.

    Returns:
        ``(loss, accuracy)`` on ``data.x_test``.
    """
    test_set = make_dataset(data.x_test, data.y_test, batch_size=batch_size).with_options(
        distribute.sharding_options()
    )
    scores = model.evaluate(test_set, verbose=0, return_dict=True)
    accuracy_key = next((k for k in scores if "acc" in k), None)
    if accuracy_key is None:
        raise ValueError(
            f"model {model.name!r} reports no accuracy metric (got {sorted(scores)}); "
            "compile it with metrics=['accuracy']."
        )
    return float(scores["loss"]), float(scores[accuracy_key])


@contextlib.contextmanager
def _precision_policy(precision: str) -> Iterator[None]:
    """Set Keras' global dtype policy while the model is built, then restore it."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _materialize(model: keras.Model | str | Callable[[], keras.Model]) -> keras.Model:
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


def _make_optimizer(
    optimizer: str | keras.optimizers.Optimizer, learning_rate: float | None
) -> keras.optimizers.Optimizer:
    if not isinstance(optimizer, str):
        return optimizer
    config: dict = {"class_name": optimizer, "config": {}}
    if learning_rate is not None:
        if learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {learning_rate!r}.")
        config["config"]["learning_rate"] = learning_rate
    try:
        return keras.optimizers.get(config)
    except ValueError:
        raise ValueError(
            f"Unknown optimizer {optimizer!r}. Use a Keras optimizer name such as "
            "'adam', 'nadam', 'sgd' or 'rmsprop', or pass an optimizer object."
        ) from None


def _initial_learning_rate(optimizer: keras.optimizers.Optimizer) -> float | None:
    try:
        return float(optimizer.get_config()["learning_rate"])
    except (KeyError, TypeError, ValueError):  # a schedule: no single number
        return None


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
