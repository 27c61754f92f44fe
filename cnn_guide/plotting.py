"""Figures of the book: sample images, learning curves, confusion matrices.

Every figure has a transparent background and mid-grey text and axes, so it
reads well on the site's light and dark themes alike.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np

if TYPE_CHECKING:
    from cnn_guide.runs import RunRecord

__all__ = [
    "book_style",
    "confusion_matrix",
    "embedded_png",
    "plot_accuracy_over_time",
    "plot_benchmark",
    "plot_comparison",
    "plot_confusion_matrix",
    "plot_feature_maps",
    "plot_history",
    "plot_recorded_run",
    "plot_samples",
    "show",
]

OUTPUT_ENV_VAR = "CNN_GUIDE_OUTPUT"
"""Directory where scripts save their figures."""

INK = "#777777"
"""Text and axis colour: readable on white and on the dark theme's slate.

Its luminance is just under one half, so Jupyter (which picks a backdrop for
transparent figures from the tick colour) shows figures without a backdrop.
"""

_STYLE = {
    "figure.facecolor": "none",
    "axes.facecolor": "none",
    "savefig.facecolor": "none",
    "savefig.transparent": True,
    "text.color": INK,
    "axes.labelcolor": INK,
    "axes.edgecolor": INK,
    "axes.titlecolor": INK,
    "xtick.color": INK,
    "ytick.color": INK,
    "legend.frameon": False,
    "legend.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": INK,
    "grid.alpha": 0.25,
    "figure.dpi": 96,
}


@contextlib.contextmanager
def book_style() -> Iterator[None]:
    """Matplotlib settings of the book's figures, as a context manager."""
    with plt.rc_context(_STYLE):
        yield


def plot_samples(
    images: np.ndarray,
    labels: Sequence[int],
    class_names: Sequence[str],
    *,
    predictions: Sequence[int] | None = None,
    columns: int = 8,
    rows: int = 2,
) -> plt.Figure:
    """A grid of images titled with their class (and prediction, if given).

    Args:
        images: Images of shape ``(n, height, width[, 1])``.
        labels: Their class indices.
        class_names: Names indexed by class.
        predictions: Predicted class indices; wrong ones are titled in red.
        columns: Images per row.
        rows: Number of rows.

    Returns:
        The figure.
    """
    count = min(len(images), columns * rows)
    with book_style():
        fig, axes = plt.subplots(rows, columns, figsize=(1.4 * columns, 1.7 * rows))
        for index, ax in enumerate(np.ravel(axes)):
            ax.axis("off")
            if index >= count:
                continue
            # Ink on paper: dark garments on a light card, in either theme.
            ax.imshow(np.squeeze(images[index]), cmap="binary", vmin=0.0, vmax=1.0)
            title = class_names[int(labels[index])]
            color = INK
            if predictions is not None and int(predictions[index]) != int(labels[index]):
                title = f"{class_names[int(predictions[index])]}\n(is {title})"
                color = "#d62728"
            ax.set_title(title, fontsize=8, color=color)
        fig.tight_layout()
    return fig


def plot_history(
    history: Mapping[str, Sequence[float]],
    *,
    metrics: Sequence[str] = ("loss", "accuracy"),
    title: str | None = None,
) -> plt.Figure:
    """Learning curves: each metric on training and validation data by epoch.

    Args:
        history: ``keras.callbacks.History.history`` or `TrainResult.history`.
        metrics: Metrics to plot, one panel each.
        title: Figure title.

    Returns:
        The figure.

    Raises:
        ValueError: If a metric is not in the history.
    """
    missing = [m for m in metrics if m not in history]
    if missing:
        raise ValueError(f"metrics {missing} not in the history, which has {sorted(history)}.")
    with book_style():
        fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.2), squeeze=False)
        for ax, metric in zip(axes[0], metrics, strict=True):
            epochs = np.arange(1, len(history[metric]) + 1)
            ax.plot(epochs, history[metric], "o-", label="training")
            if f"val_{metric}" in history:
                ax.plot(epochs, history[f"val_{metric}"], "s--", label="validation")
            ax.set_xlabel("epoch")
            ax.set_ylabel(metric)
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.legend()
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


