import json
import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import RequestDataTooBig
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.functional import cached_property
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget
from django_tables2 import LazyPaginator, RequestConfig

from hybridqc.flows.imports import batch_import
from hybridqc.flows.tasks import batch_pipeline_run
from hybridqc.http import HtmxHttpRequest
from hybridqc.queueing import BROKER_DOWN, enqueue_failed_message
from hybridqc.roles import is_admin, is_lead, is_reviewer, lead_required
from routing.batches.models import Batch
from routing.decisions.pipeline import RETRYABLE, BatchRetryError, batch_retry
from routing.ingest.import_v1 import ImportValidationError
from routing.ingest.import_validation import FIELDS_TOO_LARGE, request_size_problem

from .alarms import open_alarms
from .charts import drift_series
from .export_jobs import export_job_latest
from .filters import BatchFilter
from .filters_items import BatchDecisionFilter
from .forms import BatchUploadForm
from .selectors import (
    batch_decisions,
    batch_domain_rows,
    batch_export_rows,
    batch_progress,
    batch_report,
    batches_reports,
    release_gate,
)
from .tables_items import BatchDecisionTable
from .views_export_jobs import export_card_context
from .views_imports import import_job_started

log = logging.getLogger(__name__)


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


BATCHES_PER_PAGE = 25
DECISIONS_PER_PAGE = 50


@lead_required
def control_center(request: HtmxHttpRequest) -> HttpResponse:
    """Release leads and admins: one page of batches (searched, filtered and sorted by the query
    string) with their source ratio, agreement, override rate and gate; a bad filter is a 400 that
    names the field, shown in place."""
    filters = BatchFilter(request.GET, queryset=Batch.objects.all())
    valid = filters.is_valid()
    page = Paginator(filters.qs if valid else Batch.objects.none(), BATCHES_PER_PAGE).get_page(request.GET.get("page"))
    batches = list(page.object_list)
    reports = batches_reports(batches)
    context = {"reports": reports, "page": page, "filters": filters, "drift": drift_series(batches, reports),
               "form": BatchUploadForm(), "open_alarms": open_alarms()}
    partial = request.htmx and (request.GET.get("part") == "batches" or request.htmx.target == "batches")
    template = "dashboard/control.html#batches" if partial else "dashboard/control.html"
    return render(request, template, context, status=200 if valid else 400)


def _upload_refused(request: HttpRequest, problem: str) -> HttpResponse:
    context = {"form": BatchUploadForm(), "upload_error": problem}
    return render(request, "dashboard/control.html#upload", context, status=413)


@lead_required
@permission_required("routing.import_batch", raise_exception=True)
@require_http_methods(["POST"])
def batch_upload(request: HtmxHttpRequest) -> HttpResponse:
    """Release leads: upload a format-v1 file; every bad line is listed and nothing is written.
    A file over IMPORT_BACKGROUND_BYTES is imported by a background job (views_imports)."""
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
    if data["file"].size > settings.IMPORT_BACKGROUND_BYTES:
        return import_job_started(request, form)
    try:
        result = batch_import(
            batch_name=data["name"], lines=data["file"], source_name=data["file"].name, user=request.user,
            confidence_threshold=data["confidence_threshold"], audit_rate=data["audit_rate"],
            routing_mode=data["routing_mode"], date=data["date"],
        )
    except ImportValidationError as exc:
        context = {"form": form, "import_errors": exc.errors[:200], "error_count": len(exc.errors)}
        return render(request, "dashboard/control.html#upload", context, status=400)
    try:
        batch_pipeline_run.delay_on_commit(result.batch.pk)
    except BROKER_DOWN:
        log.warning("batch %r imported; its routing could not be queued (broker down)", result.batch.name)
        messages.error(request, enqueue_failed_message(f"Batch {result.batch.name}"))
    else:
        messages.success(request, f"Imported {result.created} examples into {result.batch.name} "
                                  f"({result.skipped} already present); routing started.")
    if not request.htmx:
        return redirect("dashboard:batch", batch_id=result.batch.pk)
    return HttpResponseClientRedirect(f"/control/batch/{result.batch.pk}/")


def _status_context(batch: Batch) -> dict[str, Any]:
    report = batch_report(batch)
    return {"batch": batch, "r": report, "gate": release_gate(report, 1 - batch.alpha), "pending": _pending(batch),
            "progress": {"examples": report["examples"], "routed": report["routed"]}}


def _pending(batch: Batch) -> bool:
    return batch.status not in (Batch.Status.READY, Batch.Status.FAILED)


