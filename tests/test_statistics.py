"""cnn_guide.statistics: the book's rule finds no effect where there is none, at its stated rate."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from cnn_guide.statistics import (
    accuracy_interval,
    compare,
    holm,
    mcnemar,
    mean_interval,
    simulate,
    summarize,
    verdict,
)


@pytest.mark.parametrize("seeds", [3, 5])
def test_the_rule_finds_an_effect_where_there_is_none_in_at_most_5_percent(seeds):
    trials = 4_000
    rate = simulate("interval", seeds, trials=trials)
    allowance = 3 * math.sqrt(0.05 * 0.95 / trials)  # the simulation's own error, 3 sigma
    assert rate <= 0.05 + allowance, rate


def test_the_rule_has_the_stated_power_against_a_one_point_difference():
    # What the results chapter states: about half the time at 3 seeds, nine in ten at 5.
    assert 0.45 < simulate("interval", 3, difference=1.0) < 0.62
    assert 0.86 < simulate("interval", 5, difference=1.0) < 0.95


def test_the_old_rule_would_not_pass_this_test():
    # "Difference of means larger than the wider max-min spread", at 2 seeds:
    # the rule the book used before. The test above must be able to fail.
    assert 0.18 < simulate("spread", 2, trials=4_000) < 0.26
    with pytest.raises(ValueError, match="a rule among interval, spread and at least 2 seeds"):
        simulate("vibes", 3)


def test_compare_is_welchs_t_with_its_interval():
    first = {42: 92.0, 43: 92.6, 44: 91.8}
    second = {42: 93.5, 43: 94.0, 44: 93.4}
    difference = compare(first, second)
    assert difference.test == "Welch's t, 3 and 3 seeds" and difference.seeds == (3, 3)
    expected = stats.ttest_ind([93.5, 94.0, 93.4], [92.0, 92.6, 91.8], equal_var=False)
    assert difference.p_value == pytest.approx(expected.pvalue)
    assert difference.estimate == pytest.approx(1.5) and difference.low < 1.5 < difference.high
    assert difference.excludes_zero and verdict(difference, +1) == "agrees"
    assert verdict(difference, -1) == "contradicts"
    close = compare(first, {45: 92.5, 46: 93.0})
    assert close.test == "Welch's t, 3 and 2 seeds" and not close.excludes_zero
    assert verdict(close, +1) == "cannot tell"
    assert compare(first, {42: 93.0}) is None  # one seed: no spread, no verdict
    assert verdict(None, +1) == "cannot tell"
    assert difference.interval() == f"[{difference.low:+.2f}, {difference.high:+.2f}]"
    flat = compare({1: 92.0, 2: 92.0}, {1: 92.0, 2: 92.0})
    assert not flat.excludes_zero  # no spread at all: no finding


def test_summaries_mcnemar_wilson_and_holm():
    arm = summarize([92.0, 92.6, 91.8])
    assert arm.mean == pytest.approx(92.1333, abs=1e-4) and arm.seeds == 3
    assert arm.standard_error == pytest.approx(stats.sem([92.0, 92.6, 91.8]))
    assert summarize([92.0]).standard_error is None
    with pytest.raises(ValueError, match="at least one seed"):
        summarize([])
    first = np.array([True] * 90 + [False] * 10)
    second = np.array([True] * 80 + [False] * 20)
    test = mcnemar(first, second)
    assert (test.only_first, test.only_second) == (10, 0)
    assert test.p_value == pytest.approx(stats.binomtest(10, 10).pvalue)
    assert mcnemar(first, first).p_value == 1.0
    with pytest.raises(ValueError, match="same images"):
        mcnemar(first, second[:50])
    low, high = accuracy_interval(9_300, 10_000)
    assert low < 0.93 < high and high - low == pytest.approx(2 * 1.96 * 0.00255, rel=0.02)
    with pytest.raises(ValueError, match="correct <= total"):
        accuracy_interval(11, 10)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_the_mean_interval_is_students_t_over_the_seeds():
    values = [0.951, 0.953, 0.958]
    mean, low, high = mean_interval(values)
    expected = stats.t.interval(0.95, 2, loc=np.mean(values), scale=stats.sem(values))
    assert mean == pytest.approx(np.mean(values))
    assert (low, high) == pytest.approx(expected)
    assert mean_interval([0.9]) == (0.9, 0.9, 0.9)
    with pytest.raises(ValueError, match="at least one seed"):
        mean_interval([])
