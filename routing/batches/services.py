"""Writes of a batch's own state: its pipeline stage."""

from __future__ import annotations

from django.utils import timezone

from routing.batches.models import Batch

# Stages a worker is expected to move on from; the sweeper watches them.
BUSY_STATUSES = (Batch.Status.IMPORTED, Batch.Status.JUDGING, Batch.Status.ROUTING)


def batch_status_set(*, batch: Batch, status: str, detail: str = "") -> None:
    """Record the batch's pipeline stage and when it was entered. The sweeper's re-enqueue count
    starts again only when the batch reaches a resting stage, so a stage that keeps dying is
    re-enqueued a bounded number of times."""
    updates: dict[str, object] = {"status": status, "status_detail": detail, "status_changed_at": timezone.now()}
    if status not in BUSY_STATUSES:
        updates["requeues"] = 0
    Batch.objects.filter(pk=batch.pk).update(**updates)
    batch.status, batch.status_detail = status, detail
