"""The agreement rule has one definition: the control center's rates, the trends' SQL, the decision
filter, ``labels_agree``, the judge's vote share and the candidates' agreement with the reference
all follow ``routing.batches.verdicts.RATING_TOLERANCE``, so changing it changes every consumer."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

from dashboard.aggregates import rates_by_batch
from dashboard.filters_items import BatchDecisionFilter
from dashboard.trends import trend_periods
from hybridqc.flows.batches import batch_route
from reviewers.models import HumanLabel, ReviewTask
from reviewers.services import example_reference_refresh
from routing.batches import verdicts
from routing.batches.models import Batch
from routing.decisions.models import RoutingDecision
from routing.judging.models import Judgment
from routing.judging.signals import signals_from
from routing.monitoring import metrics
from routing.scoring.candidates import Stage, agreement
from tests import factories

REVIEWER_RATINGS = [7.5, 6.0, 7.0]  # the judge rates 7 each time


@pytest.fixture
def rated(db) -> Batch:
    batch = factories.batch("rated", items=[factories.rating_item(i) for i in range(3)],
                            date=datetime.date(2026, 4, 2)).batch
    batch_route(batch=batch)
    decisions = RoutingDecision.objects.filter(example__batch=batch).order_by("example__line_number")
    for d, rating in zip(decisions, REVIEWER_RATINGS, strict=True):
        RoutingDecision.objects.filter(pk=d.pk).update(route="judge", audit=True, audit_probability=None,
                                                       judge_rating=7.0)
        task = ReviewTask.objects.create(example=d.example, kind="audit", status="done")
        HumanLabel.objects.create(example=d.example, task=task, source="review", rating=rating)
    example_reference_refresh(example_ids=[d.example_id for d in decisions])
    return batch


def _consumers(batch: Batch) -> tuple[list[float], tuple[float, int], tuple[int, int], list[bool]]:
    """What each consumer counts as agreeing with the judge's 7: the filter's ratings, the trends'
    agreement, the control center's hits, ``labels_agree`` per rating."""
    decisions = RoutingDecision.objects.filter(example__batch=batch)
    agreeing = BatchDecisionFilter({"agreement": "agree"}, queryset=decisions).qs
    by_filter = sorted(d.example.reviewed_reference for d in agreeing.select_related("example"))
    [period] = trend_periods(by="month")
    by_trends = (period["audit_agreement"], period["audit_agreement_n"])
    agreement, _ = rates_by_batch([batch.pk])[batch.pk]
    by_python = [bool(metrics.labels_agree("rating", r, 7.0)) for r in REVIEWER_RATINGS]
    return by_filter, by_trends, (agreement.hits, agreement.n), by_python


@pytest.mark.parametrize(("tolerance", "agreeing", "python"), [
    (0.5, [7.0, 7.5], [True, False, True]),  # the rule as it is: within half a point, ends included
    (1.0, [6.0, 7.0, 7.5], [True, True, True]),
    (0.25, [7.0], [False, False, True]),
])
def test_changing_the_rating_tolerance_changes_every_consumer(rated, monkeypatch, tolerance, agreeing, python):
    monkeypatch.setattr(verdicts, "RATING_TOLERANCE", tolerance)
    by_filter, by_trends, by_control_center, by_python = _consumers(rated)
    assert by_filter == agreeing
    assert by_trends == (len(agreeing) / 3, 3)
    assert by_control_center == (len(agreeing), 3)
    assert by_python == python
    # The same ratings as three judge votes: their median is 7, and the vote share is the share
    # within the tolerance of it; as the router's references, the agreement of a verdict of 7.
    votes = [Judgment(judge="j", rating=r, sample=i) for i, r in enumerate(REVIEWER_RATINGS)]
    assert signals_from(votes, "rating").vote_share == len(agreeing) / 3
    stage = Stage(score=np.ones(3), verdict=np.full(3, 7.0))
    assert agreement(stage, np.array(REVIEWER_RATINGS), ["rating"] * 3).tolist() == [int(p) for p in python]
