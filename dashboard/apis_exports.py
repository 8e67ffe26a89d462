"""DRF endpoints of background lineage exports, for pipelines that want to know what a file
left out before they read it: ``POST /api/control/batches/<name>/export/`` starts one and
answers 202 with its URL; the job's URL answers its progress (``rows_done`` of ``rows_total``),
and once done ``left_out`` and the download URL, whose response carries the
``X-HybridQC-Released`` and ``X-HybridQC-Left-Out`` headers."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hybridqc.roles import IsLead

from .export_jobs import export_job_create
from .models import ExportJob
from .tasks import export_job_run
from .views_export_jobs import export_job_file_response


def export_job_body(request: Request, job: ExportJob) -> dict[str, Any]:
    done = job.status == ExportJob.Status.DONE
    return {"id": job.pk, "batch": job.batch.name, "format": job.fmt, "status": job.status,
            "rows_done": job.rows_done, "rows_total": job.rows_total, "percent": job.percent,
            "rows_written": job.rows_written, "released": job.released, "left_out": job.left_out if done else None,
            "error": job.error, "url": request.build_absolute_uri(reverse("api-export-job", args=[job.pk])),
            "download": request.build_absolute_uri(reverse("api-export-job-download", args=[job.pk])) if done else None}


def export_job_accepted(request: Request, batch: Any, fmt: str, confirmed: bool) -> Response:
    """Queue an export job and answer 202 with where to follow it."""
    job = export_job_create(batch=batch, fmt=fmt, user=request.user, confirmed=confirmed)
    export_job_run.delay_on_commit(job.pk)
    body = export_job_body(request, job)
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


class ExportJobApi(APIView):
    """Release leads: one background export's progress and outcome."""

    permission_classes = [IsAuthenticated, IsLead]

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT})
    def get(self, request: Request, job_id: int) -> Response:
        job = get_object_or_404(ExportJob.objects.select_related("batch"), pk=job_id)
        return Response(export_job_body(request, job))


class ExportJobDownloadApi(APIView):
    """Release leads: a finished export's file (409 until it is done)."""

    permission_classes = [IsAuthenticated, IsLead]

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 409: OpenApiTypes.OBJECT})
    def get(self, request: Request, job_id: int) -> Response | FileResponse:
        job = get_object_or_404(ExportJob.objects.select_related("batch"), pk=job_id)
        if job.status != ExportJob.Status.DONE or not job.file:
            return Response({"detail": f"export {job.pk} is {job.status}, not done"}, status=status.HTTP_409_CONFLICT)
        return export_job_file_response(job)
