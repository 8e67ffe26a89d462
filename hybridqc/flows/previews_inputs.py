"""Previews and confirmed runs of the actions that change what routing reads rather than the
routing itself: judging a batch again (new verdicts, then a re-route of what nobody has started
on) and sending a domain to humans always. Neither can be dry-run (a judge run calls a model and
takes minutes; always-human changes only future routings), so their previews count what the
action replaces and keeps from the stored rows, and say plainly which figures are recomputed only
after it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import Count, Max

from hybridqc.confirm import Preview, preview_check, preview_token
from reviewers.models import HumanLabel, ReviewTask
from reviewers.services.reset import RESET_KINDS, RESET_STATUSES, batch_examples_started
from routing.batches.domains import prefix_q
from routing.batches.models import Batch, Domain, Example
from routing.decisions.models import RoutingDecision
from routing.judging.judge_runs import judge_run_start
from routing.judging.models import JudgeConfig, JudgeRun, Judgment
from routing.judging.services import judge_run_total

from .previews import batch_state

REJUDGE, ALWAYS_HUMAN = "batch-rejudge", "domain-always-human"
RECOMPUTED = "recomputed after judging"
REJUDGE_FIGURES = (
    ("judge", "judge whose verdicts route the batch"),
    ("verdicts", "judge verdicts routing reads"),
    ("remade", "routing decisions re-made (nobody started on the item)"),
    ("kept", "routing decisions kept (a reviewer started on the item)"),
    ("untaken", "untaken review tasks, taken back (the new routing creates its own)"),
    ("labels", "human labels (every one kept)"),
    ("agreement", "audit agreement"),
    ("override", "override rate"),
)
ALWAYS_FIGURES = (
    ("domains", "domains that always go to humans"),
    ("judge_kept", "items the judge keeps that nobody started on (they move at the next routing)"),
    ("routed_to_human", "items routed to humans"),
)


def _rate(value: float | None) -> str:
    return "unmeasured" if value is None else f"{value:.3f}"


def batch_rejudge_figures(*, batch: Batch, config: JudgeConfig,
                          rates: Mapping[str, float | None]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(now, after) of judging ``batch`` with ``config``: the verdicts routing reads are replaced
    by the run's, every decision of an item nobody started on is made again, started items and
    every human label stay. ``rates`` are the batch's audit agreement and override rate now."""
    started = batch_examples_started(batch)
    decisions = RoutingDecision.objects.filter(example__batch=batch)
    untaken = ReviewTask.objects.filter(example__batch=batch, kind__in=RESET_KINDS, status__in=RESET_STATUSES)
    labels = HumanLabel.objects.filter(example__batch=batch).count()
    kept = decisions.filter(example_id__in=started).count()
    now = {"judge": batch.primary_judge or batch.judge_backend,
           "verdicts": Judgment.objects.filter(example__batch=batch, judge=batch.primary_judge).count(),
           "remade": decisions.count() - kept, "kept": kept,
           "untaken": untaken.exclude(example_id__in=started).count(), "labels": labels,
           "agreement": _rate(rates.get("agreement")), "override": _rate(rates.get("override"))}
    after = {"judge": config.key, "verdicts": judge_run_total(config, batch),
             "remade": Example.objects.filter(batch=batch).exclude(pk__in=started).count(), "kept": kept,
             "untaken": 0, "labels": labels, "agreement": RECOMPUTED, "override": RECOMPUTED}
    return now, after


def _rejudge_state(batch: Batch, config: JudgeConfig) -> dict[str, Any]:
    runs = JudgeRun.objects.filter(batch=batch)
    return {**batch_state(batch), "config": config.pk, "primary": Batch.objects.get(pk=batch.pk).primary_judge,
            "runs": runs.aggregate(last=Max("id"), n=Count("id")),
            "judgments": Judgment.objects.filter(example__batch=batch).count()}


def batch_rejudge_preview(*, batch: Batch, config: JudgeConfig, rates: Mapping[str, float | None]) -> Preview:
    """What judging ``batch`` again with ``config`` replaces and keeps, with the token to confirm."""
    now, after = batch_rejudge_figures(batch=batch, config=config, rates=rates)
    token = preview_token(action=REJUDGE, state=_rejudge_state(batch, config), summary=after)
    detail = (f"judge {batch.name} with {config.key} ({after['verdicts']} verdicts), then route again every item "
              "nobody has started on")
    return Preview(REJUDGE, now, after, token, detail, REJUDGE_FIGURES,
                   note="Audit agreement and override rate are recomputed after judging: they depend on verdicts "
                        "the judge has not given yet. Leased or labeled items keep their decision, tasks and labels.")


def batch_rejudge_confirmed(*, batch: Batch, config: JudgeConfig, token: str) -> JudgeRun:
    """Start the judge run if ``token`` previewed this very state (else 409)."""
    with transaction.atomic():
        Batch.objects.select_for_update().filter(pk=batch.pk).first()
        preview_check(token=token, action=REJUDGE, state=_rejudge_state(batch, config))
        return judge_run_start(batch=batch, config=config)


def domain_always_human_figures(*, domain: str) -> tuple[dict[str, int], dict[str, int]]:
    """(now, at the next routing) of sending ``domain`` and every domain under it to humans:
    judge-kept items nobody started on move to humans when their batch is routed again."""
    covered = Domain.objects.filter(prefix_q(domain, "path"))
    decisions = RoutingDecision.objects.filter(prefix_q(domain, "example__domain__path"))
    leased = ReviewTask.objects.filter(status=ReviewTask.Status.LEASED).values("example_id")
    labeled = HumanLabel.objects.filter(source=HumanLabel.Source.REVIEW).values("example_id")
    judge_kept = (decisions.filter(route=RoutingDecision.Route.JUDGE).exclude(example_id__in=leased)
                  .exclude(example_id__in=labeled).count())
    human = decisions.filter(route=RoutingDecision.Route.HUMAN).count()
    now = {"domains": covered.filter(always_human=True).count(), "judge_kept": judge_kept, "routed_to_human": human}
    return now, {"domains": covered.count(), "judge_kept": 0, "routed_to_human": human + judge_kept}


def _always_state(domain: str) -> dict[str, Any]:
    covered = Domain.objects.filter(prefix_q(domain, "path"))
    return {"domain": domain, "figures": domain_always_human_figures(domain=domain)[0],
            "always": sorted(covered.filter(always_human=True).values_list("path", flat=True)),
            "decisions": RoutingDecision.objects.filter(prefix_q(domain, "example__domain__path"))
            .aggregate(last=Max("created_at"))}


def domain_always_human_preview(*, domain: str) -> Preview:
    """What sending ``domain`` to humans always changes, with the token to confirm."""
    now, after = domain_always_human_figures(domain=domain)
    token = preview_token(action=ALWAYS_HUMAN, state=_always_state(domain), summary=after)
    detail = (f"send every item of {domain} (and the domains under it) to credentialed humans from the next "
              "routing on; nothing is routed again now")
    return Preview(ALWAYS_HUMAN, now, after, token, detail, ALWAYS_FIGURES,
                   note="Judge-kept items move to humans when their batch is routed again (a re-route or a "
                        "re-judge); items a reviewer has started on keep their decision.")


def domain_always_human_check(*, domain: str, token: str) -> None:
    """Nothing if ``token`` previewed always-human for ``domain`` on this very state; else a
    ``ConfirmationError`` (400 forged, 409 stale). The caller then switches the domain."""
    preview_check(token=token, action=ALWAYS_HUMAN, state=_always_state(domain))
