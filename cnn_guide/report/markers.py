"""The markers a chapter holds, and what each one stands for: one registry.

A chapter line such as ``<!-- full-run: vgg_fashion -->`` or
``<!-- fast-goals -->`` is replaced, when the book is built, by the Markdown
its renderer writes from the store of runs. `MARKERS` is the only list of
them: the docs build's pattern (`marker_pattern`) and `render_marker` both
read it. Renderers only read the store; nothing below them calls back up.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cnn_guide.report import comparison, design_spaces, ensemble, experiments, flagship, runs

__all__ = ["MARKERS", "Marker", "marker_pattern", "render_marker"]

Chapters = Mapping[str, str]
Store = str | os.PathLike | None


@dataclass(frozen=True)
class Marker:
    """One kind of chapter marker.

    Attributes:
        name: What the comment starts with, e.g. ``"full-run"``.
        argument: What follows the colon, in words (``""``: the marker takes none).
        render: Writes its Markdown from the argument (if any), each model's
            and experiment's chapter file (to link rows) and the store.
        links_chapter: Whether a chapter holding this marker is the chapter of
            its argument (a model's benchmark row, an experiment), so that
            tables elsewhere can link to it.
    """

    name: str
    argument: str
    render: Callable[[str, Chapters, Store], str]
    links_chapter: bool = False

    @property
    def usage(self) -> str:
        """How a chapter writes it, e.g. ``"full-run: MODEL"``."""
        return f"{self.name}: {self.argument}" if self.argument else self.name


MARKERS: dict[str, Marker] = {
    marker.name: marker
    for marker in (
        Marker(
            "benchmark",
            "MODEL",
            lambda model, _, store: runs.render_benchmark_row(model, store),
            links_chapter=True,
        ),
        Marker(
            "benchmark-table",
            "",
            lambda _, chapters, store: runs.render_benchmark_table(chapters, store),
        ),
        Marker("full-run", "MODEL", lambda model, _, store: runs.render_full_run(model, store)),
        Marker(
            "full-runs-table",
            "",
            lambda _, chapters, store: runs.render_full_runs_table(chapters, store),
        ),
        Marker(
            "experiment",
            "NAME",
            lambda name, _, store: experiments.render_experiment(name, store),
            links_chapter=True,
        ),
        Marker(
            "design-space",
            "SPACE",
            lambda name, _, store: design_spaces.render_design_space(name, store),
            links_chapter=True,
        ),
        Marker(
            "paper-findings",
            "",
            lambda _, chapters, store: experiments.render_findings(chapters, store),
        ),
        Marker(
            "rule-simulation", "", lambda _, __, store: experiments.render_rule_simulation(store)
        ),
        Marker(
            "full-runs-figure", "", lambda _, __, store: ensemble.render_full_runs_figure(store)
        ),
        Marker("full-runs-per-class", "", lambda _, __, store: ensemble.render_per_class(store)),
        Marker(
            "full-runs-vote",
            "",
            lambda _, chapters, store: ensemble.render_vote(chapters, store),
        ),
        Marker("fast-goals", "", lambda _, __, store: comparison.render_goals(store)),
        Marker("flagship", "", lambda _, __, store: flagship.render_flagship(store)),
        Marker("fast-against-seed", "", lambda _, __, store: comparison.render_comparisons(store)),
        Marker("fast-reading", "", lambda _, __, store: comparison.render_reading(store)),
    )
}
"""Every chapter marker, by name."""


def marker_pattern() -> re.Pattern[str]:
    """A marker alone on its line, as an HTML comment; group 1 is the comment's text."""
    alternatives = "|".join(
        re.escape(marker.name) + (r": [\w-]+" if marker.argument else "")
        for marker in sorted(MARKERS.values(), key=lambda marker: -len(marker.name))
    )
    return re.compile(rf"^<!-- ((?:{alternatives})) -->$", re.MULTILINE)


def render_marker(text: str, *, chapters: Chapters | None = None, path: Store = None) -> str:
    """The Markdown a chapter marker stands for, read from the store.

    Args:
        text: The comment's text, e.g. ``"benchmark: vgg_fashion"``.
        chapters: Each model's chapter file name (and each experiment's, by
            its name), to link the tables' rows.
        path: The store (default `cnn_guide.results.results_path`).

    Raises:
        ValueError: For an unknown marker, or one missing its argument.
    """
    name, _, argument = (part.strip() for part in text.partition(":"))
    marker = MARKERS.get(name)
    if marker is None or bool(marker.argument) != bool(argument):
        usages = ", ".join(f"'{marker.usage}'" for marker in MARKERS.values())
        raise ValueError(f"unknown results marker {text!r}; use one of {usages}.")
    return marker.render(argument, chapters or {}, path)
