"""Train for a fixed amount of time and watch the test accuracy climb.

The book's benchmark and its fast recipe both ask the question a reader with
one machine asks: *how accurate can a network get in N minutes of training,
and when does it pass 90%?* `train_timed` answers it for any `Recipe`:

```python
from cnn_guide.data import load_fashion_mnist
from cnn_guide.recipes import get_recipe
from cnn_guide.timed import train_timed

run = train_timed(get_recipe("fast"), load_fashion_mnist(), budget_seconds=180)
print(run.test_accuracy, run.seconds_to(0.93))
```

The clock measures training only: it starts with ``fit`` (graph tracing
included, as a reader waits for it too) and pauses while the test images are
evaluated at the checkpoints. A learning-rate schedule, if the recipe has
one, is a function of the *fraction of the budget used*, so that it anneals
to its end exactly when the time is up, whatever the machine's speed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import keras
import numpy as np

from cnn_guide.data import FashionMNIST

if TYPE_CHECKING:
    from cnn_guide.recipes import Recipe

__all__ = [
    "ACCURACY_TARGETS",
    "Checkpoint",
    "MemoryPeak",
    "TimeBudget",
    "TimedRun",
    "predict_accuracy",
    "train_timed",
]

ACCURACY_TARGETS = (0.90, 0.91, 0.92, 0.93, 0.94, 0.95)
"""Test accuracies whose first crossing a timed run reports (`TimedRun.seconds_to`)."""


@dataclass(frozen=True)
class Checkpoint:
    """The test accuracy at one moment of a timed run.

    Attributes:
        seconds: Training seconds so far (evaluation excluded).
        images: Training images seen so far.
        test_accuracy: Accuracy on the test images at that moment.
        eval_seconds: How long that evaluation took.
    """

    seconds: float
    images: int
    test_accuracy: float
    eval_seconds: float = 0.0


@dataclass
class TimedRun:
    """What `train_timed` returns.

    Attributes:
        model: The trained model.
        recipe: Name of the recipe trained.
        checkpoints: Test accuracy at each evaluation, in time order; the
            last one is at the end of training. Checkpoints predict each
            image once, without flip averaging.
        budget_seconds: The time budget asked for (``None`` for epochs only).
        train_seconds: Training seconds (evaluations excluded).
        images: Training images seen (``epochs * train size``).
        train_size: Training images per epoch.
        test_size: Test images evaluated at each checkpoint.
        valid_accuracy: Accuracy on the validation images at the end.
        test_accuracy: Accuracy on the test images at the end.
        test_accuracy_flip: The same, averaging each image's prediction with
            its mirror image's (test-time augmentation); ``None`` when the
            recipe does not use it.
        peak_memory_mb: Highest resident memory of the process during the
            run, in MiB (``None`` where it cannot be read); on a GPU, the
            device's peak allocation instead.
        precision: Keras dtype policy the model was built under.
    """

    model: keras.Model
    recipe: str
    checkpoints: list[Checkpoint]
    budget_seconds: float | None
    train_seconds: float
    images: int
    train_size: int
    test_size: int
    valid_accuracy: float
    test_accuracy: float
    test_accuracy_flip: float | None = None
    peak_memory_mb: float | None = None
    precision: str = "float32"

    @property
    def epochs(self) -> float:
        """Passes over the training images (fractional)."""
        return self.images / self.train_size

    @property
    def train_images_per_second(self) -> float:
        """Training speed once running: images per second from the first checkpoint on.

        The first stretch, which includes tracing the graph, is left out when
        there are two checkpoints or more.
        """
        first, last = self.checkpoints[0], self.checkpoints[-1]
        if last.seconds > first.seconds:
            return (last.images - first.images) / (last.seconds - first.seconds)
        return last.images / last.seconds if last.seconds else float("nan")

    @property
    def seconds_per_epoch(self) -> float:
        """Seconds per pass over the training images, at `train_images_per_second`."""
        return self.train_size / self.train_images_per_second

    @property
    def inference_images_per_second(self) -> float:
        """Test images predicted per second, at the fastest checkpoint (after warm-up)."""
        timed = [c for c in self.checkpoints[1:] or self.checkpoints if c.eval_seconds > 0]
        fastest = min((c.eval_seconds for c in timed), default=float("nan"))
        return self.test_size / fastest

    @property
    def reached(self) -> dict[str, float | None]:
        """`seconds_to` each of `ACCURACY_TARGETS`, keyed ``"90%"``, ``"91%"``, ..."""
        return {f"{target:.0%}": self.seconds_to(target) for target in ACCURACY_TARGETS}

    @property
    def final_accuracy(self) -> float:
        """The reported test accuracy: with flip averaging when the recipe uses it."""
        return self.test_accuracy if self.test_accuracy_flip is None else self.test_accuracy_flip

    def seconds_to(self, accuracy: float) -> float | None:
        """Training seconds until the first checkpoint at or above ``accuracy``.

        The answer is only as fine as the checkpoints: the accuracy was
        crossed at some moment between the previous checkpoint and this one.

        Returns:
            Seconds, or ``None`` if no checkpoint reached ``accuracy``.
        """
        for checkpoint in self.checkpoints:
            if checkpoint.test_accuracy >= accuracy:
                return checkpoint.seconds
        return None


def predict_accuracy(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    flip: bool = False,
    batch_size: int = 500,
) -> float:
    """Accuracy of ``model``'s predictions, optionally averaged with mirror images.

    Uses ``predict``, not ``evaluate``, so it can run inside ``fit`` (from a
    callback) without resetting the training metrics.

    Args:
        model: A classifier with one probability (or logit) per class.
        images: Shape ``(n, height, width, channels)``.
        labels: Integer labels, shape ``(n,)``.
        flip: Also predict each image mirrored left to right and average the
            two outputs (test-time augmentation for a network trained with
            flips).
        batch_size: Images per prediction batch.
    """
    scores = model.predict(images, batch_size=batch_size, verbose=0)
    if flip:
        scores = scores + model.predict(images[:, :, ::-1], batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(scores, axis=-1) == labels))


class TimeBudget(keras.callbacks.Callback):
    """Stops ``fit`` after a budget of training time; evaluates at checkpoints.

    Training time excludes the evaluations, during which the clock pauses.
    Pass a large ``epochs`` to ``fit``: this callback ends the run.

    Args:
        budget_seconds: Training seconds before training stops; ``None`` for
            no time limit (then ``max_images`` must be given).
        batch_size: Images per step, to count the images seen.
        evaluate: Returns the test accuracy of the model.
        eval_every: Training seconds between evaluations.
        max_images: Stop after this many training images, if sooner.
        schedule: Learning rate as a function of the fraction of the budget
            used (0 to 1), set before every step; ``None`` leaves it alone.
    """

    def __init__(
        self,
        budget_seconds: float | None,
        *,
        batch_size: int,
        evaluate: Callable[[keras.Model], float],
        eval_every: float,
        max_images: int | None = None,
        schedule: Callable[[float], float] | None = None,
    ) -> None:
        super().__init__()
        if budget_seconds is None and max_images is None:
            raise ValueError("Give a time budget, a number of images, or both.")
        if eval_every <= 0:
            raise ValueError(f"eval_every must be positive, got {eval_every!r}.")
        self.budget_seconds = budget_seconds
        self.batch_size = batch_size
        self.evaluate = evaluate
        self.eval_every = eval_every
        self.max_images = max_images
        self.schedule = schedule
        self.checkpoints: list[Checkpoint] = []
        self.images = 0

    @property
    def seconds(self) -> float:
        """Training seconds so far."""
        return time.perf_counter() - self._start - self._paused

    def progress(self) -> float:
        """Fraction of the run done, by time or by images, whichever is further."""
        done = 0.0
        if self.budget_seconds is not None:
            done = self.seconds / self.budget_seconds
        if self.max_images is not None:
            done = max(done, self.images / self.max_images)
        return min(done, 1.0)

    def on_train_begin(self, logs: dict | None = None) -> None:  # noqa: D102
        self._start = time.perf_counter()
        self._paused = 0.0
        self._next_eval = self.eval_every

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:  # noqa: D102
        if self.schedule is not None:
            self.model.optimizer.learning_rate = self.schedule(self.progress())

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:  # noqa: D102
        self.images += self.batch_size
        finished = self.progress() >= 1.0
        if finished or self.seconds >= self._next_eval:
            self.checkpoint()
            self._next_eval = self.seconds + self.eval_every
        if finished:
            self.model.stop_training = True

    def checkpoint(self) -> Checkpoint:
        """Evaluate now, with the clock paused, and keep the result."""
        seconds = self.seconds
        paused_at = time.perf_counter()
        accuracy = self.evaluate(self.model)
        spent = time.perf_counter() - paused_at
        self._paused += spent
        point = Checkpoint(
            seconds=seconds, images=self.images, test_accuracy=accuracy, eval_seconds=spent
        )
        self.checkpoints.append(point)
        minutes, rest = divmod(seconds, 60)
        print(
            f"  {int(minutes):3d}:{rest:04.1f} of training, {self.images:>9,} images: "
            f"test accuracy {accuracy:.4f}",
            flush=True,
        )
        return point


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


def train_timed(
    recipe: Recipe,
    data: FashionMNIST,
    *,
    budget_seconds: float | None = None,
    epochs: float | None = None,
    eval_every: float = 30.0,
    seed: int = 42,
    verbose: int = 0,
) -> TimedRun:
    """Train a recipe for a time budget (or a number of epochs) and measure it.

    The test images are evaluated every ``eval_every`` training seconds and
    at the end; `TimedRun.seconds_to` reads the times to each accuracy from
    these checkpoints. Nothing is chosen by test accuracy: the recipe is fixed
    before the run, and the validation accuracy is reported beside it.

    Args:
        recipe: What to train and how (`cnn_guide.recipes`).
        data: Fashion-MNIST, or a subset of it.
        budget_seconds: Training seconds; the recipe's schedule spans them.
        epochs: Passes over the training images; training stops at whichever
            of the budget and the epochs comes first.
        eval_every: Training seconds between test evaluations.
        seed: Seeds the weights, the shuffling and the augmentation.
        verbose: Keras ``fit`` verbosity (the checkpoints always print a line).

    Returns:
        The run: model, checkpoints, final accuracies, speed and peak memory.

    Raises:
        ValueError: Without a budget or epochs, or with a non-positive one.
    """
    from cnn_guide import distribute

    if budget_seconds is None and epochs is None:
        raise ValueError(
            "train_timed needs budget_seconds, epochs or both, e.g. budget_seconds=180."
        )
    for label, value in (("budget_seconds", budget_seconds), ("epochs", epochs)):
        if value is not None and value <= 0:
            raise ValueError(f"{label} must be positive, got {value!r}.")
    keras.utils.set_random_seed(seed)
    precision = distribute.choose_precision(recipe.precision, None)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision)
    try:
        model = recipe.build_model()
    finally:
        keras.mixed_precision.set_global_policy(previous)
    model.compile(
        optimizer=recipe.make_optimizer(),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing),
    )

    def test_accuracy(net: keras.Model) -> float:
        return predict_accuracy(net, data.x_test, data.y_test)

    budget = TimeBudget(
        budget_seconds,
        batch_size=recipe.batch_size,
        evaluate=test_accuracy,
        eval_every=eval_every,
        max_images=None if epochs is None else round(epochs * len(data.x_train)),
        schedule=recipe.schedule,
    )
    train_set = recipe.dataset(data.x_train, data.y_train, seed=seed)
    with MemoryPeak() as memory:
        model.fit(train_set, epochs=1_000_000, callbacks=[budget], shuffle=False, verbose=verbose)
    if not budget.checkpoints or budget.checkpoints[-1].images != budget.images:
        budget.checkpoint()  # the data ran out before the budget: measure the end
    final = budget.checkpoints[-1]
    return TimedRun(
        model=model,
        recipe=recipe.name,
        checkpoints=budget.checkpoints,
        budget_seconds=budget_seconds,
        train_seconds=final.seconds,
        images=budget.images,
        train_size=len(data.x_train),
        test_size=len(data.x_test),
        valid_accuracy=predict_accuracy(
            model, data.x_valid, data.y_valid, flip=recipe.flip_at_test
        ),
        test_accuracy=final.test_accuracy,
        test_accuracy_flip=(
            predict_accuracy(model, data.x_test, data.y_test, flip=True)
            if recipe.flip_at_test
            else None
        ),
        peak_memory_mb=memory.peak_mb,
        precision=precision,
    )
