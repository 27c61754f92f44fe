"""The flagship on its page: the candidates, the choice, its seeds against the table.

Everything is read from the store (`cnn_guide.flagship` names the runs): the
candidates' validation and test accuracy, which one the validation images
chose, the chosen network's seeds with their mean and its 95% interval, each
run's training time in units of T (from the comparison recorded on the same
kind of machine, `cnn_guide.comparison`), and the validation curves.
"""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import numpy as np

from cnn_guide.comparison import resolved_comparisons
from cnn_guide.flagship import (
    CANDIDATES,
    FLAGSHIP_SEEDS,
    FLOOR,
    GOAL,
    MAX_BUDGET,
    MAX_PARAMETERS,
    PUBLISHED,
    candidate_runs,
    choose,
    recorded_flagship,
)
from cnn_guide.machine import machine_kind
from cnn_guide.plotting import book_style, embedded_png
from cnn_guide.report.tables import markdown_table
from cnn_guide.results import weights_file
from cnn_guide.runs import RunRecord
from cnn_guide.statistics import mean_interval

__all__ = ["plot_flagship_curves", "render_flagship"]

Store = str | os.PathLike | None

COMMAND = "cnn-guide record --plan flagship"


def _t_seconds(path: Store) -> dict[str, float]:
    """T, in seconds, by machine kind: from each recorded comparison of fast against seed."""
    return {
        machine_kind(result.comparison.machine): result.seconds
        for result in resolved_comparisons("fast", "seed", path)
    }


def _time_words(run: RunRecord, t_seconds: dict[str, float]) -> str:
    """A run's training time, in minutes and, where T is known for its machine, in T."""
    text = f"{run.train_seconds / 60:.0f} min"
    t = t_seconds.get(run.hardware)
    if t is None:
        return text + " (T not measured on this machine)"
    ratio = run.train_seconds / t
    within = "within" if ratio <= MAX_BUDGET else "**over**"
    return text + f" = {ratio:.2f} T ({within} {MAX_BUDGET:g} T)"


def _candidates_table(runs: list[RunRecord | None], t_seconds: dict[str, float]) -> str:
    """The candidates' table, from their runs (`cnn_guide.flagship.candidate_runs`)."""
    rows = []
    for candidate, run in zip(CANDIDATES, runs, strict=True):
        if run is None:
            rows.append([candidate.label, "", "not recorded yet", "", ""])
            continue
        rows.append(
            [
                candidate.label,
                f"{run.parameters:,}",
                f"**{run.valid_accuracy:.4f}**",
                f"{run.test_accuracy:.4f}",
                _time_words(run, t_seconds),
            ]
        )
    header = [
        "candidate (seed 42)",
        "parameters",
        "validation accuracy (chooses)",
        "test accuracy (not used to choose)",
        "training time",
    ]
    return markdown_table(header, rows)


def _against_the_table(mean: float, low: float, high: float) -> str:
    """The flagship's mean against the goal, the floor and each published figure."""

    def verdict(figure: float) -> str:
        if low > figure:
            return "above, beyond its interval"
        if high < figure:
            return "below, beyond its interval"
        return "within its interval: the seeds cannot tell"

    lines = [
        f"- The goal, {GOAL:.1%} as the mean of {len(FLAGSHIP_SEEDS)} seeds: "
        f"**{'met' if mean >= GOAL else 'not met'}** ({mean:.2%}).",
        f"- The floor, {FLOOR:.1%}: **{'met' if mean >= FLOOR else 'not met'}**.",
    ]
    lines += [f"- {name}, {figure:.1%}: {verdict(figure)}." for name, figure in PUBLISHED]
    return "\n".join(lines)


