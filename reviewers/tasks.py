"""Celery tasks of the reviewer side (thin: call a service)."""

from __future__ import annotations

import logging

from celery import shared_task

from hybridqc.queueing import DATABASE_RETRY

from .services import review_leases_expire as leases_expire_service
from .services import unstaffed_restaff

log = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True, **DATABASE_RETRY)
def review_leases_expire() -> int:
    """Beat task: return tasks with lapsed leases to the pool, then re-match unstaffed tasks.
    Idempotent: both steps act only on rows still in the state they look for."""
    expired = leases_expire_service()
    staffed = unstaffed_restaff()
    if expired or staffed:
        log.info("review leases: %d expired, %d unstaffed tasks staffed", expired, staffed)
    return expired
