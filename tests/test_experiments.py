"""cnn_guide.experiments and the results markers: the teaching experiments and full runs."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
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
    for arm in experiment.arms:
        # The experiment's stop rule, unless the arm changes it (a longer schedule).
        stop = {"epochs": experiment.epochs, "minutes": experiment.minutes}
        stop.update((k, v) for k, v in arm.changes.items() if k in stop)
        for seed in experiment.seeds:
            resolved = experiment.run_of(arm, seed).resolve()
            assert {k: getattr(resolved, k) for k in stop} == stop, arm.label


def test_an_experiment_has_one_stop_rule():
    nin = experiments.get_experiment("nin-head")
    with pytest.raises(ValueError, match="give epochs or minutes, one of the two"):
        dataclasses.replace(nin, minutes=1.5)
    with pytest.raises(ValueError, match="got epochs=None, minutes=None"):
        dataclasses.replace(nin, epochs=None)
    ablation = experiments.get_experiment("fast-ablation")
    assert ablation.describe_stop() == "1.5 minutes of training"
    assert nin.describe_stop() == "5 epochs"
    ladder = experiments.get_experiment("training-recipes")
    assert ladder.describe_stop() == "10 or 30 epochs, as each arm says"
    assert all(spec.resolve().epochs is None for spec in ablation.runs())


def test_experiments_are_a_plan_of_the_recorder(capsys):
    assert evidence.plan("experiments") == experiments.experiment_runs()
    assert main(["record", "--plan", "experiments", "--only", "nin-head", "--list"]) == 0
    out = capsys.readouterr().out
    nin = experiments.get_experiment("nin-head")
    assert nin.seeds == experiments.JUDGED_SEEDS  # judged against its paper: five seeds
    assert out.count("cnn-guide train nin_fashion --recipe book") == 2 * 5
    assert "--option 'head=\"dense\"'" in out and "--seed 43" in out  # quoted for a shell
    # Seed by seed: both arms' first seed (the default, unnamed) before either arm's second.
    lines = [line for line in out.splitlines() if "train nin_fashion" in line]
    seeds = [int(line.split("--seed ")[1].split()[0]) if "--seed" in line else 42 for line in lines]
    assert seeds[:4] == [nin.seeds[0]] * 2 + [nin.seeds[1]] * 2 == [42, 42, 43, 43]
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


def _record_alexnet(tiny_run, path, accuracies, errors=None):
    """Record alexnet-relu runs: each arm's test accuracy (and last training error) by seed."""
    alexnet = experiments.get_experiment("alexnet-relu")
    for arm in alexnet.arms:
        for index, (seed, accuracy) in enumerate(accuracies[arm.label].items()):
            error = errors[arm.label][index] if errors else 0.05
            curve = [0.5, 1 - error]
            history = {**tiny_run.history, "accuracy": curve, "val_accuracy": curve}
            run = as_record(
                tiny_run,
                alexnet.run_of(arm, seed),
                test_accuracy=accuracy,
                valid_accuracy=accuracy - 0.01,
                history=history,
            )
            results.record(run, path)
    return alexnet


def test_summary_tabulates_every_seed_with_the_mean_and_its_standard_error(tiny_run, tmp_path):
    path = tmp_path / "records"
    alexnet = experiments.get_experiment("alexnet-relu")
    assert "*Not recorded yet: `cnn-guide record --plan experiments --only alexnet-relu`" in (
        report.summary(alexnet, path)
    )
    _record_alexnet(tiny_run, path, {"ReLU": {42: 0.91, 43: 0.93, 44: 0.92}, "tanh": {}})
    table = report.summary(alexnet, path)
    row = next(line for line in table.splitlines() if line.startswith("| ReLU |"))
    assert "| 0.9100 (42), 0.9300 (43), 0.9200 (44) | 0.9200 ± 0.0058 | 0.9100 |" in row
    tanh = next(line for line in table.splitlines() if line.startswith("| tanh |"))
    assert "not recorded yet" in tanh and tanh.count("|") == table.splitlines()[0].count("|")
    assert "5 epochs of the book recipe per run" in table  # its epochs, stated
    assert "5 seeds per arm (42, 43, 44, 45, 46)" in table
    assert "Recorded so far: 3 of its 10 runs." in table
    page = report.render_experiment("alexnet-relu", path)
    assert (
        page.startswith("**Does ReLU train faster than tanh") and "data:image/png;base64," in page
    )
    fig = report.plot_experiment(alexnet, path)
    assert len(fig.axes[0].lines) == 3  # one line per recorded seed
    with pytest.raises(ValueError, match="no run of the experiment 'nin-head' is recorded yet"):
        report.plot_experiment(experiments.get_experiment("nin-head"), path)
    assert "What the seeds show" not in table  # not until both arms have a run


