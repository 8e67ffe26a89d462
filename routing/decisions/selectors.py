"""Reads of the stored decisions and the routing runs behind them."""

from __future__ import annotations

from typing import Any

from django.db.models import BooleanField, Count, ExpressionWrapper, Q

from routing.batches.models import Batch
from routing.decisions.models import RoutingDecision, RoutingRun
from routing.scoring.models import RouterModel


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
    ``n_current``, how many of the batch's current decisions it produced, and ``revertable``,
    whether it stored its decisions (so a re-route can be reverted to it)."""
    stored = ExpressionWrapper(~Q(snapshot=[]), output_field=BooleanField())
    return list(
        RoutingRun.objects.filter(decisions__example__batch=batch).defer("snapshot")
        .annotate(n_current=Count("decisions"), revertable=stored)
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
        groups = [{**g, "confidence": 1 - g["delta"]} for g in run.budget.get("groups", [])]
        budget = {**run.budget, "target": target, "confidence": 1 - run.budget.get("delta", 0.0),
                  "weaker": guarantee is not None and guarantee < target, "groups": groups,
                  "split": len(groups) > 1, "by_group": any(g["sources"] != "all" for g in groups)}
    return {"run": run, "n_current": getattr(run, "n_current", None), "note": run_router_note(run, active),
            "certifications": certs, "budget": budget}


def batch_unrecorded_decisions(batch: Batch) -> int:
    """Current decisions with no stored run (routed before runs were recorded)."""
    return RoutingDecision.objects.filter(example__batch=batch, run__isnull=True).count()


def router_model_runs(model: RouterModel) -> list[dict[str, Any]]:
    """Per stored run that routed with this model, newest first: batch, when, threshold, and
    how many batch items it kept of those the threshold was applied to (one row per risk group;
    budget runs: the budget threshold, kept of all routed, or per group when sources without
    history had their own score). Reconciles the model's
    calibration-only certification with what batches actually keep."""
    runs = (RoutingRun.objects.filter(router_model=model).select_related("batch")
            .annotate(n_current=Count("decisions")).order_by("-created_at", "-id"))
    rows = []
    for run in runs:
        base = {"batch": run.batch, "routed_at": run.created_at, "mode": run.mode, "n_current": run.n_current}
        for c in run.certifications:
            rows.append({**base, "group": c.get("group", ""), "threshold": c.get("threshold"),
                         "kept": c.get("batch_items_kept"), "scored": c.get("batch_items_scored")})
        groups = (run.budget or {}).get("groups", [])
        if len(groups) > 1:  # each group's own threshold, on its own score
            rows.extend({**base, "group": f"budget, sources {g['sources']}", "threshold": g["threshold"],
                         "kept": g["n_kept"], "scored": g["n_items"]} for g in groups)
        elif run.budget is not None:
            rows.append({**base, "group": "budget", "threshold": run.budget.get("threshold"),
                         "kept": run.n_judge_kept, "scored": run.n_routed})
    return rows


def batch_judge_coverage(batch: Batch) -> dict[str, Any]:
    """The share of the batch the judge kept: examples routed to the judge and not audited, over
    every example of the batch (what the judging bought; audited ones still go to humans)."""
    total = batch.examples.count()
    agg = RoutingDecision.objects.filter(example__batch=batch).aggregate(
        routed=Count("pk"), kept=Count("pk", filter=Q(route=RoutingDecision.Route.JUDGE, audit=False))
    )
    kept = agg["kept"]
    return {"kept": kept, "routed": agg["routed"], "total": total, "share": kept / total if total else None}


def routing_run_revert_target(batch: Batch) -> RoutingRun | None:
    """The run before the batch's latest one (the one "revert" restores), if it stored its
    decisions. Reverting a revert restores the run it replaced."""
    runs = RoutingRun.objects.filter(batch=batch).order_by("-created_at", "-id").defer("snapshot")
    latest = runs.first()
    if latest is None:
        return None
    earlier = RoutingRun.objects.filter(batch=batch).exclude(pk=latest.pk).exclude(snapshot=[])
    return earlier.order_by("-created_at", "-id").first()
