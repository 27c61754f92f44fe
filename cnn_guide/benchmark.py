"""Measure how fast each model trains and predicts on this machine.

```bash
cnn-guide bench --models resnet_fashion,vgg_fashion --record
```

`measure_throughput` times training steps and inference on real
Fashion-MNIST images, after a warm-up that absorbs graph tracing, with one
long-lived input iterator so epoch boundaries cannot stall the measurement.
Recorded figures go to the results file (`cnn_guide.results`) with the
machine they were measured on.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import keras

from cnn_guide.data import FashionMNIST, make_dataset

__all__ = ["Throughput", "measure_throughput"]


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

    info = models.get_info(name)
    if tuple(info.input_shape) != (28, 28, 1):
        fashion = [n for n in models.list_models() if n.endswith("_fashion")]
        raise ValueError(
            f"{name} takes {info.input_shape} inputs; benchmark a Fashion-MNIST "
            f"model instead: {', '.join(['simple_cnn', *fashion])}."
        )
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
