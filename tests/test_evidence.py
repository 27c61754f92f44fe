"""cnn_guide.evidence and cnn-guide record: the runs the book draws on, and which are missing."""

from __future__ import annotations

import dataclasses

import pytest

from cnn_guide import evidence, models, results
from cnn_guide.cli import main
from cnn_guide.runs import RunRecord, RunSpec, settings_of


def test_each_example_full_run_is_read_from_its_own_plan():
    runs = evidence.example_runs()
    assert runs["lenet5"] == RunSpec.of("lenet5_fashion", "book", epochs=20)
    # Every architecture trains its full run under the one shared recipe.
    assert {spec.recipe for name, spec in runs.items() if name != "simple_cnn"} == {"book"}
    assert runs["simple_cnn"].recipe == "seed"
    # Every training example states its full run; the pages without training do not.
    assert {"alexnet", "vgg", "resnet", "densenet", "mobilenet_v2"} <= set(runs)
    assert not {"benchmark", "choosing"} & set(runs)


def test_a_plan_that_is_not_written_literally_is_refused(tmp_path):
    (tmp_path / "odd.py").write_text(
        "EPOCHS = 3\n"
        "plan = plan_example('lenet5_fashion', 'protocol', epochs=EPOCHS, site_epochs=1)\n"
    )
    with pytest.raises(
        ValueError, match="odd.py, line 2: plan_example must be called with literal"
    ):
        evidence.example_runs(tmp_path)


def test_plans_and_what_is_missing(tmp_path):
    benchmark = evidence.plan("benchmark")
    assert [spec.model for spec in benchmark] == models.list_models(fashion=True)
    assert all(spec.recipe == "benchmark" for spec in benchmark)
    full = evidence.plan("full")
    assert len(full) == len(set(full))  # two examples with one full run record it once
    with pytest.raises(ValueError, match="unknown plan 'everything'"):
        evidence.plan("everything")
    path = tmp_path / "results.json"
    assert evidence.missing(benchmark, path) == benchmark


def _record_for(spec: RunSpec, template: RunRecord) -> RunRecord:
    """``template``'s figures as a record of ``spec`` under its recipe as defined today."""
    return dataclasses.replace(template, spec=spec, settings=settings_of(spec.resolve()))


def test_record_lists_and_records_only_what_is_missing(capsys, monkeypatch, tmp_path):
    shipped = results.load_results(results.RESULTS_PATH)
    template = next(run for run in shipped.values() if run.spec.recipe == "benchmark")
    path = tmp_path / "results.json"
    monkeypatch.setenv("CNN_GUIDE_RESULTS", str(path))
    done = RunSpec.of("lenet5_fashion", "benchmark")
    results.record(_record_for(done, template), path)
    assert main(["record", "--plan", "benchmark", "--list"]) == 0
    out = capsys.readouterr().out
    assert f"{template.test_accuracy:.4f}" in out and "missing" in out
    assert f"1 of {len(evidence.plan('benchmark'))} recorded" in out

    asked = []
    monkeypatch.setattr(
        "cnn_guide.cli.bench.run_each", lambda specs, record: asked.append((specs, record)) or 0
    )
    assert main(["record", "--plan", "benchmark", "--models", "lenet5_fashion,vgg_fashion"]) == 0
    assert asked == [([RunSpec.of("vgg_fashion", "benchmark")], True)]


def test_each_training_example_says_how_long_it_takes_before_it_trains():
    from conftest import ROOT

    for name in evidence.example_runs():
        source = (ROOT / "examples" / f"{name}.py").read_text(encoding="utf-8")
        assert "print(plan.expected_time(data))" in source, name
        assert source.index("plan.expected_time(") < source.index("fit("), name


def test_a_run_recorded_under_an_older_recipe_counts_as_missing(tmp_path):
    spec = RunSpec.of("lenet5_fashion", "book", epochs=20)
    path = tmp_path / "results.json"
    settings = settings_of(spec.resolve())
    shipped = results.load_results(results.RESULTS_PATH)
    template = next(run for run in shipped.values() if run.spec.recipe == "benchmark")
    current = dataclasses.replace(template, spec=spec, settings=settings)
    results.save_results([current], path)
    assert evidence.missing([spec], path) == []
    assert results.find(spec, path) == current
    # The same command, recorded when the recipe's learning rate was different.
    stale = dataclasses.replace(current, settings={**settings, "learning_rate": 1e-3})
    results.save_results([stale], path)
    assert evidence.missing([spec], path) == [spec]
    assert results.find(spec, path) is None


@pytest.mark.parametrize("plan", ["full", "benchmark"])
def test_no_recorded_full_run_or_benchmark_row_sits_at_chance(plan):
    # A run that learned nothing (ten classes: 0.10) would be shown as a
    # network's accuracy; the recording must be fixed, not published. (An
    # experiment's arm may fail to train: that can be its finding.)
    from cnn_guide.results import CHANCE_LINE

    specs = evidence.plan(plan)
    for spec, run in zip(specs, results.find_all(specs, results.RESULTS_PATH), strict=True):
        assert run is None or run.test_accuracy >= CHANCE_LINE, (spec.key, run.test_accuracy)


@pytest.mark.parametrize("plan", ["full", "benchmark"])
def test_every_full_run_and_benchmark_row_is_recorded(plan):
    # Every example page ends with its full run and its benchmark row, read
    # from the results file, under its recipe as defined today.
    missing = evidence.missing(evidence.plan(plan), results.RESULTS_PATH)
    assert not missing, [spec.command for spec in missing]
