"""Full runs and the benchmark on the pages: what was measured, where, and by which command."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence

from cnn_guide.evidence import full_run, full_run_target, plan
from cnn_guide.plotting import embedded_png, plot_recorded_run
from cnn_guide.report.tables import format_table, markdown_table, test_labels
from cnn_guide.results import estimate_minutes, find, find_all, load_predictions, timed_runs
from cnn_guide.runs import RunRecord, RunSpec
from cnn_guide.statistics import accuracy_interval, mcnemar

__all__ = [
    "CHANCE_LINE",
    "full_run_report",
    "render_benchmark_row",
    "render_benchmark_table",
    "render_full_run",
    "render_full_runs_table",
    "stale_notice",
    "within_noise_of_best",
]

CHANCE_LINE = 0.2
"""Below this test accuracy a ten-class run has learned next to nothing."""

Path = str | os.PathLike | None


def stale_notice(run: RunRecord) -> str:
    """What a page says under a run recorded under an older definition of its recipe."""
    changed = run.stale_fields()
    if not changed:
        return ""
    return (
        f"\n**Stale:** this run was recorded under an older definition of the "
        f"{run.spec.recipe} recipe ({', '.join(changed)} changed since), so today's command "
        f"no longer re-makes it. `{run.command}` records it again."
    )


def full_run_report(spec: RunSpec, path: Path = None) -> str:
    """What a full run gave when it was recorded, or the command that records it.

    Args:
        spec: The full run an example stands for (`cnn_guide.evidence.FULL_RUNS`).
        path: The store (default `cnn_guide.results.results_path`).

    Returns:
        A paragraph for the end of an example.
    """
    run = find(spec, path)
    if run is not None:
        return (
            f"Full run: test accuracy {run.test_accuracy:.4f} (validation "
            f"{run.valid_accuracy:.4f}) after {run.epochs:g} epoch(s) on {run.train_size:,} "
            f"training images, {run.train_seconds / 60:.1f} min of training "
            f"({run.seconds_per_epoch:.0f} s per epoch) on {run.describe_machine()}; recorded "
            f"{run.date[:10]} by `{run.command}`{_resumed(run)}.\n"
            + full_run_target(run.model).verdict(run.test_accuracy, run.test_size)
            + stale_notice(run)
        )
    report = f"No full run recorded yet: `{spec.command}` records one."
    estimate = estimate_minutes(spec, path)
    if estimate is not None:
        minutes, speed = estimate
        report += (
            f" At the {speed.train_images_per_second:,.0f} training images/s measured on "
            f"{speed.hardware} (`{speed.command}`), its {spec.resolve().stop_rule} take "
            f"about {minutes:,.0f} min of training."
        )
    return report


def _resumed(run: RunRecord) -> str:
    """Where a run was stopped and resumed, in a few words (nothing for a run never stopped)."""
    if not run.resumed_after_epochs:
        return ""
    epochs = ", ".join(str(epoch) for epoch in run.resumed_after_epochs)
    return f", stopped and resumed after epoch(s) {epochs}"


def render_full_run(name: str, path: Path = None) -> str:
    """A network's full run for its chapter: the report, then its curves once recorded."""
    spec = full_run(name)
    run = find(spec, path)
    report = full_run_report(spec, path)
    if run is None:
        return report
    alt = f"Accuracy and loss by epoch of {name}'s recorded full run"
    return report + "\n\n" + embedded_png(plot_recorded_run(run), alt) + "\n"


def render_full_runs_table(chapters: Mapping[str, str], path: Path = None) -> str:
    """Every network's full run, best test accuracy first, each held to its target.

    A run whose accuracy the test set cannot tell from the best's (`within_noise_of_best`)
    says so instead of being ranked below it.
    """
    specs = plan("full")
    found = find_all(specs, path)
    runs = sorted((run for run in found if run is not None), key=lambda run: -run.test_accuracy)
    close = within_noise_of_best(runs, path)
    # Timings compare only within one machine: each row names its own.
    machines = list(dict.fromkeys(run.describe_machine() for run in runs))
    rows = []
    for rank, run in enumerate(runs, start=1):
        target = full_run_target(run.model)
        name = f"[{run.model}]({chapters[run.model]})" if run.model in chapters else run.model
        low, high = accuracy_interval(round(run.test_accuracy * run.test_size), run.test_size)
        rows.append(
            [
                name + (" (stale)" if run.stale_fields() else ""),
                f"{run.parameters:,}",
                f"{run.epochs:g}",
                f"{run.test_accuracy:.4f} [{low:.4f}, {high:.4f}]",
                "best" if rank == 1 else close.get(run.key, ""),
                f"{run.valid_accuracy:.4f}",
                f"{run.seconds_per_epoch:.0f} ({machines.index(run.describe_machine()) + 1})",
                f"{target.accuracy:.2%}: {target.outcome(run.test_accuracy, run.test_size)}",
            ]
        )
    headings = [
        "network",
        "parameters",
        "epochs",
        "test accuracy [95% interval]",
        "against the best",
        "validation",
        "s per epoch (machine)",
        "target",
    ]
    missing = [spec for spec, run in zip(specs, found, strict=True) if run is None]
    listed = "; ".join(f"({i}) {machine}" for i, machine in enumerate(machines, 1)) or "-"
    text = (
        markdown_table(headings, rows, numeric=(1, 2, 3, 5, 6))
        + f"\n\nMeasured on {listed}; each row by its own command, "
        "`cnn-guide record --plan full` for all of them. The interval is the test set's "
        "own noise (Wilson's, 95%); a target is *met* or *missed* only where that interval "
        "clears it. *Within noise of the best*: the test set cannot tell the run from the "
        f"best one ({_NOISE_RULE})."
    )
    if missing:
        text += " Not recorded yet: " + ", ".join(f"`{spec.command}`" for spec in missing) + "."
    return text


