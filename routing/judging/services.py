"""Live judging: versioned judge configurations, judge runs, chunked concurrent judging.

A run is split into chunks of examples; one Celery task judges one chunk concurrently and stores
each verdict once (unique on example x judge version x variant x order x sample), so a redelivered
chunk skips what is stored and calls the endpoint only for the rest. A configuration with K > 1
prompt variants asks every verdict K times, each variant with its own few-shot examples from the
domain's human-labelled history (the "simulated annotators" of Trust or Escalate, Jung et al.).
The chunk that completes the run (a conditional UPDATE on the run's counters) makes the live
judge the batch's primary judge and announces it (``routing.batches.events.judge_run_finished``): the
cross-app flow (``hybridqc.flows``) resets the routing of the examples no reviewer has started on
and queues routing them again. Starting a run (which queues the chunk tasks) is in judge_runs.py,
so that the tasks can import this module without a cycle.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings as django_settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError

from hybridqc.errors import ApplicationError
from hybridqc.queueing import DATABASE_DOWN
from routing.batches.events import judge_run_finished
from routing.batches.models import Batch, Example
from routing.batches.services import batch_status_set
from routing.judging.base import ORDERS, FewShot, Verdict, VerdictRequest
from routing.judging.fewshot import variant_names
from routing.judging.guards import config_refusals, endpoint_policy
from routing.judging.limits import EndpointLimit, endpoint_key
from routing.judging.models import JudgeConfig, JudgeRun, Judgment
from routing.judging.openai_backend import JudgeSettings, OpenAIJudge
from routing.judging.runner import chunk_examples_max, verdict_batches
from routing.judging.selectors import fewshot_sets

log = logging.getLogger(__name__)

# Editing any of these makes a new version: verdicts must stay attributable to what produced them.
VERSIONED_FIELDS = (
    "base_url", "model", "api_key_env", "pairwise_prompt", "rating_prompt", "temperature", "samples",
    "swap_orders", "max_concurrency", "timeout_s", "retry_budget", "backoff_s", "chunk_size",
    "request_logprobs", "json_mode", "n_variants", "fewshot_per_variant", "fewshot_seed",
)
# The provider's limits: edited in place (they do not change what a verdict says), kept by new versions.
LIMIT_FIELDS = ("requests_per_minute", "tokens_per_minute")
LIVE_BACKEND = "live"
ACTIVE_RUN = (JudgeRun.Status.QUEUED, JudgeRun.Status.RUNNING)


class JudgeSetupError(ApplicationError):
    """The run cannot start or continue (no examples, a run already going, no API key...)."""

    default_status = 409
    default_code = "judge_setup"


def judge_config_create(*, name: str, base_url: str, model: str, **fields: Any) -> JudgeConfig:
    """Create the next version of judge ``name`` (version 1 if it is new). Out-of-range fields
    (e.g. n_variants) raise ValidationError before anything is written."""
    for _ in range(3):
        latest = JudgeConfig.objects.filter(name=name).aggregate(v=Max("version"))["v"] or 0
        config = JudgeConfig(name=name, version=latest + 1, base_url=base_url, model=model, **fields)
        # Constraints are left to the database: a concurrent save of the same version must raise
        # IntegrityError, so the next number is taken.
        config.full_clean(validate_unique=False, validate_constraints=False)
        try:
            with transaction.atomic():
                config.save(force_insert=True)
                return config
        except IntegrityError:
            continue  # another admin saved a version at the same moment: take the next number
    raise JudgeSetupError(f"could not allocate a new version of judge {name}")


def judge_config_revise(*, config: JudgeConfig, changes: dict[str, Any]) -> JudgeConfig:
    """Apply an edit. A change to what produces verdicts (VERSIONED_FIELDS) creates version+1 and
    retires the edited row; anything else (is_active) is updated in place."""
    changed = {k: v for k, v in changes.items() if getattr(config, k) != v}
    if not any(k in VERSIONED_FIELDS for k in changed):
        for key, value in changed.items():
            setattr(config, key, value)
        if changed:
            config.save(update_fields=list(changed))
        return config
    values = {f: getattr(config, f) for f in (*VERSIONED_FIELDS, *LIMIT_FIELDS)} | {"is_active": True} | changed
    with transaction.atomic():
        fresh = judge_config_create(name=config.name, base_url=values.pop("base_url"),
                                    model=values.pop("model"), **values)
        JudgeConfig.objects.filter(pk=config.pk).update(is_active=False)
    return fresh


def judge_config_usable_check(config: JudgeConfig) -> None:
    """Refuse a configuration the variable and host rules refuse, before a single request: a row
    saved before the rules existed must not leak a secret either."""
    refused = config_refusals(api_key_env=config.api_key_env, base_url=config.base_url)
    if refused:
        raise JudgeSetupError(f"judge {config.key} refused: " + " ".join(refused.values()))


def judge_settings_for(config: JudgeConfig) -> JudgeSettings:
    """The backend's settings, with the API key read from the named environment variable
    (only here, in the process that calls the endpoint; it is never stored or logged)."""
    judge_config_usable_check(config)
    api_key = "no-key"  # local OpenAI-compatible servers ignore it; the SDK requires one
    if config.api_key_env:
        api_key = os.environ.get(config.api_key_env, "")
        if not api_key:
            raise JudgeSetupError(f"environment variable {config.api_key_env} is not set on the worker")
    return JudgeSettings(
        key=config.key, base_url=config.base_url, model=config.model, api_key=api_key,
        pairwise_prompt=config.pairwise_prompt, rating_prompt=config.rating_prompt,
        temperature=config.temperature, samples=config.samples, timeout_s=config.timeout_s,
        retry_budget=config.retry_budget, backoff_s=config.backoff_s,
        request_logprobs=config.request_logprobs, json_mode=config.json_mode, endpoint=endpoint_policy(),
        limit=EndpointLimit(key=endpoint_key(base_url=config.base_url, model=config.model,
                                             api_key_env=config.api_key_env),
                            concurrency=max(1, config.max_concurrency),
                            requests_per_minute=config.requests_per_minute,
                            tokens_per_minute=config.tokens_per_minute),
        limit_store_url=django_settings.JUDGE_LIMIT_STORE_URL,
    )


def orders_for(config: JudgeConfig, task: str) -> tuple[str, ...]:
    # Swapping only means something with two responses.
    return ORDERS if (config.swap_orders and task == "pairwise") else ("ab",)


def _verdict_keys(config: JudgeConfig, examples: Iterable[Example]) -> list[tuple[Example, str, str, int]]:
    """Every verdict the configuration asks for: example x variant x order x sample."""
    return [
        (e, variant, order, sample)
        for e in examples
        for variant in variant_names(config.n_variants)
        for order in orders_for(config, e.task)
        for sample in range(max(1, config.samples))
    ]


def verdict_requests(
    config: JudgeConfig, examples: Iterable[Example], skip: frozenset[tuple[int, str, str, int]] = frozenset()
) -> list[VerdictRequest]:
    """The requests of every verdict not in ``skip`` (keys: example id, variant, order, sample),
    few-shot variants with their examples (read only for the verdicts still to ask)."""
    keys = [k for k in _verdict_keys(config, examples) if (k[0].pk, *k[1:]) not in skip]
    wanted = list(dict.fromkeys((e, variant) for e, variant, _, _ in keys if variant))
    shots: dict[tuple[int, str], tuple[FewShot, ...]] = (
        fewshot_sets(wanted=wanted, n=config.fewshot_per_variant, seed=config.fewshot_seed) if wanted else {}
    )
    return [
        VerdictRequest(example_id=e.pk, task=e.task, prompt=e.prompt, responses=tuple(e.responses),
                       order=order, sample=sample, scale_min=e.scale_min, scale_max=e.scale_max,
                       variant=variant, fewshot=shots.get((e.pk, variant), ()))
        for e, variant, order, sample in keys
    ]


def pending_requests(config: JudgeConfig, examples: Sequence[Example]) -> list[VerdictRequest]:
    """The requests whose verdict is not stored yet (what a redelivered chunk still has to do)."""
    stored = frozenset(
        Judgment.objects.filter(example__in=examples, judge=config.key)
        .values_list("example_id", "variant", "order", "sample")
    )
    return verdict_requests(config, examples, skip=stored)


def judgments_store(*, config: JudgeConfig, verdicts: Sequence[Verdict]) -> int:
    """Write verdicts in bulk; a verdict stored already (redelivery) is skipped by the constraint."""
    rows = [
        Judgment(
            example_id=v.request.example_id, judge=config.key, judge_config=config, variant=v.request.variant,
            order=v.request.order, sample=v.request.sample, choice=v.choice, rating=v.rating,
            probability=v.probability, rationale=v.rationale[:4000], error=v.error, attempts=v.attempts,
            prompt_tokens=v.prompt_tokens, completion_tokens=v.completion_tokens, latency_ms=v.latency_ms,
        )
        for v in verdicts
    ]
    Judgment.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    return len(rows)


def judge_run_total(config: JudgeConfig, batch: Batch) -> int:
    by_task = dict(batch.examples.values_list("task").annotate(n=Count("pk")))
    per_order = len(variant_names(config.n_variants)) * max(1, config.samples)
    return sum(n * len(orders_for(config, task)) * per_order for task, n in by_task.items())


def chunk_examples(config: JudgeConfig) -> int:
    """Examples per chunk task: the configuration's size, cut so a chunk fits its time limit."""
    per_example = len(variant_names(config.n_variants)) * max(1, config.samples) * (2 if config.swap_orders else 1)
    fits = chunk_examples_max(concurrency=max(1, config.max_concurrency), timeout_s=config.timeout_s,
                              verdicts_per_example=per_example,
                              soft_limit_s=django_settings.JUDGE_CHUNK_SOFT_TIME_LIMIT)
    return max(1, min(config.chunk_size, fits))


