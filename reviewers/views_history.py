"""The reviewer's own past work: undo of the last label, the history of their labels and the
correction of one of them. A reviewer reaches only their own labels: anyone else's is a 404,
whether the id was guessed or not. Forms post without JavaScript too (post/redirect/get)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from hybridqc.http import HtmxHttpRequest, render_htmx
from hybridqc.roles import reviewer_required

from .forms import CHOICE_KEYS, CorrectionForm
from .models import HumanLabel, ReviewerProfile
from .selectors import labels_history, task_current
from .services import FLAGS, ReviewError, label_change_refusal, review_label_correct, review_label_undo
from .views import _render_item, _see_other

HISTORY_PER_PAGE = 25
KEY_OF_CHOICE = {v: k for k, v in CHOICE_KEYS.items() if k != "0"}


def _profile(request: HtmxHttpRequest) -> ReviewerProfile:
    return request.user.reviewer  # type: ignore[union-attr]


@reviewer_required
@require_POST
def label_undo(request: HtmxHttpRequest) -> HttpResponse:
    """Take back the last label: its item is shown again, to be labeled anew."""
    reviewer = _profile(request)
    try:
        task = review_label_undo(reviewer=reviewer)
    except ReviewError as exc:
        if not request.htmx:
            return _see_other(request, exc.message)
        return _render_item(request, task_current(reviewer=reviewer), status=409, notice=exc.message)
    done = f"Your label on item {task.public_id} was withdrawn: label it again."
    if not request.htmx:
        return _see_other(request, done)
    return trigger_client_event(_render_item(request, task, notice=done), "reviewUndone", {"task": task.public_id})


@reviewer_required
@require_GET
def history(request: HtmxHttpRequest) -> HttpResponse:
    """The reviewer's labels, newest first, paginated; each says whether it can still be corrected."""
    page = Paginator(labels_history(reviewer=_profile(request)), HISTORY_PER_PAGE).get_page(request.GET.get("page"))
    for label in page.object_list:
        label.refusal = label_change_refusal(label)  # type: ignore[attr-defined]
        label.verdict = _verdict(label)  # type: ignore[attr-defined]
    return render_htmx(request, "reviewers/history.html", "rows", {"page": page})


def _verdict(label: HumanLabel) -> str:
    if label.choice is not None:
        return {1: "response 1", 2: "response 2", 0: "tie"}.get(label.choice, str(label.choice))
    return "" if label.rating is None else f"{label.rating:g}"


def _own_label_or_404(request: HtmxHttpRequest, label_id: int) -> HumanLabel:
    label = labels_history(reviewer=_profile(request)).filter(pk=label_id).first()
    if label is None:
        raise Http404("No such label among yours.")
    return label


def _initial(label: HumanLabel) -> dict[str, Any]:
    criteria = {f"crit_{k}": KEY_OF_CHOICE.get(int(v), "") for k, v in (label.criteria or {}).items()}
    return {"choice": KEY_OF_CHOICE.get(label.choice, "") if label.choice is not None else "",
            "rating": label.rating, "rationale": label.rationale, "flags": label.flags, **criteria}


@reviewer_required
@require_http_methods(["GET", "POST"])
def label_correct(request: HtmxHttpRequest, label_id: int) -> HttpResponse:
    """Change one of the reviewer's own labels while its item is not adjudicated."""
    label = _own_label_or_404(request, label_id)
    form = CorrectionForm(request.POST) if request.method == "POST" else CorrectionForm(initial=_initial(label))
    error = label_change_refusal(label)
    if request.method == "POST" and error is None and form.is_valid():
        kwargs = form.service_kwargs()
        kwargs.pop("seconds_spent")
        try:
            review_label_correct(label_id=label.pk, reviewer=_profile(request), **kwargs)
        except ReviewError as exc:
            error = exc.message
        else:
            messages.info(request, f"Your label of {label.created_at:%Y-%m-%d %H:%M} was corrected.")
            if request.htmx:
                return HttpResponseClientRedirect(reverse("reviewers:history"))
            return HttpResponseRedirect(reverse("reviewers:history"), status=303)
    status = 200 if request.method == "GET" else (409 if error else 422)
    context = {"label": label, "form": form, "error": error, "flags": FLAGS, "verdict": _verdict(label)}
    return render_htmx(request, "reviewers/correct.html", "form", context, status=status)
