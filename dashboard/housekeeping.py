"""The sweeper: every long-lived state gets an exit.

Judge runs and batch stages that stopped making progress are re-enqueued, then failed with a
reason (routing/decisions/sweeper.py); backtests that never stored a result are ended with an
error (routing/training/backtest_jobs.py), lineage exports no worker finished are failed
(dashboard/export_jobs.py); expired review leases go back to the pool. Run by the
beat task ``housekeeping.sweep`` every SWEEP_INTERVAL_SECONDS and by ``manage.py sweep``."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from reviewers.services import review_leases_expire
from routing.decisions.sweeper import routing_sweep
from routing.training.backtest_jobs import backtests_sweep

from .export_jobs import export_jobs_sweep


def stale_interval() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "SWEEP_STALE_SECONDS", 900)))


def stalled_work_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """One pass of the sweeper; the counts of what it did, by kind."""
    now = now or timezone.now()
    stale_before = now - stale_interval()
    counts = asdict(routing_sweep(stale_before=stale_before, now=now))
    counts["backtests_failed"] = backtests_sweep(stale_before=stale_before)
    counts["exports_failed"] = export_jobs_sweep(stale_before=stale_before)
    counts["leases_expired"] = review_leases_expire()
    return counts
