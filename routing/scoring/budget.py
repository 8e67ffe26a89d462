"""Budget mode: send the least-confident items to humans up to the roster's capacity, and say
which guarantee the resulting threshold actually carries (it may be weaker than the target).

A router that keeps a separate score for sources without history (``selection["unseen"]``)
routes two groups of items: those of sources it had, ranked by its main score and bounded on
its main calibration, and the others, ranked by the score certified routing uses for them and
bounded on that score's own calibration. The two scores are not on one scale, so the capacity
is split between the groups in proportion to their sizes (``capacity_shares``: each group sends
the same share of its items to humans) and each group sends its own least confident items.

Why not one ranking on a common scale, such as each group's calibrated error rate at an item's
score: that rate is read off the calibration labels, and the bound at the resulting thresholds
is computed on the same labels, so the thresholds would be chosen by looking at the errors they
are then bounded by, and the bound would be optimistic. A Clopper-Pearson bound at a threshold
holds when the threshold is fixed without those labels, as a capacity is; the size split uses
counts only, so each group's threshold is as label-free as the single one is.

The kept items' bound is the mean of the groups' bounds weighted by how many batch items each
keeps; each group's bound is taken at delta / G (G groups that keep something), so all of them
hold together with confidence 1 - delta (union bound) and so does their weighted mean. One group
is the plain case: its threshold, its bound at delta.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from routing.scoring.certify import bound_at


@dataclass
class BudgetScores:
    """One group's input: its batch items' scores (None: unscored, least confident) and the
    held-out calibration of the score that gave them."""

    sources: str  # "all", "with history", "without history"
    score_name: str
    scores: Sequence[float | None]
    cal_scores: np.ndarray
    cal_agree: np.ndarray


@dataclass
class BudgetGroup:
    """What budget mode did with one group, as the router panel shows it."""

    sources: str
    score_name: str
    n_items: int
    capacity: int  # its share of the roster capacity
    threshold: float | None = None  # lowest score kept on the judge; None when nothing is kept
    n_kept: int = 0  # batch items kept on the judge
    n_calibration: int = 0
    n_calibration_kept: int = 0
    errors: int = 0  # judge errors among the calibration items kept
    ucb: float | None = None
    delta: float = 0.1  # the confidence level this group's bound is at
    to_humans: list[int] = field(default_factory=list)  # indexes into its scores, least confident first

    @property
    def guarantee(self) -> float | None:
        return None if self.ucb is None else 1.0 - self.ucb

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("to_humans")
        data["guarantee"] = self.guarantee
        return data


@dataclass
class BudgetPlan:
    capacity: int
    to_humans: list[int]  # indexes into the groups' scores one after another, least confident first
    threshold: float | None  # lowest score kept on the judge (one group only); None when nothing is kept
    n_calibration_kept: int | None = 0  # None with several groups: each has its own calibration
    ucb: float | None = None
    delta: float = 0.1
    groups: list[BudgetGroup] = field(default_factory=list)

    @property
    def guarantee(self) -> float | None:
        """Agreement the kept items carry with confidence 1 - delta on calibration data."""
        return None if self.ucb is None else 1.0 - self.ucb

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k not in ("to_humans", "groups")}
        data["guarantee"] = self.guarantee
        data["groups"] = [g.as_dict() for g in self.groups]
        return data


def capacity_shares(sizes: Sequence[int], capacity: int) -> list[int]:
    """``capacity`` split in proportion to ``sizes`` (largest remainders, ties to the earlier
    group), never more than a group's size: every group sends the same share of its items."""
    total = sum(sizes)
    if capacity >= total:
        return list(sizes)
    capacity = max(0, capacity)
    exact = [capacity * s / total for s in sizes]
    shares = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(sizes)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in by_remainder[: capacity - sum(shares)]:
        shares[i] += 1
    return shares


def _n_human(scores: BudgetScores, capacity: int) -> int:
    return max(capacity, sum(s is None for s in scores.scores))


def _group_plan(scores: BudgetScores, capacity: int, delta: float) -> BudgetGroup:
    """The group's ``capacity`` lowest scores go to humans, the rest is kept; its bound at
    ``delta``. Items without a score go to humans first, even beyond the capacity (as rule-routed
    items do): no bound covers keeping them."""
    values = [-math.inf if s is None else s for s in scores.scores]
    order = sorted(range(len(values)), key=lambda i: (values[i], i))
    n_human = _n_human(scores, capacity)
    group = BudgetGroup(sources=scores.sources, score_name=scores.score_name, n_items=len(values),
                        capacity=capacity, n_calibration=int(scores.cal_scores.size), delta=delta,
                        to_humans=order[:n_human])
    kept = order[n_human:]
    if kept:
        group.threshold, group.n_kept = float(values[kept[0]]), len(kept)
        group.n_calibration_kept, group.errors, group.ucb = bound_at(scores.cal_scores, scores.cal_agree,
                                                                     group.threshold, delta=delta)
    return group


def budget_groups_plan(groups: Sequence[BudgetScores], capacity: int, *, delta: float) -> BudgetPlan:
    """Split ``capacity`` between the groups by size, route each group's least confident items
    to humans and bound what is kept (see the module docstring)."""
    capacity = max(0, capacity)
    shares = capacity_shares([len(g.scores) for g in groups], capacity)
    keeping = sum(len(g.scores) > _n_human(g, share) for g, share in zip(groups, shares, strict=True))
    parts = [_group_plan(g, share, delta / max(1, keeping)) for g, share in zip(groups, shares, strict=True)]
    offsets = np.cumsum([0] + [p.n_items for p in parts]).tolist()
    to_humans = [offsets[k] + i for k, p in enumerate(parts) for i in p.to_humans]
    plan = BudgetPlan(capacity=capacity, to_humans=to_humans, threshold=None, delta=delta, groups=parts)
    if len(parts) == 1:
        plan.threshold, plan.n_calibration_kept, plan.ucb = parts[0].threshold, parts[0].n_calibration_kept, \
            parts[0].ucb
    elif keeping:
        plan.n_calibration_kept = None
        plan.ucb = sum(p.n_kept * p.ucb for p in parts if p.ucb is not None) / sum(p.n_kept for p in parts)
    return plan


def budget_plan(scores: Sequence[float], capacity: int, *, cal_scores: np.ndarray, cal_agree: np.ndarray,
                delta: float) -> BudgetPlan:
    """Route the ``capacity`` lowest scores to humans; keep the rest on the judge (one group)."""
    return budget_groups_plan([BudgetScores("all", "", scores, cal_scores, cal_agree)], capacity, delta=delta)
