"""What the flow does when routing announces something (``routing.batches.events``)."""

from __future__ import annotations

import logging
from typing import Any

from routing.batches.models import Batch
from routing.judging.models import JudgeRun

from .batches import batch_routing_reset
from .tasks import batch_pipeline_run

log = logging.getLogger(__name__)


def batch_rejudged(sender: Any, *, run: JudgeRun, batch: Batch, **kwargs: Any) -> None:
    """On ``judge_run_finished`` (inside its transaction): reset what nobody has started on and
    queue routing the batch again once the new primary judge is committed."""
    kept = batch_routing_reset(batch=batch)
    batch_pipeline_run.delay_on_commit(batch.pk)
    log.info("judge run %s: batch %s queued for re-routing (%d started examples kept)", run.pk, batch.name, len(kept))


def batch_routing_requested_queue(sender: Any, *, batch_id: int, **kwargs: Any) -> None:
    """On ``batch_routing_requested`` (a retry, the sweeper): queue the pipeline after the commit.
    A broker that is down raises from the commit, as the caller expects."""
    batch_pipeline_run.delay_on_commit(batch_id)
