"""cnn_guide.runs and cnn_guide.report: a run's key and command, and how pages show it."""

from __future__ import annotations

import dataclasses
import shlex

import pytest
from conftest import as_record

from cnn_guide import results
from cnn_guide.cli import _parser
from cnn_guide.cli._args import spec_from_args
from cnn_guide.recipes import get_recipe
from cnn_guide.report.markers import render_marker
from cnn_guide.report.tables import format_table
from cnn_guide.runs import RunRecord, RunSpec, settings_of


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
        RunSpec.of("resnet_fashion", task={"classes": [0, 1, 2, 3, 4]}, seed=43),
        RunSpec.of(
            "resnet_fashion",
            task={
                "classes": (5, 6, 7, 8, 9),
                "labels_per_class": 100,
                "start_from": "resnet_fashion --recipe book --classes 0,1,2,3,4",
                "freeze": "base",
            },
            learning_rate=1e-4,
        ),
    ],
    ids=lambda spec: spec.key,
)
def test_the_command_asks_for_exactly_the_run_it_records(spec):
    # Key and command come from one list of arguments; the command, split as a
    # shell splits it and read by the command line's own parser, gives the same run.
    words = shlex.split(spec.command)
    assert words[:2] == ["cnn-guide", "train"] and words[-1] == "--record"
    assert " ".join(words[2:-1]) == spec.key
    args = _parser().parse_args(words[1:])
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


def test_benchmark_rows_tables_and_markers(tiny_run, tmp_path, monkeypatch):
    path = tmp_path / "records"
    monkeypatch.setenv("CNN_GUIDE_RESULTS", str(path))
    empty = render_marker("benchmark: vgg_fashion")
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
    text = format_table(rows)
    assert "120 s" in text and "0.9050" in text and text.count("\n") == 2
    assert format_table(rows, markdown=True).startswith("| model |")
    row = render_marker("benchmark: vgg_fashion")
    assert (
        "| vgg_fashion |" in row
        and "`cnn-guide train vgg_fashion --recipe benchmark --record`" in row
    )
    table = render_marker("benchmark-table", chapters={"vgg_fashion": "vgg.md"})
    # Equal accuracies on 64 test images: the second is within noise of the first.
    assert "[vgg_fashion](vgg.md)" in table and "lenet5_fashion" in table
    assert table.count("(within noise of the best)") == 1
    assert "(machine 1)" not in table and "compare rows only within one machine" not in table
    # A row from another machine: every row names its machine, and the page says why.
    other = {**rows[0].machine, "cpu": "Another CPU"}
    results.record(
        _record(tiny_run, RunSpec.of("nin_fashion", "benchmark"), machine=other, **common), path
    )
    table = render_marker("benchmark-table", chapters={"vgg_fashion": "vgg.md"})
    assert table.count("(machine 1)") == 2 and table.count("(machine 2)") == 1
    assert "| nin_fashion (within noise of the best) (machine 2) |" in table
    assert "Measured on 2 machines: (1) " in table and "(2) Another CPU" in table
    assert "compare rows only within one machine" in table
    with pytest.raises(ValueError, match="unknown results marker"):
        render_marker("benchmarks")


