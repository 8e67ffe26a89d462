"""The sweeper's routing half: judge runs and batches that stopped making progress.

A run or batch stage that has not moved for the stale interval is re-enqueued (its message may
have been lost: broker down at enqueue, Redis restarted, a worker killed); after
SWEEP_MAX_REQUEUES re-enqueues without progress it is failed with the reason, so a lead sees it
and can retry. Every step is a conditional UPDATE on the state it found, so two sweepers (beat
and the ``sweep`` command) never both re-enqueue the same thing."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F

from routing.batches.events import batch_routing_requested
from routing.batches.models import Batch, Example
from routing.batches.services import BUSY_STATUSES, batch_status_set
from routing.judging.judge_runs import judge_chunks_enqueue
from routing.judging.models import JudgeRun, Judgment
from routing.judging.services import ACTIVE_RUN, judge_run_fail, judge_run_progress, verdict_requests

log = logging.getLogger(__name__)


@dataclass
class RoutingSweep:
    runs_requeued: int = 0
    runs_failed: int = 0
    batches_requeued: int = 0
    batches_failed: int = 0


def max_requeues() -> int:
    return int(getattr(settings, "SWEEP_MAX_REQUEUES", 3))


def run_pending_ids(run: JudgeRun) -> list[int]:
    """The run's examples with a verdict still to ask (what its lost chunks had to do)."""
    config = run.judge_config
    if config is None:
        return []
    examples = list(Example.objects.filter(batch_id=run.batch_id).order_by("pk"))
    stored = frozenset(Judgment.objects.filter(example__batch_id=run.batch_id, judge=config.key)
                       .values_list("example_id", "variant", "order", "sample"))
    return sorted({r.example_id for r in verdict_requests(config, examples, skip=stored)})


def _run_sweep(run: JudgeRun, now: datetime, tally: RoutingSweep) -> None:
    if run.requeues >= max_requeues():
        if judge_run_fail(run=run, reason=f"no progress after {run.requeues} re-enqueues by the sweeper"):
            tally.runs_failed += 1
        return
    pending = run_pending_ids(run)
    if not pending:
        judge_run_progress(run=run)  # every verdict is stored: this finishes the run
        return
    with transaction.atomic():
        taken = JudgeRun.objects.filter(pk=run.pk, status__in=ACTIVE_RUN, requeues=run.requeues).update(
            requeues=F("requeues") + 1, progressed_at=now)
        if taken:
            judge_chunks_enqueue(run=run, example_ids=pending)
            tally.runs_requeued += 1


def judge_runs_sweep(*, stale_before: datetime, now: datetime, tally: RoutingSweep) -> None:
    stalled = JudgeRun.objects.select_related("judge_config").filter(status__in=ACTIVE_RUN,
                                                                     progressed_at__lt=stale_before)
    for run in stalled:
        _run_sweep(run, now, tally)


def _batch_sweep(batch: Batch, now: datetime, tally: RoutingSweep) -> None:
    """Re-enqueue the stage a stalled batch was in, or fail it once the re-enqueues are spent."""

    run = batch.judge_runs.order_by("-started_at", "-id").first()
    if batch.status == Batch.Status.JUDGING and run is not None and run.status in ACTIVE_RUN:
        return  # the run is watched on its own
    if batch.status == Batch.Status.JUDGING and run is not None and run.status == JudgeRun.Status.FAILED:
        batch_status_set(batch=batch, status=Batch.Status.FAILED, detail=run.last_error)
        tally.batches_failed += 1
        return
    if batch.requeues >= max_requeues():
        batch_status_set(batch=batch, status=Batch.Status.FAILED,
                         detail=f"{batch.status} made no progress after {batch.requeues} re-enqueues by the sweeper")
        tally.batches_failed += 1
        return
    with transaction.atomic():
        taken = Batch.objects.filter(pk=batch.pk, status=batch.status, requeues=batch.requeues).update(
            requeues=F("requeues") + 1, status_changed_at=now)
        if taken:
            batch_routing_requested.send(sender=Batch, batch_id=batch.pk)
            tally.batches_requeued += 1


def batches_sweep(*, stale_before: datetime, now: datetime, tally: RoutingSweep) -> None:
    # A batch imported before status_changed_at existed has none: its creation time stands in.
    stalled = Batch.objects.filter(status__in=BUSY_STATUSES).filter(
        status_changed_at__lt=stale_before) | Batch.objects.filter(
        status__in=BUSY_STATUSES, status_changed_at__isnull=True, created_at__lt=stale_before)
    for batch in stalled:
        if batch.status == Batch.Status.IMPORTED and not batch.examples.filter(decision__isnull=True).exists():
            continue
        _batch_sweep(batch, now, tally)


def routing_sweep(*, stale_before: datetime, now: datetime) -> RoutingSweep:
    tally = RoutingSweep()
    judge_runs_sweep(stale_before=stale_before, now=now, tally=tally)
    batches_sweep(stale_before=stale_before, now=now, tally=tally)
    if tally != RoutingSweep():
        log.info("sweeper: %s", tally)
    return tally
