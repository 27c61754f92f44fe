"""The teaching experiments on the pages: tables, readings by the book's rule, curves.

The experiments themselves are data (`cnn_guide.experiments`); this module
reads their runs from the store and writes what a chapter shows. Every
difference is judged by `cnn_guide.statistics`: the difference of two arms'
means over seeds with its 95% interval (Welch's t), a finding only where the
interval excludes zero, and McNemar's exact test on the shared test images
where both runs kept their predictions.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

from cnn_guide.experiments import (
    FIGURES,
    Arm,
    Experiment,
    Finding,
    get_experiment,
    in_seed_order,
    list_experiments,
)
from cnn_guide.plotting import book_style, embedded_png
from cnn_guide.report.tables import markdown_table, test_labels
from cnn_guide.results import find, load_predictions
from cnn_guide.runs import RunRecord, RunSpec
from cnn_guide.statistics import (
    Difference,
    compare,
    holm,
    mcnemar,
    mean_interval,
    simulate,
    summarize,
)

__all__ = [
    "plot_arm_accuracy",
    "plot_experiment",
    "plot_labels_curve",
    "render_experiment",
    "render_findings",
    "render_rule_simulation",
    "summary",
]

Store = str | os.PathLike | None

LADDER_ARMS = 5
"""Arms from which a chapter's experiment also shows every seed's test accuracy by arm
(`plot_arm_accuracy`): too many for the curves by epoch alone to be read."""


def _first_epoch_below(run: RunRecord, error: float) -> int | None:
    return next(
        (
            epoch
            for epoch, accuracy in enumerate(run.history["accuracy"], 1)
            if 1 - accuracy <= error
        ),
        None,
    )


def summary(experiment: Experiment, path: Store = None) -> str:
    """A Markdown table of the experiment's recorded runs, or the command that records them.

    Each arm's row gives its parameters and MACs, the test accuracy of every
    seed with their mean and its standard error, the mean validation
    accuracy, each seed's training error over its last epoch (what the
    degradation problem is about) and, where the experiment names a
    training error, the epoch each seed first reached it. Below the table,
    each compared pair is read by the book's rule (`cnn_guide.statistics`).
    """
    by_seed = experiment.recorded_by_seed(path)
    recorded = in_seed_order(by_seed)
    done = sum(len(runs) for runs in recorded.values())
    wanted = len(experiment.arms) * len(experiment.seeds)
    command = f"cnn-guide record --plan experiments --only {experiment.name}"
    if done == 0:
        return f"*Not recorded yet: `{command}` trains its {wanted} runs.*"
    header = [
        "network",
        "parameters",
        "MACs",
        "test accuracy (seed)",
        "mean ± standard error",
        "validation accuracy (mean)",
        "last epoch's training error",
    ]
    if experiment.error_target is not None:
        header.append(f"epoch to {experiment.error_target:.0%} training error")
    rows = [_arm_row(arm, by_seed[arm.label], experiment, len(header)) for arm in experiment.arms]
    first = next(runs[0] for runs in recorded.values() if runs)
    machines = list(dict.fromkeys(run.hardware for runs in recorded.values() for run in runs))
    where = (
        f"measured on {first.describe_machine()}"
        if len(machines) == 1
        else f"measured on {len(machines)} machines ({'; '.join(machines)})"
    )
    note = (
        f"\n\n{experiment.describe_stop()} of the {experiment.recipe} recipe per run, "
        f"{_data_words(experiment, first)}; {len(experiment.seeds)} seeds per arm "
        f"({', '.join(map(str, experiment.seeds))}); {where} by `{command}`."
    )
    note += _pretraining_words(experiment, path)
    if len(machines) > 1 and experiment.minutes is not None:
        note += (
            " **Its arms ran on different machines:** a budget of minutes buys each machine a "
            "different number of steps, so arms from different machines do not compare. "
            f"Record all of them again on one quiet machine with `{command}`."
        )
    if done < wanted:
        note += f" Recorded so far: {done} of its {wanted} runs."
    stale = experiment.stale(path)
    if stale:
        note += (
            f" **Stale, left out:** {len(stale)} run(s) recorded under an older definition of "
            f"their recipe; `{command}` records them again."
        )
    readings = [
        _reading(arm, other, by_seed, experiment.finding(index), path)
        for index, (arm, other) in enumerate(experiment.pairs)
    ]
    readings = [reading for reading in readings if reading]
    if readings:
        note += (
            "\n\nWhat the seeds show (each difference of means with its 95% interval, by "
            "Welch's t; a finding only where the interval excludes zero):\n\n"
            + "\n".join(f"- {r}" for r in readings)
        )
    return markdown_table(header, rows) + note


def _data_words(experiment: Experiment, first: RunRecord) -> str:
    """What the runs learnt from and were tested on, in words."""
    if not any(arm.task for arm in experiment.arms):
        return (
            f"on all {first.train_size:,} training images; test accuracy on all "
            f"{first.test_size:,} test images"
        )
    classes = sorted({tuple(arm.task.get("classes", range(10))) for arm in experiment.arms})
    labels = sorted({arm.labels_per_class for arm in experiment.arms} - {None})
    steps = sorted({arm.changes.get("steps_per_epoch") for arm in experiment.arms} - {None})
    words = "each epoch " + (f"{steps[0]} steps, " if len(steps) == 1 else "")
    return (
        f"{words}on the labelled training images its arm names "
        f"({_either([f'{n:,}' for n in labels])} per class of classes "
        f"{' / '.join(','.join(map(str, c)) for c in classes)}, drawn by the run's seed); "
        f"test accuracy on all {first.test_size:,} test images of those classes"
    )


def _either(words: list[str]) -> str:
    """``"a, b or c"``."""
    return " or ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


def _pretraining_words(experiment: Experiment, path: Store) -> str:
    """The runs the arms start from, with their test accuracy, or how to record them."""
    words = []
    for spec in experiment.pretraining:
        run = find(spec, path)
        if run is None:
            words.append(f" The arms start from `{spec.key}`: not recorded yet.")
        else:
            words.append(
                f" The arms start from the kept weights of `{spec.key}`: test accuracy "
                f"{run.test_accuracy:.4f} on the {run.test_size:,} test images of its own "
                f"classes, recorded {run.date[:10]}."
            )
    return "".join(words)


def _arm_row(
    arm: Arm, runs: Mapping[int, RunRecord], experiment: Experiment, width: int
) -> list[str]:
    """One arm's cells in the experiment's table."""
    if not runs:
        return [arm.label, "", "", "not recorded yet"] + [""] * (width - 4)
    first = next(iter(runs.values()))
    accuracy = summarize([run.test_accuracy for run in runs.values()])
    error = accuracy.standard_error
    cells = [
        arm.label,
        f"{first.parameters:,}",
        f"{first.macs / 1e6:,.1f}M" if first.macs else "",
        ", ".join(f"{run.test_accuracy:.4f} ({seed})" for seed, run in runs.items()),
        f"{accuracy.mean:.4f} " + (f"± {error:.4f}" if error is not None else "(one seed so far)"),
        f"{sum(run.valid_accuracy for run in runs.values()) / len(runs):.4f}",
        ", ".join(f"{1 - run.history['accuracy'][-1]:.4f}" for run in runs.values()),
    ]
    if experiment.error_target is not None:
        epochs = [_first_epoch_below(run, experiment.error_target) for run in runs.values()]
        cells.append(", ".join("not reached" if e is None else str(e) for e in epochs))
    return cells


def _points(runs: Mapping[int, RunRecord], figure: str) -> dict[int, float]:
    """A figure of each seed's run, in points."""
    return {seed: 100 * FIGURES[figure](run) for seed, run in runs.items()}


