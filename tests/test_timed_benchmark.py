"""Timed training, recipes and the benchmark's results rows."""

from __future__ import annotations

import dataclasses
import json

import keras
import numpy as np
import pytest

from cnn_guide import models
from cnn_guide.benchmark import run_key
from cnn_guide.cli import main
from cnn_guide.recipes import get_recipe, list_recipes, one_cycle
from cnn_guide.results import benchmark_rows, format_benchmark_table, record
from cnn_guide.timed import Checkpoint, TimedRun, predict_accuracy, train_timed


def test_one_cycle_rises_to_its_peak_then_anneals_to_the_end():
    schedule = one_cycle(0.01, warmup=0.25, final=0.0)
    assert schedule(0.0) == pytest.approx(0.001)
    assert schedule(0.25) == pytest.approx(0.01)
    assert schedule(0.625) == pytest.approx(0.005)
    assert schedule(1.0) == pytest.approx(0.0)
    rising = [schedule(p) for p in np.linspace(0, 0.25, 6)]
    falling = [schedule(p) for p in np.linspace(0.25, 1, 6)]
    assert rising == sorted(rising) and falling == sorted(falling, reverse=True)


@pytest.mark.parametrize(("kwargs", "message"), [({"peak": 0}, "peak"), ({"warmup": 1}, "warmup")])
def test_one_cycle_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        one_cycle(**{"peak": 0.01, **kwargs})


def test_recipes_are_registered_and_unknown_names_list_them():
    assert {"protocol", "seed", "fast", "fast-augment"} <= set(list_recipes())
    with pytest.raises(ValueError, match="choose one of: protocol"):
        get_recipe("fastest")
    with pytest.raises(ValueError, match="resnet_fashion"):
        get_recipe("protocol", model="resnet_fashon")
    assert get_recipe("protocol", model="vgg_fashion").model == "vgg_fashion"


def test_the_seed_recipe_is_the_seed_notebooks():
    seed = get_recipe("seed")
    assert (seed.model, seed.optimizer, seed.batch_size) == ("simple_cnn", "nadam", 32)
    assert not (seed.flip or seed.shift or seed.one_cycle or seed.label_smoothing)


def test_each_ablation_changes_one_technique_of_the_fast_recipe():
    fast = dataclasses.asdict(get_recipe("fast"))
    for name in ("fast-augment", "fast-no-schedule", "fast-no-smoothing"):
        ablation = dataclasses.asdict(get_recipe(name))
        changed = {k for k in fast if fast[k] != ablation[k]} - {"name", "summary"}
        assert changed, name
        assert changed <= {
            "flip",
            "shift",
            "flip_at_test",
            "one_cycle",
            "learning_rate",
            "label_smoothing",
        }, changed


def test_describe_names_every_technique():
    text = get_recipe("fast-augment").describe()
    for words in ("one-cycle", "label smoothing 0.1", "flips", "shifts of up to 2 px", "mirror"):
        assert words in text


def test_augmented_pipeline_flips_shifts_and_one_hot_encodes(fashion):
    images, labels = fashion.x_train[:64], fashion.y_train[:64]
    plain = get_recipe("fast")
    batch, targets = next(iter(plain.dataset(images, labels, seed=1)))
    assert batch.shape == (128, 28, 28, 1) and targets.shape == (128, 10)
    assert np.allclose(np.sum(targets, axis=1), 1)
    augmented, _ = next(iter(get_recipe("fast-augment").dataset(images, labels, seed=1)))
    # Same pixels overall (flips and 2-pixel shifts of mostly dark borders) but moved.
    assert not np.allclose(np.sort(augmented.numpy(), axis=0), np.sort(batch.numpy(), axis=0))


def test_predict_accuracy_with_and_without_flip():
    inputs = keras.Input((4, 4, 1))

    # Class 0 when the left half is brighter, class 1 otherwise: flips swap them.
    def left_minus_right(x):
        return keras.ops.sum(x[:, :, :2], axis=(1, 2, 3)) - keras.ops.sum(
            x[:, :, 2:], axis=(1, 2, 3)
        )

    difference = keras.layers.Lambda(left_minus_right, output_shape=())(inputs)
    scores = keras.layers.Lambda(lambda d: keras.ops.stack([d, -d], axis=-1), output_shape=(2,))(
        difference
    )
    model = keras.Model(inputs, scores)
    images = np.zeros((2, 4, 4, 1), "float32")
    images[0, :, :2] = 1
    images[1, :, 2:] = 1
    assert predict_accuracy(model, images, np.array([0, 1])) == 1.0
    # Averaged with the mirror image the scores cancel: argmax falls on class 0 for both.
    assert predict_accuracy(model, images, np.array([0, 1]), flip=True) == 0.5


def _run(checkpoints):
    return TimedRun(
        model=None,
        recipe="protocol",
        checkpoints=checkpoints,
        budget_seconds=30,
        train_seconds=checkpoints[-1].seconds,
        images=checkpoints[-1].images,
        train_size=1000,
        test_size=500,
        valid_accuracy=0.9,
        test_accuracy=checkpoints[-1].test_accuracy,
    )


