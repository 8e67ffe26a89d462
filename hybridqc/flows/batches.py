"""Routing a batch across both apps: routing decides, the reviewer side staffs the human share.

The order is the flow's: signals, then decisions (budget mode sized by the roster's remaining
capacity, read here from ``reviewers.capacity`` and handed to routing as a number), then one
review task per human-routed or audited example. A reset before a re-route (a re-judge, new router
settings) takes back only what nobody has started on, so no reviewer's open item vanishes.
"""

from __future__ import annotations

import logging
from functools import partial

from django.db import transaction

from hybridqc.queueing import DATABASE_DOWN
from reviewers.capacity import roster_remaining_capacity
from reviewers.models import ReviewTask
from reviewers.services import review_tasks_create, review_tasks_untaken_delete
from routing.batches.events import batch_gate_inputs_changed
from routing.batches.models import Batch, Example
from routing.batches.selectors import batch_domains
from routing.batches.services import batch_status_set
from routing.batches.tasks import example_search_index_run
from routing.decisions.models import RoutingDecision
from routing.decisions.pipeline import (
    batch_decide,
    batch_decisions_reset,
    batch_examples_unrouted,
    batch_signals_prepare,
)
from routing.monitoring.input_drift import input_drift_due_at_import, input_drift_outdated
from routing.monitoring.tasks import batch_input_drift_run

log = logging.getLogger(__name__)


def batch_roster_capacity(batch: Batch) -> int | None:
    """What the roster can still review today for the batch's domains, when its mode needs it."""
    if batch.routing_mode != Batch.Mode.BUDGET:
        return None
    return roster_remaining_capacity(batch_domains(batch))


def batch_input_drift_queue(*, batch: Batch) -> None:
    """Queue the input drift test once the transaction commits. A broker that is down is logged
    and not raised: the import or routing it follows is committed and stands without it."""
    transaction.on_commit(partial(batch_input_drift_run.delay, batch.pk), robust=True)


def batch_search_index_queue(*, batch: Batch) -> None:
    """Queue the copy of the batch's prompts into the item search's index once the import commits
    (the import itself writes no trigram index). Robust like the drift test: a lost message leaves
    the batch scanned by the search, with its notice, until the beat's backfill indexes it."""
    transaction.on_commit(partial(example_search_index_run.delay, batch.pk), robust=True)


def batch_imported_drift_queue(*, batch: Batch, judgments_written: int) -> None:
    """At the end of an import: the drift test against the active router, when it is due
    (judgments to test, a router to compare with), so a batch not routed yet has it too."""
    if input_drift_due_at_import(batch, judgments_written=judgments_written):
        batch_input_drift_queue(batch=batch)


def batch_route(*, batch: Batch) -> int:
    """Compute signals, route every example not yet routed and create its review tasks.

    Idempotent and safe under concurrent deliveries: routing holds the batch's row lock and
    re-reads the unrouted examples under it, so two deliveries never route (or create review
    tasks for) the same example twice. Returns the number of examples routed.
    """
    batch_signals_prepare(batch=batch)
    with transaction.atomic():
        Batch.objects.select_for_update().filter(pk=batch.pk).first()
        examples = batch_examples_unrouted(batch)
        decisions = []
        if examples:
            decisions = batch_decide(batch=batch, examples=examples, roster_capacity=batch_roster_capacity(batch))
        human = [d.example for d in decisions if d.route == RoutingDecision.Route.HUMAN]
        audits = [d.example for d in decisions if d.audit]
        review_tasks_create(examples=human, kind=ReviewTask.Kind.ROUTED)
        review_tasks_create(examples=audits, kind=ReviewTask.Kind.AUDIT)
        batch_status_set(batch=batch, status=Batch.Status.READY)
        batch_gate_inputs_changed.send(sender=Batch, batch_id=batch.pk)
        if decisions and input_drift_outdated(batch):
            # Against the data of the router that has just routed it, unless the import measured
            # the batch against that one already.
            batch_input_drift_queue(batch=batch)
    log.info("batch %r: routed %d examples (%d human, %d audit)", batch.name, len(decisions), len(human), len(audits))
    return len(decisions)


def batch_route_or_fail(*, batch: Batch) -> int:
    """``batch_route``, but a pipeline that raises leaves the batch ``failed`` with the reason a
    lead can read (and a Retry), never ``routing`` with its page polling forever. The exception
    is raised again, so that Celery records the task as failed with its traceback."""
    try:
        return batch_route(batch=batch)
    except DATABASE_DOWN:
        raise  # transient: the task retries; the batch stays "routing" (its routing is one transaction)
    except Exception as exc:
        reason = f"routing failed: {type(exc).__name__}: {exc}"[:500]
        batch_status_set(batch=batch, status=Batch.Status.FAILED, detail=reason)
        raise


def batch_routing_reset(*, batch: Batch) -> set[int]:
    """Forget the routing of the batch's examples nobody has started on, so the next
    ``batch_route`` routes them again: their untaken routed/audit tasks and their decisions go.
    An example with a leased task or a reviewer's label keeps its decision and every task.
    Returns the ids of the examples left alone."""
    with transaction.atomic():
        started = review_tasks_untaken_delete(batch=batch)
        batch_decisions_reset(batch=batch, keep=started)
    return started


def batch_reroute(*, batch: Batch) -> int:
    """Re-route the batch's examples nobody has started on with its current settings."""
    batch_routing_reset(batch=batch)
    return batch_route(batch=batch)


def batch_drifted_slice_to_humans(*, batch: Batch) -> int:
    """Flag the drifted slice of a flagged batch (flagged items always go to humans) and route
    again what nobody has started on. Returns how many examples were flagged."""
    drift = batch.input_drift or {}
    if not drift.get("flagged"):
        return 0
    flagged = Example.objects.filter(batch=batch, pk__in=drift.get("drifted_example_ids", [])).update(flagged=True)
    batch_reroute(batch=batch)
    return flagged