def plot_comparison(
    curves: Mapping[str, Sequence[float]],
    *,
    xlabel: str,
    ylabel: str,
    smoothing: int = 1,
    title: str | None = None,
) -> plt.Figure:
    """Several runs' curves on one axis, for example two variants' training loss.

    Args:
        curves: Values by label, one line each (x is 1, 2, ...).
        xlabel: What x counts (``"epoch"``, ``"training step"``).
        ylabel: What the values are.
        smoothing: Width of a moving average drawn over noisy per-step values
            (1 draws them as they are).
        title: Figure title.

    Returns:
        The figure.

    Raises:
        ValueError: If there are no curves, one is empty, or ``smoothing < 1``.
    """
    if not curves or any(len(values) == 0 for values in curves.values()):
        raise ValueError(f"need at least one non-empty curve, got {dict(curves)!r}.")
    if smoothing < 1:
        raise ValueError(f"smoothing must be a window of at least 1 value, got {smoothing}.")
    with book_style():
        fig, ax = plt.subplots(figsize=(6.5, 3.4))
        for label, values in curves.items():
            values = np.asarray(values, dtype=float)
            window = min(smoothing, len(values))
            smoothed = np.convolve(values, np.ones(window) / window, mode="valid")
            x = np.arange(window, len(values) + 1)
            ax.plot(x, smoothed, "-" if len(x) > 12 else "o-", label=label)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend()
        if title:
            ax.set_title(title)
        fig.tight_layout()
    return fig


def plot_accuracy_over_time(
    runs: Sequence[RunRecord],
    *,
    labels: Sequence[str] | None = None,
    floor: float = 0.8,
    targets: Sequence[float] = (0.90, 0.93),
    title: str | None = None,
) -> plt.Figure:
    """Test accuracy against minutes of training, one line per benchmark run.

    Args:
        runs: Recorded runs (`cnn_guide.results.benchmark_rows`), each with
            its ``checkpoints`` as ``[seconds, images, accuracy]``.
        labels: A legend entry per run (default: the model names).
        floor: Lowest accuracy shown; checkpoints below it sit on the axis.
        targets: Accuracies marked with dotted horizontal lines.
        title: Figure title.

    Raises:
        ValueError: Without runs, or with a run that has no checkpoints.
    """
    if not runs or any(not run.checkpoints for run in runs):
        raise ValueError("need at least one run, each with checkpoints.")
    labels = list(labels) if labels is not None else [_short(run.model) for run in runs]
    # Ten colours, then the same colours dashed: every line stays distinguishable.
    styles = [(f"C{i % 10}", "-" if i < 10 else "--") for i in range(len(runs))]
    with book_style():
        fig, ax = plt.subplots(figsize=(8.5, 4.2))
        for label, run, (color, line) in zip(labels, runs, styles, strict=True):
            seconds, _, accuracy = np.array(run.checkpoints, dtype=float).T
            ax.plot(
                seconds / 60,
                np.maximum(accuracy, floor),
                marker="o",
                linestyle=line,
                color=color,
                markersize=3,
                label=label,
            )
        for target in targets:
            ax.axhline(target, color=INK, linestyle=":", linewidth=1)
        ax.set_ylim(floor, None)
        ax.set_xlabel("minutes of training")
        ax.set_ylabel("test accuracy")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
        if title:
            ax.set_title(title, fontsize=10)
        fig.tight_layout()
    return fig