def test_seconds_to_reads_the_first_checkpoint_at_or_above_the_target():
    run = _run(
        [
            Checkpoint(10, 1000, 0.85, 1.0),
            Checkpoint(20, 3000, 0.91, 0.5),
            Checkpoint(30, 5000, 0.905, 0.5),
        ]
    )
    assert run.seconds_to(0.90) == 10 + 10 and run.seconds_to(0.91) == 20
    assert run.seconds_to(0.92) is None
    assert run.reached["90%"] == 20 and run.reached["95%"] is None
    assert run.train_images_per_second == pytest.approx(4000 / 20)  # first stretch left out
    assert run.seconds_per_epoch == pytest.approx(1000 / 200)
    assert run.inference_images_per_second == pytest.approx(500 / 0.5)
    assert run.epochs == 5


def test_train_timed_stops_at_its_epochs_and_evaluates_at_checkpoints(small_fashion):
    recipe = get_recipe("fast-augment", model="fast_resnet_fashion")
    recipe = dataclasses.replace(recipe, batch_size=32)
    run = train_timed(recipe, small_fashion, epochs=1, eval_every=0.5)
    assert run.images == 256 and run.epochs == 1  # 8 steps of 32
    assert run.checkpoints[-1].images == 256 and len(run.checkpoints) >= 2
    assert [c.seconds for c in run.checkpoints] == sorted(c.seconds for c in run.checkpoints)
    assert 0 <= run.test_accuracy <= 1 and run.test_accuracy_flip is not None
    assert run.peak_memory_mb is None or run.peak_memory_mb > 100


def test_train_timed_stops_when_the_time_is_up(small_fashion):
    recipe = dataclasses.replace(get_recipe("protocol", model="lenet5_fashion"), batch_size=16)
    run = train_timed(recipe, small_fashion, budget_seconds=8, eval_every=60)
    # Many epochs of 256 images fit in 8 s (tracing included), so only the clock stopped it.
    assert 8 <= run.train_seconds < 12 and run.epochs > 1
    assert len(run.checkpoints) == 1  # no evaluation before the end
    assert run.test_accuracy_flip is None and run.final_accuracy == run.test_accuracy


@pytest.mark.parametrize(
    ("kwargs", "message"), [({}, "budget_seconds"), ({"epochs": 0}, "positive")]
)
def test_train_timed_rejects_a_run_without_an_end(small_fashion, kwargs, message):
    with pytest.raises(ValueError, match=message):
        train_timed(get_recipe("protocol"), small_fashion, **kwargs)


def test_fast_resnet_matches_its_docstring():
    model = models.build("fast_resnet_fashion")
    from cnn_guide.analysis import layer_table

    assert model.count_params() == 117_210
    assert 3_400_000 < layer_table(model).macs < 3_600_000
    with pytest.raises(ValueError, match="width must be a positive integer"):
        models.build("fast_resnet_fashion", width=0)


def test_benchmark_rows_table_and_keys(tmp_path):
    path = tmp_path / "results.json"
    row = {
        "model": "lenet5_fashion",
        "recipe": "protocol",
        "quick": False,
        "budget_seconds": 180,
        "parameters": 61_706,
        "macs": 416_520,
        "train_images_per_second": 2500.0,
        "inference_images_per_second": 9000.0,
        "seconds_per_epoch": 22.0,
        "epochs": 8.2,
        "seconds_to": {"90%": 150.0, "91%": None, "92%": None, "93%": None},
        "test_accuracy": 0.9012,
        "peak_memory_mb": 900.0,
    }
    record(run_key("protocol", "lenet5_fashion", 3), row, path)
    record(run_key("protocol", "vgg_fashion", 3), {**row, "model": "vgg_fashion"}, path)
    record(run_key("protocol", "vgg_fashion", 3, quick=True), {**row, "quick": True}, path)
    record(run_key("protocol", "vgg_fashion", 10), {**row, "budget_seconds": 600}, path)
    rows = benchmark_rows("protocol", budget_minutes=3, path=path)
    assert [r["model"] for r in rows] == ["lenet5_fashion", "vgg_fashion"]  # book order, no quick
    text = format_benchmark_table(rows)
    assert "150 s" in text and "0.9012" in text and text.count("\n") == 2
    markdown = format_benchmark_table(rows, markdown=True)
    assert markdown.startswith("| model |") and markdown.count("\n") == 3


