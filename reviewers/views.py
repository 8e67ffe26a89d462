"""The reviewer's pages (htmx): the queue, one item at a time, and their own figures.

Every view is reviewer_required, and a reviewer reaches only tasks whose lease they hold:
anyone else gets a 404 for an item URL, whether they guessed it or not."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.html import escape
from django.views.decorators.http import require_GET, require_POST

from hybridqc.http import HtmxHttpRequest
from hybridqc.roles import reviewer_required

from .forms import CRITERIA, LabelForm, SkipForm, form_errors
from .models import ReviewerProfile, ReviewTask
from .selectors import reviewer_stats, task_held
from .services import FLAGS, ReviewError, review_label_submit, review_lease_renew, review_task_claim
from .services import review_task_skip as skip_service

PAGE = "reviewers/queue.html"


def _item_context(task: ReviewTask | None, **extra: Any) -> dict[str, Any]:
    example = task.example if task else None
    scale: list[int] = []
    if (
        example
        and example.task == "rating"
        and example.scale_min is not None
        and example.scale_max is not None
        and example.scale_max - example.scale_min <= 10
    ):
        scale = list(range(example.scale_min, example.scale_max + 1))
    return {
        "task": task,
        "example": example,
        "scale": scale,
        "flags": FLAGS,
        "criteria": CRITERIA,
        "is_adjudication": bool(task and task.kind == ReviewTask.Kind.ADJUDICATION),
        **extra,
    }


def _render_item(request: HtmxHttpRequest, task: ReviewTask | None, status: int = 200, **extra: Any) -> HttpResponse:
    """The item partial for htmx swaps, the whole page otherwise."""
    template = f"{PAGE}#item" if request.htmx else PAGE
    return render(request, template, _item_context(task, **extra), status=status)


def _profile(request: HtmxHttpRequest) -> ReviewerProfile:
    return request.user.reviewer  # type: ignore[union-attr]


def _held_or_404(request: HtmxHttpRequest, task_id: int) -> ReviewTask:
    task = task_held(reviewer=_profile(request), task_id=task_id)
    if task is None:
        raise Http404("No such item in your queue.")
    return task


def _next_item(request: HtmxHttpRequest, status: int = 200, **extra: Any) -> HttpResponse:
    task = review_task_claim(reviewer=_profile(request))  # loaded with example and domain
    return _render_item(request, task, status=status, **extra)


@reviewer_required
@require_GET
def queue(request: HtmxHttpRequest) -> HttpResponse:
    """The reviewer's current item (claimed with a lease), or an empty-queue note."""
    return _next_item(request)


@reviewer_required
@require_GET
def task_detail(request: HtmxHttpRequest, task_id: int) -> HttpResponse:
    return _render_item(request, _held_or_404(request, task_id))


@reviewer_required
@require_POST
def task_submit(request: HtmxHttpRequest, task_id: int) -> HttpResponse:
    """Store the label, then show the next item in place of this one."""
    form = LabelForm(request.POST)
    task = ReviewTask(pk=task_id)  # the service locks and loads the row
    if not form.is_valid():
        return _retry(request, task, form_errors(form))
    try:
        review_label_submit(task=task, reviewer=_profile(request), **form.service_kwargs())
    except ReviewError as exc:
        if exc.status in (403, 409):
            return _next_item(request, status=exc.status, notice=exc.message)
        return _retry(request, task, exc.message, 422 if exc.status == 400 else exc.status)
    if not request.htmx:
        return redirect("reviewers:queue")
    return _next_item(request, notice="Saved.")


def _retry(request: HtmxHttpRequest, task: ReviewTask, message: str, status: int = 422) -> HttpResponse:
    """Show the same item again with the problem, if the reviewer still holds it."""
    held = task_held(reviewer=_profile(request), task_id=task.pk)
    if held is None:
        raise Http404("No such item in your queue.")
    return _render_item(request, held, status=status, error=message)


@reviewer_required
@require_POST
def task_skip(request: HtmxHttpRequest, task_id: int) -> HttpResponse:
    """Pass on the item with a reason (optionally up to a higher credential level)."""
    task = _held_or_404(request, task_id)
    form = SkipForm(request.POST)
    if not form.is_valid():
        return _render_item(request, task, status=422, error="Give a reason to skip.")
    try:
        skip_service(
            task=task,
            reviewer=_profile(request),
            reason=form.cleaned_data["reason"],
            escalate=form.cleaned_data["escalate"],
        )
    except ReviewError as exc:
        return _next_item(request, status=exc.status, notice=exc.message)
    if not request.htmx:
        return redirect("reviewers:queue")
    return _next_item(request, notice="Passed on." if not form.cleaned_data["escalate"] else "Sent up.")


@reviewer_required
@require_POST
def task_heartbeat(request: HtmxHttpRequest, task_id: int) -> HttpResponse:
    """Renew the lease while the page is open (polled by htmx); refused once the item is not
    theirs, its reservation reached its longest, or they may no longer review it."""
    try:
        review_lease_renew(task=ReviewTask(pk=task_id), reviewer=_profile(request))
    except ReviewError as exc:
        return HttpResponse(escape(exc.message), status=exc.status)
    return HttpResponse("Item reserved for you.")


@reviewer_required
@require_GET
def me(request: HtmxHttpRequest) -> HttpResponse:
    """The reviewer's own figures; nobody else's."""
    return render(request, "reviewers/me.html", {"stats": reviewer_stats(_profile(request))})