def _words(difference: Difference | None, figure: str) -> str:
    """A difference in words: the estimate, its interval, and what it lets the page say."""
    if difference is None:
        return f"{figure}: one seed so far, no spread to judge a difference against"
    seeds = min(difference.seeds)
    said = "a finding" if difference.excludes_zero else f"cannot tell at {seeds} seeds"
    return f"{figure} {difference.estimate:+.2f} points {difference.interval()}: {said}"


_AGAINST_THE_PAPER = {
    "agrees": "the interval excludes zero on the paper's side, so it **agrees** with the paper.",
    "contradicts": "the interval excludes zero on the other side, so it **contradicts** the paper.",
    "cannot tell": "the interval includes zero, so the book **cannot tell** at {seeds} seeds.",
}


def _reading(
    arm: Arm,
    other: Arm,
    by_seed: Mapping[str, Mapping[int, RunRecord]],
    finding: Finding | None,
    path: Store,
) -> str | None:
    """The difference between two arms, figure by figure, read by the book's rule.

    Each figure's difference of means comes with its 95% interval over seeds
    (`cnn_guide.statistics.compare`); where both arms kept their test
    predictions, McNemar's exact test on the shared test images adds, seed
    by seed, how many images only one of them gets right. ``None`` while an
    arm has no recorded run.
    """
    runs = by_seed[arm.label], by_seed[other.label]
    if not runs[0] or not runs[1]:
        return None
    size = [next(iter(r.values())).parameters for r in runs]
    ratio = size[1] / size[0]
    # Past doubling, "15.2 times" reads better than "+1418.1%".
    relative = f"{ratio:.1f} times as many" if ratio >= 2 else f"{ratio - 1:+.1%}"
    weights = f", with {size[1] - size[0]:+,} parameters ({relative})" if ratio != 1 else ""
    differences = {
        figure: compare(_points(runs[0], figure), _points(runs[1], figure)) for figure in FIGURES
    }
    reading = (
        f"*{other.label}* against *{arm.label}*{weights}: "
        + "; ".join(_words(difference, figure) for figure, difference in differences.items())
        + "."
    )
    paired = _mcnemar_by_seed(runs[0], runs[1], path)
    if paired:
        reading += (
            f" On the same test images, the images only *{other.label}* gets right and those "
            f"only *{arm.label}* gets right: {paired}."
        )
    if finding is not None:
        difference = differences[finding.figure]
        reading += f" **Against the paper:** {finding.claim}. " + (
            "One seed so far: the book **cannot tell** yet."
            if difference is None
            else f"Here the {finding.figure} moved {difference.estimate:+.2f} points "
            f"{difference.interval()}: "
            + _AGAINST_THE_PAPER[finding.outcome(difference)].format(seeds=min(difference.seeds))
        )
    return reading


