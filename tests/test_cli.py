"""The cnn-guide command: every subcommand, its help and its errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cnn_guide.budget import QUICK_SIZES
from cnn_guide.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_is_fast_and_lists_commands():
    # A separate process: --help must not need TensorFlow.
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from cnn_guide.cli import main; main(['--help'])"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0
    for command in ("list", "summary", "train", "evaluate"):
        assert command in out.stdout
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, contextlib, io\nfrom cnn_guide.cli import main\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['--help'])\nprint('tensorflow' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "False"


def test_list(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0 and "simple_cnn" in out and "1,413,834" in out


def test_summary(capsys):
    code, out, _ = run(capsys, "summary", "simple_cnn")
    assert (
        code == 0 and "conv1" in out and "1,413,834" in out and "Reference parameter count" in out
    )


def test_summary_with_another_shape(capsys):
    code, out, _ = run(
        capsys, "summary", "simple_cnn", "--input-shape", "32,32,3", "--num-classes", "5"
    )
    assert code == 0 and "(None, 5)" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["summary", "resnet-18"], "Unknown model name 'resnet-18'"),
        (["summary", "simple_cnn", "--input-shape", "4,4,1"], "too small"),
        (["train", "nope"], "Unknown model name"),
        (["evaluate", "missing.keras"], "no model file"),
    ],
)
def test_errors_are_one_clear_line(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "simple_cnn", "--epochs", "0"],
        ["train", "simple_cnn", "--batch-size", "x"],
        ["summary", "simple_cnn", "--input-shape", "28,28"],
    ],
)
def test_bad_values_are_rejected_by_the_parser(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "expected" in capsys.readouterr().err


def test_train_save_record_then_evaluate(capsys, tmp_path, monkeypatch):
    results = tmp_path / "runs.json"
    monkeypatch.setenv("CNN_GUIDE_RESULTS", str(results))
    saved = tmp_path / "model.keras"
    code, out, _ = run(
        capsys,
        "train",
        "simple_cnn",
        "--quick",
        "--batch-size",
        "64",
        "--save",
        str(saved),
        "--record",
    )
    assert code == 0 and "Test accuracy:" in out and saved.is_file()
    runs = json.loads(results.read_text())
    (run_record,) = runs.values()
    assert run_record["model"] == "simple_cnn" and run_record["train_size"] == QUICK_SIZES["train"]
    assert (
        run_record["command"].startswith("cnn-guide train simple_cnn")
        and run_record["machine"]["cores"]
    )
    code, out, _ = run(capsys, "evaluate", str(saved), "--quick")
    assert code == 0 and "test accuracy" in out and f"{QUICK_SIZES['test']:,} images" in out


def test_evaluate_rejects_a_file_that_is_not_a_model(capsys, tmp_path):
    bogus = tmp_path / "bogus.keras"
    bogus.write_text("not a model")
    code, _, err = run(capsys, "evaluate", str(bogus))
    assert code == 2 and "could not load" in err


def test_bench_measures_and_records(capsys, tmp_path, monkeypatch):
    results = tmp_path / "runs.json"
    monkeypatch.setenv("CNN_GUIDE_RESULTS", str(results))
    code, out, _ = run(
        capsys,
        "bench",
        "--throughput",
        "--models",
        "lenet5_fashion",
        "--quick",
        "--batch-size",
        "16",
        "--record",
    )
    assert code == 0 and "lenet5_fashion" in out and "61,706" in out
    (stored,) = json.loads(results.read_text()).values()
    assert stored["train_images_per_second"] > 0 and stored["inference_images_per_second"] > 0
    assert stored["macs"] > 0 and stored["command"].startswith("cnn-guide bench")


def test_bench_rejects_paper_configurations(capsys):
    code, _, err = run(capsys, "bench", "--throughput", "--models", "resnet50", "--quick")
    assert code == 2 and "benchmark a Fashion-MNIST model instead" in err