def plot_benchmark(
    runs: Sequence[RunRecord],
    *,
    x: str,
    floor: float | None = None,
    title: str | None = None,
) -> plt.Figure:
    """Final test accuracy against a cost, one labelled point per run.

    Args:
        runs: Recorded runs (`cnn_guide.results.benchmark_rows`).
        x: The cost on the (logarithmic) x axis: ``"parameters"``,
            ``"macs"`` (multiply-accumulates per image) or ``"seconds_per_epoch"``.
        floor: Lowest accuracy shown; a run below it is drawn on the floor
            as a downward triangle, labelled with its real accuracy.
        title: Figure title.

    Raises:
        ValueError: Without runs, or for another ``x``.
    """
    axis_labels = {
        "parameters": "parameters",
        "macs": "multiply-accumulates per image",
        "seconds_per_epoch": "seconds per epoch (training)",
    }
    if x not in axis_labels:
        raise ValueError(f"x must be one of {sorted(axis_labels)}, got {x!r}.")
    if not runs:
        raise ValueError("need at least one benchmark run to plot.")
    with book_style():
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        for index, run in enumerate(runs):
            accuracy, label, marker = run.test_accuracy, _short(run.model), "o"
            if floor is not None and accuracy < floor:
                accuracy, label, marker = floor, f"{label} ({run.test_accuracy:.2f})", "v"
            cost = getattr(run, x)
            ax.scatter(cost, accuracy, color=f"C{index % 10}", marker=marker)
            ax.annotate(
                label,
                (cost, accuracy),
                fontsize=8,
                xytext=(4, 3) if index % 2 == 0 else (-4, -10),
                textcoords="offset points",
                ha="left" if index % 2 == 0 else "right",
            )
        ax.set_xscale("log")
        if floor is not None:
            ax.set_ylim(floor - 0.005, None)
        ax.set_xlabel(axis_labels[x] + " (log scale)")
        ax.set_ylabel("test accuracy")
        if title:
            ax.set_title(title, fontsize=10)
        fig.tight_layout()
    return fig


def _short(model: str) -> str:
    return model.removesuffix("_fashion")


