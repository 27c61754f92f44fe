"""How the book judges a difference between runs: intervals, paired tests, and a family.

Every verdict on the book's pages comes from here, and every computation is
scipy's (`scipy.stats`): nothing statistical is written by hand but Holm's
step-down, which is three lines.

* Over seeds: an arm's mean and its standard error (`summarize`); the
  difference of two arms' means with its 95% interval (`compare`), by
  Welch's t test.
* Over test images: two runs scored on the same 10,000 images differ by the
  images one gets right and the other wrong; McNemar's exact test
  (`mcnemar`) asks whether those discordant images split unevenly. A test
  accuracy's own interval is Wilson's (`accuracy_interval`).
* A family of comparisons: Holm's method (`holm`) keeps the chance of any
  false finding among them at 5%.
* Two populations of networks (a design space's sampled models, one run
  each): their error distributions (`edf`) and the Kolmogorov-Smirnov
  two-sample test of whether they differ (`ks_two_sample`).

The rule (`verdict`): a difference is a finding only when its 95% interval
excludes zero; otherwise the page says it *cannot tell at N seeds*, with the
interval. Simulated on arms with no true difference, the rule declares a
finding in 5% of cases (`tests/test_statistics.py`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "LEVEL",
    "RULES",
    "ArmSummary",
    "Difference",
    "KolmogorovSmirnov",
    "McNemar",
    "accuracy_interval",
    "compare",
    "edf",
    "holm",
    "ks_two_sample",
    "mcnemar",
    "mean_interval",
    "simulate",
    "summarize",
    "verdict",
]

LEVEL = 0.95
"""The confidence level of every interval the book shows."""


@dataclass(frozen=True)
class ArmSummary:
    """One arm's figure over its seeds.

    Attributes:
        values: The figure for each seed, in seed order.
        mean: Their mean.
        standard_error: The standard error of the mean (``None`` for one seed).
    """

    values: tuple[float, ...]
    mean: float
    standard_error: float | None

    @property
    def seeds(self) -> int:
        """How many seeds the arm has."""
        return len(self.values)


def summarize(values: Sequence[float]) -> ArmSummary:
    """The mean of an arm's seeds and its standard error.

    Raises:
        ValueError: For no values.
    """
    if len(values) == 0:
        raise ValueError("an arm needs at least one seed's value to summarize.")
    array = np.asarray(values, dtype=float)
    error = float(stats.sem(array)) if len(array) > 1 else None
    return ArmSummary(tuple(float(v) for v in array), float(array.mean()), error)


def mean_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """The mean of some seeds' figures and its 95% interval (Student's t over the seeds).

    Returns:
        ``(mean, low, high)``; for one value the interval is that value alone.

    Raises:
        ValueError: For no values.
    """
    summary = summarize(values)
    if summary.standard_error is None:
        return summary.mean, summary.mean, summary.mean
    half = float(stats.t.ppf(0.5 + LEVEL / 2, summary.seeds - 1)) * summary.standard_error
    return summary.mean, summary.mean - half, summary.mean + half


@dataclass(frozen=True)
class Difference:
    """The second arm's mean minus the first's, with its interval and its test.

    Attributes:
        estimate: The difference of the means.
        low: The interval's lower end (`LEVEL`).
        high: Its upper end.
        p_value: The two-sided p-value of "no difference".
        test: The test, in words, e.g. ``"Welch's t, 3 and 3 seeds"``.
        seeds: The seeds of each arm that entered the test.
    """

    estimate: float
    low: float
    high: float
    p_value: float
    test: str
    seeds: tuple[int, int]

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies wholly on one side of zero: a finding."""
        return self.low > 0 or self.high < 0

    def interval(self, digits: int = 2) -> str:
        """The interval in words, e.g. ``"[-0.31, +0.12]"``."""
        return f"[{self.low:+.{digits}f}, {self.high:+.{digits}f}]"


def compare(first: Mapping[int, float], second: Mapping[int, float]) -> Difference | None:
    """The difference of two arms' means (second minus first) over their seeds: Welch's t.

    Welch's test assumes neither equal spreads nor pairs: two arms trained
    with the same seed share the data order but not their initial weights,
    and at 3 to 5 seeds a paired test's fewer degrees of freedom would cost
    more power than the little correlation buys.

    Args:
        first: The first arm's figure by seed.
        second: The second arm's figure by seed.

    Returns:
        The difference, or ``None`` while an arm has fewer than two seeds
        (no spread to judge a difference against). Arms with no spread at
        all leave the interval undefined (NaN): no finding.
    """
    if len(first) < 2 or len(second) < 2:
        return None
    a = np.array(list(second.values()), dtype=float)
    b = np.array(list(first.values()), dtype=float)
    with warnings.catch_warnings():  # identical values: t is undefined, the NaN says so
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.ttest_ind(a, b, equal_var=False)
        interval = result.confidence_interval(confidence_level=LEVEL)
    return Difference(
        estimate=float(a.mean() - b.mean()),
        low=float(interval.low),
        high=float(interval.high),
        p_value=float(result.pvalue),
        test=f"Welch's t, {len(b)} and {len(a)} seeds",
        seeds=(len(b), len(a)),
    )


def verdict(difference: Difference | None, direction: int) -> str:
    """What a difference says about a paper's finding that the figure moves ``direction``.

    Returns:
        ``"agrees"`` or ``"contradicts"`` when the interval excludes zero
        (on the paper's side, or the other), else ``"cannot tell"``.
    """
    if difference is None or not difference.excludes_zero:
        return "cannot tell"
    return "agrees" if (difference.estimate > 0) == (direction > 0) else "contradicts"


