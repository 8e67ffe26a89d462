"""Release leads: the lineage export from the batch page (with a confirmation step when the
release gate holds) and the API."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hybridqc.roles import lead_required
from routing.batches.models import Batch

from .apis import IsLead
from .apis_exports import export_job_accepted
from .export import export_gate, lineage_export
from .export_formats import CONTENT_TYPES, EXTENSIONS, FORMATS, Written, export_write
from .export_left_out import left_out_before, left_out_text


def _file_response(batch: Batch, fmt: str, written: Written, released: bool) -> StreamingHttpResponse:
    """The file streamed as it is written. ``X-HybridQC-Left-Out`` is counted before the first
    byte: ``none`` for jsonl, csv and parquet (every routed example is a row); for preference
    pairs one grouped query under the writer's own rule (``ties=3, unlabeled=1``), as an export
    job's download reports it. Both read the labels of the moment: a label given while the file
    streams can make them differ by that example."""
    left_out = left_out_text(left_out_before(batch, fmt))
    response = StreamingHttpResponse(written.chunks, content_type=CONTENT_TYPES[fmt])
    # Django's helper quotes (or RFC 5987-encodes) a name with quotes, newlines or non-ASCII.
    response["Content-Disposition"] = content_disposition_header(True, f"{batch.name}-lineage.{EXTENSIONS[fmt]}")
    response["X-HybridQC-Released"] = "true" if released else "false"
    response["X-HybridQC-Left-Out"] = left_out
    return response


@lead_required
def batch_export_lineage(request: HttpRequest, batch_id: int) -> HttpResponse | StreamingHttpResponse:
    """The file, or (gate holding, not yet confirmed) a page listing why with a confirm button."""
    batch = get_object_or_404(Batch, pk=batch_id)
    fmt = request.GET.get("fmt", "jsonl")
    if fmt not in FORMATS:
        return HttpResponse(f"format must be one of {', '.join(FORMATS)}", status=400, content_type="text/plain")
    export = lineage_export(batch)
    if not export.released and request.GET.get("confirm") != "1":
        context = {"batch": batch, "format": fmt, "reasons": export.gate_reasons}
        return render(request, "dashboard/export_confirm.html", context, status=409)
    return _file_response(batch, fmt, export_write(export, fmt), export.released)


class ExportQuerySerializer(serializers.Serializer):
    # Not ``format``: DRF reads that query parameter to pick a renderer.
    fmt = serializers.ChoiceField(choices=FORMATS, default="jsonl")
    confirm = serializers.BooleanField(default=False)


class BatchExportApi(APIView):
    """Release leads: the lineage export; 409 with the gate's reasons unless ``confirm=1``.

    ``GET`` streams the file at once (pipelines and ``export_batch`` read it so); ``POST`` (same
    parameters, in the query or the body) writes it in a background job and answers 202 with the
    job's URL. Both carry ``X-HybridQC-Left-Out`` for every format, the preference pairs' ties
    included."""

    permission_classes = [IsAuthenticated, IsLead]

    @extend_schema(parameters=[ExportQuerySerializer],
                   responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 409: OpenApiTypes.OBJECT,
                              404: OpenApiTypes.OBJECT})
    def get(self, request: Request, name: str) -> Any:
        query = ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        batch = get_object_or_404(Batch, name=name)
        export = lineage_export(batch)
        if not export.released and not query.validated_data["confirm"]:
            body = {"detail": "the release gate holds; pass confirm=1 to export marked released: false",
                    "reasons": export.gate_reasons}
            return Response(body, status=409)
        fmt = query.validated_data["fmt"]
        return _file_response(batch, fmt, export_write(export, fmt), export.released)

    @extend_schema(request=ExportQuerySerializer,
                   responses={202: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT})
    def post(self, request: Request, name: str) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        query = ExportQuerySerializer(data={**request.query_params.dict(), **body})
        query.is_valid(raise_exception=True)
        batch = get_object_or_404(Batch, name=name)
        gate = export_gate(batch)
        if not gate["passed"] and not query.validated_data["confirm"]:
            body = {"detail": "the release gate holds; pass confirm=1 to export marked released: false",
                    "reasons": gate["reasons"]}
            return Response(body, status=409)
        return export_job_accepted(request, batch, query.validated_data["fmt"], query.validated_data["confirm"])
