"""Figures of trained networks: filters, where they look, and what the full runs get right.

The arrays come from `cnn_guide.inspection` (filters, maps, heat maps) and
`cnn_guide.ensemble` (per-class accuracy, shared mistakes); these functions
only draw them, in the book's style (`cnn_guide.plotting.book_style`): a
transparent background and mid-grey ink that read on the light and the dark
theme alike, and sizes that stay legible on a phone. Chapter:
``docs/chapters/inspection.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from cnn_guide.data import CLASS_NAMES
from cnn_guide.plotting import INK, book_style, confusion_matrix, plot_feature_maps

__all__ = [
    "SHORT_CLASS_NAMES",
    "plot_accuracy_against_size",
    "plot_confusion_grid",
    "plot_filters",
    "plot_heat_maps",
    "plot_per_class_accuracy",
]

SHORT_CLASS_NAMES = tuple(name.split("/")[0].split()[-1].capitalize() for name in CLASS_NAMES)
"""The ten Fashion-MNIST classes in a word each, for tick labels: the first of
`cnn_guide.data.CLASS_NAMES`' alternatives, its last word ("T-shirt", "Boot")."""

HEAT = "inferno"
"""The colour map of heat maps: dark where the network does not look, bright where it does."""


def _short(name: str) -> str:
    return name.removesuffix("_fashion")


def plot_filters(kernels: np.ndarray, *, columns: int = 8, title: str | None = None) -> plt.Figure:
    """A first convolution's filters, one small image each (averaged over input channels).

    Each filter is scaled to its own range, so a panel shows its pattern, not
    its size: light where the filter weights pixels positively, dark where negatively.

    Args:
        kernels: ``(height, width, in_channels, filters)``, as
            `cnn_guide.inspection.first_layer_filters` returns them.
        columns: Panels per row.
        title: Figure title.

    Raises:
        ValueError: If ``kernels`` is not four-dimensional.
    """
    kernels = np.asarray(kernels, dtype=np.float32)
    if kernels.ndim != 4:
        raise ValueError(
            f"kernels must have shape (height, width, in_channels, filters), got {kernels.shape}."
        )
    # Each filter is one panel of the feature-map grid, averaged over its input channels.
    return plot_feature_maps(kernels.mean(axis=2), columns=columns, title=title)


def plot_heat_maps(
    images: np.ndarray,
    maps: Mapping[str, np.ndarray],
    *,
    titles: Sequence[str] | None = None,
) -> plt.Figure:
    """Images in the first row, then one row per kind of heat map laid over them.

    Args:
        images: ``(n, height, width[, 1])``.
        maps: Row label to ``(n, height, width)`` maps in [0, 1], e.g.
            ``{"saliency": ..., "Grad-CAM": ...}``.
        titles: One title per image (e.g. its class and the prediction).

    Raises:
        ValueError: If a map's shape does not match the images.
    """
    images = np.asarray(images)
    count = len(images)
    for label, values in maps.items():
        if np.shape(values) != (count, *images.shape[1:3]):
            raise ValueError(
                f"the {label!r} maps have shape {np.shape(values)}, expected "
                f"{(count, *images.shape[1:3])} (one map per image, at the image's size)."
            )
    rows = 1 + len(maps)
    with book_style():
        fig, axes = plt.subplots(
            rows, count, figsize=(1.25 * count + 0.9, 1.3 * rows), squeeze=False
        )
        for column in range(count):
            picture = np.squeeze(images[column])
            axes[0, column].imshow(picture, cmap="binary", vmin=0.0, vmax=1.0)
            if titles is not None:
                axes[0, column].set_title(titles[column], fontsize=7)
            for row, values in enumerate(maps.values(), start=1):
                axes[row, column].imshow(picture, cmap="gray", vmin=0.0, vmax=1.0)
                axes[row, column].imshow(values[column], cmap=HEAT, vmin=0.0, vmax=1.0, alpha=0.6)
        for ax in axes.flat:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
        for row, label in enumerate(["image", *maps], start=0):
            axes[row, 0].set_ylabel(label, fontsize=8)
        fig.tight_layout()
    return fig


def plot_per_class_accuracy(
    names: Sequence[str],
    accuracies: np.ndarray,
    class_names: Sequence[str] = SHORT_CLASS_NAMES,
) -> plt.Figure:
    """Each network's accuracy on each class, as a table of shaded cells.

    Args:
        names: The networks, one row each.
        accuracies: ``(networks, classes)`` accuracies in [0, 1].
        class_names: One column label per class.

    Raises:
        ValueError: If the shape does not match the names.
    """
    accuracies = np.asarray(accuracies)
    if accuracies.shape != (len(names), len(class_names)):
        raise ValueError(
            f"accuracies has shape {accuracies.shape}, expected "
            f"{(len(names), len(class_names))} (one row per network, one column per class)."
        )
    with book_style():
        fig, ax = plt.subplots(figsize=(7.2, 0.36 * len(names) + 1.4))
        ax.grid(False)
        ax.imshow(accuracies, cmap="Blues", vmin=0.6, vmax=1.0, aspect="auto")
        ax.set_xticks(np.arange(len(class_names)), class_names, rotation=45, ha="right")
        ax.set_yticks(np.arange(len(names)), [_short(name) for name in names])
        for (row, column), value in np.ndenumerate(accuracies):
            color = "white" if value > 0.85 else "#333333"
            ax.text(
                column, row, f"{100 * value:.0f}", ha="center", va="center", fontsize=7, color=color
            )
        ax.set_title("test accuracy by class (%)", fontsize=10)
        fig.tight_layout()
    return fig


