"""Previews and confirmed runs of the batch actions that change many items at once: re-routing
with new settings, reverting to the previous routing run, flagging a drifted slice (re-judging
and always-human are in ``previews_judge``). A preview is a dry run of the same
flow the confirmation runs (``hybridqc.confirm.dry_run``), so its "after" figures are the
action's, not a separate estimate."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db import transaction
from django.db.models import Count, Max

from hybridqc.confirm import Preview, dry_run, preview_check, preview_token
from reviewers.models import HumanLabel, ReviewTask
from reviewers.services import review_tasks_create, review_tasks_untaken_delete
from routing.batches.events import batch_gate_inputs_changed
from routing.batches.models import Batch
from routing.decisions.models import RoutingDecision, RoutingRun
from routing.decisions.routing_runs import routing_run_restore
from routing.decisions.selectors import batch_decision_counts, routing_run_revert_target
from routing.scoring.selectors import router_active

from .batches import batch_drifted_slice_to_humans, batch_reroute

REROUTE, REVERT, DRIFT = "batch-reroute", "batch-routing-revert", "batch-drift-to-humans"
# The figures a preview shows, in order: (key, label).
FIGURES = (("human_tasks", "human review tasks"), ("routed_to_human", "routed to humans"),
           ("judge_kept", "judge-kept"), ("audited", "audited"), ("judge_only", "judge only (no human sees them)"),
           ("review_labels", "reviewers' labels"))


def batch_figures(batch: Batch) -> dict[str, int]:
    """The batch's stored routing and review figures a preview compares."""
    counts = batch_decision_counts(batch)
    return {"human_tasks": ReviewTask.objects.filter(example__batch=batch).count(),
            "routed_to_human": counts["routed_to_human"], "judge_kept": counts["judge_kept"],
            "audited": counts["audited"], "judge_only": counts["judge_only"],
            "review_labels": HumanLabel.objects.filter(example__batch=batch,
                                                       source=HumanLabel.Source.REVIEW).count()}


def batch_state(batch: Batch) -> dict[str, Any]:
    """What a confirmed action depends on: decisions, runs, tasks and labels of the batch, its
    settings and the active router. Any change to these makes a preview stale."""
    fresh = Batch.objects.get(pk=batch.pk)
    active = router_active()
    tasks = ReviewTask.objects.filter(example__batch=batch)
    return {
        "figures": batch_figures(batch),
        "decisions": RoutingDecision.objects.filter(example__batch=batch).aggregate(last=Max("created_at")),
        "last_run": RoutingRun.objects.filter(batch=batch).aggregate(last=Max("id"))["last"],
        "tasks": sorted(tasks.values_list("status").annotate(n=Count("id"))), "last_task": tasks.aggregate(m=Max("id")),
        "labels": HumanLabel.objects.filter(example__batch=batch).aggregate(n=Count("id"), last=Max("id")),
        "settings": [fresh.routing_mode, fresh.alpha, fresh.delta, fresh.audit_rate, fresh.audit_min_per_domain,
                     fresh.confidence_threshold, fresh.seed],
        "router": active.version if active else None,
    }


def _preview(batch: Batch, action: str, extra: Mapping[str, Any], run: Callable[[Batch], object],
             detail: str = "") -> Preview:
    before = batch_figures(batch)

    def act() -> dict[str, int]:
        fresh = Batch.objects.get(pk=batch.pk)
        run(fresh)
        return batch_figures(fresh)

    after = dry_run(act)
    state = {**batch_state(batch), **extra}
    return Preview(action, before, after, preview_token(action=action, state=state, summary=after), detail, FIGURES)


def _apply_settings(batch: Batch, settings: Mapping[str, Any]) -> None:
    for name, value in settings.items():
        setattr(batch, name, value)
    batch.save(update_fields=list(settings))


def _reroute_with(settings: Mapping[str, Any]) -> Callable[[Batch], None]:
    def run(batch: Batch) -> None:
        _apply_settings(batch, settings)
        batch_reroute(batch=batch)
    return run


def batch_reroute_preview(*, batch: Batch, settings: Mapping[str, Any]) -> Preview:
    """What saving ``settings`` and re-routing what nobody has started on would change."""
    return _preview(batch, REROUTE, {"apply": dict(settings)}, _reroute_with(settings))


def batch_reroute_confirmed(*, batch: Batch, settings: Mapping[str, Any], token: str) -> None:
    """Save the settings and re-route, if ``token`` previewed exactly this (else 409)."""
    with transaction.atomic():
        Batch.objects.select_for_update().filter(pk=batch.pk).first()
        preview_check(token=token, action=REROUTE, state={**batch_state(batch), "apply": dict(settings)})
        _reroute_with(settings)(batch)


def batch_routing_revert(*, batch: Batch, run: RoutingRun) -> RoutingRun:
    """Restore ``run``'s decisions for every example nobody has started on (leased or labeled
    ones keep their decision, tasks and labels), and staff the restored human share."""
    with transaction.atomic():
        Batch.objects.select_for_update().filter(pk=batch.pk).first()
        started = review_tasks_untaken_delete(batch=batch)
        restored = routing_run_restore(batch=batch, run=run, keep=started)
        current = list(RoutingDecision.objects.filter(example__batch=batch).exclude(example_id__in=started)
                       .select_related("example__domain"))
        review_tasks_create(examples=[d.example for d in current if d.route == RoutingDecision.Route.HUMAN],
                            kind=ReviewTask.Kind.ROUTED)
        review_tasks_create(examples=[d.example for d in current if d.audit], kind=ReviewTask.Kind.AUDIT)
        batch_gate_inputs_changed.send(sender=Batch, batch_id=batch.pk)
    return restored


def batch_revert_preview(*, batch: Batch, run: RoutingRun) -> Preview:
    """What reverting to ``run`` would change."""
    detail = f"restore run {run.pk} ({run.get_mode_display()}, {run.router_version}, {run.created_at:%Y-%m-%d %H:%M})"
    return _preview(batch, REVERT, {"run": run.pk}, lambda b: batch_routing_revert(batch=b, run=run), detail)


def batch_revert_confirmed(*, batch: Batch, token: str) -> RoutingRun | None:
    """Revert to the previous run if ``token`` previewed exactly this (else 409); None when
    there is no earlier run to go back to."""
    with transaction.atomic():
        Batch.objects.select_for_update().filter(pk=batch.pk).first()
        run = routing_run_revert_target(batch)
        if run is None:
            return None
        preview_check(token=token, action=REVERT, state={**batch_state(batch), "run": run.pk})
        return batch_routing_revert(batch=batch, run=run)


def batch_drift_preview(*, batch: Batch) -> Preview:
    """What flagging the drifted slice and re-routing what nobody has started on would change."""
    n = len((batch.input_drift or {}).get("drifted_example_ids", []))
    return _preview(batch, DRIFT, {}, lambda b: batch_drifted_slice_to_humans(batch=b),
                    f"flag the {n} drifted examples for human review and re-route what nobody has started on")


def batch_drift_confirmed(*, batch: Batch, token: str) -> int:
    """Flag the drifted slice and re-route, if ``token`` previewed this very state (else 409)."""
    with transaction.atomic():
        Batch.objects.select_for_update().filter(pk=batch.pk).first()
        preview_check(token=token, action=DRIFT, state=batch_state(batch))
        return batch_drifted_slice_to_humans(batch=batch)
