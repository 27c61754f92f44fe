"""Shared fixtures: the real Fashion-MNIST (loaded once) and quiet TensorFlow."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


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


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """The site, built once per session: strict, examples executed quick, no cache.

    It reads the book's own results file (a copy), as the real build does.
    """
    out = tmp_path_factory.mktemp("site")
    results = tmp_path_factory.mktemp("results") / "results.json"
    shutil.copyfile(ROOT / "cnn_guide" / "results.json", results)
    env = {
        **os.environ,
        "CNN_GUIDE_RESULTS": str(results),
        "CNN_GUIDE_BUDGET": "quick",
        "CNN_GUIDE_NOTEBOOK_CACHE": "false",
        "NO_MKDOCS_2_WARNING": "1",
        "DISABLE_MKDOCS_2_WARNING": "true",
    }
    env.pop("MPLBACKEND", None)  # Agg would make inline figures vanish
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3000,
        check=False,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-5000:]
    return out