def judge_run_fail(*, run: JudgeRun, reason: str) -> bool:
    """End an active run as failed with a reason a lead can read, and the batch with it (a new
    run, the Retry, judges only what is missing). False if the run had ended already."""
    ended = JudgeRun.objects.filter(pk=run.pk, status__in=ACTIVE_RUN).update(
        status=JudgeRun.Status.FAILED, last_error=reason[:1000], finished_at=timezone.now())
    if ended:
        Batch.objects.filter(pk=run.batch_id, status=Batch.Status.JUDGING).update(
            status=Batch.Status.FAILED, status_detail=reason[:1000],
            status_changed_at=timezone.now())
    return bool(ended)


def _judge(run: JudgeRun, requests: Sequence[VerdictRequest]) -> int:
    config = run.judge_config
    assert config is not None
    try:
        settings = judge_settings_for(config)
    except JudgeSetupError as exc:
        judge_run_fail(run=run, reason=str(exc))
        return 0
    JudgeRun.objects.filter(pk=run.pk, status=JudgeRun.Status.QUEUED).update(status=JudgeRun.Status.RUNNING)
    written = 0
    for verdicts in verdict_batches(lambda: OpenAIJudge(settings), requests,
                                    concurrency=max(1, config.max_concurrency)):
        written += judgments_store(config=config, verdicts=verdicts)
        errors = [v.error for v in verdicts if v.error]
        judge_run_progress(run=run, last_error=errors[-1] if errors else "")
    return written


