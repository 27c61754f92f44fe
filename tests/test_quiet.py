"""A copied example starts as quietly as ``cnn-guide``, and real errors still show."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cnn_guide._quiet import filtered_stderr

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "lenet5.py"
# A piece of each line TensorFlow 2.21 printed before an example's first line.
NOISE = [
    "absl::InitializeLog",
    "oneDNN custom operations",
    "Could not find cuda drivers",
    "failed call to cuInit",
    "optimized to use available CPU instructions",
    "rebuild TensorFlow",
]
NOISY_LINES = (
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    b"I0000 00:00:1796370587.308463    3752 cudart_stub.cc:31] Could not find cuda drivers on "
    b"your machine, GPU will not be used.\n"
)
# What TensorFlow prints before it aborts on a CPU without the instructions it needs.
FATAL_LINE = b"F0000 cpu_feature_guard.cc:100] The TensorFlow library was compiled to use AVX\n"


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Runs Python as a reader would: TF_CPP_MIN_LOG_LEVEL unset, outside the repository."""
    environ = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.mark.slow
def test_a_copied_example_starts_quietly(tmp_path):
    script = tmp_path / EXAMPLE.name
    shutil.copyfile(EXAMPLE, script)
    done = _run(
        [script.name],
        cwd=tmp_path,
        CNN_GUIDE_BUDGET="quick",
        CNN_GUIDE_OUTPUT=str(tmp_path / "figures"),
        MPLBACKEND="Agg",
    )
    shown = [piece for piece in NOISE if piece in done.stderr]
    assert not shown, done.stderr[:3000]
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("Budget 'quick'"), done.stdout[:1000]  # its own first line


def test_an_error_after_the_quiet_start_still_shows(tmp_path):
    script = (
        "import cnn_guide\n"
        "cnn_guide.import_tensorflow()\n"
        "import tensorflow as tf\n"
        "tf.reshape(tf.zeros(6), (4,))\n"
    )
    done = _run(["-c", script], cwd=tmp_path)
    assert done.returncode == 1
    assert "InvalidArgumentError" in done.stderr and "Traceback" in done.stderr
    assert not [piece for piece in NOISE if piece in done.stderr], done.stderr


def test_only_start_up_noise_is_filtered(capfd):
    with filtered_stderr():
        os.write(2, b"before\n" + NOISY_LINES + b"E0000 allocator ran out of memory\n")
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert err == "before\nE0000 allocator ran out of memory\nafter\n"


def test_a_crash_while_filtered_still_shows_its_last_words(tmp_path):
    # TensorFlow can log a fatal line and abort while it loads; the line must
    # reach the reader although the process dies inside the filtered block.
    script = (
        "import os\n"
        "from cnn_guide._quiet import filtered_stderr\n"
        "with filtered_stderr():\n"
        f"    os.write(2, {NOISY_LINES + FATAL_LINE!r})\n"
        "    os.abort()\n"
    )
    done = _run(["-c", script], cwd=tmp_path)
    assert done.returncode != 0
    assert done.stderr == FATAL_LINE.decode()
