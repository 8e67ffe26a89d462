"""Thin tasks: load by id, call a service."""

from __future__ import annotations

import logging

from celery import Task, shared_task

from hybridqc.queueing import DATABASE_RETRY
from routing.batches.models import Batch

from .alarms import alarms_record
from .export_jobs import export_job_execute
from .gate import batch_gate_state_refresh
from .housekeeping import stalled_work_sweep
from .webhooks import webhook_delivery_attempt

log = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True, **DATABASE_RETRY)
def batch_gate_check(batch_id: int) -> str | None:
    """Store the batch's release gate; a change queues its webhooks. Returns the event, if any."""
    batch = Batch.objects.filter(pk=batch_id).first()
    if batch is None:
        log.warning("batch %s vanished before its gate was checked", batch_id)
        return None
    return batch_gate_state_refresh(batch=batch)


# The service bounds the attempts (WEBHOOK_MAX_ATTEMPTS, at most 20); Celery's own limit would cut it
# short. A database outage is retried with the same backoff, up to 30 retries of the task in all.
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True,
             **{**DATABASE_RETRY, "max_retries": None, "retry_kwargs": {"max_retries": 30}})
def webhook_deliver(self: Task, delivery_id: int) -> None:
    """One attempt of a webhook delivery; transient failures come back later with backoff."""
    # In-process (no broker, the embedded demo) there is no later: Celery's eager retry would run
    # at once and raise into the request whose commit sent the event, so one attempt is final.
    delay = webhook_delivery_attempt(delivery_id=delivery_id, may_retry=not self.request.is_eager)
    if delay is not None:
        raise self.retry(countdown=delay)


# Named as housekeeping work: the task routes put it on the housekeeping queue by this name.
@shared_task(name="housekeeping.sweep", acks_late=True, reject_on_worker_lost=True, **DATABASE_RETRY)
def housekeeping_sweep() -> dict[str, int]:
    """Beat: re-enqueue or fail whatever stopped making progress. Idempotent: every step is a
    conditional UPDATE on the state it found."""
    return stalled_work_sweep()


@shared_task(acks_late=True, reject_on_worker_lost=True, **DATABASE_RETRY)
def alarms_check() -> int:
    """Beat: test the latest month and week of every domain and judge version; storing an alarm
    is once per period (a unique constraint), so a redelivery raises nothing twice."""
    return len(alarms_record(by="month")) + len(alarms_record(by="week"))


# Time limits: EXPORT_JOB_SOFT_TIME_LIMIT/EXPORT_JOB_TIME_LIMIT (settings' task annotations), below
# the broker's visibility timeout; a soft limit raises inside the service, which fails the job.
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, **DATABASE_RETRY)
def export_job_run(self: Task, job_id: int) -> str:
    """Write a queued lineage export; a redelivery of a running or finished job does nothing."""
    job = export_job_execute(job_id=job_id, retrying=self.request.retries > 0)
    return "skipped" if job is None else job.status
