"""The design-space experiments on the pages: error EDFs, the KS test, the fitted width rule.

The populations are data (`cnn_guide.design_spaces`); this module reads their
runs from the store and writes what the chapter shows, in the manner of
Radosavovic et al. (2020), "Designing Network Design Spaces",
https://arxiv.org/abs/2003.13678: each population's error EDF (the fraction
of its models with a test error below each value), the Kolmogorov-Smirnov
two-sample test of whether the two distributions differ
(`cnn_guide.statistics.ks_two_sample`), and the quantized linear width rule
fitted to the best models of the unconstrained space (the paper's section 4).
"""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import numpy as np

from cnn_guide.anynet import AnyNetConfig, fit_width_rule, width_rule_error
from cnn_guide.design_spaces import DesignSpace, get_design_space
from cnn_guide.plotting import book_style, embedded_png
from cnn_guide.report.tables import markdown_table
from cnn_guide.runs import RunRecord
from cnn_guide.statistics import edf, ks_two_sample

__all__ = ["fitted_rules", "plot_edfs", "render_design_space", "summary"]

Store = str | os.PathLike | None
Recorded = dict[str, list[tuple[AnyNetConfig, RunRecord]]]

BEST_SHARE = 0.25
"""The share of a population whose widths the page fits the rule to (at least one model)."""


def _errors(runs: list[tuple[AnyNetConfig, RunRecord]]) -> list[float]:
    return [1 - run.test_accuracy for _, run in runs]


def _command(space: DesignSpace) -> str:
    return f"cnn-guide record --plan design-spaces --only {space.name}"


def summary(space: DesignSpace, path: Store = None) -> str:
    """A table of each population (models recorded, median and best error), or the command.

    Below it, once both populations have runs, the Kolmogorov-Smirnov test
    of their error distributions, read at the 5% level.
    """
    recorded = space.recorded(path)
    wanted = sum(len(population.configs) for population in space.populations)
    done = sum(len(runs) for runs in recorded.values())
    stop = (
        f"{space.epochs} epochs on {space.labels_per_class * 10:,} training images, "
        f"seed {space.seed}"
    )
    if done == 0:
        return f"*Not recorded yet: `{_command(space)}` trains its {wanted} runs ({stop} each).*"
    rows = []
    for population in space.populations:
        runs = recorded[population.label]
        errors = _errors(runs)
        sizes = [config.parameters() for config, _ in runs]
        rows.append(
            [
                population.label,
                population.description,
                f"{len(runs)} of {len(population.configs)}",
                f"{np.median(errors):.2%}" if errors else "-",
                f"{min(errors):.2%}" if errors else "-",
                f"{min(sizes):,} to {max(sizes):,}" if sizes else "-",
            ]
        )
    header = ["design space", "how its models are drawn", "models recorded", "median error",
              "best error", "parameters"]  # fmt: skip
    text = markdown_table(header, rows)
    text += f"\n\nEvery model trained once: {stop}; error is test error on 10,000 images."
    if done < wanted:
        text += f" {wanted - done} runs are missing: `{_command(space)}` records them."
    first, second = (recorded[population.label] for population in space.populations)
    if first and second:
        text += "\n\n" + _ks_reading(space, first, second)
    return text


def _ks_reading(
    space: DesignSpace,
    first: list[tuple[AnyNetConfig, RunRecord]],
    second: list[tuple[AnyNetConfig, RunRecord]],
) -> str:
    a, b = (population.label for population in space.populations)
    test = ks_two_sample(_errors(first), _errors(second))
    words = (
        "the two error distributions differ at the 5% level"
        if test.p_value < 0.05
        else "at these population sizes the test cannot tell the two error distributions apart"
    )
    return (
        f"Kolmogorov-Smirnov two-sample test ({a}: {test.sizes[0]} models, {b}: "
        f"{test.sizes[1]}): largest gap between the EDFs D = {test.statistic:.3f}, "
        f"p = {test.p_value:.3g}; {words}."
    )