@dataclass(frozen=True)
class McNemar:
    """Two runs on the same test images: the images only one of them gets right.

    Attributes:
        only_first: Images the first run gets right and the second wrong.
        only_second: Images the second gets right and the first wrong.
        p_value: McNemar's exact two-sided p-value (a binomial test of the
            discordant images against an even split).
    """

    only_first: int
    only_second: int
    p_value: float


def mcnemar(first_correct: np.ndarray, second_correct: np.ndarray) -> McNemar:
    """McNemar's exact test of two runs scored on the same images.

    Args:
        first_correct: Whether the first run got each image right.
        second_correct: The same for the second run, image by image.

    Raises:
        ValueError: For arrays of different lengths.
    """
    a, b = np.asarray(first_correct, bool), np.asarray(second_correct, bool)
    if a.shape != b.shape:
        raise ValueError(
            f"McNemar's test pairs the same images: got {a.shape[0]} and {b.shape[0]} results."
        )
    only_first, only_second = int(np.sum(a & ~b)), int(np.sum(~a & b))
    discordant = only_first + only_second
    p = stats.binomtest(only_first, discordant, 0.5).pvalue if discordant else 1.0
    return McNemar(only_first, only_second, float(p))


def accuracy_interval(correct: int, total: int) -> tuple[float, float]:
    """Wilson's interval (`LEVEL`) for an accuracy of ``correct`` out of ``total`` images.

    Raises:
        ValueError: For no images, or more correct than total.
    """
    if total < 1 or not 0 <= correct <= total:
        raise ValueError(f"an accuracy needs 0 <= correct <= total, total >= 1: {correct}/{total}.")
    interval = stats.binomtest(correct, total).proportion_ci(LEVEL, method="wilson")
    return float(interval.low), float(interval.high)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values: each below 0.05 is a finding of the family at 5%.

    Holm (1979), "A simple sequentially rejective multiple test procedure".
    """
    order = np.argsort(p_values)
    adjusted = np.empty(len(p_values))
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted.tolist()


RULES = ("interval", "spread")
"""The rules `simulate` knows: the book's interval rule (`verdict`), and the rule it
replaced, which called a difference of means a finding when it was larger than the
wider of the two arms' spreads (largest minus smallest seed)."""


def simulate(
    rule: str,
    seeds: int,
    *,
    difference: float = 0.0,
    spread: float = 0.4,
    trials: int = 2_000,
    seed: int = 2026,
) -> float:
    """How often a rule declares a finding between two simulated arms.

    Each trial draws both arms' seeds from normal distributions with the
    same standard deviation ``spread`` (the book's seed-to-seed spread, in
    points) and means ``difference`` apart. With ``difference=0`` the result
    is the rule's false-finding rate; with a true difference, its power.

    Args:
        rule: One of `RULES`.
        seeds: Seeds per arm.
        difference: The true difference of the arms' means, in points.
        spread: The seed-to-seed standard deviation, in points.
        trials: Simulated experiments.
        seed: The simulation's own random seed (the result is reproducible).

    Raises:
        ValueError: For an unknown rule, or fewer than two seeds.
    """
    if rule not in RULES or seeds < 2:
        raise ValueError(
            f"simulate needs a rule among {', '.join(RULES)} and at least 2 seeds, "
            f"got {rule!r} and {seeds}."
        )
    rng = np.random.default_rng(seed)
    found = 0
    for _ in range(trials):
        first = rng.normal(0.0, spread, seeds)
        second = rng.normal(difference, spread, seeds)
        if rule == "spread":
            found += abs(second.mean() - first.mean()) > max(np.ptp(first), np.ptp(second))
        else:
            result = compare(dict(enumerate(first)), dict(enumerate(second)))
            found += result is not None and result.excludes_zero
    return found / trials


def edf(values: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """The empirical distribution function of ``values``, as steps to draw.

    Radosavovic et al. (2019, 2020) compare design spaces by the EDF of their
    sampled models' errors: ``F(e)`` is the fraction of models with error
    below ``e``. Computed by `scipy.stats.ecdf`.

    Returns:
        ``(x, F)``: the sorted distinct values and the fraction of values at
        or below each.

    Raises:
        ValueError: For no values.
    """
    if len(values) == 0:
        raise ValueError("an empirical distribution needs at least one value, got none.")
    result = stats.ecdf(np.asarray(values, dtype=float)).cdf
    return np.asarray(result.quantiles), np.asarray(result.probabilities)


@dataclass(frozen=True)
class KolmogorovSmirnov:
    """The Kolmogorov-Smirnov two-sample test of two populations.

    Attributes:
        statistic: The largest vertical gap between the two EDFs, ``D``.
        p_value: The two-sided p-value (exact for small samples).
        sizes: The number of values in each population.
    """

    statistic: float
    p_value: float
    sizes: tuple[int, int]


def ks_two_sample(first: Sequence[float], second: Sequence[float]) -> KolmogorovSmirnov:
    """Whether two populations' values come from one distribution (`scipy.stats.ks_2samp`).

    Radosavovic et al. (2019), "On Network Design Spaces for Visual
    Recognition", https://arxiv.org/abs/1905.13214, use it to tell whether two
    design spaces' error EDFs differ.

    Raises:
        ValueError: Unless each population has at least one value.
    """
    if len(first) == 0 or len(second) == 0:
        raise ValueError(
            "the Kolmogorov-Smirnov test needs values in both populations, got "
            f"{len(first)} and {len(second)}."
        )
    result = stats.ks_2samp(np.asarray(first, float), np.asarray(second, float))
    return KolmogorovSmirnov(
        float(result.statistic), float(result.pvalue), (len(first), len(second))
    )
