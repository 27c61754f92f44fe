"""cnn_guide.results: the store of runs, one file per run, written atomically."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, as_record

from cnn_guide import results
from cnn_guide.runs import RunFigures, RunRecord, RunSpec


def test_a_run_round_trips_through_its_own_file_and_replaces_by_key(tiny_run, tmp_path):
    store = tmp_path / "records"
    spec = RunSpec.of("lenet5_fashion", "protocol", epochs=1, quick=True)
    with pytest.raises(ValueError, match="record it under the spec it was trained from"):
        RunRecord.from_fit(spec, tiny_run.recipe, tiny_run)
    first = results.record(as_record(tiny_run, spec), store)
    assert first.machine["cores"] >= 1 and first.date and first.settings["optimizer"] == "adam"
    assert first.settings["epochs"] == 1 and first.command == spec.command
    file = results.run_file(spec, store)
    assert file.parent == store / "runs" / "lenet5_fashion" and file.suffix == ".json"
    assert json.loads(file.read_text())["spec"]["model"] == "lenet5_fashion"  # plain JSON
    results.record(dataclasses.replace(first, test_accuracy=0.75), store)
    assert list(store.rglob("*")) == [file.parent.parent, file.parent, file]  # no leftovers
    (stored,) = results.load_results(store).values()
    assert stored.test_accuracy == 0.75 and stored.spec == spec
    assert results.find(spec, store) == stored
    assert results.find(RunSpec.of("lenet5_fashion", "protocol"), store) is None


def test_every_key_gets_its_own_readable_file(tiny_run, tmp_path):
    store = tmp_path / "records"
    specs = [
        RunSpec.of("resnet_fashion", options={"widths": [8, 16, 32]}, seed=seed)
        for seed in (42, 43)
    ] + [RunSpec.of("resnet_fashion", options={"widths": [8, 16, 33]})]
    for spec in specs:
        results.record(as_record(tiny_run, spec), store)
    files = {results.run_file(spec, store) for spec in specs}
    assert len(files) == 3 and all(file.exists() for file in files)
    assert all(file.name.startswith("recipe-book-") for file in files)
    assert set(results.load_results(store)) == {spec.key for spec in specs}


def test_predictions_are_kept_beside_the_run_compactly(tiny_run, tmp_path):
    store = tmp_path / "records"
    spec = RunSpec.of("lenet5_fashion", "protocol", epochs=1, quick=True)
    run = as_record(tiny_run, spec)
    predictions = np.arange(run.test_size) % 10
    results.record(run, store, predictions=predictions)
    assert results.load_predictions(spec, store).dtype == np.uint8
    assert np.array_equal(results.load_predictions(spec, store), predictions)
    assert results.load_predictions(RunSpec.of("vgg_fashion"), store) is None
    with pytest.raises(ValueError, match=r"one class index per test image, shape \(64,\)"):
        results.record(run, store, predictions=predictions[:10])


def test_a_full_run_keeps_its_weights_without_optimizer_state(tiny_run, tmp_path):
    import keras

    store = tmp_path / "records"
    spec = RunSpec.of("lenet5_fashion", "protocol", epochs=1, quick=True)
    run = as_record(tiny_run, spec)
    results.record(run, store, predictions=np.zeros(run.test_size), weights=tiny_run.model)
    file = results.weights_file(spec, store)
    assert file.name.endswith(".weights.h5") and file.parent == results.run_file(spec, store).parent
    fresh = keras.Model.from_config(tiny_run.model.get_config())
    fresh.load_weights(file)
    for kept, trained in zip(fresh.weights, tiny_run.model.weights, strict=True):
        assert np.array_equal(kept.numpy(), trained.numpy()), kept.name
    assert file.stat().st_size < 1.2 * 4 * tiny_run.model.count_params() + 100_000  # no slots
    assert not list(file.parent.glob(".*"))  # no temporary file left behind
    assert results.missing([spec], store, with_predictions=True, with_weights=True) == []
    other = RunSpec.of("lenet5_fashion", "protocol", epochs=2, quick=True)
    results.record(as_record(tiny_run, other), store)
    assert results.missing([other], store) == []
    assert results.missing([other], store, with_predictions=True) == [other]
    assert results.missing([other], store, with_weights=True) == [other]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "must hold one JSON object, got list"),
        ('{"spec": {}}', "is not a run record this version of cnn_guide can read"),
    ],
)
def test_a_corrupt_file_is_an_error_that_names_it(tiny_run, tmp_path, content, message):
    store = tmp_path / "records"
    spec = RunSpec.of("vgg_fashion", "benchmark")
    results.record(as_record(tiny_run, spec), store)
    file = results.run_file(spec, store)
    file.write_text(content)
    for read in (lambda: results.load_results(store), lambda: results.find(spec, store)):
        with pytest.raises(ValueError, match=message) as error:
            read()
        assert str(file) in str(error.value) and "git checkout --" in str(error.value)


def test_other_entries_are_stored_one_file_each(tmp_path):
    store = tmp_path / "records"
    results.record_entry("comparisons", "fast against seed on a CPU", {"recipe": "fast"}, store)
    results.record_entry("comparisons", "fast against seed on a GPU", {"recipe": "fast"}, store)
    entries = results.load_entries("comparisons", store)
    assert entries == {
        "fast against seed on a CPU": {"recipe": "fast"},
        "fast against seed on a GPU": {"recipe": "fast"},
    }
    assert len(list((store / "comparisons").glob("*.json"))) == 2
    assert results.load_entries("nothing", store) == {}


def test_every_stored_run_of_the_book_has_what_the_pages_need():
    runs = results.load_results(results.RECORDS_PATH)
    assert len(runs) >= 132
    # Figures added later carry a default; every record holds the rest.
    figures = {f.name for f in dataclasses.fields(RunFigures) if f.default is dataclasses.MISSING}
    for key, run in runs.items():
        file = results.run_file(run.spec, results.RECORDS_PATH)
        assert file.exists(), key  # every file sits where its key says
        assert figures <= set(json.loads(file.read_text())), key
        assert run.command.startswith("cnn-guide train ") and run.machine and run.date, key
        assert run.parameters > 0 and run.train_images_per_second > 0, key
    assert results.load_entries("comparisons", results.RECORDS_PATH)


@pytest.mark.slow
def test_two_recorders_at_once_lose_nothing(tmp_path):
    # Two real processes record into one store at the same time.
    store = tmp_path / "records"
    env = {**os.environ, "CNN_GUIDE_RESULTS": str(store)}
    command = [sys.executable, "-m", "cnn_guide.cli", "train", "lenet5_fashion", "--quick"]
    recorders = [
        subprocess.Popen(
            [*command, "--seed", str(seed), "--record"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for seed in (1, 2)
    ]
    outputs = [recorder.communicate(timeout=600)[0] for recorder in recorders]
    assert [recorder.returncode for recorder in recorders] == [0, 0], outputs
    stored = results.load_results(store)
    assert set(stored) == {
        RunSpec.of("lenet5_fashion", quick=True, seed=seed).key for seed in (1, 2)
    }


def test_reading_the_store_starts_no_tensorflow():
    probe = (
        "import sys\nfrom cnn_guide import evidence, results\n"
        "assert results.load_results()\nresults.missing(evidence.plan('full'))\n"
        "print('tensorflow' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k != "CNN_GUIDE_RESULTS"}
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=ROOT,
    )
    assert out.stdout.strip() == "False"
