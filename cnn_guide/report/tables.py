"""Tables of recorded runs, as Markdown for the pages or aligned text for a terminal.

`markdown_table` (from `cnn_guide._markdown`) is the one way the package writes a
Markdown table; the report's renderers and `cnn_guide.analysis` both use it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from cnn_guide._markdown import markdown_table
from cnn_guide.data import load_test_labels
from cnn_guide.runs import RunRecord

__all__ = ["format_table", "markdown_table", "test_labels"]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} s"


_Column = tuple[str, int, Callable[[RunRecord], str]]


def _reached(target: str) -> _Column:
    return (f"to {target}", 7, lambda r: _seconds(r.reached.get(target)))


_MODEL_COLUMNS: tuple[_Column, ...] = (
    # heading, width in a text table, how to show a row's value
    ("model", 22, lambda r: r.model),
    ("params", 10, lambda r: f"{r.parameters:,}"),
    ("MACs", 12, lambda r: f"{r.macs:,}"),
    ("train img/s", 12, lambda r: f"{r.train_images_per_second:,.0f}"),
    ("infer img/s", 12, lambda r: f"{r.inference_images_per_second:,.0f}"),
    ("s/epoch", 8, lambda r: f"{r.seconds_per_epoch:,.0f}"),
    ("epochs", 7, lambda r: f"{r.epochs:.1f}"),
    *(_reached(target) for target in ("90%", "91%", "92%", "93%")),
    ("test acc", 9, lambda r: f"{r.test_accuracy:.4f}"),
    ("peak MiB", 9, lambda r: "-" if r.peak_memory_mb is None else f"{r.peak_memory_mb:,.0f}"),
)

_RECIPE_COLUMNS: tuple[_Column, ...] = (
    ("recipe", 18, lambda r: r.spec.recipe),
    ("model", 20, lambda r: r.model),
    ("budget", 7, lambda r: f"{r.settings['minutes']:g} min"),
    ("epochs", 7, lambda r: f"{r.epochs:.1f}"),
    *(_reached(target) for target in ("90%", "91%", "92%", "93%", "94%", "95%")),
    ("valid acc", 10, lambda r: f"{r.valid_accuracy:.4f}"),
    ("test acc", 9, lambda r: f"{r.test_accuracy:.4f}"),
)


def format_table(rows: Sequence[RunRecord], *, markdown: bool = False, by: str = "model") -> str:
    """Recorded runs as an aligned text table, or a Markdown table.

    "to 90%" is the training time until a checkpoint first measured at least
    90% test accuracy ("-": not reached).

    Args:
        rows: Recorded runs (`cnn_guide.results.benchmark_rows`).
        markdown: A Markdown table instead of aligned text.
        by: ``"model"`` for the architecture columns (parameters, MACs,
            speeds, memory), ``"recipe"`` for the recipe columns (budget,
            times to 90-95%, validation and test accuracy).
    """
    columns = {"model": _MODEL_COLUMNS, "recipe": _RECIPE_COLUMNS}[by]
    headings = [heading for heading, _, _ in columns]
    cells = [[show(row) for _, _, show in columns] for row in rows]
    if markdown:
        return markdown_table(headings, cells, numeric=range(1, len(headings)))
    widths = [width for _, width, _ in columns]
    return "\n".join(
        "".join(
            f"{cell:<{width}}" if index == 0 else f"{cell:>{width}}"
            for index, (cell, width) in enumerate(zip(line, widths, strict=True))
        )
        for line in [headings, *cells]
    )


@functools.cache
def test_labels() -> np.ndarray:
    """The 10,000 test labels that stored predictions are scored against, read once."""
    return load_test_labels(download=False)
