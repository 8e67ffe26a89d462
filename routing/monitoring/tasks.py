"""Monitoring tasks (names kept from ``routing/tasks.py``)."""


from celery import shared_task

from hybridqc.queueing import DATABASE_RETRY
from routing.batches.models import Batch
from routing.monitoring.input_drift import batch_input_drift_refresh


@shared_task(name="routing.tasks.batch_input_drift_run", acks_late=True, reject_on_worker_lost=True, **DATABASE_RETRY)
def batch_input_drift_run(batch_id: int) -> bool | None:
    """After an import or a routing: compare the batch with the router's data unless the stored
    result is current (so a redelivery computes nothing). Returns whether it is flagged."""
    batch = Batch.objects.filter(pk=batch_id).first()
    if batch is None:
        return None
    return bool(batch_input_drift_refresh(batch=batch).get("flagged"))
