"""The fast recipe against the seed recipe on the pages: its goals, T, and the runs."""

from __future__ import annotations

import os
from fractions import Fraction

from cnn_guide.comparison import GOALS, THRESHOLDS, Resolved, resolved_comparisons
from cnn_guide.machine import machine_kind
from cnn_guide.recipes import get_recipe
from cnn_guide.report.tables import markdown_table

__all__ = ["describe", "render_comparisons", "render_goals"]


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
            if reached is not None:
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
