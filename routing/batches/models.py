from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models

from routing.batches.domains import path_covered


class Domain(models.Model):
    """A slash-separated subject area, e.g. ``mtbench/coding``; credentials cover prefixes."""

    path = models.CharField(max_length=200, unique=True)
    always_human = models.BooleanField(
        default=False, help_text="Every example of this domain goes to credentialed humans."
    )
    alpha = models.FloatField(null=True, blank=True, help_text="Overrides the batch's alpha.")
    delta = models.FloatField(null=True, blank=True, help_text="Overrides the batch's delta.")

    class Meta:
        ordering = ["path"]

    def __str__(self) -> str:
        return self.path

    def covered_by(self, prefix: str) -> bool:
        return path_covered(self.path, prefix)


class Batch(models.Model):
    class Status(models.TextChoices):
        IMPORTED = "imported"
        JUDGING = "judging"
        ROUTING = "routing"
        READY = "ready"
        FAILED = "failed"

    class Mode(models.TextChoices):
        THRESHOLD = "threshold", "Confidence threshold"
        CERTIFIED = "certified", "Certified (Learn-then-Test)"
        BUDGET = "budget", "Budget (roster capacity)"

    # The one default audit share of judge-kept items: the upload form, the API, the CLI and the
    # model all read it here, so a batch audits the same share whichever way it was imported.
    DEFAULT_AUDIT_RATE = 0.05

    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    status = models.CharField(max_length=20, choices=Status, default=Status.IMPORTED)
    status_detail = models.TextField(blank=True)
    # When the status last changed and how often the sweeper re-enqueued the stage since: a batch
    # whose stage stopped making progress is re-enqueued a few times, then failed with the reason.
    status_changed_at = models.DateTimeField(null=True, blank=True)
    requeues = models.PositiveSmallIntegerField(default=0)
    source_name = models.CharField(max_length=300, blank=True)
    judge_backend = models.CharField(max_length=50, default="recorded")
    primary_judge = models.CharField(
        max_length=200, blank=True, help_text="Whose verdicts are kept; default: first in the file."
    )
    routing_mode = models.CharField(max_length=20, choices=Mode, default=Mode.THRESHOLD)
    confidence_threshold = models.FloatField(default=0.8)
    audit_rate = models.FloatField(default=DEFAULT_AUDIT_RATE)
    audit_min_per_domain = models.PositiveIntegerField(default=30)
    alpha = models.FloatField(default=0.10)
    delta = models.FloatField(default=0.10)
    seed = models.IntegerField(default=0)
    # The day the batch's data stands for (set at import), so trends run in time, not batch order.
    date = models.DateField(default=datetime.date.today, db_index=True)
    input_drift = models.JSONField(null=True, blank=True, help_text="The batch against the router's data.")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "batches"
        permissions = [
            ("view_control_center", "Can open the control center"),
            ("import_batch", "Can import batches"),
        ]

    def __str__(self) -> str:
        return self.name


class Example(models.Model):
    class Task(models.TextChoices):
        PAIRWISE = "pairwise"
        RATING = "rating"

    # No index of its own: example_unique_in_batch and the line-order index both lead with batch_id.
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="examples", db_index=False)
    external_id = models.CharField(max_length=300)
    line_number = models.PositiveIntegerField(default=0)
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="examples")
    task = models.CharField(max_length=20, choices=Task)
    prompt = models.TextField()
    responses = models.JSONField()
    scale_min = models.IntegerField(null=True, blank=True)
    scale_max = models.IntegerField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    is_gold = models.BooleanField(default=False)
    gold_choice = models.IntegerField(null=True, blank=True)
    gold_rating = models.FloatField(null=True, blank=True)
    flagged = models.BooleanField(default=False, help_text="Flagged by a reviewer or the judge.")
    # What the reviewers said of the example (its review labels only, imports aside), by the one rule
    # (``reviewers.references.label_reference``), written by ``example_reference_refresh`` in the
    # transaction of every change of a review label. Stored on the example, not in a table of the
    # reviewers app, because every reader (the control center, trends, the decision filters) already
    # joins the example: the SQL reads a column instead of re-deriving the rule. Routing only reads it.
    reviewed_reference = models.FloatField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["batch_id", "line_number", "id"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "external_id"], name="example_unique_in_batch")
        ]

    def __str__(self) -> str:
        return f"{self.batch.name}:{self.external_id}"


class Job(models.Model):
    """What every background job row has: its state (queued, running, then done or failed), how
    often a worker claimed it, and when it was asked for, started and ended, newest
    first. Abstract: each kind keeps its table."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    status = models.CharField(max_length=10, choices=Status, default=Status.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # How many workers have claimed it (routing.batches.jobs.job_claim): more than one is a redelivery or retry.
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)


class ExampleSearch(models.Model):
    """An example's prompt and response texts again, in a table of its own under trigram indexes
    (PostgreSQL), for the item search. Kept apart from ``Example`` so an import writes no trigram index on its critical
    path: a housekeeping task (``routing.batches.search``) copies a batch's prompts after the import
    commits. Deleted with its example."""

    example = models.OneToOneField(Example, on_delete=models.CASCADE, primary_key=True, related_name="+")
    prompt = models.TextField()
    # The responses' strings, one per line (SQL ``routing_responses_text``, migration 0022).
    responses = models.TextField()

    def __str__(self) -> str:
        return f"search row of example {self.example_id}"


class SearchIndexedBatch(models.Model):
    """A batch whose every example has its ``ExampleSearch`` row. A trigger on the examples table
    deletes it in the transaction of any insert into the batch, so a batch is never taken as
    indexed while it has examples the search table lacks; the search scans such batches instead."""

    batch = models.OneToOneField(Batch, on_delete=models.CASCADE, primary_key=True, related_name="+")
    indexed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"batch {self.batch_id} indexed for search"
