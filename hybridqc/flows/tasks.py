"""The flow's Celery task: thin (load by id, call the flow), JSON arguments, safe to redeliver."""

import logging

from celery import shared_task

from routing.models import Batch

from .batches import batch_route

log = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def batch_pipeline_run(batch_id: int) -> int:
    batch = Batch.objects.filter(pk=batch_id).first()
    if batch is None:
        log.warning("batch %s vanished before its pipeline ran", batch_id)
        return 0
    return batch_route(batch=batch)
