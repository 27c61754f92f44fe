"""``cnn-guide book`` and the quiet start every command shares."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnn_guide._quiet import is_start_up_noise
from cnn_guide.book import find_book, mkdocs_command, mkdocs_environment
from cnn_guide.cli import main

ROOT = Path(__file__).resolve().parent.parent

# What TensorFlow 2.21 printed on a CPU-only machine before cnn-guide muted it.
START_UP_LINES = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796370587.308138    3752 port.cc:153] oneDNN custom operations are on. "
    "You may see slightly different numerical results",
    "I0000 00:00:1796370587.308463    3752 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used.",
    "I0000 00:00:1796370587.407263    3752 cpu_feature_guard.cc:227] This TensorFlow binary is "
    "optimized to use available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild "
    "TensorFlow with the appropriate compiler flags.",
    "E0000 00:00:1796370590.604221    3752 cuda_platform.cc:52] failed call to cuInit: INTERNAL: "
    "CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
]


@pytest.mark.parametrize("line", START_UP_LINES)
def test_tensorflow_start_up_notices_are_recognized(line):
    assert is_start_up_noise(line)


@pytest.mark.parametrize(
    "line",
    [
        "E0000 00:00:1796370590.604221 3752 bfc_allocator.cc:47] Allocator ran out of memory",
        "UserWarning: Do not pass an `input_shape` argument to a layer.",
        "Traceback (most recent call last):",
    ],
)
def test_real_problems_are_not_muted(line):
    assert not is_start_up_noise(line)


def test_a_command_starts_quietly():
    # A fresh process, so that TensorFlow starts here; stderr must stay empty.
    done = subprocess.run(
        [sys.executable, "-m", "cnn_guide.cli", "list", "--variants"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"},
    )
    assert done.returncode == 0, done.stderr
    assert "resnet_fashion" in done.stdout
    assert done.stderr == ""


def test_the_book_is_found_from_inside_the_checkout_and_beside_the_package(tmp_path):
    assert find_book(ROOT / "docs" / "chapters") == ROOT
    assert find_book(tmp_path) == ROOT  # an editable install of this checkout


def test_a_build_is_strict_quiet_and_uncached():
    env = mkdocs_environment(budget="quick", execute=False)
    assert env["CNN_GUIDE_BUDGET"] == "quick" and env["CNN_GUIDE_EXECUTE"] == "false"
    assert env["CNN_GUIDE_NOTEBOOK_CACHE"] == "false" and env["NO_MKDOCS_2_WARNING"] == "1"
    assert "MPLBACKEND" not in env
    command = mkdocs_command(serve=False, site_dir=Path("out"), config_file=ROOT / "mkdocs.yml")
    assert command[1:5] == ["-m", "mkdocs", "build", "--strict"]
    assert command[-4:] == ["--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", "out"]
    assert mkdocs_command(serve=True)[3] == "serve"


def test_a_bad_budget_is_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match="quick, site, full"):
        mkdocs_environment(budget="fast", execute=True)


def test_book_help_names_its_budgets(capsys):
    with pytest.raises(SystemExit) as done:
        main(["book", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "--budget {quick,site,full}" in out and "--no-execute" in out and "--serve" in out


def test_outside_a_checkout_the_error_says_how_to_get_one(tmp_path, monkeypatch):
    import cnn_guide.book

    monkeypatch.setattr(cnn_guide.book, "__file__", str(tmp_path / "site-packages" / "book.py"))
    with pytest.raises(ValueError, match="source checkout.*cnn-guide book"):
        find_book(tmp_path)
