"""What the book's full runs show together: per-class accuracy, shared mistakes, a vote.

Every full run keeps the class it predicted for each of the 10,000 test
images (`cnn_guide.results.load_predictions`). Side by side, they answer
questions no single run can: which images *every* architecture gets wrong,
which ones only one architecture gets right, and whether a majority vote of
them all beats the best of them (Dietterich, 2000, "Ensemble Methods in
Machine Learning", https://doi.org/10.1007/3-540-45014-9_1). Chapter:
``docs/chapters/inspection.md``, which shows them.

Nothing here imports TensorFlow: it reads the store and counts.

```python
from cnn_guide.ensemble import agreement, full_run_predictions

runs = full_run_predictions()
together = agreement(runs)
print(together.vote_accuracy, together.best, len(together.missed_by_all))
```
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cnn_guide.data import load_test_labels
from cnn_guide.evidence import FULL_RUNS, full_run
from cnn_guide.results import find, load_predictions
from cnn_guide.runs import RunRecord
from cnn_guide.statistics import McNemar, accuracy_interval, mcnemar

__all__ = [
    "Agreement",
    "FullRunPredictions",
    "agreement",
    "full_run_predictions",
    "majority_vote",
    "per_class_accuracy",
]


@dataclass(frozen=True)
class FullRunPredictions:
    """The test predictions of every full run that kept them, in the book's order.

    Attributes:
        names: The networks, in chapter order.
        runs: Each network's recorded full run.
        predictions: ``(networks, images)``: the class each predicted for each image.
        labels: The true class of each test image.
        missing: Networks whose full run is not recorded or kept no predictions.
    """

    names: tuple[str, ...]
    runs: tuple[RunRecord, ...]
    predictions: np.ndarray
    labels: np.ndarray
    missing: tuple[str, ...]

    @property
    def correct(self) -> np.ndarray:
        """``(networks, images)``: whether each network got each image right."""
        return self.predictions == self.labels[None]

    @property
    def accuracies(self) -> np.ndarray:
        """Each network's test accuracy, from its predictions."""
        return self.correct.mean(axis=1)


def full_run_predictions(
    path: str | os.PathLike | None = None,
    *,
    labels: np.ndarray | None = None,
    exclude: Sequence[str] = ("simple_cnn",),
) -> FullRunPredictions:
    """Collect the stored test predictions of the book's full runs.

    Args:
        path: The store of runs (default: the book's).
        labels: The test labels (default: read from the Fashion-MNIST files).
        exclude: Networks left out: by default the seed notebook's simple CNN,
            which trains under its own recipe rather than the book's.

    Raises:
        ValueError: If fewer than two full runs kept predictions, or
            predictions and labels differ in length.
    """
    labels = load_test_labels(download=False) if labels is None else np.asarray(labels)
    names, runs, predictions, missing = [], [], [], []
    for name in FULL_RUNS:
        if name in exclude:
            continue
        spec = full_run(name)
        run, predicted = find(spec, path), load_predictions(spec, path)
        if run is None or predicted is None:
            missing.append(name)
            continue
        if len(predicted) != len(labels):
            raise ValueError(
                f"the full run of {name} kept {len(predicted):,} predictions for "
                f"{len(labels):,} test labels; record it again with "
                f"`cnn-guide record --plan full --models {name}`."
            )
        names.append(name)
        runs.append(run)
        predictions.append(predicted)
    if len(names) < 2:
        raise ValueError(
            f"only {len(names)} full run(s) kept predictions; comparing needs two or more. "
            "Record them with `cnn-guide record --plan full`."
        )
    return FullRunPredictions(
        names=tuple(names),
        runs=tuple(runs),
        predictions=np.stack(predictions).astype(np.int64),
        labels=labels.astype(np.int64),
        missing=tuple(missing),
    )


