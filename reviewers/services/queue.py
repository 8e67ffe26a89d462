"""The review queue: claiming with a lease, renewing and expiring leases, submitting labels,
skipping and escalating. Concurrency rests on row locks: claims take candidate rows with
``FOR UPDATE SKIP LOCKED`` and submits lock the task row, so no task goes to two reviewers and a
retried submit finds the label the first one stored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from routing.batches.events import batch_gate_inputs_changed
from routing.batches.models import Example

from ..models import LEVEL_ORDER, Credential, HumanLabel, ReviewerProfile, ReviewTask, TaskSkip, level_rank
from .errors import ReviewError
from .followups import label_followups
from .gold import gold_task_claim
from .label_write import label_insert, task_done_write
from .matching import credential_fits, tasks_restaff
from .pool import (
    QueueState,
    claim_inputs,
    credentials_valid,
    pool_take,
    pool_take_counted,
    pool_takeable,
    queue_state,
    task_load,
    task_lock,
    task_lock_public,
)
from .references import example_reference_store

NOT_YOURS = "This item is no longer yours (its lease expired or it was reassigned)."
MAY_NOT_REVIEW = (
    "You may no longer review this item: your reviewer account or your credential for it is paused, "
    "suspended or expired. Nothing was saved."
)
FLAGS = {"unsafe": "Unsafe content", "bias": "Bias", "needs_higher_credential": "Needs a higher credential"}


def lease_duration() -> timedelta:
    return timedelta(seconds=getattr(settings, "REVIEW_LEASE_SECONDS", 15 * 60))


def lease_max_life() -> timedelta:
    """How long one claim may keep a task however often it is renewed: an open tab nobody works
    in must not hold an item forever."""
    return timedelta(minutes=getattr(settings, "REVIEW_LEASE_MAX_MINUTES", 120))


def lease_renewed_until(task: ReviewTask, now: datetime) -> datetime | None:
    """Until when a renewal keeps the lease: one lease length from now, never past the claim's
    maximum life; None once that is reached."""
    until = min(now + lease_duration(), (task.claimed_at or now) + lease_max_life())
    return until if until > now else None


def credentials_cover(credentials: Sequence[Credential], task: ReviewTask) -> bool:
    """Whether the reviewer may work on the task: one of their valid credentials (from
    ``credentials_valid``: an active reviewer's, unexpired, unpaused) fits its domain and level.
    ``task`` needs its example and domain loaded."""
    return any(credential_fits(c, task.example, task.min_level) for c in credentials)


def _lease_extend(task: ReviewTask, reviewer: ReviewerProfile, until: datetime) -> bool:
    """Move the lease's end; False when the task is no longer theirs. Matching ``claimed_at`` too
    keeps a renewal from extending a newer claim of the same task."""
    updated = ReviewTask.objects.filter(
        pk=task.pk, assignee=reviewer, status=ReviewTask.Status.LEASED, claimed_at=task.claimed_at
    ).update(lease_expires_at=until)
    if updated:
        task.lease_expires_at = until
    return bool(updated)


def leases_end(ids: list[int]) -> None:
    """Return leased tasks to the pool; unlabeled gold checks are dropped instead (they are made
    per reviewer)."""
    ReviewTask.objects.filter(pk__in=ids, kind=ReviewTask.Kind.GOLD, label__isnull=True).delete()
    ReviewTask.objects.filter(pk__in=ids).update(
        status=ReviewTask.Status.OPEN, assignee=None, lease_expires_at=None, claimed_at=None
    )


def _lease_drop(task_id: int, reviewer: ReviewerProfile) -> None:
    """End the reviewer's lease on one task now (only if it is still theirs)."""
    with transaction.atomic():
        ids = list(
            ReviewTask.objects.select_for_update()
            .filter(pk=task_id, assignee=reviewer, status=ReviewTask.Status.LEASED)
            .values_list("id", flat=True)
        )
        leases_end(ids)


def review_lease_renew(*, task: ReviewTask, reviewer: ReviewerProfile) -> datetime:
    """Heartbeat from an open review page: keep the lease while the reviewer works; the lease's
    new end. Refused (ReviewError) when the task is not theirs or its lease reached its maximum
    life (409), or when they may no longer review it: reviewer paused or suspended, credential
    paused or expired (403)."""
    now = timezone.now()
    try:
        held = task_load(task.pk)
    except ReviewTask.DoesNotExist:
        raise ReviewError(NOT_YOURS, 409) from None
    if held.assignee_id != reviewer.pk or held.status != ReviewTask.Status.LEASED:
        raise ReviewError(NOT_YOURS, 409)
    if not credentials_cover(credentials_valid(reviewer, now), held):
        raise ReviewError(MAY_NOT_REVIEW, 403)
    until = lease_renewed_until(held, now)
    if until is None:
        minutes = int(lease_max_life().total_seconds() // 60)
        raise ReviewError(f"This item was reserved for you for {minutes} minutes, the longest allowed.", 409)
    if not _lease_extend(held, reviewer, until):
        raise ReviewError(NOT_YOURS, 409)
    return until


def _held_keep(
    *, reviewer: ReviewerProfile, task_id: int, credentials: Sequence[Credential], now: datetime
) -> ReviewTask | None:
    """The task the reviewer already holds, renewed, so a reload shows the same item (kept as is
    at its maximum life while the lease lasts). When they may no longer work on it, or its lease
    ended for good, it goes back to the pool and the answer is None."""
    task = task_load(task_id)  # with example and domain
    if credentials_cover(credentials, task):
        until = lease_renewed_until(task, now)
        if until is not None and _lease_extend(task, reviewer, until):
            return task
        if until is None and task.lease_expires_at is not None and task.lease_expires_at > now:
            return task
    _lease_drop(task_id, reviewer)
    return None


def _claim(
    reviewer: ReviewerProfile, credentials: Sequence[Credential], state: QueueState, now: datetime, counted: bool
) -> tuple[ReviewTask | None, int | None]:
    """``review_task_claim`` once the reviewer's valid credentials (not none) and queue state are
    read; with ``counted``, a lease from the pool also brings ``pool_takeable`` after it (else None)."""
    if state.held_id is not None:
        held = _held_keep(reviewer=reviewer, task_id=state.held_id, credentials=credentials, now=now)
        if held is not None:
            return held, None
    if state.today >= reviewer.capacity_per_day:
        return None, None
    counts = state.counts()
    gold = gold_task_claim(reviewer=reviewer, credentials=credentials, lease=lease_duration(), counts=counts)
    if gold is not None:
        return gold, None
    return _pool_claim(reviewer, credentials, now, counted)


def _pool_claim(
    reviewer: ReviewerProfile, credentials: Sequence[Credential], now: datetime, counted: bool
) -> tuple[ReviewTask | None, int | None]:
    """A lease from the pool. It is refused while the reviewer holds one: a concurrent claim of
    theirs (another tab) leased it after this claim first read its state, so this claim hands
    back that same lease, read again (one more statement, only when the pool gave nothing)."""
    expires = now + lease_duration()
    if counted:
        task, takeable = pool_take_counted(reviewer=reviewer, credentials=credentials, now=now, expires=expires)
    else:
        task, takeable = pool_take(reviewer=reviewer, credentials=credentials, now=now, expires=expires), None
    if task is not None:
        return task, takeable
    held_id = queue_state(reviewer).held_id
    if held_id is None:
        return None, takeable
    return _held_keep(reviewer=reviewer, task_id=held_id, credentials=credentials, now=now), None


def review_task_claim(*, reviewer: ReviewerProfile) -> ReviewTask | None:
    """The reviewer's next item, leased to them; None when nothing is left for them.

    Only active reviewers with a valid credential covering the task's domain and level get
    it; a reviewer who labeled the example already never gets it again. One lease at a time:
    a reviewer who holds one gets it back (renewed), so a reload shows the same item."""
    now = timezone.now()
    # One transaction: claim_inputs locks the reviewer's row for it, so their claims take turns.
    with transaction.atomic(savepoint=False):
        # Valid credentials are those of active reviewers: a paused reviewer has none.
        credentials, state = claim_inputs(reviewer, now)
        if not credentials:
            return None
        return _claim(reviewer, credentials, state, now, counted=False)[0]


def queue_left_count(
    *,
    reviewer: ReviewerProfile,
    credentials: Sequence[Credential],
    today: int,
    holding: bool,
    now: datetime,
    takeable: int | None = None,
) -> int:
    """"N left in your queue": how many more items the reviewer could be given today besides the
    one they hold (``holding``): the tasks ``pool_take`` could hand them (``credentials``: their
    valid ones; ``takeable``: that count when known already), at most their capacity left
    (``today``: their review labels today). Gold checks are not counted: they are made on the fly
    and look like any other item."""
    room = reviewer.capacity_per_day - today - int(holding)
    if room <= 0:
        return 0
    if takeable is None:
        takeable = pool_takeable(reviewer=reviewer, credentials=credentials, now=now)
    return min(takeable, room)


@dataclass(frozen=True)
class NextItem:
    """The reviewer's next item (None when nothing is left for them) and how many are left after it."""

    task: ReviewTask | None
    left: int


def review_task_next(*, reviewer: ReviewerProfile) -> NextItem:
    """``review_task_claim`` and the "N left" count after it, from one read of the reviewer's
    credentials and label counts (the item page after every submit shows both)."""
    now = timezone.now()
    with transaction.atomic(savepoint=False):  # the reviewer's lock, as in review_task_claim
        credentials, state = claim_inputs(reviewer, now)
        if not credentials:
            return NextItem(task=None, left=0)
        task, takeable = _claim(reviewer, credentials, state, now, counted=True)
    # The claim wrote no label, so the day's count read before it still holds.
    left = queue_left_count(reviewer=reviewer, credentials=credentials, today=state.today,
                            holding=task is not None, now=now, takeable=takeable)
    return NextItem(task=task, left=left)


def review_leases_expire() -> int:
    """Return tasks whose lease ran out to the pool (gold checks are dropped instead: they are
    made per reviewer). Returns how many leases expired."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            ReviewTask.objects.select_for_update(skip_locked=True)
            .filter(status=ReviewTask.Status.LEASED, lease_expires_at__lt=now)
            .values_list("id", flat=True)
        )
        leases_end(ids)
    return len(ids)


def _held_task(task: ReviewTask, reviewer: ReviewerProfile) -> ReviewTask:
    """Lock the task row and check the reviewer still holds its lease."""
    locked = ReviewTask.objects.select_for_update(of=("self",)).select_related("example").get(pk=task.pk)
    if locked.assignee_id != reviewer.pk or locked.status != ReviewTask.Status.LEASED:
        raise ReviewError(NOT_YOURS, 409)
    return locked


def verdict_check(example: Example, choice: int | None, rating: float | None) -> tuple[int | None, float | None]:
    """Check the verdict against the task type: 1/2/0 (tie) for pairwise, the example's scale
    for rating."""
    if example.task == Example.Task.PAIRWISE:
        if choice not in (0, 1, 2):
            raise ReviewError("Choose response 1, response 2 or tie.")
        return choice, None
    lo, hi = example.scale_min, example.scale_max
    if rating is None:
        raise ReviewError("Give a rating.")
    if lo is not None and hi is not None and not lo <= rating <= hi:
        raise ReviewError(f"The rating must be between {lo} and {hi}.")
    return None, float(rating)


def flags_check(flags: list[str] | None) -> list[str]:
    unknown = set(flags or []) - set(FLAGS)
    if unknown:
        raise ReviewError(f"Unknown flag(s): {', '.join(sorted(unknown))}.")
    return sorted(set(flags or []))


def _submittable(locked: ReviewTask | None, reviewer: ReviewerProfile) -> HumanLabel | None:
    """Refuse a submit the reviewer may not make; the label stored first on a repeat."""
    if locked is None:
        raise ReviewError("No such task.", 404)
    if locked.status == ReviewTask.Status.DONE:
        # The label and the DONE status are written in one transaction, so a done task
        # has its label; a separate statement after the lock (not a join in it) sees a
        # label committed by a concurrent submit that held the lock first.
        existing = HumanLabel.objects.filter(task_id=locked.pk).first()
        if existing is not None and existing.reviewer_id == reviewer.pk:
            return existing
        raise ReviewError("This item was already labeled by someone else.", 409)
    if locked.assignee_id != reviewer.pk or locked.status != ReviewTask.Status.LEASED:
        raise ReviewError(NOT_YOURS, 409)
    # Checked again at submit: the reviewer or the credential may have been paused since the claim.
    if not credentials_cover(credentials_valid(reviewer, timezone.now()), locked):
        raise ReviewError(MAY_NOT_REVIEW, 403)
    return None


def example_flag(*, example_id: int, flags: list[str]) -> None:
    """A safety flag on a label flags its example (never cleared here: the judge and drift flag too)."""
    if {"unsafe", "bias"} & set(flags):
        Example.objects.filter(pk=example_id).update(flagged=True)


def _label_store(locked: ReviewTask, reviewer: ReviewerProfile, *, choice: int | None, rating: float | None,
                 rationale: str, flags: list[str], seconds_spent: float | None,
                 criteria: dict[str, float] | None) -> HumanLabel:
    """Write the label and mark the task done (flagging the example on a safety flag)."""
    now = timezone.now()
    if seconds_spent is None and locked.claimed_at:
        seconds_spent = (now - locked.claimed_at).total_seconds()
    label = label_insert(HumanLabel(
        example=locked.example, task=locked, reviewer=reviewer, source=HumanLabel.Source.REVIEW,
        choice=choice, rating=rating, rationale=rationale.strip(), flags=flags,
        criteria=criteria or {}, seconds_spent=seconds_spent,
    ))
    task_done_write(locked, now)
    example_flag(example_id=locked.example_id, flags=flags)
    return label


def review_label_submit(
    *,
    task: ReviewTask,
    reviewer: ReviewerProfile,
    choice: int | None = None,
    rating: float | None = None,
    rationale: str = "",
    flags: list[str] | None = None,
    seconds_spent: float | None = None,
    criteria: dict[str, float] | None = None,
) -> HumanLabel:
    """Store the reviewer's label for a task they hold; idempotent. ``task`` may be an unsaved
    stand-in that carries only the reviewer-facing ``public_id`` (the row is found as it is locked).

    A repeated submit (double click, retried request) returns the label stored first. Marks
    the task done and starts follow-ups: a second review for a share of tasks, adjudication on
    disagreement, escalation when flagged, gold accuracy checks."""
    with transaction.atomic():
        # The row lock serialises concurrent submits of one task: the second sees the label.
        locked = task_lock(task.pk) if task.pk is not None else task_lock_public(task.public_id)
        existing = _submittable(locked, reviewer)
        if existing is not None:
            return existing
        assert locked is not None  # _submittable refused a missing task
        choice, rating = verdict_check(locked.example, choice, rating)
        label = _label_store(locked, reviewer, choice=choice, rating=rating, rationale=rationale,
                             flags=flags_check(flags), seconds_spent=seconds_spent, criteria=criteria)
        example_reference_store(tasks={locked.example_id: locked.example.task})  # task_lock locked it
        label_followups(task=locked, label=label)
        batch_gate_inputs_changed.send(sender=HumanLabel, batch_id=locked.example.batch_id)
    return label


def review_task_skip(*, task: ReviewTask, reviewer: ReviewerProfile, reason: str, escalate: bool = False) -> None:
    """Pass on a held task with a reason; it goes to someone else and never back to this reviewer.

    ``escalate`` (the "needs a higher credential" action) also raises the task's minimum
    credential level one step, so only more senior reviewers get it."""
    if not reason.strip():
        raise ReviewError("Give a reason.")
    with transaction.atomic():
        locked = _held_task(task, reviewer)
        TaskSkip.objects.get_or_create(
            task=locked, reviewer=reviewer, defaults={"reason": reason.strip(), "escalated": escalate}
        )
        if escalate:
            locked.min_level = LEVEL_ORDER[min(level_rank(locked.min_level) + 1, len(LEVEL_ORDER) - 1)]
            locked.save(update_fields=["min_level"])
        tasks_restaff(tasks=[locked])