def judge_chunk_run(*, run: JudgeRun, example_ids: Sequence[int]) -> int:
    """Judge one chunk of the run's batch concurrently; returns verdicts written."""
    config = run.judge_config
    if config is None or run.status == JudgeRun.Status.FAILED:
        return 0
    examples = list(Example.objects.filter(batch_id=run.batch_id, pk__in=list(example_ids)))
    requests = pending_requests(config, examples)
    try:
        written = _judge(run, requests) if requests else 0
    except DATABASE_DOWN:
        # Transient: the task retries the chunk (only what is missing); the run stays active.
        log.warning("judge run %s: chunk to be retried (database unreachable)", run.pk)
        raise
    except (RedisConnectionError, ConnectionError):
        # The shared provider limit's store (Redis) is unreachable: transient. The run stays active
        # and the sweeper re-enqueues the chunk once it made no progress (judging without the
        # limit could exceed the provider's).
        log.warning("judge run %s: chunk left for the sweeper (limit store unreachable)", run.pk)
        raise
    except Exception as exc:
        # Not a verdict's fault (those are stored as errors): free the batch for a new run, which
        # judges only what is missing.
        # The type only: an unexpected exception's text may quote the endpoint's reply.
        judge_run_fail(run=run, reason=f"chunk failed: {type(exc).__name__}")
        raise
    judge_run_progress(run=run)
    return written


