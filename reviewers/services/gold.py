"""Gold items: examples whose answer is known, hidden among real tasks to measure reviewers.
A reviewer whose gold accuracy in a domain falls below the threshold loses that credential
(paused) until an admin looks, and admins get a notification, or until the reviewer's undo or
correction of the failing answer brings the accuracy back (``gold_check``: one rule both ways)."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from routing.batches.domains import prefix_q
from routing.batches.models import Batch, Example
from routing.monitoring.metrics import Rate, labels_agree, rate

from ..models import Credential, HumanLabel, Notification, ReviewerProfile, ReviewTask
from ..references import label_reference, label_value
from .errors import ReviewError
from .matching import unstaffed_restaff
from .pool import gold_candidates, task_load


def gold_settings() -> tuple[float, float, int]:
    """(share of a reviewer's load that is gold, accuracy threshold, minimum gold items)."""
    return (
        float(getattr(settings, "REVIEW_GOLD_SHARE", 0.05)),
        float(getattr(settings, "REVIEW_GOLD_THRESHOLD", 0.80)),
        int(getattr(settings, "REVIEW_GOLD_MIN_ITEMS", 20)),
    )


def gold_value(example: Example) -> float | None:
    return example.gold_rating if example.task == Example.Task.RATING else example.gold_choice


def gold_due(counts: dict[str, int], share: float) -> bool:
    """Whether the next item should be gold: keeps gold at ``share`` of the reviewer's labels
    (``counts`` from reviewer_label_counts)."""
    return share > 0 and counts["gold"] + 1 <= share * (counts["total"] + 1)


def gold_task_claim(
    *, reviewer: ReviewerProfile, credentials: Sequence[Credential], lease: timedelta, counts: dict[str, int]
) -> ReviewTask | None:
    """A gold check leased to the reviewer when one is due and a gold example in their domains
    is left that they have not seen; else None. It looks like any other task to the reviewer."""
    if not credentials or not gold_due(counts, gold_settings()[0]):
        return None
    candidates = gold_candidates(reviewer=reviewer, credentials=credentials)
    if not candidates:
        return None
    now = timezone.now()
    task = ReviewTask.objects.create(
        example_id=candidates[random.randrange(len(candidates))],
        kind=ReviewTask.Kind.GOLD,
        status=ReviewTask.Status.LEASED,
        assignee=reviewer,
        claimed_at=now,
        lease_expires_at=now + lease,
    )
    return task_load(task.pk)


def gold_accuracy(reviewer: ReviewerProfile, prefix: str | None = None) -> Rate:
    """The reviewer's accuracy on gold examples (within a domain prefix), with its Wilson interval."""
    labels = HumanLabel.objects.filter(
        reviewer=reviewer, source=HumanLabel.Source.REVIEW, example__is_gold=True
    ).select_related("example")
    if prefix:
        labels = labels.filter(prefix_q(prefix, "example__domain__path"))
    hits = n = 0
    for label in labels:
        agree = labels_agree(label.example.task, label_value(label, label.example.task), gold_value(label.example))
        if agree is not None:
            n, hits = n + 1, hits + int(agree)
    return rate(hits, n)


# The start of every reason this rule pauses with: how it knows the pauses that are its own.
GOLD_PAUSE = "gold accuracy "


def gold_check(*, reviewer: ReviewerProfile | None, example: Example) -> list[Credential]:
    """The gold-accuracy rule for the reviewer's credentials covering this example's domain: one
    whose accuracy is below the threshold over at least the minimum number of gold items is
    paused; one this rule paused whose accuracy no longer is (the failing answer was undone or
    corrected) is active again. Pauses with other reasons are left alone. Returns those paused."""
    if reviewer is None:
        return []
    _, threshold, min_items = gold_settings()
    paused, lifted = [], []
    for credential in reviewer.credentials.all():
        if not credential.covers(example.domain):
            continue
        acc = gold_accuracy(reviewer, credential.domain_prefix)
        failing = acc.n >= min_items and acc.value is not None and acc.value < threshold
        if failing and not credential.paused:
            credential_pause(credential=credential, reason=(
                f"{GOLD_PAUSE}{acc.value:.0%} (95% CI {acc.low:.0%}-{acc.high:.0%}) over {acc.n} gold "
                f"items in {credential.domain_prefix} is below {threshold:.0%}"))
            paused.append(credential)
        elif not failing and credential.paused and credential.paused_reason.startswith(GOLD_PAUSE):
            lifted.append(credential.pk)
    if lifted:
        credentials_unpause(credentials=Credential.objects.filter(pk__in=lifted))
    return paused


def credential_pause(*, credential: Credential, reason: str) -> None:
    """Pause a credential and tell the admins why."""
    with transaction.atomic():
        credential.paused, credential.paused_reason = True, reason
        credential.save(update_fields=["paused", "paused_reason"])
        Notification.objects.create(
            kind=Notification.Kind.CREDENTIAL_PAUSED,
            reviewer=credential.reviewer,
            credential=credential,
            message=f"{credential.reviewer}: credential {credential.domain_prefix} paused: {reason}",
        )


def credentials_unpause(*, credentials: QuerySet[Credential]) -> int:
    """Unpause credentials (an admin looked); their "credential paused" notices are resolved, as
    their cause is gone, and unstaffed tasks are matched again. Returns how many were unpaused."""
    with transaction.atomic():
        ids = list(credentials.values_list("pk", flat=True))
        n = Credential.objects.filter(pk__in=ids).update(paused=False, paused_reason="")
        Notification.objects.filter(
            kind=Notification.Kind.CREDENTIAL_PAUSED, credential_id__in=ids, resolved_at__isnull=True
        ).update(resolved_at=timezone.now())
    unstaffed_restaff()
    return n


def gold_mark(*, example: Example, choice: int | None = None, rating: float | None = None) -> Example:
    """Mark one example as gold with its known answer."""
    if example.task == Example.Task.PAIRWISE and choice not in (0, 1, 2):
        raise ReviewError("A pairwise gold answer is 1, 2 or 0 (tie).")
    if example.task == Example.Task.RATING and rating is None:
        raise ReviewError("A rating gold answer needs a rating.")
    example.is_gold, example.gold_choice, example.gold_rating = True, choice, rating
    example.save(update_fields=["is_gold", "gold_choice", "gold_rating"])
    return example


def batch_gold_from_labels(*, batch: Batch) -> int:
    """Mark as gold every example of the batch whose human labels agree on an answer (majority,
    or the adjudicator's label). Returns how many examples are now gold."""
    by_example: dict[int, list[HumanLabel]] = defaultdict(list)
    for label in HumanLabel.objects.filter(example__batch=batch).select_related("task"):
        by_example[label.example_id].append(label)
    examples = {e.pk: e for e in batch.examples.filter(pk__in=list(by_example))}
    marked = []
    for example_id, labels in by_example.items():
        example = examples[example_id]
        ref = label_reference(labels, example.task)
        if ref is None:
            continue
        example.is_gold = True
        example.gold_choice = int(ref) if example.task == Example.Task.PAIRWISE else None
        example.gold_rating = float(ref) if example.task == Example.Task.RATING else None
        marked.append(example)
    Example.objects.bulk_update(marked, ["is_gold", "gold_choice", "gold_rating"], batch_size=2000)
    return len(marked)
