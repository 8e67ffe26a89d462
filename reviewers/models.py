from __future__ import annotations

import secrets
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from routing.batches.models import Domain, Example


class ReviewerProfile(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        PAUSED = "paused"
        SUSPENDED = "suspended"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviewer"
    )
    display_name = models.CharField(max_length=200, blank=True)
    languages = models.CharField(max_length=200, blank=True, help_text="Comma-separated codes.")
    capacity_per_day = models.PositiveIntegerField(default=100)
    status = models.CharField(max_length=20, choices=Status, default=Status.ACTIVE)
    timezone = models.CharField(max_length=64, default="UTC")

    class Meta:
        ordering = ["user__username"]

    def __str__(self) -> str:
        return self.display_name or self.user.get_username()


class Credential(models.Model):
    class Level(models.TextChoices):
        PRACTITIONER = "practitioner"
        EXPERT = "expert"
        ADJUDICATOR = "adjudicator"

    reviewer = models.ForeignKey(
        ReviewerProfile, on_delete=models.CASCADE, related_name="credentials"
    )
    domain_prefix = models.CharField(max_length=200)
    level = models.CharField(max_length=20, choices=Level, default=Level.PRACTITIONER)
    evidence = models.TextField(blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    paused = models.BooleanField(default=False)
    paused_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["reviewer_id", "domain_prefix"]

    def __str__(self) -> str:
        return f"{self.reviewer} · {self.domain_prefix} ({self.level})"

    def covers(self, domain: Domain) -> bool:
        return domain.covered_by(self.domain_prefix)

    def is_valid(self, now: datetime | None = None) -> bool:
        """The credential validity rule: unexpired, not paused, of an active reviewer.
        ``reviewers.capacity.valid_credentials`` is its query form (``pool.credentials_valid`` runs
        that query's compiled SQL); tests/reviewers/test_credential_validity.py holds them to the same answer."""
        now = now or timezone.now()
        return (not self.paused and (self.expires_at is None or self.expires_at > now)
                and self.reviewer.status == ReviewerProfile.Status.ACTIVE)


LEVEL_ORDER: list[str] = [Credential.Level.PRACTITIONER, Credential.Level.EXPERT, Credential.Level.ADJUDICATOR]


def level_rank(level: str) -> int:
    """0 practitioner (also for an empty min_level), 1 expert, 2 adjudicator."""
    return LEVEL_ORDER.index(level) if level in LEVEL_ORDER else 0


def public_id_new() -> str:
    """A random item id for reviewers' URLs and forms: sequential ids would tell a gold check
    (made at claim time, so always the newest) from the rest."""
    return secrets.token_urlsafe(9)


class ReviewTask(models.Model):
    class Kind(models.TextChoices):
        ROUTED = "routed", "Routed by the router"
        AUDIT = "audit", "Audit of a judge-kept item"
        SECOND = "second", "Second review"
        ADJUDICATION = "adjudication"
        GOLD = "gold", "Gold check"

    class Status(models.TextChoices):
        UNSTAFFED = "unstaffed"
        OPEN = "open"
        LEASED = "leased"
        DONE = "done"
        SKIPPED = "skipped"

    example = models.ForeignKey(Example, on_delete=models.CASCADE, related_name="review_tasks")
    public_id = models.CharField(max_length=16, unique=True, default=public_id_new, editable=False)
    kind = models.CharField(max_length=20, choices=Kind)
    status = models.CharField(max_length=20, choices=Status, default=Status.OPEN)
    assignee = models.ForeignKey(
        ReviewerProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    min_level = models.CharField(max_length=20, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    skip_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["status", "lease_expires_at"]),
            # The claim's tiers: (status, assignee) ranges read in queue order.
            models.Index(fields=["status", "assignee", "created_at", "id"], name="review_task_queue_idx"),
        ]

    def __str__(self) -> str:
        return f"task {self.pk} ({self.kind}, {self.status})"


class HumanLabel(models.Model):
    """A human verdict: from a reviewer in HybridQC, or an imported external annotator."""

    class Source(models.TextChoices):
        IMPORT = "import"
        REVIEW = "review"

    example = models.ForeignKey(Example, on_delete=models.CASCADE, related_name="human_labels")
    task = models.OneToOneField(
        ReviewTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="label"
    )
    reviewer = models.ForeignKey(
        ReviewerProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="labels"
    )
    annotator = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=10, choices=Source)
    choice = models.IntegerField(null=True, blank=True)
    rating = models.FloatField(null=True, blank=True)
    rationale = models.TextField(blank=True)
    flags = models.JSONField(default=list, blank=True)
    criteria = models.JSONField(default=dict, blank=True)
    seconds_spent = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["example", "annotator"],
                condition=models.Q(source="import"),
                name="import_label_unique",
            )
        ]

    def __str__(self) -> str:
        return f"label {self.pk} on {self.example_id} ({self.source})"


class TaskSkip(models.Model):
    """A reviewer passed on a task (skip or 'needs a higher credential'); they never get it again."""

    task = models.ForeignKey(ReviewTask, on_delete=models.CASCADE, related_name="skips")
    reviewer = models.ForeignKey(ReviewerProfile, on_delete=models.CASCADE, related_name="skips")
    reason = models.TextField()
    escalated = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["task", "reviewer"], name="task_skip_once")]

    def __str__(self) -> str:
        return f"skip of task {self.task_id} by {self.reviewer_id}"


class Notification(models.Model):
    """Something admins must look at (e.g. a credential paused for low gold accuracy)."""

    class Kind(models.TextChoices):
        CREDENTIAL_PAUSED = "credential_paused", "Credential paused"
        UNSTAFFED = "unstaffed", "Unstaffed tasks"

    kind = models.CharField(max_length=30, choices=Kind)
    message = models.TextField()
    reviewer = models.ForeignKey(
        ReviewerProfile, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    credential = models.ForeignKey(
        Credential, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.message
