"""Release leads: lineage exports as background jobs — started from the batch page (with the
confirmation step when the release gate holds), followed on a card that polls itself while the
job runs (the start button disabled meanwhile), downloaded when done, retried when failed."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from hybridqc.http import HtmxHttpRequest
from hybridqc.roles import lead_required
from routing.batches.models import Batch

from .export import export_gate
from .export_formats import CONTENT_TYPES, EXTENSIONS
from .export_jobs import export_job_create, export_job_latest, export_job_retry, left_out_header
from .forms import ExportStartForm
from .models import ExportJob
from .tasks import export_job_run
from .views_jobs import job_retry_answer

CARD = "dashboard/export_job.html#card"


def export_card_context(batch: Batch, job: ExportJob | None, **extra: Any) -> dict[str, Any]:
    """What the export card shows: the start form (its button disabled while ``job`` runs) and
    the job's progress, download link or failure with its Retry."""
    running = job is not None and not job.finished
    form = extra.pop("form", None) or ExportStartForm(initial={"fmt": job.fmt if job else "jsonl"})
    return {"batch": batch, "job": job, "running": running, "form": form, **extra}


def _card(request: HtmxHttpRequest, batch: Batch, job: ExportJob | None, status: int = 200,
          **extra: Any) -> HttpResponse:
    template = CARD if request.htmx else "dashboard/export_job.html"
    return render(request, template, export_card_context(batch, job, **extra), status=status)


@lead_required
@require_http_methods(["POST"])
def export_job_start(request: HtmxHttpRequest, batch_id: int) -> HttpResponse:
    """Queue an export; a holding gate first answers 409 with its reasons and a confirm button."""
    batch = get_object_or_404(Batch, pk=batch_id)
    form = ExportStartForm(request.POST)
    if not form.is_valid():
        return _card(request, batch, export_job_latest(batch), status=422, form=form)
    fmt, confirmed = form.cleaned_data["fmt"], form.cleaned_data["confirm"]
    gate = export_gate(batch)
    if not gate["passed"] and not confirmed:
        return _card(request, batch, export_job_latest(batch), status=409, form=form, confirm_reasons=gate["reasons"])
    job = export_job_create(batch=batch, fmt=fmt, user=request.user, confirmed=confirmed)
    export_job_run.delay_on_commit(job.pk)
    if not request.htmx:
        return redirect("dashboard:export-job", job_id=job.pk)
    return _card(request, batch, job, status=202)


@lead_required
def export_job_detail(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    """One export's card (polled by htmx with ?part=card; refreshed without JS)."""
    job = get_object_or_404(ExportJob.objects.select_related("batch"), pk=job_id)
    return _card(request, job.batch, job)


@lead_required
@require_http_methods(["POST"])
def export_job_retry_view(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    """Queue a failed export again; any other job answers 409 with its card as it is."""
    job = get_object_or_404(ExportJob.objects.select_related("batch"), pk=job_id)
    return job_retry_answer(request, job, retry=export_job_retry, task=export_job_run, page="dashboard:export-job",
                            block=lambda j, status, refused: _card(request, j.batch, j, status, retry_refused=refused))


def export_job_file_response(job: ExportJob) -> FileResponse:
    """The finished file with what it is: released or not, and what its format left out."""
    name = f"{job.batch.name}-lineage.{EXTENSIONS[job.fmt]}"
    # FileResponse builds Content-Disposition with Django's helper (quoting or RFC 5987 as needed).
    response = FileResponse(job.file.open("rb"), as_attachment=True, filename=name, content_type=CONTENT_TYPES[job.fmt])
    response["X-HybridQC-Released"] = "true" if job.released else "false"
    response["X-HybridQC-Left-Out"] = left_out_header(job)
    return response


@lead_required
def export_job_download(request: HtmxHttpRequest, job_id: int) -> HttpResponse | FileResponse:
    job = get_object_or_404(ExportJob.objects.select_related("batch"), pk=job_id)
    if job.status != ExportJob.Status.DONE or not job.file:
        return HttpResponse(f"export {job.pk} is {job.status}, not done", status=409, content_type="text/plain")
    return export_job_file_response(job)
