"""Release leads: judging a batch again, in two steps. New verdicts re-route every item nobody has
started on, so the first POST shows what that replaces and keeps (``hybridqc.flows.previews_inputs``)
and the second, carrying the preview's token, starts the run. Shown in the judge panel, in place
with htmx and as the judge page without JS."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from hybridqc.confirm import TOKEN_FIELD, Preview, confirm_step
from hybridqc.flows.previews_inputs import batch_rejudge_confirmed, batch_rejudge_preview
from hybridqc.http import HtmxHttpRequest
from hybridqc.queueing import BROKER_DOWN, enqueue_failed_message
from hybridqc.roles import lead_required
from routing.batches.models import Batch
from routing.judging.models import JudgeConfig
from routing.judging.services import JudgeSetupError
from routing.web.views_judge import JudgeRunStartForm, judge_panel_render

from .selectors import batch_rates


def _preview(batch: Batch, config: JudgeConfig) -> Preview:
    agreement, override = batch_rates(batch)
    return batch_rejudge_preview(batch=batch, config=config,
                                 rates={"agreement": agreement.value, "override": override.value})


def _confirm(batch: Batch, preview: Preview, form: JudgeRunStartForm) -> dict[str, object]:
    return {"preview": preview, "token_field": TOKEN_FIELD, "hidden": form,
            "action": reverse("dashboard:judge-start", args=[batch.pk]),
            "target": f"#judge-panel-{batch.pk}", "label": "Confirm: judge and re-route",
            "cancel": reverse("routing:judge_panel", args=[batch.pk])}


@lead_required
@require_POST
def judge_start(request: HtmxHttpRequest, batch_id: int) -> HttpResponse:
    """POST: preview judging the batch with the chosen configuration; with the token: start it."""
    batch = get_object_or_404(Batch, pk=batch_id)
    form = JudgeRunStartForm(request.POST)
    if not form.is_valid():
        error = " ".join(str(e) for e in form.errors.get("judge_config", []))
        return judge_panel_render(request, batch, form, error=error, status=400)
    config = form.cleaned_data["judge_config"]
    try:
        return confirm_step(
            request,
            preview=lambda error, status: judge_panel_render(request, batch, form, error=error, status=status,
                                                             confirm=_confirm(batch, _preview(batch, config), form)),
            confirm=lambda token: batch_rejudge_confirmed(batch=batch, config=config, token=token),
            done=lambda _: _started(request, batch, config))
    except JudgeSetupError as exc:
        return judge_panel_render(request, batch, form, error=str(exc), status=409)
    except BROKER_DOWN:
        return judge_panel_render(request, batch, form, error=enqueue_failed_message("The judge run"), status=503)


def _started(request: HtmxHttpRequest, batch: Batch, config: JudgeConfig) -> HttpResponse:
    if not request.htmx:
        return redirect("routing:judge_panel", batch_id=batch.pk)
    return judge_panel_render(request, batch, JudgeRunStartForm(initial={"judge_config": config.pk}))
