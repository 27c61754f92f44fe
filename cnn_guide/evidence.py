"""What the book records: every run its pages draw on, and which are still missing.

The book's evidence is a list of runs (`cnn_guide.runs.RunSpec`), each made
once by ``cnn-guide train ... --record`` and kept in the results file:

* ``full``: each example's full run, as the example states it in its one
  `cnn_guide.budget.plan_example` call (read from the example's source, so the
  page and the recording cannot ask for different runs);
* ``benchmark``: every Fashion-MNIST model under the ``"benchmark"`` recipe;
* ``experiments``: every run of the chapters' teaching experiments
  (`cnn_guide.experiments`).

``cnn-guide record`` runs the missing ones, one process each, and each row is
written when its run ends: a recording can be stopped at any time and resumed
by running the same command again.

```python
from cnn_guide.evidence import missing, plan

for spec in missing(plan("full")):
    print(spec.command)
```
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnn_guide.runs import RunSpec

__all__ = [
    "PLANS",
    "Target",
    "example_runs",
    "full_run_target",
    "missing",
    "plan",
]

PLANS = ("full", "benchmark", "experiments")
"""The named groups of runs `plan` knows."""


@dataclass(frozen=True)
class Target:
    """The test accuracy a full run is held to, and where that figure comes from."""

    accuracy: float
    source: str

    def verdict(self, accuracy: float) -> str:
        """Whether ``accuracy`` meets the target, in words, with the margin in points."""
        margin = 100 * (accuracy - self.accuracy)
        outcome = "met" if margin >= 0 else "missed"
        return f"{self.source}: {self.accuracy:.2%}, {outcome} by {abs(margin):.2f} points."


def full_run_target(model: str) -> Target:
    """The test accuracy the book holds a model's full run to.

    Every Fashion-MNIST variant is held to 92.5%, which a two-convolution
    network under 100,000 parameters reaches in the Fashion-MNIST benchmark
    table (Xiao et al., 2017, github.com/zalandoresearch/fashion-mnist);
    LeNet-5, a 1998 network with 61,706 parameters, to 90%; the simple CNN
    to the 91.17% its source notebook reports (Géron, *Hands-On Machine
    Learning*, 3rd edition, chapter 14).
    """
    if model == "simple_cnn":
        return Target(0.9117, "The seed notebook reports")
    if model == "lenet5_fashion":
        return Target(0.90, "The book's target for LeNet-5")
    return Target(0.925, "The book's target for every modern architecture")


def example_runs(examples: str | os.PathLike | None = None) -> dict[str, RunSpec]:
    """Each example's full run, by example name, read from its `plan_example` call.

    Args:
        examples: The folder of example scripts (default: ``examples/`` of
            the book's source checkout, `cnn_guide.book.find_book`).

    Raises:
        ValueError: For an example whose call is not written with literal
            arguments (the recording could not know what it asks for).
    """
    if examples is None:
        from cnn_guide.book import find_book

        examples = find_book() / "examples"
    runs = {}
    for path in sorted(Path(examples).glob("*.py")):
        for call in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "plan_example":
                runs[path.stem] = _spec_of(call, path)
    return runs


def _spec_of(call: ast.Call, path: Path) -> RunSpec:
    """The full run a literal ``plan_example(model, recipe, **changes)`` call asks for."""
    try:
        arguments = [ast.literal_eval(argument) for argument in call.args]
        keywords: dict[str, Any] = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    except ValueError:
        raise ValueError(
            f"{path.name}, line {call.lineno}: plan_example must be called with literal "
            "arguments, so that the recording can read the full run it asks for."
        ) from None
    for budget_only in ("site_epochs", "site_train_size", "quick_epochs"):
        keywords.pop(budget_only, None)
    return RunSpec.of(*arguments, **keywords)


def plan(name: str, *, examples: str | os.PathLike | None = None) -> list[RunSpec]:
    """The runs of one named group (see `PLANS`), without repeats, in a stable order.

    Raises:
        ValueError: For an unknown name.
    """
    if name == "full":
        return list(dict.fromkeys(example_runs(examples).values()))
    if name == "benchmark":
        from cnn_guide import models

        return [RunSpec.of(model, "benchmark") for model in models.list_models(fashion=True)]
    if name == "experiments":
        from cnn_guide.experiments import experiment_runs

        return experiment_runs()
    raise ValueError(f"unknown plan {name!r}; choose one of: {', '.join(PLANS)}.")


def missing(specs: list[RunSpec], path: str | os.PathLike | None = None) -> list[RunSpec]:
    """The runs of ``specs`` the results file lacks, or holds under an older recipe.

    See `RunRecord.is_current`.
    """
    from cnn_guide.results import find_all

    return [spec for spec, run in zip(specs, find_all(specs, path), strict=True) if run is None]
