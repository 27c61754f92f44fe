"""The transfer-learning experiment: its pretraining first, its arms, its report, its CLI."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import as_record

from cnn_guide import evidence, experiments, results
from cnn_guide.cli import main
from cnn_guide.experiments import (
    TRANSFER_PRETRAINING,
    TRANSFER_SOURCE,
    TRANSFER_TARGET,
    get_experiment,
)
from cnn_guide.report import experiments as report
from cnn_guide.runs import RunSpec

TRANSFER = get_experiment("transfer-learning")


def test_the_arms_transfer_from_the_pretraining_to_the_other_classes():
    assert set(TRANSFER_SOURCE) | set(TRANSFER_TARGET) == set(range(10))
    assert not set(TRANSFER_SOURCE) & set(TRANSFER_TARGET)
    assert dict(TRANSFER_PRETRAINING.task) == {"classes": TRANSFER_SOURCE}
    assert TRANSFER_PRETRAINING.resolve().epochs == 10  # the book recipe, all its images
    assert len(TRANSFER_SOURCE) == 5 and "labels_per_class" not in dict(TRANSFER_PRETRAINING.task)
    kinds = {}
    for arm in TRANSFER.arms:
        task = dict(arm.task)
        assert task["classes"] == TRANSFER_TARGET and task["labels_per_class"] in (10, 100, 1000)
        kinds.setdefault(arm.curve, set()).add(task["labels_per_class"])
        if arm.curve.startswith("from scratch"):
            assert "start_from" not in task and "freeze" not in task
        else:
            assert task["start_from"] == TRANSFER_PRETRAINING.key
        if task.get("freeze") == "except-top:2":  # the last stage: conv4_block1 and 2
            assert arm.changes["learning_rate"] == pytest.approx(4e-3 / 10)
        elif task.get("freeze") == "base":  # a linear classifier on fixed features
            assert arm.changes["learning_rate"] == pytest.approx(4e-3 * 10)
        else:
            assert "learning_rate" not in arm.changes  # the book's
    assert list(kinds.values()) == [{10, 100, 1000}] * 3
    assert TRANSFER.seeds == experiments.JUDGED_SEEDS  # judged against the paper
    assert len(TRANSFER.runs()) == 9 * 5
    for spec in TRANSFER.runs():  # every arm makes 400 updates, whatever its labels
        recipe = spec.resolve()
        assert recipe.max_steps(50, 128) == recipe.max_steps(5_000, 128) == 400


def test_each_label_count_compares_transfer_with_scratch_and_fine_tuning_with_freezing():
    for index, (first, second) in enumerate(TRANSFER.pairs):
        assert first.labels_per_class == second.labels_per_class
        finding = TRANSFER.finding(index)
        if finding is not None:
            assert "Yosinski et al. (2014), Figure 2" in finding.claim
    curves = [(first.curve, second.curve) for first, second in TRANSFER.pairs[:3]]
    frozen, fine_tuned, scratch = (
        "frozen base, new head (peak rate 0.04)",
        "fine-tuned last stage and new head (peak rate 0.0004)",
        "from scratch (peak rate 0.004)",
    )
    assert curves == [(scratch, frozen), (scratch, fine_tuned), (frozen, fine_tuned)]


def test_the_pretraining_is_recorded_first_and_keeps_its_weights(capsys):
    runs = experiments.experiment_runs(["transfer-learning"])
    assert runs[0] == TRANSFER_PRETRAINING and len(runs) == 1 + 45
    keys = [spec.key for spec in runs]
    for position, spec in enumerate(runs):
        source = dict(spec.task).get("start_from")
        assert source is None or keys.index(source) < position, spec.key
    assert evidence.keeps_weights(TRANSFER_PRETRAINING)
    assert not any(evidence.keeps_weights(spec) for spec in runs[1:])
    assert evidence.keeps_weights(evidence.full_run("resnet_fashion"))
    assert TRANSFER_PRETRAINING in evidence.plan("experiments")
    assert main(["record", "--plan", "experiments", "--only", "transfer-learning", "--list"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "cnn-guide train" in line]
    assert len(lines) == 46
    assert lines[0].endswith(
        "cnn-guide train resnet_fashion --recipe book --classes 0,2,4,6,8 --record"
    )
    assert "--start-from 'resnet_fashion --recipe book --classes 0,2,4,6,8'" in lines[1]
    assert "--freeze except-top:2" in lines[2] and "--learning-rate 0.0004" in lines[2]


def test_a_pretraining_recorded_without_its_weights_is_recorded_again(capsys, tiny_run, tmp_path):
    store = tmp_path / "records"  # the store conftest points the command at
    results.record(as_record(tiny_run, TRANSFER_PRETRAINING), store)
    assert results.missing([TRANSFER_PRETRAINING], store) == []
    assert main(["record", "--plan", "experiments", "--only", "transfer-learning", "--list"]) == 0
    assert "(recorded without its test predictions or weights)" in capsys.readouterr().out


def test_an_arm_must_start_from_a_run_its_experiment_records_first():
    with pytest.raises(ValueError, match="which it does not record first; add the run to its"):
        dataclasses.replace(TRANSFER, pretraining=())


def _record_transfer(tiny_run, path, accuracy_of):
    """Every transfer run recorded, each arm at an accuracy, with predictions of its task."""
    labels = report._task_labels(TRANSFER.runs()[0])
    for arm in TRANSFER.arms:
        for seed in TRANSFER.seeds:
            accuracy = accuracy_of(arm) + (seed - 44) / 1000
            right = round(accuracy * len(labels))
            predictions = np.where(np.arange(len(labels)) < right, labels, (labels + 1) % 5)
            run = as_record(
                tiny_run,
                TRANSFER.run_of(arm, seed),
                test_accuracy=float(np.mean(predictions == labels)),
                test_size=len(labels),
            )
            results.record(run, path, predictions=predictions)


def test_the_report_reads_transfer_runs_on_their_own_classes(tiny_run, tmp_path):
    path = tmp_path / "records"

    def accuracy_of(arm):
        bonus = {10: 0.0, 100: 0.05, 1000: 0.10}[arm.labels_per_class]
        return {"frozen": 0.80, "from": 0.70}.get(arm.curve.split()[0], 0.85) + bonus

    _record_transfer(tiny_run, path, accuracy_of)
    table = report.summary(TRANSFER, path)
    assert "each epoch 40 steps, on the labelled training images its arm names" in table
    assert "(10, 100 or 1,000 per class of classes 1,3,5,7,9, drawn by the run's seed)" in table
    assert "test accuracy on all 5,000 test images of those classes" in table
    assert f"The arms start from `{TRANSFER_PRETRAINING.key}`: not recorded yet." in table
    # McNemar on the 5,000 test images of the five classes, relabelled 0-4.
    assert (
        "On the same test images, the images only *frozen base, new head (peak rate 0.04): "
        "10 labels per class* gets right and those only *from scratch (peak rate 0.004): "
        "10 labels per class* gets right: seed 42: 500 and 0"
    ) in table
    assert "*frozen base, new head (peak rate 0.04): 10 labels per class* against *from " in table
    results.record(as_record(tiny_run, TRANSFER_PRETRAINING, test_accuracy=0.9123), path)
    table = report.summary(TRANSFER, path)
    assert f"the kept weights of `{TRANSFER_PRETRAINING.key}`: test accuracy 0.9123" in table
    figure = report.plot_labels_curve(TRANSFER, path)
    axes = figure.axes[0]
    curves = list(dict.fromkeys(arm.curve for arm in TRANSFER.arms))
    assert axes.get_legend_handles_labels()[1] == curves
    assert list(axes.containers[0].lines[0].get_xdata()) == [10, 100, 1000]
    assert "data:image/png;base64," in report.render_experiment("transfer-learning", path)


def test_task_labels_are_the_test_labels_of_the_runs_classes():
    from cnn_guide.data import load_test_labels

    everything = load_test_labels(download=False)
    spec = RunSpec.of("resnet_fashion", task={"classes": (9, 1)})
    labels = report._task_labels(spec)
    assert len(labels) == np.isin(everything, (1, 9)).sum() == 2_000
    assert set(labels) == {0, 1}
    assert (labels == 0).sum() == (everything == 9).sum()  # relabelled in the task's order
    assert np.array_equal(report._task_labels(RunSpec.of("resnet_fashion")), everything)


def test_train_fine_tunes_the_top_blocks_of_a_kept_run(capsys, tmp_path, tiny_run):
    # From the command line: a kept run, five other classes, its last block trained too.
    from cnn_guide.results import record

    store = tmp_path / "records"
    source = RunSpec.of("lenet5_fashion", "protocol", epochs=1, quick=True)
    record(as_record(tiny_run, source), store, weights=tiny_run.model)
    saved = tmp_path / "fine_tuned.keras"
    argv = ["train", "lenet5_fashion", "--quick", "--classes", "5,6,7,8,9"]
    argv += ["--labels-per-class", "10", "--start-from", source.key, "--freeze", "except-top:1"]
    argv += ["--steps-per-epoch", "2"]
    assert main([*argv, "--save", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "Training lenet5_fashion on 50 images" in out
    import keras

    tuned = keras.saving.load_model(saved)
    *base, top, head = [layer for layer in tuned.layers if layer.weights]
    assert head.trainable and top.trainable and not any(layer.trainable for layer in base)
    donor = {layer.name: layer for layer in tiny_run.model.layers}
    for layer in base:
        for kept, given in zip(layer.get_weights(), donor[layer.name].get_weights(), strict=True):
            assert np.array_equal(kept, given), layer.name
    assert not all(
        np.array_equal(kept, given)
        for kept, given in zip(top.get_weights(), donor[top.name].get_weights(), strict=True)
    )


def test_kept_weights_that_do_not_fit_their_run_are_refused_clearly(capsys, tmp_path, tiny_run):
    from cnn_guide import models
    from cnn_guide.results import record, weights_file

    store = tmp_path / "records"
    source = RunSpec.of("lenet5_fashion", "protocol", epochs=1, quick=True)
    record(as_record(tiny_run, source), store, weights=models.build("simple_cnn"))
    argv = ["train", "lenet5_fashion", "--quick", "--classes", "5,6,7,8,9"]
    argv += ["--start-from", source.key, "--freeze", "base"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"starting from {source.key!r}: the weights in {weights_file(source)} do not" in err
    assert "fit the model 'lenet5_fashion' (61,706 parameters)" in err  # what was expected
    assert f"Record the run again (`{source.command}`)" in err  # and how to fix it


def test_the_time_estimate_counts_the_task_s_images(tiny_run, tmp_path):
    store = tmp_path / "records"
    speed = RunSpec.of("resnet_fashion", "book")
    results.record(
        as_record(tiny_run, speed, train_size=55_000, train_images_per_second=1_000.0), store
    )
    minutes, _ = results.estimate_minutes(TRANSFER_PRETRAINING, store)
    assert minutes == pytest.approx(10 * 215 * 128 / 1_000 / 60)  # 27,500 images: 215 steps
    arm = TRANSFER.runs()[0]  # 400 steps, whatever its 50 labels
    assert results.estimate_minutes(arm, store)[0] == pytest.approx(400 * 128 / 1_000 / 60)
