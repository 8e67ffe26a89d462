"""DRF endpoints for scripts that gate a training run; same selectors and services as the pages."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hybridqc.api_schema import DetailSerializer
from hybridqc.flows.imports import batch_import
from hybridqc.flows.tasks import batch_pipeline_run
from hybridqc.queueing import BROKER_DOWN, enqueue_failed_message
from hybridqc.roles import IsLead
from routing.batches.models import Batch
from routing.ingest.import_v1 import ImportValidationError
from routing.ingest.import_validation import FIELDS_TOO_LARGE, request_size_problem

from .filters import BatchFilter
from .gate import batch_gate
from .import_jobs import import_job_accepted
from .selectors import batch_report, batches_reports, release_gate
from .serializers import (
    BatchImportResultSerializer,
    BatchImportSerializer,
    BatchReportSerializer,
    GateSerializer,
    ImportRefusedSerializer,
)


class BatchPermission(BasePermission):
    """Reading a batch needs routing.view_batch; importing one routing.import_batch."""

    def has_permission(self, request: Request, view: Any) -> bool:
        needed = "routing.view_batch" if request.method in ("GET", "HEAD", "OPTIONS") else "routing.import_batch"
        return bool(request.user.has_perm(needed))


def _report_with_gate(batch: Batch) -> dict[str, Any]:
    report = batch_report(batch)
    report["release_gate"] = release_gate(report, 1 - batch.alpha)
    return report


class BatchPagination(PageNumberPagination):
    page_size = 25


class BatchListApi(APIView):
    """Release leads: a page of batches' reports (GET), or import a format-v1 file (POST, multipart)."""

    permission_classes = [IsAuthenticated, IsLead, BatchPermission]
    filterset_class = BatchFilter

    @extend_schema(responses=BatchReportSerializer(many=True))
    def get(self, request: Request) -> Response:
        """One page of batches (``?page=``, 25 a page), filtered and sorted by the control
        center's query parameters (a bad one is a 400 naming it)."""
        batches = DjangoFilterBackend().filter_queryset(request, Batch.objects.all(), self)
        paginator = BatchPagination()
        page: list[Batch] = paginator.paginate_queryset(batches, request, view=self) or []
        reports = batches_reports(page)
        for report in reports:
            report["release_gate"] = report.pop("gate")
        return paginator.get_paginated_response(BatchReportSerializer(reports, many=True).data)

    @extend_schema(
        request={"multipart/form-data": BatchImportSerializer},
        responses={201: BatchImportResultSerializer, 400: ImportRefusedSerializer, 413: DetailSerializer},
        description="Validates the whole file first: any bad line is listed (line and field) and nothing is "
        "written. Routing then runs in the background; poll the batch's report.",
    )
    def post(self, request: Request) -> Response:
        # A file over IMPORT_BACKGROUND_BYTES answers 202 with a job to poll (import_jobs).
        # Refused by its announced size, before the body is read (and spooled to disk).
        if problem := request_size_problem(request.META.get("CONTENT_LENGTH")):
            return Response({"detail": problem}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        try:
            serializer = BatchImportSerializer(data=request.data)
        except RequestDataTooBig:
            return Response({"detail": FIELDS_TOO_LARGE}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        upload = data.pop("file")
        if upload.size > settings.IMPORT_BACKGROUND_BYTES:
            return import_job_accepted(request, upload, data)
        try:
            result = batch_import(batch_name=data.pop("name"), lines=upload, source_name=upload.name,
                                  user=request.user, **data)
        except ImportValidationError as exc:
            errors = [{"line": e.line, "field": e.field, "message": e.message} for e in exc.errors[:500]]
            return Response({"detail": str(exc), "errors": errors}, status=status.HTTP_400_BAD_REQUEST)
        body = {"batch": result.batch.name, "id": result.batch.pk, "created": result.created,
                "skipped": result.skipped}
        try:
            batch_pipeline_run.delay_on_commit(result.batch.pk)
        except BROKER_DOWN:
            # Stored, not routed: the sweeper (or the batch page's Retry) starts the routing later.
            body["detail"] = enqueue_failed_message(f"Batch {result.batch.name}")
            return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response(BatchImportResultSerializer(body).data, status=status.HTTP_201_CREATED)


class BatchReportApi(APIView):
    """Release leads: one batch's report with its release gate."""

    permission_classes = [IsAuthenticated, IsLead, BatchPermission]

    @extend_schema(responses={200: BatchReportSerializer, 404: DetailSerializer})
    def get(self, request: Request, name: str) -> Response:
        return Response(BatchReportSerializer(_report_with_gate(get_object_or_404(Batch, name=name))).data)


class BatchGateApi(APIView):
    """Release leads and training pipelines: may this batch go to training?"""

    permission_classes = [IsAuthenticated, IsLead, BatchPermission]

    @extend_schema(
        responses={200: GateSerializer, 409: GateSerializer, 404: DetailSerializer},
        description="200 with release=true when the batch may go to training; 409 with release=false and "
        "the reasons when not (the control center's release gate).",
    )
    def get(self, request: Request, name: str) -> Response:
        gate = batch_gate(get_object_or_404(Batch, name=name))
        code = status.HTTP_200_OK if gate["release"] else status.HTTP_409_CONFLICT
        return Response(GateSerializer(gate).data, status=code)
