"""API doors (personal API tokens, the last release-gate state per batch, signed webhooks) and the
per-batch figure cache of the control center."""

from __future__ import annotations

import secrets
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from routing.batches.models import Batch, Job


class ApiToken(models.Model):
    """A personal API token. Only a SHA-256 hash of the token is stored (the token is a random
    secret of 256 bits, so a fast hash is enough); the visible prefix finds the row."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def state(self, now: datetime | None = None) -> str:
        """``active``, ``revoked`` or ``expired``."""
        moment = now or timezone.now()
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= moment:
            return "expired"
        return "active"


class BatchGateState(models.Model):
    """The release gate as last notified, so a change is announced once."""

    batch = models.OneToOneField(Batch, on_delete=models.CASCADE, related_name="gate_state")
    release = models.BooleanField(default=False)
    reasons = models.JSONField(default=list)
    changed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.batch_id}: {'open' if self.release else 'closed'}"


def webhook_secret_new() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    class Event(models.TextChoices):
        GATE_OPENED = "gate.opened", "gate opened (batch may go to training)"
        GATE_CLOSED = "gate.closed", "gate closed (batch may no longer go to training)"
        ALARM_RAISED = "alarm.raised", "alarm raised (a trend drifted)"

    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=100, default=webhook_secret_new,
                              help_text="Shared with the receiver, which checks X-HybridQC-Signature with it.")
    active = models.BooleanField(default=True)
    events = models.JSONField(default=list, help_text='Event names, e.g. ["gate.opened", "gate.closed"].')
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event for one endpoint; its body is fixed at creation so every retry signs the same bytes."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    # None for an event about no one batch (an alarm is about a domain and judge version).
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="webhook_deliveries", null=True,
                              blank=True)
    event = models.CharField(max_length=40, choices=WebhookEndpoint.Event.choices)
    body = models.TextField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event} #{self.pk} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery: its answer's status code, or why there was none."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveIntegerField()
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    transient = models.BooleanField(default=False)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_once")]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error}"


class BatchStats(models.Model):
    """One batch's control-center figures as last computed (a cache, never the source of truth).

    On PostgreSQL, triggers (dashboard/migrations/0002_scale_batch_stats.py) delete a batch's row
    in the same transaction as any insert, update or delete of its examples, decisions, review tasks
    or human labels, so a row that exists is exact; dashboard/stats.py recomputes missing rows."""

    batch = models.OneToOneField(Batch, primary_key=True, on_delete=models.CASCADE, related_name="+")
    # JSON text, not jsonb: floats must come back bit for bit as computed.
    figures = models.TextField()
    domains = models.TextField()
    computed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"stats of batch {self.batch_id}"


class ExportJob(Job):
    """A lineage export written in the background to the default storage: its progress (rows
    read of the batch's routed examples), and once done the file, whether it was released and
    what its format left out (preference pairs leave out ties, unlabeled and non-pairwise rows)."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="export_jobs")
    fmt = models.CharField(max_length=20)
    # The lead exported past a holding release gate knowingly (the file then says released: false).
    confirmed = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    rows_written = models.PositiveIntegerField(default=0)
    released = models.BooleanField(null=True, blank=True)
    left_out = models.JSONField(default=dict, blank=True)
    file = models.FileField(upload_to="exports/%Y/%m/", blank=True)
    error = models.CharField(max_length=500, blank=True)
    # When it was last queued (created or retried): the sweeper fails a message lost before a worker took it.
    queued_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"export {self.pk} of batch {self.batch_id} ({self.fmt}, {self.status})"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return min(100, 100 * self.rows_done // self.rows_total) if self.rows_total else 0
