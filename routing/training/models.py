from __future__ import annotations

from django.conf import settings
from django.db import models

from routing.batches.models import Job


class RetrainJob(Job):
    """A retrain a lead asked for: queued, running, then the version it produced (and what the
    comparison with the active router decided) or why it failed. The model page and the jobs
    list read its state here, so neither says "queued" about a retrain that has finished."""

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    version = models.PositiveIntegerField(null=True, blank=True, help_text="The version the retrain produced.")
    summary = models.TextField(blank=True, help_text="What the champion/challenger comparison decided.")
    error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"retrain {self.pk} ({self.status})"
