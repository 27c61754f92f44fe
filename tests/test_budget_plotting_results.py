"""Budgets and figures."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from cnn_guide import budget, plotting


@pytest.mark.parametrize(
    ("value", "name", "epochs"),
    [("quick", "quick", 1), ("site", "site", 2), ("full", "full", 10), ("", "full", 10)],
)
def test_choose_budget(monkeypatch, value, name, epochs):
    monkeypatch.setenv("CNN_GUIDE_BUDGET", value)
    chosen = budget.choose_budget(site_epochs=2, full_epochs=10, site_train_size=6_000)
    assert (chosen.name, chosen.epochs) == (name, epochs)
    assert name in chosen.describe()
    assert (chosen.train_size is None) == (name == "full")


def test_budget_default_is_full(monkeypatch):
    monkeypatch.delenv("CNN_GUIDE_BUDGET", raising=False)
    assert budget.choose_budget(site_epochs=1, full_epochs=5).name == "full"


def test_unknown_budget_is_rejected(monkeypatch):
    monkeypatch.setenv("CNN_GUIDE_BUDGET", "medium")
    with pytest.raises(ValueError, match="'medium' is not a budget; use one of quick, site, full"):
        budget.choose_budget(site_epochs=1, full_epochs=5)


def test_confusion_matrix_counts():
    matrix = plotting.confusion_matrix([0, 1, 1, 2], [0, 2, 1, 2], 3)
    np.testing.assert_array_equal(matrix, [[1, 0, 0], [0, 1, 1], [0, 0, 1]])
    with pytest.raises(ValueError, match="outside"):
        plotting.confusion_matrix([3], [0], 3)
    with pytest.raises(ValueError, match="has 2 labels"):
        plotting.confusion_matrix([0, 1], [0], 3)


def test_figures_are_transparent_and_labelled(fashion):
    names = fashion.class_names
    fig = plotting.plot_samples(
        fashion.x_test, fashion.y_test, names, predictions=fashion.y_test[::-1]
    )
    assert len(fig.axes) == 16 and fig.axes[0].get_title()
    assert fig.get_facecolor()[3] == 0.0  # transparent: right on light and dark themes
    fig = plotting.plot_history(
        {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8]}
    )
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2
    with pytest.raises(ValueError, match="not in the history"):
        plotting.plot_history({"loss": [1.0]}, metrics=("accuracy",))
    fig = plotting.plot_confusion_matrix(fashion.y_test[:50], fashion.y_test[:50], names)
    assert fig.axes[0].get_xlabel() == "predicted class"
    matplotlib.pyplot.close("all")


def test_show_saves_png_outside_notebooks(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_GUIDE_OUTPUT", str(tmp_path))
    plotting.show(plotting.plot_history({"loss": [1.0, 0.5]}, metrics=("loss",)), "curves")
    assert (tmp_path / "curves.png").stat().st_size > 1000


def test_comparison_and_feature_map_figures():
    fig = plotting.plot_comparison(
        {"plain": [2.0, 1.5, 1.2, 1.0], "residual": [2.0, 1.0, 0.8, 0.6]},
        xlabel="training step",
        ylabel="loss",
        smoothing=2,
    )
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["plain", "residual"]
    np.testing.assert_allclose(lines[1].get_ydata(), [1.5, 0.9, 0.7])
    with pytest.raises(ValueError, match="non-empty"):
        plotting.plot_comparison({"empty": []}, xlabel="x", ylabel="y")
    maps = np.random.default_rng(0).random((7, 7, 5))
    fig = plotting.plot_feature_maps(maps, titles=list("abcde"), columns=4)
    assert len(fig.axes) == 8 and len(fig.axes[0].images) == 1
    with pytest.raises(ValueError, match=r"maps\[0\]"):
        plotting.plot_feature_maps(maps[None])