def judge_verdict_run(*, run: JudgeRun, example_id: int, order: str, sample: int) -> int:
    """One verdict per call: the naive path, kept for the benchmark's baseline."""
    config = run.judge_config
    assert config is not None
    examples = list(Example.objects.filter(batch_id=run.batch_id, pk=example_id))
    requests = [r for r in pending_requests(config, examples) if (r.order, r.sample) == (order, sample)]
    written = _judge(run, requests) if requests else 0
    judge_run_progress(run=run)
    return written


def judge_run_progress(*, run: JudgeRun, last_error: str = "") -> bool:
    """Refresh the run's counters from the stored verdicts (exact under redelivery), and finish
    the run if they are complete. Returns True for the one caller that finished it."""
    agg = Judgment.objects.filter(judge_config_id=run.judge_config_id, example__batch_id=run.batch_id).aggregate(
        done=Count("pk", filter=Q(error="")), failed=Count("pk", filter=~Q(error="")),
        pt=Coalesce(Sum("prompt_tokens"), 0), ct=Coalesce(Sum("completion_tokens"), 0),
    )
    # Greatest: two chunks refreshing at once never move the counters backwards.
    updates: dict[str, Any] = {"done": Greatest(F("done"), agg["done"]), "failed": Greatest(F("failed"), agg["failed"]),
                               "progressed_at": timezone.now(),
                               "prompt_tokens": Greatest(F("prompt_tokens"), agg["pt"]),
                               "completion_tokens": Greatest(F("completion_tokens"), agg["ct"])}
    if last_error:
        updates["last_error"] = last_error[:1000]
    JudgeRun.objects.filter(pk=run.pk).update(**updates)
    finished = (
        JudgeRun.objects.filter(pk=run.pk, status__in=ACTIVE_RUN, done__gte=F("total") - F("failed"))
        .update(status=JudgeRun.Status.DONE, finished_at=timezone.now())
    )
    if finished:
        judge_run_finish(run=run)
    return bool(finished)


def judge_run_finish(*, run: JudgeRun) -> None:
    """Make the live judge the batch's primary judge and announce it (``judge_run_finished``):
    the cross-app flow re-routes the examples nobody has started on."""
    config = run.judge_config
    assert config is not None
    with transaction.atomic():
        batch = Batch.objects.select_for_update().get(pk=run.batch_id)
        batch.primary_judge, batch.judge_backend = config.key, LIVE_BACKEND
        batch.save(update_fields=["primary_judge", "judge_backend"])
        batch_status_set(batch=batch, status=Batch.Status.ROUTING, detail=f"judged by {config.key}")
        judge_run_finished.send(sender=JudgeRun, run=run, batch=batch)
    log.info("judge run %s finished; batch %r is judged by %r", run.pk, batch.name, config.key)
