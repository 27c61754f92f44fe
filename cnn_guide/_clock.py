"""A training run's clock, and the backup that carries the run over a restart.

`cnn_guide.training.fit` counts every run on a `RunClock`: its steps and
images, its training seconds (evaluations excluded), its per-epoch history
and its test checkpoints. The clock also ends the run by the recipe's stop
rule and sets each step's learning rate from the run's progress.

A `RunBackup` writes, after every epoch, what a restarted process needs to
go on with the same run: the weights and the optimizer's variables (its step
count among them), the state of the model's random generators (dropout's
masks) and the clock's counts. `fit` restores it before training and skips
the batches already trained, so that the resumed run draws the shuffles and
augmentations it would have drawn without a stop, keeps its schedule and
counts every epoch. Only the interrupted epoch's work is lost, and redone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import keras

from cnn_guide._compat import flatten_layers
from cnn_guide.recipes import Recipe

__all__ = ["WARMUP_STEPS", "RunBackup", "RunClock", "random_states"]

WARMUP_STEPS = 3
"""Steps left out of the training speed: the first traces the graph."""


class Scores(Protocol):
    """What the clock reads of an evaluation (`cnn_guide.training.Evaluation`)."""

    accuracy: float
    loss: float


class RunClock(keras.callbacks.Callback):
    """Ends training by the recipe's stop rule, drives its schedule, and evaluates.

    The clock counts training time only: it pauses while the validation
    images are scored after each epoch and the test images at checkpoints.
    Validation figures go into the epoch's logs (``val_loss``,
    ``val_accuracy``), where early stopping, checkpointing and Keras'
    progress bar read them. A run resumed from a backup (`resume`) goes on
    with the counts, time and history of the processes before it.

    Args:
        recipe: The run's recipe: its stop rule, schedule and checkpoints.
        train_size: Training images per epoch.
        global_batch: Images per optimizer step, over all replicas.
        validate: Scores the model on the validation images now.
        test: Scores the model on the test images now.

    Attributes:
        print_checkpoints: Print a line at each test checkpoint; `fit` turns
            it off where a progress line (`cnn_guide._progress`) shows them.
    """

    def __init__(
        self,
        recipe: Recipe,
        train_size: int,
        *,
        global_batch: int,
        validate: Callable[[], Scores],
        test: Callable[[], Scores],
    ) -> None:
        super().__init__()
        self.recipe = recipe
        self.global_batch = global_batch
        self.validate = validate
        self.test = test
        # An epoch is a whole number of steps (the last batch of an epoch is
        # completed from the next pass, or the recipe fixes them), so epochs
        # and steps both count steps.
        self.steps_per_epoch = recipe.epoch_steps(train_size, global_batch)
        self.max_steps = recipe.max_steps(train_size, global_batch)
        self.budget = None if recipe.minutes is None else recipe.minutes * 60
        self.schedule = recipe.learning_rate_schedule
        self.history: dict[str, list[float]] = {
            k: [] for k in ("loss", "accuracy", "val_loss", "val_accuracy", "seconds")
        }
        self.checkpoints: list[list[float]] = []
        self.print_checkpoints = True
        self.images = 0
        self.steps = 0
        self.resumed_after_epochs: list[int] = []
        self._next_checkpoint = recipe.eval_every
        self._earlier_seconds = 0.0  # trained by the processes before a restart
        self._began = (0.0, 0)  # (seconds, images) when this process began training
        self._process_steps = 0
        self._untimed: tuple[float, int] | None = None  # (seconds, images) of warm-ups
        self._paused = 0.0
        self._start = 0.0
        self._end: float | None = None  # set when training ends: the clock stops

    @property
    def seconds(self) -> float:
        """Training seconds so far, in this process and any before a restart."""
        now = self._end if self._end is not None else time.perf_counter()
        return self._earlier_seconds + (now - self._start - self._paused)

    def progress(self) -> float:
        """Fraction of the run done, by time or by images, whichever is further."""
        done = 0.0
        if self.budget is not None:
            done = self.seconds / self.budget
        if self.max_steps is not None:
            done = max(done, self.steps / self.max_steps)
        return min(done, 1.0)

    @property
    def images_per_second(self) -> float:
        """Training speed without each process' warm-up steps (all steps when too few)."""
        if self._untimed is not None and self.seconds > self._untimed[0]:
            return (self.images - self._untimed[1]) / (self.seconds - self._untimed[0])
        return self.images / self.seconds if self.seconds > 0 else float("nan")

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Stop the clock while evaluating."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self._paused += time.perf_counter() - started

    def state(self) -> dict[str, Any]:
        """What a backup keeps of the clock, as JSON values."""
        return {
            "steps": self.steps,
            "images": self.images,
            "seconds": self.seconds,
            "history": self.history,
            "checkpoints": self.checkpoints,
            "next_checkpoint": self._next_checkpoint,
            "untimed": self._untimed,
            "resumed_after_epochs": self.resumed_after_epochs,
        }

    def resume(self, state: dict[str, Any], epochs_done: int) -> None:
        """Go on from a backed-up `state`, taken after ``epochs_done`` epochs."""
        self.steps, self.images = state["steps"], state["images"]
        self.history, self.checkpoints = state["history"], state["checkpoints"]
        self._next_checkpoint = state["next_checkpoint"]
        self._untimed = tuple(state["untimed"]) if state["untimed"] else None
        self._earlier_seconds = state["seconds"]
        self._began = (state["seconds"], state["images"])
        self.resumed_after_epochs = [*state["resumed_after_epochs"], epochs_done]

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_train_end(self, logs: dict | None = None) -> None:
        self._end = time.perf_counter()

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if self.schedule is not None:
            self.model.optimizer.learning_rate = self.schedule(self.progress())

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.images += self.global_batch
        self.steps += 1
        self._process_steps += 1
        if self._process_steps == WARMUP_STEPS:
            self._leave_out_warm_up()
        if self.progress() >= 1.0:
            self.model.stop_training = True
        elif self._next_checkpoint is not None and self.seconds >= self._next_checkpoint:
            self.checkpoint()
            self._next_checkpoint = self.seconds + self.recipe.eval_every

    def _leave_out_warm_up(self) -> None:
        # Every process traces the graph again: its first steps are not the speed.
        seconds, images = self._untimed or (0.0, 0)
        self._untimed = (
            seconds + self.seconds - self._began[0],
            images + self.images - self._began[1],
        )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        with self.paused():
            valid = self.validate()
        if logs is not None:
            logs["val_loss"], logs["val_accuracy"] = valid.loss, valid.accuracy
        for name in ("loss", "accuracy"):
            self.history[name].append(float((logs or {}).get(name, float("nan"))))
        self.history["val_loss"].append(valid.loss)
        self.history["val_accuracy"].append(valid.accuracy)
        self.history["seconds"].append(round(self.seconds, 3))

    def checkpoint(self) -> Scores:
        """Score the test images now, with the clock paused, and keep the accuracy."""
        seconds = self.seconds
        with self.paused():
            test = self.test()
        self.checkpoints.append([round(seconds, 2), self.images, test.accuracy])
        if self.print_checkpoints:
            minutes, rest = divmod(seconds, 60)
            print(
                f"  {int(minutes):3d}:{rest:04.1f} of training, {self.images:>9,} images: "
                f"test accuracy {test.accuracy:.4f}",
                flush=True,
            )
        return test


