"""Monitoring tasks (names kept from ``routing/tasks.py``)."""


from celery import shared_task

from hybridqc.queueing import DATABASE_RETRY
from routing.batches.models import Batch
from routing.monitoring.input_drift import batch_input_drift_compute


@shared_task(name="routing.tasks.batch_input_drift_run", acks_late=True, reject_on_worker_lost=True, **DATABASE_RETRY)
def batch_input_drift_run(batch_id: int) -> bool | None:
    """After an import: compare the batch with the router's data (stored on the batch; a
    redelivery computes the same figures again). Returns whether it was flagged."""
    batch = Batch.objects.filter(pk=batch_id).first()
    if batch is None:
        return None
    return bool(batch_input_drift_compute(batch=batch)["flagged"])
