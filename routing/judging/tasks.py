"""Judge tasks. Their names are the ones they had in ``routing/tasks.py``: queued messages, routes
(``hybridqc/queues.py``) and annotations use them."""

import logging

from celery import shared_task

from hybridqc.queueing import DATABASE_RETRY
from routing.judging.models import JudgeRun
from routing.judging.services import judge_chunk_run, judge_verdict_run

log = logging.getLogger(__name__)


@shared_task(name="routing.tasks.judge_chunk", acks_late=True, reject_on_worker_lost=True, **DATABASE_RETRY)
def judge_chunk(run_id: int, example_ids: list[int]) -> int:
    """Judge one chunk of a live judge run (concurrently); safe to redeliver."""
    run = JudgeRun.objects.select_related("judge_config", "batch").filter(pk=run_id).first()
    if run is None:
        log.warning("judge run %s vanished before its chunk ran", run_id)
        return 0
    return judge_chunk_run(run=run, example_ids=example_ids)


@shared_task(name="routing.tasks.judge_verdict", acks_late=True, reject_on_worker_lost=True, **DATABASE_RETRY)
def judge_verdict(run_id: int, example_id: int, order: str, sample: int) -> int:
    """One verdict per task: the naive baseline the benchmark compares chunks against."""
    run = JudgeRun.objects.select_related("judge_config", "batch").filter(pk=run_id).first()
    if run is None:
        log.warning("judge run %s vanished before its verdict ran", run_id)
        return 0
    return judge_verdict_run(run=run, example_id=example_id, order=order, sample=sample)
