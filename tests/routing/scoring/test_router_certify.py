import math

import numpy as np
import pytest

from routing.scoring.budget import budget_plan
from routing.scoring.certify import batch_p_value, bound_at, certify, cp_upper, start_kept, threshold_grid


def test_cp_upper_matches_hand_computed_values():
    assert cp_upper(0, 30, 0.1) == pytest.approx(1 - 0.1 ** (1 / 30), abs=1e-12)
    assert cp_upper(0, 10, 0.05) == pytest.approx(1 - 0.05 ** (1 / 10), abs=1e-12)
    assert cp_upper(4, 4, 0.1) == 1.0
    assert cp_upper(0, 0, 0.1) == 1.0


def test_cp_upper_n_minus_one_errors_hand_computed():
    # k = n - 1 errors: Beta.ppf(1 - delta, n, 1) = (1 - delta) ** (1 / n)
    assert cp_upper(9, 10, 0.1) == pytest.approx(0.9 ** (1 / 10), abs=1e-12)


def test_ltt_stops_at_first_failure():
    # 40 correct at 0.9, then 10 items at 0.8 with 5 errors, then 50 correct at 0.7.
    scores = np.array([0.9] * 40 + [0.8] * 10 + [0.7] * 50)
    correct = np.array([1] * 40 + [1, 0] * 5 + [1] * 50)
    cert = certify(scores, correct, alpha=0.15, delta=0.1, grid=[0.9, 0.8, 0.7])
    assert [(s.n, s.errors, s.passed) for s in cert.steps] == [(40, 0, True), (50, 5, False)]
    assert cert.threshold == 0.9
    assert cert.n_kept == 40 and cert.errors == 0
    assert cert.ucb == pytest.approx(1 - 0.1 ** (1 / 40), abs=1e-12)
    # The loosest threshold alone would pass (5 errors in 100): it must not be reached.
    assert cp_upper(5, 100, 0.1) < 0.15


def test_ltt_cold_start_keeps_nothing():
    scores = np.linspace(1, 0.5, 20)
    correct = np.array([1] * 18 + [0, 0])
    cert = certify(scores, correct, alpha=0.1, delta=0.1)
    assert cert.threshold is None
    assert cert.n_kept == 0
    assert len(cert.steps) == 1 and cert.steps[0].n == 20
    assert "upper bound" in cert.reason
    empty = certify(np.array([]), np.array([]), alpha=0.1, delta=0.1)
    assert empty.threshold is None and empty.reason == "no calibration items with a usable judge verdict"


def test_threshold_grid_starts_at_100_kept_and_skips_nan():
    scores = np.concatenate([np.linspace(1, 0, 400), [np.nan] * 5])
    grid = threshold_grid(scores)
    assert start_kept(400) == 100
    assert int((scores >= grid[0]).sum()) == 100
    assert grid == sorted(grid, reverse=True)
    assert len(grid) == 20
    assert int((scores >= grid[-1]).sum()) == 400
    assert start_kept(120) == 60 and start_kept(40) == 30 and start_kept(10) == 10


def test_budget_plan_respects_capacity_and_reports_weaker_guarantee():
    cal_scores = np.linspace(1, 0, 200)
    cal_agree = np.array([1] * 100 + [1, 0] * 50)  # the lower half is a coin flip
    scores = [0.9, 0.1, 0.5, 0.3, 0.8]
    plan = budget_plan(scores, 2, cal_scores=cal_scores, cal_agree=cal_agree, delta=0.1)
    assert sorted(plan.to_humans) == [1, 3]
    assert plan.threshold == 0.5
    n, errors, ucb = bound_at(cal_scores, cal_agree, 0.5, delta=0.1)
    assert (plan.n_calibration_kept, plan.ucb) == (n, ucb)
    assert n == 100 and errors == 0
    loose = budget_plan(scores, 0, cal_scores=cal_scores, cal_agree=cal_agree, delta=0.1)
    assert loose.to_humans == [] and loose.threshold == 0.1
    assert loose.guarantee is not None and loose.guarantee < 0.85  # weaker than a 0.9 target
    assert loose.n_calibration_kept == 180  # scores 1 - i/199 >= 0.1: i <= 179, with 40 coin-flip errors
    assert math.isclose(loose.guarantee, 1 - cp_upper(40, 180, 0.1))
    everything = budget_plan(scores, 10, cal_scores=cal_scores, cal_agree=cal_agree, delta=0.1)
    assert len(everything.to_humans) == 5 and everything.threshold is None and everything.guarantee is None


def test_batch_p_value_hand_computed():
    # 0 errors in 10 calibration items, 10 batch items, alpha 0.15: the null needs >= 2 batch errors;
    # P(no error among 10 drawn of 20 holding 2) = C(18,10) / C(20,10) = 10*9 / (20*19)
    assert batch_p_value(0, 10, 10, 0.15) == pytest.approx(90 / 380, abs=1e-12)
    assert batch_p_value(3, 10, 0, 0.15) == 0.0  # nothing kept in the batch: nothing to get wrong
    assert batch_p_value(0, 0, 5, 0.15) == 1.0


def test_certify_with_batch_scores_is_stricter_than_population_bound():
    scores = np.linspace(1, 0, 300)
    # 5% judge errors in the top half, 12.5% in the bottom half
    correct = np.array([1 if i % 20 else 0 for i in range(150)] + [1 if i % 8 else 0 for i in range(150)])
    population = certify(scores, correct, alpha=0.12, delta=0.1)
    batch = certify(scores, correct, alpha=0.12, delta=0.1, batch_scores=np.linspace(1, 0, 150))
    assert (population.threshold, population.n_kept) == (0.0, 300)
    assert batch.n_kept == 184 and batch.threshold == pytest.approx(scores[183])
    assert [s.passed for s in batch.steps][-1] is False


def test_certify_refusal_names_the_finite_batch_test_when_the_population_bound_passed():
    scores = np.linspace(1, 0, 40)
    correct = np.array([0 if i % 20 == 19 else 1 for i in range(40)])  # errors at 19 and 39
    cert = certify(scores, correct, alpha=0.15, delta=0.1, batch_scores=np.linspace(1, 0, 3))
    first = cert.steps[0]
    assert (cert.threshold, first.n, first.errors, first.passed) == (None, 30, 1, False)
    assert first.ucb <= 0.15  # the population bound alone would have certified it
    # 2 batch items kept, floor(0.15 * 2) + 1 = 1 batch error under the null: 2 errors among 32, and
    # the p-value is P(at most 1 of them among the 30 calibration items) = 1 - C(30,2)/C(32,2) = 61/496.
    assert batch_p_value(1, 30, 2, 0.15) == pytest.approx(61 / 496, abs=1e-12)
    assert cert.reason == ("the strictest threshold keeps 30 calibration items with 1 judge error: for the 2 batch "
                           "items it would keep, the finite-batch test's p-value 0.123 > delta 0.10")
