"""DRF endpoints of background imports: a large upload answers 202 with its job's URL, which a
script polls until the job is done (or failed, with the line errors) and may retry."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hybridqc.flows.tasks import import_job_run
from routing.ingest.import_jobs import import_job_retry
from routing.ingest.models import ImportJob

from .apis import IsLead
from .import_jobs import job_body


class ImportJobApi(APIView):
    """Release leads: one background import's progress, outcome and line errors."""

    permission_classes = [IsAuthenticated, IsLead]

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT},
                   description="An import job: status, phase, percent, lines read, counts written, errors.")
    def get(self, request: Request, job_id: int) -> Response:
        return Response(job_body(request, get_object_or_404(ImportJob, pk=job_id)))


class ImportJobRetryApi(APIView):
    """Release leads: queue a failed background import again (409 when it has not failed)."""

    permission_classes = [IsAuthenticated, IsLead]

    @extend_schema(request=None,
                   responses={202: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT})
    def post(self, request: Request, job_id: int) -> Response:
        job = get_object_or_404(ImportJob, pk=job_id)
        if not import_job_retry(job=job):
            return Response({"detail": f"job {job.pk} is {job.status}; only a failed job can be retried"},
                            status=status.HTTP_409_CONFLICT)
        import_job_run.delay_on_commit(job.pk)
        job.refresh_from_db()
        return Response(job_body(request, job), status=status.HTTP_202_ACCEPTED)
