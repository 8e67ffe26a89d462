"""Release leads: the trends page (charts per domain) and acting on alarms."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from hybridqc.confirm import TOKEN_FIELD, confirm_render, confirm_step
from hybridqc.flows.previews import batch_drift_confirmed, batch_drift_preview
from hybridqc.flows.previews_inputs import domain_always_human_check, domain_always_human_preview
from hybridqc.http import HtmxHttpRequest
from hybridqc.roles import lead_required
from routing.batches.models import Batch
from routing.monitoring.models import Alarm

from .alarms import alarm_dismiss, alarm_domain_always_human, alarms_record, open_alarms
from .trend_charts import PER, chart_query, trend_charts
from .trends import PERIODS, judge_versions, source_prefixes


@lead_required
def trends_page(request: HtmxHttpRequest) -> HttpResponse:
    """Per month or week: share routed to humans, judge-only share, audit agreement and override
    rate with their 95% bands, for the domains and judge version the URL selects and one chart per
    source prefix or judge version; the open alarms with what can be done about them."""
    query = chart_query(request.GET)
    context = {"by": query.by, "query": query, "periods": PERIODS, "per": PER, "sources": source_prefixes(),
               "judges": judge_versions(), "charts": trend_charts(query), "alarms": open_alarms()}
    return render(request, "dashboard/trends.html", context)


def _alarm_done(request: HtmxHttpRequest, alarm: Alarm, done: bool, what: str) -> HttpResponse:
    alarm.refresh_from_db()
    if request.htmx:
        return render(request, "dashboard/trends.html#alarm", {"alarm": alarm})
    if done:
        messages.success(request, what)
    else:
        messages.info(request, "That alarm was already closed.")
    return redirect("dashboard:trends")


def _always_human_step(request: HtmxHttpRequest, alarm: Alarm, error: str = "", status: int = 200) -> HttpResponse:
    url = reverse("dashboard:alarm-always-human", args=[alarm.pk])
    ctx = {"alarm": alarm, "preview": domain_always_human_preview(domain=alarm.domain), "error": error,
           "token_field": TOKEN_FIELD, "action": url, "target": f"#alarm-{alarm.pk}",
           "cancel": reverse("dashboard:trends"),
           "label": f"Confirm: {alarm.domain} to humans always", "title": f"Send {alarm.domain} to humans always"}
    return confirm_render(request, partial="dashboard/trends.html#alarm_confirm", context=ctx, status=status)


@lead_required
@require_http_methods(["POST"])
def alarm_always_human(request: HtmxHttpRequest, alarm_id: int) -> HttpResponse:
    """Switch the alarm's domain to always-human (future routing sends all its examples to people).
    First what that moves; with the preview's token, the switch itself."""
    alarm = get_object_or_404(Alarm, pk=alarm_id)
    said = f"{alarm.domain} now goes to humans always."
    # A closed alarm has nothing to preview: the action only answers that it was already closed.
    return confirm_step(request, preview=lambda error, status: _always_human_step(request, alarm, error, status),
                        confirm=lambda token: _always_human_switch(request, alarm, token),
                        done=lambda done: _alarm_done(request, alarm, done, said),
                        required=alarm.status == Alarm.Status.OPEN)


def _always_human_switch(request: HtmxHttpRequest, alarm: Alarm, token: str) -> bool:
    with transaction.atomic():
        if token:
            domain_always_human_check(domain=alarm.domain, token=token)
        return alarm_domain_always_human(alarm=alarm, user=request.user)


@lead_required
@require_http_methods(["POST"])
def alarm_dismiss_view(request: HtmxHttpRequest, alarm_id: int) -> HttpResponse:
    alarm = get_object_or_404(Alarm, pk=alarm_id)
    done = alarm_dismiss(alarm=alarm, user=request.user)
    return _alarm_done(request, alarm, done, "Alarm dismissed.")


@lead_required
@require_http_methods(["POST"])
def alarms_check(request: HtmxHttpRequest) -> HttpResponse:
    """Run the alarm tests on the stored rows now (the beat task does it every hour)."""
    by = request.POST.get("by", "month")
    created = alarms_record(by=by if by in PERIODS else "month")
    messages.info(request, f"{len(created)} new alarm{'s' if len(created) != 1 else ''}.")
    return redirect(f"/control/trends/?by={by if by in PERIODS else 'month'}")


@lead_required
@require_http_methods(["POST"])
def batch_drift_to_humans(request: HtmxHttpRequest, batch_id: int) -> HttpResponse:
    """Flag a drifted batch's drifted slice and route it again: those examples go to humans.
    First a page with what that changes; with its token, the change itself."""
    batch = get_object_or_404(Batch, pk=batch_id)
    return confirm_step(request, preview=lambda error, status: _drift_step(request, batch, error, status),
                        confirm=lambda token: batch_drift_confirmed(batch=batch, token=token),
                        done=lambda flagged: _drift_done(request, batch, flagged))


def _drift_step(request: HtmxHttpRequest, batch: Batch, error: str, status: int) -> HttpResponse:
    ctx = {"batch": batch, "preview": batch_drift_preview(batch=batch), "error": error, "token_field": TOKEN_FIELD,
           "title": f"Route the drifted slice of {batch.name} to humans",
           "action": reverse("dashboard:drift-to-humans", args=[batch.pk]), "label": "Confirm: route to humans",
           "cancel": reverse("dashboard:batch", args=[batch.pk])}
    return render(request, "confirm_page.html", ctx, status=status)


def _drift_done(request: HtmxHttpRequest, batch: Batch, flagged: int) -> HttpResponse:
    messages.info(request, f"{flagged} drifted examples flagged and routed to humans." if flagged
                  else "The batch is not flagged as drifted: nothing changed.")
    return redirect("dashboard:batch", batch_id=batch.pk)
