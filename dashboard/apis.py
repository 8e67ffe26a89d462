"""DRF endpoints for scripts that gate a training run; same selectors and services as the pages."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.shortcuts import get_object_or_404
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hybridqc.roles import is_lead
from routing.models import Batch
from routing.services.import_v1 import ImportValidationError, batch_import
from routing.services.import_validation import FIELDS_TOO_LARGE, request_size_problem, upload_size_problem
from routing.tasks import batch_input_drift_run, batch_pipeline_run

from .selectors import batch_report, release_gate


class IsLead(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return is_lead(request.user)


class BatchImportSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    file = serializers.FileField()
    confidence_threshold = serializers.FloatField(min_value=0, max_value=1, default=0.8)
    audit_rate = serializers.FloatField(min_value=0, max_value=1, default=Batch.DEFAULT_AUDIT_RATE)
    routing_mode = serializers.ChoiceField(choices=Batch.Mode.choices, default=Batch.Mode.THRESHOLD)
    date = serializers.DateField(required=False, help_text="YYYY-MM-DD; default today")

    def validate_file(self, upload: Any) -> Any:
        if problem := upload_size_problem(upload.size):
            raise serializers.ValidationError(problem)
        return upload


def _report_with_gate(batch: Batch) -> dict[str, Any]:
    report = batch_report(batch)
    report["release_gate"] = release_gate(report, 1 - batch.alpha)
    return report


class BatchListApi(APIView):
    """Release leads: every batch's report (GET), or import a format-v1 file (POST, multipart)."""

    permission_classes = [IsAuthenticated, IsLead]

    def get(self, request: Request) -> Response:
        return Response([_report_with_gate(b) for b in Batch.objects.all()])

    def post(self, request: Request) -> Response:
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
        try:
            result = batch_import(batch_name=data.pop("name"), lines=upload, source_name=upload.name,
                                  user=request.user, **data)
        except ImportValidationError as exc:
            errors = [{"line": e.line, "field": e.field, "message": e.message} for e in exc.errors[:500]]
            return Response({"detail": str(exc), "errors": errors}, status=status.HTTP_400_BAD_REQUEST)
        batch_pipeline_run.delay_on_commit(result.batch.pk)
        batch_input_drift_run.delay_on_commit(result.batch.pk)
        body = {"batch": result.batch.name, "id": result.batch.pk, "created": result.created,
                "skipped": result.skipped}
        return Response(body, status=status.HTTP_201_CREATED)


class BatchReportApi(APIView):
    """Release leads: one batch's report with its release gate."""

    permission_classes = [IsAuthenticated, IsLead]

    def get(self, request: Request, name: str) -> Response:
        return Response(_report_with_gate(get_object_or_404(Batch, name=name)))
