"""One recipe against another on the same machine: times as fractions of the other's.

Machines differ several-fold in speed, so a goal such as "93% in 3 minutes"
holds on one and fails on the next. A comparison states its goals relative
to a reference measured on the machine at hand: T, the time the reference
recipe (the seed notebook's: the simple CNN, Nadam, batch 32) needs for its
epochs, from its steady training speed. The recipe under test is then
trained for fractions of T, each run with its schedule spread over its own
budget, and its times to each accuracy are read as fractions of T.

``cnn-guide bench --recipe fast --against seed --record`` measures T and
records the runs and the comparison in the store (`cnn_guide.results`);
`cnn_guide.report.comparison` shows them on the fast chapter. Nothing here
imports TensorFlow: the docs build reads it in its own process.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from cnn_guide.machine import machine_kind
from cnn_guide.recipes import get_recipe
from cnn_guide.results import load_entries, load_results, record_entry, remove_entry
from cnn_guide.runs import RunRecord, RunSpec

__all__ = [
    "FRACTIONS",
    "GOALS",
    "REFERENCE_STEPS",
    "THRESHOLDS",
    "Comparison",
    "Resolved",
    "budget_of",
    "load_comparisons",
    "record_comparison",
    "reference_seconds",
    "reference_spec",
    "resolved_comparisons",
]

GOALS = (
    (0.912, Fraction(1, 20)),
    (0.93, Fraction(1, 10)),
    (0.94, Fraction(1, 3)),
    (0.95, Fraction(1)),
)
"""The fast recipe's goals: a test accuracy within a fraction of T. 91.2% is what
the seed notebook reports after its 10 epochs (91.17%); 95% within T is a moonshot."""

FRACTIONS = tuple(fraction for _, fraction in GOALS)
"""The budgets, as fractions of T, that a comparison trains the recipe for."""

THRESHOLDS = (0.912, 0.92, 0.93, 0.94, 0.95)
"""The test accuracies whose first crossing a comparison reports."""

REFERENCE_STEPS = 400
"""Steps of the reference recipe timed to measure T (the first few, which trace
the graph, are not counted; `cnn_guide.training.WARMUP_STEPS`)."""

CHECKPOINTS = 12
"""Test checkpoints per run, evenly spaced over its budget: a time to an accuracy
is known to within a twelfth of the run's budget."""


def reference_spec(against: str, *, quick: bool = False) -> RunSpec:
    """The short run of the reference recipe whose steady speed gives T.

    Raises:
        ValueError: For an unknown recipe, or one that names no model or epochs.
    """
    recipe = get_recipe(against)
    if recipe.model is None or recipe.epochs is None:
        raise ValueError(
            f"recipe {against!r} cannot be a reference: it needs a model and a number of "
            f"epochs (it has model={recipe.model!r}, epochs={recipe.epochs!r}); use 'seed'."
        )
    return RunSpec.of(recipe.model, against, steps=20 if quick else REFERENCE_STEPS, quick=quick)


def reference_seconds(reference: RunRecord) -> float:
    """T: the reference recipe's epochs at the reference run's steady training speed."""
    epochs = get_recipe(reference.spec.recipe).epochs
    return epochs * reference.train_size / reference.train_images_per_second


def budget_of(fraction: Fraction | float, seconds: float) -> dict[str, float]:
    """The stop rule and checkpoints of a run given ``fraction`` of T (``seconds``).

    The budget is rounded *down* to a hundredth of a minute, so that the run
    never has more time than its goal allows.

    Returns:
        The recipe changes: ``minutes`` and ``eval_every``.
    """
    minutes = max(math.floor(float(fraction) * seconds / 60 * 100) / 100, 0.01)
    return {"minutes": minutes, "eval_every": round(minutes * 60 / CHECKPOINTS, 1) or 0.1}


