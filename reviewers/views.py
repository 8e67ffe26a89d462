"""The reviewer's pages (htmx): the queue, one item at a time, and their own figures.

Every view is reviewer_required, and a reviewer reaches only tasks whose lease they hold:
anyone else gets a 404 for an item URL, whether they guessed it or not. Only POSTs change
anything (claim, submit, skip, renew): a GET, even of /review/, claims nothing. Every form
also posts without JavaScript; such a POST answers with a redirect to the queue
(post/redirect/get), an htmx one with the next item to swap in."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import escape
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from hybridqc.http import HtmxHttpRequest, render_htmx
from hybridqc.roles import reviewer_required

from .forms import CRITERIA, LabelForm, SkipForm, form_errors
from .models import ReviewerProfile, ReviewTask
from .selectors import queue_left, reviewer_stats, task_current, task_held, task_pk, undo_offered
from .services import (
    FLAGS,
    ReviewError,
    review_label_submit,
    review_lease_renew,
    review_task_claim,
    review_task_next,
    undo_window,
)
from .services import review_task_skip as skip_service

PAGE = "reviewers/queue.html"
WRONG_TASK = "This answer was given on item {sent}, not on item {url}: nothing was saved."


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
        "kept": {},
        "undo_seconds": int(undo_window().total_seconds()),
        **extra,
    }


def _render_item(request: HtmxHttpRequest, task: ReviewTask | None, status: int = 200, **extra: Any) -> HttpResponse:
    """The item partial for htmx swaps, the whole page otherwise."""
    if "left" not in extra:  # a claim counts it already (setdefault would run the count anyway)
        holding = task is not None and task.status == ReviewTask.Status.LEASED
        extra["left"] = queue_left(reviewer=_profile(request), holding=holding)
    return render_htmx(request, PAGE, "item", _item_context(task, **extra), status=status)


def _see_other(request: HtmxHttpRequest, message: str | None = None) -> HttpResponseRedirect:
    """Post/redirect/get for a POST made without htmx: back to the queue, with what happened."""
    if message:
        messages.info(request, message)
    response = HttpResponseRedirect(reverse("reviewers:queue"))
    response.status_code = 303  # the queue is fetched with GET, whatever the method posted
    return response


def _profile(request: HtmxHttpRequest) -> ReviewerProfile:
    return request.user.reviewer  # type: ignore[union-attr]


def _task_of(item: str) -> ReviewTask:
    """The task behind a reviewer-facing item id (an unsaved stand-in with no such row): the
    services lock and load it, and refuse it unless the reviewer holds it."""
    return ReviewTask(pk=task_pk(public_id=item) or 0, public_id=item)


def _held_or_404(request: HtmxHttpRequest, item: str) -> ReviewTask:
    task = task_held(reviewer=_profile(request), task_id=task_pk(public_id=item) or 0)
    if task is None:
        raise Http404("No such item in your queue.")
    return task


def _next_item(request: HtmxHttpRequest, status: int = 200, **extra: Any) -> HttpResponse:
    item = review_task_next(reviewer=_profile(request))  # the task loaded with example and domain
    return _render_item(request, item.task, status=status, left=item.left, **extra)


def _kept(post: QueryDict) -> dict[str, Any]:
    """What the reviewer had entered, to fill the form in again when it is refused."""
    return {
        "choice": post.get("choice", ""),
        "rating": post.get("rating", ""),
        "rationale": post.get("rationale", ""),
        "flags": post.getlist("flags"),
    }


@reviewer_required
@require_GET
def queue(request: HtmxHttpRequest) -> HttpResponse:
    """The item the reviewer already holds, or a button that claims the next one. A GET changes
    nothing, so a cross-site image or a prefetch cannot claim: the button's POST does, and
    review.js sends it as soon as the page has loaded."""
    task = task_current(reviewer=_profile(request))
    # A lease shown by a GET was not renewed by it: the page renews it by POST once it loads.
    undo = undo_offered(reviewer=_profile(request))
    return _render_item(request, task, start=task is None, renew_on_load=task is not None, undo=undo)


@reviewer_required
@require_POST
def task_next(request: HtmxHttpRequest) -> HttpResponse:
    """Claim (or get back) the reviewer's next item."""
    if request.htmx:
        return _next_item(request)
    task = review_task_claim(reviewer=_profile(request))
    return _see_other(request, None if task else "No items are waiting for you.")