def test_summary_gives_each_difference_with_its_interval(tiny_run, tmp_path):
    path = tmp_path / "records"
    relu = {42: 0.930, 43: 0.934, 44: 0.932}
    tanh = {42: 0.900, 43: 0.905, 44: 0.902}  # three points lower: a finding at 3 seeds
    alexnet = _record_alexnet(tiny_run, path, {"ReLU": relu, "tanh": tanh})
    table = report.summary(alexnet, path)
    from cnn_guide.statistics import compare

    difference = compare(
        {s: 100 * a for s, a in relu.items()}, {s: 100 * a for s, a in tanh.items()}
    )
    assert difference.excludes_zero
    assert (
        f"- *tanh* against *ReLU*: test accuracy {difference.estimate:+.2f} points "
        f"{difference.interval()}: a finding; validation accuracy" in table
    )
    assert "last epoch's training error +0.00 points [" in table


def test_summary_cannot_tell_within_the_noise(tiny_run, tmp_path):
    path = tmp_path / "records"
    relu = {42: 0.930, 43: 0.910}
    tanh = {42: 0.925, 43: 0.905}
    alexnet = _record_alexnet(tiny_run, path, {"ReLU": relu, "tanh": tanh})
    table = report.summary(alexnet, path)
    assert "test accuracy -0.50 points [" in table and "cannot tell at 2 seeds" in table


def test_summary_has_no_verdict_on_one_seed(tiny_run, tmp_path):
    path = tmp_path / "records"
    alexnet = _record_alexnet(tiny_run, path, {"ReLU": {42: 0.93, 43: 0.94}, "tanh": {43: 0.91}})
    table = report.summary(alexnet, path)
    tanh_row = next(line for line in table.splitlines() if line.startswith("| tanh |"))
    assert "| 0.9100 (43) | 0.9100 (one seed so far) |" in tanh_row
    assert (
        "- *tanh* against *ReLU*: test accuracy: one seed so far, no spread to judge a "
        "difference against" in table
    )
    assert "One seed so far: the book **cannot tell** yet." in table


def test_mcnemar_reads_the_shared_test_images_where_predictions_were_kept(tiny_run, tmp_path):
    from cnn_guide.data import load_test_labels

    path = tmp_path / "records"
    labels = load_test_labels(download=False)
    alexnet = experiments.get_experiment("alexnet-relu")
    relu, tanh = alexnet.arms
    wrong = (labels + 1) % 10
    relu_predictions = np.where(np.arange(10_000) < 9_300, labels, wrong)  # 9,300 right
    tanh_predictions = np.where(np.arange(10_000) < 9_000, labels, wrong)  # 9,000 right
    for arm, predictions in ((relu, relu_predictions), (tanh, tanh_predictions)):
        for seed in (42, 43):
            accuracy = float(np.mean(predictions == labels))
            run = as_record(
                tiny_run, alexnet.run_of(arm, seed), test_accuracy=accuracy, test_size=10_000
            )
            results.record(run, path, predictions=predictions)
    table = report.summary(alexnet, path)
    assert (
        "On the same test images, the images only *tanh* gets right and those only *ReLU* gets "
        "right: seed 42: 0 and 300 (McNemar's exact p = "
    ) in table
    assert "(McNemar's exact p = " in table and "; seed 43: " in table


