"""How much work an example does: ``quick``, ``site`` or ``full``.

Every example runs at one of three budgets, chosen by the environment variable
``CNN_GUIDE_BUDGET``:

* ``quick``: a few training steps on a small subset of the data, to check that
  the code runs (the test suite): 640 training images, 5 steps at batch 128
  or 20 at batch 32, whatever the network's speed;
* ``site``: the real data for a few epochs, what the documentation build
  executes (a few minutes on a 2-core CPU; all 10,000 test images, and the
  training images a slow network can afford);
* ``full``: the default when a reader runs an example: the full run the
  book records for it (`cnn-guide record`), which its last cell sets beside the reader's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cnn_guide.evidence import full_run
from cnn_guide.plotting import plot_recorded_run, show
from cnn_guide.recipes import Recipe
from cnn_guide.report.runs import full_run_report
from cnn_guide.results import find
from cnn_guide.runs import RunSpec

if TYPE_CHECKING:
    from cnn_guide.data import FashionMNIST
    from cnn_guide.training import FitResult

__all__ = [
    "BUDGETS",
    "BUDGET_ENV_VAR",
    "QUICK_SIZES",
    "Budget",
    "ExamplePlan",
    "choose_budget",
    "plan_example",
]

BUDGET_ENV_VAR = "CNN_GUIDE_BUDGET"
BUDGETS = ("quick", "site", "full")
# The quick budget's images per split: the training set holds 5 steps of the
# book's usual batch (128), so a smoke test costs the same few steps for a
# slow network as for a fast one.
QUICK_SIZES = {"train": 5 * 128, "valid": 256, "test": 512}


@dataclass(frozen=True)
class Budget:
    """The amount of training an example does.

    Attributes:
        name: ``"quick"``, ``"site"`` or ``"full"``.
        epochs: Passes over the training data.
        train_size: Training images used; ``None`` for all 55,000.
        test_size: Test images used; ``None`` for all 10,000.
        valid_size: Validation images used; ``None`` for all 5,000.
    """

    name: str
    epochs: int
    train_size: int | None = None
    test_size: int | None = None
    valid_size: int | None = None

    def apply(self, data: FashionMNIST) -> FashionMNIST:
        """The part of ``data`` this budget trains and tests on."""
        return data.subset(train=self.train_size, valid=self.valid_size, test=self.test_size)

    def describe(self) -> str:
        """One sentence saying what this budget trains on."""
        train = "all 55,000" if self.train_size is None else f"{self.train_size:,}"
        test = "all 10,000" if self.test_size is None else f"{self.test_size:,}"
        return (
            f"Budget {self.name!r}: {self.epochs} epoch(s) on {train} training images, "
            f"tested on {test} test images (set {BUDGET_ENV_VAR}=quick|site|full to change)."
        )


def choose_budget(
    *,
    site_epochs: int,
    full_epochs: int,
    site_train_size: int | None = None,
    quick_epochs: int = 1,
) -> Budget:
    """The budget named by ``$CNN_GUIDE_BUDGET`` (default ``full``).

    Args:
        site_epochs: Epochs for the documentation build.
        full_epochs: Epochs for a reader's full run, on all the data.
        site_train_size: Training images for the documentation build (``None``
            for all 55,000). The site budget always tests on all 10,000 test
            images; a subset keeps a slow network's page within a build's time.
        quick_epochs: Epochs on the small subset of the quick budget.

    Returns:
        The chosen budget.

    Raises:
        ValueError: If the variable holds something other than a budget name.
    """
    name = os.environ.get(BUDGET_ENV_VAR, "full").strip().lower() or "full"
    if name not in BUDGETS:
        raise ValueError(
            f"{BUDGET_ENV_VAR}={os.environ[BUDGET_ENV_VAR]!r} is not a budget; "
            f"use one of {', '.join(BUDGETS)}."
        )
    budgets = {
        "quick": Budget(
            "quick",
            quick_epochs,
            train_size=QUICK_SIZES["train"],
            test_size=QUICK_SIZES["test"],
            valid_size=QUICK_SIZES["valid"],
        ),
        "site": Budget("site", site_epochs, train_size=site_train_size),
        "full": Budget("full", full_epochs),
    }
    return budgets[name]


@dataclass(frozen=True)
class ExamplePlan:
    """What an example trains: one recipe and stop rule, run at the chosen budget.

    An example states its settings once, in `plan_example`; the recipe it
    trains under here, the full run it stands for and the recorded result it
    shows all come from this one object, so that they cannot drift apart.

    Attributes:
        budget: The budget chosen by ``$CNN_GUIDE_BUDGET``.
        full_run: The full run: its key in the store and its command.
        recipe: The recipe at this budget (the full run's, with this
            budget's epochs).
    """

    budget: Budget
    full_run: RunSpec
    recipe: Recipe

    def apply(self, data: FashionMNIST) -> FashionMNIST:
        """The part of ``data`` this budget trains and tests on."""
        return self.budget.apply(data)

    def describe(self) -> str:
        """The budget, the recipe and the command of the full run, in a few lines."""
        return (
            f"{self.budget.describe()}\nRecipe {self.recipe.describe()}\n"
            f"The full run: `{self.full_run.command}`."
        )

    def expected_time(self, data: FashionMNIST, *, steps: int = 20) -> str:
        """How long this budget's training will take on this machine, measured now.

        At the full budget, trains a fresh copy of the model for a few steps
        (`cnn_guide.training.WARMUP_STEPS` untimed, then ``steps`` timed) on
        ``data`` and scales the speed up to the run; at the short budgets,
        which take seconds to minutes, says so without measuring.

        Args:
            data: The data the run trains on (`apply`'s result).
            steps: Timed training steps.
        """
        if self.budget.name != "full":
            return (
                f"At the full budget ({self.full_run.resolve().stop_rule}), the script first "
                "times a few training steps on your machine and says how long the run will take."
            )
        from cnn_guide.training import WARMUP_STEPS, fit  # TensorFlow: a full budget only

        probe = self.recipe.replace(steps=WARMUP_STEPS + steps, settle_batch_norm=False)
        speed = fit(self.full_run.build_model(), data, probe, verbose=0).train_images_per_second
        batch = self.recipe.batch_size
        images = self.recipe.max_steps(len(data.x_train), batch) * batch
        return (
            f"Expected training time on this machine: about {images / speed / 60:,.0f} min "
            f"for {self.recipe.stop_rule} ({speed:,.0f} training images/s, timed over "
            f"{steps} steps just now), plus the evaluations."
        )

    def show_full_run(self, result: FitResult | None = None) -> None:
        """Print `report` and draw the recorded full run's curves from the store.

        An example's last cell: the page shows the full run beside its own
        short one, and a reader who just ran the full budget sees both results.
        """
        print(self.report(result))
        run = find(self.full_run)
        if run is not None:
            show(plot_recorded_run(run), f"{run.model}_full_run")

    def report(self, result: FitResult | None = None) -> str:
        """The full run's recorded result, beside this run's when it was a full run too."""
        report = full_run_report(self.full_run)
        if result is not None and self.budget.name == "full":
            report += (
                f"\nThis run (the full budget, on this machine): test accuracy "
                f"{result.test_accuracy:.4f}, {result.seconds_per_epoch:.0f} s per epoch."
            )
        return report


def plan_example(
    name: str,
    *,
    site_epochs: int,
    site_train_size: int | None = None,
    quick_epochs: int = 1,
) -> ExamplePlan:
    """The plan of an example: the full run it stands for, and its shorter budgets.

    The full run (its model, recipe and epochs) comes from the book's
    catalogue (`cnn_guide.evidence.FULL_RUNS`), by name: the page, the
    recording and the chapter ask for the same run.

    Args:
        name: The full run's name: the model it trains, e.g. ``"vgg_fashion"``.
        site_epochs: Epochs for the documentation build.
        site_train_size: Training images for the documentation build
            (``None`` for all 55,000).
        quick_epochs: Epochs on the small subset of the quick budget.

    Raises:
        ValueError: For a name with no full run in the catalogue.
    """
    spec = full_run(name)
    full = spec.resolve()
    budget = choose_budget(
        site_epochs=site_epochs,
        full_epochs=int(full.epochs),
        site_train_size=site_train_size,
        quick_epochs=quick_epochs,
    )
    return ExamplePlan(budget=budget, full_run=spec, recipe=full.replace(epochs=budget.epochs))