def plot_edfs(space: DesignSpace, path: Store = None) -> plt.Figure:
    """Each population's error EDF, the paper's figure style.

    Raises:
        ValueError: If no run of the experiment is recorded yet.
    """
    recorded = space.recorded(path)
    if not any(recorded.values()):
        raise ValueError(f"no run of the design space {space.name!r} is recorded yet.")
    with book_style():
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
        for colour, (label, runs) in enumerate(recorded.items()):
            if not runs:
                continue
            errors = _errors(runs)
            x, fraction = edf(errors)
            ax.step(
                np.concatenate([[x[0]], x]) * 100,
                np.concatenate([[0.0], fraction]),
                where="post",
                color=f"C{colour}",
                label=f"{label} ({len(runs)} models, median {np.median(errors):.1%})",
            )
        ax.set_xlabel("test error (%)")
        ax.set_ylabel("cumulative fraction of models")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize="small", loc="lower right")
        ax.set_title(f"{space.name}: error EDFs")
        fig.tight_layout()
    return fig


def fitted_rules(
    runs: list[tuple[AnyNetConfig, RunRecord]], share: float = BEST_SHARE
) -> list[tuple[AnyNetConfig, float, object, float]]:
    """The width rule fitted to each of the best models (`cnn_guide.anynet.fit_width_rule`).

    Returns:
        For the best ``share`` of ``runs`` by test error (at least one),
        best first: ``(config, error, rule, e_fit)``, where ``e_fit`` is the
        mean absolute log-ratio of the rule's widths to the model's, block
        by block (`cnn_guide.anynet.width_rule_error`).
    """
    ranked = sorted(runs, key=lambda item: 1 - item[1].test_accuracy)
    best = ranked[: max(1, round(len(ranked) * share))]
    fitted = []
    for config, run in best:
        rule = fit_width_rule(config.depths, config.widths)
        error = width_rule_error(config.depths, config.widths, rule)
        fitted.append((config, 1 - run.test_accuracy, rule, error))
    return fitted


def _rule_section(space: DesignSpace, recorded: Recorded) -> str:
    label = space.populations[0].label
    runs = recorded[label]
    if not runs:
        return ""
    rows = [
        [
            f"{error:.2%}",
            "-".join(map(str, config.depths)),
            "-".join(map(str, config.widths)),
            "yes" if list(config.widths) == sorted(config.widths) else "no",
            f"{rule.w_0:.1f}",
            f"{rule.w_a:.1f}",
            f"{rule.w_m:.2f}",
            f"{fit:.3f}",
        ]
        for config, error, rule, fit in fitted_rules(runs)
    ]
    rest = sorted(runs, key=lambda item: 1 - item[1].test_accuracy)[len(rows) :]
    header = ["error", "depths", "widths", "widths grow?", "w_0", "w_a", "w_m", "e_fit"]
    text = (
        f"The width rule fitted to the best {len(rows)} of the {len(runs)} recorded "
        f"{label} models (least squares for the line, then the w_m whose quantized widths "
        "are closest; e_fit is the mean absolute log-ratio of fitted to actual widths, "
        "block by block):\n\n" + markdown_table(header, rows)
    )
    if rest:
        errors = [
            width_rule_error(
                config.depths, config.widths, fit_width_rule(config.depths, config.widths)
            )
            for config, _ in rest
        ]
        text += (
            f"\n\nThe other {len(rest)} models' mean e_fit: {np.mean(errors):.3f} (the best "
            f"models': {np.mean([row[3] for row in fitted_rules(runs)]):.3f})."
        )
    return text


def render_design_space(name: str, path: Store = None) -> str:
    """A design-space experiment for a chapter: question, table, KS test, EDFs, fitted rule.

    The figure is embedded in the page as a PNG, so the chapter needs no file
    written beside it.
    """
    space = get_design_space(name)
    text = f"**{space.question}** ({space.source}.)\n\n" + summary(space, path)
    recorded = space.recorded(path)
    if not any(recorded.values()):
        return text
    alt = f"Error EDFs of the {name} populations"
    text += "\n\n" + embedded_png(plot_edfs(space, path), alt)
    rules = _rule_section(space, recorded)
    return text + ("\n\n" + rules if rules else "") + "\n"
