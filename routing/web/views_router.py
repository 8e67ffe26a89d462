"""Router pages for leads: the model page, retraining, promotion, the backtest. (The batch's router
panel re-routes, which needs the reviewer side: it is ``dashboard.views_router``.)"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from hybridqc.confirm import TOKEN_FIELD, confirm_render, confirm_step
from hybridqc.http import HtmxHttpRequest, render_htmx
from hybridqc.queueing import BROKER_DOWN
from hybridqc.roles import admin_required, is_admin, lead_required
from routing.decisions.route import certifications_for
from routing.decisions.selectors import router_model_runs
from routing.scoring.models import RouterModel
from routing.scoring.selectors import router_active, router_models, router_previous_active
from routing.training.backtest_jobs import backtest_pending_mark, backtest_progress
from routing.training.models import RetrainJob
from routing.training.retrain_jobs import retrain_job_create
from routing.training.retrain_preview import router_retrain_check, router_retrain_preview
from routing.training.router_promotion import PROMOTABLE, PromotionError, promotion_summary, router_model_promote
from routing.training.router_training import backtest_result_path, batch_backtest_run
from routing.training.selectors import retrain_job_latest
from routing.training.tasks import batch_backtest, router_retrain
from routing.web.forms import BacktestForm

# A backtest of at most this many item-splits runs inside the request; larger ones go to Celery.
SYNC_BACKTEST_LIMIT = 5_000


def reliability_bins(bins: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reliability diagram's bins as the chart (json_script) and its table read them."""
    return [{"lo": b["lo"], "hi": b["hi"], "predicted": b["predicted"], "observed": b["observed"], "n": b["n"]}
            for b in bins]


@lead_required
def model_page(request: HttpRequest) -> HttpResponse:
    """The active router (or ?version=N): held-out metrics, reliability diagram, threshold."""
    models = list(router_models())
    version = request.GET.get("version", "")
    model = next((m for m in models if str(m.version) == version), None) if version.isdigit() else router_active()
    ctx: dict[str, Any] = {"models": models, "model": model, **_promotion_context(request, models),
                           "retrain": retrain_job_latest()}
    if request.GET.get("part") == "retrain":
        response = render_htmx(request, "routing/model.html", "retrain", ctx)
        if ctx["retrain"] is not None and ctx["retrain"].finished and request.GET.get("was") == "busy":
            response["HX-Refresh"] = "true"  # the retrain changed the metrics, the champion, the runs
        return response
    if model is not None:
        ctx["reliability"] = reliability_bins(model.metrics.get("reliability", []))
        ctx["stage_certs"] = certifications_for(model, 0.10, 0.10)
        ctx["cert"] = ctx["stage_certs"][0]
        if (model.selection or {}).get("unseen"):
            ctx["unseen_cert"] = certifications_for(model, 0.10, 0.10, unseen=True)[0]
        ctx["batch_runs"] = router_model_runs(model)
        ctx["grid"] = model.calibration.get("grid", {})
    return render(request, "routing/model.html", ctx)


def _promotion_context(request: HttpRequest, models: list[RouterModel]) -> dict[str, Any]:
    """The champion, the latest retrain's comparison (the challenger), and what an admin may do."""
    champion = next((m for m in models if m.is_active), None)
    latest = models[0] if models else None  # the latest retrain: the challenger, or the champion it became
    record = (latest.promotion or {}) if latest is not None else {}
    return {
        "champion": champion,
        "challenger": latest,
        "summary": promotion_summary(latest) if latest is not None else "",
        "comparison": [(role, record[role]) for role in ("champion", "challenger") if role in record],
        "previous": router_previous_active(champion) if champion is not None else None,
        "can_promote": is_admin(request.user),
        "promotable": [s.value for s in PROMOTABLE],
    }


_RETRAIN_SAYS: dict[str, str] = {
    RetrainJob.Status.QUEUED: "Retraining queued: this page shows its progress, and reloads when it is done.",
    RetrainJob.Status.RUNNING: "Retraining now: this page reloads when it is done.",
}


def _retrain_step(request: HtmxHttpRequest, error: str = "", status: int = 200) -> HttpResponse:
    ctx = {"preview": router_retrain_preview(), "error": error, "token_field": TOKEN_FIELD,
           "action": reverse("routing:router_retrain"), "target": "#retrain-status", "label": "Confirm: retrain now",
           "cancel": reverse("routing:model"), "title": "Retrain the router"}
    return confirm_render(request, partial="routing/model.html#retrain_confirm", context=ctx, status=status)


@lead_required
@require_POST
def router_retrain_view(request: HtmxHttpRequest) -> HttpResponse:
    """First what a retrain starts from and the rule that decides whether it is activated; with
    the preview's token, queue it as a job row. The message says the job's state when the page
    answers: without a broker it has run already, so it says what the comparison decided."""
    return confirm_step(request, preview=lambda error, status: _retrain_step(request, error, status),
                        confirm=lambda token: router_retrain_check(token=token),
                        done=lambda _: _retrain_queue(request))