def plot_feature_maps(
    maps: np.ndarray,
    *,
    titles: Sequence[str] | None = None,
    columns: int = 8,
    title: str | None = None,
) -> plt.Figure:
    """Channels of one feature map (or several images) as a grid of grey images.

    Args:
        maps: Array of shape ``(height, width, channels)``: one panel per channel.
        titles: One title per panel.
        columns: Panels per row.
        title: Figure title.

    Returns:
        The figure.

    Raises:
        ValueError: If ``maps`` is not three-dimensional or ``titles`` has the
            wrong length.
    """
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(
            f"maps must have shape (height, width, channels), got {maps.shape}; "
            "take one image of a batch with maps[0]."
        )
    count = maps.shape[-1]
    if titles is not None and len(titles) != count:
        raise ValueError(f"got {len(titles)} titles for {count} panels.")
    columns = min(columns, count)
    rows = -(-count // columns)
    with book_style():
        fig, axes = plt.subplots(
            rows,
            columns,
            figsize=(1.3 * columns, 1.45 * rows + (0.3 if title else 0)),
            squeeze=False,
        )
        for index, ax in enumerate(axes.flat):
            ax.axis("off")
            if index < count:
                ax.imshow(maps[..., index], cmap="gray")
                if titles is not None:
                    ax.set_title(titles[index], fontsize=8)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> np.ndarray:
    """Counts of (true class, predicted class) pairs.

    Returns:
        An integer array ``m`` of shape ``(num_classes, num_classes)`` where
        ``m[i, j]`` counts images of class ``i`` predicted as class ``j``.

    Raises:
        ValueError: On different lengths or labels outside ``[0, num_classes)``.
    """
    true = np.asarray(y_true, dtype=np.int64).ravel()
    pred = np.asarray(y_pred, dtype=np.int64).ravel()
    if true.shape != pred.shape:
        raise ValueError(f"y_true has {true.size} labels but y_pred has {pred.size}.")
    for name, values in (("y_true", true), ("y_pred", pred)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"{name} has labels outside [0, {num_classes}).")
    counts = np.bincount(true * num_classes + pred, minlength=num_classes**2)
    return counts.reshape(num_classes, num_classes)


def plot_confusion_matrix(
    y_true: Sequence[int],
    y_pred: Sequence[int],
    class_names: Sequence[str],
    *,
    normalize: bool = True,
) -> plt.Figure:
    """The confusion matrix as a heat map, rows normalized to recall by default.

    Args:
        y_true: True class indices.
        y_pred: Predicted class indices.
        class_names: Names indexed by class.
        normalize: Show each row as fractions of its class (recall on the
            diagonal) rather than counts.

    Returns:
        The figure.
    """
    counts = confusion_matrix(y_true, y_pred, len(class_names))
    values = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalize else counts
    with book_style():
        fig, ax = plt.subplots(figsize=(6.4, 5.6))
        ax.grid(False)
        image = ax.imshow(values, cmap="Blues")
        ticks = np.arange(len(class_names))
        ax.set_xticks(ticks, class_names, rotation=45, ha="right")
        ax.set_yticks(ticks, class_names)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        threshold = values.max() / 2
        for i, j in np.ndindex(values.shape):
            if counts[i, j]:
                text = f"{values[i, j]:.2f}" if normalize else str(counts[i, j])
                color = "white" if values[i, j] > threshold else "#333333"
                ax.text(j, i, text, ha="center", va="center", fontsize=7, color=color)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        fig.tight_layout()
    return fig


def plot_recorded_run(run: RunRecord) -> plt.Figure:
    """A recorded run's curves, read from the store: accuracy and loss by epoch.

    Training figures are running means over each epoch in training mode (with
    the recipe's label smoothing in the loss); validation figures are measured
    after each epoch in inference mode, with plain cross-entropy. The final
    test accuracy is the star at the last epoch.

    Args:
        run: A recorded run with a per-epoch history (`cnn_guide.results.find`).

    Raises:
        ValueError: For a run without one (a time-budgeted or throughput run).
    """
    history = run.history
    if not history.get("accuracy"):
        raise ValueError(
            f"{run.key!r} has no per-epoch history to draw; only runs stopped by epochs record one."
        )
    smoothing = run.settings.get("label_smoothing") or 0.0
    with book_style():
        fig, (accuracy, loss) = plt.subplots(1, 2, figsize=(9, 3.2))
        epochs = np.arange(1, len(history["accuracy"]) + 1)
        accuracy.plot(epochs, history["accuracy"], "o-", label="training")
        accuracy.plot(epochs, history["val_accuracy"], "s--", label="validation")
        accuracy.plot(
            epochs[-1], run.test_accuracy, "*", markersize=12, label=f"test {run.test_accuracy:.4f}"
        )
        accuracy.set_ylabel("accuracy")
        loss.plot(
            epochs,
            history["loss"],
            "o-",
            label=f"training (label smoothing {smoothing:g})" if smoothing else "training",
        )
        loss.plot(epochs, history["val_loss"], "s--", label="validation")
        loss.set_ylabel("loss")
        for ax in (accuracy, loss):
            ax.set_xlabel("epoch")
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.legend()
        fig.suptitle("Full run: " + " ".join(run.spec.arguments()))
        fig.tight_layout()
    return fig


def embedded_png(fig: plt.Figure, alt: str) -> str:
    """A figure as an HTML image holding its own PNG, for a page built from Markdown.

    The docs hook places such images in chapters, so no file has to be
    written beside the page. The figure is closed.
    """
    import base64
    import io
    from html import escape

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    image = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img class="book-figure" alt="{escape(alt)}" src="data:image/png;base64,{image}">'


def show(fig: plt.Figure, name: str) -> None:
    """Show a figure inline in a notebook, or save it as a PNG from a script.

    Examples call this for every figure: on the site and in Jupyter the figure
    appears under its cell; run as ``python examples/NAME.py`` it is written
    to ``$CNN_GUIDE_OUTPUT`` (default ``./cnn_guide_output``) and its path
    printed, so a long run never stops on a window waiting to be closed.

    Args:
        fig: The figure.
        name: File name without extension, used when saving.
    """
    if _in_notebook():
        plt.show()
        return
    directory = Path(os.environ.get(OUTPUT_ENV_VAR, "cnn_guide_output"))
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    print(f"Saved figure {path}")


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in shell.config
