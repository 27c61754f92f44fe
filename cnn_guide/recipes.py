"""Training recipes: a model together with how to train it.

The benchmark compares architectures under one fixed recipe (``"protocol"``)
and compares recipes with each other (``"fast"`` against ``"seed"``, and the
fast recipe with one technique changed at a time):

```python
from cnn_guide.recipes import get_recipe, list_recipes

list_recipes()                 # ['protocol', 'seed', 'fast', 'fast-augment', ...]
fast = get_recipe("fast")
fast.describe()                # one line per technique
protocol = get_recipe("protocol", model="resnet_fashion")
```

Every recipe trains with `cnn_guide.timed.train_timed`, which spreads its
learning-rate schedule over the time budget.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np

__all__ = ["Recipe", "get_recipe", "list_recipes", "one_cycle"]


def one_cycle(peak: float, warmup: float = 0.25, final: float = 0.0) -> Callable[[float], float]:
    """The one-cycle learning-rate schedule, as a function of progress (0 to 1).

    Rises linearly from ``peak / 10`` to ``peak`` over the first ``warmup``
    of the run, then falls along a half cosine to ``final`` at its end
    (Smith and Topin, 2017, "Super-Convergence: Very Fast Training of Neural
    Networks Using Large Learning Rates", https://arxiv.org/abs/1708.07120).

    Args:
        peak: Highest learning rate.
        warmup: Fraction of the run spent rising.
        final: Learning rate at the very end.

    Raises:
        ValueError: For a non-positive peak or a warm-up outside [0, 1).
    """
    if peak <= 0:
        raise ValueError(f"peak learning rate must be positive, got {peak!r}.")
    if not 0 <= warmup < 1:
        raise ValueError(f"warmup is a fraction of the run in [0, 1), got {warmup!r}.")

    def learning_rate(progress: float) -> float:
        if progress < warmup:
            return peak * (0.1 + 0.9 * progress / warmup)
        fall = (progress - warmup) / (1 - warmup)
        return final + (peak - final) * 0.5 * (1 + math.cos(math.pi * min(fall, 1.0)))

    return learning_rate


@dataclass(frozen=True)
class Recipe:
    """A registered model and the way to train it.

    Attributes:
        name: The recipe's name.
        model: Registry name of the model (`cnn_guide.models`).
        summary: One line on what the recipe is for.
        optimizer: Keras optimizer name.
        learning_rate: Constant learning rate, or the one-cycle schedule's peak.
        one_cycle: Spread a `one_cycle` schedule over the budget.
        weight_decay: Decoupled weight decay (``AdamW``); 0 for none.
        batch_size: Images per step.
        label_smoothing: Share of each target spread over the other classes.
        flip: Mirror training images left to right at random.
        shift: Largest random shift of training images, in pixels.
        flip_at_test: Average each test image's prediction with its mirror's.
        precision: ``"float32"`` or ``"auto"`` (bfloat16 where the CPU has
            native support, float16 on an NVIDIA GPU; see
            `cnn_guide.distribute.choose_precision`).
    """

    name: str
    model: str
    summary: str
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    one_cycle: bool = False
    weight_decay: float = 0.0
    batch_size: int = 128
    label_smoothing: float = 0.0
    flip: bool = False
    shift: int = 0
    flip_at_test: bool = False
    precision: str = "float32"

    @property
    def schedule(self) -> Callable[[float], float] | None:
        """The learning rate by progress, or ``None`` for a constant one."""
        return one_cycle(self.learning_rate) if self.one_cycle else None

    def build_model(self) -> keras.Model:
        """Build the recipe's model (under the caller's dtype policy)."""
        from cnn_guide import models

        return models.build(self.model)

    def make_optimizer(self) -> keras.optimizers.Optimizer:
        """A fresh optimizer for one run."""
        config: dict = {"learning_rate": self.learning_rate}
        if self.weight_decay:
            config["weight_decay"] = self.weight_decay
        return keras.optimizers.get({"class_name": self.optimizer, "config": config})

    def dataset(self, images: np.ndarray, labels: np.ndarray, *, seed: int):
        """The endless, shuffled and augmented training pipeline, one-hot labels.

        Augmentation runs on whole batches inside ``tf.data`` (vectorized, in
        parallel with the training step), not inside the model, so the saved
        model holds no augmentation layers.
        """
        import tensorflow as tf

        from cnn_guide.data import make_dataset

        dataset = make_dataset(
            images, labels, batch_size=self.batch_size, shuffle=True, seed=seed, repeat=True
        )
        flip = keras.layers.RandomFlip("horizontal", seed=seed) if self.flip else None
        shift = (
            keras.layers.RandomTranslation(
                self.shift / images.shape[1],
                self.shift / images.shape[2],
                fill_mode="constant",
                interpolation="nearest",
                seed=seed,
            )
            if self.shift
            else None
        )

        def prepare(batch, targets):
            if flip is not None:
                batch = flip(batch, training=True)
            if shift is not None:
                batch = shift(batch, training=True)
            return batch, tf.one_hot(targets, 10)

        return dataset.map(prepare).prefetch(2)

    def describe(self) -> str:
        """What the recipe does, in one line per choice."""
        rate = (
            f"one-cycle learning rate, peak {self.learning_rate:g}, over the time budget"
            if self.one_cycle
            else f"constant learning rate {self.learning_rate:g}"
        )
        decay = f", weight decay {self.weight_decay:g}" if self.weight_decay else ""
        augment = [
            *(["random left-right flips"] if self.flip else []),
            *([f"random shifts of up to {self.shift} px"] if self.shift else []),
        ]
        lines = [
            f"{self.name}: {self.summary}",
            f"  model {self.model}",
            f"  {self.optimizer}, {rate}{decay}, batch {self.batch_size}, {self.precision}",
            f"  label smoothing {self.label_smoothing:g}"
            + (f"; {' and '.join(augment)}" if augment else "; no augmentation")
            + ("; test predictions averaged with mirror images" if self.flip_at_test else ""),
        ]
        return "\n".join(lines)


# Chosen on the validation images of 3-minute runs on a 2-core CPU: with flips,
# 2-pixel shifts and test-time flips the network reached 0.9168 validation
# accuracy, without them 0.9244 (a short run cannot afford the harder task).
_FAST = Recipe(
    name="fast",
    model="fast_resnet_fashion",
    summary="the fastest route to high accuracy on a small CPU",
    optimizer="adamw",
    learning_rate=4e-3,
    one_cycle=True,
    weight_decay=5e-4,
    batch_size=128,
    label_smoothing=0.1,
    precision="auto",
)

_RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            name="protocol",
            model="resnet_fashion",
            summary="the benchmark's one recipe for every architecture (as in the examples)",
        ),
        Recipe(
            name="seed",
            model="simple_cnn",
            summary="the seed notebook's recipe: the simple CNN, Nadam, batch 32",
            optimizer="nadam",
            batch_size=32,
        ),
        _FAST,
        dataclasses.replace(
            _FAST,
            name="fast-augment",
            summary="the fast recipe with random flips and shifts, and flips at test time",
            flip=True,
            shift=2,
            flip_at_test=True,
        ),
        dataclasses.replace(
            _FAST,
            name="fast-no-schedule",
            summary="the fast recipe at a constant learning rate (Adam's default)",
            learning_rate=1e-3,
            one_cycle=False,
        ),
        dataclasses.replace(
            _FAST,
            name="fast-no-smoothing",
            summary="the fast recipe without label smoothing",
            label_smoothing=0.0,
        ),
    )
}


def list_recipes() -> list[str]:
    """Names of the registered recipes."""
    return list(_RECIPES)


def get_recipe(name: str, *, model: str | None = None) -> Recipe:
    """A registered recipe, optionally applied to another model.

    Args:
        name: A name from `list_recipes`.
        model: Train this registered model instead of the recipe's own (how
            the benchmark applies ``"protocol"`` to every architecture).

    Raises:
        ValueError: For an unknown recipe or model name.
    """
    try:
        recipe = _RECIPES[name]
    except KeyError:
        raise ValueError(
            f"unknown recipe {name!r}; choose one of: {', '.join(_RECIPES)}."
        ) from None
    if model is None:
        return recipe
    from cnn_guide import models

    models.get_info(model)  # an unknown name fails here, with the list of names
    return dataclasses.replace(recipe, model=model)
