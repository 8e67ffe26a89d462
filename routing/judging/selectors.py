"""Reads for the judge panel and API, and the labelled history few-shot variants draw from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from routing.batches.domains import prefix_q
from routing.batches.models import Batch, Domain, Example
from routing.batches.selectors import example_references
from routing.judging.base import FewShot
from routing.judging.fewshot import fewshot_pick, fewshot_ranking
from routing.judging.models import JudgeConfig, JudgeRun, Judgment

# Candidates read per history level: the work per chunk stays bounded however long the history.
FEWSHOT_POOL = 500


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


def batch_judge_unit_tokens(batch: Batch) -> dict[str, float | None]:
    """Tokens of the batch's live verdicts per verdict and per example judged (examples with at
    least one live verdict)."""
    agg = Judgment.objects.filter(example__batch=batch, judge_config__isnull=False).aggregate(
        tokens=Coalesce(Sum("prompt_tokens"), 0) + Coalesce(Sum("completion_tokens"), 0),
        verdicts=Count("pk"), examples=Count("example_id", distinct=True),
    )
    tokens, verdicts, examples = agg["tokens"], agg["verdicts"], agg["examples"]
    return {"per_verdict": tokens / verdicts if verdicts else None,
            "per_example": tokens / examples if examples else None}


def _ancestors(path: str) -> list[str]:
    """Ancestor prefixes of a domain path, nearest first ("a/b/c" -> "a/b", "a")."""
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]


def _shot(example: Example, reference: float) -> FewShot:
    return FewShot(example_id=example.pk, prompt=example.prompt, responses=tuple(example.responses),
                   reference=reference, scale_min=example.scale_min, scale_max=example.scale_max)


def fewshot_history(*, task: str, domain_path: str, need: int) -> list[list[FewShot]]:
    """Stored examples of ``task`` with a HUMAN reference label, in levels nearest first: the
    domain, the subtree of each ancestor prefix, then any domain. Stops once ``need`` are found."""
    scopes = [Q(domain__path=domain_path)]
    scopes += [prefix_q(a, "domain__path") for a in _ancestors(domain_path)]
    scopes.append(Q())
    levels: list[list[FewShot]] = []
    seen: set[int] = set()
    for scope in scopes:
        rows = list(
            Example.objects.filter(scope, task=task, human_labels__isnull=False).exclude(pk__in=seen)
            .distinct().order_by("pk").only("pk", "task", "prompt", "responses", "scale_min", "scale_max")
            [:FEWSHOT_POOL]
        )
        seen.update(e.pk for e in rows)
        references = example_references(rows)
        width = 2 if task == "pairwise" else 1
        levels.append([_shot(e, references[e.pk]) for e in rows
                       if e.pk in references and len(e.responses) == width])
        if sum(map(len, levels)) >= need:
            break
    return levels


def fewshot_sets(
    *, wanted: Sequence[tuple[Example, str]], n: int, seed: int
) -> dict[tuple[int, str], tuple[FewShot, ...]]:
    """The few-shot examples of each (example, variant): ``n`` drawn for (domain, variant) from
    the labelled history, never the judged example itself."""
    paths = dict(Domain.objects.filter(pk__in={e.domain_id for e, _ in wanted}).values_list("pk", "path"))
    history: dict[tuple[str, str], tuple[list[list[int]], dict[int, FewShot]]] = {}
    rankings: dict[tuple[str, str, str], list[int]] = {}
    out: dict[tuple[int, str], tuple[FewShot, ...]] = {}
    for example, variant in wanted:
        path = paths[example.domain_id]
        if (example.task, path) not in history:
            # One more than asked: the judged example itself may be among them.
            levels = fewshot_history(task=example.task, domain_path=path, need=n + 1)
            history[(example.task, path)] = ([[s.example_id for s in level] for level in levels],
                                             {s.example_id: s for level in levels for s in level})
        ids, by_id = history[(example.task, path)]
        key = (example.task, path, variant)
        if key not in rankings:
            rankings[key] = fewshot_ranking(ids, seed=seed, domain=path, variant=variant)
        out[(example.pk, variant)] = tuple(by_id[i] for i in fewshot_pick(rankings[key], exclude=example.pk, n=n))
    return out
