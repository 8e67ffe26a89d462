"""The batch's router panel: mode, coverage, the stored runs behind its decisions, and the
settings form whose save re-routes what nobody has started on (the cross-app flow)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_http_methods, require_POST

from hybridqc.confirm import TOKEN_FIELD, confirm_step
from hybridqc.flows.previews import (
    Preview,
    batch_reroute_confirmed,
    batch_reroute_preview,
    batch_revert_confirmed,
    batch_revert_preview,
)
from hybridqc.http import HtmxHttpRequest, render_htmx
from hybridqc.roles import lead_required
from reviewers.capacity import roster_remaining_capacity
from routing.batches.models import Batch
from routing.batches.selectors import batch_domains
from routing.decisions.route import COLD_START
from routing.decisions.selectors import (
    batch_decision_counts,
    batch_routing_runs,
    batch_unrecorded_decisions,
    routing_run_revert_target,
    routing_run_summary,
)
from routing.scoring.selectors import router_active
from routing.web.forms import RouterSettingsForm


def panel_context(batch: Batch) -> dict[str, Any]:
    """What the router panel shows: mode, coverage, and the stored runs behind the batch's
    current decisions (their certification or budget plan as recorded, never recomputed)."""
    model = router_active()
    runs = batch_routing_runs(batch)
    ctx: dict[str, Any] = {"batch": batch, "model": model, "counts": batch_decision_counts(batch),
                           "runs": [routing_run_summary(r, model) for r in runs],
                           "unrecorded": batch_unrecorded_decisions(batch),
                           "overrides": [d for d in batch_domains(batch) if d.alpha is not None or d.delta is not None],
                           "revert_target": routing_run_revert_target(batch)}
    if batch.routing_mode == Batch.Mode.BUDGET:
        ctx["capacity"] = roster_remaining_capacity(batch_domains(batch))
    if batch.routing_mode != Batch.Mode.THRESHOLD and model is None and not runs:
        ctx["cold_start"] = COLD_START
    return ctx


def _panel(request: HtmxHttpRequest, batch: Batch, form: RouterSettingsForm, status: int = 200,
           error: str = "", preview: Preview | None = None, revert: Preview | None = None) -> HttpResponse:
    ctx = {**panel_context(batch), "form": form, "error": error, "preview": preview, "revert": revert,
           "token_field": TOKEN_FIELD}
    return render_htmx(request, "routing/router_panel.html", "panel", ctx, status=status)


def _panel_saved(request: HtmxHttpRequest, batch: Batch) -> HttpResponse:
    """The panel after the action: the batch as it now is, its settings form unbound."""
    batch.refresh_from_db()
    return _panel(request, batch, RouterSettingsForm(instance=batch))


def _settings(form: RouterSettingsForm) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in RouterSettingsForm.Meta.fields}


@lead_required
@require_http_methods(["GET", "POST"])
def router_panel(request: HtmxHttpRequest, batch_id: int) -> HttpResponse:
    """GET: the router panel. POST: preview what saving mode/alpha/delta/audit rate and
    re-routing unreviewed items would change; POST with the preview's token: do it."""
    batch = get_object_or_404(Batch, pk=batch_id)
    if request.method == "GET":
        return _panel(request, batch, RouterSettingsForm(instance=batch))
    # A copy: validating a model form writes the posted values onto its instance.
    form = RouterSettingsForm(request.POST, instance=Batch.objects.get(pk=batch.pk))
    if not form.is_valid():
        return _panel(request, batch, form, status=400, error="Fix the settings below.")
    return confirm_step(
        request,
        preview=lambda error, status: _panel(request, batch, form, status=status, error=error,
                                             preview=batch_reroute_preview(batch=batch, settings=_settings(form))),
        confirm=lambda token: batch_reroute_confirmed(batch=batch, settings=_settings(form), token=token),
        done=lambda _: _panel_saved(request, batch))


@lead_required
@require_POST
def router_revert(request: HtmxHttpRequest, batch_id: int) -> HttpResponse:
    """POST: preview going back to the batch's previous routing run; with the token: do it."""
    batch = get_object_or_404(Batch, pk=batch_id)
    target = routing_run_revert_target(batch)
    if target is None:
        return _panel(request, batch, RouterSettingsForm(instance=batch), status=409,
                      error="There is no earlier routing run to go back to.")
    return confirm_step(
        request,
        preview=lambda error, status: _panel(request, batch, RouterSettingsForm(instance=batch), status=status,
                                             error=error, revert=batch_revert_preview(batch=batch, run=target)),
        confirm=lambda token: batch_revert_confirmed(batch=batch, token=token),
        done=lambda _: _panel_saved(request, batch))
