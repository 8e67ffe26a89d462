"""The stored record of each routing: what was certified, for which router, with what counts.
Pages read these rows; nothing re-derives a run's certification from a later router."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from routing.batches.models import Batch
from routing.decisions.models import RoutingDecision, RoutingRun
from routing.decisions.risk_groups import decision_is_open, group_risk, group_sources, risk_group
from routing.decisions.snapshots import (
    SNAPSHOT_FIELDS,
    decision_snapshot,
    learned_version,
    plain_json,
    run_counts,
    run_settings,
)
from routing.scoring.budget import BudgetPlan
from routing.scoring.certify import Certification
from routing.scoring.models import RouterModel


@dataclass
class RoutingPlan:
    """What the learned router decided for a batch, for the router panel."""

    mode: str
    router_version: str
    cold_start: str = ""
    certifications: dict[str, Certification] = field(default_factory=dict)  # "alpha/delta" -> first stage
    stage_certifications: dict[str, list[Certification]] = field(default_factory=dict)  # every stage
    score_name: str = ""
    budget: BudgetPlan | None = None
    # With a separate score for sources without history: the sources the router had, and that score.
    seen_sources: frozenset[str] | None = None
    unseen_score_name: str = ""


def _certification_row(batch: Batch, plan: RoutingPlan, group: str, decisions: Sequence[RoutingDecision]
                       ) -> dict[str, Any]:
    """The certification of one risk group as computed (``as_dict``; a cascade's first stage,
    with every stage under ``stages``), under the names the pages use, with the score it
    certified, the batch items the group's thresholds were applied to and how many they kept."""
    data = plain_json(plan.certifications[group].as_dict())
    stages = plan.stage_certifications.get(group, ())
    alpha, delta, unseen = group_risk(group)  # the group's own risk (a stage runs at delta / S)
    items = [d for d in decisions
             if decision_is_open(d) and risk_group(batch, d.example.domain, plan.seen_sources) == group]
    return {**data, "alpha": alpha, "delta": delta, "group": group, "calibration_errors": data.get("errors"),
            "score_name": plan.unseen_score_name if unseen else plan.score_name,
            "sources": group_sources(unseen, plan.seen_sources),
            "bound": data.get("ucb"), "batch_items_scored": len(items),
            "batch_items_kept": sum(d.route == RoutingDecision.Route.JUDGE for d in items),
            "stages": [plain_json(c.as_dict()) for c in stages]}


def _router_model(version: str) -> RouterModel | None:
    number = learned_version(version)
    return RouterModel.objects.filter(version=number).first() if number is not None else None


def routing_run_record(*, batch: Batch, plan: RoutingPlan | None,
                       decisions: Sequence[RoutingDecision]) -> RoutingRun:
    """Store the run that produced ``decisions`` (unsaved) and point each of them at it.

    ``plan`` is the learned router's plan; None for the confidence-threshold router."""
    version = plan.router_version if plan else (decisions[0].router_version if decisions else "")
    run = RoutingRun.objects.create(
        batch=batch, mode=plan.mode if plan else Batch.Mode.THRESHOLD, router_version=version,
        router_model=_router_model(version), cold_start=plan.cold_start if plan else "",
        settings=run_settings(batch),
        score_name=plan.score_name if plan else "",
        certifications=[_certification_row(batch, plan, key, decisions) for key in plan.certifications]
        if plan else [],
        budget=plain_json(plan.budget.as_dict()) if plan and plan.budget else None,
        snapshot=[decision_snapshot(d) for d in decisions], **run_counts(decisions),
    )
    for d in decisions:
        d.run = run
    return run


def routing_run_restore(*, batch: Batch, run: RoutingRun, keep: set[int]) -> RoutingRun:
    """Make ``run``'s decisions the batch's current ones again, except for the ``keep`` example
    ids (someone has started on them), and the run's settings the batch's. The restore is itself
    stored as a run (``reverted_from``), so it can be reverted in turn."""
    rows = [r for r in run.snapshot if r["example_id"] not in keep]
    live = set(batch.examples.filter(pk__in=[r["example_id"] for r in rows]).values_list("pk", flat=True))
    decisions = [RoutingDecision(example_id=r["example_id"], **{f: r[f] for f in SNAPSHOT_FIELDS})
                 for r in rows if r["example_id"] in live]
    with transaction.atomic():
        Batch.objects.filter(pk=batch.pk).update(routing_mode=run.mode, **run.settings)
        batch.refresh_from_db()
        restored = RoutingRun.objects.create(
            batch=batch, mode=run.mode, router_version=run.router_version, router_model=run.router_model,
            score_name=run.score_name, cold_start=run.cold_start, settings=run.settings,
            certifications=run.certifications, budget=run.budget, **run_counts(decisions),
            snapshot=[decision_snapshot(d) for d in decisions], reverted_from=run)
        RoutingDecision.objects.filter(example_id__in=[d.example_id for d in decisions]).delete()
        for d in decisions:
            d.run = restored
        RoutingDecision.objects.bulk_create(decisions, batch_size=2000)
    return restored
