from __future__ import annotations

from django.db import models

from routing.models import Batch


class BatchStats(models.Model):
    """One batch's control-center figures as last computed (a cache, never the source of truth).

    On PostgreSQL, triggers (dashboard/migrations/0001_scale_batch_stats.py) delete a batch's row
    in the same transaction as any insert, update or delete of its examples, decisions, review tasks
    or human labels, so a row that exists is exact; dashboard/stats.py recomputes missing rows."""

    batch = models.OneToOneField(Batch, primary_key=True, on_delete=models.CASCADE, related_name="+")
    # JSON text, not jsonb: floats must come back bit for bit as computed.
    figures = models.TextField()
    domains = models.TextField()
    computed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"stats of batch {self.batch_id}"
