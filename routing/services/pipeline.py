"""The batch pipeline: judge -> confidence signals -> route -> review tasks."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from reviewers.models import ReviewTask
from reviewers.services import review_tasks_create
from routing.events import batch_gate_inputs_changed
from routing.models import Batch, Example, RoutingDecision
from routing.selectors import batch_examples_started

from .route import batch_route_learned, batch_route_threshold
from .signals import batch_signals_compute

log = logging.getLogger(__name__)

# What a reset may take back: the routing's own tasks, while nobody has taken them.
RESET_KINDS = [ReviewTask.Kind.ROUTED, ReviewTask.Kind.AUDIT]
RESET_STATUSES = [ReviewTask.Status.OPEN, ReviewTask.Status.UNSTAFFED]


# Stages a worker is expected to move on from; the sweeper watches them.
BUSY_STATUSES = (Batch.Status.IMPORTED, Batch.Status.JUDGING, Batch.Status.ROUTING)


def batch_status_set(*, batch: Batch, status: str, detail: str = "") -> None:
    """Record the batch's pipeline stage and when it was entered. The sweeper's re-enqueue count
    starts again only when the batch reaches a resting stage, so a stage that keeps dying is
    re-enqueued a bounded number of times."""
    updates: dict[str, object] = {"status": status, "status_detail": detail, "status_changed_at": timezone.now()}
    if status not in BUSY_STATUSES:
        updates["requeues"] = 0
    Batch.objects.filter(pk=batch.pk).update(**updates)
    batch.status, batch.status_detail = status, detail


def batch_examples_unrouted(batch: Batch) -> list[Example]:
    return list(batch.examples.filter(decision__isnull=True).select_related("domain"))


def _signals_compute(batch: Batch, examples: list[Example]) -> None:
    judges = set(batch.examples.values_list("judgments__judge", flat=True).distinct()) - {None}
    for judge in sorted(judges):
        batch_signals_compute(examples=examples, judge=judge)


def _decide(batch: Batch, examples: list[Example]) -> list[RoutingDecision]:
    if batch.routing_mode == Batch.Mode.THRESHOLD:
        return batch_route_threshold(batch=batch, examples=examples)
    decisions, _ = batch_route_learned(batch=batch, examples=examples)  # certified or budget (#4)
    return decisions


def batch_routing_reset(*, batch: Batch) -> set[int]:
    """Forget the routing of the batch's examples nobody has started on, so the next
    ``batch_route`` routes them again: delete their decisions and their routed/audit tasks not
    yet taken (open or unstaffed). An example with a leased task or a reviewer's label keeps its
    decision and every task, so no reviewer's open item vanishes under them. Returns the ids of
    the examples left alone."""
    with transaction.atomic():
        # Lock the untaken tasks before reading who has started: a claim skips locked rows, and
        # a claim that locked one first has made it leased by then, so its example is left alone.
        untaken = list(
            ReviewTask.objects.select_for_update(of=("self",))
            .filter(example__batch=batch, kind__in=RESET_KINDS, status__in=RESET_STATUSES)
            .values_list("pk", flat=True)
        )
        started = batch_examples_started(batch)
        ReviewTask.objects.filter(pk__in=untaken).exclude(example_id__in=started).delete()
        RoutingDecision.objects.filter(example__batch=batch).exclude(example_id__in=started).delete()
    return started


def batch_route_or_fail(*, batch: Batch) -> int:
    """``batch_route``, but a pipeline that raises leaves the batch ``failed`` with the reason a
    lead can read (and a Retry), never ``routing`` with its page polling forever."""
    try:
        return batch_route(batch=batch)
    except Exception as exc:
        log.exception("batch %r: routing failed", batch.name)
        reason = f"routing failed: {type(exc).__name__}: {exc}"[:500]
        batch_status_set(batch=batch, status=Batch.Status.FAILED, detail=reason)
        return 0


def batch_route(*, batch: Batch) -> int:
    """Compute signals, route every example not yet routed and create its review tasks.

    Idempotent and safe under concurrent deliveries: routing holds the batch's row lock and
    re-reads the unrouted examples under it, so two deliveries never route (or create review
    tasks for) the same example twice. Returns the number of examples routed.
    """
    pending = batch_examples_unrouted(batch)
    if pending:
        batch_status_set(batch=batch, status=Batch.Status.ROUTING)
        _signals_compute(batch, pending)  # upserts: harmless if another delivery does it too
    with transaction.atomic():
        Batch.objects.select_for_update().filter(pk=batch.pk).first()
        examples = batch_examples_unrouted(batch)
        decisions = _decide(batch, examples) if examples else []
        human = [d.example for d in decisions if d.route == RoutingDecision.Route.HUMAN]
        audits = [d.example for d in decisions if d.audit]
        review_tasks_create(examples=human, kind=ReviewTask.Kind.ROUTED)
        review_tasks_create(examples=audits, kind=ReviewTask.Kind.AUDIT)
        batch_status_set(batch=batch, status=Batch.Status.READY)
        batch_gate_inputs_changed.send(sender=Batch, batch_id=batch.pk)
    log.info("batch %r: routed %d examples (%d human, %d audit)", batch.name, len(decisions), len(human), len(audits))
    return len(decisions)


class BatchRetryError(Exception):
    """Only a failed batch, or one whose routing never started, can be retried."""


RETRYABLE = (Batch.Status.FAILED, Batch.Status.IMPORTED)


def batch_retry(*, batch: Batch) -> None:
    """Route a failed batch again (its examples not yet routed; judgments as stored). A broker
    that is down raises kombu's OperationalError after the commit: the batch is then ``routing``
    with a fresh re-enqueue count, which the sweeper picks up."""
    from routing.tasks import batch_pipeline_run  # the tasks module imports this one

    with transaction.atomic():
        claimed = Batch.objects.filter(pk=batch.pk, status__in=RETRYABLE).update(
            status=Batch.Status.ROUTING, status_detail="retry requested", status_changed_at=timezone.now(),
            requeues=0)
        if not claimed:
            raise BatchRetryError(f"batch {batch.name} is {batch.status}: nothing to retry")
        batch.status = Batch.Status.ROUTING
        batch_pipeline_run.delay_on_commit(batch.pk)
