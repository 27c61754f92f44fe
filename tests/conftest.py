"""Shared fixtures: the real Fashion-MNIST (loaded once) and quiet TensorFlow."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import shutil
import subprocess
from dataclasses import dataclass
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


@pytest.fixture(scope="session")
def paper_model():
    """``paper_model(name)``: a registered model at its defaults, built once per session.

    The paper configurations take seconds each to build (SENet-154 about ten:
    every one of its 115 million weights is initialized), and several tests
    inspect the same one. Tests must not change the model they get.
    """
    from cnn_guide import models

    cache: dict[str, object] = {}

    def get(name: str):
        if name not in cache:
            cache[name] = models.build(name)
        return cache[name]

    return get


@pytest.fixture(autouse=True)
def _isolated_results(tmp_path, monkeypatch):
    """Never let a test write to the book's results file."""
    monkeypatch.setenv("CNN_GUIDE_RESULTS", str(tmp_path / "results.json"))


@dataclass(frozen=True)
class SiteBuild:
    """A finished build: where the site is, and what MkDocs printed."""

    site: Path
    log: str


@pytest.fixture(scope="session")
def site_build(tmp_path_factory) -> SiteBuild:
    """The book built once per session as ``cnn-guide book --budget quick`` builds it.

    Strict, every example executed in a fresh kernel with the notebook cache
    off. MkDocs starts in an empty scratch directory (the kernels' working
    directory), so an example that depended on its working directory or
    wrote into it would show. It reads a copy of the book's results file, as
    the real build reads the original.
    """
    from cnn_guide.book import mkdocs_command, mkdocs_environment

    out = tmp_path_factory.mktemp("site")
    results = tmp_path_factory.mktemp("results") / "results.json"
    shutil.copyfile(ROOT / "cnn_guide" / "results.json", results)
    scratch = tmp_path_factory.mktemp("cwd")
    env = mkdocs_environment(budget="quick", execute=True)
    env["CNN_GUIDE_RESULTS"] = str(results)
    command = mkdocs_command(serve=False, site_dir=out, config_file=ROOT / "mkdocs.yml")
    build = subprocess.run(
        command, cwd=scratch, env=env, capture_output=True, text=True, timeout=3000, check=False
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-5000:]
    assert not list(scratch.iterdir()), f"examples wrote into the working directory: {scratch}"
    return SiteBuild(site=out, log=build.stdout + build.stderr)


@pytest.fixture(scope="session")
def built_site(site_build) -> Path:
    """The directory of the built site."""
    return site_build.site
