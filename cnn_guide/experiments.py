"""The chapters' teaching experiments, as data: each idea against its alternative.

An experiment trains two or more *arms* (the same registered model with one
builder option changed, or two models of equal size) under the book recipe
for the same number of epochs, each with several seeds, and records every
run in the store (``cnn-guide record --plan experiments``). This module is
part of the book's catalogue (`cnn_guide.evidence`): it says what each
experiment trains and what its paper found (a `Finding`). The pages read the
runs back through `cnn_guide.report.experiments`, which tabulates each arm,
reads each difference against the seeds' spread and the paper, and draws the
training error by epoch.

```python
from cnn_guide.experiments import get_experiment

degradation = get_experiment("resnet-degradation")
for spec in degradation.runs():
    print(spec.command)
```
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cnn_guide.results import find_all
from cnn_guide.runs import RunRecord, RunSpec
from cnn_guide.statistics import Difference, verdict

__all__ = [
    "EFFICIENTNET_BASE",
    "JUDGED_SEEDS",
    "RECIPE_LADDER",
    "SEEDS",
    "TRANSFER_LABELS",
    "TRANSFER_PRETRAINING",
    "TRANSFER_SOURCE",
    "TRANSFER_TARGET",
    "Arm",
    "Experiment",
    "Finding",
    "experiment_runs",
    "get_experiment",
    "in_seed_order",
    "list_experiments",
]

SEEDS = (42, 43, 44)
"""The seeds every arm trains with, at least: three, decided before any run is seen."""

JUDGED_SEEDS = (42, 43, 44, 45, 46)
"""The seeds of an experiment judged against its paper: five, decided before any run is
seen. At a seed spread of 0.4 points Welch's test finds a true 1-point difference about
half the time at 3 seeds and nine times in ten at 5 (`cnn_guide.statistics`)."""


@dataclass(frozen=True)
class Arm:
    """One side of an experiment: a registered model and its builder options.

    Attributes:
        label: What the arm stands for on the page, e.g. ``"residual, 56 layers"``.
        model: The registered model.
        options: Builder options (`cnn_guide.runs.RunSpec.options`).
        changes: Changes to the book recipe, e.g. ``{"learning_rate": 0.016}``.
        task: What the arm learns, where it is not all ten classes from
            scratch (`cnn_guide.runs.TASK_FIELDS`): its classes, its labels
            per class, the recorded run it starts from and what it freezes.
        curve: The line the arm is a point of, in a figure of test accuracy
            against labels per class (arms that differ only in their labels
            share it); empty for an arm of no such figure.
    """

    label: str
    model: str
    options: Mapping[str, Any] = field(default_factory=dict)
    changes: Mapping[str, Any] = field(default_factory=dict)
    task: Mapping[str, Any] = field(default_factory=dict)
    curve: str = ""

    @property
    def labels_per_class(self) -> int | None:
        """The labelled training images per class the arm learns from (``None``: all)."""
        return self.task.get("labels_per_class")


EFFICIENTNET_BASE: Mapping[str, Any] = {"depth_coefficient": 0.5}
"""The base of the ``efficientnet-scaling`` experiment: ``efficientnet_fashion`` at half
depth (10 blocks), its phi = 0."""


TRANSFER_SOURCE = (0, 2, 4, 6, 8)
"""The classes the ``transfer-learning`` experiment pretrains on: T-shirt/top, pullover,
coat, shirt and bag (every other class, fixed before any run: tops and a bag)."""

TRANSFER_TARGET = (1, 3, 5, 7, 9)
"""The classes it transfers to: trouser, dress, sandal, sneaker and ankle boot (the other
five; the three shoes and the trouser are unlike anything the pretraining saw)."""

TRANSFER_LABELS = (10, 100, 1000)
"""Labelled training images per target class, for each arm of ``transfer-learning``."""

TRANSFER_PRETRAINING = RunSpec.of("resnet_fashion", "book", task={"classes": TRANSFER_SOURCE})
"""The run the transfer arms start from: ``resnet_fashion`` under the book recipe (10
epochs) on all the training images of `TRANSFER_SOURCE`; it keeps its weights
(`cnn_guide.evidence.keeps_weights`)."""

_TRANSFER_STEPS_PER_EPOCH = 40
"""Steps per epoch of every transfer arm: one pass over 1,000 labels of 5 classes at batch
128, so that every arm makes 400 updates in its 10 epochs, whatever its labels."""

_FINE_TUNING_RATE = 4e-4
"""The fine-tuned arms' peak learning rate: a tenth of the book recipe's 4e-3."""

# A design note, not the book's evidence (no store holds these trial runs): before any
# recorded run, a trial pretraining (one epoch on 12,800 images of the source classes, seed
# 42) gave a frozen head after 400 steps a validation accuracy of 77% (1,000 labels per
# class) and 74% (10) at a peak rate of 4e-3, 87% and 81% at 4e-2; the fine-tuned arm
# reached 84% (10 labels) at 4e-4 and 85% at 1e-3, so a tenth of the book's rate stayed.
_HEAD_RATE = 4e-2
"""The frozen arms' peak learning rate: ten times the book recipe's (a linear classifier on
fixed features learns slowly at the book's rate)."""


FIGURES: dict[str, Callable[[RunRecord], float]] = {
    "test accuracy": lambda run: run.test_accuracy,
    "validation accuracy": lambda run: run.valid_accuracy,
    "last epoch's training error": lambda run: 1 - run.history["accuracy"][-1],
}
"""The figures each reading compares, by the name the page gives them."""


@dataclass(frozen=True)
class Finding:
    """What a paper found for one comparison, for the reading to hold its runs against.

    Attributes:
        figure: The figure the paper's claim is about, one of `FIGURES`.
        direction: ``+1`` where the paper found the figure higher for the
            second arm of the pair, ``-1`` where lower.
        claim: The paper's result in words, with its own numbers.
    """

    figure: str
    direction: int
    claim: str

    def __post_init__(self) -> None:
        if self.figure not in FIGURES:
            raise ValueError(
                f"a finding's figure must be one of {sorted(FIGURES)}, got {self.figure!r}."
            )
        if self.direction not in (1, -1):
            raise ValueError(
                f"a finding's direction is +1 (higher) or -1 (lower), got {self.direction!r}."
            )

    def outcome(self, difference: Difference | None) -> str:
        """The measured difference (second arm minus first) against the paper's direction.

        Returns:
            ``"agrees"`` or ``"contradicts"`` where the 95% interval excludes
            zero, else ``"cannot tell"`` (`cnn_guide.statistics.verdict`).
        """
        return verdict(difference, self.direction)

    @property
    def expects(self) -> str:
        """The paper's direction in a few words, e.g. ``"higher test accuracy"``."""
        figure = "training error" if "training error" in self.figure else self.figure
        return f"{'higher' if self.direction > 0 else 'lower'} {figure}"


@dataclass(frozen=True)
class Experiment:
    """A chapter's teaching experiment: arms trained alike, with several seeds.

    Attributes:
        name: Its name, e.g. ``"resnet-degradation"``.
        chapter: The example (and chapter) that shows it.
        question: What it asks, in one sentence.
        source: The paper's experiment it reproduces.
        arms: The networks (or recipe changes) it compares.
        epochs: Epochs every run trains for.
        seeds: The seeds each arm trains with: by default `JUDGED_SEEDS` for
            an experiment with a paper's finding to judge, else `SEEDS`.
        recipe: The recipe every run trains under.
        minutes: Minutes of training instead of epochs, for a recipe that
            races the clock (its runs must be recorded on a quiet machine:
            competing work costs them steps).
        error_target: A training error whose first epoch the summary reports
            (AlexNet's Figure 1 counts epochs to 25% training error).
        comparisons: The pairs of arms (indexes into ``arms``) whose
            difference the summary states; by default each arm against the
            first.
        findings: What the paper found for each of those pairs, in their
            order (``None`` where it reports no such comparison).
        pretraining: Runs recorded before any arm's, because arms start from
            their kept weights (``start_from``); not arms themselves.
    """

    name: str
    chapter: str
    question: str
    source: str
    arms: tuple[Arm, ...]
    epochs: int | None
    seeds: tuple[int, ...] = ()
    recipe: str = "book"
    minutes: float | None = None
    error_target: float | None = None
    comparisons: tuple[tuple[int, int], ...] | None = None
    findings: tuple[Finding | None, ...] = ()
    pretraining: tuple[RunSpec, ...] = ()

    @property
    def pairs(self) -> tuple[tuple[Arm, Arm], ...]:
        """The pairs of arms the summary compares (see ``comparisons``)."""
        indexes = self.comparisons or tuple((0, i) for i in range(1, len(self.arms)))
        return tuple((self.arms[a], self.arms[b]) for a, b in indexes)

    def run_of(self, arm: Arm, seed: int) -> RunSpec:
        """The run of one arm with one seed."""
        changes = {**self.stop_rule, **arm.changes, "seed": seed}
        return RunSpec.of(
            arm.model, self.recipe, options=dict(arm.options), task=dict(arm.task), **changes
        )

    def __post_init__(self) -> None:
        if not self.seeds:  # decided by the design, before any run is seen
            object.__setattr__(self, "seeds", JUDGED_SEEDS if self.findings else SEEDS)
        if len(self.seeds) < len(SEEDS):
            raise ValueError(
                f"experiment {self.name!r}: {len(self.seeds)} seeds; every arm needs at least "
                f"{len(SEEDS)}."
            )
        if (self.epochs is None) == (self.minutes is None):
            raise ValueError(
                f"experiment {self.name!r}: give epochs or minutes, one of the two "
                f"(got epochs={self.epochs!r}, minutes={self.minutes!r})."
            )
        starts = {dict(run.task).get("start_from") for run in self.runs()} - {None}
        unknown = sorted(starts - {run.key for run in self.pretraining})
        if unknown:
            raise ValueError(
                f"experiment {self.name!r}: its arms start from {', '.join(unknown)}, which it "
                "does not record first; add the run to its pretraining."
            )
        if self.findings and len(self.findings) != len(self.pairs):
            raise ValueError(
                f"experiment {self.name!r}: {len(self.findings)} findings for "
                f"{len(self.pairs)} compared pairs; give one per pair (None where the "
                "paper has none)."
            )

    def finding(self, index: int) -> Finding | None:
        """What the paper found for the ``index``-th compared pair, if it says."""
        return self.findings[index] if self.findings else None

    def describe_stop(self) -> str:
        """How long every run trains, in words."""
        if self.epochs is not None:
            counts = sorted({arm.changes.get("epochs", self.epochs) for arm in self.arms})
            if len(counts) > 1:
                return f"{' or '.join(map(str, counts))} epochs, as each arm says"
            return f"{self.epochs} epochs"
        return f"{self.minutes:g} minutes of training"

    @property
    def stop_rule(self) -> dict[str, float]:
        """The recipe changes that end every run: its epochs, or its minutes."""
        return {"epochs": self.epochs} if self.epochs is not None else {"minutes": self.minutes}

    def runs(self) -> list[RunSpec]:
        """Every run of the experiment's arms, arm by arm (its `pretraining` apart)."""
        return [self.run_of(arm, seed) for arm in self.arms for seed in self.seeds]

    def recorded_by_seed(
        self, path: str | os.PathLike | None = None
    ) -> dict[str, dict[int, RunRecord]]:
        """Each arm's recorded runs (current ones only: see `stale`), by label, then by seed."""
        found = iter(find_all(self.runs(), path))  # arm by arm, seed by seed
        arms = {arm.label: {seed: next(found) for seed in self.seeds} for arm in self.arms}
        return {
            label: {seed: run for seed, run in runs.items() if run and run.is_current()}
            for label, runs in arms.items()
        }

    def stale(self, path: str | os.PathLike | None = None) -> list[RunRecord]:
        """Its runs recorded under an older definition of their recipe, to record again."""
        return [run for run in find_all(self.runs(), path) if run and not run.is_current()]

    def recorded(self, path: str | os.PathLike | None = None) -> dict[str, list[RunRecord]]:
        """Each arm's recorded runs (current ones only), by label, in seed order."""
        return in_seed_order(self.recorded_by_seed(path))


def in_seed_order(
    by_seed: Mapping[str, Mapping[int, RunRecord]],
) -> dict[str, list[RunRecord]]:
    """Each arm's runs as a list, in seed order, from `Experiment.recorded_by_seed`."""
    return {label: list(runs.values()) for label, runs in by_seed.items()}


def _ablation(
    model: str, idea: str, alternative: str, option: Mapping[str, Any]
) -> tuple[Arm, Arm]:
    """The model as its paper builds it, against the same model with one option changed."""
    return Arm(idea, model), Arm(alternative, model, option)


def _transfer_arms(labels: int) -> tuple[Arm, Arm, Arm]:
    """A frozen base, a fine-tuned top stage, and training from scratch, at ``labels`` per class."""
    task = {"classes": TRANSFER_TARGET, "labels_per_class": labels}
    pretrained = {**task, "start_from": TRANSFER_PRETRAINING.key}
    epoch = {"steps_per_epoch": _TRANSFER_STEPS_PER_EPOCH}
    curves = (
        "frozen base, new head (peak rate 0.04)",
        "fine-tuned last stage and new head (peak rate 0.0004)",
        "from scratch (peak rate 0.004)",
    )
    return (
        Arm(
            f"{curves[0]}: {labels:,} labels per class",
            "resnet_fashion",
            changes={**epoch, "learning_rate": _HEAD_RATE},
            task={**pretrained, "freeze": "base"},
            curve=curves[0],
        ),
        Arm(
            f"{curves[1]}: {labels:,} labels per class",
            "resnet_fashion",
            changes={**epoch, "learning_rate": _FINE_TUNING_RATE},
            task={**pretrained, "freeze": "except-top:2"},
            curve=curves[1],
        ),
        Arm(
            f"{curves[2]}: {labels:,} labels per class",
            "resnet_fashion",
            changes=epoch,
            task=task,
            curve=curves[2],
        ),
    )


# The training-recipes ladder: the fast chapter's network, one ingredient added per step,
# each step keeping all those before it. Every step and setting was fixed before any
# run: mixup's alpha at 0.2, the low end of what its paper used on ImageNet, for a
# small network that fits its training images loosely at 10 epochs.
RECIPE_LADDER: tuple[tuple[str, Mapping[str, Any]], ...] = (
    (
        "plain: AdamW, one-cycle to 0.004, 10 epochs",
        {"weight_decay": 0.0, "label_smoothing": 0.0},
    ),
    ("+ weight decay 5e-4", {"weight_decay": 5e-4}),
    ("+ label smoothing 0.1 (the book recipe)", {"label_smoothing": 0.1}),
    ("+ three times longer: 30 epochs", {"epochs": 30}),
    ("+ flips and 2-pixel shifts", {"flip": True, "shift": 2}),
    ("+ random erasing of half the images", {"erasing": 0.5}),
    ("+ mixup (alpha 0.2)", {"mixup": 0.2}),
    ("+ weight averaging (EMA, momentum 0.999)", {"ema": 0.999}),
    ("+ test-time flips", {"flip_at_test": True}),
)
"""The ``training-recipes`` experiment's steps: each one's label and the recipe changes it
adds to those of the steps before it."""


def _ladder(model: str, steps: tuple[tuple[str, Mapping[str, Any]], ...]) -> tuple[Arm, ...]:
    """One arm per step, each with its own changes and those of every step before it."""
    arms, changes = [], {}
    for label, step in steps:
        changes = {**changes, **step}
        arms.append(Arm(label, model, changes=changes))
    return tuple(arms)


def _resnet(label: str, blocks: int, skip: bool) -> Arm:
    options = {"widths": [8, 16, 32], "blocks_per_stage": blocks, "skip_connections": skip}
    return Arm(label, "resnet_fashion", options)


# Papers' findings that hold for more than one compared pair.
_BATCH_NORM_AT_ONE_RATE = Finding(
    "test accuracy",
    +1,
    "at the same learning rate, Inception with batch normalization reached 72.7% top-1 on "
    "ImageNet against 72.2% without, in under half the steps",
)
# Yosinski et al. (2014) split ImageNet's 1,000 classes into halves A and B (about 1,300
# labelled images per class) and moved the first n layers of a network trained on A to B.
_FINE_TUNED_BEATS_SCRATCH = Finding(
    "test accuracy",
    +1,
    "on ImageNet, a network whose first n layers came from one half of the classes and "
    "were fine-tuned on the other (AnB+) beat the same network trained on that half from "
    "scratch (baseB) at every n from 1 to 7 (Yosinski et al. (2014), Figure 2)",
)
_FINE_TUNED_BEATS_FROZEN = Finding(
    "test accuracy",
    +1,
    "on ImageNet, all 7 transferred layers fine-tuned (AnB+) reached a higher top-1 "
    "accuracy on the new half of the classes than the same layers kept frozen (AnB), "
    "which fell below training from scratch (Yosinski et al. (2014), Figure 2)",
)
_RESIDUAL_AT_EACH_DEPTH = Finding(
    "test accuracy",
    +1,
    "on CIFAR-10 the residual networks had lower test error than the plain ones of the "
    "same depth (Figure 6)",
)
# Xception's paper compares no regular-convolution twin; MobileNet's does.
_SEPARABLE_ON_IMAGENET = Finding(
    "test accuracy",
    +1,
    "MobileNet with regular convolutions reached 71.7% top-1 on ImageNet against 70.6% "
    "with depthwise separable ones, at 7 times the parameters (Howard et al. (2017), Table 4)",
)

_EXPERIMENTS = (
    Experiment(
        name="lenet-1998",
        chapter="lenet5",
        question="Do LeNet-5's 1998 choices (tanh, average subsampling) cost accuracy "
        "against today's (ReLU, max pooling)?",
        source="LeCun et al. (1998) chose squashing units and trainable subsampling",
        arms=(
            Arm("1998: tanh, average subsampling", "lenet5_fashion"),
            Arm(
                "modern: ReLU, max pooling",
                "lenet5_fashion",
                {"activation": "relu", "subsampling": "max"},
            ),
        ),
        epochs=10,
    ),
    Experiment(
        name="alexnet-relu",
        chapter="alexnet",
        question="Does ReLU train faster than tanh, as AlexNet's Figure 1 showed?",
        source="Krizhevsky et al. (2012), Figure 1: ReLU reached 25% training error "
        "on CIFAR-10 six times sooner than tanh",
        arms=_ablation("alexnet_fashion", "ReLU", "tanh", {"activation": "tanh"}),
        epochs=5,
        error_target=0.10,
        findings=(
            Finding(
                "last epoch's training error",
                +1,
                "a four-layer network with tanh units took six times as many epochs as "
                "with ReLUs to reach 25% training error on CIFAR-10 (Figure 1)",
            ),
        ),
    ),
    Experiment(
        name="vgg-stacked-kernels",
        chapter="vgg",
        question="Do stacked 3x3 convolutions beat one larger kernel of the same receptive field?",
        source="Simonyan and Zisserman (2014), section 2.3",
        arms=_ablation(
            "vgg_fashion", "stacked 3x3", "one large kernel per stage", {"stacked_kernels": False}
        ),
        epochs=5,
        findings=(
            Finding(
                "test accuracy",
                -1,
                "configuration B with each pair of 3x3 layers replaced by one 5x5 layer "
                "had a top-1 error 7% higher on ImageNet",
            ),
        ),
    ),
    Experiment(
        name="nin-head",
        chapter="nin",
        question="Does global average pooling match a fully connected head with far "
        "fewer parameters?",
        source="Lin et al. (2013), section 4.6",
        arms=_ablation(
            "nin_fashion", "global average pooling", "fully connected head", {"head": "dense"}
        ),
        epochs=5,
        findings=(
            Finding(
                "test accuracy",
                -1,
                "on CIFAR-10 a fully connected head gave 10.88% test error with dropout "
                "(11.59% without), global average pooling 10.41%",
            ),
        ),
    ),
    Experiment(
        name="googlenet-reductions",
        chapter="googlenet",
        question="What do the 1x1 reductions save, and what do they cost in accuracy?",
        source="Szegedy et al. (2014), Figure 2",
        arms=_ablation(
            "googlenet_fashion", "with 1x1 reductions", "naive modules", {"reductions": False}
        ),
        epochs=5,
    ),
    Experiment(
        name="batch-norm-learning-rates",
        chapter="batch_norm",
        question="Does batch normalization let a network train at learning rates that "
        "stall it without?",
        source="Ioffe and Szegedy (2015), section 4.2 (higher learning rates)",
        arms=tuple(
            Arm(
                f"{'with' if norm else 'without'} batch norm, peak rate {rate:g}",
                "vgg_fashion",
                {"batch_norm": True} if norm else {},
                {"learning_rate": rate},
            )
            for rate in (1e-3, 4e-3, 1.6e-2)
            for norm in (False, True)
        ),
        epochs=5,
        comparisons=((0, 1), (2, 3), (4, 5)),  # with against without, at each rate
        findings=(
            _BATCH_NORM_AT_ONE_RATE,
            _BATCH_NORM_AT_ONE_RATE,
            Finding(
                "test accuracy",
                +1,
                "with the learning rate raised 5 times, Inception with batch normalization "
                "reached 73.0% top-1; without it the parameters grew without bound",
            ),
        ),
    ),
    Experiment(
        name="resnet-degradation",
        chapter="resnet",
        question="Does a deeper plain network train worse than a shallower one, and do "
        "skip connections fix it?",
        source="He et al. (2015), Figure 1 and Figure 6 (CIFAR-10, 20 and 56 layers)",
        arms=(
            _resnet("plain, 20 layers", 3, False),
            _resnet("plain, 56 layers", 9, False),
            _resnet("residual, 20 layers", 3, True),
            _resnet("residual, 56 layers", 9, True),
        ),
        epochs=5,
        # Degradation (deeper plain against shallower plain), then its cure at each depth.
        comparisons=((0, 1), (0, 2), (1, 3)),
        findings=(
            Finding(
                "last epoch's training error",
                +1,
                "on CIFAR-10 the 56-layer plain network had a higher training error than "
                "the 20-layer one (Figure 1)",
            ),
            _RESIDUAL_AT_EACH_DEPTH,
            _RESIDUAL_AT_EACH_DEPTH,
        ),
    ),
    Experiment(
        name="se-blocks",
        chapter="senet",
        question="What does squeeze-and-excitation add in accuracy per added parameter?",
        source="Hu et al. (2017), Table 2",
        arms=(
            Arm("ResNet", "resnet_fashion"),
            Arm("SE-ResNet", "se_resnet_fashion"),
        ),
        epochs=10,
        findings=(
            Finding(
                "test accuracy",
                +1,
                "SE blocks lowered ResNet-50's top-1 error on ImageNet from 24.80% to 23.29%",
            ),
        ),
    ),
    Experiment(
        name="densenet-vs-residual",
        chapter="densenet",
        question="Does dense connectivity beat residual connectivity at the same number "
        "of parameters?",
        source="Huang et al. (2017), Figure 3 (DenseNet against ResNet at equal parameters)",
        arms=(
            Arm("dense connectivity", "densenet_fashion"),
            # Within 0.2% of the DenseNet's parameters and 1.3% of its MACs.
            Arm(
                "residual, equal parameters",
                "resnet_fashion",
                {"widths": [16, 26, 38], "blocks_per_stage": 3},
            ),
        ),
        epochs=10,
        findings=(
            Finding(
                "test accuracy",
                -1,
                "on ImageNet a DenseNet matched the error of a ResNet with about twice its "
                "parameters (Figure 3), so a ResNet of equal size has the higher error",
            ),
        ),
    ),
    Experiment(
        name="resnext-cardinality",
        chapter="resnext",
        question="At a fixed cost, do more groups of narrower paths beat fewer wide ones?",
        source="Xie et al. (2017), Table 3",
        arms=(
            # The paper's d (group_width) shrinks as the cardinality grows, so
            # that the three differ by under 3% in parameters.
            Arm(
                "cardinality 1, width 13", "resnext_fashion", {"cardinality": 1, "group_width": 13}
            ),
            Arm("cardinality 4, width 5", "resnext_fashion", {"cardinality": 4, "group_width": 5}),
            Arm("cardinality 8, width 3 (the book's variant)", "resnext_fashion"),
        ),
        epochs=5,
        findings=(
            Finding(
                "test accuracy",
                +1,
                "at the cost of ResNet-50, top-1 error on ImageNet fell from 23.9% at "
                "cardinality 1 to 22.6% at cardinality 4",
            ),
            Finding(
                "test accuracy",
                +1,
                "at the cost of ResNet-50, top-1 error on ImageNet fell from 23.9% at "
                "cardinality 1 to 22.3% at cardinality 8",
            ),
        ),
    ),
    Experiment(
        name="xception-separable",
        chapter="xception",
        question="Do depthwise separable convolutions keep the accuracy of regular ones "
        "at a fraction of the parameters?",
        source="Chollet (2017), section 2",
        arms=_ablation(
            "xception_fashion", "separable", "regular convolutions", {"separable": False}
        ),
        epochs=5,
        findings=(_SEPARABLE_ON_IMAGENET,),
    ),
    Experiment(
        name="mobilenet-bottleneck",
        chapter="mobilenet_v2",
        question="Does the linear bottleneck help, and what does the depthwise convolution save?",
        source="Sandler et al. (2018), section 6.4 and Figure 6",
        arms=(
            Arm("linear bottleneck (the paper's)", "mobilenet_v2_fashion"),
            Arm("ReLU6 in the bottleneck", "mobilenet_v2_fashion", {"linear_bottleneck": False}),
            Arm("regular 3x3 convolution", "mobilenet_v2_fashion", {"separable": False}),
        ),
        epochs=5,
        findings=(
            Finding(
                "test accuracy",
                -1,
                "a ReLU6 after the projection lowered top-1 accuracy on ImageNet (Figure 6a)",
            ),
            _SEPARABLE_ON_IMAGENET,
        ),
    ),
    # ConvNeXt's Figure 2, one cumulative step per arm, from the book's ResNet
    # (convnext_fashion's `roadmap` option); every step within 35% of its MACs.
    # Scaling one base network (efficientnet_fashion at half its depth, so that the 25 runs
    # fit in about 3 hours on 2 cores) to about 1.7 times its multiply-accumulates in each
    # of four ways; the example computes every arm's parameters and MACs.
    Experiment(
        name="efficientnet-scaling",
        chapter="efficientnet",
        question="At about the same multiply-accumulates, does scaling depth, width and "
        "resolution together beat scaling one of them?",
        source="Tan and Le (2019), section 3.3, Table 3 and Figures 3, 4 and 8",
        arms=(
            Arm("base: depth x0.5 (phi = 0)", "efficientnet_fashion", EFFICIENTNET_BASE),
            Arm(
                "depth only: x1.0 (the book's variant)",
                "efficientnet_fashion",
                {**EFFICIENTNET_BASE, "depth_coefficient": 1.0},
            ),
            Arm(
                "width only: x1.3",
                "efficientnet_fashion",
                {**EFFICIENTNET_BASE, "width_coefficient": 1.3},
            ),
            Arm(
                "resolution only: 37x37",
                "efficientnet_fashion",
                {**EFFICIENTNET_BASE, "resolution": 37},
            ),
            Arm(
                "compound (phi = 1): depth x1.2, width x1.1, 32x32",
                "efficientnet_fashion",
                {"depth_coefficient": 0.6, "width_coefficient": 1.1, "resolution": 32},
            ),
        ),
        epochs=3,
        comparisons=((1, 4), (2, 4), (3, 4)),
        findings=(
            Finding(
                "test accuracy",
                +1,
                "scaling MobileNetV2 to about 1.2 billion FLOPs, compound scaling reached "
                "77.4% top-1 on ImageNet against 76.8% for depth alone (d = 4; Table 3)",
            ),
            Finding(
                "test accuracy",
                +1,
                "scaling MobileNetV2 to about 1.2 billion FLOPs, compound scaling reached "
                "77.4% top-1 on ImageNet against 76.4% for width alone (w = 2; Table 3)",
            ),
            Finding(
                "test accuracy",
                +1,
                "scaling MobileNetV2 to about 1.2 billion FLOPs, compound scaling reached "
                "77.4% top-1 on ImageNet against 74.8% for resolution alone (r = 2; Table 3)",
            ),
        ),
    ),
    Experiment(
        name="convnext-roadmap",
        chapter="convnext",
        question="Does each step of ConvNeXt's path from a ResNet raise the accuracy, as it "
        "did on ImageNet?",
        source="Liu et al. (2022), Figure 2: ResNet-50 modernized one step at a time "
        "(ImageNet top-1, 78.8% to 82.0%)",
        arms=(
            Arm("ResNet (the book's resnet_fashion)", "convnext_fashion", {"roadmap": "resnet"}),
            Arm("stage ratio 1-1-4", "convnext_fashion", {"roadmap": "stage_ratio"}),
            Arm("patchify stem", "convnext_fashion", {"roadmap": "patchify"}),
            Arm("ResNeXt-ify: depthwise 3x3, wider", "convnext_fashion", {"roadmap": "resnextify"}),
            Arm("inverted bottleneck", "convnext_fashion", {"roadmap": "inverted_bottleneck"}),
            Arm("depthwise moved up, 7x7", "convnext_fashion", {"roadmap": "large_kernel"}),
            Arm("micro design: ConvNeXt (the book's convnext_fashion)", "convnext_fashion"),
        ),
        # 2 epochs: 35 runs in about 2.5 hours on a quiet 2-core CPU (the depthwise
        # 3x3 steps at four times the width train at a third of the ResNet's speed).
        epochs=2,
        comparisons=((0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6)),
        findings=(
            Finding(
                "test accuracy",
                +1,
                "changing ResNet-50's blocks per stage from 3-4-6-3 to 3-3-9-3 raised top-1 on "
                "ImageNet from 78.8% to 79.4%",
            ),
            Finding(
                "test accuracy",
                +1,
                "a 4x4 stride-4 patchify stem in place of ResNet's 7x7 convolution and max "
                "pooling raised top-1 from 79.4% to 79.5%",
            ),
            Finding(
                "test accuracy",
                +1,
                "depthwise convolutions lowered top-1 to 78.3%; widening the network to 96 "
                "channels, as Swin-T, raised it to 80.5%",
            ),
            Finding(
                "test accuracy",
                +1,
                "the inverted bottleneck raised top-1 from 80.5% to 80.6% at fewer FLOPs",
            ),
            None,  # moving the depthwise convolution up cost 0.7 points, 7x7 won them back
            Finding(
                "test accuracy",
                +1,
                "GELU left top-1 at 80.6%; one activation per block raised it to 81.3%, one "
                "normalization to 81.4%, LayerNorm to 81.5% and separate downsampling layers "
                "to 82.0%",
            ),
        ),
    ),
    # Pretrained on five classes, moved to the other five with few labels: a frozen base
    # (its head at ten times the book's rate), its top stage fine-tuned at a tenth of it,
    # and training from scratch at the book's, each for 400 steps (10 epochs of 40).
    Experiment(
        name="transfer-learning",
        chapter="transfer",
        question="Do features learned on five classes help a network learn five others from "
        "10, 100 or 1,000 labels per class, frozen or fine-tuned?",
        source="Yosinski et al. (2014), Figure 2: the first n layers of a network trained on "
        "one half of ImageNet's classes, moved to the other half, frozen or fine-tuned",
        arms=tuple(arm for labels in TRANSFER_LABELS for arm in _transfer_arms(labels)),
        epochs=10,
        # At each number of labels: transfer against scratch, frozen and fine-tuned, then
        # fine-tuning against the frozen base.
        comparisons=tuple(
            pair
            for first in (0, 3, 6)
            for pair in ((first + 2, first), (first + 2, first + 1), (first, first + 1))
        ),
        findings=(
            None,  # a frozen base against scratch: no paper figure at 10 labels per class
            _FINE_TUNED_BEATS_SCRATCH,
            _FINE_TUNED_BEATS_FROZEN,
            None,  # nor at 100
            _FINE_TUNED_BEATS_SCRATCH,
            _FINE_TUNED_BEATS_FROZEN,
            Finding(
                "test accuracy",
                -1,
                "on ImageNet, with about 1,300 labels per class, all 7 layers moved from "
                "the other half of the classes and kept frozen (AnB, n = 7) gave a lower "
                "top-1 accuracy than training on the new half from scratch (baseB): the top "
                "layers' features were specific to their classes (Yosinski et al. (2014), "
                "Figure 2)",
            ),
            _FINE_TUNED_BEATS_SCRATCH,
            _FINE_TUNED_BEATS_FROZEN,
        ),
        pretraining=(TRANSFER_PRETRAINING,),
    ),
    # The recipe alone: one network, one ingredient added per step (RECIPE_LADDER).
    Experiment(
        name="training-recipes",
        chapter="recipes",
        question="How far does the training recipe alone take one network, one ingredient "
        "at a time?",
        source='the recipe ladders of He et al. (2019, "Bag of Tricks") and Wightman et '
        'al. (2021, "ResNet strikes back"), with each ingredient\'s own paper',
        arms=_ladder("fast_resnet_fashion", RECIPE_LADDER),
        epochs=10,
        # Each step against the one before it, then the whole ladder above the book recipe.
        comparisons=(*((i, i + 1) for i in range(len(RECIPE_LADDER) - 1)), (2, 8)),
        findings=(
            None,  # weight decay: no paper figure for AdamW's on a network like this one
            Finding(
                "test accuracy",
                +1,
                "label smoothing (0.1) improved Inception-v2's top-1 and top-5 error on "
                "ImageNet by about 0.2 points each (Szegedy et al. (2016), section 7)",
            ),
            None,  # a longer schedule
            None,  # flips and shifts: the standard augmentation every later paper starts from
            Finding(
                "test accuracy",
                +1,
                "on Fashion-MNIST, random erasing lowered WRN-28-10's test error from 4.01% "
                "to 3.65% (Zhong et al. (2020), Table 1)",
            ),
            Finding(
                "test accuracy",
                +1,
                "on CIFAR-10, mixup (alpha 1) lowered PreAct ResNet-18's test error from "
                "5.6% to 4.2% (Zhang et al. (2018), Table 2)",
            ),
            None,  # weight averaging
            None,  # test-time flips
            None,  # everything after the book recipe
        ),
    ),
    # The fast recipe's techniques, one at a time (`cnn-guide bench --recipe fast --against
    # seed` times the whole recipe). 1.5 minutes is about a tenth of T on a 2-core CPU:
    # the budget of the 93% goal.
    Experiment(
        name="fast-ablation",
        chapter="fast",
        question="What does each technique of the fast recipe buy within a 1.5-minute budget?",
        source="the ablation ladders of Page (2018, ResNet-9) and Jordan (2024, airbench)",
        arms=(
            Arm("the fast recipe", "fast_resnet_fashion"),
            Arm(
                "constant rate 0.001 instead of one-cycle",
                "fast_resnet_fashion",
                changes={"schedule": "constant", "learning_rate": 1e-3},
            ),
            # The arm above changes two things (the schedule, and a peak four times lower);
            # this one changes the schedule alone.
            Arm(
                "constant rate 0.004 (the peak) instead of one-cycle",
                "fast_resnet_fashion",
                changes={"schedule": "constant"},
            ),
            Arm("no label smoothing", "fast_resnet_fashion", changes={"label_smoothing": 0.0}),
            Arm("no weight decay", "fast_resnet_fashion", changes={"weight_decay": 0.0}),
            Arm("test-time flips added", "fast_resnet_fashion", changes={"flip_at_test": True}),
            Arm(
                "flips, 2-pixel shifts and test-time flips added",
                "fast_resnet_fashion",
                changes={"flip": True, "shift": 2, "flip_at_test": True},
            ),
        ),
        epochs=None,
        minutes=1.5,
        recipe="fast",
        seeds=(42, 43, 44),
    ),
    # airbench's ingredients, each added alone to the fast recipe at the same budget as the
    # ablation above; each is kept only where the validation accuracy supports it.
    Experiment(
        name="fast-airbench",
        chapter="fast",
        question="Which of airbench's ingredients help the fast recipe within a 1.5-minute budget?",
        source="Jordan (2024, airbench), section 3, and its ablation ladder",
        arms=(
            Arm("the fast recipe", "fast_resnet_fashion"),
            Arm("frozen 2x2 patch-whitening stem", "fast_resnet_fashion", {"whiten": True}),
            Arm("GELU instead of ReLU", "fast_resnet_fashion", {"activation": "gelu"}),
            # An average over about 100 steps: a few per cent of a 1.5-minute run.
            Arm("weights averaged (EMA 0.99)", "fast_resnet_fashion", changes={"ema": 0.99}),
            Arm(
                "batch 256 at twice the peak rate",
                "fast_resnet_fashion",
                changes={"batch_size": 256, "learning_rate": 8e-3},
            ),
            Arm(
                "random flips, 2-pixel shifts and test-time flips",
                "fast_resnet_fashion",
                changes={"flip": True, "shift": 2, "flip_at_test": True},
            ),
            Arm(
                "the same, each image flipped in alternate epochs",
                "fast_resnet_fashion",
                changes={"flip": True, "alternate_flips": True, "shift": 2, "flip_at_test": True},
            ),
            Arm(
                "convolutions started as the identity",
                "fast_resnet_fashion",
                {"identity_init": True},
            ),
            Arm(
                "batch-norm biases learning 64 times faster",
                "fast_resnet_fashion",
                {"bias_rate": 64.0},
            ),
        ),
        # Each ingredient against the fast recipe; alternating flips against random ones.
        comparisons=((0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (5, 6), (0, 7), (0, 8)),
        epochs=None,
        minutes=1.5,
        recipe="fast",
        seeds=(42, 43, 44),
    ),
)


_BY_NAME = {experiment.name: experiment for experiment in _EXPERIMENTS}


def list_experiments() -> list[str]:
    """Names of the experiments, in the book's order."""
    return list(_BY_NAME)


def get_experiment(name: str) -> Experiment:
    """An experiment by name.

    Raises:
        ValueError: For an unknown name, listing the known ones.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(
            f"unknown experiment {name!r}; choose one of: {', '.join(_BY_NAME)}."
        ) from None


def experiment_runs(names: list[str] | None = None) -> list[RunSpec]:
    """The runs of the named experiments (default: all), without repeats.

    The runs whose weights arms start from (each experiment's ``pretraining``)
    come first. Then the runs come seed by seed: every arm of every experiment
    named, in the order named, with its first seed, then all of them with their second, and
    so on. A recording stopped early so leaves each experiment's arms with the
    same seeds, paired, rather than one arm complete and the next not begun.
    """
    chosen = [get_experiment(name) for name in (names or list_experiments())]
    rounds = max(len(experiment.seeds) for experiment in chosen)
    pretraining = [spec for experiment in chosen for spec in experiment.pretraining]
    arms = (
        experiment.run_of(arm, experiment.seeds[index])
        for index in range(rounds)
        for experiment in chosen
        if index < len(experiment.seeds)
        for arm in experiment.arms
    )
    return list(dict.fromkeys([*pretraining, *arms]))
