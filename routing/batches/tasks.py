"""Batch tasks, registered under ``routing.tasks.<name>`` like every routing task (the queues in
``hybridqc/queues.py`` and the beat schedule use those names)."""

from celery import shared_task

from hybridqc.queueing import DATABASE_RETRY
from routing.batches.search import example_search_backfill, example_search_index

# Beat: seconds of indexing per run, below the default soft time limit (CELERY_TASK_SOFT_TIME_LIMIT).
SEARCH_BACKFILL_SECONDS = 300


@shared_task(name="routing.tasks.example_search_index", acks_late=True, reject_on_worker_lost=True,
             **DATABASE_RETRY)
def example_search_index_run(batch_id: int) -> int:
    """Queued when an import commits: the batch's prompts into the search table. Safe to redeliver
    (ON CONFLICT DO NOTHING); a vanished batch writes nothing."""
    return example_search_index(batch_id=batch_id)


@shared_task(name="routing.tasks.example_search_backfill", acks_late=True, reject_on_worker_lost=True,
             **DATABASE_RETRY)
def example_search_backfill_run() -> int:
    """Beat: index batches still unmarked (imported before the search table, or a lost task)."""
    return example_search_backfill(seconds=SEARCH_BACKFILL_SECONDS)
