"""Router training and backtest tasks (names kept from ``routing/tasks.py``)."""

import logging

from celery import Task, shared_task

from hybridqc.queueing import DATABASE_RETRY
from routing.batches.models import Batch
from routing.training.backtest_jobs import backtest_failure_save, backtest_pending_path, backtest_run_or_error
from routing.training.retrain_jobs import retrain_job_run
from routing.training.router_training import (
    RouterTrainingError,
    backtest_result_save,
    router_retrain_if_due,
    router_train,
)

log = logging.getLogger(__name__)


@shared_task(name="routing.tasks.router_retrain_check", acks_late=True, reject_on_worker_lost=True, **DATABASE_RETRY)
def router_retrain_check() -> int | None:
    """Beat: retrain the router when enough new human labels arrived; returns the new version."""
    model = router_retrain_if_due()
    return model.version if model else None


@shared_task(name="routing.tasks.router_retrain", bind=True, acks_late=True, reject_on_worker_lost=True,
             **DATABASE_RETRY)
def router_retrain(self: Task, requested_by: int | None = None, job_id: int | None = None) -> int | None:
    """A lead asked for a retrain from the model page (``job_id``: its job row, which records
    the outcome); returns the new version."""
    if job_id is not None:
        job = retrain_job_run(job_id=job_id, retrying=self.request.retries > 0)
        return job.version if job is not None else None
    try:
        return router_train().version
    except RouterTrainingError as exc:
        log.warning("retrain requested by user %s failed: %s", requested_by, exc)
        return None


@shared_task(name="routing.tasks.batch_backtest", acks_late=True, reject_on_worker_lost=True, **DATABASE_RETRY)
def batch_backtest(token: str, batch_id: int, alpha: float, delta: float, splits: int) -> None:
    """A backtest on a stored batch's labeled history, too large to run inside the request;
    the result lands where the backtest page polls for it."""
    batch = Batch.objects.filter(pk=batch_id).first()
    if batch is None:
        log.warning("batch %s vanished before its backtest ran", batch_id)
        return
    result = backtest_run_or_error(batch=batch, alpha=alpha, delta=delta, splits=splits, token=token)
    if "error" in result:
        backtest_failure_save(token=token, error=result["error"])
    else:
        backtest_result_save(token=token, result=result)
    backtest_pending_path(token).unlink(missing_ok=True)  # done: no longer a running job
