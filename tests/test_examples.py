"""An example, run as a reader runs it: ``python examples/<name>.py`` (quick budget).

Every example also runs as a notebook, the way the site executes it, in the
site build (``tests/test_site.py``: mkdocs-jupyter, one fresh kernel each,
errors fail the build, started from a scratch working directory that must stay
empty). One example here covers the script path: figures saved instead of
shown, no kernel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
SCRIPT_EXAMPLE = ROOT / "examples" / "lenet5.py"  # trains, plots and reads the store of runs
TIMEOUT = 900


def test_there_are_examples():
    assert EXAMPLES, "no examples found"
    assert SCRIPT_EXAMPLE in EXAMPLES


@pytest.mark.slow
def test_an_example_runs_as_a_script(tmp_path):
    # The examples read the book's recorded results, as on the site; a copy,
    # so that nothing a script does can change the book's file.
    results = tmp_path / "records"
    shutil.copytree(ROOT / "cnn_guide" / "records", results)
    work = tmp_path / "work"
    work.mkdir()
    env = {
        **os.environ,
        "CNN_GUIDE_RESULTS": str(results),
        "CNN_GUIDE_BUDGET": "quick",
        "CNN_GUIDE_OUTPUT": str(tmp_path / "figures"),
        "MPLBACKEND": "Agg",
    }
    done = subprocess.run(
        [sys.executable, str(SCRIPT_EXAMPLE)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Budget 'quick'" in done.stdout
    assert list((tmp_path / "figures").glob("*.png")), "no figure saved"
    assert not list(work.iterdir()), "the script wrote into its working directory"
