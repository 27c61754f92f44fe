"""The fast recipe against the seed recipe on the pages: its goals, T, and the runs."""

from __future__ import annotations

import itertools
import os
from fractions import Fraction

from cnn_guide.comparison import GOALS, THRESHOLDS, Resolved, resolved_comparisons
from cnn_guide.machine import machine_kind
from cnn_guide.recipes import get_recipe
from cnn_guide.report.tables import markdown_table
from cnn_guide.results import timed_runs
from cnn_guide.runs import RunRecord
from cnn_guide.statistics import accuracy_interval, compare, mean_interval

__all__ = ["describe", "render_comparisons", "render_goals", "render_reading"]


def _ratio(fraction: Fraction | float) -> str:
    """A fraction of T in words: ``T/20``, ``T``, ``0.31 T``."""
    if isinstance(fraction, Fraction) and fraction.numerator == 1:
        return "T" if fraction.denominator == 1 else f"T/{fraction.denominator}"
    return f"{float(fraction):.2f} T"


def _seconds(seconds: float) -> str:
    return f"{seconds:,.0f} s" if seconds >= 100 else f"{seconds:.1f} s"


def render_goals(path: str | os.PathLike | None = None) -> str:
    """The goals, each checked on every machine kind that recorded a comparison (Markdown)."""
    resolved = resolved_comparisons("fast", "seed", path)
    if not resolved:
        return (
            "*Not measured yet: `cnn-guide bench --recipe fast --against seed --record` "
            "measures T and checks every goal.*\n"
        )
    header = ["test accuracy", "within", *(machine_kind(r.reference.machine) for r in resolved)]
    rows = []
    for accuracy, fraction in GOALS:
        cells = [f"{accuracy:.1%}", _ratio(fraction)]
        for result in resolved:
            verdict = result.verdict(accuracy, fraction)
            reached = result.time_to(accuracy)
            seeds = result.at(fraction)
            if len(seeds) > 1:
                mean, low, high = mean_interval([run.test_accuracy for run in seeds])
                when = (
                    f"the {len(seeds)} seeds given it ended at {mean:.2%} on average, "
                    f"95% interval [{low:.2%}, {high:.2%}]"
                )
            elif reached is not None:
                when = f"reached after {_seconds(reached)} = {reached / result.seconds:.3f} T"
            else:
                best = result.best_within(fraction * result.seconds)
                when = "not reached" + (f"; best {best:.2%} within it" if best else "")
            cells.append(f"**{verdict}**: {when} (goal: {_seconds(fraction * result.seconds)})")
        rows.append(cells)
    return markdown_table(header, rows) + "\n"


def render_comparisons(path: str | os.PathLike | None = None) -> str:
    """Every recorded comparison of the fast recipe against the seed's (Markdown)."""
    resolved = resolved_comparisons("fast", "seed", path)
    if not resolved:
        return render_goals(path)
    return "\n".join(describe(result) for result in resolved)


def describe(result: Resolved) -> str:
    """One comparison in Markdown: T, the times to each accuracy as fractions of T, the runs."""
    comparison, reference, seconds = result.comparison, result.reference, result.seconds
    against = get_recipe(comparison.against)
    times_to = []
    for accuracy in THRESHOLDS:
        reached = result.time_to(accuracy)
        times_to.append(
            [f"{accuracy:.1%}", "not reached", "-", "-"]
            if reached is None
            else [
                f"{accuracy:.1%}",
                _seconds(reached),
                f"{reached / seconds:.3f} T",
                f"{seconds / reached:.1f}",
            ]
        )
    runs = [
        [
            f"{_ratio(fraction)} = {_seconds(60 * run.settings['minutes'])}",
            str(run.settings.get("seed", "")),
            f"{run.epochs:.1f}",
            run.precision,
            f"{run.test_accuracy:.4f}",
            *("-" if t is None else _seconds(t) for t in map(run.seconds_to, THRESHOLDS)),
        ]
        for fraction, run in result.runs
    ]
    commands = "\n".join(run.command for _, run in result.runs)
    return (
        "\n".join(
            [
                f"**{machine_kind(reference.machine)}** ({comparison.date[:10]}, "
                f"`{comparison.command}`). The {comparison.against} recipe trains "
                f"`{reference.model}` at {reference.train_images_per_second:,.0f} images/s "
                f"(timed over {reference.images:,} images), so its {against.epochs:g} epochs of "
                f"{reference.train_size:,} images take **T = {seconds:,.0f} s** "
                f"({seconds / 60:.1f} min).",
                "",
                markdown_table(
                    [
                        "test accuracy",
                        "first reached after",
                        "fraction of T",
                        "T divided by that time",
                    ],
                    times_to,
                ),
                "",
                f"The runs of the {comparison.recipe} recipe, each with its schedule spread over "
                "its own budget:",
                "",
                markdown_table(
                    [
                        "budget",
                        "seed",
                        "epochs",
                        "precision",
                        "final test accuracy",
                        *(f"to {a:.1%}" for a in THRESHOLDS),
                    ],
                    runs,
                ),
                "",
                "Each run re-made by its own command:",
                "",
                f"```bash\n{commands}\n```",
            ]
        )
        + "\n"
    )