@pytest.mark.parametrize(
    ("tanh_errors", "said"),
    [
        ((0.080, 0.082, 0.081), "the interval excludes zero on the paper's side, so it **agrees**"),
        (
            (0.020, 0.021, 0.022),
            "the interval excludes zero on the other side, so it **contradicts** the paper",
        ),
        ((0.030, 0.090, 0.050), "the interval includes zero, so the book **cannot tell** at 3"),
    ],
)
def test_reading_holds_the_measurement_against_the_paper(tiny_run, tmp_path, tanh_errors, said):
    # AlexNet's Figure 1: tanh trains slower, so its training error is the higher one.
    path = tmp_path / "records"
    accuracies = {"ReLU": {42: 0.92, 43: 0.92, 44: 0.92}, "tanh": {42: 0.92, 43: 0.92, 44: 0.92}}
    errors = {"ReLU": (0.050, 0.051, 0.052), "tanh": tanh_errors}
    alexnet = _record_alexnet(tiny_run, path, accuracies, errors)
    moved = 100 * (sum(tanh_errors) - 0.153) / 3
    summary = report.summary(alexnet, path)
    assert (
        f"**Against the paper:** {alexnet.findings[0].claim}. Here the last epoch's training "
        f"error moved {moved:+.2f} points [" in summary
    )
    assert said in summary


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
    assert f"*naive modules* against *with 1x1 reductions*, with {said}: " in (
        report.summary(googlenet, path)
    )


def test_full_run_markers(tiny_run, tmp_path):
    path = tmp_path / "records"
    vgg = next(spec for spec in evidence.plan("full") if spec.model == "vgg_fashion")
    assert render_marker("full-run: vgg_fashion", path=path).startswith(
        f"No full run recorded yet: `{vgg.command}` records one."
    )
    results.record(as_record(tiny_run, vgg, test_accuracy=0.9312, test_size=10_000), path)
    marker = render_marker("full-run: vgg_fashion", path=path)
    assert "test accuracy 0.9312" in marker
    assert "Measured 93.12% [92.61%, 93.60%] on 10,000 test images: **met**." in marker
    assert marker.rstrip().endswith('">') and "data:image/png;base64," in marker  # its curves
    table = render_marker("full-runs-table", chapters={"vgg_fashion": "vgg.md"}, path=path)
    assert "| [vgg_fashion](vgg.md) |" in table and "| 0.9312 [0.9261, 0.9360] | best |" in table
    assert "| 92.50%: met |" in table
    assert "Not recorded yet: `cnn-guide train simple_cnn --recipe seed --record`" in table
    assert "`cnn-guide train alexnet_fashion --recipe book --record`" in table
    assert "resumed" not in marker
    resumed = as_record(tiny_run, vgg, test_accuracy=0.9312, resumed_after_epochs=[4])
    results.record(resumed, path)
    marker = render_marker("full-run: vgg_fashion", path=path)
    assert "--recipe book --record`, stopped and resumed after epoch(s) 4." in marker
    with pytest.raises(ValueError, match="no full run named 'fast_resnet_fashion'"):
        render_marker("full-run: fast_resnet_fashion", path=path)


def test_full_run_targets():
    assert evidence.full_run_target("simple_cnn").accuracy == 0.9117
    assert evidence.full_run_target("lenet5_fashion").accuracy == 0.90
    target = evidence.full_run_target("resnet_fashion")
    assert target.accuracy == 0.925
    assert target.outcome(0.9249, 10_000) == "within noise of the target"
    assert target.outcome(0.9320, 10_000) == "met" and target.outcome(0.9180, 10_000) == "missed"
    assert target.verdict(0.9249, 10_000) == (
        "The book's target for every modern architecture: 92.50%. Measured 92.49% "
        "[91.96%, 92.99%] on 10,000 test images: **within noise of the target**."
    )
    assert target.outcome(0.9320, 500) == "within noise of the target"  # few images: wide