def test_the_docs_hook_renders_markers_through_the_report(tiny_run, tmp_path, monkeypatch):
    import importlib.util

    from conftest import ROOT

    path = tmp_path / "records"
    monkeypatch.setenv("CNN_GUIDE_RESULTS", str(path))
    results.record(_record(tiny_run, RunSpec.of("vgg_fashion", "benchmark")), path)
    spec = importlib.util.spec_from_file_location("markers_hook", ROOT / "docs/hooks/markers.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    page = "# VGG\n\n<!-- benchmark: vgg_fashion -->\n\n<!-- benchmark-table -->\n"
    out = hooks.on_page_markdown(page, None, None, None)
    assert "<!--" not in out
    assert out.count("| vgg_fashion |") == 1 and "| [vgg_fashion](vgg.md) |" in out


def test_an_example_plan_states_its_settings_once(tiny_run, tmp_path, monkeypatch):
    from cnn_guide.budget import plan_example

    path = tmp_path / "records"
    monkeypatch.setenv("CNN_GUIDE_RESULTS", str(path))
    monkeypatch.setenv("CNN_GUIDE_BUDGET", "site")
    plan = plan_example("lenet5_fashion", site_epochs=3)
    assert plan.full_run == RunSpec.of("lenet5_fashion", "book", epochs=20)
    assert plan.recipe == get_recipe("book", epochs=3)
    assert plan.full_run.command in plan.describe()
    assert plan.report().startswith(f"No full run recorded yet: `{plan.full_run.command}`")
    speed = RunSpec.of("lenet5_fashion", "benchmark")
    results.record(_record(tiny_run, speed, train_size=55_000, train_images_per_second=55.0), path)
    # 20 epochs of 430 steps of 128 images (the last batch completed from the
    # next pass) at 55 images/s: 1,100,800 / 55 = 20,015 s.
    assert "its 20 epoch(s) take about 334 min of training" in plan.report()
    assert f"(`{speed.command}`)" in plan.report()
    full_run = _record(tiny_run, plan.full_run, test_accuracy=0.9123, test_size=10_000)
    results.record(full_run, path)
    assert plan.report().startswith("Full run: test accuracy 0.9123 (validation ")
    assert "after 1 epoch(s)" in plan.report()
    assert plan.report().endswith(
        "The book's target for LeNet-5: 90.00%. Measured 91.23% [90.66%, 91.77%] on 10,000 "
        "test images: **met**."
    )
    monkeypatch.setenv("CNN_GUIDE_BUDGET", "full")
    full = plan_example("lenet5_fashion", site_epochs=3)
    assert full.recipe.epochs == 20
    assert "This run (the full budget, on this machine)" in full.report(tiny_run)
    from cnn_guide.data import load_fashion_mnist

    tiny = load_fashion_mnist(download=False).subset(train=256, valid=32, test=32)
    expected = full.expected_time(tiny, steps=2)
    assert expected.startswith("Expected training time on this machine: about ")
    assert "for 20 epoch(s)" in expected and "timed over 2 steps just now" in expected
    assert "the script first times a few training steps" in plan.expected_time(tiny)
    with pytest.raises(ValueError, match="no full run named 'lenet5'; the book records one"):
        plan_example("lenet5", site_epochs=1)


def test_rendering_every_marker_does_not_start_tensorflow():
    # The book's build renders markers in MkDocs' own process, which must stay
    # free of TensorFlow's start-up logs.
    import os
    import subprocess
    import sys

    probe = (
        "import sys\nfrom cnn_guide.report.markers import MARKERS, render_marker\n"
        "arguments = {'MODEL': 'vgg_fashion', 'NAME': 'resnet-degradation', '': '',\n"
        "             'SPACE': 'regnet-design-space'}\n"
        "for marker in MARKERS.values():\n"
        "    text = marker.name + (': ' + arguments[marker.argument] if marker.argument else '')\n"
        "    assert render_marker(text), text\n"
        "print('tensorflow' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k != "CNN_GUIDE_RESULTS"}  # the book's store
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    )
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


def test_the_full_run_is_drawn_from_the_store(tiny_run, tmp_path, monkeypatch, capsys):
    import matplotlib.pyplot as plt

    from cnn_guide.budget import plan_example
    from cnn_guide.plotting import plot_recorded_run

    path = tmp_path / "records"
    monkeypatch.setenv("CNN_GUIDE_RESULTS", str(path))
    monkeypatch.setenv("CNN_GUIDE_OUTPUT", str(tmp_path / "figures"))
    monkeypatch.setenv("CNN_GUIDE_BUDGET", "site")
    plan = plan_example("vgg_fashion", site_epochs=1)
    plan.show_full_run()
    assert "No full run recorded yet" in capsys.readouterr().out
    assert not (tmp_path / "figures").exists()  # nothing recorded, nothing drawn

    run = _record(tiny_run, plan.full_run, test_accuracy=0.9011, test_size=10_000)
    results.record(run, path)
    plan.show_full_run()
    out = capsys.readouterr().out
    assert "architecture: 92.50%. Measured 90.11% [89.51%, 90.68%] on 10,000 test images: " in out
    assert "**missed**." in out
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
    path = tmp_path / "records"
    spec = RunSpec.of("densenet_fashion", "benchmark")
    # A row recorded before the benchmark settled its batch-norm statistics.
    unsettled = settings_of(get_recipe("protocol", minutes=3, epochs=None))
    results.record(_record(tiny_run, spec, test_accuracy=0.1009, settings=unsettled), path)
    row = render_marker("benchmark: densenet_fashion", path=path)
    assert "(Adam, batch 128;" in row  # read from the row's own settings
    assert "**This row is at chance** (test accuracy 0.1009;" in row
    assert "the full runs settle them first" in row
    results.record(_record(tiny_run, spec, test_accuracy=0.1009), path)
    row = render_marker("benchmark: densenet_fashion", path=path)
    assert "(AdamW, batch 128, one-cycle, settled batch-norm statistics;" in row
    assert "It was evaluated with settled batch-norm statistics." in row
    results.record(_record(tiny_run, spec, test_accuracy=0.8009), path)
    assert "at chance" not in render_marker("benchmark: densenet_fashion", path=path)


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


def test_a_task_is_checked_and_shapes_the_run(small_fashion):
    spec = RunSpec.of("lenet5_fashion", task={"classes": [2, 4], "labels_per_class": 3})
    assert spec.key == "lenet5_fashion --recipe book --classes 2,4 --labels-per-class 3"
    assert RunSpec.from_dict(spec.as_dict()) == spec
    data = spec.task_data(small_fashion)
    assert data.class_names == ("Pullover", "Coat") and len(data.y_train) == 6
    assert spec.build_model()().output_shape == (None, 2)  # one output per class learned
    assert RunSpec.of("lenet5_fashion").task_data(small_fashion) is small_fashion
    for task, message in (
        ({"class": [1, 2]}, "has no field class; its fields are classes"),
        ({"classes": [3]}, "two or more distinct indexes from 0 to 9"),
        ({"classes": [3, 10]}, "two or more distinct indexes from 0 to 9"),
        ({"labels_per_class": 0}, "labels_per_class must be a positive integer"),
        ({"freeze": "all", "start_from": "x"}, "freeze must be 'base'"),
        ({"freeze": "base"}, "freeze needs start_from"),
    ):
        with pytest.raises(ValueError, match=message):
            RunSpec.of("lenet5_fashion", task=task)
