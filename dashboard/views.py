import json

from django.contrib import messages
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from hybridqc.http import HtmxHttpRequest
from hybridqc.roles import is_admin, is_lead, is_reviewer, lead_required
from routing.models import Batch
from routing.services.import_v1 import ImportValidationError, batch_import
from routing.services.import_validation import FIELDS_TOO_LARGE, request_size_problem
from routing.tasks import batch_input_drift_run, batch_pipeline_run

from .alarms import open_alarms
from .charts import drift_series
from .forms import BatchUploadForm
from .selectors import (
    batch_decisions,
    batch_domain_rows,
    batch_export_rows,
    batch_report,
    batches_report,
    release_gate,
)


def home(request: HttpRequest) -> HttpResponse:
    """Anyone: send each role to its place (leads to the control center, reviewers to their queue)."""
    user = request.user
    if not user.is_authenticated:
        return redirect("login")
    if is_lead(user) or is_admin(user):
        return redirect("dashboard:control")
    if is_reviewer(user):
        return redirect("reviewers:queue")
    return render(request, "no_role.html", status=403)


def _with_gates(reports: list[dict], batches: dict[str, Batch]) -> list[dict]:
    for r in reports:
        r["gate"] = release_gate(r, 1 - batches[r["batch"]].alpha)
        r["id"] = batches[r["batch"]].pk
    return reports


@lead_required
def control_center(request: HtmxHttpRequest) -> HttpResponse:
    """Release leads and admins: every batch's source ratio, agreement, override rate and gate."""
    batches = {b.name: b for b in Batch.objects.all()}
    reports = _with_gates(batches_report(), batches)
    context = {"reports": reports, "drift": drift_series(reports), "form": BatchUploadForm(),
               "open_alarms": open_alarms()}
    partial = request.htmx and request.GET.get("part") == "batches"
    return render(request, "dashboard/control.html#batches" if partial else "dashboard/control.html", context)


def _upload_refused(request: HttpRequest, problem: str) -> HttpResponse:
    context = {"form": BatchUploadForm(), "upload_error": problem}
    return render(request, "dashboard/control.html#upload", context, status=413)


@lead_required
@require_http_methods(["POST"])
def batch_upload(request: HttpRequest) -> HttpResponse:
    """Release leads: upload a format-v1 file; every bad line is listed and nothing is written."""
    # Refused by its announced size, before Django reads (and spools) the body.
    if problem := request_size_problem(request.META.get("CONTENT_LENGTH")):
        return _upload_refused(request, problem)
    try:
        form = BatchUploadForm(request.POST, request.FILES)
    except RequestDataTooBig:
        return _upload_refused(request, FIELDS_TOO_LARGE)
    if not form.is_valid():
        return render(request, "dashboard/control.html#upload", {"form": form}, status=400)
    data = form.cleaned_data
    try:
        result = batch_import(
            batch_name=data["name"], lines=data["file"], source_name=data["file"].name, user=request.user,
            confidence_threshold=data["confidence_threshold"], audit_rate=data["audit_rate"],
            routing_mode=data["routing_mode"], date=data["date"],
        )
    except ImportValidationError as exc:
        context = {"form": form, "import_errors": exc.errors[:200], "error_count": len(exc.errors)}
        return render(request, "dashboard/control.html#upload", context, status=400)
    batch_pipeline_run.delay_on_commit(result.batch.pk)
    batch_input_drift_run.delay_on_commit(result.batch.pk)
    messages.success(request, f"Imported {result.created} examples into {result.batch.name} "
                              f"({result.skipped} already present); routing started.")
    return HttpResponseClientRedirect(f"/control/batch/{result.batch.pk}/")


@lead_required
def batch_detail(request: HtmxHttpRequest, batch_id: int) -> HttpResponse:
    """Release leads: one batch — figures, gate, per-domain breakdown, decisions, judge and router panels."""
    batch = get_object_or_404(Batch, pk=batch_id)
    report = batch_report(batch)
    route = request.GET.get("route") or None
    context = {
        "batch": batch, "r": report, "gate": release_gate(report, 1 - batch.alpha),
        "domains": batch_domain_rows(batch), "decisions": batch_decisions(batch, route), "route": route,
        "pending": batch.status not in (Batch.Status.READY, Batch.Status.FAILED),
    }
    part = request.GET.get("part")
    if request.htmx and part in ("status", "decisions"):
        return render(request, f"dashboard/batch.html#{part}", context)
    return render(request, "dashboard/batch.html", context)


@lead_required
def batch_export(request: HttpRequest, batch_id: int) -> HttpResponseBase:
    """Release leads: the batch's labels with their source, as JSONL for training."""
    batch = get_object_or_404(Batch, pk=batch_id)
    lines = (json.dumps(row) + "\n" for row in batch_export_rows(batch))
    response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
    response["Content-Disposition"] = f'attachment; filename="{batch.name}-labels.jsonl"'
    return response
