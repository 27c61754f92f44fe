"""cnn_guide.experiments and the results markers: the teaching experiments and full runs."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
from conftest import as_record

from cnn_guide import evidence, experiments, models, results
from cnn_guide.cli import main
from cnn_guide.report import experiments as report
from cnn_guide.report.markers import render_marker
from cnn_guide.runs import RunSpec


@pytest.mark.parametrize("name", experiments.list_experiments())
def test_every_arm_asks_for_options_its_builder_takes(name):
    experiment = experiments.get_experiment(name)
    assert len(experiment.arms) >= 2 and len(experiment.seeds) >= 2
    for arm in experiment.arms:
        builder = inspect.signature(models.get_info(arm.model).builder).parameters
        assert set(arm.options) <= set(builder), (arm.label, sorted(builder))
    runs = experiment.runs()
    assert len(runs) == len(set(runs)) == len(experiment.arms) * len(experiment.seeds)
    assert all(spec.recipe == experiment.recipe for spec in runs)
    stop = {"epochs": experiment.epochs, "minutes": experiment.minutes}
    assert all({k: getattr(spec.resolve(), k) for k in stop} == stop for spec in runs)


def test_an_experiment_has_one_stop_rule():
    nin = experiments.get_experiment("nin-head")
    with pytest.raises(ValueError, match="give epochs or minutes, one of the two"):
        dataclasses.replace(nin, minutes=1.5)
    with pytest.raises(ValueError, match="got epochs=None, minutes=None"):
        dataclasses.replace(nin, epochs=None)
    ablation = experiments.get_experiment("fast-ablation")
    assert ablation.describe_stop() == "1.5 minutes of training"
    assert all(spec.resolve().epochs is None for spec in ablation.runs())


def test_experiments_are_a_plan_of_the_recorder(capsys):
    assert evidence.plan("experiments") == experiments.experiment_runs()
    assert main(["record", "--plan", "experiments", "--only", "nin-head", "--list"]) == 0
    out = capsys.readouterr().out
    assert out.count("cnn-guide train nin_fashion --recipe book") == 4
    assert "--option 'head=\"dense\"'" in out and "--seed 43" in out  # quoted for a shell
    # Several experiments come in the order asked for, so the cheap ones can go first.
    assert (
        main(
            ["record", "--plan", "experiments", "--only", "nin-head,vgg-stacked-kernels", "--list"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.index("train nin_fashion") < out.index("train vgg_fashion")
    with pytest.raises(ValueError, match="unknown experiment 'nin'; choose one of: lenet-1998"):
        experiments.experiment_runs(["nin"])


def test_summary_tabulates_seeds_with_mean_and_spread(tiny_run, tmp_path):
    path = tmp_path / "records"
    alexnet = experiments.get_experiment("alexnet-relu")
    assert "*Not recorded yet: `cnn-guide record --plan experiments --only alexnet-relu`" in (
        report.summary(alexnet, path)
    )
    relu, tanh = alexnet.arms
    for seed, accuracy, curve in ((42, 0.91, [0.8, 0.92]), (43, 0.93, [0.91, 0.95])):
        history = {**tiny_run.history, "accuracy": curve, "val_accuracy": curve}
        run = as_record(
            tiny_run,
            alexnet.run_of(relu, seed),
            test_accuracy=accuracy,
            valid_accuracy=accuracy - 0.01,
            history=history,
        )
        results.record(run, path)
    table = report.summary(alexnet, path)
    assert "| ReLU |" in table
    assert "| 0.9100, 0.9300 | 0.9200 | 0.0200 | 0.9100 | 0.0800, 0.0500 | 2, 1 |" in table
    row = next(line for line in table.splitlines() if line.startswith(f"| {tanh.label} |"))
    assert "not recorded yet" in row and row.count("|") == table.splitlines()[0].count("|")
    assert "Recorded so far: 2 of its 4 runs." in table
    page = report.render_experiment("alexnet-relu", path)
    assert (
        page.startswith("**Does ReLU train faster than tanh") and "data:image/png;base64," in page
    )
    fig = report.plot_experiment(alexnet, path)
    assert len(fig.axes[0].lines) == 2  # one line per recorded seed
    with pytest.raises(ValueError, match="no run of the experiment 'nin-head' is recorded yet"):
        report.plot_experiment(experiments.get_experiment("nin-head"), path)
    assert "What the seeds show" not in table  # not until both arms have every seed


@pytest.mark.parametrize(
    ("tanh_accuracies", "verdict"),
    [
        ((0.90, 0.915), "larger than that"),
        ((0.925, 0.905), "within it: noise at this number of seeds, not a finding"),
    ],
)
def test_summary_holds_each_difference_against_the_seeds_spread(
    tiny_run, tmp_path, tanh_accuracies, verdict
):
    path = tmp_path / "records"
    alexnet = experiments.get_experiment("alexnet-relu")
    relu, tanh = alexnet.arms
    errors = {relu.label: (0.05, 0.06), tanh.label: (0.08, 0.08)}
    for arm, accuracies in ((relu, (0.93, 0.94)), (tanh, tanh_accuracies)):
        for seed, accuracy, error in zip(alexnet.seeds, accuracies, errors[arm.label], strict=True):
            history = {**tiny_run.history, "accuracy": [0.5, 1 - error]}
            run = as_record(
                tiny_run,
                alexnet.run_of(arm, seed),
                test_accuracy=accuracy,
                valid_accuracy=accuracy + 0.005,
            )
            results.record(dataclasses.replace(run, history=history), path)
    table = report.summary(alexnet, path)
    difference = 100 * (sum(tanh_accuracies) / 2 - 0.935)
    spread = 100 * max(0.01, abs(tanh_accuracies[0] - tanh_accuracies[1]))
    assert (
        f"- *tanh* against *ReLU*: test accuracy {difference:+.2f} points (seeds spread up to "
        f"{spread:.2f}; {verdict}); validation accuracy {difference:+.2f} points (seeds spread "
        f"up to {spread:.2f}; {verdict}); last epoch's training error +2.50 points (seeds spread "
        "up to 1.00; larger than that)." in table
    )


def test_summary_reads_one_shared_seed_as_one_draw(tiny_run, tmp_path):
    path = tmp_path / "records"
    alexnet = experiments.get_experiment("alexnet-relu")
    relu, tanh = alexnet.arms
    # ReLU has both seeds, tanh only seed 43: the reading compares seed 43 alone.
    for arm, seed, accuracy in ((relu, 42, 0.93), (relu, 43, 0.94), (tanh, 43, 0.91)):
        history = {**tiny_run.history, "accuracy": [0.5, 0.95]}
        run = as_record(
            tiny_run, alexnet.run_of(arm, seed), test_accuracy=accuracy, valid_accuracy=accuracy
        )
        results.record(dataclasses.replace(run, history=history), path)
    table = report.summary(alexnet, path)
    tanh_row = next(line for line in table.splitlines() if line.startswith("| tanh |"))
    assert "| 0.9100 | 0.9100 | one seed so far |" in tanh_row
    assert (
        "- *tanh* against *ReLU*, seed 43 only so far: test accuracy -3.00 points; validation "
        "accuracy -3.00 points; last epoch's training error +0.00 points. One seed gives no "
        "spread to hold these against: one draw, not yet a finding." in table
    )


@pytest.mark.parametrize(
    ("naive_parameters", "said"),
    [
        (1_073_002, "+840,560 parameters (4.6 times as many)"),
        (240_000, "+7,558 parameters (+3.3%)"),
    ],
)
def test_reading_states_the_parameter_difference(tiny_run, tmp_path, naive_parameters, said):
    path = tmp_path / "records"
    googlenet = experiments.get_experiment("googlenet-reductions")
    reduced, naive = googlenet.arms
    for arm, parameters in ((reduced, 232_442), (naive, naive_parameters)):
        run = as_record(
            tiny_run, googlenet.run_of(arm, 42), test_accuracy=0.92, parameters=parameters
        )
        results.record(run, path)
    assert f"*naive modules* against *with 1x1 reductions*, with {said}, seed 42 only" in (
        report.summary(googlenet, path)
    )


def test_full_run_markers(tiny_run, tmp_path):
    path = tmp_path / "records"
    vgg = next(spec for spec in evidence.plan("full") if spec.model == "vgg_fashion")
    assert render_marker("full-run: vgg_fashion", path=path).startswith(
        f"No full run recorded yet: `{vgg.command}` records one."
    )
    results.record(as_record(tiny_run, vgg, test_accuracy=0.9312), path)
    marker = render_marker("full-run: vgg_fashion", path=path)
    assert "test accuracy 0.9312" in marker and "met by 0.62 points." in marker
    assert marker.rstrip().endswith('">') and "data:image/png;base64," in marker  # its curves
    table = render_marker("full-runs-table", chapters={"vgg_fashion": "vgg.md"}, path=path)
    assert "| [vgg_fashion](vgg.md) |" in table and "| 0.9312 |" in table
    assert "92.50%: met by 0.62 points |" in table
    assert "Not recorded yet: `cnn-guide train simple_cnn --recipe seed --record`" in table
    assert "`cnn-guide train alexnet_fashion --recipe book --record`" in table
    assert "resumed" not in marker
    results.record(as_record(tiny_run, vgg, test_accuracy=0.9312, resumed_after_epochs=[4]), path)
    marker = render_marker("full-run: vgg_fashion", path=path)
    assert "--recipe book --record`, stopped and resumed after epoch(s) 4." in marker
    with pytest.raises(ValueError, match="no full run named 'fast_resnet_fashion'"):
        render_marker("full-run: fast_resnet_fashion", path=path)


def test_full_run_targets():
    assert evidence.full_run_target("simple_cnn").accuracy == 0.9117
    assert evidence.full_run_target("lenet5_fashion").accuracy == 0.90
    target = evidence.full_run_target("resnet_fashion")
    assert target.accuracy == 0.925
    assert target.verdict(0.9249).endswith("92.50%, missed by 0.01 points.")


def test_a_seeded_run_has_its_own_key():
    assert RunSpec.of("nin_fashion", "book", seed=43).key != RunSpec.of("nin_fashion", "book").key


@pytest.mark.parametrize(
    ("tanh_errors", "verdict"),
    [
        ((0.08, 0.09), "the same direction and beyond the seeds' spread, so it agrees with"),
        ((0.02, 0.03), "the opposite direction and beyond the seeds' spread, so it contradicts"),
        ((0.04, 0.07), "within the seeds' spread, so it neither confirms nor contradicts"),
    ],
)
def test_reading_holds_the_measurement_against_the_paper(tiny_run, tmp_path, tanh_errors, verdict):
    # AlexNet's Figure 1: tanh trains slower, so its training error is the higher one.
    path = tmp_path / "records"
    alexnet = experiments.get_experiment("alexnet-relu")
    relu, tanh = alexnet.arms
    for arm, errors in ((relu, (0.05, 0.06)), (tanh, tanh_errors)):
        for seed, error in zip(alexnet.seeds, errors, strict=True):
            history = {**tiny_run.history, "accuracy": [0.5, 1 - error]}
            run = as_record(tiny_run, alexnet.run_of(arm, seed), test_accuracy=0.92)
            results.record(dataclasses.replace(run, history=history), path)
    moved = 100 * (sum(tanh_errors) - 0.11) / 2
    assert (
        f"**Against the paper:** {alexnet.findings[0].claim}. Here the last epoch's training "
        f"error moved {moved:+.2f} points: {verdict} the paper." in report.summary(alexnet, path)
    )


def test_no_verdict_on_one_draw(tiny_run, tmp_path):
    path = tmp_path / "records"
    senet = experiments.get_experiment("se-blocks")
    for arm in senet.arms:
        results.record(as_record(tiny_run, senet.run_of(arm, 42), test_accuracy=0.9), path)
    assert "one draw, not yet a finding." in report.summary(senet, path)
    assert "Against the paper" not in report.summary(senet, path)


def test_findings_are_checked_against_the_pairs():
    se = experiments.get_experiment("se-blocks")
    finding = se.findings[0]
    with pytest.raises(ValueError, match="2 findings for 1 compared pairs; give one per pair"):
        dataclasses.replace(se, findings=(finding, finding))
    with pytest.raises(ValueError, match="figure must be one of .* got 'top-1 error'"):
        experiments.Finding("top-1 error", +1, "a claim")
    with pytest.raises(ValueError, match=r"direction is \+1 \(higher\) or -1 \(lower\), got 0"):
        experiments.Finding("test accuracy", 0, "a claim")


@pytest.mark.parametrize("name", experiments.list_experiments())
def test_every_finding_cites_a_number_or_a_figure(name):
    for finding in experiments.get_experiment(name).findings:
        assert finding is None or any(ch.isdigit() for ch in finding.claim), finding


def test_findings_table_judges_each_paper_result(tiny_run, tmp_path):
    path = tmp_path / "records"
    assert "| se-blocks | SE-ResNet against ResNet | higher test accuracy | not fully recorded" in (
        report.render_findings(path=path)
    )
    senet = experiments.get_experiment("se-blocks")
    resnet, se_resnet = senet.arms
    accuracies = {resnet.label: (0.930, 0.932), se_resnet.label: (0.925, 0.926)}
    for arm in senet.arms:
        for seed, accuracy in zip(senet.seeds, accuracies[arm.label], strict=True):
            run = as_record(tiny_run, senet.run_of(arm, seed), test_accuracy=accuracy)
            results.record(run, path)
    table = report.render_findings({"se-blocks": "senet.md"}, path)
    assert (
        "| [se-blocks](senet.md#the-experiment-trained-in-full) | SE-ResNet against ResNet | "
        "higher test accuracy | -0.55 | 0.20 | **contradicts** |" in table
    )
    assert "Of the 1 results judged: 0 agree, 1 contradicts, 0 within the spread." in table
    assert "(lenet-1998, googlenet-reductions, fast-ablation) are not listed" in table
    assert render_marker("paper-findings", path=path).startswith("| experiment |")
