"""Budget mode: send the least-confident items to humans up to the roster's capacity, and say
which guarantee the resulting threshold actually carries (it may be weaker than the target)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from routing.scoring.certify import bound_at


@dataclass
class BudgetPlan:
    capacity: int
    to_humans: list[int]  # indexes into the scored candidates, least confident first
    threshold: float | None  # lowest score kept on the judge; None when nothing is kept
    n_calibration_kept: int = 0
    ucb: float | None = None
    delta: float = 0.1

    @property
    def guarantee(self) -> float | None:
        """Agreement the threshold carries with confidence 1 - delta on calibration data."""
        return None if self.ucb is None else 1.0 - self.ucb

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("to_humans")
        data["guarantee"] = self.guarantee
        return data


def budget_plan(scores: Sequence[float], capacity: int, *, cal_scores: np.ndarray, cal_agree: np.ndarray,
                delta: float) -> BudgetPlan:
    """Route the ``capacity`` lowest scores to humans; keep the rest on the judge."""
    order = sorted(range(len(scores)), key=lambda i: (scores[i], i))
    capacity = max(0, capacity)
    to_humans, kept = order[:capacity], order[capacity:]
    plan = BudgetPlan(capacity=capacity, to_humans=to_humans, threshold=None, delta=delta)
    if kept:
        plan.threshold = float(scores[kept[0]])
        plan.n_calibration_kept, _, plan.ucb = bound_at(cal_scores, cal_agree, plan.threshold, delta=delta)
    return plan
