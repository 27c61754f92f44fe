"""Training recipes: the one description of how a network is trained.

A `Recipe` holds every training setting (optimizer and learning-rate
schedule, loss, batch, precision, augmentation, batch-norm settling, seed) and
a stop rule (epochs, minutes of training, or steps). Everything that trains
takes one by name and overrides a field where it must:

```python
from cnn_guide.recipes import get_recipe, list_recipes

list_recipes()                          # ['protocol', 'seed', 'fast', ...]
protocol = get_recipe("protocol")       # Adam, batch 128, 10 epochs
short = get_recipe("protocol", epochs=2)
bench = get_recipe("book", minutes=3, eval_every=30)  # a time budget instead
print(get_recipe("fast").describe())    # one line per technique
```

`cnn_guide.training.fit` trains any model under any recipe. Each field
carries its command-line help, so that ``cnn-guide train`` offers one option
per field and a recorded run's command states exactly the fields it changed
(`cnn_guide.runs.RunSpec`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # keras is imported where it is used: ``cnn-guide --help`` stays fast
    import keras
    import numpy as np

from cnn_guide._validate import positive_int

__all__ = [
    "PRECISIONS",
    "SCHEDULES",
    "STOP_FIELDS",
    "Recipe",
    "get_recipe",
    "list_recipes",
    "one_cycle",
    "setting_fields",
]


PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
"""Precision names a recipe accepts: a Keras dtype policy, or ``"auto"``
(`cnn_guide.distribute.choose_precision`)."""

SCHEDULES = ("constant", "one-cycle")
"""Learning-rate schedules a recipe accepts."""

STOP_FIELDS = ("epochs", "minutes", "steps")
"""The fields of the stop rule: training ends at whichever set one comes first."""


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


def _setting(default: Any, help: str, metavar: str | None = None) -> Any:
    """A recipe field that ``cnn-guide train`` offers as an option."""
    return field(default=default, metadata={"help": help, "metavar": metavar})


@dataclass(frozen=True)
class Recipe:
    """How a network is trained: every setting and the rule that ends training.

    Attributes:
        name: The recipe's registered name.
        summary: One line on what the recipe is for.
        model: The registered model the recipe was designed for, or ``None``
            for a recipe meant for any architecture. Only ``cnn-guide bench``
            reads it, to choose a model when none is named.
        optimizer: Keras optimizer name (``"adam"``, ``"adamw"``, ``"nadam"``,
            ``"sgd"``, ...).
        learning_rate: The constant learning rate, or the one-cycle schedule's peak.
        schedule: ``"constant"`` or ``"one-cycle"`` (`one_cycle`, spread over
            the stop rule: epochs, minutes or steps).
        momentum: Momentum, for ``"sgd"`` only.
        weight_decay: Decoupled weight decay (for ``"adamw"``); 0 for none.
        batch_size: Images per step and replica; the global batch is this
            times the strategy's replicas.
        scale_learning_rate: Multiply the learning rate by the number of
            replicas (the linear scaling rule,
            `cnn_guide.distribute.linear_scaling`).
        label_smoothing: Share of each target spread over the other classes.
        flip: Mirror training images left to right at random.
        alternate_flips: With ``flip``, mirror each training image in every
            other epoch instead of at random: its first epoch's choice is
            random (seeded), and each epoch after flips it the other way, so
            that any two consecutive epochs show both views of every image
            (airbench's "alternating flip", Jordan (2024), section 3.6).
        shift: Largest random shift of training images, in pixels.
        erasing: The chance that a training image loses a random rectangle to
            random pixels (`cnn_guide.augment.random_erasing`); 0 for none.
        mixup: Beta(alpha, alpha)'s alpha for mixup (`cnn_guide.augment.mixup`);
            0 for none.
        cutmix: Beta(alpha, alpha)'s alpha for CutMix (`cnn_guide.augment.cutmix`);
            0 for none. A recipe mixes one way at most.
        ema: Score an exponential moving average of the weights, with this
            momentum per step (Keras' ``use_ema``); 0 scores the weights as
            trained. Checkpoints during training score the weights as they
            are; the final figures, the average.
        flip_at_test: Average each test image's prediction with its mirror's.
        settle_batch_norm: Recompute batch normalization's moving statistics
            from training images before every evaluation
            (`cnn_guide.training.PreciseBatchNorm`).
        precision: A Keras dtype policy name, or ``"auto"``.
        seed: Seeds the weights, dropout, shuffling and augmentation.
        epochs: Stop after this many passes over the training images.
        minutes: Stop after this many minutes of training (evaluations excluded).
        steps: Stop after this many optimizer steps.
        steps_per_epoch: Optimizer steps that make an epoch, whatever the
            number of training images; ``None`` (the default): one pass over
            them, ``ceil(train_size / global_batch)`` steps. Runs that learn
            from 50 or 5,000 images then make as many updates per epoch, and
            are scored on the validation images as often.
        eval_every: Training seconds between test-accuracy checkpoints, which
            give the times to each accuracy; ``None`` evaluates the test
            images once, at the end.
    """

    name: str
    summary: str = ""
    model: str | None = None
    optimizer: str = _setting("adam", "Keras optimizer name", "NAME")
    learning_rate: float = _setting(1e-3, "learning rate (the one-cycle peak)", "LR")
    schedule: str = _setting("constant", "learning-rate schedule: constant or one-cycle", "NAME")
    momentum: float = _setting(0.0, "momentum (sgd only)", "M")
    weight_decay: float = _setting(0.0, "decoupled weight decay (adamw)", "WD")
    batch_size: int = _setting(128, "images per step and replica", "N")
    scale_learning_rate: bool = _setting(False, "multiply the learning rate by the replicas")
    label_smoothing: float = _setting(0.0, "label smoothing", "S")
    flip: bool = _setting(False, "random left-right flips of training images")
    alternate_flips: bool = _setting(
        False, "with flip: mirror each training image in every other epoch, not at random"
    )
    shift: int = _setting(0, "random shifts of training images, up to N pixels", "N")
    erasing: float = _setting(0.0, "chance a training image loses a random rectangle", "P")
    mixup: float = _setting(0.0, "mixup: alpha of its Beta(alpha, alpha); 0 for none", "A")
    cutmix: float = _setting(0.0, "CutMix: alpha of its Beta(alpha, alpha); 0 for none", "A")
    ema: float = _setting(0.0, "score a moving average of the weights: its momentum", "M")
    flip_at_test: bool = _setting(False, "average test predictions with mirror images")
    settle_batch_norm: bool = _setting(
        False, "recompute batch-norm statistics before every evaluation"
    )
    precision: str = _setting("float32", "auto, float32, mixed_bfloat16 or mixed_float16", "P")
    seed: int = _setting(42, "random seed", "N")
    epochs: float | None = _setting(None, "stop after N epochs", "N")
    minutes: float | None = _setting(None, "stop after N minutes of training", "N")
    steps: int | None = _setting(None, "stop after N steps", "N")
    steps_per_epoch: int | None = _setting(
        None, "optimizer steps per epoch (default: one pass over the training images)", "N"
    )
    eval_every: float | None = _setting(None, "seconds of training between test checkpoints", "S")

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(
                f"recipe {self.name!r}: schedule must be one of {SCHEDULES}, got {self.schedule!r}."
            )
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"recipe {self.name!r}: precision must be one of {PRECISIONS}, "
                f"got {self.precision!r}."
            )
        positive_int(self.batch_size, "batch_size", f"recipe {self.name!r}")
        for name in ("learning_rate", "epochs", "minutes", "eval_every"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float) and value > 0):
                raise ValueError(
                    f"recipe {self.name!r}: {name} must be a positive number, got {value!r}."
                )
        for name in ("steps", "steps_per_epoch"):
            if getattr(self, name) is not None:
                positive_int(getattr(self, name), name, f"recipe {self.name!r}")
        for name in ("momentum", "weight_decay", "label_smoothing", "shift", "mixup", "cutmix"):
            value = getattr(self, name)
            if value < 0:
                raise ValueError(
                    f"recipe {self.name!r}: {name} must not be negative, got {value!r}."
                )
        if not 0 <= self.erasing <= 1:
            raise ValueError(
                f"recipe {self.name!r}: erasing is a chance in [0, 1], got {self.erasing!r}."
            )
        if not 0 <= self.ema < 1:
            raise ValueError(
                f"recipe {self.name!r}: ema is a momentum in [0, 1) (0: no average), "
                f"got {self.ema!r}."
            )
        if self.alternate_flips and not self.flip:
            raise ValueError(
                f"recipe {self.name!r}: alternate_flips says how flips alternate; it needs "
                "flip as well (--flip --alternate-flips)."
            )
        if self.mixup and self.cutmix:
            raise ValueError(
                f"recipe {self.name!r}: mixup and cutmix both mix images; set one of them to 0."
            )
        if self.label_smoothing >= 1:
            raise ValueError(
                f"recipe {self.name!r}: label_smoothing is a share below 1, "
                f"got {self.label_smoothing!r}."
            )

    def replace(self, **changes: Any) -> Recipe:
        """A copy with some fields changed.

        Giving any of the stop fields (``epochs``, ``minutes``, ``steps``)
        replaces the whole stop rule: ``replace(minutes=3)`` trains for 3
        minutes, whatever epochs the recipe had.

        Raises:
            ValueError: For an unknown field or a bad value.
        """
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(
                f"Recipe has no field {', '.join(map(repr, unknown))}; its fields are "
                f"{', '.join(f.name for f in dataclasses.fields(self))}."
            )
        if any(name in changes for name in STOP_FIELDS):
            changes = {**dict.fromkeys(STOP_FIELDS), **changes}
        return dataclasses.replace(self, **changes)

    def changes_from(self, base: Recipe) -> dict[str, Any]:
        """The settings in which this recipe differs from ``base``, by field name."""
        return {
            name: getattr(self, name)
            for name in setting_fields()
            if getattr(self, name) != getattr(base, name)
        }

    @property
    def stop_rule(self) -> str:
        """The stop rule in words, e.g. ``"10 epochs"`` or ``"3 min or 5 epochs"``."""
        parts = [
            *([f"{self.epochs:g} epoch(s)"] if self.epochs is not None else []),
            *([f"{self.minutes:g} min"] if self.minutes is not None else []),
            *([f"{self.steps} step(s)"] if self.steps is not None else []),
        ]
        return " or ".join(parts) or "no stop rule"

    def check_stop_rule(self) -> None:
        """Fail unless the recipe says when training ends.

        Raises:
            ValueError: Naming the fields that set a stop rule.
        """
        if all(getattr(self, name) is None for name in STOP_FIELDS):
            raise ValueError(
                f"recipe {self.name!r} has no stop rule: give epochs, minutes or steps, "
                f"e.g. get_recipe({self.name!r}, epochs=10) or --epochs 10."
            )

    def epoch_steps(self, train_size: int, global_batch: int) -> int:
        """Optimizer steps per epoch: ``steps_per_epoch``, else one pass over the images.

        A pass is ``ceil(train_size / global_batch)`` steps: its last batch
        is completed from the next pass over the shuffled images.
        """
        return self.steps_per_epoch or -(-train_size // global_batch)

    def max_steps(self, train_size: int, global_batch: int) -> int | None:
        """Optimizer steps the stop rule allows, or ``None`` when only minutes stop it.

        An epoch is `epoch_steps` steps.
        """
        per_epoch = self.epoch_steps(train_size, global_batch)
        limits = [
            *([round(self.epochs * per_epoch)] if self.epochs is not None else []),
            *([self.steps] if self.steps is not None else []),
        ]
        return max(min(limits), 1) if limits else None

    @property
    def learning_rate_schedule(self) -> Callable[[float], float] | None:
        """The learning rate by progress (0 to 1), or ``None`` for a constant one."""
        return one_cycle(self.learning_rate) if self.schedule == "one-cycle" else None

    def make_optimizer(self, replicas: int = 1) -> keras.optimizers.Optimizer:
        """A fresh optimizer for one run on ``replicas`` replicas.

        Raises:
            ValueError: For an unknown optimizer name, or momentum with an
                optimizer other than SGD.
        """
        import keras

        rate = self.learning_rate * (replicas if self.scale_learning_rate else 1)
        config: dict[str, Any] = {"learning_rate": rate}
        if self.weight_decay:
            config["weight_decay"] = self.weight_decay
        if self.ema:
            config.update(use_ema=True, ema_momentum=self.ema)
        if self.momentum:
            if self.optimizer.lower() != "sgd":
                raise ValueError(
                    f"recipe {self.name!r}: momentum applies to 'sgd' only, "
                    f"not {self.optimizer!r}; set momentum to 0."
                )
            config["momentum"] = self.momentum
        try:
            return keras.optimizers.get({"class_name": self.optimizer, "config": config})
        except (ValueError, TypeError):
            raise ValueError(
                f"Unknown optimizer {self.optimizer!r} (or a setting it does not take: "
                f"{sorted(config)}). Use a Keras optimizer name such as 'adam', 'adamw', "
                "'nadam', 'sgd' or 'rmsprop'."
            ) from None

    def dataset(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        *,
        batch_size: int | None = None,
        num_classes: int = 10,
    ):
        """The endless, shuffled and augmented training pipeline, with one-hot labels.

        Augmentation runs on whole batches inside ``tf.data`` (vectorized, in
        parallel with the training step), not inside the model, so the saved
        model holds no augmentation layers.

        Args:
            images: Training images.
            labels: Their integer labels.
            batch_size: Images per batch (default: the recipe's; `fit`
                passes the global batch of a multi-replica run).
            num_classes: Classes of the one-hot labels (fewer for a run
                restricted to some classes, `cnn_guide.data.FashionMNIST.restrict`).
        """
        import keras
        import tensorflow as tf

        from cnn_guide import augment
        from cnn_guide.data import make_dataset

        batch_size = batch_size or self.batch_size
        if self.alternate_flips:
            dataset = _alternately_flipped(images, labels, batch_size, self.seed)
        else:
            dataset = make_dataset(
                images, labels, batch_size=batch_size, shuffle=True, seed=self.seed, repeat=True
            )
        random_flips = self.flip and not self.alternate_flips
        flip = keras.layers.RandomFlip("horizontal", seed=self.seed) if random_flips else None
        shift = (
            keras.layers.RandomTranslation(
                self.shift / images.shape[1],
                self.shift / images.shape[2],
                fill_mode="constant",
                interpolation="nearest",
                seed=self.seed,
            )
            if self.shift
            else None
        )

        mixing = self.erasing or self.mixup or self.cutmix
        generator = tf.random.Generator.from_seed(self.seed) if mixing else None

        def prepare(batch, targets):
            if flip is not None:
                batch = flip(batch, training=True)
            if shift is not None:
                batch = shift(batch, training=True)
            targets = tf.one_hot(targets, num_classes)
            if self.erasing:
                batch = augment.random_erasing(batch, generator, self.erasing)
            if self.mixup:
                batch, targets = augment.mixup(batch, targets, generator, self.mixup)
            if self.cutmix:
                batch, targets = augment.cutmix(batch, targets, generator, self.cutmix)
            return batch, targets

        return dataset.map(prepare).prefetch(2)

    def describe(self) -> str:
        """What the recipe does, in one line per choice."""
        rate = (
            f"one-cycle learning rate, peak {self.learning_rate:g}"
            if self.schedule == "one-cycle"
            else f"constant learning rate {self.learning_rate:g}"
        )
        rate += f", momentum {self.momentum:g}" if self.momentum else ""
        rate += f", weight decay {self.weight_decay:g}" if self.weight_decay else ""
        rate += ", scaled by the replicas" if self.scale_learning_rate else ""
        rate += f", weights averaged (EMA {self.ema:g})" if self.ema else ""
        flips = (
            "left-right flips in alternate epochs"
            if self.alternate_flips
            else "random left-right flips"
        )
        augment = [
            *([flips] if self.flip else []),
            *([f"random shifts of up to {self.shift} px"] if self.shift else []),
            *([f"random erasing of {self.erasing:.0%} of images"] if self.erasing else []),
            *([f"mixup (alpha {self.mixup:g})"] if self.mixup else []),
            *([f"CutMix (alpha {self.cutmix:g})"] if self.cutmix else []),
        ]
        registered = _RECIPES.get(self.name)
        changed = (
            {k: v for k, v in self.changes_from(registered).items() if k not in STOP_FIELDS}
            if registered is not None
            else {}
        )
        title = self.name + (
            " with " + ", ".join(f"{k}={v}" for k, v in changed.items()) if changed else ""
        )
        lines = [
            f"{title}: {self.summary}" if self.summary else title,
            *([f"  model {self.model}"] if self.model else []),
            f"  {self.optimizer}, {rate}, batch {self.batch_size}, {self.precision}, "
            f"seed {self.seed}",
            f"  label smoothing {self.label_smoothing:g}"
            + (f"; {' and '.join(augment)}" if augment else "; no augmentation")
            + ("; test predictions averaged with mirror images" if self.flip_at_test else "")
            + (
                "; batch-norm statistics settled before evaluating"
                if self.settle_batch_norm
                else ""
            ),
            f"  stops after {self.stop_rule}"
            + (f" of {self.steps_per_epoch} steps each" if self.steps_per_epoch else ""),
        ]
        return "\n".join(lines)


def _alternately_flipped(images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int):
    """The endless, shuffled training batches, each image mirrored in every other epoch.

    Image ``i`` is mirrored in epoch ``e`` when ``first[i] + e`` is odd, with
    ``first`` drawn once from the seed. The shuffle is repeated before
    batching, so element ``k`` of the stream belongs to epoch ``k // n``.
    """
    import numpy as np
    import tensorflow as tf

    from cnn_guide.data import without_autotune

    count = len(images)
    first = np.random.default_rng(seed).integers(0, 2, count)
    dataset = (
        tf.data.Dataset.from_tensor_slices((images, labels, first))
        .shuffle(count, seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .enumerate()
    )

    def mirror(position, element):
        image, label, first_flip = element
        flipped = (first_flip + position // count) % 2 == 1
        return tf.where(flipped, tf.image.flip_left_right(image), image), label

    return without_autotune(dataset.map(mirror).batch(batch_size))


def setting_fields() -> tuple[str, ...]:
    """The recipe fields that are training settings (all but name, summary and model)."""
    return tuple(f.name for f in dataclasses.fields(Recipe) if "help" in f.metadata)


# What each technique buys is measured on the validation images by the
# ``fast-ablation`` experiment (`cnn_guide.experiments`: each removed or added
# in turn, three seeds each), and the whole recipe against the seed recipe by
# ``cnn-guide bench --recipe fast --against seed``.
_FAST = Recipe(
    name="fast",
    model="fast_resnet_fashion",
    summary="the fastest route to high accuracy on a small CPU",
    optimizer="adamw",
    learning_rate=4e-3,
    schedule="one-cycle",
    weight_decay=5e-4,
    label_smoothing=0.1,
    precision="auto",
    minutes=3,
    eval_every=30,
)

_PROTOCOL = Recipe(
    name="protocol",
    summary="the plain baseline: Adam at its default learning rate, batch 128, 10 epochs",
    epochs=10,
)

# Chosen on the 5,000 validation images of 10-epoch runs of LeNet-5 and the
# fast ResNet (``cnn-guide record`` keeps them): against the protocol recipe it
# gained 1.5 and 2.8 points; flips and 2-pixel shifts on top of it cost 2.1
# and 0.5 points, so a 10-epoch run goes without them.
_BOOK = Recipe(
    name="book",
    summary="the book's recipe for every architecture's full run: AdamW with a one-cycle "
    "schedule, weight decay, label smoothing and settled batch-norm statistics, 10 epochs",
    optimizer="adamw",
    learning_rate=4e-3,
    schedule="one-cycle",
    weight_decay=5e-4,
    label_smoothing=0.1,
    settle_batch_norm=True,
    epochs=10,
)

_RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        _BOOK,
        _PROTOCOL,
        Recipe(
            name="seed",
            model="simple_cnn",
            summary="the seed notebook's recipe: the simple CNN, Nadam, batch 32, 10 epochs",
            optimizer="nadam",
            batch_size=32,
            epochs=10,
        ),
        dataclasses.replace(
            _BOOK,
            name="benchmark",
            summary="the book recipe for a fixed time: what each architecture reaches "
            "in 3 minutes, with the test accuracy checked every 30 s of training",
            epochs=None,
            minutes=3,
            eval_every=30,
        ),
        dataclasses.replace(
            _PROTOCOL,
            name="throughput",
            summary="the protocol recipe for 23 steps: training and inference speed "
            "(the first 3 steps, which trace the graph, are not timed)",
            epochs=None,
            steps=23,
        ),
        _FAST,
    )
}


def list_recipes() -> list[str]:
    """Names of the registered recipes."""
    return list(_RECIPES)


def get_recipe(name: str, **changes: Any) -> Recipe:
    """A registered recipe, with some fields changed.

    Args:
        name: A name from `list_recipes`.
        **changes: Fields to change (see `Recipe.replace`), e.g.
            ``epochs=20`` or ``model="vgg_fashion"``.

    Raises:
        ValueError: For an unknown recipe, field or model name.
    """
    try:
        recipe = _RECIPES[name]
    except KeyError:
        raise ValueError(
            f"unknown recipe {name!r}; choose one of: {', '.join(_RECIPES)}."
        ) from None
    if changes.get("model") is not None:
        from cnn_guide import models

        models.get_info(changes["model"])  # an unknown name fails here, with the list
    return recipe.replace(**changes) if changes else recipe


def field_help(name: str) -> Mapping[str, Any]:
    """The command-line help and metavar of a recipe setting."""
    return next(f.metadata for f in dataclasses.fields(Recipe) if f.name == name)
