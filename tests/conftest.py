"""Shared fixtures: the real Fashion-MNIST (loaded once) and quiet TensorFlow."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest


@pytest.fixture(scope="session")
def fashion():
    """The real Fashion-MNIST, loaded once per test session."""
    from cnn_guide.data import load_fashion_mnist

    return load_fashion_mnist(download=False)


@pytest.fixture(scope="session")
def small_fashion(fashion):
    """A small slice of the real data, for training smoke tests."""
    return fashion.subset(train=256, valid=64, test=128)


@pytest.fixture(autouse=True)
def _isolated_results(tmp_path, monkeypatch):
    """Never let a test write to the book's results file."""
    monkeypatch.setenv("CNN_GUIDE_RESULTS", str(tmp_path / "results.json"))