def _bench(capsys, *argv):
    code = main(["bench", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow  # three timed runs in processes of their own
def test_bench_quick_writes_well_formed_rows_and_updates_only_its_own(capfd, tmp_path, monkeypatch):
    results = tmp_path / "runs.json"
    monkeypatch.setenv("CNN_GUIDE_RESULTS", str(results))
    record("throughput:other:b128", {"model": "other", "note": "kept"}, results)
    code, out, err = _bench(
        capfd, "--models", "lenet5_fashion,fast_resnet_fashion", "--quick", "--record"
    )
    assert code == 0, err
    # Several models: each trains in its own process (its own peak memory).
    assert "[1/2] lenet5_fashion" in out and "[2/2] fast_resnet_fashion" in out
    assert "lenet5_fashion, recipe protocol" in out and "test accuracy" in out and "to 90%" in out
    runs = json.loads(results.read_text())
    assert set(runs) == {
        "throughput:other:b128",
        "bench:protocol:lenet5_fashion:3min:quick",
        "bench:protocol:fast_resnet_fashion:3min:quick",
    }
    row = runs["bench:protocol:lenet5_fashion:3min:quick"]
    for field in (
        "parameters",
        "macs",
        "train_images_per_second",
        "inference_images_per_second",
        "seconds_per_epoch",
        "test_accuracy",
        "checkpoints",
        "date",
        "commit",
    ):
        assert row[field] is not None, field
    assert set(row["seconds_to"]) >= {"90%", "91%", "92%", "93%"}
    assert row["machine"]["cores"] and row["machine"]["tensorflow"]
    assert row["train_size"] == 1000 and row["test_size"] == 500 and row["quick"]
    assert (
        row["command"]
        == "cnn-guide bench --recipe protocol --models lenet5_fashion --budget 3 --quick --record"
    )
    before = runs["bench:protocol:fast_resnet_fashion:3min:quick"]
    assert _bench(capfd, "--models", "lenet5_fashion", "--quick", "--record")[0] == 0
    after = json.loads(results.read_text())
    assert after["bench:protocol:fast_resnet_fashion:3min:quick"] == before
    assert after["throughput:other:b128"]["note"] == "kept"


def test_bench_runs_a_recipe_on_its_own_model(capsys):
    code, out, _ = _bench(capsys, "--recipe", "fast", "--quick")
    assert code == 0 and "fast_resnet_fashion, recipe fast" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--models", "resnet50", "--quick"], "benchmark a Fashion-MNIST model instead"),
        (["--recipe", "fastest", "--quick"], "unknown recipe"),
    ],
)
def test_bench_rejects_bad_input(capsys, argv, message):
    code, _, err = _bench(capsys, *argv)
    assert code == 2 and message in err


def test_bench_rejects_a_budget_that_is_not_a_positive_number(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--budget", "0"])
    assert exit_info.value.code == 2
    assert "--budget: expected a positive number, got 0" in capsys.readouterr().err


def _hooks():
    import importlib.util

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("book_hooks", ROOT / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_chapter_markers_become_the_recorded_rows(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    monkeypatch.setenv("CNN_GUIDE_RESULTS", str(path))
    hooks = _hooks()
    page = (
        "# VGG\n\n<!-- benchmark: vgg_fashion -->\n\n"
        "<!-- benchmark-table -->\n\n<!-- benchmark-recipes -->\n"
    )
    empty = hooks.on_page_markdown(page, None, None, None)
    assert "<!--" not in empty and "`cnn-guide bench --models vgg_fashion --record`" in empty
    row = {
        "model": "vgg_fashion",
        "recipe": "protocol",
        "quick": False,
        "budget_seconds": 180,
        "parameters": 1_000,
        "macs": 2_000,
        "train_images_per_second": 400.0,
        "inference_images_per_second": 1500.0,
        "seconds_per_epoch": 137.5,
        "epochs": 1.3,
        "seconds_to": {
            "90%": None,
            "91%": None,
            "92%": None,
            "93%": None,
            "94%": None,
            "95%": None,
        },
        "test_accuracy": 0.8765,
        "valid_accuracy": 0.88,
        "peak_memory_mb": 1200.0,
        "command": "cnn-guide bench --recipe protocol --models vgg_fashion --budget 3 --record",
    }
    record("bench:protocol:vgg_fashion:3min", row)
    record("bench:protocol:vgg_fashion:3min:quick", {**row, "quick": True, "test_accuracy": 0.1})
    record(
        "bench:fast:fast_resnet_fashion:3min",
        {
            **row,
            "recipe": "fast",
            "model": "fast_resnet_fashion",
            "test_accuracy": 0.9111,
            "seconds_to": {**row["seconds_to"], "90%": 95.0},
            "command": "cnn-guide bench --recipe fast --budget 3 --record",
        },
    )
    page_out = hooks.on_page_markdown(page, None, None, None)
    assert "<!--" not in page_out
    cells = " | 1,000 | 2,000 | 400 | 1,500 | 138 | 1.3 |"
    assert f"| vgg_fashion{cells}" in page_out  # the chapter's own row
    assert f"| [vgg_fashion](vgg.md){cells}" in page_out  # the table, linked to the chapter
    assert "0.1000" not in page_out  # the quick smoke run is never shown
    assert "| fast | fast_resnet_fashion | 3 min | 1.3 | 95 s |" in page_out
    assert "cnn-guide bench --recipe fast --budget 3 --record" in page_out
