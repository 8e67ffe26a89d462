"""Dated batches with reviewed audits and routed items, labelled by hand, for trends tests."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from hybridqc.flows.batches import batch_route
from reviewers.models import HumanLabel, ReviewTask
from reviewers.services import example_reference_refresh
from routing.batches.models import Batch
from routing.decisions.models import RoutingDecision
from tests import factories

KEPT = [{"judge": "judge-x", "order": "ab", "choice": 1}, {"judge": "judge-x", "order": "ba", "choice": 1}]
UNSURE = [{"judge": "judge-x", "choice": 1}, {"judge": "judge-x", "choice": 1}, {"judge": "judge-x", "choice": 2}]


def label(example, choice: int, kind: str) -> None:
    task, _ = ReviewTask.objects.get_or_create(example=example, kind=kind, defaults={"status": "open"})
    HumanLabel.objects.create(example=example, task=task, source="review", choice=choice)
    example_reference_refresh(example_ids=[example.pk])  # as every service writing a review label does
    ReviewTask.objects.filter(pk=task.pk).update(status=ReviewTask.Status.DONE)


def dated_batch(
    name: str, day: str, *, kept: int, unsure: int, audit_labels: Sequence[int], routed_labels: Sequence[int],
    audit_probabilities: Sequence[float | None] | None = None, domain: str = "test/general",
    extra: Sequence[dict] = (), fields: dict[int, dict] | None = None,
) -> Batch:
    """``kept`` items the judge keeps (verdict 1), ``unsure`` it routes to humans (verdict 1);
    the first len(audit_labels) kept items are audited and labelled, then the routed ones.
    ``extra`` items follow (with their own judgments); ``fields`` overrides fields of item i."""
    items = [factories.pairwise_item(i, judgments=KEPT, domain=domain) for i in range(kept)]
    items += [factories.pairwise_item(i, judgments=UNSURE, domain=domain) for i in range(kept, kept + unsure)]
    items += [factories.pairwise_item(kept + unsure + i, domain=domain, **it) for i, it in enumerate(extra)]
    for i, over in (fields or {}).items():
        items[i].update(over)
    batch = factories.batch(name, items=items, audit_rate=0.0, audit_min_per_domain=0,
                            date=datetime.date.fromisoformat(day)).batch
    batch_route(batch=batch)
    decisions = RoutingDecision.objects.filter(example__batch=batch).order_by("example__line_number")
    audited = [d for d in decisions if d.route == "judge"][: len(audit_labels)]
    probabilities = audit_probabilities or [None] * len(audited)
    for d, choice, p in zip(audited, audit_labels, probabilities, strict=True):
        RoutingDecision.objects.filter(pk=d.pk).update(audit=True, audit_probability=p)
        label(d.example, choice, "audit")
    routed = [d for d in decisions if d.route == "human"][: len(routed_labels)]
    for d, choice in zip(routed, routed_labels, strict=True):
        label(d.example, choice, "routed")
    return batch
