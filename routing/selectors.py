"""Reads for routing: human reference labels (through the ``routing.labels`` port), the router's
view of examples, the batch's decision counts and the stored routing runs behind them.

Routing never reads reviewer rows itself: labels come through the port, the roster's remaining
capacity arrives as an argument (``hybridqc.flows`` computes it with ``reviewers.capacity``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet

from routing.labels import label_source
from routing.models import Batch, Domain, Example, Judgment, RouterModel, RoutingDecision, RoutingRun
from routing.router.vectorized import ItemInput


def example_references(examples: Iterable[Example]) -> dict[int, float]:
    """The human reference label per example id (examples without one are absent): the rule is
    ``reviewers.references.label_reference``, reached through the ``routing.labels`` port."""
    return label_source().references(examples)


def labeled_examples() -> QuerySet[Example]:
    """Every example with at least one human label, oldest first (the router's training pool)."""
    return (
        Example.objects.filter(human_labels__isnull=False)
        .distinct()
        .select_related("domain", "batch")
        .order_by("id")
    )


def human_label_count() -> int:
    return label_source().count()


def example_inputs(examples: Sequence[Example], primary_judge: str | None = None) -> list[ItemInput]:
    """The router's view of stored examples (same ``ItemInput`` the backtest builds from a file).

    ``primary_judge`` defaults to each example's batch primary judge."""
    by_example: dict[int, list[Judgment]] = defaultdict(list)
    for j in Judgment.objects.filter(example__in=examples).order_by("id"):
        by_example[j.example_id].append(j)
    return [
        ItemInput(
            domain=e.domain.path,
            task=e.task,
            prompt=e.prompt,
            responses=e.responses,
            judgments=by_example.get(e.pk, []),
            primary_judge=primary_judge if primary_judge is not None else e.batch.primary_judge,
            flagged=e.flagged,
        )
        for e in examples
    ]


def router_active() -> RouterModel | None:
    return RouterModel.objects.filter(is_active=True).order_by("-version").first()


def router_models() -> QuerySet[RouterModel]:
    return RouterModel.objects.defer("blob").order_by("-version")


def router_latest() -> RouterModel | None:
    """The last trained version, active or not."""
    return RouterModel.objects.defer("blob").order_by("-version").first()


def router_previous_active(active: RouterModel) -> RouterModel | None:
    """The version ``active`` replaced (what a rollback returns to); for versions activated
    before that was recorded, the newest retired one."""
    others = RouterModel.objects.defer("blob").exclude(pk=active.pk)
    replaced = (active.promotion or {}).get("replaced")
    found = others.filter(version=replaced).first() if replaced is not None else None
    return found or others.filter(status=RouterModel.Status.RETIRED).order_by("-version").first()


def examples_first_labeled_after(example_ids: Iterable[int], since: datetime) -> set[int]:
    """Of these examples, those whose first human label is later than ``since`` (no router
    trained before ``since`` can have seen them)."""
    return label_source().first_labeled_after(example_ids, since)


def batch_domains(batch: Batch) -> list[Domain]:
    return list(Domain.objects.filter(examples__batch=batch).distinct())


def decision_counts() -> dict[str, Count]:
    """The decision counts, as aggregates over RoutingDecision rows: the batch's figures and
    each domain's row use these same expressions."""
    return {
        "routed": Count("id"), "judge_kept": Count("id", filter=Q(route=RoutingDecision.Route.JUDGE)),
        "routed_to_human": Count("id", filter=Q(route=RoutingDecision.Route.HUMAN)),
        "audited": Count("id", filter=Q(audit=True)),
    }


def batch_decision_counts(batch: Batch) -> dict[str, Any]:
    """The batch's stored decisions by source. ``judge_only`` (kept and not audited: no human
    sees them) is the coverage; audited items are judge-kept but also reviewed."""
    c = RoutingDecision.objects.filter(example__batch=batch).aggregate(**decision_counts())
    c["judge_only"] = c["judge_kept"] - c["audited"]
    c["coverage"] = c["judge_only"] / c["routed"] if c["routed"] else None
    return c


def batch_routing_runs(batch: Batch) -> list[RoutingRun]:
    """The stored runs behind the batch's current decisions, newest first; each has
    ``n_current``, how many of the batch's current decisions it produced."""
    return list(
        RoutingRun.objects.filter(decisions__example__batch=batch)
        .annotate(n_current=Count("decisions"))
        .select_related("router_model")
        .order_by("-created_at", "-id")
    )


def run_router_note(run: RoutingRun, active: RouterModel | None) -> str:
    """Why a learned run's router is not the one that would route the batch now ("" if it is)."""
    if run.mode == Batch.Mode.THRESHOLD or active is None or active.pk == run.router_model_id:
        return ""
    used = run.router_model
    if used is not None and used.version >= active.version:
        return ""
    if used is None and active.created_at <= run.created_at:
        return ""  # a cold start under the router that is still active (e.g. its features were stale)
    routed = f"router v{used.version}" if used is not None else "no router (cold start)"
    return f"routed with {routed}; v{active.version} is active now — re-route to use it"


def routing_run_summary(run: RoutingRun, active: RouterModel | None) -> dict[str, Any]:
    """What the router panel shows of a stored run, exactly as stored, with the targets spelled
    out (agreement 1 - alpha, confidence 1 - delta) and the note when a newer router is active."""
    certs = [{**c, "target": 1 - c["alpha"], "confidence": 1 - c["delta"]} for c in run.certifications]
    budget = None
    if run.budget is not None:
        guarantee, target = run.budget.get("guarantee"), 1 - run.settings.get("alpha", 0.0)
        budget = {**run.budget, "target": target, "confidence": 1 - run.budget.get("delta", 0.0),
                  "weaker": guarantee is not None and guarantee < target}
    return {"run": run, "n_current": getattr(run, "n_current", None), "note": run_router_note(run, active),
            "certifications": certs, "budget": budget}


def batch_unrecorded_decisions(batch: Batch) -> int:
    """Current decisions with no stored run (routed before runs were recorded)."""
    return RoutingDecision.objects.filter(example__batch=batch, run__isnull=True).count()


def router_model_runs(model: RouterModel) -> list[dict[str, Any]]:
    """Per stored run that routed with this model, newest first: batch, when, threshold, and
    how many batch items it kept of those the threshold was applied to (one row per risk group;
    budget runs: the budget threshold, kept of all routed). Reconciles the model's
    calibration-only certification with what batches actually keep."""
    runs = (RoutingRun.objects.filter(router_model=model).select_related("batch")
            .annotate(n_current=Count("decisions")).order_by("-created_at", "-id"))
    rows = []
    for run in runs:
        base = {"batch": run.batch, "routed_at": run.created_at, "mode": run.mode, "n_current": run.n_current}
        for c in run.certifications:
            rows.append({**base, "group": c.get("group", ""), "threshold": c.get("threshold"),
                         "kept": c.get("batch_items_kept"), "scored": c.get("batch_items_scored")})
        if run.budget is not None:
            rows.append({**base, "group": "budget", "threshold": run.budget.get("threshold"),
                         "kept": run.n_judge_kept, "scored": run.n_routed})
    return rows