def test_a_seeded_run_has_its_own_key():
    assert RunSpec.of("nin_fashion", "book", seed=43).key != RunSpec.of("nin_fashion", "book").key


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
    table = report.render_findings(path=path)
    assert (
        "| se-blocks | SE-ResNet against ResNet | higher test accuracy | 0 and 0 of 5 | "
        "one seed so far | **cannot tell** |" in table
    )
    senet = experiments.get_experiment("se-blocks")
    resnet, se_resnet = senet.arms
    accuracies = {resnet.label: (0.930, 0.932, 0.931), se_resnet.label: (0.925, 0.926, 0.924)}
    for arm in senet.arms:
        for seed, accuracy in zip(senet.seeds, accuracies[arm.label], strict=False):
            run = as_record(tiny_run, senet.run_of(arm, seed), test_accuracy=accuracy)
            results.record(run, path)
    table = report.render_findings({"se-blocks": "senet.md"}, path)
    row = next(line for line in table.splitlines() if "[se-blocks]" in line)
    assert row.startswith(
        "| [se-blocks](senet.md#the-experiment) | SE-ResNet against ResNet | "
        "higher test accuracy | 3 and 3 of 5 | -0.60 ["
    )
    assert row.endswith("| **contradicts** | 0.00066 |") or "**contradicts**" in row
    judged = sum(
        experiment.finding(index) is not None
        for experiment in map(experiments.get_experiment, experiments.list_experiments())
        for index in range(len(experiment.pairs))
    )
    assert judged >= 16
    tally = f"Of the {judged} results judged: 0 agree, 1 contradict, {judged - 1} cannot tell."
    assert tally in table
    assert f"about {0.05 * judged:.1f} would be expected by chance" in table
    assert "and leaves 1 finding (Holm p below 0.05)" in table
    assert (
        "(lenet-1998, googlenet-reductions, fast-ablation, fast-airbench) are not listed" in table
    )
    assert render_marker("paper-findings", path=path).startswith("| experiment |")


def test_tables_mark_runs_within_noise_of_the_best(tiny_run, tmp_path):
    from cnn_guide.data import load_test_labels
    from cnn_guide.report.runs import within_noise_of_best

    path = tmp_path / "records"
    labels = load_test_labels(download=False)
    wrong = (labels + 1) % 10
    runs = []
    image = np.arange(10_000)
    for model, first, last in (
        ("densenet_fashion", 0, 9_360),  # 9,360 right
        ("xception_fashion", 20, 9_370),  # 9,350 right: 20 images fewer, 10 others more
        ("nin_fashion", 0, 9_190),  # 9,190 right: 170 fewer, none more
    ):
        predictions = np.where((image >= first) & (image < last), labels, wrong)
        accuracy = float(np.mean(predictions == labels))
        run = as_record(
            tiny_run, evidence.full_run(model), test_accuracy=accuracy, test_size=10_000
        )
        results.record(run, path, predictions=predictions)
        runs.append(run)
    # McNemar: 20 images against 10 is noise; 170 all one way is not.
    assert within_noise_of_best(runs, path) == {runs[1].key: "within noise of the best"}
    table = render_marker("full-runs-table", path=path)
    assert "| best |" in table and "| within noise of the best |" in table
    # Without predictions the best's interval decides: 93.50% lies within 93.60%'s.
    bare = tmp_path / "bare"
    for run in runs:
        results.record(run, bare)
    assert within_noise_of_best(runs, bare) == {runs[1].key: "within noise of the best"}


def test_the_rule_simulation_uses_the_books_own_seed_spread(tiny_run, tmp_path):
    path = tmp_path / "records"
    with pytest.raises(ValueError, match="no experiment arm has two recorded seeds"):
        render_marker("rule-simulation", path=path)
    _record_alexnet(tiny_run, path, {"ReLU": {42: 0.930, 43: 0.936}, "tanh": {42: 0.90, 43: 0.906}})
    page = render_marker("rule-simulation", path=path)
    # Each arm's two seeds are 0.6 points apart: a standard deviation of 0.42 points.
    assert "a standard deviation of 0.42 points of test accuracy" in page
    assert "pooled over the 2 experiment arms" in page
    assert "| the spread rule (before) | 2 |" in page and "| the interval rule (now) | 5 |" in page


