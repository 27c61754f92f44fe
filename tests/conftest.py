"""Shared fixtures: the real Fashion-MNIST (loaded once), quiet TensorFlow, the built site."""

from __future__ import annotations

import gc
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """TensorFlow imported quietly, then left out of garbage collection.

    Importing TensorFlow and Keras creates hundreds of thousands of objects
    that live as long as the process; every full collection would walk them
    again while the tests build thousands of layers. Frozen, they are skipped
    (model building measured 15-20% faster).
    """
    from cnn_guide._quiet import import_tensorflow

    import_tensorflow()
    gc.freeze()


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
def tiny_run():
    """One real, tiny run: its figures are the template of records made by `as_record`."""
    from cnn_guide.data import load_fashion_mnist
    from cnn_guide.recipes import get_recipe
    from cnn_guide.training import fit

    data = load_fashion_mnist(download=False).subset(train=128, valid=32, test=64)
    return fit("lenet5_fashion", data, get_recipe("protocol", epochs=1, eval_every=0.1), verbose=0)


def as_record(tiny_run, spec, **figures):
    """A record of ``spec`` with the tiny run's figures, some of them replaced."""
    import dataclasses

    from cnn_guide.runs import RunRecord

    as_if = dataclasses.replace(tiny_run, recipe=spec.resolve())
    return dataclasses.replace(RunRecord.from_fit(spec, as_if.recipe, as_if), **figures)


@pytest.fixture(autouse=True)
def _isolated_results(tmp_path, monkeypatch):
    """Never let a test write to the book's store of runs."""
    monkeypatch.setenv("CNN_GUIDE_RESULTS", str(tmp_path / "records"))


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
    results = tmp_path_factory.mktemp("results") / "records"
    shutil.copytree(ROOT / "cnn_guide" / "records", results)
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
