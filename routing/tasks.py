import logging

from celery import shared_task

from hybridqc.queueing import DATABASE_RETRY
from routing.models import Batch, JudgeRun
from routing.services.backtest_jobs import backtest_pending_path, backtest_run_or_error
from routing.services.input_drift import batch_input_drift_compute
from routing.services.judging import judge_chunk_run, judge_verdict_run
from routing.services.retrain_jobs import retrain_job_run
from routing.services.router_training import (
    RouterTrainingError,
    backtest_result_save,
    router_retrain_if_due,
    router_train,
)

log = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def router_retrain_check() -> int | None:
    """Beat: retrain the router when enough new human labels arrived; returns the new version."""
    model = router_retrain_if_due()
    return model.version if model else None


@shared_task(acks_late=True, reject_on_worker_lost=True)
def router_retrain(requested_by: int | None = None, job_id: int | None = None) -> int | None:
    """A lead asked for a retrain from the model page (``job_id``: its job row, which records
    the outcome); returns the new version."""
    if job_id is not None:
        job = retrain_job_run(job_id=job_id)
        return job.version if job is not None else None
    try:
        return router_train().version
    except RouterTrainingError as exc:
        log.warning("retrain requested by user %s failed: %s", requested_by, exc)
        return None


@shared_task(acks_late=True, reject_on_worker_lost=True)
def batch_backtest(token: str, batch_id: int, alpha: float, delta: float, splits: int) -> None:
    """A backtest on a stored batch's labeled history, too large to run inside the request;
    the result lands where the backtest page polls for it."""
    batch = Batch.objects.filter(pk=batch_id).first()
    if batch is None:
        log.warning("batch %s vanished before its backtest ran", batch_id)
        return
    backtest_result_save(token=token, result=backtest_run_or_error(batch=batch, alpha=alpha, delta=delta,
                                                                   splits=splits, token=token))
    backtest_pending_path(token).unlink(missing_ok=True)  # done: no longer a running job


@shared_task(acks_late=True, reject_on_worker_lost=True, **DATABASE_RETRY)
def judge_chunk(run_id: int, example_ids: list[int]) -> int:
    """Judge one chunk of a live judge run (concurrently); safe to redeliver."""
    run = JudgeRun.objects.select_related("judge_config", "batch").filter(pk=run_id).first()
    if run is None:
        log.warning("judge run %s vanished before its chunk ran", run_id)
        return 0
    return judge_chunk_run(run=run, example_ids=example_ids)


@shared_task(acks_late=True, reject_on_worker_lost=True, **DATABASE_RETRY)
def judge_verdict(run_id: int, example_id: int, order: str, sample: int) -> int:
    """One verdict per task: the naive baseline the benchmark compares chunks against."""
    run = JudgeRun.objects.select_related("judge_config", "batch").filter(pk=run_id).first()
    if run is None:
        log.warning("judge run %s vanished before its verdict ran", run_id)
        return 0
    return judge_verdict_run(run=run, example_id=example_id, order=order, sample=sample)


@shared_task(acks_late=True, reject_on_worker_lost=True, **DATABASE_RETRY)
def batch_input_drift_run(batch_id: int) -> bool | None:
    """After an import: compare the batch with the router's data (stored on the batch; a
    redelivery computes the same figures again). Returns whether it was flagged."""
    batch = Batch.objects.filter(pk=batch_id).first()
    if batch is None:
        return None
    return bool(batch_input_drift_compute(batch=batch)["flagged"])
