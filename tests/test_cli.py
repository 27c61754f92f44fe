"""The cnn-guide command: every subcommand, its help and its errors."""

from __future__ import annotations

import re
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
        ["train", "simple_cnn", "--steps", "1.5"],
        ["train", "simple_cnn", "--batch-size", "x"],
        ["summary", "simple_cnn", "--input-shape", "28,28"],
    ],
)
def test_bad_values_are_rejected_by_the_parser(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "expected" in capsys.readouterr().err


def _stored(store) -> dict:
    """Every run in a store, by key, as the JSON its file holds."""
    from cnn_guide.results import load_results

    return {key: run.to_json() for key, run in load_results(store).items()}


def test_train_save_record_then_evaluate(capsys, tmp_path, monkeypatch):
    results = tmp_path / "records"
    monkeypatch.setenv("CNN_GUIDE_RESULTS", str(results))
    saved = tmp_path / "model.keras"
    code, out, _ = run(
        capsys,
        "train",
        "simple_cnn",
        "--quick",
        "--batch-size",
        "64",
        "--option",
        "dropout=0.2",
        "--save",
        str(saved),
        "--record",
    )
    assert code == 0 and "Test accuracy" in out and saved.is_file()
    assert "recipe book: adamw, batch 64, float32, until 1 epoch(s)" in out  # the default recipe
    key = "simple_cnn --recipe book --batch-size 64 --epochs 1 --option dropout=0.2 --quick"
    assert f"Recorded the run as {key!r}" in out
    stored = _stored(results)[key]
    assert stored["spec"]["model"] == "simple_cnn" and stored["train_size"] == QUICK_SIZES["train"]
    assert stored["settings"]["batch_size"] == 64 and stored["machine"]["cores"]
    assert stored["spec"]["changes"] == {"batch_size": 64, "epochs": 1}
    assert stored["spec"]["options"] == {"dropout": 0.2}
    # Every recorded run keeps the predictions its test accuracy was scored on.
    from cnn_guide.data import load_fashion_mnist
    from cnn_guide.results import load_predictions
    from cnn_guide.runs import RunSpec

    predictions = load_predictions(RunSpec.from_dict(stored["spec"]), results)
    labels = load_fashion_mnist(download=False).subset(**QUICK_SIZES).y_test
    assert predictions.shape == labels.shape
    assert (predictions == labels).mean() == stored["test_accuracy"]
    assert "with its test predictions." in out  # a quick run is no full run: no weights
    import keras

    assert keras.saving.load_model(saved).get_layer("dropout1").rate == 0.2
    code, out, _ = run(capsys, "evaluate", str(saved), "--quick")
    assert code == 0 and "test accuracy" in out and f"{QUICK_SIZES['test']:,} images" in out


def test_every_recipe_setting_is_an_option_of_train(capsys):
    from cnn_guide.recipes import setting_fields

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for name in setting_fields():
        assert "--" + name.replace("_", "-") in out, name
    code, out, _ = run(capsys, "train", "--recipes")
    assert code == 0 and "protocol:" in out and "fast:" in out and "stops after" in out


def test_evaluate_scores_a_full_runs_kept_weights(capsys, monkeypatch):
    from cnn_guide.results import RECORDS_PATH

    monkeypatch.setenv("CNN_GUIDE_RESULTS", str(RECORDS_PATH))  # read the book's store
    code, out, _ = run(capsys, "evaluate", "nin_fashion", "--quick")
    assert code == 0 and re.search(r"nin_fashion: test accuracy 0\.\d{4}", out)
    code, _, err = run(capsys, "evaluate", "no_such_run")
    assert code == 2 and "no model file at no_such_run" in err and "resnet_fashion" in err


def test_evaluate_rejects_a_file_that_is_not_a_model(capsys, tmp_path):
    bogus = tmp_path / "bogus.keras"
    bogus.write_text("not a model")
    code, _, err = run(capsys, "evaluate", str(bogus))
    assert code == 2 and "could not load" in err


def test_bench_trains_each_model_in_its_own_process_and_records(capfd, tmp_path, monkeypatch):
    results = tmp_path / "records"
    monkeypatch.setenv("CNN_GUIDE_RESULTS", str(results))
    code = main(
        [
            "bench",
            "--throughput",
            "--models",
            "lenet5_fashion",
            "--quick",
            "--steps",
            "4",
            "--record",
        ]
    )
    out, err = capfd.readouterr()
    assert code == 0, err
    assert "[1/1] cnn-guide train lenet5_fashion --recipe throughput --steps 4 --quick" in out
    (stored,) = _stored(results).values()
    assert stored["parameters"] == 61_706 and stored["macs"] > 0 and stored["images"] == 4 * 128
    assert stored["train_images_per_second"] > 0 and stored["inference_images_per_second"] > 0
    assert "lenet5_fashion" in out and "61,706" in out  # the table
    assert re.search(r"min of wall-clock time, [0-9.]+ min of CPU time \(all \d+ cores", out)


@pytest.mark.slow  # two timed runs in processes of their own
def test_bench_quick_updates_only_its_own_rows(capfd, tmp_path, monkeypatch):
    results = tmp_path / "records"
    monkeypatch.setenv("CNN_GUIDE_RESULTS", str(results))
    argv = ["bench", "--models", "lenet5_fashion,fast_resnet_fashion", "--quick", "--record"]
    assert main([*argv, "--minutes", "0.1"]) == 0, capfd.readouterr().err
    out = capfd.readouterr().out
    assert (
        "[1/2] cnn-guide train lenet5_fashion" in out and "[2/2] cnn-guide train fast_resnet" in out
    )
    assert "Test accuracy" in out and "to 90%" in out
    runs = _stored(results)
    keys = {
        f"{m} --recipe benchmark --minutes 0.1 --quick"
        for m in ("lenet5_fashion", "fast_resnet_fashion")
    }
    assert set(runs) == keys
    row = runs["lenet5_fashion --recipe benchmark --minutes 0.1 --quick"]
    assert row["checkpoints"] and row["train_size"] == QUICK_SIZES["train"] and row["spec"]["quick"]
    before = runs["fast_resnet_fashion --recipe benchmark --minutes 0.1 --quick"]
    assert (
        main(["bench", "--models", "lenet5_fashion", "--quick", "--record", "--minutes", "0.1"])
        == 0
    )
    after = _stored(results)
    assert after["fast_resnet_fashion --recipe benchmark --minutes 0.1 --quick"] == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["bench", "--models", "resnet50", "--quick"],
            "resnet50 is a paper configuration for 224x224x3 inputs",
        ),
        (
            ["train", "resnet18", "--quick"],
            "Train its Fashion-MNIST variant instead: fast_resnet_fashion, resnet_fashion",
        ),
        (["train"], "name a model to train"),
        (["train", "resnet_fashion", "--option", "depth=3"], "takes no option depth"),
        (["train", "simple_cnn", "--save", "model.h5"], "ending in .keras"),
    ],
)
def test_bad_runs_are_refused_before_training(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench", "--minutes", "0"], "--minutes: expected a positive number, got 0"),
        (["bench", "--recipe", "fastest"], "invalid choice: 'fastest'"),
        (["train", "simple_cnn", "--schedule", "cosine"], "invalid choice: 'cosine'"),
        (["train", "simple_cnn", "--option", "dropout"], "expected NAME=VALUE"),
    ],
)
def test_bad_option_values_are_refused_by_the_parser(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_bench_trains_a_recipe_on_its_own_model_by_default(capsys, monkeypatch):
    from cnn_guide.evidence import BENCHMARK_MODELS
    from cnn_guide.runs import RunSpec

    asked = []
    monkeypatch.setattr(
        "cnn_guide.cli.bench.run_each",
        lambda specs, record, data_dir: asked.append(specs) or 0,
    )
    assert main(["bench", "--recipe", "fast", "--quick"]) == 0
    assert asked == [[RunSpec.of("fast_resnet_fashion", "fast", quick=True)]]
    assert main(["bench", "--quick"]) == 0  # the benchmark: every Fashion-MNIST model
    assert [spec.model for spec in asked[1]] == list(BENCHMARK_MODELS)
    assert len(asked[1]) >= 16 and asked[1][0] == RunSpec.of("simple_cnn", "benchmark", quick=True)


def test_train_starts_from_a_kept_run_and_freezes_its_base(capsys, tmp_path, monkeypatch, tiny_run):
    # Transfer learning from the command line: a recorded run that kept its
    # weights, a new classifier for five other classes, the base frozen.
    import keras
    import numpy as np
    from conftest import as_record

    from cnn_guide.results import record
    from cnn_guide.runs import RunSpec

    store = tmp_path / "records"
    monkeypatch.setenv("CNN_GUIDE_RESULTS", str(store))
    source = RunSpec.of("lenet5_fashion", "protocol", epochs=1, quick=True)
    argv = ["train", "lenet5_fashion", "--quick", "--classes", "5,6,7,8,9"]
    argv += ["--labels-per-class", "10", "--start-from", source.key, "--freeze", "base"]
    code, _, err = run(capsys, *argv)
    assert code == 2 and f"no recorded run {source.key!r} to start from" in err
    record(as_record(tiny_run, source), store)
    code, _, err = run(capsys, *argv)
    assert code == 2 and "kept no weights" in err
    record(as_record(tiny_run, source), store, weights=tiny_run.model)
    saved = tmp_path / "transferred.keras"
    code, out, err = run(capsys, *argv, "--save", str(saved), "--record")
    assert code == 0, err
    assert "Training lenet5_fashion on 50 images" in out  # 10 labels of each of 5 classes
    transferred = keras.saving.load_model(saved)
    assert transferred.output_shape == (None, 5)
    donor = {layer.name: layer for layer in tiny_run.model.layers}
    *base, head = [layer for layer in transferred.layers if layer.weights]
    for layer in base:  # frozen: the source run's weights, untouched by training
        assert not layer.trainable, layer.name
        donated = donor[layer.name].get_weights()
        for kept, source_weight in zip(layer.get_weights(), donated, strict=True):
            assert np.array_equal(kept, source_weight), layer.name
    assert head.trainable