def _retrain_queue(request: HtmxHttpRequest) -> HttpResponse:
    job = retrain_job_create(user=request.user)
    try:
        router_retrain.delay_on_commit(request.user.pk, job.pk)
    except BROKER_DOWN:
        RetrainJob.objects.filter(pk=job.pk).update(status=RetrainJob.Status.FAILED,
                                                    error="The task queue was unreachable.")
        messages.error(request, "The task queue is unreachable, so the retrain was not queued; try again later.")
        return _to_model_page(request)
    job.refresh_from_db()
    if job.status == RetrainJob.Status.FAILED:
        messages.error(request, job.error)
    else:
        messages.info(request, job.summary if job.status == RetrainJob.Status.DONE else _RETRAIN_SAYS[job.status])
    return _to_model_page(request)


def _to_model_page(request: HtmxHttpRequest) -> HttpResponse:
    if request.htmx:  # the whole page changes (metrics, champion, the retrain's progress)
        return HttpResponse(headers={"HX-Redirect": reverse("routing:model")})
    return redirect("routing:model")


@admin_required
@require_POST
def router_promote_view(request: HttpRequest, version: int) -> HttpResponse:
    """An admin makes a candidate, retired or rejected version the active router."""
    model = get_object_or_404(RouterModel.objects.defer("blob"), version=version)
    try:
        router_model_promote(model=model, user=request.user)
    except PromotionError as exc:
        messages.error(request, f"Not promoted: {exc}")
    else:
        messages.success(request, f"v{model.version} is now the active router.")
    return redirect("routing:model")


@admin_required
@require_POST
def router_rollback_view(request: HttpRequest) -> HttpResponse:
    """An admin makes the version the active one replaced active again."""
    active = router_active()
    previous = router_previous_active(active) if active is not None else None
    if active is None or previous is None:
        messages.error(request, "Nothing to roll back to.")
        return redirect("routing:model")
    try:
        router_model_promote(model=previous, user=request.user, action="rolled back")
    except PromotionError as exc:
        messages.error(request, f"Not rolled back: {exc}")
    else:
        messages.success(request, f"Rolled back: v{previous.version} is active again, v{active.version} retired.")
    return redirect("routing:model")


def _backtest_render(request: HtmxHttpRequest, ctx: dict[str, Any], status: int = 200) -> HttpResponse:
    return render_htmx(request, "routing/backtest.html", "result", ctx, status=status)


def _backtest_poll(request: HtmxHttpRequest, token: str) -> HttpResponse:
    try:
        path = backtest_result_path(token)
    except ValueError:
        return _backtest_render(request, {"error": "Unknown backtest."}, status=400)
    if not path.exists():
        return _backtest_render(request, {"token": token, "running": True, "progress": backtest_progress(token)})
    result = json.loads(path.read_text())
    return _backtest_render(request, {"result": result, "error": result.get("error", ""), "token": token})


@lead_required
@require_http_methods(["GET", "POST"])
def backtest_page(request: HtmxHttpRequest) -> HttpResponse:
    """Backtest certified routing on a stored batch's labeled history (small: inline; else Celery)."""
    if request.method == "GET":
        if "token" in request.GET:
            return _backtest_poll(request, request.GET["token"])
        return _backtest_render(request, {"form": BacktestForm()})
    form = BacktestForm(request.POST)
    if not form.is_valid():
        return _backtest_render(request, {"form": form, "error": "Fix the fields below."}, status=400)
    batch, alpha, delta, splits = (form.cleaned_data[k] for k in ("batch", "alpha", "delta", "splits"))
    labeled = batch.examples.filter(human_labels__isnull=False).distinct().count()
    if labeled * splits > SYNC_BACKTEST_LIMIT:
        token = uuid.uuid4().hex
        backtest_pending_mark(token=token, batch=batch,
                              params={"batch": batch.pk, "alpha": alpha, "delta": delta, "splits": splits})
        try:
            batch_backtest.delay_on_commit(token, batch.pk, alpha, delta, splits)
        except BROKER_DOWN:
            # The marker stays: the sweeper ends it, so no page polls for a result that never comes.
            error = "The task queue is unreachable, so the backtest did not start; run it again later."
            return _backtest_render(request, {"form": form, "error": error}, status=503)
        return _backtest_render(request, {"form": form, "token": token, "running": True,
                                          "progress": backtest_progress(token)})
    try:
        result = batch_backtest_run(batch=batch, alpha=alpha, delta=delta, splits=splits)
    except ValueError as exc:
        return _backtest_render(request, {"form": form, "error": str(exc)}, status=400)
    return _backtest_render(request, {"form": form, "result": result})
