"""Pages of background imports: the progress block (polled by htmx, refreshed without JS) and retry."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from hybridqc.flows.tasks import import_job_run
from hybridqc.http import HtmxHttpRequest
from hybridqc.roles import lead_required
from routing.ingest.import_jobs import import_job_create, import_job_retry
from routing.ingest.models import ImportJob
from routing.ingest.selectors import import_job_progress

from .forms import BatchUploadForm
from .views_jobs import job_retry_answer

PROGRESS = "dashboard/import_job.html#progress"


def _progress(request: HtmxHttpRequest, job: ImportJob, status: int = 200, **extra: Any) -> HttpResponse:
    """The job's progress block alone (what htmx swaps in)."""
    return render(request, PROGRESS, {"job": import_job_progress(job), **extra}, status=status)


def import_job_started(request: HtmxHttpRequest, form: BatchUploadForm) -> HttpResponse:
    """Store a valid upload form's file as a background job; show its progress block (htmx) or page."""
    data = dict(form.cleaned_data)
    upload = data.pop("file")
    job = import_job_create(upload=upload, batch_name=data.pop("name"), user=request.user, batch_fields=data)
    import_job_run.delay_on_commit(job.pk)
    if not request.htmx:
        return redirect("dashboard:import-job", job_id=job.pk)
    context = {"form": BatchUploadForm(), "job": import_job_progress(job)}
    return render(request, "dashboard/control.html#upload", context, status=202)


@lead_required
def import_job_detail(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    """Release leads: one background import's progress, outcome and line errors."""
    job = get_object_or_404(ImportJob, pk=job_id)
    if request.htmx and request.GET.get("part") == "progress":
        return _progress(request, job)
    return render(request, "dashboard/import_job.html", {"job": import_job_progress(job)})


@lead_required
@require_http_methods(["POST"])
def import_job_retry_view(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    """Release leads: queue a failed import again; any other job answers 409 with the block as it is."""
    job = get_object_or_404(ImportJob, pk=job_id)
    return job_retry_answer(request, job, retry=import_job_retry, task=import_job_run, page="dashboard:import-job",
                            block=lambda j, status, refused: _progress(request, j, status, retry_refused=refused))
