"""Reads for the judge panel and API."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Coalesce

from routing.models import Batch, JudgeConfig, JudgeRun, Judgment


def judge_configs_active() -> QuerySet[JudgeConfig]:
    """Configurations a run may use (retired versions are kept for their verdicts only)."""
    return JudgeConfig.objects.filter(is_active=True).order_by("name", "-version")


def judge_run_latest(batch: Batch) -> JudgeRun | None:
    return batch.judge_runs.select_related("judge_config").order_by("-started_at", "-id").first()


def judge_run_errors(run: JudgeRun, limit: int = 5) -> list[dict[str, Any]]:
    """The most frequent failure reasons of the run's verdicts, with counts."""
    rows = (
        Judgment.objects.filter(judge_config_id=run.judge_config_id, example__batch_id=run.batch_id)
        .exclude(error="").values("error").annotate(n=Count("pk")).order_by("-n", "error")[:limit]
    )
    return [{"error": r["error"], "n": r["n"]} for r in rows]


def batch_judge_tokens(batch: Batch) -> dict[str, int]:
    """Prompt and completion tokens of every live verdict in the batch (the judging cost)."""
    agg = Judgment.objects.filter(example__batch=batch, judge_config__isnull=False).aggregate(
        prompt=Coalesce(Sum("prompt_tokens"), 0), completion=Coalesce(Sum("completion_tokens"), 0)
    )
    return {"prompt": agg["prompt"], "completion": agg["completion"], "total": agg["prompt"] + agg["completion"]}
