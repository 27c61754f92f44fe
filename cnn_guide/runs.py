"""What a recorded run is: what was asked for, what it measured, and where.

`RunSpec` is what was asked for, `RunFigures` what it measured, and
`RunRecord` both, with the machine, commit and date.

A run is asked for by a model, a recipe name and the recipe fields it
changes, plus where it ran (strategy, devices) and on how much data (the
quick subset or all of it). Its key in the store of runs and the command that
re-makes it are both derived from those arguments, by `RunSpec.arguments`:
a new recipe field appears in both without another line of code.

```python
from cnn_guide.runs import RunSpec

spec = RunSpec.of("lenet5_fashion", "book", epochs=20)
spec.key        # 'lenet5_fashion --recipe protocol --epochs 20'
spec.command    # 'cnn-guide train lenet5_fashion --recipe protocol --epochs 20 --record'
spec.resolve()  # the Recipe it trains under
```
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from cnn_guide.machine import git_commit, machine_info, machine_kind
from cnn_guide.recipes import STOP_FIELDS, Recipe, get_recipe, setting_fields

if TYPE_CHECKING:
    from cnn_guide.data import FashionMNIST

__all__ = [
    "ACCURACY_TARGETS",
    "TASK_FIELDS",
    "RunFigures",
    "RunRecord",
    "RunSpec",
    "settings_of",
    "trained_top_blocks",
]

BUSY_LOAD = 2.0
"""A 5-minute load average above this many times the cores marks a run's timings as
contended (TensorFlow alone, with its extra threads, keeps a 2-core machine near 3)."""

ACCURACY_TARGETS = (0.90, 0.91, 0.92, 0.93, 0.94, 0.95)
"""Test accuracies whose first crossing a run reports (`RunFigures.seconds_to`)."""


@dataclass(frozen=True, kw_only=True)
class RunFigures:
    """What one training run measured: the schema of a recorded run.

    The accuracy and inference fields are ``None`` only in runs migrated
    from the book's first results format, which did not measure them for
    throughput runs.

    Attributes:
        precision: The Keras dtype policy the model was built under.
        replicas: Replicas that shared each step.
        global_batch_size: Images per optimizer step across all replicas.
        learning_rate: The learning rate the optimizer started with (after
            any scaling); for a one-cycle schedule, its peak.
        parameters: The model's parameter count.
        macs: Multiply-accumulates per image (forward pass).
        train_size: Training images per epoch.
        valid_size: Validation images.
        test_size: Test images.
        epochs: Passes over the training images, counted in steps: an epoch
            is ``ceil(train_size / global_batch_size)`` steps, its last batch
            completed from the next pass (fractional for a run stopped by
            minutes or steps).
        images: Training images seen.
        train_seconds: Training seconds (evaluations excluded).
        train_images_per_second: Training speed once running, the first
            `cnn_guide.training.WARMUP_STEPS` steps (graph tracing) excluded.
        inference_images_per_second: Test images scored per second at the end.
        history: Per epoch: ``"loss"``, ``"accuracy"`` (training, under the
            recipe's loss), ``"val_loss"``, ``"val_accuracy"`` and
            ``"seconds"`` (training seconds at the epoch's end).
        checkpoints: ``[seconds, images, test accuracy]`` at each test
            checkpoint (`Recipe.eval_every`) and at the end.
        valid_accuracy: Validation accuracy at the end.
        test_accuracy: Test accuracy at the end, averaged with mirror images
            when the recipe says so.
        test_accuracy_single_view: Test accuracy at the end, each image once.
        test_loss: Test cross-entropy at the end.
        peak_memory_mb: Highest resident memory of the process during
            training, in MiB; on a GPU, the device's peak allocation;
            ``None`` where neither can be read.
        resumed_after_epochs: The epochs completed before each restart from a
            backup (`cnn_guide.training.fit`'s ``backup_dir``), in order;
            ``None`` for a run never stopped. The other figures cover the
            whole run, before and after every restart.
    """

    precision: str
    replicas: int
    global_batch_size: int
    learning_rate: float
    parameters: int
    macs: int
    train_size: int
    valid_size: int
    test_size: int
    epochs: float
    images: int
    train_seconds: float
    train_images_per_second: float
    inference_images_per_second: float | None
    history: dict[str, list[float]]
    checkpoints: list[list[float]]
    valid_accuracy: float | None
    test_accuracy: float | None
    test_accuracy_single_view: float | None
    test_loss: float | None
    peak_memory_mb: float | None = None
    resumed_after_epochs: list[int] | None = None

    @property
    def seconds_per_epoch(self) -> float:
        """Seconds per pass over the training images, at the steady training speed."""
        return self.train_size / self.train_images_per_second

    def seconds_to(self, accuracy: float) -> float | None:
        """Training seconds until the first checkpoint at or above ``accuracy``.

        The answer is only as fine as the checkpoints: the accuracy was
        crossed at some moment between the previous checkpoint and this one.

        Returns:
            Seconds, or ``None`` if no checkpoint reached ``accuracy``.
        """
        return next((s for s, _, a in self.checkpoints if a >= accuracy), None)

    @property
    def reached(self) -> dict[str, float | None]:
        """`seconds_to` each of `ACCURACY_TARGETS`, keyed ``"90%"``, ``"91%"``, ..."""
        return {f"{target:.0%}": self.seconds_to(target) for target in ACCURACY_TARGETS}

    def figures(self) -> dict[str, Any]:
        """The measured figures alone, as plain JSON values."""
        return {f.name: getattr(self, f.name) for f in fields(RunFigures)}

    def describe(self) -> str:
        """One sentence with the test accuracy and the training time."""
        return (
            f"Test accuracy {self.test_accuracy:.4f} on {self.test_size:,} test images after "
            f"{self.epochs:g} epoch(s) on {self.train_size:,} training images: "
            f"{self.train_seconds:.0f} s of training, {self.seconds_per_epoch:.0f} s per epoch."
        )


@dataclass(frozen=True)
class RunSpec:
    """One training run, as asked for: its key and command derive from these fields.

    Build it with `RunSpec.of`, which keeps only the recipe fields that
    really differ from the named recipe, so that one run has one key.

    Attributes:
        model: Registered model name.
        recipe: Registered recipe name (`cnn_guide.recipes.list_recipes`).
        changes: The recipe fields changed, as sorted ``(name, value)`` pairs.
        options: Builder arguments that change the model (e.g.
            ``skip_connections=False`` for a plain network), as sorted
            ``(name, value)`` pairs of JSON values.
        strategy: ``tf.distribute`` strategy name (`cnn_guide.distribute.STRATEGIES`).
        devices: Devices for the strategy, or ``None``.
        quick: A smoke run on the small quick subset, never shown as a result.
        task: What the run learns, where it is not all ten classes from
            scratch, as sorted ``(name, value)`` pairs of `TASK_FIELDS`: the
            transfer-learning and few-label runs.
    """

    model: str
    recipe: str = "book"
    changes: tuple[tuple[str, Any], ...] = ()
    options: tuple[tuple[str, Any], ...] = ()
    strategy: str = "default"
    devices: tuple[str, ...] | None = None
    quick: bool = False
    task: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(
        cls,
        model: str,
        recipe: str = "book",
        *,
        strategy: str = "default",
        devices: tuple[str, ...] | None = None,
        quick: bool = False,
        options: Mapping[str, Any] | None = None,
        task: Mapping[str, Any] | None = None,
        **changes: Any,
    ) -> RunSpec:
        """The run of ``model`` under ``recipe`` with some fields changed.

        A quick run trains for one epoch (of the small quick subset) unless a
        stop field is changed.

        Raises:
            ValueError: For an unknown recipe or field, or a bad value (of a
                recipe field or a `TASK_FIELDS` entry).
        """
        base = get_recipe(recipe)
        if quick and not any(name in changes for name in STOP_FIELDS):
            changes["epochs"] = 1  # a smoke run: one pass over the small subset
        resolved = base.replace(**changes) if changes else base
        return cls(
            model=model,
            recipe=recipe,
            changes=tuple(sorted(resolved.changes_from(base).items())),
            strategy=strategy,
            devices=tuple(devices) if devices else None,
            quick=quick,
            options=tuple(
                sorted((name, _frozen(value)) for name, value in (options or {}).items())
            ),
            task=_checked_task(task or {}),
        )

    def build_model(self) -> Any:
        """The model this run trains: a registry name, or a builder with its options.

        What `cnn_guide.training.fit` takes as its model.

        Raises:
            ValueError: For an option the model's builder does not take.
        """
        classes = dict(self.task).get("classes")
        if not self.options and classes is None:
            return self.model
        import inspect

        from cnn_guide import models

        builder = models.get_info(self.model).builder
        known = inspect.signature(builder).parameters
        unknown = sorted(name for name, _ in self.options if name not in known)
        if unknown:
            raise ValueError(
                f"{self.model} takes no option {', '.join(unknown)}; its options are "
                f"{', '.join(name for name in known if name not in _NOT_OPTIONS)}."
            )
        options = {name: _thawed(value) for name, value in self.options}
        if classes is not None:  # one output per class learned
            options["num_classes"] = len(classes)
        return lambda: models.build(self.model, **options)

    def task_data(self, data: FashionMNIST) -> FashionMNIST:
        """The part of ``data`` this run learns: its classes, and its labels per class.

        The labelled images are drawn with the recipe's seed.
        """
        task = dict(self.task)
        if "classes" not in task and "labels_per_class" not in task:
            return data
        return data.restrict(
            task.get("classes"), task.get("labels_per_class"), seed=self.resolve().seed
        )

    def resolve(self) -> Recipe:
        """The recipe this run trains under."""
        return get_recipe(self.recipe, **dict(self.changes))

    def arguments(self) -> list[str]:
        """The ``cnn-guide train`` arguments that ask for this run.

        The one place where a run becomes command-line text: the key, the
        recorded command and the benchmark's per-model processes all use it.
        """
        arguments = [self.model, "--recipe", self.recipe]
        for name, value in self.changes:
            flag = "--" + name.replace("_", "-")
            if isinstance(value, bool):
                arguments.append(flag if value else "--no-" + flag[2:])
            elif value is None:
                if name not in STOP_FIELDS:  # any stop field given replaces the whole rule
                    arguments += [flag, "none"]
            else:
                arguments += [flag, _text(value)]
        for name, value in self.options:
            arguments += ["--option", f"{name}={json.dumps(_thawed(value))}"]
        for name, value in self.task:
            flag = "--" + name.replace("_", "-")
            arguments += [flag, ",".join(map(str, value)) if name == "classes" else str(value)]
        if self.strategy != "default":
            arguments += ["--strategy", self.strategy]
        if self.devices:
            arguments += ["--devices", ",".join(self.devices)]
        if self.quick:
            arguments.append("--quick")
        return arguments

    @property
    def key(self) -> str:
        """The run's key in the store (`cnn_guide.results`): its arguments, as one line."""
        return " ".join(self.arguments())

    @property
    def command(self) -> str:
        """The command that re-makes and records this run, quoted for a shell.

        (The key is the same arguments joined plainly: an option such as
        ``widths=[8, 16, 32]`` holds spaces, which a shell would split.)
        """
        return f"cnn-guide train {shlex.join(self.arguments())} --record"

    def as_dict(self) -> dict[str, Any]:
        """The fields as plain JSON values."""
        return {
            "model": self.model,
            "recipe": self.recipe,
            "changes": dict(self.changes),
            "options": {name: _thawed(value) for name, value in self.options},
            "strategy": self.strategy,
            "devices": list(self.devices) if self.devices else None,
            "quick": self.quick,
            "task": {name: _thawed(value) for name, value in self.task},
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RunSpec:
        """The inverse of `as_dict`."""
        return cls.of(
            values["model"],
            values["recipe"],
            strategy=values.get("strategy", "default"),
            devices=tuple(values["devices"]) if values.get("devices") else None,
            quick=bool(values.get("quick")),
            options=values.get("options"),
            task=values.get("task"),
            **values.get("changes", {}),
        )


TASK_FIELDS = {
    "classes": "learn only these classes (indexes 0-9), relabelled 0, 1, ... in this order",
    "labels_per_class": "keep this many labelled training images per class, drawn by the seed",
    "start_from": "start from the kept weights of this recorded run (its key), all but the "
    "classifier",
    "freeze": "'base': train only the new classifier, every layer before it frozen; "
    "'except-top:N': the top N blocks below the classifier train too, at the recipe's rate, "
    "their batch normalization frozen (inference mode)",
}
"""What a run can learn other than all ten classes from scratch, and what each means."""

FREEZE_TOP = "except-top:"
"""The prefix of a ``freeze`` value that fine-tunes the top blocks: ``"except-top:2"``."""


def trained_top_blocks(freeze: str) -> int:
    """How many blocks below the classifier a ``freeze`` value trains: 0 for ``"base"``.

    A block is one of the model's top-level layers that hold weights (a
    residual unit of ``resnet_fashion`` is one layer); `cnn_guide.transfer.freeze_base`
    applies the value to a model.

    Raises:
        ValueError: For anything but ``"base"`` or ``"except-top:N"`` with
            ``N`` a positive integer.
    """
    if freeze == "base":
        return 0
    count = freeze.removeprefix(FREEZE_TOP) if isinstance(freeze, str) else ""
    if isinstance(freeze, str) and freeze.startswith(FREEZE_TOP) and count.isdigit():
        if int(count) >= 1:
            return int(count)
    raise ValueError(
        f"freeze must be 'base' (train only the new classifier) or 'except-top:N' (also "
        f"train the top N blocks, N a positive integer, e.g. 'except-top:2'), got {freeze!r}."
    )


def _checked_task(task: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The task as sorted pairs, each value checked (see `TASK_FIELDS`).

    Raises:
        ValueError: For an unknown field or a bad value, saying what is expected.
    """
    unknown = sorted(set(task) - set(TASK_FIELDS))
    if unknown:
        raise ValueError(
            f"a run's task has no field {', '.join(unknown)}; its fields are "
            f"{', '.join(TASK_FIELDS)}."
        )
    checked = {name: value for name, value in task.items() if value is not None}
    if "classes" in checked:
        classes = tuple(checked["classes"])
        if (
            len(classes) < 2
            or len(set(classes)) != len(classes)
            or not set(classes) <= set(range(10))
        ):
            raise ValueError(
                f"classes must be two or more distinct indexes from 0 to 9, got {classes!r}."
            )
        checked["classes"] = classes
    count = checked.get("labels_per_class")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ValueError(f"labels_per_class must be a positive integer, got {count!r}.")
    if "freeze" in checked:
        trained_top_blocks(checked["freeze"])
    if "freeze" in checked and "start_from" not in checked:
        raise ValueError("freeze needs start_from: only weights a run starts from can be frozen.")
    return tuple(sorted(checked.items()))


# Builder arguments that are not options of an experiment: they change the task itself.
_NOT_OPTIONS = ("input_shape", "num_classes", "include_top", "pooling", "classifier_activation")


def _frozen(value: Any) -> Any:
    """A JSON value with its lists as tuples, so that a spec compares and hashes by value."""
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    return value


def _thawed(value: Any) -> Any:
    return [_thawed(item) for item in value] if isinstance(value, tuple) else value


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def settings_of(recipe: Recipe) -> dict[str, Any]:
    """Every training setting of ``recipe``, as the store keeps them (JSON values)."""
    return json.loads(json.dumps({name: getattr(recipe, name) for name in setting_fields()}))


_SETTING_DEFAULTS = json.loads(
    json.dumps({f.name: f.default for f in fields(Recipe) if f.name in setting_fields()})
)
"""Each setting's default: what a record made before the setting existed trained with."""


@dataclass(frozen=True, kw_only=True)
class RunRecord(RunFigures):
    """One recorded run: its spec, its figures and where it ran.

    Attributes:
        spec: What was asked for; gives the key and the command.
        settings: Every setting of the recipe it trained under, by field.
        date: When it was recorded (UTC, ISO 8601).
        commit: The git commit of the code that ran it, when known.
        machine: The hardware and software (`cnn_guide.machine.machine_info`).
        migrated_from: The key of the row it was migrated from, for rows
            recorded in the book's first results format.
    """

    spec: RunSpec
    settings: dict[str, Any] = field(default_factory=dict)
    date: str = ""
    commit: str | None = None
    machine: dict[str, Any] = field(default_factory=dict)
    migrated_from: str | None = None

    @classmethod
    def from_fit(cls, spec: RunSpec, recipe: Recipe, figures: RunFigures) -> RunRecord:
        """A record of a finished run, stamped with today's date, commit and machine.

        Args:
            spec: What was asked for.
            recipe: The recipe the run trained under.
            figures: What it measured (`cnn_guide.training.fit`'s result).

        Raises:
            ValueError: If the run did not train under the recipe ``spec`` asks for.
        """
        if recipe != spec.resolve():
            raise ValueError(
                f"the run trained under {recipe!r}, but {spec.key!r} asks for "
                f"{spec.resolve()!r}; record it under the spec it was trained from."
            )
        return cls(
            spec=spec,
            settings=settings_of(recipe),
            date=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            commit=git_commit(),
            machine=machine_info(),
            **figures.figures(),
        )

    def stale_fields(self) -> list[str]:
        """The recipe settings that changed since the run was recorded; none when current.

        A recipe can be redefined: a row recorded under an older definition no
        longer shows what its command does today. A setting the row lacks (one
        added to `cnn_guide.recipes.Recipe` after it was recorded) counts at the
        field's default, so a new setting that leaves training as it was turns
        no record stale.
        """
        today = settings_of(self.spec.resolve())
        recorded = {**_SETTING_DEFAULTS, **self.settings}
        return [name for name, value in today.items() if recorded.get(name) != value]

    def is_current(self) -> bool:
        """Whether its recipe still trains as it did (`stale_fields` is empty)."""
        return not self.stale_fields()

    @property
    def key(self) -> str:
        """The row's key (`RunSpec.key`)."""
        return self.spec.key

    @property
    def command(self) -> str:
        """The command that re-makes it (`RunSpec.command`)."""
        return self.spec.command

    @property
    def model(self) -> str:
        """The registered model it trained."""
        return self.spec.model

    @property
    def hardware(self) -> str:
        """The GPU, or the CPU model, its cores and its vector instructions where recorded."""
        return machine_kind(self.machine)

    @property
    def was_busy(self) -> bool:
        """Whether other work shared the machine (`BUSY_LOAD` times its cores, over 5 min)."""
        load, cores = self.machine.get("load_average"), self.machine.get("cores")
        return bool(load and cores and load[1] > BUSY_LOAD * cores)

    def describe_machine(self) -> str:
        """Where it was measured: the hardware, TensorFlow, and a busy machine said as such."""
        text = f"{self.hardware}, TensorFlow {self.machine.get('tensorflow', '?')}"
        if self.was_busy:
            load = self.machine["load_average"][1]
            text += (
                f" (a busy machine: load average {load:g} on {self.machine['cores']} cores, so "
                "its timings are slower than a quiet machine's)"
            )
        return text

    def to_json(self) -> dict[str, Any]:
        """The row as plain JSON values."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["spec"] = self.spec.as_dict()
        return values

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> RunRecord:
        """Read a row written by `to_json`.

        Raises:
            ValueError: Naming the fields that are missing.
        """
        names = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if _required(f)}
        missing = sorted(required - set(values))
        if missing:
            raise ValueError(f"a results row lacks {', '.join(missing)}: {dict(values)!r:.200}")
        known = {k: v for k, v in values.items() if k in names}
        return cls(**{**known, "spec": RunSpec.from_dict(values["spec"])})


def _required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
