"""The full runs side by side: per-class accuracy, shared mistakes, the vote and its page."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from cnn_guide.ensemble import (
    FullRunPredictions,
    agreement,
    full_run_predictions,
    majority_vote,
    per_class_accuracy,
)
from cnn_guide.evidence import FULL_RUNS
from cnn_guide.report.markers import render_marker
from cnn_guide.results import RECORDS_PATH

BOOK = RECORDS_PATH


def _toy(predictions, labels) -> FullRunPredictions:
    predictions = np.asarray(predictions)
    names = tuple(f"net{i}" for i in range(len(predictions)))
    return FullRunPredictions(names, (), predictions, np.asarray(labels), ())


def test_the_vote_breaks_ties_by_the_best_ranked_network():
    # Exercise 5: A = [0, 1, 2], B = [1, 1, 3], C = [2, 0, 3], ranked B, A, C.
    votes = np.array([[0, 1, 2], [1, 1, 3], [2, 0, 3]])
    assert majority_vote(votes, ranking=[1, 0, 2]).tolist() == [1, 1, 3]
    assert majority_vote(votes, ranking=[2, 0, 1]).tolist() == [2, 1, 3]
    with pytest.raises(ValueError, match="ranking must order all 3 networks"):
        majority_vote(votes, ranking=[0, 1])


def test_per_class_accuracy():
    labels = np.array([0, 0, 1, 1, 2])
    predictions = np.array([[0, 1, 1, 1, 2], [0, 0, 0, 0, 0]])
    assert np.allclose(per_class_accuracy(predictions, labels, 3), [[0.5, 1, 1], [1, 0, 0]])
    assert np.allclose(per_class_accuracy(predictions[0], labels, 3), [0.5, 1, 1])
    with pytest.raises(ValueError, match="4 predictions per network for 5 labels"):
        per_class_accuracy(predictions[:, :4], labels, 3)
    with pytest.raises(ValueError, match=r"classes \[3\] have no image"):
        per_class_accuracy(predictions, labels, 4)


def test_agreement_counts_unique_successes_and_shared_mistakes():
    labels = [0, 1, 2, 3, 4]
    runs = _toy([[0, 1, 9, 9, 9], [0, 1, 2, 9, 8], [0, 9, 9, 3, 7]], labels)
    together = agreement(runs)
    assert together.uniquely_right == {"net0": 0, "net1": 1, "net2": 1}
    assert together.missed_by_all.tolist() == [4]
    assert together.best == "net1" and together.best_accuracy == pytest.approx(0.6)
    # Image 2: 9 twice, 2 once, so 9; image 4: 9, 8 and 7 tie, so the best network's 8.
    assert together.vote.tolist() == [0, 1, 9, 9, 8]
    assert together.vote_accuracy == pytest.approx(0.4)


def test_the_book_full_runs_predictions_match_their_recorded_accuracies():
    runs = full_run_predictions(BOOK)
    assert len(runs.names) >= 10 and "simple_cnn" not in runs.names
    assert set(runs.names) | set(runs.missing) == set(FULL_RUNS) - {"simple_cnn"}
    for run, accuracy in zip(runs.runs, runs.accuracies, strict=True):
        assert accuracy == pytest.approx(run.test_accuracy, abs=1e-9), run.model


def test_shared_mistakes_are_far_more_than_independent_errors_would_make():
    # Exercise 4: independent errors at 7% leave all twelve wrong on ~1e-10 images, and six or
    # more wrong on fewer than one image in 10,000.
    assert 10_000 * 0.07**12 < 2e-10
    assert 10_000 * stats.binom.sf(5, 12, 0.07) < 1
    together = agreement(full_run_predictions(BOOK))
    assert len(together.missed_by_all) > 10
    assert together.vote_accuracy > min(together.accuracies)


def test_too_few_full_runs_are_refused_clearly(tmp_path):
    with pytest.raises(ValueError, match="only 0 full run"):
        full_run_predictions(tmp_path, labels=np.zeros(10, dtype=int))


def test_the_vote_marker_renders_the_recomputed_table():
    text = render_marker("full-runs-vote", chapters={"resnet_fashion": "resnet.md"}, path=BOOK)
    together = agreement(full_run_predictions(BOOK))
    assert f"**{len(together.missed_by_all):,} of the 10,000 test images are wrong" in text
    assert f"**{together.vote_accuracy:.4f} [" in text
    assert "[resnet_fashion](resnet.md)" in text
    assert f"p = {together.against_best.p_value:.2g}" in text


def test_the_home_figure_marker_draws_every_full_run(tmp_path):
    text = render_marker("full-runs-figure", path=BOOK)
    assert text.startswith('<img class="book-figure"') and "95% interval" in text
    empty = render_marker("full-runs-figure", path=tmp_path)
    assert "cnn-guide record --plan full" in empty and "<img" not in empty
    assert "cnn-guide record --plan full" in render_marker("full-runs-vote", path=tmp_path)
    assert "cnn-guide record --plan full" in render_marker("full-runs-per-class", path=tmp_path)


def test_the_per_class_marker_draws_the_table_and_the_mistakes():
    text = render_marker("full-runs-per-class", path=BOOK)
    assert text.count('<img class="book-figure"') == 2
    assert f"{len(full_run_predictions(BOOK).names)} full runs" in text