def _mcnemar_by_seed(
    first: Mapping[int, RunRecord], second: Mapping[int, RunRecord], path: Store
) -> str:
    """McNemar's exact test, seed by seed, where both runs kept their test predictions."""
    parts = []
    for seed in sorted(set(first) & set(second)):
        predicted = [load_predictions(runs[seed].spec, path) for runs in (first, second)]
        if predicted[0] is None or predicted[1] is None:
            continue
        labels = _task_labels(first[seed].spec)
        if not len(predicted[0]) == len(predicted[1]) == len(labels):
            continue  # not scored on the same test images
        test = mcnemar(predicted[0] == labels, predicted[1] == labels)
        parts.append(
            f"seed {seed}: {test.only_second} and {test.only_first} "
            f"(McNemar's exact p = {test.p_value:.2g})"
        )
    return "; ".join(parts)


def _task_labels(spec: RunSpec) -> np.ndarray:
    """The test labels a run was scored against: its own classes', relabelled 0, 1, ..."""
    labels = test_labels()
    classes = dict(spec.task).get("classes")
    if classes is None:
        return labels
    relabel = np.full(10, -1, dtype=np.int64)
    relabel[list(classes)] = np.arange(len(classes))
    return relabel[labels[np.isin(labels, classes)]]


def plot_labels_curve(experiment: Experiment, path: Store = None) -> plt.Figure:
    """Test accuracy against labelled images per class, one line per `Arm.curve`.

    Each seed's run is a dot; the line joins the means over seeds, with bars
    of one standard error.

    Raises:
        ValueError: If none of its runs is recorded yet, or no arm has a curve
            and a number of labels.
    """
    recorded = experiment.recorded_by_seed(path)
    arms = [arm for arm in experiment.arms if arm.curve and arm.labels_per_class]
    if not arms:
        raise ValueError(f"no arm of {experiment.name!r} has a curve and labels per class.")
    if not any(recorded[arm.label] for arm in arms):
        raise ValueError(f"no run of the experiment {experiment.name!r} is recorded yet.")
    curves = list(dict.fromkeys(arm.curve for arm in arms))
    with book_style():
        fig, ax = plt.subplots(figsize=(7, 4))
        for colour, curve in enumerate(curves):
            points = []
            for arm in (arm for arm in arms if arm.curve == curve):
                accuracies = [run.test_accuracy for run in recorded[arm.label].values()]
                if not accuracies:
                    continue
                x = arm.labels_per_class
                ax.plot([x] * len(accuracies), accuracies, ".", color=f"C{colour}", alpha=0.5)
                stats = summarize(accuracies)
                points.append((x, stats.mean, stats.standard_error or 0.0))
            if points:
                x, mean, error = zip(*sorted(points), strict=True)
                ax.errorbar(x, mean, yerr=error, color=f"C{colour}", marker="o", label=curve)
        ax.set_xscale("log")
        ax.set_xlabel("labelled training images per class")
        ax.set_ylabel("test accuracy")
        ax.legend(fontsize="small")
        ax.set_title(f"{experiment.name}: a dot per seed, the line through the means")
        fig.tight_layout()
    return fig


