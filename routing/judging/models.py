from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from routing.batches.models import Batch, Example
from routing.judging.guards import config_refusals

# Bounds keep a verdict's cost bounded: K variants x 2 orders x samples calls, each prompt
# carrying at most MAX_FEWSHOT truncated examples.
MAX_VARIANTS = 8
MAX_FEWSHOT = 8


class JudgeConfig(models.Model):
    """A versioned judge: editing the prompt or model creates a new version (a new row)."""

    name = models.CharField(max_length=100)
    version = models.PositiveIntegerField(default=1)
    base_url = models.CharField(max_length=500)
    model = models.CharField(max_length=200)
    api_key_env = models.CharField(
        max_length=100, blank=True, help_text="Name of the environment variable holding the key."
    )
    pairwise_prompt = models.TextField(blank=True)
    rating_prompt = models.TextField(blank=True)
    temperature = models.FloatField(default=0.0)
    samples = models.PositiveIntegerField(default=1)
    swap_orders = models.BooleanField(default=True)
    n_variants = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(MAX_VARIANTS)],
        help_text="Prompt variants per verdict, each with its own few-shot examples from the domain's "
                  "human-labelled history (simulated annotators); 1 = the plain prompt only.",
    )
    fewshot_per_variant = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(MAX_FEWSHOT)],
        help_text="Labelled examples in each few-shot variant's prompt (unused when there is one variant).",
    )
    fewshot_seed = models.IntegerField(default=0, help_text="Seeds which labelled examples each variant draws.")
    # The provider's limits, held by all workers together (routing/judging/limits.py); 0 = none.
    max_concurrency = models.PositiveIntegerField(
        default=16, validators=[MinValueValidator(1)],
        help_text="Requests in flight at once to this endpoint, across every worker.",
    )
    requests_per_minute = models.PositiveIntegerField(
        default=0, help_text="Requests per minute to this endpoint, across every worker; 0 = no limit.")
    tokens_per_minute = models.PositiveIntegerField(
        default=0, help_text="Tokens (prompt + completion) per minute to this endpoint, across every worker; "
                             "0 = no limit.")
    timeout_s = models.FloatField(default=60.0)
    retry_budget = models.PositiveIntegerField(
        default=3, help_text="Tries per verdict (first try included) before the example goes to humans."
    )
    backoff_s = models.FloatField(
        default=0.5, help_text="First retry delay; doubles per try unless the server sends Retry-After."
    )
    chunk_size = models.PositiveIntegerField(
        default=500, help_text="Examples per worker task; each task judges its chunk concurrently."
    )
    request_logprobs = models.BooleanField(default=True)
    json_mode = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-version"]
        # A configuration decides where the worker sends a bearer token: only holders of this
        # (superusers by default, no role group) may add or edit one.
        permissions = [("manage_judge_configs", "Can add and edit judge configurations")]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="judge_config_version"),
            models.CheckConstraint(condition=Q(n_variants__gte=1, n_variants__lte=MAX_VARIANTS),
                                   name="judge_config_n_variants"),
            models.CheckConstraint(condition=Q(fewshot_per_variant__gte=1, fewshot_per_variant__lte=MAX_FEWSHOT),
                                   name="judge_config_fewshot_per_variant"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def clean(self) -> None:
        # The admin form and judge_config_create (full_clean) both refuse these; the worker checks
        # again before a run, for rows saved before the rule or a host whose DNS answer changed.
        super().clean()
        refused = config_refusals(api_key_env=self.api_key_env, base_url=self.base_url)
        if refused:
            raise ValidationError(refused)

    @property
    def key(self) -> str:
        return f"{self.name}@v{self.version}"


class JudgeRun(models.Model):
    """One judging pass over a batch with one judge configuration (or the recorded backend)."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="judge_runs")
    judge_config = models.ForeignKey(JudgeConfig, null=True, blank=True, on_delete=models.PROTECT)
    backend = models.CharField(max_length=50, default="recorded")
    status = models.CharField(max_length=20, choices=Status, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    last_error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    # Moved on every stored verdict batch: the sweeper re-enqueues (then fails) a run that stops.
    progressed_at = models.DateTimeField(default=timezone.now)
    requeues = models.PositiveSmallIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"judge run {self.pk} of batch {self.batch_id}"


class Judgment(models.Model):
    """One verdict: a judge, prompt variant, answer order and sample for one example."""

    # No index of its own: judgment_unique leads with example_id and serves every lookup by example.
    example = models.ForeignKey(Example, on_delete=models.CASCADE, related_name="judgments", db_index=False)
    judge = models.CharField(max_length=200)
    # Indexed only where set (judgment_config_set): imported verdicts have none, and a full index
    # would take an entry for each of them.
    judge_config = models.ForeignKey(
        JudgeConfig, null=True, blank=True, on_delete=models.PROTECT, related_name="judgments", db_index=False
    )
    variant = models.CharField(max_length=100, blank=True, default="")
    order = models.CharField(max_length=2, default="ab")
    sample = models.PositiveIntegerField(default=0)
    choice = models.IntegerField(null=True, blank=True)
    rating = models.FloatField(null=True, blank=True)
    scores = models.JSONField(null=True, blank=True)
    probability = models.FloatField(null=True, blank=True)
    rationale = models.TextField(blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=1)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["example_id", "judge", "variant", "order", "sample"]
        constraints = [
            # Idempotency: a redelivered chunk cannot store the same verdict twice (the variant is
            # part of the key, so K few-shot variants x 2 orders are K*2 distinct rows).
            models.UniqueConstraint(
                fields=["example", "judge", "variant", "order", "sample"], name="judgment_unique"
            )
        ]
        indexes = [
            models.Index(fields=["judge_config"], name="judgment_config_set", condition=Q(judge_config__isnull=False))
        ]

    def __str__(self) -> str:
        return f"{self.judge}/{self.variant}/{self.order}#{self.sample}: {self.choice}"

    @property
    def usable(self) -> bool:
        return not self.error and (self.choice is not None or self.rating is not None)


class JudgeSignals(models.Model):
    """Confidence signals of one judge (version) for one example; the router's input."""

    example = models.ForeignKey(Example, on_delete=models.CASCADE, related_name="signals")
    judge_key = models.CharField(max_length=200)
    n_votes = models.PositiveIntegerField(default=0)
    n_usable = models.PositiveIntegerField(default=0)
    verdict = models.IntegerField(null=True, blank=True, help_text="Majority choice (pairwise).")
    verdict_rating = models.FloatField(null=True, blank=True, help_text="Median rating.")
    vote_share = models.FloatField(null=True, blank=True)
    tied = models.BooleanField(default=False)
    order_consistency = models.FloatField(null=True, blank=True)
    position_biased = models.BooleanField(default=False)
    mean_probability = models.FloatField(null=True, blank=True)
    parse_failures = models.PositiveIntegerField(default=0)
    failure_reason = models.TextField(blank=True)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["example", "judge_key"], name="signals_unique")
        ]

    def __str__(self) -> str:
        return f"signals of {self.judge_key} for example {self.example_id}"
