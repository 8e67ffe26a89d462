"""Budget mode's split of the capacity between groups scored apart, and the bound it reports."""

import numpy as np
import pytest

from routing.scoring.budget import BudgetScores, budget_groups_plan, capacity_shares
from routing.scoring.certify import cp_upper


def test_capacity_shares_are_proportional_with_largest_remainders():
    assert capacity_shares([30, 10], 8) == [6, 2]  # exact: 8 * 30 / 40 = 6
    assert capacity_shares([5, 5], 3) == [2, 1]  # 1.5 and 1.5: the tie goes to the earlier group
    assert capacity_shares([7, 3], 4) == [3, 1]  # 2.8 and 1.2: floors 2 + 1, the remainder to 0.8
    assert capacity_shares([4, 2], 9) == [4, 2]  # more capacity than items: every item
    assert capacity_shares([4, 2], -3) == [0, 0]


def _group(sources: str, scores: list[float | None], errors_below: float) -> BudgetScores:
    """Calibration of 100 items scored 0.01 .. 1.00, the judge wrong on those below ``errors_below``."""
    cal = np.arange(1, 101) / 100
    return BudgetScores(sources, sources + "-score", scores, cal, (cal >= errors_below).astype(int))


def test_budget_groups_plan_bounds_each_group_at_half_delta_and_weights_by_kept():
    seen = _group("with history", [0.9, 0.2, 0.6, 0.4], errors_below=0.11)
    unseen = _group("without history", [0.3, 0.95, 0.5, 0.7, None, 0.1], errors_below=0.21)
    plan = budget_groups_plan([seen, unseen], 5, delta=0.1)
    # 5 * 4 / 10 = 2 and 5 * 6 / 10 = 3
    a, b = plan.groups
    assert (a.capacity, a.to_humans, a.threshold, a.n_kept) == (2, [1, 3], 0.6, 2)
    assert (b.capacity, b.to_humans, b.threshold, b.n_kept) == (3, [4, 5, 0], 0.5, 3)  # unscored first
    assert plan.to_humans == [1, 3, 4 + 4, 4 + 5, 4 + 0]
    # calibration scores >= 0.6: 41 items, no error; >= 0.5: 51 items, no error (errors are below 0.21)
    assert (a.n_calibration_kept, a.errors, a.delta) == (41, 0, 0.05)
    assert (b.n_calibration_kept, b.errors, b.delta) == (51, 0, 0.05)
    assert (a.ucb, b.ucb) == (cp_upper(0, 41, 0.05), cp_upper(0, 51, 0.05))
    assert plan.ucb == pytest.approx((2 * a.ucb + 3 * b.ucb) / 5)
    assert (plan.threshold, plan.n_calibration_kept, plan.delta) == (None, None, 0.1)
    stored = plan.as_dict()
    assert [g["sources"] for g in stored["groups"]] == ["with history", "without history"]
    assert "to_humans" not in stored and "to_humans" not in stored["groups"][0]
    assert stored["groups"][1]["guarantee"] == 1 - b.ucb


def test_budget_groups_plan_keeps_full_delta_when_one_group_keeps_nothing():
    seen = _group("with history", [0.9, 0.2], errors_below=0.11)
    unseen = _group("without history", [None, None, 0.3], errors_below=0.21)
    plan = budget_groups_plan([seen, unseen], 1, delta=0.1)
    # shares 0.4 -> 0 and 0.6 -> 1; the unseen group has 2 unscored items: both go to humans anyway
    a, b = plan.groups
    assert (a.capacity, a.n_kept, b.capacity, b.to_humans, b.n_kept) == (0, 2, 1, [0, 1], 1)
    assert (a.delta, b.delta) == (0.05, 0.05)
    one = budget_groups_plan([seen, _group("without history", [None, 0.3], errors_below=0.21)], 2, delta=0.1)
    c, d = one.groups
    assert (c.capacity, c.n_kept, d.capacity, d.n_kept, c.delta) == (1, 1, 1, 1, 0.05)
    nothing = budget_groups_plan([seen, _group("without history", [None], errors_below=0.21)], 2, delta=0.1)
    e, f = nothing.groups
    assert (e.capacity, e.n_kept, f.n_kept, e.delta) == (1, 1, 0, 0.1)  # only one group keeps: full delta
    assert nothing.ucb == e.ucb == cp_upper(0, 11, 0.1)  # scores >= 0.9: 0.90 .. 1.00, 11 items