def _recorded_runs(experiment: Experiment, path: Store) -> dict[str, list[RunRecord]]:
    """Each arm's recorded runs, for a figure.

    Raises:
        ValueError: If none of its runs is recorded yet.
    """
    recorded = experiment.recorded(path)
    if not any(recorded.values()):
        raise ValueError(f"no run of the experiment {experiment.name!r} is recorded yet.")
    return recorded


def plot_experiment(experiment: Experiment, path: str | os.PathLike | None = None) -> plt.Figure:
    """Training and validation error by epoch of every recorded run, one colour per arm.

    Raises:
        ValueError: If none of its runs is recorded yet.
    """
    recorded = _recorded_runs(experiment, path)
    with book_style():
        fig, (train, valid) = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
        for colour, (label, runs) in enumerate(recorded.items()):
            for index, run in enumerate(runs):
                epochs = np.arange(1, len(run.history["accuracy"]) + 1)
                style = {"color": f"C{colour}", "label": label if index == 0 else None}
                train.plot(epochs, 1 - np.asarray(run.history["accuracy"]), "-", **style)
                valid.plot(epochs, 1 - np.asarray(run.history["val_accuracy"]), "--", **style)
        train.set_ylabel("error")
        train.set_title("training (running mean over each epoch)")
        valid.set_title("validation")
        for ax in (train, valid):
            ax.set_xlabel("epoch")
            ax.set_yscale("log")
            ax.xaxis.get_major_locator().set_params(integer=True)
        train.legend(fontsize="small")
        fig.suptitle(f"{experiment.name}: one line per seed")
        fig.tight_layout()
    return fig


