"""The batch's router panel: mode, coverage, the stored runs behind its decisions, and the
settings form whose save re-routes what nobody has started on (the cross-app flow)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_http_methods

from hybridqc.flows.batches import batch_reroute
from hybridqc.http import HtmxHttpRequest, render_htmx
from hybridqc.roles import lead_required
from reviewers.capacity import roster_remaining_capacity
from routing.forms import RouterSettingsForm
from routing.models import Batch
from routing.selectors import (
    batch_decision_counts,
    batch_domains,
    batch_routing_runs,
    batch_unrecorded_decisions,
    router_active,
    routing_run_summary,
)
from routing.services.route import COLD_START


def panel_context(batch: Batch) -> dict[str, Any]:
    """What the router panel shows: mode, coverage, and the stored runs behind the batch's
    current decisions (their certification or budget plan as recorded, never recomputed)."""
    model = router_active()
    runs = batch_routing_runs(batch)
    ctx: dict[str, Any] = {"batch": batch, "model": model, "counts": batch_decision_counts(batch),
                           "runs": [routing_run_summary(r, model) for r in runs],
                           "unrecorded": batch_unrecorded_decisions(batch),
                           "overrides": [d for d in batch_domains(batch) if d.alpha is not None or d.delta is not None]}
    if batch.routing_mode == Batch.Mode.BUDGET:
        ctx["capacity"] = roster_remaining_capacity(batch_domains(batch))
    if batch.routing_mode != Batch.Mode.THRESHOLD and model is None and not runs:
        ctx["cold_start"] = COLD_START
    return ctx


def _panel(request: HtmxHttpRequest, batch: Batch, form: RouterSettingsForm, status: int = 200,
           error: str = "") -> HttpResponse:
    ctx = {**panel_context(batch), "form": form, "error": error}
    return render_htmx(request, "routing/router_panel.html", "panel", ctx, status=status)


@lead_required
@require_http_methods(["GET", "POST"])
def router_panel(request: HtmxHttpRequest, batch_id: int) -> HttpResponse:
    """GET: the router panel. POST: save mode/alpha/delta/audit rate and re-route unreviewed items."""
    batch = get_object_or_404(Batch, pk=batch_id)
    if request.method == "GET":
        return _panel(request, batch, RouterSettingsForm(instance=batch))
    form = RouterSettingsForm(request.POST, instance=batch)
    if not form.is_valid():
        return _panel(request, batch, form, status=400, error="Fix the settings below.")
    form.save()
    routed = batch_reroute(batch=batch)
    return _panel(request, batch, RouterSettingsForm(instance=batch), error="" if routed else "Nothing to re-route.")
