from __future__ import annotations

from django.conf import settings
from django.db import models

from routing.batches.domains import path_covered


class Alarm(models.Model):
    """A trend test that failed for one domain (a path, or a prefix pooling its domains) and judge
    version in one period. Stored so leads see it until someone acts on it, and so a re-check
    never raises the same alarm twice."""

    class Kind(models.TextChoices):
        AGREEMENT_DRIFT = "agreement_drift", "Agreement drift"
        OVERRIDE_COLLAPSE = "override_collapse", "Override collapse"
        CEILING_DROP = "ceiling_drop", "Capability ceiling drop"

    class Method(models.TextChoices):
        Z_TEST = "z-test", "one-sided pooled z-test"
        FISHER = "fisher-exact", "one-sided Fisher exact test"

    class Status(models.TextChoices):
        OPEN = "open"
        DISMISSED = "dismissed"
        ALWAYS_HUMAN = "always_human", "Domain switched to always-human"

    kind = models.CharField(max_length=30, choices=Kind)
    domain = models.CharField(max_length=200, help_text="A domain path or a prefix covering several.")
    judge_version = models.CharField(max_length=200, blank=True)
    by = models.CharField(max_length=10, default="month", help_text="Period length: month or week.")
    period = models.CharField(max_length=10, help_text="e.g. 2026-11 or 2026-W47")
    p_value = models.FloatField()
    method = models.CharField(max_length=20, choices=Method, default=Method.Z_TEST,
                              help_text="The test that gave the p-value (Fisher's exact on small counts).")
    effect = models.FloatField(help_text="Latest period minus the trailing window.")
    message = models.TextField()
    details = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=Status, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "domain", "judge_version", "by", "period"], name="alarm_once_per_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.domain} {self.period}"

    def covers(self, path: str) -> bool:
        return path_covered(path, self.domain)