def plot_arm_accuracy(experiment: Experiment, path: Store = None) -> plt.Figure:
    """Each arm's test accuracy: every seed a dot, the mean with its 95% interval.

    The interval is Student's t over the arm's seeds (none for one seed): the
    spread a reader should hold each step of a ladder against. Arms run top
    to bottom in the experiment's order, so that a ladder reads downwards.

    Raises:
        ValueError: If none of its runs is recorded yet.
    """
    recorded = _recorded_runs(experiment, path)
    with book_style():
        fig, ax = plt.subplots(figsize=(7.5, 0.5 * len(recorded) + 1.2))
        for row, runs in enumerate(recorded.values()):
            if not runs:
                ax.text(
                    0.01,
                    row,
                    "not recorded yet",
                    transform=ax.get_yaxis_transform(),
                    va="center",
                    fontsize="small",
                    color="0.5",
                )
                continue
            values = np.array([run.test_accuracy for run in runs]) * 100
            ax.plot(values, np.full(len(values), row), "o", color="C0", alpha=0.7, ms=4)
            mean, low, high = mean_interval(values)
            if high > low:
                xerr = [[mean - low], [high - mean]]
                ax.errorbar(mean, row, xerr=xerr, fmt="none", color="C1", capsize=3)
            ax.plot([mean], [row], "|", color="C1", ms=14, mew=2)
        labels = [textwrap.fill(label, 30) for label in recorded]
        ax.set_yticks(range(len(recorded)), labels, fontsize="small")
        ax.invert_yaxis()
        ax.set_xlabel("test accuracy (%): each seed; the mean and its 95% interval")
        ax.set_title(f"{experiment.name}: {experiment.describe_stop()}")
        fig.tight_layout()
    return fig


def render_experiment(name: str, path: str | os.PathLike | None = None) -> str:
    """An experiment for a chapter: its question, its table and, once recorded, its curves.

    The figures are embedded in the page as PNGs, so the chapter needs no file
    written beside it: the curves by epoch, then test accuracy against labels
    per class for arms on such curves, or each arm's seeds for an experiment
    of `LADDER_ARMS` arms or more.
    """
    experiment = get_experiment(name)
    text = f"**{experiment.question}** ({experiment.source}.)\n\n" + summary(experiment, path)
    if not any(experiment.recorded(path).values()):
        return text
    alt = f"Training and validation error by epoch of the {name} experiment"
    text += "\n\n" + embedded_png(plot_experiment(experiment, path), alt) + "\n"
    if any(arm.curve for arm in experiment.arms):
        alt = f"Test accuracy against labels per class of the {name} experiment"
        text += "\n" + embedded_png(plot_labels_curve(experiment, path), alt) + "\n"
    elif len(experiment.arms) >= LADDER_ARMS:
        alt = f"Test accuracy of every seed of each arm of the {name} experiment"
        text += "\n" + embedded_png(plot_arm_accuracy(experiment, path), alt) + "\n"
    return text


