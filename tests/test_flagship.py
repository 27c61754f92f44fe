"""cnn_guide.flagship and its page: candidates, the choice on validation, seeds, verdicts."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import as_record

from cnn_guide import comparison, evidence, flagship, models, results
from cnn_guide.report.flagship import render_flagship
from cnn_guide.report.markers import render_marker
from cnn_guide.runs import RunSpec

EPYC = {"cpu": "AMD EPYC", "cores": 2, "isa": "AVX-512 with BF16", "gpu": None}
T_SECONDS = 800.0


def _record(tiny_run, spec, path, **figures):
    run = as_record(tiny_run, spec, **figures)
    results.record(dataclasses.replace(run, machine=EPYC), path)


def _record_t(tiny_run, path):
    """A comparison of fast against seed on `EPYC` with T = `T_SECONDS`."""
    reference = comparison.reference_spec("seed")
    ips = 10 * 55_000 / T_SECONDS
    _record(tiny_run, reference, path, train_images_per_second=ips, train_size=55_000)
    comparison.record_comparison(
        comparison.Comparison(
            recipe="fast",
            against="seed",
            reference=reference.key,
            runs=(),
            machine=EPYC,
            date="2026-12-07T23:00:00+00:00",
            command="cnn-guide bench --recipe fast --against seed --record",
        ),
        path,
    )


def test_every_candidate_fits_the_parameter_cap_and_trains_the_ladders_augmentation():
    for candidate in flagship.CANDIDATES:
        model = models.build(flagship.MODEL, width=candidate.width)
        assert model.count_params() <= flagship.MAX_PARAMETERS, candidate.label
        recipe = candidate.run().resolve()
        augmentation = (recipe.flip, recipe.shift, recipe.flip_at_test)
        assert recipe.name == "book" and augmentation == (True, 2, True)
        assert recipe.epochs == candidate.epochs and recipe.seed == 42
    # Distinct runs: no two candidates share a key.
    assert len({c.run().key for c in flagship.CANDIDATES}) == len(flagship.CANDIDATES)


def test_nothing_is_chosen_until_every_candidate_is_recorded(tiny_run, tmp_path):
    path = tmp_path / "records"
    candidates = [c.run() for c in flagship.CANDIDATES]
    assert flagship.plan(path) == candidates
    assert flagship.choose(path) is None
    for spec in candidates[:-1]:
        _record(tiny_run, spec, path, valid_accuracy=0.95)
    assert flagship.choose(path) is None
    assert flagship.plan(path) == candidates
    assert "Not recorded yet" in render_flagship(path)


def test_the_validation_accuracy_chooses_and_the_test_accuracy_does_not(tiny_run, tmp_path):
    path = tmp_path / "records"
    # The first candidate has the best test accuracy, the second the best validation.
    figures = [(0.940, 0.960), (0.950, 0.945), (0.945, 0.950)]
    for candidate, (valid, test) in zip(flagship.CANDIDATES, figures, strict=True):
        _record(tiny_run, candidate.run(), path, valid_accuracy=valid, test_accuracy=test)
    chosen = flagship.CANDIDATES[1]
    assert flagship.choose(path) == chosen
    seeds = [chosen.run(seed) for seed in flagship.FLAGSHIP_SEEDS]
    assert flagship.plan(path) == [c.run() for c in flagship.CANDIDATES] + seeds[1:]
    assert flagship.flagship_runs(path) == seeds
    assert evidence.plan("flagship") == flagship.plan(path)  # the test's store is the default


def test_every_flagship_run_keeps_its_weights_and_no_other_run_does():
    candidate = flagship.CANDIDATES[0]
    assert all(evidence.keeps_weights(c.run()) for c in flagship.CANDIDATES)
    assert evidence.keeps_weights(candidate.run(44))
    assert not evidence.keeps_weights(candidate.run(45))
    assert not evidence.keeps_weights(RunSpec.of(flagship.MODEL, "book", options={"width": 32}))


@pytest.mark.parametrize(
    ("accuracies", "goal", "floor", "resnet18"),
    [
        # Mean 95.30%, interval [94.80, 95.80]: ResNet-18's 94.9% lies inside it.
        ((0.951, 0.953, 0.955), "not met", "met", "within its interval: the seeds cannot tell"),
        # Mean 95.70%, interval [95.45, 95.95].
        ((0.956, 0.957, 0.958), "met", "met", "above, beyond its interval"),
    ],
)
def test_the_page_judges_the_seeds_mean_against_the_goal_and_the_table(
    tiny_run, tmp_path, accuracies, goal, floor, resnet18
):
    path = tmp_path / "records"
    _record_t(tiny_run, path)
    chosen = flagship.CANDIDATES[0]
    for candidate in flagship.CANDIDATES:
        valid = 0.96 if candidate == chosen else 0.94
        _record(tiny_run, candidate.run(), path, valid_accuracy=valid, test_accuracy=0.95)
    # Seed 42 is the chosen candidate's own run: recorded again with its accuracy here.
    seconds = (3000.0, 3200.0, 3700.0)  # 3.75 T, 4.00 T and 4.62 T: the last is over
    for seed, accuracy, time in zip(flagship.FLAGSHIP_SEEDS, accuracies, seconds, strict=True):
        _record(
            tiny_run,
            chosen.run(seed),
            path,
            valid_accuracy=0.96,
            test_accuracy=accuracy,
            train_seconds=time,
            parameters=464_810,
        )
    page = render_marker("flagship", path=path)
    assert f"Chosen on the validation images: **{chosen.label}**" in page
    assert f"- The goal, 95.5% as the mean of 3 seeds: **{goal}**" in page
    assert f"- The floor, 95.0%: **{floor}**" in page
    assert "3.75 T (within 4.5 T)" in page and "4.62 T (**over** 4.5 T)" in page
    assert "464,810 parameters (within the 1,000,000 allowed)" in page
    assert "T = 800 s, so each run may train 60 min." in page
    assert page.count("data:image/png;base64,") == 1  # the curves
    mean = sum(accuracies) / 3
    assert f"**{mean:.2%}**" in page
    assert f"- ResNet-18, 94.9%: {resnet18}." in page
    assert "- WRN-40-4, 96.7%: below, beyond its interval." in page


def test_a_page_with_too_few_seeds_gives_no_verdict(tiny_run, tmp_path):
    path = tmp_path / "records"
    for candidate, valid in zip(flagship.CANDIDATES, (0.96, 0.95, 0.94), strict=True):
        _record(tiny_run, candidate.run(), path, valid_accuracy=valid)
    page = render_flagship(path)
    assert "Recorded so far: 1 of its 3 seeds" in page
    assert "The goal" not in page
    assert "T not measured on this machine" in page
    assert "T is not measured yet" in page


def test_evaluate_scores_the_flagships_kept_weights_with_test_time_flips(tiny_run, capsys):
    from cnn_guide.cli import main

    assert main(["evaluate", "flagship"]) == 2
    assert "the flagship is not chosen yet" in capsys.readouterr().err
    chosen = flagship.CANDIDATES[0]
    for candidate in flagship.CANDIDATES:
        valid = 0.96 if candidate == chosen else 0.94
        run = dataclasses.replace(as_record(tiny_run, candidate.run()), valid_accuracy=valid)
        # Only the chosen one keeps weights here: an untrained network of its width.
        model = models.build(flagship.MODEL, width=candidate.width) if candidate == chosen else None
        results.record(run, weights=model)
    assert main(["evaluate", "flagship", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "fast_resnet_fashion: test accuracy 0." in out
    assert "(each averaged with its mirror image, as the run was scored)" in out
    assert main(["evaluate", "flagship:43"]) == 2
    assert "the flagship's seed 43 kept no weights yet" in capsys.readouterr().err
    assert main(["evaluate", "flagship:45"]) == 2
    assert "the flagship trains with seeds 42, 43, 44, not 45" in capsys.readouterr().err
    assert main(["evaluate", "flagship:x"]) == 2
    assert "expected flagship or flagship:SEED such as flagship:43, got 'flagship:x'" in (
        capsys.readouterr().err
    )


def test_a_wider_networks_time_is_estimated_from_its_own_width_only(tiny_run, tmp_path):
    path = tmp_path / "records"
    candidate = flagship.CANDIDATES[0]
    figures = {"train_size": 55_000, "train_images_per_second": 1_000.0}
    _record(tiny_run, RunSpec.of(flagship.MODEL, "book"), path, **figures)
    assert results.estimate_minutes(candidate.run(), path) is None  # width 16 says nothing
    other = RunSpec.of(flagship.MODEL, "book", options={"width": candidate.width}, epochs=1)
    _record(tiny_run, other, path, **figures)
    minutes, speed = results.estimate_minutes(candidate.run(), path)
    assert speed.spec == other
    assert minutes == pytest.approx(candidate.epochs * 430 * 128 / 1_000 / 60)


def test_record_lists_the_candidates_and_says_which_have_no_time_estimate(capsys):
    from cnn_guide.cli import main

    assert main(["record", "--plan", "flagship", "--list"]) == 0
    out = capsys.readouterr().out
    assert out.count("missing  cnn-guide train fast_resnet_fashion") == 3
    assert "not counting 3 whose network has no recorded speed." in out
