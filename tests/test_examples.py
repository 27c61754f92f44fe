"""Every example, run as a reader runs it: ``python examples/<name>.py`` (quick budget).

Run as notebooks, the way the site executes them, they are covered by the site
build (``tests/test_site.py``: mkdocs-jupyter, one fresh kernel each, errors
fail the build). `test_example_runs_as_a_notebook` runs one example that way
from a scratch working directory, so examples cannot depend on where they are
started.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbclient
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
TIMEOUT = 900  # seconds per cell; a quick run takes about a minute in all


@pytest.fixture
def quick_kernel_env(tmp_path, monkeypatch):
    profile = tmp_path / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text("c.IPKernelApp.capture_fd_output = False\n")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("CNN_GUIDE_BUDGET", "quick")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    work = tmp_path / "work"
    work.mkdir()
    return work


def test_there_are_examples():
    assert EXAMPLES, "no examples found"


@pytest.mark.slow
def test_example_runs_as_a_notebook(quick_kernel_env):
    notebook = jupytext.read(ROOT / "examples" / "foundations.py")
    client = nbclient.NotebookClient(
        notebook,
        timeout=TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(quick_kernel_env)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "Budget 'quick'" in text
    assert not any(o.output_type == "error" for o in outputs)
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, "the example shows no figure"
    assert not list(quick_kernel_env.iterdir()), "the notebook wrote into its working directory"


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_as_a_script(path, tmp_path):
    # The examples read the book's recorded results, as on the site; a copy,
    # so that nothing a script does can change the book's file.
    results = tmp_path / "results.json"
    shutil.copyfile(ROOT / "cnn_guide" / "results.json", results)
    env = {
        **os.environ,
        "CNN_GUIDE_RESULTS": str(results),
        "CNN_GUIDE_BUDGET": "quick",
        "CNN_GUIDE_OUTPUT": str(tmp_path / "figures"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "MPLBACKEND": "Agg",
    }
    done = subprocess.run(
        [sys.executable, str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Budget 'quick'" in done.stdout
    assert list((tmp_path / "figures").glob("*.png")), "no figure saved"
