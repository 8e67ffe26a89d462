"""What the upload API answers for a background import (shared by the batch list API and the
job endpoints, which need no permission classes from here)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from hybridqc.flows.tasks import import_job_run
from routing.ingest.import_jobs import import_job_create
from routing.ingest.models import ImportJob
from routing.ingest.selectors import import_job_progress


def job_body(request: Request, job: ImportJob) -> dict[str, Any]:
    url = request.build_absolute_uri(reverse("api-import-job", args=[job.pk]))
    return {**import_job_progress(job), "url": url}


def import_job_accepted(request: Request, upload: Any, data: dict[str, Any]) -> Response:
    """Store a large upload as a background job and answer 202 with where to follow it."""
    job = import_job_create(upload=upload, batch_name=data.pop("name"), user=request.user, batch_fields=data)
    import_job_run.delay_on_commit(job.pk)
    body = job_body(request, job)
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})
