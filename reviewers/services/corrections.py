"""Taking a label back: undo of the reviewer's last label within a short window (the item comes
back to them under the same claim), and correction of their own labels while the item is not
adjudicated. Both withdraw the follow-up tasks the label set off that nobody has started on (a
correction then sets off what its new verdict calls for: a disagreement gets its adjudication,
a gold item its accuracy check) and tell the release gate its inputs changed, inside the writing
transaction. The batch figure cache needs no call: PostgreSQL triggers on the label and task rows
drop it in the same transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from routing.batches.events import batch_gate_inputs_changed

from ..models import HumanLabel, ReviewerProfile, ReviewTask
from .errors import ReviewError
from .followups import FIRST_KINDS, label_followups
from .gold import gold_check
from .pool import credentials_valid, task_load, task_lock
from .queue import (
    MAY_NOT_REVIEW,
    credentials_cover,
    example_flag,
    flags_check,
    lease_renewed_until,
    leases_end,
    verdict_check,
)
from .references import example_reference_refresh, example_reference_store

NO_SUCH_LABEL = "No such label among yours."
UNDO_GONE = "Nothing to undo: your last label is more than {seconds} seconds old, or there is none."
ADJUDICATED = "This item is being adjudicated or has been: its labels can no longer be changed."
GOLD_ANSWER = "This item's labels became its gold answer: they can no longer be changed."
LEASE_SPENT = "This item was reserved for you for the longest allowed: its label can no longer be undone."
UNTAKEN = [ReviewTask.Status.OPEN, ReviewTask.Status.UNSTAFFED]


def undo_window() -> timedelta:
    return timedelta(seconds=getattr(settings, "REVIEW_UNDO_SECONDS", 120))


def undo_open(label: HumanLabel | None, now: datetime) -> bool:
    """Whether the undo window of the reviewer's last label (``label``) is still open."""
    return label is not None and label.created_at >= now - undo_window()


def adjudication_taken() -> Exists:
    """Whether an adjudication of the outer label's item was taken or finished, as an expression:
    a page of labels annotates it (``adjudication_taken``) and asks once for all its rows."""
    adjudications = ReviewTask.objects.filter(example_id=OuterRef("example_id"), kind=ReviewTask.Kind.ADJUDICATION)
    return Exists(adjudications.exclude(status__in=UNTAKEN))


def _adjudication_taken(label: HumanLabel) -> bool:
    # The annotation when the label was read with it (the history page); else the same expression, asked.
    if hasattr(label, "adjudication_taken"):
        return bool(label.adjudication_taken)
    return HumanLabel.objects.filter(pk=label.pk).filter(adjudication_taken()).exists()


def label_change_refusal(label: HumanLabel) -> str | None:
    """The rule for whether a reviewer may still change one of their labels: None when they may,
    else the reason. Not once an adjudication of the item started or ended (the adjudicator saw
    the labels), nor once the labels were made the item's gold answer (a gold check, which the
    reviewer cannot tell from any other item, stays changeable: refusing would give it away)."""
    if label.task is None or label.source != HumanLabel.Source.REVIEW:
        return NO_SUCH_LABEL
    if _adjudication_taken(label):
        return ADJUDICATED
    if label.example.is_gold and label.task.kind != ReviewTask.Kind.GOLD:
        return GOLD_ANSWER
    return None


def _own_label(reviewer: ReviewerProfile, **lookup: Any) -> HumanLabel | None:
    """The reviewer's newest review label matching ``lookup``, its row locked."""
    return (
        HumanLabel.objects.select_for_update(of=("self",))
        .select_related("example", "task")
        .filter(reviewer=reviewer, source=HumanLabel.Source.REVIEW, **lookup)
        .order_by("-created_at", "-id")
        .first()
    )


def _changeable(label: HumanLabel | None) -> HumanLabel:
    if label is None:
        raise ReviewError(NO_SUCH_LABEL, 404)
    refusal = label_change_refusal(label)
    if refusal is not None:
        raise ReviewError(refusal, 404 if refusal == NO_SUCH_LABEL else 409)
    return label


