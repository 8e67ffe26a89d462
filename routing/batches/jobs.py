"""The one claim of a background job row by the worker that runs it (imports, exports, retrains)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from routing.batches.models import Job


def job_claim[J: Job](*, jobs: QuerySet[J], job_id: int, retrying: bool, stale_after: timedelta | None,
              **reset: Any) -> J | None:
    """Mark job ``job_id`` of ``jobs`` running (one attempt more, ``reset`` fields written too) in one
    conditional UPDATE, and return it; None when it is gone, finished or running elsewhere.

    A queued job is taken. So is one running for longer than ``stale_after`` (its worker died, and
    the broker redelivered the task; None: never), and, on the task's own ``retrying`` after the
    database went away, any running one: it takes back the job it had claimed."""
    now = timezone.now()
    taken = Q(status=Job.Status.QUEUED)
    if stale_after is not None:
        taken |= Q(status=Job.Status.RUNNING, started_at__lt=now - stale_after)
    if retrying:
        taken |= Q(status=Job.Status.RUNNING)
    claimed = jobs.filter(taken, pk=job_id).update(status=Job.Status.RUNNING, attempts=F("attempts") + 1,
                                                   started_at=now, **reset)
    return jobs.get(pk=job_id) if claimed else None
