"""Starting a live judge run: one Celery task per chunk of the batch's examples.

Apart from ``judging`` because it queues the tasks that call ``judging``: the tasks import that
module, this one imports the tasks, and neither imports the other back."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.db import transaction

from routing.batches.models import Batch
from routing.batches.services import batch_status_set
from routing.judging.models import JudgeConfig, JudgeRun
from routing.judging.services import ACTIVE_RUN, LIVE_BACKEND, JudgeSetupError, chunk_examples, judge_run_total
from routing.judging.tasks import judge_chunk

log = logging.getLogger(__name__)


def judge_run_start(*, batch: Batch, config: JudgeConfig) -> JudgeRun:
    """Queue a live run of ``config`` over every example of ``batch`` (one task per chunk)."""
    if not config.is_active:
        raise JudgeSetupError(f"judge {config.key} is retired; choose an active version")
    ids = list(batch.examples.order_by("pk").values_list("pk", flat=True))
    if not ids:
        raise JudgeSetupError(f"batch {batch.name} has no examples")
    with transaction.atomic():
        Batch.objects.select_for_update().get(pk=batch.pk)  # one start at a time per batch
        if batch.judge_runs.filter(status__in=ACTIVE_RUN).exists():
            raise JudgeSetupError(f"batch {batch.name} already has a judge run in progress")
        run = JudgeRun.objects.create(batch=batch, judge_config=config, backend=LIVE_BACKEND,
                                      total=judge_run_total(config, batch))
        batch_status_set(batch=batch, status=Batch.Status.JUDGING, detail=f"judging with {config.key}")
        judge_chunks_enqueue(run=run, example_ids=ids)
    log.info("judge run %s: %s over batch %r, %d verdicts", run.pk, config.key, batch.name, run.total)
    return run


def judge_chunks_enqueue(*, run: JudgeRun, example_ids: Sequence[int]) -> int:
    """Queue the run's chunks (after the caller's commit); returns how many. A broker that is down
    raises kombu's OperationalError from the commit; the run stays queued for the sweeper."""
    config = run.judge_config
    size = chunk_examples(config) if config else 1
    ids = list(example_ids)
    for start in range(0, len(ids), size):
        judge_chunk.delay_on_commit(run.pk, ids[start:start + size])
    return (len(ids) + size - 1) // size