def _followups_withdraw(label: HumanLabel, task: ReviewTask) -> int:
    """Delete the follow-up tasks this label may have set off (a second review; an adjudication
    when it was the second review) that were made after it and nobody has taken."""
    kinds = [ReviewTask.Kind.SECOND]
    if task.kind not in FIRST_KINDS:
        kinds.append(ReviewTask.Kind.ADJUDICATION)
    deleted, _ = (
        ReviewTask.objects.filter(example_id=label.example_id, kind__in=kinds, status__in=UNTAKEN,
                                  created_at__gte=label.created_at, label__isnull=True)
        .exclude(pk=task.pk)
        .delete()
    )
    return deleted


def _lease_restore(task: ReviewTask, reviewer: ReviewerProfile, now: datetime) -> None:
    """Give the task back to the reviewer under its claim; the item they hold meanwhile (the next
    one) goes back to the pool, as a reviewer holds one lease at a time."""
    if not credentials_cover(credentials_valid(reviewer, now), task):
        raise ReviewError(MAY_NOT_REVIEW, 403)
    until = lease_renewed_until(task, now)
    if until is None:
        raise ReviewError(LEASE_SPENT, 409)
    held = ReviewTask.objects.select_for_update().filter(assignee=reviewer, status=ReviewTask.Status.LEASED)
    leases_end(list(held.exclude(pk=task.pk).values_list("id", flat=True)))
    ReviewTask.objects.filter(pk=task.pk).update(
        status=ReviewTask.Status.LEASED, assignee=reviewer, completed_at=None, lease_expires_at=until
    )


def review_label_undo(*, reviewer: ReviewerProfile) -> ReviewTask:
    """Withdraw the reviewer's last label if it is at most ``REVIEW_UNDO_SECONDS`` old: the label
    is deleted and its item is theirs again (returned, with its example and domain), ready to be
    labeled anew. Refused (ReviewError 409) past the window or when the label may no longer change."""
    now = timezone.now()
    with transaction.atomic():
        label = _own_label(reviewer)
        if label is None or not undo_open(label, now):
            raise ReviewError(UNDO_GONE.format(seconds=int(undo_window().total_seconds())), 409)
        _changeable(label)
        task = task_lock(label.task_id or 0)
        assert task is not None  # the label's task exists: HumanLabel.task is set null on delete
        _followups_withdraw(label, task)
        label.delete()
        example_reference_store(tasks={task.example_id: task.example.task})  # task_lock locked it
        if label.example.is_gold:
            # Before the lease comes back: a credential this gold answer paused is active again.
            gold_check(reviewer=reviewer, example=label.example)
        _lease_restore(task, reviewer, now)
        batch_gate_inputs_changed.send(sender=HumanLabel, batch_id=task.example.batch_id)
    return task_load(task.pk)


def review_label_correct(
    *,
    label_id: int,
    reviewer: ReviewerProfile,
    choice: int | None = None,
    rating: float | None = None,
    rationale: str = "",
    flags: list[str] | None = None,
    criteria: dict[str, float] | None = None,
) -> HumanLabel:
    """Replace the verdict, rationale, flags and criteria of one of the reviewer's own labels
    (refused as ``label_change_refusal`` says; 404 for anyone else's label). What the old verdict
    set off and nobody started on is withdrawn, and what the new one calls for is set off."""
    with transaction.atomic():
        label = _changeable(_own_label(reviewer, pk=label_id))
        task = task_load(label.task_id or 0)
        label.choice, label.rating = verdict_check(task.example, choice, rating)
        label.rationale, label.flags = rationale.strip(), flags_check(flags)
        label.criteria = criteria or {}
        label.save(update_fields=["choice", "rating", "rationale", "flags", "criteria"])
        example_reference_refresh(example_ids=[label.example_id])
        _followups_withdraw(label, task)
        label_followups(task=task, label=label)
        example_flag(example_id=task.example_id, flags=label.flags)
        batch_gate_inputs_changed.send(sender=HumanLabel, batch_id=task.example.batch_id)
    return label