def per_class_accuracy(
    predictions: np.ndarray, labels: np.ndarray, num_classes: int = 10
) -> np.ndarray:
    """Each class's accuracy (its recall): the share of its images predicted as it.

    Args:
        predictions: ``(images,)`` or ``(networks, images)`` predicted classes.
        labels: ``(images,)`` true classes.
        num_classes: How many classes there are.

    Returns:
        ``(num_classes,)`` or ``(networks, num_classes)`` accuracies.

    Raises:
        ValueError: If the shapes do not match or a class has no image.
    """
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if predictions.shape[-1] != labels.shape[0]:
        raise ValueError(
            f"got {predictions.shape[-1]:,} predictions per network for {labels.shape[0]:,} labels."
        )
    counts = np.bincount(labels, minlength=num_classes)
    if (counts == 0).any():
        raise ValueError(f"classes {np.flatnonzero(counts == 0).tolist()} have no image.")
    correct = predictions == labels
    hits = np.stack(
        [np.bincount(labels, weights=row, minlength=num_classes) for row in np.atleast_2d(correct)]
    )
    result = hits / counts
    return result[0] if predictions.ndim == 1 else result


def majority_vote(
    predictions: np.ndarray, ranking: Sequence[int], num_classes: int = 10
) -> np.ndarray:
    """Each image's most voted class; a tie goes to the best-ranked network among the tied.

    Args:
        predictions: ``(networks, images)`` predicted classes.
        ranking: Network indexes, best first (e.g. by test accuracy): the
            first of them whose vote is among the tied classes breaks a tie.
        num_classes: How many classes there are.

    Returns:
        ``(images,)`` voted classes.

    Raises:
        ValueError: If ``ranking`` is not an ordering of the networks.
    """
    predictions = np.asarray(predictions)
    if sorted(ranking) != list(range(len(predictions))):
        raise ValueError(
            f"ranking must order all {len(predictions)} networks (0 to {len(predictions) - 1}), "
            f"got {list(ranking)!r}."
        )
    images = np.arange(predictions.shape[1])
    votes = np.zeros((predictions.shape[1], num_classes), dtype=np.int64)
    for row in predictions:
        np.add.at(votes, (images, row), 1)
    tied = votes == votes.max(axis=1, keepdims=True)
    vote = np.full(predictions.shape[1], -1)
    for network in ranking:
        choice = predictions[network]
        settle = (vote < 0) & tied[images, choice]
        vote[settle] = choice[settle]
    return vote


@dataclass(frozen=True)
class Agreement:
    """What the full runs' predictions show together.

    Attributes:
        names: The networks compared, in chapter order.
        accuracies: Each network's test accuracy.
        uniquely_right: For each network, the test images it alone gets right.
        missed_by_all: The indexes of the test images every network gets wrong.
        vote: The majority vote's class for each test image.
        vote_accuracy: The vote's test accuracy.
        vote_interval: Its 95% interval (Wilson's), over the test images.
        best: The most accurate single network.
        best_interval: The best network's 95% interval.
        against_best: McNemar's exact test of the vote against the best network,
            on the images one gets right and the other wrong.
    """

    names: tuple[str, ...]
    accuracies: tuple[float, ...]
    uniquely_right: dict[str, int]
    missed_by_all: np.ndarray
    vote: np.ndarray
    vote_accuracy: float
    vote_interval: tuple[float, float]
    best: str
    best_interval: tuple[float, float]
    against_best: McNemar

    @property
    def best_accuracy(self) -> float:
        """The best single network's test accuracy."""
        return self.accuracies[self.names.index(self.best)]


def agreement(runs: FullRunPredictions) -> Agreement:
    """Shared mistakes, unique successes and the majority vote of the full runs."""
    correct = runs.correct
    accuracies = correct.mean(axis=1)
    ranking = [int(index) for index in np.argsort(-accuracies, kind="stable")]
    right_count = correct.sum(axis=0)
    alone = correct & (right_count == 1)[None]
    vote = majority_vote(runs.predictions, ranking)
    vote_correct = vote == runs.labels
    best = ranking[0]
    total = len(runs.labels)
    return Agreement(
        names=runs.names,
        accuracies=tuple(float(value) for value in accuracies),
        uniquely_right={
            name: int(count) for name, count in zip(runs.names, alone.sum(axis=1), strict=True)
        },
        missed_by_all=np.flatnonzero(right_count == 0),
        vote=vote,
        vote_accuracy=float(vote_correct.mean()),
        vote_interval=accuracy_interval(int(vote_correct.sum()), total),
        best=runs.names[best],
        best_interval=accuracy_interval(int(correct[best].sum()), total),
        against_best=mcnemar(vote_correct, correct[best]),
    )
