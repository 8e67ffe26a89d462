"""Routing a batch, routing's part: confidence signals, then one decision per unrouted example.

The review tasks the decisions call for, and taking back untaken work before a re-route, belong
to the cross-app flow (``hybridqc.flows.batches``), which calls these in order."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from routing.batches.events import batch_routing_requested
from routing.batches.models import Batch, Example
from routing.batches.services import batch_status_set
from routing.decisions.models import RoutingDecision
from routing.decisions.route import batch_route_learned, batch_route_threshold
from routing.judging.signals import batch_signals_compute


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


class BatchRetryError(Exception):
    """Only a failed batch, or one whose routing never started, can be retried."""


RETRYABLE = (Batch.Status.FAILED, Batch.Status.IMPORTED)


def batch_retry(*, batch: Batch) -> None:
    """Route a failed batch again (its examples not yet routed; judgments as stored). A broker
    that is down raises kombu's OperationalError after the commit: the batch is then ``routing``
    with a fresh re-enqueue count, which the sweeper picks up."""
    with transaction.atomic():
        claimed = Batch.objects.filter(pk=batch.pk, status__in=RETRYABLE).update(
            status=Batch.Status.ROUTING, status_detail="retry requested", status_changed_at=timezone.now(),
            requeues=0)
        if not claimed:
            raise BatchRetryError(f"batch {batch.name} is {batch.status}: nothing to retry")
        batch.status = Batch.Status.ROUTING
        batch_routing_requested.send(sender=Batch, batch_id=batch.pk)
