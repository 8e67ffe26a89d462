"""The flow's Celery task: thin (load by id, call the flow), JSON arguments, safe to redeliver."""

import logging

from celery import Task, shared_task

from hybridqc.queueing import DATABASE_DOWN, DATABASE_RETRY
from routing.batches.models import Batch
from routing.ingest.import_jobs import import_job_execute
from routing.ingest.models import ImportJob

from .batches import batch_imported_drift_queue, batch_route_or_fail, batch_search_index_queue

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, **DATABASE_RETRY)
def batch_pipeline_run(self: Task, batch_id: int) -> int:
    batch = Batch.objects.filter(pk=batch_id).first()
    if batch is None:
        log.warning("batch %s vanished before its pipeline ran", batch_id)
        return 0
    try:
        return batch_route_or_fail(batch=batch)
    except DATABASE_DOWN:
        raise
    except Exception:
        # In-process (no broker, the embedded demo) the task runs inside the import's commit: the
        # batch is already failed with its reason, and raising would turn the import's page into a 500.
        if self.request.is_eager:
            log.exception("batch %s: routing failed", batch_id)
            return 0
        raise


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, **DATABASE_RETRY)
def import_job_run(self: Task, job_id: int) -> str:
    """Import a stored upload; on success the batch's drift test (when due), search indexing and
    pipeline start, as after a direct import."""
    job = import_job_execute(job_id=job_id, retrying=self.request.retries > 0)
    if job is None:
        return "skipped"
    if job.status == ImportJob.Status.DONE and job.batch is not None:
        batch_imported_drift_queue(batch=job.batch, judgments_written=job.judgments_written)
        batch_search_index_queue(batch=job.batch)
        batch_pipeline_run.delay_on_commit(job.batch_id)
    return job.status
