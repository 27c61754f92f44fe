"""The teaching experiments on the pages: tables, readings against the seeds and the papers, curves.

The experiments themselves are data (`cnn_guide.experiments`); this module
reads their runs from the store and writes what a chapter shows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

from cnn_guide.experiments import (
    FIGURES,
    Arm,
    Experiment,
    Finding,
    beyond_spread,
    get_experiment,
    in_seed_order,
    list_experiments,
)
from cnn_guide.plotting import book_style, embedded_png
from cnn_guide.report.tables import markdown_table
from cnn_guide.runs import RunRecord

__all__ = ["plot_experiment", "render_experiment", "render_findings", "summary"]


def _first_epoch_below(run: RunRecord, error: float) -> int | None:
    return next(
        (
            epoch
            for epoch, accuracy in enumerate(run.history["accuracy"], 1)
            if 1 - accuracy <= error
        ),
        None,
    )


def summary(experiment: Experiment, path: str | os.PathLike | None = None) -> str:
    """A Markdown table of the experiment's recorded runs, or the command that records them.

    Each arm's row gives its parameters and MACs, the test accuracy of each
    seed, their mean and spread (largest minus smallest), each seed's
    training error over its last epoch (what the degradation problem is
    about), and, where the experiment names a training error, the epoch each
    seed first reached it.
    """
    by_seed = experiment.recorded_by_seed(path)
    recorded = in_seed_order(by_seed)
    done = sum(len(runs) for runs in recorded.values())
    wanted = len(experiment.arms) * len(experiment.seeds)
    command = f"cnn-guide record --plan experiments --only {experiment.name}"
    if done == 0:
        return f"*Not recorded yet: `{command}` trains its {wanted} runs.*"
    seeds = ", ".join(str(seed) for seed in experiment.seeds)
    header = [
        "network",
        "parameters",
        "MACs",
        f"test accuracy (seeds {seeds})",
        "mean",
        "spread",
        "validation accuracy (mean)",
        "last epoch's training error",
    ]
    if experiment.error_target is not None:
        header.append(f"epoch to {experiment.error_target:.0%} training error")
    rows = []
    for arm in experiment.arms:
        runs = recorded[arm.label]
        if not runs:
            rows.append([arm.label, "", "", "not recorded yet"] + [""] * (len(header) - 4))
            continue
        accuracies = [run.test_accuracy for run in runs]
        cells = [
            arm.label,
            f"{runs[0].parameters:,}",
            f"{runs[0].macs / 1e6:,.1f}M" if runs[0].macs else "",
            ", ".join(f"{a:.4f}" for a in accuracies),
            f"{sum(accuracies) / len(accuracies):.4f}",
            f"{max(accuracies) - min(accuracies):.4f}" if len(runs) > 1 else "one seed so far",
            f"{sum(run.valid_accuracy for run in runs) / len(runs):.4f}",
            ", ".join(f"{1 - run.history['accuracy'][-1]:.4f}" for run in runs),
        ]
        if experiment.error_target is not None:
            epochs = [_first_epoch_below(run, experiment.error_target) for run in runs]
            cells.append(", ".join("not reached" if e is None else str(e) for e in epochs))
        rows.append(cells)
    first = next(runs[0] for runs in recorded.values() if runs)
    note = (
        f"\n\n{experiment.describe_stop()} of the {experiment.recipe} recipe on all "
        f"{first.train_size:,} training images, test accuracy on all {first.test_size:,} "
        f"test images; measured on {first.describe_machine()} by `{command}`."
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
        _reading(arm, other, by_seed, experiment.seeds, experiment.finding(index))
        for index, (arm, other) in enumerate(experiment.pairs)
    ]
    readings = [reading for reading in readings if reading]
    if readings:
        note += "\n\nWhat the seeds show:\n\n" + "\n".join(f"- {r}" for r in readings)
    return markdown_table(header, rows) + note


def _difference(
    runs: list[RunRecord], other_runs: list[RunRecord], figure: str
) -> tuple[float, float]:
    """The difference of two arms' means, in points, and the wider of their seed spreads.

    The difference is the second arm's mean minus the first's.
    """
    values = [[100 * FIGURES[figure](run) for run in arm] for arm in (runs, other_runs)]
    means = [sum(v) / len(v) for v in values]
    return means[1] - means[0], max(max(v) - min(v) for v in values)


def _reading(
    arm: Arm,
    other: Arm,
    by_seed: Mapping[str, Mapping[int, RunRecord]],
    seeds: tuple[int, ...],
    finding: Finding | None = None,
) -> str | None:
    """The difference between two arms on the seeds both have, held against their spread.

    With every seed of both arms recorded, the difference of the means is
    held against the wider of the two seed spreads, and then against the
    paper's `Finding`, if there is one. With only one shared seed there is
    no spread to hold it against, and the reading says so. ``None`` while
    the two arms share no recorded seed.
    """
    shared = [seed for seed in seeds if seed in by_seed[arm.label] and seed in by_seed[other.label]]
    if not shared:
        return None
    recorded = {a.label: [by_seed[a.label][seed] for seed in shared] for a in (arm, other)}
    complete = len(shared) == len(seeds)
    one_draw = len(shared) == 1 and not complete

    def measure(figure: str) -> tuple[float, float]:
        return _difference(recorded[arm.label], recorded[other.label], figure)

    def compare(figure: str) -> str:
        difference, widest = measure(figure)
        if one_draw:
            return f"{figure} {difference:+.2f} points"
        verdict = (
            "larger than that"
            if beyond_spread(difference, widest)
            else "within it: noise at this number of seeds, not a finding"
        )
        return f"{figure} {difference:+.2f} points (seeds spread up to {widest:.2f}; {verdict})"

    size = [recorded[a.label][0].parameters for a in (arm, other)]
    ratio = size[1] / size[0]
    # Past doubling, "15.2 times" reads better than "+1418.1%".
    relative = f"{ratio:.1f} times as many" if ratio >= 2 else f"{ratio - 1:+.1%}"
    weights = f", with {size[1] - size[0]:+,} parameters ({relative})" if ratio != 1 else ""
    so_far = (
        ""
        if complete
        else f", seed{'s' * (len(shared) > 1)} {', '.join(map(str, shared))} only so far"
    )
    reading = f"*{other.label}* against *{arm.label}*{weights}{so_far}: " + "; ".join(
        compare(figure) for figure in FIGURES
    )
    if one_draw:
        return (
            reading
            + ". One seed gives no spread to hold these against: one draw, not yet a finding."
        )
    reading += "."
    if finding is not None:
        difference, widest = measure(finding.figure)
        reading += (
            f" **Against the paper:** {finding.claim}. Here the {finding.figure} moved "
            f"{difference:+.2f} points: {finding.verdict(difference, widest)}."
        )
    return reading


def plot_experiment(experiment: Experiment, path: str | os.PathLike | None = None) -> plt.Figure:
    """Training and validation error by epoch of every recorded run, one colour per arm.

    Raises:
        ValueError: If none of its runs is recorded yet.
    """
    recorded = experiment.recorded(path)
    if not any(recorded.values()):
        raise ValueError(f"no run of the experiment {experiment.name!r} is recorded yet.")
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


def render_experiment(name: str, path: str | os.PathLike | None = None) -> str:
    """An experiment for a chapter: its question, its table and, once recorded, its curves.

    The figure is embedded in the page as a PNG, so the chapter needs no file
    written beside it.
    """
    experiment = get_experiment(name)
    text = f"**{experiment.question}** ({experiment.source}.)\n\n" + summary(experiment, path)
    if not any(experiment.recorded(path).values()):
        return text
    alt = f"Training and validation error by epoch of the {name} experiment"
    return text + "\n\n" + embedded_png(plot_experiment(experiment, path), alt) + "\n"


def render_findings(
    chapters: Mapping[str, str] | None = None, path: str | os.PathLike | None = None
) -> str:
    """Every paper result the experiments test, with what the runs measured, as Markdown.

    One row per compared pair that has a `Finding`, judged once both arms
    have every seed recorded: the difference of the means against the wider
    seed spread, and its direction against the paper's.

    Args:
        chapters: Each experiment's chapter file by experiment name, to link rows.
        path: The store (default `cnn_guide.results.results_path`).
    """
    chapters = chapters or {}
    headings = [
        "experiment",
        "comparison",
        "the paper found",
        "here, in points (mean of seeds)",
        "seeds' spread",
        "verdict",
    ]
    rows: list[list[str]] = []
    outcomes: list[str] = []
    untested = []
    for name in list_experiments():
        experiment = get_experiment(name)
        if not experiment.findings:
            untested.append(name)
            continue
        by_seed = experiment.recorded_by_seed(path)
        chapter = chapters.get(name)
        link = f"[{name}]({chapter}#the-experiment-trained-in-full)" if chapter else name
        for index, (arm, other) in enumerate(experiment.pairs):
            finding = experiment.finding(index)
            if finding is None:
                continue
            cells = [link, f"{other.label} against {arm.label}", finding.expects]
            runs = [by_seed[a.label] for a in (arm, other)]
            if any(len(seeds) < len(experiment.seeds) for seeds in runs):
                cells += ["not fully recorded", "", ""]
            else:
                difference, spread = _difference(
                    *[list(seeds.values()) for seeds in runs], finding.figure
                )
                outcomes.append(finding.outcome(difference, spread))
                cells += [f"{difference:+.2f}", f"{spread:.2f}", f"**{outcomes[-1]}**"]
            rows.append(cells)
    tally = []
    for outcome, plural in (
        ("agrees", "agree"),
        ("contradicts", "contradict"),
        ("within the spread", "within the spread"),
    ):
        count = outcomes.count(outcome)
        tally.append(f"{count} {outcome if count == 1 else plural}")
    counts = ", ".join(tally)
    return (
        markdown_table(headings, rows, numeric=(3, 4))
        + f"\n\nOf the {len(outcomes)} results judged: {counts}. Every row is computed from "
        "the recorded runs (`cnn-guide record --plan experiments` records them). The experiments "
        f"with no paper figure to hold against ({', '.join(untested)}) are not listed."
    )
