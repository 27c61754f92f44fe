"""cnn_guide.evidence and cnn-guide record: the book's catalogue of runs, and which are missing."""

from __future__ import annotations

import dataclasses

import pytest

from cnn_guide import evidence, models, results
from cnn_guide.cli import main
from cnn_guide.runs import RunRecord, RunSpec, settings_of


def test_the_catalogue_names_every_full_run():
    runs = evidence.FULL_RUNS
    assert runs["lenet5_fashion"] == RunSpec.of("lenet5_fashion", "book", epochs=20)
    # Every architecture trains its full run under the one shared recipe.
    assert {spec.recipe for name, spec in runs.items() if name != "simple_cnn"} == {"book"}
    assert runs["simple_cnn"].recipe == "seed"
    # One full run per Fashion-MNIST network of the book, named by its model.
    assert all(name == spec.model for name, spec in runs.items())
    assert set(runs) == set(models.list_models(fashion=True)) - {"fast_resnet_fashion"}
    with pytest.raises(ValueError, match="no full run named 'vgg16'; the book records one"):
        evidence.full_run("vgg16")


def test_every_full_run_stops_after_a_number_of_epochs():
    # So that a reader's accuracy does not depend on their machine's speed.
    for spec in evidence.FULL_RUNS.values():
        recipe = spec.resolve()
        assert recipe.epochs is not None and recipe.minutes is None and recipe.steps is None


def test_every_training_example_plans_a_catalogued_full_run():
    # Examples refer to the catalogue by name; nothing parses their source.
    from conftest import ROOT

    for name, spec in evidence.FULL_RUNS.items():
        pages = [
            path.stem
            for path in (ROOT / "examples").glob("*.py")
            if f'plan_example(\n    "{name}"' in (text := path.read_text(encoding="utf-8"))
            or f'plan_example("{name}"' in text
        ]
        assert pages, f"no example plans the full run {name!r} ({spec.command})"


def test_plans_and_what_is_missing(tmp_path):
    benchmark = evidence.plan("benchmark")
    assert [spec.model for spec in benchmark] == models.list_models(fashion=True)
    assert list(evidence.BENCHMARK_MODELS) == models.list_models(fashion=True)
    assert all(spec.recipe == "benchmark" for spec in benchmark)
    full = evidence.plan("full")
    assert len(full) == len(set(full))
    with pytest.raises(ValueError, match="unknown plan 'everything'"):
        evidence.plan("everything")
    path = tmp_path / "records"
    assert results.missing(benchmark, path) == benchmark


def _record_for(spec: RunSpec, template: RunRecord) -> RunRecord:
    """``template``'s figures as a record of ``spec`` under its recipe as defined today."""
    return dataclasses.replace(template, spec=spec, settings=settings_of(spec.resolve()))


def test_record_lists_and_records_only_what_is_missing(capsys, monkeypatch, tmp_path):
    shipped = results.load_results(results.RECORDS_PATH)
    template = next(run for run in shipped.values() if run.spec.recipe == "benchmark")
    path = tmp_path / "records"
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

    training = [
        path
        for path in sorted((ROOT / "examples").glob("*.py"))
        if "plan_example(" in path.read_text(encoding="utf-8")
    ]
    assert len(training) >= 13
    for path in training:
        source = path.read_text(encoding="utf-8")
        assert "print(plan.expected_time(data))" in source, path.stem
        assert source.index("plan.expected_time(") < source.index("fit("), path.stem


def test_a_run_recorded_under_an_older_recipe_is_stale_never_dropped(tmp_path, capsys, monkeypatch):
    spec = RunSpec.of("lenet5_fashion", "book", epochs=20)
    path = tmp_path / "records"
    monkeypatch.setenv("CNN_GUIDE_RESULTS", str(path))
    settings = settings_of(spec.resolve())
    shipped = results.load_results(results.RECORDS_PATH)
    template = next(run for run in shipped.values() if run.spec.recipe == "benchmark")
    current = dataclasses.replace(template, spec=spec, settings=settings)
    results.record(current, path)
    assert results.missing([spec], path) == []
    assert results.find(spec, path) == current and current.stale_fields() == []
    # The same command, recorded when the recipe's learning rate was different:
    # still read and shown, flagged, and listed for re-recording.
    stale = dataclasses.replace(current, settings={**settings, "learning_rate": 1e-3})
    results.record(stale, path)
    assert results.missing([spec], path) == [spec]
    assert results.find(spec, path) == stale and stale.stale_fields() == ["learning_rate"]
    from cnn_guide.report.markers import render_marker

    page = render_marker("full-run: lenet5_fashion", path=path)
    assert "**Stale:** this run was recorded under an older definition of the book recipe" in page
    assert "(learning_rate changed since)" in page and spec.command in page
    assert main(["record", "--plan", "full", "--models", "lenet5_fashion", "--list"]) == 0
    out = capsys.readouterr().out
    assert "stale" in out and "(recorded under older learning_rate)" in out
    assert "1 missing (1 of them stale)" in out


def test_a_setting_a_record_lacks_counts_at_its_default():
    # A setting added to Recipe after a run was recorded must not turn every
    # record stale: the record is read as if it had the setting's default.
    spec = RunSpec.of("lenet5_fashion", "book", epochs=20)
    shipped = results.load_results(results.RECORDS_PATH)
    template = next(run for run in shipped.values() if run.spec.recipe == "benchmark")
    settings = settings_of(spec.resolve())
    older = {name: value for name, value in settings.items() if name != "flip_at_test"}
    assert settings["flip_at_test"] is False  # the default
    record = dataclasses.replace(template, spec=spec, settings=older)
    assert record.is_current()
    flipped = RunSpec.of("lenet5_fashion", "book", epochs=20, flip_at_test=True)
    assert dataclasses.replace(record, spec=flipped).stale_fields() == ["flip_at_test"]


@pytest.mark.parametrize("plan", ["full", "benchmark"])
def test_no_recorded_full_run_or_benchmark_row_sits_at_chance(plan):
    # A run that learned nothing (ten classes: 0.10) would be shown as a
    # network's accuracy; the recording must be fixed, not published. (An
    # experiment's arm may fail to train: that can be its finding.)
    from cnn_guide.report.runs import CHANCE_LINE

    specs = evidence.plan(plan)
    for spec, run in zip(specs, results.find_all(specs, results.RECORDS_PATH), strict=True):
        assert run is None or run.test_accuracy >= CHANCE_LINE, (spec.key, run.test_accuracy)


@pytest.mark.parametrize("plan", ["full", "benchmark"])
def test_every_full_run_and_benchmark_row_is_recorded(plan):
    # Every example page ends with its full run and its benchmark row, read
    # from the store, under its recipe as defined today.
    missing = results.missing(evidence.plan(plan), results.RECORDS_PATH)
    assert not missing, [spec.command for spec in missing]