def _progress(request: HtmxHttpRequest, batch: Batch) -> HttpResponse:
    """The 2 s poll: while the status is what the page shows, only the progress line (status,
    detail, routed / examples) is sent; when it changed, the whole status block is re-rendered
    once in its place (the figures changed with it)."""
    if request.GET.get("since") != batch.status:
        response = render(request, "dashboard/batch.html#status", _status_context(batch))
        return retarget(reswap(response, "outerHTML"), "#batch-status")
    context = {"batch": batch, "progress": batch_progress(batch), "pending": _pending(batch)}
    return render(request, "dashboard/batch.html#progress", context)


class _CountedPaginator(Paginator):
    """A paginator told the table's size, which the batch's figures already know, so a 100k
    batch's decisions are not counted again on every page."""

    def __init__(self, object_list: Any, per_page: int, *, known_count: int, **kwargs: Any) -> None:
        super().__init__(object_list, per_page, **kwargs)
        self.known_count = known_count

    @cached_property
    def count(self) -> int:
        return self.known_count


# Which of the batch's counts is the size of the decision table under each route filter.
_ROUTE_COUNT = {"": "routed", "judge": "judge_kept", "human": "routed_to_human", "audit": "audited"}


def _paginator(filters: BatchDecisionFilter, report: dict[str, Any]) -> dict[str, Any]:
    """The size is known when only the route (and the sort) is chosen; under any other filter a
    page reads one row past its end instead of counting the whole match (LazyPaginator)."""
    data = filters.form.cleaned_data
    if any(value for name, value in data.items() if name not in ("route", "ordering")):
        return {"paginator_class": LazyPaginator}
    return {"paginator_class": _CountedPaginator, "known_count": report[_ROUTE_COUNT[data.get("route") or ""]]}


def _decisions_context(request: HtmxHttpRequest, batch: Batch, report: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    filters = BatchDecisionFilter(request.GET, queryset=batch_decisions(batch))
    valid = filters.is_valid()
    table = BatchDecisionTable(filters.qs if valid else batch_decisions(batch).none())
    pages = _paginator(filters, report) if valid else {"paginator_class": LazyPaginator}
    RequestConfig(request, paginate={"per_page": DECISIONS_PER_PAGE, **pages}).configure(table)
    return {"batch": batch, "decision_filters": filters, "decisions": table}, valid


@lead_required
@permission_required("routing.view_batch", raise_exception=True)
def batch_detail(request: HtmxHttpRequest, batch_id: int) -> HttpResponse:
    """Release leads: one batch — figures, gate, per-domain breakdown, one page of its decisions
    (filtered and sorted by the query string), judge and router panels."""
    batch = get_object_or_404(Batch, pk=batch_id)
    part = request.GET.get("part") or (request.htmx.target if request.htmx else None)
    if request.htmx and part == "progress":
        return _progress(request, batch)
    if request.htmx and part == "status":
        return render(request, "dashboard/batch.html#status", _status_context(batch))
    status_context = {**_status_context(batch), "retryable": batch.status in RETRYABLE}
    decisions, valid = _decisions_context(request, batch, status_context["r"])
    status = 200 if valid else 400
    if request.htmx and part == "decisions":
        return render(request, "dashboard/batch.html#decisions", decisions, status=status)
    context = {**status_context, **decisions, "domains": batch_domain_rows(batch),
               "export": export_card_context(batch, export_job_latest(batch))}
    return render(request, "dashboard/batch.html", context, status=status)


@lead_required
@permission_required("routing.view_batch", raise_exception=True)
def batch_export(request: HttpRequest, batch_id: int) -> HttpResponseBase:
    """Release leads: the batch's labels with their source, as JSONL for training."""
    batch = get_object_or_404(Batch, pk=batch_id)
    lines = (json.dumps(row) + "\n" for row in batch_export_rows(batch))
    response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
    # Django's helper quotes (or RFC 5987-encodes) a name with quotes, newlines or non-ASCII.
    response["Content-Disposition"] = content_disposition_header(True, f"{batch.name}-labels.jsonl")
    return response


@lead_required
@permission_required("routing.import_batch", raise_exception=True)
@require_POST
def batch_retry_view(request: HttpRequest, batch_id: int) -> HttpResponse:
    """Release leads: route a failed batch again; the batch page shows what happened."""
    batch = get_object_or_404(Batch, pk=batch_id)
    try:
        batch_retry(batch=batch)
    except BatchRetryError as exc:
        messages.error(request, str(exc))
        return redirect("dashboard:batch", batch_id=batch.pk)
    except BROKER_DOWN:
        messages.error(request, enqueue_failed_message(f"The retry of batch {batch.name}"))
        return redirect("dashboard:batch", batch_id=batch.pk)
    messages.success(request, f"Routing batch {batch.name} again.")
    return redirect("dashboard:batch", batch_id=batch.pk)
