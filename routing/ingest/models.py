from __future__ import annotations

from django.conf import settings
from django.db import models

from routing.batches.models import Batch, Job


class ImportJob(Job):
    """A large upload imported in the background: the stored file, progress and the outcome."""

    batch_name = models.CharField(max_length=200)
    # The new batch's settings (threshold, audit rate, routing mode), as the form or API gave them.
    batch_fields = models.JSONField(default=dict, blank=True)
    upload = models.FileField(upload_to="imports/%Y/%m/")
    source_name = models.CharField(max_length=300, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    lines_read = models.PositiveIntegerField(default=0)
    bytes_read = models.BigIntegerField(default=0)
    examples_written = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    judgments_written = models.PositiveIntegerField(default=0)
    labels_written = models.PositiveIntegerField(default=0)
    # [{"line": n, "field": "...", "message": "..."}], the first IMPORT_JOB_MAX_ERRORS of them.
    errors = models.JSONField(default=list, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="import_jobs")

    def __str__(self) -> str:
        return f"import {self.pk} into {self.batch_name} ({self.status})"
