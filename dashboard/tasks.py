"""Celery tasks of the control side (thin: call a service)."""

from __future__ import annotations

from celery import shared_task

from .housekeeping import stalled_work_sweep


# Named as housekeeping work: the task routes put it on the housekeeping queue by this name.
@shared_task(name="housekeeping.sweep", acks_late=True, reject_on_worker_lost=True)
def housekeeping_sweep() -> dict[str, int]:
    """Beat: re-enqueue or fail whatever stopped making progress. Idempotent: every step is a
    conditional UPDATE on the state it found."""
    return stalled_work_sweep()