@dataclass(frozen=True)
class Comparison:
    """A recipe trained for fractions of T, the reference recipe's time, on one machine.

    Attributes:
        recipe: The recipe under test (``"fast"``).
        against: The reference recipe (``"seed"``).
        reference: The key of the run whose speed gives T.
        runs: ``(fraction of T, key)`` of each run of ``recipe``: one per
            fraction, or one per fraction and seed.
        machine: Where it ran (`cnn_guide.machine.machine_info`).
        date: When it was recorded (UTC, ISO 8601).
        command: The command that re-makes it.
        quick: Made on the small quick subset: a smoke test, never shown.
    """

    recipe: str
    against: str
    reference: str
    runs: tuple[tuple[Fraction, str], ...]
    machine: Mapping[str, Any]
    date: str
    command: str
    quick: bool = False

    @property
    def key(self) -> str:
        """Its key in the store: one comparison per recipe pair and machine kind."""
        key = f"{self.recipe} against {self.against} on {machine_kind(self.machine)}"
        return key + (" (quick)" if self.quick else "")

    def to_json(self) -> dict[str, Any]:
        """As plain JSON values (fractions as ``"1/20"``)."""
        values = dataclasses.asdict(self)
        values["runs"] = [[str(fraction), key] for fraction, key in self.runs]
        values["machine"] = dict(self.machine)
        return values

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> Comparison:
        """Read what `to_json` wrote.

        Raises:
            ValueError: Naming the fields that are missing.
        """
        required = {f.name for f in dataclasses.fields(cls) if f.name != "quick"}
        missing = sorted(required - set(values))
        if missing:
            raise ValueError(f"a comparison lacks {', '.join(missing)}: {dict(values)!r:.200}")
        runs = tuple((Fraction(fraction), key) for fraction, key in values["runs"])
        return cls(**{**values, "runs": runs})

    def resolve(self, recorded: Mapping[str, RunRecord]) -> Resolved:
        """Its reference run and runs, read from the recorded rows.

        Raises:
            ValueError: If a run it names is not in ``recorded``.
        """
        absent = [key for key in (self.reference, *dict(self.runs).values()) if key not in recorded]
        if absent:
            raise ValueError(
                f"the comparison {self.key!r} names runs the store lacks: "
                f"{'; '.join(absent)}. Re-record it with `{self.command}`."
            )
        runs = tuple((fraction, recorded[key]) for fraction, key in self.runs)
        return Resolved(self, recorded[self.reference], runs)


@dataclass(frozen=True)
class Resolved:
    """A comparison with its runs read: T, and the times to each accuracy."""

    comparison: Comparison
    reference: RunRecord
    runs: tuple[tuple[Fraction, RunRecord], ...]

    @property
    def seconds(self) -> float:
        """T, in seconds."""
        return reference_seconds(self.reference)

    def at(self, fraction: Fraction) -> list[RunRecord]:
        """The runs given ``fraction`` of T: one per seed."""
        return [run for budget, run in self.runs if budget == fraction]

    def time_to(self, accuracy: float) -> float | None:
        """The earliest training time at which any run reached ``accuracy``, or ``None``."""
        times = [t for _, run in self.runs if (t := run.seconds_to(accuracy)) is not None]
        return min(times, default=None)

    def best_within(self, seconds: float) -> float | None:
        """The highest test accuracy any run showed at a checkpoint within ``seconds``."""
        shown = [a for _, run in self.runs for s, _, a in run.checkpoints if s <= seconds]
        return max(shown, default=None)

    def verdict(self, accuracy: float, fraction: Fraction) -> str:
        """``"met"``, ``"not met"`` or ``"not measured"`` (no run was that long).

        With several seeds given ``fraction``, the goal is met when their mean
        final test accuracy reaches ``accuracy``: no single lucky seed meets
        it. With one run, when any run's checkpoint reached it within the budget.
        """
        seeds = self.at(fraction)
        if len(seeds) > 1:
            mean = sum(run.test_accuracy for run in seeds) / len(seeds)
            return "met" if mean >= accuracy else "not met"
        reached = self.time_to(accuracy)
        if reached is not None and reached <= fraction * self.seconds:
            return "met"
        if any(budget >= fraction for budget, _ in self.runs):
            return "not met"
        return "not measured"


def load_comparisons(path: str | os.PathLike | None = None) -> dict[str, Comparison]:
    """Every recorded comparison, by key (none when the store holds none)."""
    return {
        key: Comparison.from_json(values)
        for key, values in load_entries("comparisons", path).items()
    }


def record_comparison(comparison: Comparison, path: str | os.PathLike | None = None) -> list[str]:
    """Store a comparison under its key, replacing the one of the same machine kind.

    The store keeps one run per command, so measuring T again replaced the
    reference run of every other comparison that shares it: their T is gone,
    and they are removed with it rather than shown against another machine's T.

    Returns:
        The keys of the comparisons removed that way.
    """
    dropped = [
        key
        for key, other in load_comparisons(path).items()
        if key != comparison.key and other.reference == comparison.reference
    ]
    for key in dropped:
        remove_entry("comparisons", key, path)
    values = comparison.to_json()
    values.pop("key", None)
    record_entry("comparisons", comparison.key, values, path)
    return dropped


def resolved_comparisons(
    recipe: str, against: str, path: str | os.PathLike | None = None
) -> list[Resolved]:
    """Every recorded comparison of ``recipe`` against ``against`` (no quick ones), resolved."""
    recorded = load_results(path)
    return [
        comparison.resolve(recorded)
        for comparison in load_comparisons(path).values()
        if comparison.recipe == recipe and comparison.against == against and not comparison.quick
    ]
