"""cnn_guide.runs and cnn_guide.results: one record of every run, its key, command and file."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from conftest import as_record

from cnn_guide import results
from cnn_guide.cli import _parser
from cnn_guide.cli._args import spec_from_args
from cnn_guide.recipes import get_recipe
from cnn_guide.runs import RunFigures, RunRecord, RunSpec, settings_of

V1_SAMPLE = Path(__file__).parent / "data" / "results_v1.json"


def _record(tiny_run, spec: RunSpec, **figures) -> RunRecord:
    return as_record(tiny_run, spec, **figures)


@pytest.mark.parametrize(
    "spec",
    [
        RunSpec.of("lenet5_fashion", "protocol", epochs=20),
        RunSpec.of("vgg_fashion", "benchmark"),
        RunSpec.of("simple_cnn", "seed", minutes=10, eval_every=30),
        RunSpec.of("fast_resnet_fashion", "fast", flip=True, schedule="constant", quick=True),
        RunSpec.of("resnet_fashion", "fast", epochs=3, eval_every=None),
        RunSpec.of(
            "resnet_fashion",
            "protocol",
            options={"skip_connections": False, "widths": [8, 16, 32]},
            epochs=2,
        ),
        RunSpec.of(
            "resnet_fashion",
            "protocol",
            strategy="mirrored",
            devices=("/cpu:0", "/cpu:1"),
            batch_size=64,
            learning_rate=0.0005,
            scale_learning_rate=True,
        ),
    ],
    ids=lambda spec: spec.key,
)
def test_the_command_asks_for_exactly_the_run_it_records(spec):
    # Key and command come from one list of arguments; reading that list back
    # with the command line's own parser gives the same run.
    assert spec.command == f"cnn-guide train {spec.key} --record"
    args = _parser().parse_args(["train", *spec.arguments(), "--record"])
    assert spec_from_args(args) == spec
    assert spec_from_args(args).resolve() == spec.resolve()


def test_a_run_has_one_key_however_it_is_asked_for():
    assert RunSpec.of("m", "protocol", epochs=10, optimizer="adam").key == "m --recipe protocol"
    assert RunSpec.of("m", "fast", minutes=3).key == "m --recipe fast"
    assert RunSpec.of("m", "protocol", epochs=20).key == "m --recipe protocol --epochs 20"
    assert RunSpec.of("m", "benchmark", seed=1).key == "m --recipe benchmark --seed 1"
    assert RunSpec.of("m", "protocol", flip=True).key == "m --recipe protocol --flip"
    with pytest.raises(ValueError, match="Recipe has no field"):
        RunSpec.of("m", "protocol", epoch=3)


def test_records_round_trip_through_the_file_and_replace_by_key(tiny_run, tmp_path):
    path = tmp_path / "results.json"
    spec = RunSpec.of("lenet5_fashion", "protocol", epochs=1, quick=True)
    with pytest.raises(ValueError, match="record it under the spec it was trained from"):
        RunRecord.from_fit(spec, tiny_run)
    first = results.record(_record(tiny_run, spec), path)
    assert first.machine["cores"] >= 1 and first.date and first.settings["optimizer"] == "adam"
    assert first.settings["epochs"] == 1 and first.command == spec.command
    assert first.test_accuracy == tiny_run.test_accuracy
    results.record(dataclasses.replace(first, test_accuracy=0.75), path)
    content = json.loads(path.read_text())
    assert content["version"] == results.VERSION and list(content["runs"]) == [spec.key]
    (stored,) = results.load_results(path).values()
    assert stored.test_accuracy == 0.75 and stored.spec == spec
    assert stored.to_json() == dataclasses.replace(first, test_accuracy=0.75).to_json()
    assert results.find(spec, path) == stored
    assert results.find(RunSpec.of("lenet5_fashion", "protocol"), path) is None


def test_every_row_of_the_shipped_file_has_what_the_pages_need():
    content = json.loads(results.RESULTS_PATH.read_text())
    assert content["version"] == results.VERSION
    runs = results.load_results(results.RESULTS_PATH)
    assert runs and list(runs) == list(content["runs"])  # every key is its spec's key
    figures = {f.name for f in dataclasses.fields(RunFigures)}
    for key, run in runs.items():
        assert figures <= set(content["runs"][key]), key
        assert run.command.startswith("cnn-guide train ") and run.machine and run.date, key
        assert run.parameters > 0 and run.train_images_per_second > 0, key


def test_version_1_rows_are_migrated_not_dropped():
    old = json.loads(V1_SAMPLE.read_text())
    migrated = {run.migrated_from: run for run in results.load_results(V1_SAMPLE).values()}
    assert set(migrated) == set(old)
    bench = migrated["bench:protocol:vgg_fashion:3min"]
    row = old["bench:protocol:vgg_fashion:3min"]
    assert bench.key == "vgg_fashion --recipe benchmark"
    for name in (
        "test_accuracy",
        "valid_accuracy",
        "epochs",
        "parameters",
        "macs",
        "train_seconds",
    ):
        assert getattr(bench, name) == row[name], name
    assert bench.checkpoints == row["checkpoints"] and bench.reached == row["seconds_to"]
    assert bench.date == row["date"] and bench.machine == row["machine"]
    seed = migrated["bench:seed:simple_cnn:10min"]
    assert seed.key == "simple_cnn --recipe seed --eval-every 30 --minutes 10"
    speed = migrated["throughput:lenet5_fashion:b128"]
    assert speed.key == "lenet5_fashion --recipe throughput --steps 13"
    assert speed.test_accuracy is None
    assert (
        speed.train_images_per_second
        == old["throughput:lenet5_fashion:b128"]["train_images_per_second"]
    )
    mirrored = migrated["train:resnet_fashion:nadam:b64:e3:float32:mirroredx2:quick"]
    assert mirrored.spec.strategy == "mirrored" and mirrored.spec.devices == ("/cpu:0", "/cpu:1")
    assert mirrored.settings["optimizer"] == "nadam" and mirrored.settings["batch_size"] == 64
    assert len(mirrored.history["seconds"]) == 3 and mirrored.spec.quick


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        ('{"version": 99, "runs": {}}', "results format 99"),
        ('{"version": 2, "runs": {"k": {"spec": {}}}}', "a results row lacks"),
    ],
)
def test_a_results_file_that_cannot_be_read_is_an_error(tmp_path, content, message):
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        results.load_results(path)


def test_benchmark_rows_tables_and_markers(tiny_run, tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    monkeypatch.setenv("CNN_GUIDE_RESULTS", str(path))
    empty = results.render_marker("benchmark: vgg_fashion")
    assert "`cnn-guide train vgg_fashion --recipe benchmark --record` measures it" in empty
    checkpoints = [[60.0, 1000, 0.85], [120.0, 3000, 0.91], [180.0, 5000, 0.905]]
    common = {"checkpoints": checkpoints, "test_accuracy": 0.905, "peak_memory_mb": 900.0}
    for spec in (
        RunSpec.of("vgg_fashion", "benchmark"),
        RunSpec.of("lenet5_fashion", "benchmark"),
        RunSpec.of("vgg_fashion", "benchmark", quick=True),
        RunSpec.of("vgg_fashion", "benchmark", minutes=10),
        RunSpec.of("fast_resnet_fashion", "fast"),
    ):
        results.record(_record(tiny_run, spec, **common), path)
    rows = results.benchmark_rows()
    assert [run.model for run in rows] == ["lenet5_fashion", "vgg_fashion"]  # book order, 3 min
    assert rows[0].seconds_to(0.90) == 120.0 and rows[0].seconds_to(0.92) is None
    text = results.format_table(rows)
    assert "120 s" in text and "0.9050" in text and text.count("\n") == 2
    assert results.format_table(rows, markdown=True).startswith("| model |")
    row = results.render_marker("benchmark: vgg_fashion")
    assert (
        "| vgg_fashion |" in row
        and "`cnn-guide train vgg_fashion --recipe benchmark --record`" in row
    )
    table = results.render_marker("benchmark-table", chapters={"vgg_fashion": "vgg.md"})
    assert "| [vgg_fashion](vgg.md) |" in table and "| lenet5_fashion |" in table
    with pytest.raises(ValueError, match="unknown results marker"):
        results.render_marker("benchmarks")


def test_the_docs_hook_renders_markers_through_the_results_module(tiny_run, tmp_path, monkeypatch):
    import importlib.util

    from conftest import ROOT

    path = tmp_path / "results.json"
    monkeypatch.setenv("CNN_GUIDE_RESULTS", str(path))
    results.record(_record(tiny_run, RunSpec.of("vgg_fashion", "benchmark")), path)
    spec = importlib.util.spec_from_file_location("book_hooks", ROOT / "docs" / "hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    page = "# VGG\n\n<!-- benchmark: vgg_fashion -->\n\n<!-- benchmark-table -->\n"
    out = hooks.on_page_markdown(page, None, None, None)
    assert "<!--" not in out
    assert out.count("| vgg_fashion |") == 1 and "| [vgg_fashion](vgg.md) |" in out


def test_an_example_plan_states_its_settings_once(tiny_run, tmp_path, monkeypatch):
    from cnn_guide.budget import plan_example

    path = tmp_path / "results.json"
    monkeypatch.setenv("CNN_GUIDE_RESULTS", str(path))
    monkeypatch.setenv("CNN_GUIDE_BUDGET", "site")
    plan = plan_example("lenet5_fashion", "protocol", epochs=20, site_epochs=3)
    assert plan.full_run == RunSpec.of("lenet5_fashion", "protocol", epochs=20)
    assert plan.recipe == get_recipe("protocol", epochs=3)
    assert plan.full_run.command in plan.describe()
    assert plan.report().startswith(f"No full run recorded yet: `{plan.full_run.command}`")
    speed = RunSpec.of("lenet5_fashion", "benchmark")
    results.record(_record(tiny_run, speed, train_size=55_000, train_images_per_second=55.0), path)
    # 20 epochs of 430 steps of 128 images (the last batch completed from the
    # next pass) at 55 images/s: 1,100,800 / 55 = 20,015 s.
    assert "its 20 epoch(s) take about 334 min of training" in plan.report()
    assert f"(`{speed.command}`)" in plan.report()
    results.record(_record(tiny_run, plan.full_run, test_accuracy=0.9123), path)
    assert plan.report().startswith("Full run: test accuracy 0.9123 (validation ")
    assert "after 1 epoch(s)" in plan.report()
    assert plan.report().endswith("The book's target for LeNet-5: 90.00%, met by 1.23 points.")
    monkeypatch.setenv("CNN_GUIDE_BUDGET", "full")
    full = plan_example("lenet5_fashion", "protocol", epochs=20, site_epochs=3)
    assert full.recipe.epochs == 20
    assert "This run (the full budget, on this machine)" in full.report(tiny_run)
    from cnn_guide.data import load_fashion_mnist

    tiny = load_fashion_mnist(download=False).subset(train=256, valid=32, test=32)
    expected = full.expected_time(tiny, steps=2)
    assert expected.startswith("Expected training time on this machine: about ")
    assert "for 20 epoch(s)" in expected and "timed over 2 steps just now" in expected
    assert "the script first times a few training steps" in plan.expected_time(tiny)
    with pytest.raises(ValueError, match="stops after a number of epochs"):
        plan_example("lenet5_fashion", "benchmark", site_epochs=1)


def test_reading_results_does_not_start_tensorflow():
    # The book's build reads the results file in MkDocs' own process, which
    # must stay free of TensorFlow's start-up logs.
    import subprocess
    import sys

    probe = (
        "import sys\nfrom cnn_guide import results\n"
        "results.render_marker('benchmark-table')\nresults.render_marker('fast-goals')\n"
        "results.render_marker('fast-against-seed')\n"
        "print('tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_builder_options_change_the_model_and_are_checked():
    plain = RunSpec.of("resnet_fashion", options={"skip_connections": False, "widths": [8, 16, 32]})
    assert plain.key == (
        "resnet_fashion --recipe book --option skip_connections=false --option widths=[8, 16, 32]"
    )
    assert RunSpec.from_dict(plain.as_dict()) == plain
    model = plain.build_model()()
    assert not any("add" in layer.name for layer in model.layers)  # no skip connections
    assert RunSpec.of("resnet_fashion").build_model() == "resnet_fashion"
    with pytest.raises(ValueError, match="resnet_fashion takes no option depth; its options"):
        RunSpec.of("resnet_fashion", options={"depth": 3}).build_model()


def test_the_full_run_is_drawn_from_the_results_file(tiny_run, tmp_path, monkeypatch, capsys):
    import matplotlib.pyplot as plt

    from cnn_guide.budget import plan_example
    from cnn_guide.plotting import plot_recorded_run

    path = tmp_path / "results.json"
    monkeypatch.setenv("CNN_GUIDE_RESULTS", str(path))
    monkeypatch.setenv("CNN_GUIDE_OUTPUT", str(tmp_path / "figures"))
    monkeypatch.setenv("CNN_GUIDE_BUDGET", "site")
    plan = plan_example("vgg_fashion", "book", site_epochs=1)
    plan.show_full_run()
    assert "No full run recorded yet" in capsys.readouterr().out
    assert not (tmp_path / "figures").exists()  # nothing recorded, nothing drawn

    run = _record(tiny_run, plan.full_run, test_accuracy=0.9011)
    results.record(run, path)
    plan.show_full_run()
    out = capsys.readouterr().out
    assert "target for every modern architecture: 92.50%, missed by 2.39 points." in out
    assert (tmp_path / "figures" / "vgg_fashion_full_run.png").stat().st_size > 0
    fig = plot_recorded_run(run)
    accuracy, loss = fig.axes
    assert list(accuracy.lines[1].get_ydata()) == run.history["val_accuracy"]
    assert accuracy.lines[2].get_ydata()[0] == 0.9011
    assert "label smoothing 0.1" in loss.get_legend().get_texts()[0].get_text()
    assert fig._suptitle.get_text() == "Full run: vgg_fashion --recipe book"
    plt.close(fig)
    timed = _record(tiny_run, RunSpec.of("vgg_fashion", "benchmark"), history={})
    with pytest.raises(ValueError, match="has no per-epoch history to draw"):
        plot_recorded_run(timed)


def test_a_benchmark_row_at_chance_says_so(tiny_run, tmp_path):
    path = tmp_path / "results.json"
    spec = RunSpec.of("densenet_fashion", "benchmark")
    # A row recorded before the benchmark settled its batch-norm statistics.
    unsettled = settings_of(get_recipe("protocol", minutes=3, epochs=None))
    results.record(_record(tiny_run, spec, test_accuracy=0.1009, settings=unsettled), path)
    row = results.render_marker("benchmark: densenet_fashion", path=path)
    assert "(Adam, batch 128;" in row  # read from the row's own settings
    assert "**This row is at chance** (test accuracy 0.1009;" in row
    assert "the full runs settle them first" in row
    results.record(_record(tiny_run, spec, test_accuracy=0.1009), path)
    row = results.render_marker("benchmark: densenet_fashion", path=path)
    assert "(AdamW, batch 128, one-cycle, settled batch-norm statistics;" in row
    assert "It was evaluated with settled batch-norm statistics." in row
    results.record(_record(tiny_run, spec, test_accuracy=0.8009), path)
    assert "at chance" not in results.render_marker("benchmark: densenet_fashion", path=path)


def test_a_run_on_a_busy_machine_says_its_timings_are_slower(tiny_run):
    spec = RunSpec.of("vgg_fashion", "book")
    run = _record(tiny_run, spec)
    assert len(run.machine["load_average"]) == 3
    quiet = dataclasses.replace(
        run, machine={**run.machine, "cores": 2, "load_average": [3, 3.1, 3]}
    )
    assert not quiet.was_busy and "busy" not in quiet.describe_machine()
    busy = dataclasses.replace(
        run, machine={**run.machine, "cores": 2, "load_average": [5, 4.5, 4]}
    )
    assert busy.was_busy
    assert "(a busy machine: load average 4.5 on 2 cores, so its timings" in busy.describe_machine()