def plot_confusion_grid(
    names: Sequence[str],
    predictions: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str] = SHORT_CLASS_NAMES,
    *,
    columns: int = 4,
) -> plt.Figure:
    """Each network's mistakes as a small confusion matrix, its diagonal left out.

    A cell counts the test images of one class (row) taken for another
    (column), on one colour scale for all networks, so the panels compare.

    Args:
        names: The networks, one panel each.
        predictions: ``(networks, images)`` predicted classes.
        labels: ``(images,)`` true classes.
        class_names: One label per class.
        columns: Panels per row.
    """
    count = len(class_names)
    mistakes = []
    for row in np.asarray(predictions):
        matrix = confusion_matrix(labels, row, count).astype(float)
        np.fill_diagonal(matrix, np.nan)
        mistakes.append(matrix)
    top = max(np.nanmax(matrix) for matrix in mistakes)
    rows = -(-len(names) // columns)
    ticks = np.arange(count)
    with book_style():
        fig, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.3 * rows), squeeze=False)
        for index, ax in enumerate(axes.flat):
            ax.grid(False)
            if index >= len(names):
                ax.axis("off")
                continue
            ax.imshow(mistakes[index], cmap="Reds", vmin=0, vmax=top)
            ax.set_title(_short(names[index]), fontsize=8)
            first_column, last_row = index % columns == 0, index // columns == rows - 1
            ax.set_yticks(ticks, class_names if first_column else [], fontsize=6)
            ax.set_xticks(ticks, class_names if last_row else [], fontsize=6, rotation=90)
        fig.supxlabel("predicted class", fontsize=8, color=INK)
        fig.supylabel("true class", fontsize=8, color=INK)
        fig.tight_layout()
    return fig


def plot_accuracy_against_size(
    names: Sequence[str],
    accuracies: Sequence[float],
    intervals: Sequence[tuple[float, float]],
    parameters: Sequence[int],
    macs: Sequence[int],
) -> plt.Figure:
    """Test accuracy with its 95% interval against parameters and against MACs, side by side.

    Args:
        names: The networks.
        accuracies: Their test accuracies.
        intervals: Their 95% intervals, ``(low, high)``.
        parameters: Their parameter counts.
        macs: Their multiply-accumulates per image.
    """
    accuracies = 100 * np.asarray(accuracies)
    intervals = 100 * np.asarray(intervals)
    errors = np.abs(intervals.T - accuracies)
    with book_style():
        fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.6), sharey=True)
        for ax, sizes, label in (
            (axes[0], parameters, "parameters"),
            (axes[1], macs, "multiply-accumulates per image"),
        ):
            ax.errorbar(
                sizes, accuracies, yerr=errors, fmt="o", color="#1f77b4", ecolor=INK, capsize=2
            )
            ax.set_xscale("log")
            logs = np.log10(sizes)
            heights = _spread(logs, accuracies, gap=0.05 * np.ptp(intervals))
            for name, x, y, height in zip(names, sizes, accuracies, heights, strict=True):
                # Right of the neighbours' bars, so that a crowd's labels stand in a column.
                column = 10 ** logs[np.abs(logs - np.log10(x)) < 0.12].max() * 1.15
                ax.annotate(
                    _short(name),
                    (x, y),
                    xytext=(column, height),
                    fontsize=7,
                    va="center",
                    arrowprops={"arrowstyle": "-", "color": INK, "lw": 0.5, "alpha": 0.6},
                )
            ax.set_xlim(right=max(sizes) * 3.5)
            ax.set_xlabel(f"{label} (log scale)")
        axes[0].set_ylabel("test accuracy (%)")
        fig.tight_layout()
    return fig


def _spread(xs: np.ndarray, ys: np.ndarray, *, gap: float, reach: float = 0.6) -> list[float]:
    """Label heights, moved down from their points just enough not to overlap.

    Labels are placed from the top point down; a label within ``reach`` (in
    x, here decades) of one already placed keeps at least ``gap`` below it.
    """
    placed: list[tuple[float, float]] = []
    heights = [0.0] * len(ys)
    for index in np.argsort(-np.asarray(ys), kind="stable"):
        height = float(ys[index])
        for x, y in sorted(placed, key=lambda item: -item[1]):
            if abs(x - xs[index]) < reach and height > y - gap:
                height = y - gap
        placed.append((float(xs[index]), height))
        heights[index] = height
    return heights