def random_states(model: keras.Model) -> list[keras.Variable]:
    """The state of each random generator in ``model`` (dropout's, for one).

    Keras' weight files leave them out; without them a resumed run would
    draw its first dropout masks again.
    """
    return [
        value.state
        for layer in flatten_layers(model)
        for value in vars(layer).values()
        if isinstance(value, keras.random.SeedGenerator)
    ]


class RunBackup(keras.callbacks.Callback):
    """Backs a run up after every epoch, so that a restarted process goes on with it.

    The backup is two files in ``directory``: ``epoch-N.weights.h5``, the
    weights and the optimizer's variables, and ``run.json``, which names that
    file and holds the epochs done, the clock's state, the random generators'
    states and what identifies the run. ``run.json`` is replaced last, in one
    step: a process killed while writing leaves the previous backup whole.
    Both are deleted when training ends, and the directory if that empties it.

    Args:
        directory: Where to keep the backup: this run's alone.
        clock: The run's clock, backed up with the model.
        recipe: The run's recipe: a backup of another run is refused.
    """

    STATE = "run.json"

    def __init__(self, directory: str | os.PathLike, clock: RunClock, recipe: Recipe) -> None:
        super().__init__()
        self.directory = Path(directory)
        self.clock = clock
        # A flat JSON mapping, compared field by field with a backup's.
        self.identity = json.loads(
            json.dumps(
                {
                    **dataclasses.asdict(recipe),
                    "global_batch": clock.global_batch,
                    "steps_per_epoch": clock.steps_per_epoch,
                },
                default=str,
            )
        )

    def restore(self, model: keras.Model) -> int:
        """Load the last backup, if there is one, into ``model`` and the clock.

        Call it before training, inside the strategy's scope, if any.

        Returns:
            The epochs the backup had completed, where training goes on (0
            without a backup).

        Raises:
            ValueError: If the backup is of another run.
        """
        path = self.directory / self.STATE
        if not path.is_file():
            return 0
        backup = json.loads(path.read_text())
        self._check_same_run(backup["run"])
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)  # its variables, to load into
        model.load_weights(str(self.directory / backup["weights"]))
        for variable, value in zip(random_states(model), backup["random_states"], strict=True):
            variable.assign(value)
        self.clock.resume(backup["clock"], backup["epochs"])
        print(
            f"Resuming the run backed up in {self.directory} after epoch {backup['epochs']}: "
            f"{self.clock.steps:,} steps, {backup['clock']['seconds']:.0f} s of training.",
            flush=True,
        )
        return backup["epochs"]

    def _check_same_run(self, backed_up: dict[str, Any]) -> None:
        differ = sorted(
            name
            for name in {*backed_up, *self.identity}
            if backed_up.get(name) != self.identity.get(name)
        )
        if differ:
            raise ValueError(
                f"the backup in {self.directory} is of another run (it differs in "
                f"{', '.join(differ)}); give another backup directory, or delete it to "
                "start over."
            )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        previous = self._weights_file()
        weights = f"epoch-{epoch + 1}.weights.h5"
        self.model.save_weights(str(self.directory / weights), overwrite=True)
        backup = {
            "run": self.identity,
            "epochs": epoch + 1,
            "weights": weights,
            "clock": self.clock.state(),
            "random_states": [v.numpy().tolist() for v in random_states(self.model)],
        }
        partial = self.directory / f"{self.STATE}.partial"
        partial.write_text(json.dumps(backup))
        os.replace(partial, self.directory / self.STATE)
        if previous is not None and previous != weights:
            (self.directory / previous).unlink(missing_ok=True)

    def on_train_end(self, logs: dict | None = None) -> None:
        weights = self._weights_file()
        (self.directory / self.STATE).unlink(missing_ok=True)
        if weights is not None:
            (self.directory / weights).unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty: files that are not the backup's
            self.directory.rmdir()

    def _weights_file(self) -> str | None:
        path = self.directory / self.STATE
        return json.loads(path.read_text())["weights"] if path.is_file() else None
