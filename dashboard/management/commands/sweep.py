from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from dashboard.housekeeping import stale_interval, stalled_work_sweep


class Command(BaseCommand):
    help = ("Re-enqueue or fail judge runs, batches and backtests that made no progress for SWEEP_STALE_SECONDS, "
            "and return expired review leases to the pool (what the beat task housekeeping.sweep does).")

    def handle(self, *args: Any, **options: Any) -> None:
        counts = stalled_work_sweep()
        minutes = stale_interval().total_seconds() / 60
        summary = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items())
        self.stdout.write(f"swept (stale after {minutes:g} min): {summary}")