def render_findings(chapters: Mapping[str, str] | None = None, path: Store = None) -> str:
    """Every paper result the experiments test, with what the runs measured, as Markdown.

    One row per compared pair that has a `Finding`: the seeds of each arm,
    the difference of the means with its 95% interval (Welch's t), the
    verdict by the book's rule, and the p-value after Holm's correction for
    the whole family of judged results.

    Args:
        chapters: Each experiment's chapter file by experiment name, to link rows.
        path: The store (default `cnn_guide.results.results_path`).
    """
    chapters = chapters or {}
    rows: list[list[str]] = []
    judged: dict[int, Difference] = {}  # by row
    outcomes: list[str] = []
    untested = []
    for name in list_experiments():
        experiment = get_experiment(name)
        if not experiment.findings:
            untested.append(name)
            continue
        by_seed = experiment.recorded_by_seed(path)
        chapter = chapters.get(name)
        link = f"[{name}]({chapter}#the-experiment)" if chapter else name
        for index, (arm, other) in enumerate(experiment.pairs):
            finding = experiment.finding(index)
            if finding is None:
                continue
            runs = by_seed[arm.label], by_seed[other.label]
            difference = compare(*(_points(r, finding.figure) for r in runs))
            outcomes.append(finding.outcome(difference))
            if difference is not None:
                judged[len(rows)] = difference
            rows.append(
                [
                    link,
                    f"{other.label} against {arm.label}",
                    finding.expects,
                    f"{len(runs[0])} and {len(runs[1])} of {len(experiment.seeds)}",
                    "one seed so far"
                    if difference is None
                    else f"{difference.estimate:+.2f} {difference.interval()}",
                    f"**{outcomes[-1]}**",
                    "",
                ]
            )
    adjusted = dict(zip(judged, holm([d.p_value for d in judged.values()]), strict=True))
    for row, p_value in adjusted.items():
        rows[row][-1] = f"{p_value:.2g}"
    family = sum(p_value < 0.05 for p_value in adjusted.values())
    headings = [
        "experiment",
        "comparison",
        "the paper found",
        "seeds per arm",
        "difference, points [95% interval]",
        "verdict",
        "Holm p",
    ]
    tally = ", ".join(
        f"{outcomes.count(outcome)} {word}"
        for outcome, word in (
            ("agrees", "agree"),
            ("contradicts", "contradict"),
            ("cannot tell", "cannot tell"),
        )
    )
    return (
        markdown_table(headings, rows, numeric=(4, 6))
        + f"\n\nOf the {len(outcomes)} results judged: {tally}. Every row is computed from "
        "the recorded runs (`cnn-guide record --plan experiments` records them). A verdict "
        "of *agrees* or *contradicts* needs the 95% interval of the difference to exclude "
        "zero. Each verdict alone risks a false finding 5% of the time, so among "
        f"{len(outcomes)} comparisons with no true difference about "
        f"{0.05 * len(outcomes):.1f} would be expected by chance; Holm's correction for the "
        "whole family keeps that risk at 5% for all of them together, and leaves "
        f"{family} finding{'s' * (family != 1)} (Holm p below 0.05). The experiments with no "
        f"paper figure to hold against ({', '.join(untested)}) are not listed."
    )


def render_rule_simulation(path: Store = None) -> str:
    """How often each rule declares a finding, simulated: where there is none, and a true point.

    The arms' seeds vary as much as the book's own recorded seeds do (the
    standard deviation of test accuracy within each experiment arm, pooled).
    Computed when the page is built (`cnn_guide.statistics.simulate`, with
    its fixed random seed), so the figures the results chapter gives are the
    code's, not typed.
    """
    spread, arms = _pooled_spread(path)
    rows = [
        [
            "the spread rule (before)" if rule == "spread" else "the interval rule (now)",
            str(seeds),
            f"{simulate(rule, seeds, spread=spread):.1%}",
            f"{simulate(rule, seeds, difference=1.0, spread=spread):.0%}",
        ]
        for rule, seeds in (("spread", 2), ("interval", 2), ("interval", 3), ("interval", 5))
    ]
    headings = [
        "rule",
        "seeds per arm",
        "declares a finding where there is none",
        "finds a true 1-point difference",
    ]
    return (
        markdown_table(headings, rows, numeric=(1, 2, 3))
        + "\n\nEach figure: 2,000 simulated experiments of two arms whose seeds vary by a "
        f"standard deviation of {spread:.2f} points of test accuracy, the book's own: pooled "
        f"over the {arms} experiment arms with two or more recorded seeds "
        "(`cnn_guide.statistics.simulate`, seeded, computed when this page was built)."
    )


def _pooled_spread(path: Store) -> tuple[float, int]:
    """The seed-to-seed standard deviation of test accuracy (points), pooled over arms."""
    squares, freedom, arms = 0.0, 0, 0
    for name in list_experiments():
        for runs in get_experiment(name).recorded_by_seed(path).values():
            if len(runs) > 1:
                points = [100 * run.test_accuracy for run in runs.values()]
                squares += float(np.var(points, ddof=1)) * (len(points) - 1)
                freedom += len(points) - 1
                arms += 1
    if not freedom:
        raise ValueError(
            "no experiment arm has two recorded seeds to measure the seed spread from; "
            "`cnn-guide record --plan experiments` records them."
        )
    return (squares / freedom) ** 0.5, arms