_NOISE_RULE = (
    "McNemar's exact test on the images one gets right and the other wrong, p of 0.05 or "
    "more, where both kept their predictions; else the best's interval holds the run's accuracy"
)


def within_noise_of_best(runs: Sequence[RunRecord], path: Path = None) -> dict[str, str]:
    """Which runs the test set cannot tell from the best one (the first), by key.

    Where both runs kept their test predictions, McNemar's exact test on the
    shared images decides (p of 0.05 or more); otherwise the best run's 95%
    interval (Wilson's) holding the run's accuracy.

    Returns:
        ``"within noise of the best"`` by the key of each such run (the best excluded).
    """
    if not runs:
        return {}
    best = runs[0]
    low, high = accuracy_interval(round(best.test_accuracy * best.test_size), best.test_size)
    best_predictions = load_predictions(best.spec, path)
    close = {}
    for run in runs[1:]:
        predictions = load_predictions(run.spec, path)
        if best_predictions is not None and predictions is not None:
            labels = test_labels()
            same = mcnemar(best_predictions == labels, predictions == labels).p_value >= 0.05
        else:
            same = low <= run.test_accuracy <= high
        if same:
            close[run.key] = "within noise of the best"
    return close


def render_benchmark_row(model: str, path: Path = None) -> str:
    """A model's benchmark row for its chapter, with its machine, date and command."""
    rows = timed_runs("benchmark", model=model, path=path)
    if not rows:
        spec = RunSpec.of(model, "benchmark")
        return f"*Not in the [benchmark](results.md) yet: `{spec.command}` measures it.*"
    run = max(rows, key=lambda row: row.date)
    text = (
        f"In the book's [benchmark](results.md), the same {run.settings['minutes']:g} minutes of "
        f"training for every architecture on all {run.train_size:,} training images "
        f"({_recipe_words(run)}; "
        '"to 90%": training time until the test accuracy first reached 90%):\n\n'
        + format_table([run], markdown=True)
        + f"\n\nMeasured on {run.describe_machine()}, {run.date[:10]}, by `{run.command}`."
        + stale_notice(run)
    )
    if run.test_accuracy < CHANCE_LINE:
        text += (
            f" **This row is at chance** (test accuracy {run.test_accuracy:.4f}; ten classes "
            "give 0.1000 by guessing). "
            + (
                "It was evaluated with the batch-norm moving statistics as training left "
                "them, which after a few minutes can lag far behind the weights; the full "
                "runs settle them first (`--settle-batch-norm`, part of the book recipe)."
                if not run.settings.get("settle_batch_norm")
                else "It was evaluated with settled batch-norm statistics."
            )
        )
    return text


def _recipe_words(run: RunRecord) -> str:
    """The recipe a run trained under, in a few words, from its own recorded settings."""
    settings = run.settings
    words = f"{settings['optimizer'].replace('adamw', 'AdamW').replace('adam', 'Adam')}"
    words += f", batch {settings['batch_size']}"
    if settings.get("schedule") == "one-cycle":
        words += ", one-cycle"
    if settings.get("settle_batch_norm"):
        words += ", settled batch-norm statistics"
    return words


def render_benchmark_table(chapters: Mapping[str, str], path: Path = None) -> str:
    """Every model's newest benchmark row, best test accuracy first, linked to its chapter."""
    newest: dict[str, RunRecord] = {}
    for run in timed_runs("benchmark", path=path):
        if run.date >= newest.get(run.model, run).date:
            newest[run.model] = run
    runs = sorted(newest.values(), key=lambda run: -run.test_accuracy)
    if not runs:
        return "*No benchmark recorded yet: `cnn-guide bench --record` measures every variant.*"
    # A fixed time buys less training on a slower machine: rows compare within one.
    counts = Counter(run.describe_machine() for run in runs)
    machines = [machine for machine, _ in counts.most_common()]
    dates = sorted(run.date[:10] for run in runs)
    when = dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
    lines = format_table(runs, markdown=True).splitlines()
    close = within_noise_of_best(runs, path)
    for index, run in enumerate(runs, start=2):  # link each model to its chapter
        name = f"[{run.model}]({chapters[run.model]})" if run.model in chapters else run.model
        if run.key in close:
            name += " (within noise of the best)"
        if len(machines) > 1:
            name += f" (machine {machines.index(run.describe_machine()) + 1})"
        lines[index] = lines[index].replace(f"| {run.model} |", f"| {name} |", 1)
    stale = [run.model for run in runs if run.stale_fields()]
    text = "\n".join(lines) + f"\n\nMeasured on {machines[0]}, {when}, by "
    if len(machines) > 1:
        listed = "; ".join(f"({i}) {machine}" for i, machine in enumerate(machines, 1))
        text = (
            "\n".join(lines) + f"\n\nMeasured on {len(machines)} machines: {listed}. The "
            "same minutes buy a different number of epochs on each (the epochs column), so "
            f"compare rows only within one machine. Recorded {when} by "
        )
    text += (
        "`cnn-guide bench --record` (each row's own command is in the "
        "store of runs and on the example page). *Within noise of the best*: the test set "
        f"cannot tell the run from the first one ({_NOISE_RULE})."
    )
    if stale:
        text += (
            f" **Stale** (recorded under an older definition of the benchmark recipe): "
            f"{', '.join(stale)}; `cnn-guide record --plan benchmark` records them again."
        )
    return text
