"""Routing a batch, routing's part: confidence signals, then one decision per unrouted example.

The review tasks the decisions call for, and taking back untaken work before a re-route, belong
to the cross-app flow (``hybridqc.flows.batches``), which calls these in order."""

from __future__ import annotations

from django.db import transaction

from routing.models import Batch, Example, RoutingDecision

from .route import batch_route_learned, batch_route_threshold
from .signals import batch_signals_compute


def batch_status_set(*, batch: Batch, status: str, detail: str = "") -> None:
    """Record the batch's pipeline stage."""
    Batch.objects.filter(pk=batch.pk).update(status=status, status_detail=detail)
    batch.status, batch.status_detail = status, detail


def batch_examples_unrouted(batch: Batch) -> list[Example]:
    return list(batch.examples.filter(decision__isnull=True).select_related("domain"))


def batch_signals_prepare(*, batch: Batch) -> None:
    """Compute the confidence signals of every judge for the examples not yet routed. Upserts:
    harmless if another delivery does it too."""
    pending = batch_examples_unrouted(batch)
    if not pending:
        return
    batch_status_set(batch=batch, status=Batch.Status.ROUTING)
    judges = set(batch.examples.values_list("judgments__judge", flat=True).distinct()) - {None}
    for judge in sorted(judges):
        batch_signals_compute(examples=pending, judge=judge)


def batch_decide(*, batch: Batch, examples: list[Example], roster_capacity: int | None) -> list[RoutingDecision]:
    """Route these examples with the batch's mode; stores the decisions and their run.
    ``roster_capacity`` (what the roster can still review today) sizes budget mode's human share."""
    if batch.routing_mode == Batch.Mode.THRESHOLD:
        return batch_route_threshold(batch=batch, examples=examples)
    return batch_route_learned(batch=batch, examples=examples, roster_capacity=roster_capacity)


def batch_decisions_reset(*, batch: Batch, keep: set[int]) -> int:
    """Delete the batch's routing decisions except those of the ``keep`` example ids, so the next
    routing decides those examples again. Returns how many were deleted."""
    with transaction.atomic():
        deleted, _ = RoutingDecision.objects.filter(example__batch=batch).exclude(example_id__in=keep).delete()
    return deleted
