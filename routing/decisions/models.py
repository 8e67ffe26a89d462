"""Routing decisions and the stored routing runs that made them."""

from __future__ import annotations

from django.db import models

from routing.batches.models import Batch, Example
from routing.scoring.models import RouterModel


class RoutingDecision(models.Model):
    """Where an example's signal comes from: the judge alone, or credentialed humans."""

    class Route(models.TextChoices):
        JUDGE = "judge", "Judge-kept"
        HUMAN = "human", "Routed to human"

    example = models.OneToOneField(Example, on_delete=models.CASCADE, related_name="decision")
    route = models.CharField(max_length=10, choices=Route)
    audit = models.BooleanField(default=False)
    reason = models.TextField()
    confidence = models.FloatField(null=True, blank=True)
    judge_verdict = models.IntegerField(null=True, blank=True)
    judge_rating = models.FloatField(null=True, blank=True)
    router_version = models.CharField(max_length=50)
    score = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    audit_probability = models.FloatField(
        null=True, blank=True, help_text="Audits: the chance this item was drawn (drawn / size of its stratum)."
    )
    run = models.ForeignKey(
        "routing.RoutingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="decisions"
    )
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["route", "audit"])]

    def __str__(self) -> str:
        return f"{self.example_id}: {self.route}{' (audit)' if self.audit else ''}"


class RoutingRun(models.Model):
    """One routing of (part of) a batch, as it was decided: the router, the certification per
    risk group, the budget plan and the counts. Pages show these stored figures; they never
    re-derive them from whichever router happens to be active later."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="routing_runs")
    created_at = models.DateTimeField(auto_now_add=True)
    mode = models.CharField(max_length=20, choices=Batch.Mode)
    router_version = models.CharField(max_length=50, help_text="As stored on the run's decisions.")
    router_model = models.ForeignKey(
        RouterModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="routing_runs"
    )
    score_name = models.CharField(max_length=100, blank=True, help_text="The router score the run used.")
    cold_start = models.TextField(blank=True, help_text="Why nothing was kept on the judge alone, if so.")
    settings = models.JSONField(default=dict, help_text="The batch settings the run applied.")
    certifications = models.JSONField(
        default=list, help_text="Per risk group: the certification as computed, plus the batch counts."
    )
    budget = models.JSONField(null=True, blank=True, help_text="The budget plan (budget mode).")
    n_routed = models.PositiveIntegerField(default=0)
    n_judge_kept = models.PositiveIntegerField(default=0)
    n_audited = models.PositiveIntegerField(default=0)
    # The decisions as the run made them: a later re-route replaces the decision rows, and a revert
    # rebuilds them from here.
    snapshot = models.JSONField(default=list, blank=True, help_text="The run's decisions, per example.")
    reverted_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reverts",
        help_text="A revert: the earlier run whose decisions it restored.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.batch.name}: {self.mode} run {self.pk} ({self.router_version})"

    @property
    def n_judge_only(self) -> int:
        return self.n_judge_kept - self.n_audited