def _seeds_section(runs: list[RunRecord], path: Store, t_seconds: dict[str, float]) -> str:
    """The chosen network's seeds: table, mean with its interval, verdicts, weights."""
    rows = [
        [
            str(run.settings.get("seed", "?")),
            f"{run.test_accuracy:.4f}",
            f"{run.test_accuracy_single_view:.4f}" if run.test_accuracy_single_view else "",
            f"{run.valid_accuracy:.4f}",
            _time_words(run, t_seconds),
            f"`{weights_file(run.spec, path).name}`",
        ]
        for run in runs
    ]
    header = [
        "seed",
        "test accuracy",
        "without test-time flips",
        "validation accuracy",
        "training time",
        "kept weights",
    ]
    text = markdown_table(header, rows)
    if len(runs) < len(FLAGSHIP_SEEDS):
        return text + (
            f"\n\nRecorded so far: {len(runs)} of its {len(FLAGSHIP_SEEDS)} seeds; "
            f"`{COMMAND}` records the rest. No verdict on fewer than all of them."
        )
    accuracies = [run.test_accuracy for run in runs]
    mean, low, high = mean_interval(accuracies)
    biggest = max(runs, key=lambda run: run.parameters)
    return (
        text + f"\n\nMean test accuracy over its {len(runs)} seeds: **{mean:.2%}**, 95% interval "
        f"[{low:.2%}, {high:.2%}] (Student's t over the seeds), with "
        f"{biggest.parameters:,} parameters "
        f"({'within' if biggest.parameters <= MAX_PARAMETERS else '**over**'} the "
        f"{MAX_PARAMETERS:,} allowed).\n\n" + _against_the_table(mean, low, high)
    )


def plot_flagship_curves(path: Store = None) -> plt.Figure:
    """Validation accuracy by epoch of every recorded candidate and flagship seed.

    Raises:
        ValueError: If no flagship run is recorded yet.
    """
    candidates = candidate_runs(path)
    runs = {f"{c.label}, seed 42": run for c, run in zip(CANDIDATES, candidates, strict=True)}
    seeds = recorded_flagship(path, choose(runs=candidates))
    runs.update({f"the flagship, seed {run.settings['seed']}": run for run in seeds})
    runs = {label: run for label, run in runs.items() if run is not None}
    if not runs:
        raise ValueError(f"no flagship run is recorded yet; `{COMMAND}` records them.")
    with book_style():
        fig, ax = plt.subplots(figsize=(8, 3.6))
        for label, run in runs.items():
            accuracy = np.asarray(run.history["val_accuracy"]) * 100
            ax.plot(np.arange(1, len(accuracy) + 1), accuracy, label=label, lw=1.2)
        ax.set_ylim(max(ax.get_ylim()[0], 85), None)
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation accuracy (%)")
        ax.legend(fontsize="x-small")
        ax.set_title("The flagship's candidates and seeds")
        fig.tight_layout()
    return fig


def render_flagship(path: Store = None) -> str:
    """The flagship for its chapter: candidates, choice, seeds, verdicts and curves."""
    t_seconds = _t_seconds(path)
    candidates = candidate_runs(path)
    caps = [
        f"on {kind}, T = {t:,.0f} s, so each run may train {MAX_BUDGET * t / 60:.0f} min"
        for kind, t in sorted(t_seconds.items())
    ]
    text = (
        f"The cap, measured (`cnn-guide bench --recipe fast --against seed`): {'; '.join(caps)}."
        "\n\n"
        if caps
        else "T is not measured yet: `cnn-guide bench --recipe fast --against seed --record` "
        "measures it.\n\n"
    ) + _candidates_table(candidates, t_seconds)
    missing = candidates.count(None)
    if missing:
        text += (
            f"\n\n*Not recorded yet: `{COMMAND}` trains the {missing} missing "
            f"candidate(s), each for its fixed epochs, then the chosen one's other seeds.* "
            "No choice is made on part of them."
        )
    chosen = choose(runs=candidates)
    if chosen is not None:
        text += (
            f"\n\nChosen on the validation images: **{chosen.label}**. Its runs, by "
            f"`{COMMAND}` (each one: `{chosen.run().command}` with its `--seed`):\n\n"
            + _seeds_section(recorded_flagship(path, chosen), path, t_seconds)
        )
    recorded = [run for run in candidates if run is not None]
    if recorded:
        machines = sorted({run.describe_machine() for run in recorded})
        text += f"\n\nMeasured on {'; '.join(machines)}."
        alt = "Validation accuracy by epoch of the flagship's candidates and seeds"
        text += "\n\n" + embedded_png(plot_flagship_curves(path), alt) + "\n"
    return text
