"""The book's benchmark: what each architecture reaches in the same training time.

Chapter: ``docs/chapters/results.md``.

```bash
cnn-guide bench --record                     # every variant, 3 minutes each
cnn-guide bench --recipe fast --budget 10 --record
cnn-guide bench --throughput --models vgg_fashion
```

The protocol, the same for every architecture: the ``"protocol"`` recipe
(`cnn_guide.recipes`: Adam at 1e-3, batch 128, no augmentation, float32, seed
42) on all 55,000 training images for a fixed budget of training time
(`cnn_guide.timed.train_timed`), with the 10,000 test images evaluated every
30 s of training and at the end (the clock stops while they are). A fixed
*time* rather than a fixed number of epochs asks what a reader with this
machine gets for their wait: a network that is slow per image gets fewer
epochs. `benchmark_record` turns a run into a row of the results file
(`cnn_guide.results`), with the machine it ran on.

`measure_throughput` times training steps and inference alone, after a
warm-up that absorbs graph tracing, with one long-lived input iterator so
epoch boundaries cannot stall the measurement.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import keras

from cnn_guide.data import FashionMNIST, make_dataset

if TYPE_CHECKING:
    from cnn_guide.recipes import Recipe
    from cnn_guide.timed import TimedRun

__all__ = [
    "Throughput",
    "benchmark_record",
    "check_fashion_model",
    "measure_throughput",
    "run_key",
]


def check_fashion_model(name: str) -> None:
    """Fail clearly unless ``name`` is a registered model for 28x28x1 images.

    Raises:
        ValueError: For an unknown name, or a paper configuration (224x224x3).
    """
    from cnn_guide import models

    info = models.get_info(name)
    if tuple(info.input_shape) != (28, 28, 1):
        fashion = [n for n in models.list_models() if n.endswith("_fashion")]
        raise ValueError(
            f"{name} takes {info.input_shape} inputs; benchmark a Fashion-MNIST "
            f"model instead: {', '.join(['simple_cnn', *fashion])}."
        )


def run_key(
    recipe: str,
    model: str,
    budget_minutes: float,
    epochs: float | None = None,
    *,
    quick: bool = False,
) -> str:
    """The results-file key of a benchmark run, e.g. ``bench:protocol:vgg_fashion:3min``.

    Re-running the same recipe, model and budget replaces that row only.
    """
    key = f"bench:{recipe}:{model}:{budget_minutes:g}min"
    key += f":e{epochs:g}" if epochs else ""
    return key + (":quick" if quick else "")


def benchmark_record(
    run: TimedRun, recipe: Recipe, *, command: str, quick: bool = False
) -> dict[str, Any]:
    """The row of the results file for one timed run.

    Args:
        run: The finished run.
        recipe: The recipe it trained.
        command: The command that reproduces it.
        quick: Whether it was a smoke run on a subset (never shown as a result).

    Returns:
        Every figure the benchmark reports, as plain JSON values.
    """
    from cnn_guide import analysis

    return {
        "model": recipe.model,
        "recipe": recipe.name,
        "recipe_description": recipe.describe(),
        "command": command,
        "quick": quick,
        "parameters": run.model.count_params(),
        "macs": analysis.layer_table(run.model).macs or 0,
        "precision": run.precision,
        "batch_size": recipe.batch_size,
        "train_size": run.train_size,
        "test_size": run.test_size,
        "budget_seconds": run.budget_seconds,
        "train_seconds": run.train_seconds,
        "epochs": run.epochs,
        "train_images_per_second": run.train_images_per_second,
        "inference_images_per_second": run.inference_images_per_second,
        "seconds_per_epoch": run.seconds_per_epoch,
        "seconds_to": run.reached,
        "test_accuracy": run.final_accuracy,
        "test_accuracy_single_view": run.test_accuracy,
        "valid_accuracy": run.valid_accuracy,
        "peak_memory_mb": run.peak_memory_mb,
        "checkpoints": [[round(c.seconds, 2), c.images, c.test_accuracy] for c in run.checkpoints],
    }


@dataclass(frozen=True)
class Throughput:
    """Speed of one model on one machine.

    Attributes:
        model: Registry name.
        parameters: Total parameter count.
        macs: Multiply-accumulates per image (forward pass).
        batch_size: Images per training step and per inference batch.
        train_images_per_second: Training throughput (forward, backward, update).
        inference_images_per_second: Prediction throughput.
        precision: Keras dtype policy used.
    """

    model: str
    parameters: int
    macs: int
    batch_size: int
    train_images_per_second: float
    inference_images_per_second: float
    precision: str = "float32"

    def as_dict(self) -> dict:
        """The fields as a plain dictionary."""
        return asdict(self)


def measure_throughput(
    name: str,
    data: FashionMNIST,
    *,
    batch_size: int = 128,
    train_steps: int = 20,
    warmup_steps: int = 3,
    inference_images: int = 2_048,
    precision: str = "float32",
) -> Throughput:
    """Time training steps and inference of a registered model.

    Args:
        name: Registry name of a model that takes 28x28x1 inputs.
        data: Fashion-MNIST; its training images feed the measurement.
        batch_size: Images per step.
        train_steps: Timed training steps (after the warm-up).
        warmup_steps: Untimed steps first (graph tracing, allocation).
        inference_images: Images predicted in the timed inference pass.
        precision: Keras dtype policy (``"float32"``, ``"mixed_bfloat16"``, ...).

    Returns:
        The measured throughput.

    Raises:
        ValueError: For a model that does not take 28x28x1 images, or bad counts.
    """
    from cnn_guide import analysis, models

    check_fashion_model(name)
    for label, value in (("batch_size", batch_size), ("train_steps", train_steps)):
        if value < 1:
            raise ValueError(f"{label} must be positive, got {value}.")
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision)
    try:
        model = models.build(name)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    # One iterator for warm-up and timed steps: no epoch boundary in between.
    batches = iter(make_dataset(data.x_train, data.y_train, batch_size=batch_size, repeat=True))
    for _ in range(warmup_steps):
        model.train_on_batch(*next(batches))
    start = time.perf_counter()
    for _ in range(train_steps):
        model.train_on_batch(*next(batches))
    train_seconds = time.perf_counter() - start

    images = data.x_train[:inference_images]
    model.predict(images[:batch_size], batch_size=batch_size, verbose=0)  # warm-up
    start = time.perf_counter()
    model.predict(images, batch_size=batch_size, verbose=0)
    inference_seconds = time.perf_counter() - start
    return Throughput(
        model=name,
        parameters=model.count_params(),
        macs=analysis.layer_table(model).macs or 0,
        batch_size=batch_size,
        train_images_per_second=train_steps * batch_size / train_seconds,
        inference_images_per_second=len(images) / inference_seconds,
        precision=precision,
    )
