"""The full runs side by side: accuracy against size, and what their predictions share.

Two markers read every full run at once: ``<!-- full-runs-figure -->`` (the
home page's figure: each network's test accuracy with its interval, against
its parameters and its MACs) and ``<!-- full-runs-vote -->`` (the inspection
chapter's table: the images each network alone gets right, the images none
gets right, and a majority vote held against the best network). Chapter:
``docs/chapters/inspection.md``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from cnn_guide.ensemble import agreement, full_run_predictions, per_class_accuracy
from cnn_guide.evidence import FULL_RUNS, plan
from cnn_guide.inspection_plots import (
    plot_accuracy_against_size,
    plot_confusion_grid,
    plot_per_class_accuracy,
)
from cnn_guide.plotting import embedded_png
from cnn_guide.report.tables import markdown_table, test_labels
from cnn_guide.results import find_all
from cnn_guide.statistics import accuracy_interval

__all__ = ["render_full_runs_figure", "render_per_class", "render_vote"]

Path = str | os.PathLike | None

_RECORD = "`cnn-guide record --plan full`"


def _link(name: str, chapters: Mapping[str, str]) -> str:
    return f"[{name}]({chapters[name]})" if name in chapters else name


def render_full_runs_figure(path: Path = None) -> str:
    """Every full run's test accuracy, with its 95% interval, against parameters and MACs.

    The seed notebook's simple CNN is left out: it trains under its own recipe.
    """
    runs = [
        run
        for run in find_all(plan("full"), path)
        if run is not None and run.model != "simple_cnn" and run.test_accuracy is not None
    ]
    if len(runs) < 2:
        return f"*Too few full runs are recorded to draw yet: {_RECORD} records them.*"
    intervals = [
        accuracy_interval(round(run.test_accuracy * run.test_size), run.test_size) for run in runs
    ]
    figure = plot_accuracy_against_size(
        [run.model for run in runs],
        [run.test_accuracy for run in runs],
        intervals,
        [run.parameters for run in runs],
        [run.macs for run in runs],
    )
    alt = "Test accuracy of each architecture's full run against its parameters and its MACs"
    left_out = [
        name for name in FULL_RUNS if name != "simple_cnn" and name not in {r.model for r in runs}
    ]
    note = f" Not recorded yet: {', '.join(left_out)}." if left_out else ""
    return (
        embedded_png(figure, alt)
        + f"\n\n*Each of the book's {len(runs)} architectures after its full run under the book "
        "recipe: test accuracy on the 10,000 test images with its 95% interval (Wilson's), "
        "against parameters (left) and multiply-accumulates per image (right), both on log "
        f"scales. Drawn from the recorded runs, which {_RECORD} makes.{note}*\n"
    )


def render_per_class(path: Path = None) -> str:
    """Each full run's accuracy by class, and its mistakes as a small confusion matrix."""
    try:
        runs = full_run_predictions(path, labels=test_labels())
    except ValueError as error:
        return f"*Not enough full runs kept their predictions yet ({error}).*"
    by_class = per_class_accuracy(runs.predictions, runs.labels)
    table = plot_per_class_accuracy(runs.names, by_class)
    grid = plot_confusion_grid(runs.names, runs.predictions, runs.labels)
    return (
        embedded_png(table, "Test accuracy of each full run on each class")
        + "\n\n"
        + embedded_png(grid, "Each full run's mistakes: true class by row, predicted by column")
        + f"\n\n*From the stored test predictions of {len(runs.names)} full runs: above, each "
        "network's accuracy on each class, in percent; below, each network's mistakes, the "
        "images of one class (row) taken for another (column), its correct answers left out, on "
        "one colour scale for all.*\n"
    )


def render_vote(chapters: Mapping[str, str], path: Path = None) -> str:
    """What the full runs' stored predictions show together, as a table and a verdict."""
    try:
        runs = full_run_predictions(path, labels=test_labels())
    except ValueError as error:
        return f"*Not enough full runs kept their predictions yet ({error}).*"
    together = agreement(runs)
    rows = []
    for name, accuracy in sorted(
        zip(together.names, together.accuracies, strict=True), key=lambda pair: -pair[1]
    ):
        low, high = accuracy_interval(round(accuracy * len(runs.labels)), len(runs.labels))
        rows.append(
            [
                _link(name, chapters),
                f"{accuracy:.4f} [{low:.4f}, {high:.4f}]",
                f"{together.uniquely_right[name]:,}",
            ]
        )
    low, high = together.vote_interval
    rows.append(
        [
            f"**majority vote of all {len(together.names)}**",
            f"**{together.vote_accuracy:.4f} [{low:.4f}, {high:.4f}]**",
            "",
        ]
    )
    table = markdown_table(
        ["network", "test accuracy [95% interval]", "images only it gets right"],
        rows,
        numeric=(1, 2),
    )
    test = together.against_best
    gain = together.vote_accuracy - together.best_accuracy
    verdict = (
        f"the vote is {'ahead of' if gain > 0 else 'behind'} it by {abs(gain) * 100:.2f} points, "
        f"and McNemar's exact test on the {test.only_first + test.only_second:,} images that "
        f"only one of the two gets right ({test.only_first:,} only the vote, "
        f"{test.only_second:,} only {together.best}) gives p = {test.p_value:.2g}: "
        + (
            "more than the test set's noise."
            if test.p_value < 0.05
            else "the test set cannot tell the two apart."
        )
    )
    missing = (
        f" Not counted yet, because their full runs kept no predictions: "
        f"{', '.join(runs.missing)} ({_RECORD} records them)."
        if runs.missing
        else ""
    )
    return (
        f"{table}\n\n"
        f"**{len(together.missed_by_all):,} of the {len(runs.labels):,} test images are wrong "
        f"in every one of the {len(together.names)} networks.** The best single network is "
        f"{together.best} at {together.best_accuracy:.4f}; {verdict} A tie in the vote goes to "
        "the most accurate network among the tied classes. One run of each network; another "
        f"seed would move each row by a few tenths.{missing}\n"
    )