@reviewer_required
@require_GET
def task_detail(request: HtmxHttpRequest, item: str) -> HttpResponse:
    return _render_item(request, _held_or_404(request, item))


@reviewer_required
@require_POST
def task_submit(request: HtmxHttpRequest, item: str) -> HttpResponse:
    """Store the label, then show the next item in place of this one."""
    form = LabelForm(request.POST)
    if not form.is_valid():
        return _retry(request, item, form_errors(form))
    if form.cleaned_data["task"] != item:
        notice = WRONG_TASK.format(sent=form.cleaned_data["task"], url=item)
        return _next_item(request, status=409, notice=notice)
    try:
        # By its item id alone: the service finds the row as it locks it (no lookup beforehand).
        task = ReviewTask(public_id=item)
        review_label_submit(task=task, reviewer=_profile(request), **form.service_kwargs())
    except ReviewError as exc:
        if exc.status in (403, 409):
            return _next_item(request, status=exc.status, notice=exc.message)
        return _retry(request, item, exc.message, 422 if exc.status == 400 else exc.status)
    if not request.htmx:
        return _see_other(request, f"Saved your label for item {item}.")
    # The page counts what the server confirms it stored, item by item.
    return trigger_client_event(_next_item(request, notice="Saved.", undo=True), "reviewSaved", {"task": item})


def _retry(request: HtmxHttpRequest, item: str, message: str, status: int = 422) -> HttpResponse:
    """Show the same item again with the problem and what was entered, if the reviewer still
    holds it."""
    held = _held_or_404(request, item)
    return _render_item(request, held, status=status, error=message, kept=_kept(request.POST))


@reviewer_required
@require_POST
def task_skip(request: HtmxHttpRequest, item: str) -> HttpResponse:
    """Pass on the item with a reason (optionally up to a higher credential level)."""
    task = _held_or_404(request, item)
    form = SkipForm(request.POST)
    if not form.is_valid():
        error = "Give a reason to skip." if "reason" in form.errors else form_errors(form)
        return _render_item(request, task, status=422, error=error)
    if form.cleaned_data["task"] != item:
        return _next_item(request, status=409, notice=WRONG_TASK.format(sent=form.cleaned_data["task"], url=item))
    escalate = form.cleaned_data["escalate"]
    try:
        skip_service(task=task, reviewer=_profile(request), reason=form.cleaned_data["reason"], escalate=escalate)
    except ReviewError as exc:
        return _next_item(request, status=exc.status, notice=exc.message)
    done = "Sent up." if escalate else "Passed on."
    return _see_other(request, done) if not request.htmx else _next_item(request, notice=done)


@reviewer_required
@require_POST
def task_heartbeat(request: HtmxHttpRequest, item: str) -> HttpResponse:
    """Renew the lease while the page is open (polled by htmx); refused once the item is not
    theirs, its reservation reached its longest, or they may no longer review it."""
    try:
        review_lease_renew(task=_task_of(item), reviewer=_profile(request))
    except ReviewError as exc:
        return HttpResponse(escape(exc.message), status=exc.status)
    return HttpResponse("Item reserved for you.")


@reviewer_required
@require_GET
def me(request: HtmxHttpRequest) -> HttpResponse:
    """The reviewer's own figures; nobody else's."""
    return render(request, "reviewers/me.html", {"stats": reviewer_stats(_profile(request))})