def test_a_timed_experiment_says_when_its_arms_ran_on_different_machines(tiny_run, tmp_path):
    path = tmp_path / "records"
    ablation = experiments.get_experiment("fast-ablation")
    first, second = ablation.arms[:2]
    here = dict(as_record(tiny_run, ablation.run_of(first, 42)).machine)
    elsewhere = {**here, "cpu": "Another CPU"}
    for arm, machine in ((first, here), (second, elsewhere)):
        results.record(as_record(tiny_run, ablation.run_of(arm, 42), machine=machine), path)
    table = report.summary(ablation, path)
    assert "measured on 2 machines" in table
    assert "**Its arms ran on different machines:**" in table
    # One machine, busy or not: no warning.
    alone = tmp_path / "alone"
    for arm, load in ((first, [0.5, 0.5, 0.5]), (second, [9.0, 9.0, 9.0])):
        machine = {**here, "load_average": load}
        results.record(as_record(tiny_run, ablation.run_of(arm, 42), machine=machine), alone)
    assert "different machines" not in report.summary(ablation, alone)


def test_the_recipe_ladder_adds_one_ingredient_per_step_and_keeps_the_others():
    from cnn_guide.recipes import get_recipe

    ladder = experiments.get_experiment("training-recipes")
    recipes = [ladder.run_of(arm, 42).resolve() for arm in ladder.arms]
    book = get_recipe("book")
    # The third step is the book recipe itself; the first two take its regularizers away.
    assert recipes[2].changes_from(book) == {}
    assert (recipes[0].weight_decay, recipes[0].label_smoothing) == (0.0, 0.0)
    for before, after, (label, step) in zip(
        recipes[:-1], recipes[1:], experiments.RECIPE_LADDER[1:], strict=True
    ):
        # Exactly the step's own fields differ from the step before; the rest carry over.
        assert after.changes_from(before) == dict(step), label
    last = recipes[-1]
    assert (last.epochs, last.flip, last.shift, last.erasing, last.mixup, last.ema) == (
        30,
        True,
        2,
        0.5,
        0.2,
        0.999,
    )
    assert last.flip_at_test and last.flip  # test-time flips only where training flipped
    assert ladder.pairs[-1] == (ladder.arms[2], ladder.arms[-1])


def test_the_per_seed_figure_shows_every_seed_and_each_arm_in_order(tiny_run, tmp_path):
    path = tmp_path / "records"
    ladder = experiments.get_experiment("training-recipes")
    with pytest.raises(ValueError, match="no run of the experiment 'training-recipes'"):
        report.plot_arm_accuracy(ladder, path)
    first, second = ladder.arms[:2]
    for arm, accuracies in ((first, (0.90, 0.91, 0.92)), (second, (0.93,))):
        for seed, accuracy in zip(ladder.seeds, accuracies, strict=False):
            run = as_record(tiny_run, ladder.run_of(arm, seed), test_accuracy=accuracy)
            results.record(run, path)
    figure = report.plot_arm_accuracy(ladder, path)
    ax = figure.axes[0]
    labels = [label.get_text().replace("\n", " ") for label in ax.get_yticklabels()]
    assert labels == [arm.label for arm in ladder.arms]
    seeds = [line for line in ax.lines if line.get_marker() == "o"]
    assert [list(line.get_xdata()) for line in seeds] == [
        pytest.approx([90.0, 91.0, 92.0]),
        pytest.approx([93.0]),
    ]
    # The first arm's mean with its t interval: 91 +- t(0.975, 2) * 0.577.
    (bars,) = [c for c in ax.collections if c.get_segments()]
    low, high = bars.get_segments()[0][:, 0]
    assert (low + high) / 2 == pytest.approx(91.0) and high - low == pytest.approx(2 * 2.4841, 1e-3)
    shown = [text.get_text() for text in ax.texts]
    assert shown.count("not recorded yet") == len(ladder.arms) - 2
