"""The catalogue of what the book records: every run its pages draw on, by name.

The book's evidence is a list of runs (`cnn_guide.runs.RunSpec`), each made
once by ``cnn-guide train ... --record`` and kept in the store of runs
(`cnn_guide.results`). This module names them, as data:

* `FULL_RUNS`: each Fashion-MNIST network's full run, which its example
  stands for (`cnn_guide.budget.plan_example` looks it up by name) and its
  chapter shows (the ``<!-- full-run: NAME -->`` marker), with the test
  accuracy it is held to (`full_run_target`);
* the benchmark: every Fashion-MNIST model under the ``"benchmark"`` recipe;
* the experiments: every run of the chapters' teaching experiments
  (`cnn_guide.experiments`);
* the design spaces: every sampled network of the design-space experiments
  (`cnn_guide.design_spaces`);
* the flagship: its candidates, then the chosen one's seeds
  (`cnn_guide.flagship`);
* the comparison of the fast recipe against the seed recipe
  (`cnn_guide.comparison`), recorded by ``cnn-guide bench``.

``cnn-guide record`` runs the missing ones (`cnn_guide.results.missing`), one
process each, and each run is stored when it ends: a recording can be
stopped at any time and resumed by running the same command again.

```python
from cnn_guide.evidence import plan
from cnn_guide.results import missing

for spec in missing(plan("full")):
    print(spec.command)
```
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from cnn_guide.design_spaces import design_space_runs
from cnn_guide.experiments import experiment_runs
from cnn_guide.flagship import is_flagship_run
from cnn_guide.flagship import plan as flagship_plan
from cnn_guide.runs import RunSpec
from cnn_guide.statistics import accuracy_interval

__all__ = [
    "BENCHMARK_MODELS",
    "FULL_RUNS",
    "PLANS",
    "Target",
    "full_run",
    "full_run_target",
    "keeps_weights",
    "plan",
]

PLANS = ("full", "benchmark", "experiments", "design-spaces", "flagship")
"""The named groups of runs `plan` knows."""

FULL_RUNS: dict[str, RunSpec] = {
    spec.model: spec
    for spec in (
        # The seed notebook's network under its own recipe, for its 10 epochs.
        RunSpec.of("simple_cnn", "seed", epochs=10),
        # Twice the book recipe's epochs: 61,706 parameters learn slowly.
        RunSpec.of("lenet5_fashion", "book", epochs=20),
        RunSpec.of("alexnet_fashion", "book"),
        RunSpec.of("vgg_fashion", "book"),
        RunSpec.of("nin_fashion", "book"),
        RunSpec.of("googlenet_fashion", "book"),
        RunSpec.of("resnet_fashion", "book"),
        RunSpec.of("densenet_fashion", "book"),
        RunSpec.of("resnext_fashion", "book"),
        RunSpec.of("xception_fashion", "book"),
        RunSpec.of("se_resnet_fashion", "book"),
        RunSpec.of("mobilenet_v2_fashion", "book"),
        RunSpec.of("efficientnet_fashion", "book"),
        RunSpec.of("regnet_fashion", "book"),
        RunSpec.of("convnext_fashion", "book"),
    )
}
"""Each network's full run, by the name examples and chapters use: the model's.

A full run stops after a number of epochs, so that a reader's accuracy does
not depend on their machine's speed."""

BENCHMARK_MODELS = (
    "simple_cnn",
    "lenet5_fashion",
    "alexnet_fashion",
    "vgg_fashion",
    "nin_fashion",
    "googlenet_fashion",
    "resnet_fashion",
    "densenet_fashion",
    "resnext_fashion",
    "xception_fashion",
    "se_resnet_fashion",
    "mobilenet_v2_fashion",
    "efficientnet_fashion",
    "regnet_fashion",
    "convnext_fashion",
    "fast_resnet_fashion",
)
"""The models the benchmark trains for the ``"benchmark"`` recipe's minutes: every
Fashion-MNIST model of the registry (`cnn_guide.models.list_models`), in its order."""


@dataclass(frozen=True)
class Target:
    """The test accuracy a full run is held to, and where that figure comes from."""

    accuracy: float
    source: str

    def outcome(self, accuracy: float, test_size: int) -> str:
        """Whether ``accuracy``, measured on ``test_size`` images, meets the target.

        ``"met"`` or ``"missed"`` where the test set's 95% interval (Wilson's)
        clears the target, else ``"within noise of the target"``: 10,000 test
        images measure an accuracy near 93% to about a quarter of a point.
        """
        low, high = accuracy_interval(round(accuracy * test_size), test_size)
        if low > self.accuracy:
            return "met"
        if high < self.accuracy:
            return "missed"
        return "within noise of the target"

    def verdict(self, accuracy: float, test_size: int) -> str:
        """The `outcome` in a sentence, with the measured accuracy and its interval."""
        low, high = accuracy_interval(round(accuracy * test_size), test_size)
        return (
            f"{self.source}: {self.accuracy:.2%}. Measured {accuracy:.2%} "
            f"[{low:.2%}, {high:.2%}] on {test_size:,} test images: "
            f"**{self.outcome(accuracy, test_size)}**."
        )


def full_run(name: str) -> RunSpec:
    """A network's full run, by name (`FULL_RUNS`).

    Raises:
        ValueError: For a name with no full run, listing the known ones.
    """
    try:
        return FULL_RUNS[name]
    except KeyError:
        raise ValueError(
            f"no full run named {name!r}; the book records one for each of: {', '.join(FULL_RUNS)}."
        ) from None


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


def plan(name: str) -> list[RunSpec]:
    """The runs of one named group (see `PLANS`), without repeats, in the book's order.

    Raises:
        ValueError: For an unknown name.
    """
    if name == "full":
        return list(FULL_RUNS.values())
    if name == "benchmark":
        return [RunSpec.of(model, "benchmark") for model in BENCHMARK_MODELS]
    if name == "experiments":
        return experiment_runs()
    if name == "design-spaces":
        return design_space_runs()
    if name == "flagship":
        return flagship_plan()
    raise ValueError(f"unknown plan {name!r}; choose one of: {', '.join(PLANS)}.")


@functools.cache
def _started_from() -> frozenset[str]:
    """The keys of the runs that a catalogued run starts from (its ``start_from``)."""
    return frozenset(
        dict(spec.task)["start_from"]
        for spec in experiment_runs()
        if "start_from" in dict(spec.task)
    )


def keeps_weights(spec: RunSpec) -> bool:
    """Whether a run keeps its trained weights when it is recorded.

    A full run does (the book reads trained networks from them), and so does
    every run that another catalogued run starts from (``start_from``: the
    pretraining of the transfer experiment), and every flagship run (any
    candidate may be chosen, and the flagship's page offers its weights). The
    other runs keep their test predictions alone: the experiments' hundreds of
    weight files would weigh on the repository for nothing.
    """
    return spec in FULL_RUNS.values() or spec.key in _started_from() or is_flagship_run(spec)
