from __future__ import annotations

from django.conf import settings
from django.db import models


class RetrainJob(models.Model):
    """A retrain a lead asked for: queued, running, then the version it produced (and what the
    comparison with the active router decided) or why it failed. The model page and the jobs
    list read its state here, so neither says "queued" about a retrain that has finished."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=10, choices=Status, default=Status.QUEUED)
    version = models.PositiveIntegerField(null=True, blank=True, help_text="The version the retrain produced.")
    summary = models.TextField(blank=True, help_text="What the champion/challenger comparison decided.")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"retrain {self.pk} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