def _interval(run: RunRecord) -> tuple[float, float]:
    return accuracy_interval(round(run.test_accuracy * run.test_size), run.test_size)


def _with_interval(run: RunRecord) -> str:
    low, high = _interval(run)
    return f"{run.test_accuracy:.2%} [{low:.2%}, {high:.2%}]"


def _longer_ends_lower(result: Resolved) -> str:
    """Where a longer budget ended below a shorter one, in words, with both figures.

    With several seeds per budget, each budget is held against the next
    shorter one by the book's rule (`cnn_guide.statistics.compare`); with one
    run each, the two runs' test-set intervals are all there is.
    """
    budgets = sorted({fraction for fraction, _ in result.runs})
    if all(len(result.at(fraction)) > 1 for fraction in budgets):
        return _longer_ends_lower_by_seeds(result, budgets)
    ordered = sorted(result.runs, key=lambda pair: pair[0])
    falls = [
        (short, short_run, long, long_run)
        for (short, short_run), (long, long_run) in itertools.pairwise(ordered)
        if long_run.test_accuracy < short_run.test_accuracy
    ]
    if not falls:
        return (
            "Each longer budget ended at least as high as the shorter one before it: "
            + ", ".join(f"{_ratio(f)} {run.test_accuracy:.2%}" for f, run in ordered)
            + ". "
        )
    text = ""
    for short, short_run, long, long_run in falls:
        peak = max(accuracy for _, _, accuracy in long_run.checkpoints)
        overlap = _interval(long_run)[1] >= _interval(short_run)[0]
        text += (
            f"The run given {_ratio(long)} ({long_run.epochs:.0f} epochs) ended at "
            f"{_with_interval(long_run)}, below the run given {_ratio(short)} "
            f"({short_run.epochs:.0f} epochs), {_with_interval(short_run)}"
            + (
                f", after its checkpoints had reached {peak:.2%} on the way. "
                if peak > long_run.test_accuracy
                else ", and no checkpoint of the longer run was higher. "
            )
            + (
                "The two intervals overlap: one run each, the test set cannot tell them apart. "
                if overlap
                else "The two intervals do not overlap, on one run each. "
            )
        )
    return text + (
        "Whether a longer budget of this recipe really ends lower is a question for seeds. "
    )


def _longer_ends_lower_by_seeds(result: Resolved, budgets: list[Fraction]) -> str:
    """Each budget against the next shorter one, over their seeds (Welch's t)."""
    text = ""
    for short, long in itertools.pairwise(budgets):
        difference = compare(*(_by_seed(result.at(fraction)) for fraction in (short, long)))
        words = (
            "ended lower" if difference.high < 0 else "ended higher" if difference.low > 0 else None
        )
        text += (
            f"Given {_ratio(long)} instead of {_ratio(short)}, the seeds' mean moved "
            f"{difference.estimate:+.2f} points, 95% interval "
            f"{difference.interval()} ({difference.test}): "
            + (
                f"the longer budget **{words}**. "
                if words
                else "the seeds **cannot tell** whether the longer budget ends lower. "
            )
        )
    return text


def _by_seed(runs: list[RunRecord]) -> dict[int, float]:
    """Each seed's final test accuracy, in points."""
    return {run.settings["seed"]: 100 * run.test_accuracy for run in runs}


def _benchmark_pair(path: str | os.PathLike | None) -> str:
    """The fast network and the book's ResNet under the same benchmark, on one machine."""
    rows = {
        model: {
            run.describe_machine(): run for run in timed_runs("benchmark", model=model, path=path)
        }
        for model in ("fast_resnet_fashion", "resnet_fashion")
    }
    shared = sorted(set(rows["fast_resnet_fashion"]) & set(rows["resnet_fashion"]))
    if not shared:
        return ""
    fast, plain = rows["fast_resnet_fashion"][shared[-1]], rows["resnet_fashion"][shared[-1]]
    ahead = "ahead of" if plain.test_accuracy > fast.test_accuracy else "behind"
    return (
        f"Under the benchmark recipe ({fast.settings['minutes']:g} minutes for every network, "
        f"on {shared[-1]}), the fast network ran {fast.epochs:.1f} epochs to "
        f"{_with_interval(fast)}; the book's ordinary `resnet_fashion` ran only "
        f"{plain.epochs:.1f} epochs, and ended {ahead} it at {_with_interval(plain)}"
        + (
            " (the intervals overlap: one run each cannot settle the order). "
            if _interval(fast)[1] >= _interval(plain)[0]
            and _interval(plain)[1] >= _interval(fast)[0]
            else " (the intervals do not overlap). "
        )
    )


def render_reading(path: str | os.PathLike | None = None) -> str:
    """What the recorded runs say against the chapter's own design choices, in words."""
    text = _benchmark_pair(path)
    for result in resolved_comparisons("fast", "seed", path):
        text += f"On {machine_kind(result.reference.machine)}: " + _longer_ends_lower(result)
    if not text:
        return (
            "*Not measured yet: `cnn-guide bench --recipe fast --against seed --record` and "
            "`cnn-guide record --plan benchmark` record the runs this reading needs.*\n"
        )
    return text.strip() + "\n"
